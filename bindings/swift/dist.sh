#!/usr/bin/env bash
# Assemble the Swift package as it is published: a directory holding Package.swift and
# Sources/ with the generated files in it, ready to be the root of its own git
# repository, so that other packages can depend on it by URL:
#     .package(url: "https://<host>/<org>/sessions-swift.git", from: "0.1.0")
# SwiftPM needs Package.swift at the root of a URL dependency and cannot run a build
# step, which is why this copy exists; the library itself is installed separately
# (install.sh), and the package finds it through pkg-config.
#
# Usage: bindings/swift/dist.sh OUT_DIR      (OUT_DIR must not exist, or be empty)
# Run generate.sh (or install.sh, or test.sh) first.
#
# Publishing: cd OUT_DIR && git init && git add -A && git commit -m "sessions 0.1.0" &&
#             git tag 0.1.0 && git push <remote> HEAD 0.1.0
set -euo pipefail

PKG=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:?usage: dist.sh OUT_DIR}

for f in Sources/Sessions/Sessions.swift Sources/SessionsFFI/sessionsFFI.h; do
  [[ -f $PKG/$f ]] || { echo "dist.sh: $f is missing; run bindings/swift/generate.sh first" >&2; exit 1; }
done
if [[ -e $OUT && -n $(ls -A "$OUT") ]]; then
  echo "dist.sh: $OUT exists and is not empty" >&2
  exit 1
fi
mkdir -p "$OUT"
# The manifest and the sources (generated and handwritten); not the tests (they read
# the repository's conformance scenarios), .build, or this repository's .gitignore
# (it ignores the generated files, which the published copy must contain).
cp "$PKG/Package.swift" "$OUT/"
cp -R "$PKG/Sources" "$OUT/"
find "$OUT/Sources" -name .gitkeep -delete
echo "dist.sh: package assembled in $OUT" >&2
