#!/usr/bin/env bash
# Build the Rust library, generate the Swift bindings and run the Swift package's
# XCTest suite. Runnable from any directory, also on a machine without Swift
# (bindings/swift/swift.sh then provisions Swift 6.0.3 in a cached Debian chroot).
#
# Usage: bindings/swift/test.sh [extra `swift test` arguments, e.g. --filter ConformanceTests]
# Environment: CARGO_TARGET_DIR (default <repo>/target), CARGO (default cargo).
set -euo pipefail

PKG=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$PKG/../.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$REPO/$TARGET_DIR ;; esac
export CARGO_TARGET_DIR=$TARGET_DIR

echo "== cargo build --release (target dir $TARGET_DIR)" >&2
(cd "$REPO" && "${CARGO:-cargo}" build --release --lib --bin uniffi-bindgen)

echo "== generating Swift bindings" >&2
"$PKG/generate.sh"

# Where Package.swift finds libsessions (linked with an rpath to it).
export SESSIONS_LIB_DIR=$TARGET_DIR/release
# swift.sh bind-mounts the repository (and CARGO_TARGET_DIR) into its chroot, and runs
# swift in the current directory, which must exist inside its root.
echo "== swift build (the library alone, as a consumer builds it)" >&2
(cd "$PKG" && "$PKG/swift.sh" build --package-path "$PKG")

echo "== swift test" >&2
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
status=0
(cd "$PKG" && "$PKG/swift.sh" test --package-path "$PKG" "$@") 2>&1 | tee "$LOG" || status=$?
if [[ $status -ne 0 ]]; then
  echo "test.sh: swift test failed (exit $status)" >&2
  exit "$status"
fi
# XCTest's summary must be there and clean (guards against a run that tested nothing).
if ! grep -Eq "Executed [1-9][0-9]* tests?, with 0 failures" "$LOG"; then
  echo "test.sh: no clean XCTest summary in the output" >&2
  exit 1
fi
echo "test.sh: Swift tests passed" >&2
