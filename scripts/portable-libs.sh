#!/usr/bin/env bash
# Builds the portable native libraries of `sessions`, once per target, for every package
# that ships them: linux x86_64 and aarch64, linked by zig against glibc 2.17
# (manylinux2014), so they load on any Linux with glibc 2.17 or newer.
#
# They are built as the two manylinux2014 Python wheels
#   $CARGO_TARGET_DIR/dist/sessions-<version>-py3-none-manylinux2014_<arch>.manylinux_2_17_<arch>.whl
# (maturin compiles each library once and packs it), and the library inside each wheel is
# copied, byte for byte, to JNA's resource layout for the Kotlin jar (bindings/kotlin/pom.xml):
#   $CARGO_TARGET_DIR/jna/linux-x86-64/libsessions.so
#   $CARGO_TARGET_DIR/jna/linux-aarch64/libsessions.so
# Run again with nothing changed, cargo compiles nothing and only the wheels are
# re-packed (seconds).
#
# Installs what it needs: the Rust standard library for aarch64 (rustup) and, in a
# virtualenv at $CARGO_TARGET_DIR/pack-venv, maturin (the version pyproject.toml pins)
# and zig (PyPI `ziglang`). Needs python3 (3.11+), pip, rustup, cargo.
#
# Usage: scripts/portable-libs.sh [TARGET...]   (default: both targets above)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR=$PWD/$CARGO_TARGET_DIR ;; esac

ZIGLANG_VERSION=0.17.0
MATURIN_VERSION=$(sed -n 's/.*"maturin==\([^"]*\)".*/\1/p' "$REPO/bindings/python/pyproject.toml")
PACK_VENV=$CARGO_TARGET_DIR/pack-venv
DIST=$CARGO_TARGET_DIR/dist
GLIBC=2.17 # manylinux2014

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)

# The build tools, in a virtualenv kept between runs (re-made when a pin changes).
stamp="maturin==$MATURIN_VERSION ziglang==$ZIGLANG_VERSION"
if [[ "$(cat "$PACK_VENV/.pins" 2>/dev/null)" != "$stamp" ]]; then
  echo "==> build tools in $PACK_VENV ($stamp)"
  rm -rf "$PACK_VENV"
  "${PYTHON3:-python3}" -m venv "$PACK_VENV"
  "$PACK_VENV/bin/python" -m pip install --quiet --upgrade pip
  # shellcheck disable=SC2086
  "$PACK_VENV/bin/python" -m pip install --quiet $stamp
  echo "$stamp" >"$PACK_VENV/.pins"
fi

installed=$(rustup target list --installed)
for target in "${targets[@]}"; do
  grep -qx "$target" <<<"$installed" || rustup target add "$target"
done

mkdir -p "$DIST"
# `pip wheel` runs the package's backend exactly as `pip install ./bindings/python` does:
# one release build per target. Nothing may be compiled in cargo's dev profile (maturin's
# own uniffi-bindgen run would do that without the backend); checked after the builds.
started=$(mktemp)
trap 'rm -f "$started"' EXIT
for target in "${targets[@]}"; do
  arch=${target%%-*}
  case "$arch" in
    x86_64) jna=linux-x86-64 ;;
    aarch64) jna=linux-aarch64 ;;
    *) echo "unsupported target: $target" >&2; exit 2 ;;
  esac
  echo "==> $target (zig, glibc $GLIBC): manylinux2014 wheel and libsessions.so"
  rm -f "$DIST"/sessions-*-manylinux*_"$arch".whl
  # The package's own build backend (one release build; see
  # bindings/python/backend/sessions_build.py), with maturin's cross-build options.
  # zig comes from the venv (`python3 -m ziglang`), hence the venv first on PATH.
  # strip=false: with zig as the linker, the release profile's default strip=debuginfo
  # removes the whole symbol table, and with it the UniFFI metadata that uniffi-bindgen
  # reads from the library. (Only this build gets it: the native release build and the
  # host `uniffi-bindgen` keep the profile of Cargo.toml.)
  PATH="$PACK_VENV/bin:$PATH" \
    MATURIN_PEP517_ARGS="--zig --target $target --compatibility manylinux2014 --config profile.release.strip=false" \
    "$PACK_VENV/bin/python" -m pip wheel --quiet --no-deps --no-build-isolation \
    --wheel-dir "$DIST" "$REPO/bindings/python"
  wheel=$(ls "$DIST"/sessions-*-manylinux*_"$arch".whl)
  lib=$CARGO_TARGET_DIR/jna/$jna/libsessions.so
  mkdir -p "$(dirname "$lib")"
  unzip -p "$wheel" sessions/_native/libsessions.so >"$lib.tmp" && mv "$lib.tmp" "$lib"
  [[ -s "$lib" ]] || { echo "FAILED: no sessions/_native/libsessions.so in $wheel" >&2; exit 1; }
  echo "    $wheel"
  echo "    $lib"
done
stray=$(find "$CARGO_TARGET_DIR" -maxdepth 2 -type d -name debug -newer "$started" -print -quit)
if [[ -z "$stray" ]]; then
  stray=$(find "$CARGO_TARGET_DIR" -maxdepth 3 -path '*/debug/*' -newer "$started" -print -quit)
fi
[[ -z "$stray" ]] || { echo "FAILED: the wheel builds also compiled the crate in the dev profile ($stray)" >&2; exit 1; }
