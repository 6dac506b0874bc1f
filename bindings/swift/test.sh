#!/usr/bin/env bash
# Build the Rust library, generate the Swift bindings, run the Swift package's XCTest
# suite, then prove the package works as a dependency of a package outside this
# repository. Runnable from any directory, also on a machine without Swift
# (bindings/swift/swift.sh then provisions Swift 6.0.3 in a cached Debian chroot).
#
# Usage: bindings/swift/test.sh [extra `swift test` arguments, e.g. --filter ConformanceTests]
# Environment: CARGO_TARGET_DIR (default <repo>/target), CARGO (default cargo),
#   SESSIONS_SKIP_CONSUMER_CHECK=1 skips the consumer package (for quick local runs).
set -euo pipefail

PKG=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$PKG/../.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$REPO/$TARGET_DIR ;; esac
export CARGO_TARGET_DIR=$TARGET_DIR
SWIFT=$PKG/swift.sh

echo "== cargo build --release (target dir $TARGET_DIR)" >&2
(cd "$REPO" && "${CARGO:-cargo}" build --release --lib --bin uniffi-bindgen)

echo "== generating Swift bindings" >&2
"$PKG/generate.sh"

# The package has no build settings of its own: SwiftPM finds libsessions through
# pkg-config (generate.sh wrote target/release/pkgconfig/sessions.pc), and the test
# binary finds it at run time through LD_LIBRARY_PATH (swift.sh passes both on).
if grep -n '\.unsafeFlags(' "$PKG/Package.swift"; then
  echo "test.sh: Package.swift must not use unsafeFlags (SwiftPM refuses them in dependencies)" >&2
  exit 1
fi
export PKG_CONFIG_PATH=$TARGET_DIR/release/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
LIBRARY_DIRS=$TARGET_DIR/release${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

echo "== swift build (the library alone)" >&2
(cd "$PKG" && "$SWIFT" build --package-path "$PKG")

echo "== swift test" >&2
LOG=$(mktemp)
WORK=
cleanup() {
  rm -f "$LOG"
  [[ -z $WORK ]] || rm -rf "$WORK"
}
trap cleanup EXIT
status=0
(cd "$PKG" && LD_LIBRARY_PATH=$LIBRARY_DIRS "$SWIFT" test --package-path "$PKG" "$@") 2>&1 |
  tee "$LOG" || status=$?
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

if [[ -n ${SESSIONS_SKIP_CONSUMER_CHECK:-} ]]; then
  echo "test.sh: consumer check skipped (SESSIONS_SKIP_CONSUMER_CHECK)" >&2
  exit 0
fi

# A consumer outside the repository: the library installed into a prefix (install.sh),
# the package published as a tagged git repository (dist.sh), and consumer-check/
# depending on it by URL, with nothing but PKG_CONFIG_PATH and LD_LIBRARY_PATH pointing
# at the prefix (an install into /usr/local needs neither). SwiftPM treats a file://
# URL like a remote one: it refuses unsafeFlags in it.
echo "== consumer package outside the repository" >&2
WORK=$(mktemp -d)
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n 1)
"$PKG/install.sh" "$WORK/prefix"
"$PKG/dist.sh" "$WORK/sessions-swift"
git -C "$WORK/sessions-swift" init -q
git -C "$WORK/sessions-swift" add -A
git -C "$WORK/sessions-swift" -c user.name=test.sh -c user.email=test.sh@localhost \
  commit -q -m "sessions $VERSION"
git -C "$WORK/sessions-swift" tag "$VERSION"

mkdir "$WORK/consumer"
cp -R "$PKG/consumer-check/Package.swift" "$PKG/consumer-check/Sources" "$WORK/consumer/"
sed -i "s#https://example.invalid/sessions-swift.git#file://$WORK/sessions-swift#" \
  "$WORK/consumer/Package.swift"
grep -q "file://$WORK/sessions-swift" "$WORK/consumer/Package.swift" ||
  { echo "test.sh: could not point consumer-check at the local repository" >&2; exit 1; }

# Only the installed prefix: not the repository's target directory.
OUTPUT=$(cd "$WORK/consumer" &&
  env PKG_CONFIG_PATH="$WORK/prefix/lib/pkgconfig" LD_LIBRARY_PATH="$WORK/prefix/lib" \
    SWIFT_SH_EXTRA_MOUNTS="$WORK" "$SWIFT" run --package-path "$WORK/consumer" ConsumerCheck) || {
  echo "$OUTPUT"
  echo "test.sh: the consumer package failed" >&2
  exit 1
}
echo "$OUTPUT"
grep -qx "consumer-check: ok" <<<"$OUTPUT" ||
  { echo "test.sh: the consumer did not finish" >&2; exit 1; }

# Nothing in the consumer's binary points at a build or install directory.
BIN=$WORK/consumer/.build/debug/ConsumerCheck
[[ -f $BIN ]] || { echo "test.sh: no consumer binary at $BIN" >&2; exit 1; }
if command -v readelf >/dev/null 2>&1; then
  RUNPATHS=$(readelf -d "$BIN" | grep -E 'RPATH|RUNPATH' || true)
  if grep -Fq -e "$WORK" -e "$TARGET_DIR" -e "$REPO" <<<"$RUNPATHS"; then
    echo "test.sh: the consumer's runpath names a build directory: $RUNPATHS" >&2
    exit 1
  fi
else
  echo "test.sh: readelf not found; the consumer's runpath was not checked" >&2
fi
echo "test.sh: consumer package passed" >&2
