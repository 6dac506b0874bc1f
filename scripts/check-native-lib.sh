#!/usr/bin/env bash
# Checks that a built libsessions.so is portable across Linux distributions for ARCH:
#   - an ELF shared object for ARCH's machine (x86_64: X86-64, aarch64: AArch64);
#   - it needs no glibc symbol version above 2.17 (manylinux2014);
#   - it needs no shared library beyond glibc's own and libgcc_s.
# Prints one line of findings; exits non-zero (with the reason) on any failure.
# readelf reads any architecture's ELF, so this runs on any Linux host.
#
# Usage: scripts/check-native-lib.sh FILE ARCH [LABEL]
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: $0 FILE x86_64|aarch64 [LABEL]" >&2; exit 2; }
so=$1 arch=$2 label=${3:-$1}
max_glibc=2.17

fail() { echo "FAILED: $label: $*" >&2; exit 1; }

case "$arch" in
  x86_64) machine="Advanced Micro Devices X86-64" ;;
  aarch64) machine="AArch64" ;;
  *) echo "unknown ARCH: $arch" >&2; exit 2 ;;
esac

[[ -s "$so" ]] || fail "no such file"
header=$(readelf -h "$so" 2>&1) || fail "not an ELF file: $header"
grep -qE "Type: +DYN " <<<"$header" || fail "not a shared object"
grep -qE "Machine: +$machine\$" <<<"$header" \
  || fail "not for $arch: $(sed -n 's/ *Machine: *//p' <<<"$header")"

newest=$(readelf -V -W "$so" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
[[ -n "$newest" ]] || fail "no glibc symbol versions found"
[[ "$(printf '%s\n%s\n' "$newest" "$max_glibc" | sort -V | tail -n 1)" == "$max_glibc" ]] \
  || fail "needs GLIBC_$newest; manylinux2014 allows up to GLIBC_$max_glibc ($(readelf -V -W "$so" \
    | grep -o "GLIBC_$newest" | wc -l) references)"

needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | paste -sd' ' -)
for lib in $needed; do
  case "$lib" in
    libc.so.6 | libm.so.6 | libdl.so.2 | libpthread.so.0 | librt.so.1 | libgcc_s.so.1 | ld-linux-*) ;;
    *) fail "needs $lib, which a manylinux2014 system need not have" ;;
  esac
done

echo "$label: $arch ELF, glibc symbols up to GLIBC_$newest, needs: $needed"
