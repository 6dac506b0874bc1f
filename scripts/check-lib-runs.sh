#!/usr/bin/env bash
# Loads a portable libsessions.so for ARCH and calls into it, as a host program would:
# a small C program, compiled by zig for ARCH against glibc 2.17, dlopens the library,
# checks UniFFI's contract version, hashes a token (compared with Python's SHA-256) and
# draws a secure token from the OS random source. An aarch64 library runs under
# qemu-user with Debian's aarch64 glibc (2.36): proof that it loads, its glibc symbol
# versions resolve and its code runs on that architecture.
#
# Installs what it needs: zig (PyPI `ziglang`, from $CARGO_TARGET_DIR/pack-venv, which
# scripts/portable-libs.sh makes) and, for aarch64, Debian's qemu-user and
# libc6-arm64-cross (apt-get; about 13 MB).
#
# Usage: scripts/check-lib-runs.sh x86_64|aarch64 LIBRARY
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 x86_64|aarch64 LIBRARY" >&2; exit 2; }
arch=$1 lib=$(realpath "$2")
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
zig=("$CARGO_TARGET_DIR/pack-venv/bin/python" -m ziglang)
"${zig[@]}" version >/dev/null 2>&1 || { echo "zig is missing: run scripts/portable-libs.sh first" >&2; exit 1; }

run=()
case "$arch" in
  x86_64) ;;
  aarch64)
    sysroot=/usr/aarch64-linux-gnu
    if ! command -v qemu-aarch64 >/dev/null || [[ ! -e $sysroot/lib/libc.so.6 ]]; then
      echo "==> installing qemu-user and libc6-arm64-cross (Debian)"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        qemu-user libc6-arm64-cross >/dev/null
    fi
    run=(qemu-aarch64 -L "$sysroot")
    ;;
  *) echo "unknown ARCH: $arch" >&2; exit 2 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/call.c" <<'C'
/* The UniFFI 0.32 C ABI of the calls below (as the generated bindings declare it). */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct { uint64_t capacity; uint64_t len; uint8_t *data; } RustBuffer;
typedef struct { int32_t len; const uint8_t *data; } ForeignBytes;
typedef struct { int8_t code; RustBuffer error_buf; } RustCallStatus;

static void *need(void *lib, const char *name) {
  void *f = dlsym(lib, name);
  if (!f) fprintf(stderr, "missing symbol %s\n", name);
  return f;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: call LIBRARY TOKEN\n"); return 2; }
  void *lib = dlopen(argv[1], RTLD_NOW);
  if (!lib) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
  uint32_t (*contract)(void) = need(lib, "ffi_sessions_uniffi_contract_version");
  RustBuffer (*from_bytes)(ForeignBytes, RustCallStatus *) = need(lib, "ffi_sessions_rustbuffer_from_bytes");
  void (*buffer_free)(RustBuffer, RustCallStatus *) = need(lib, "ffi_sessions_rustbuffer_free");
  RustBuffer (*hash_token)(RustBuffer, RustCallStatus *) = need(lib, "uniffi_sessions_fn_func_hash_token");
  RustBuffer (*secure_token)(uint32_t, RustCallStatus *) = need(lib, "uniffi_sessions_fn_func_generate_secure_token");
  if (!contract || !from_bytes || !buffer_free || !hash_token || !secure_token) return 1;

  RustCallStatus status = {0};
  ForeignBytes token = {(int32_t)strlen(argv[2]), (const uint8_t *)argv[2]};
  RustBuffer arg = from_bytes(token, &status);
  if (status.code != 0) { fprintf(stderr, "rustbuffer_from_bytes: status %d\n", status.code); return 1; }
  RustBuffer hash = hash_token(arg, &status); /* takes ownership of arg */
  if (status.code != 0) { fprintf(stderr, "hash_token: status %d\n", status.code); return 1; }
  RustBuffer fresh = secure_token(32, &status);
  if (status.code != 0) { fprintf(stderr, "generate_secure_token: status %d\n", status.code); return 1; }
  printf("contract=%u hash=%.*s token_length=%llu\n", contract(), (int)hash.len, (const char *)hash.data,
         (unsigned long long)fresh.len);
  buffer_free(hash, &status);
  buffer_free(fresh, &status);
  return status.code;
}
C
"${zig[@]}" cc -target "$arch-linux-gnu.2.17" -O1 -o "$work/call" "$work/call.c" -ldl

token="a token to hash"
out=$(cd "$work" && "${run[@]}" ./call "$lib" "$token") || { echo "FAILED: $arch: calling $lib" >&2; exit 1; }
expected=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())' "$token")
[[ "$out" == "contract=30 hash=$expected token_length=43" ]] \
  || { echo "FAILED: $arch: $lib answered '$out', expected contract=30 hash=$expected token_length=43" >&2; exit 1; }
echo "$arch: $lib loads and runs${run:+ (under ${run[0]})}: $out"
