#!/usr/bin/env bash
# Build libsessions, generate the Swift bindings, and install the library where
# SwiftPM (pkg-config) and the dynamic loader find it, so that any Swift package can
# depend on this one (by path, or by URL on a copy made with dist.sh).
#
# Usage: bindings/swift/install.sh [PREFIX]      (default /usr/local)
#
# Installs:
#   PREFIX/lib/libsessions.so (.dylib on macOS)
#   PREFIX/lib/pkgconfig/sessions.pc
# Then, on Linux as root with PREFIX/lib among the loader's directories (/usr/local/lib
# and /usr/lib are, on Debian and Ubuntu), runs ldconfig. Otherwise it prints the two
# variables a build and a program need:
#   PKG_CONFIG_PATH=PREFIX/lib/pkgconfig   (swift build)
#   LD_LIBRARY_PATH=PREFIX/lib             (running the program; DYLD_LIBRARY_PATH on macOS)
# Environment: CARGO_TARGET_DIR (default <repo>/target), CARGO (default cargo).
set -euo pipefail

PKG=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$PKG/../.." && pwd)
PREFIX=${1:-/usr/local}
case $PREFIX in /*) ;; *) PREFIX=$(pwd)/$PREFIX ;; esac
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$REPO/$TARGET_DIR ;; esac
export CARGO_TARGET_DIR=$TARGET_DIR

echo "== cargo build --release (target dir $TARGET_DIR)" >&2
(cd "$REPO" && "${CARGO:-cargo}" build --release --lib --bin uniffi-bindgen)

LIB=
for candidate in "$TARGET_DIR/release/libsessions.so" "$TARGET_DIR/release/libsessions.dylib"; do
  if [[ -f $candidate ]]; then LIB=$candidate; break; fi
done
[[ -n $LIB ]] || { echo "install.sh: no libsessions under $TARGET_DIR/release" >&2; exit 1; }

echo "== generating Swift bindings" >&2
"$PKG/generate.sh" "$LIB"

echo "== installing into $PREFIX" >&2
install -d "$PREFIX/lib/pkgconfig"
install -m 755 "$LIB" "$PREFIX/lib/"
install -m 644 "$TARGET_DIR/release/pkgconfig/sessions.pc" "$PREFIX/lib/pkgconfig/"

in_loader_path() {
  [[ $(uname -s) == Linux && $EUID -eq 0 ]] && command -v ldconfig >/dev/null 2>&1 || return 1
  # -N: only list the directories, do not rebuild the cache yet.
  ldconfig -v -N 2>/dev/null | awk -v d="$1" -F': ' '$1 == d { found = 1 } END { exit !found }'
}
if in_loader_path "$PREFIX/lib"; then
  ldconfig
  echo "install.sh: installed; $PREFIX/lib is on the loader's path (ldconfig run)" >&2
else
  loader_var=LD_LIBRARY_PATH
  [[ $(uname -s) == Darwin ]] && loader_var=DYLD_LIBRARY_PATH
  echo "install.sh: installed. Build and run with:" >&2
  echo "  export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}" >&2
  echo "  export $loader_var=$PREFIX/lib\${$loader_var:+:\$$loader_var}" >&2
fi
