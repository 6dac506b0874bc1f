#!/usr/bin/env bash
# Generate the Swift bindings into this package from the built Rust library.
#
# Usage: bindings/swift/generate.sh [path/to/libsessions.so]
#   Default library: ${CARGO_TARGET_DIR:-<repo>/target}/release/libsessions.{so,dylib}
#   (build it first: cargo build --release --lib --bin uniffi-bindgen).
#
# Writes (git-ignored, never edit by hand):
#   Sources/SessionsFFI/sessionsFFI.h
#   Sources/Sessions/Sessions.swift
#   <library dir>/pkgconfig/sessions.pc   (how SwiftPM finds the library: put that
#                                          directory on PKG_CONFIG_PATH)
# Leaves alone every handwritten file: Sources/SessionsFFI/module.modulemap (used
# instead of uniffi's sessionsFFI.modulemap, because it links libsessions) and the
# other Swift files in Sources/Sessions.
set -euo pipefail

PKG=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$PKG/../.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$REPO/$TARGET_DIR ;; esac

LIB=${1:-}
if [[ -z $LIB ]]; then
  for candidate in "$TARGET_DIR/release/libsessions.so" "$TARGET_DIR/release/libsessions.dylib"; do
    if [[ -f $candidate ]]; then LIB=$candidate; break; fi
  done
fi
[[ -n $LIB && -f $LIB ]] || { echo "generate.sh: libsessions not found under $TARGET_DIR/release; build it first" >&2; exit 1; }

BINDGEN=$TARGET_DIR/release/uniffi-bindgen
[[ -x $BINDGEN ]] || { echo "generate.sh: $BINDGEN not found; run cargo build --release --bin uniffi-bindgen" >&2; exit 1; }

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# From the repository root, so that uniffi.toml ([bindings.swift]) is found.
# (Its note that swift-format is not installed is dropped; formatting is optional.)
(cd "$REPO" && "$BINDGEN" generate --library "$LIB" --language swift --out-dir "$OUT") 2>&1 |
  { grep -v 'swift-format' || true; } >&2

for f in Sessions.swift sessionsFFI.h; do
  [[ -f $OUT/$f ]] || { echo "generate.sh: uniffi-bindgen did not write $f" >&2; exit 1; }
done
# Files that did not change are left alone, so SwiftPM does not rebuild them.
place() {
  if ! cmp -s "$1" "$2"; then install -m 644 "$1" "$2"; fi
}
place "$OUT/sessionsFFI.h" "$PKG/Sources/SessionsFFI/sessionsFFI.h"
place "$OUT/Sessions.swift" "$PKG/Sources/Sessions/Sessions.swift"

# sessions.pc, relocatable: libdir is relative to the .pc file itself, so install.sh
# copies it unchanged into <prefix>/lib/pkgconfig next to <prefix>/lib/libsessions.so.
LIB_DIR=$(cd "$(dirname "$LIB")" && pwd)
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n 1)
mkdir -p "$LIB_DIR/pkgconfig"
cat >"$OUT/sessions.pc" <<PC
# pkg-config file for libsessions (written by bindings/swift/generate.sh).
libdir=\${pcfiledir}/..

Name: sessions
Description: Session manager with one Rust core (UniFFI bindings)
Version: ${VERSION:-0.0.0}
Libs: -L\${libdir} -lsessions
Cflags:
PC
place "$OUT/sessions.pc" "$LIB_DIR/pkgconfig/sessions.pc"
echo "generate.sh: Swift bindings generated from $LIB" >&2
