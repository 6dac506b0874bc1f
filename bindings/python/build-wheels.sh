#!/usr/bin/env bash
# Builds the release artifacts of the Python package and checks them:
#
#   $CARGO_TARGET_DIR/dist/sessions-<v>-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl
#   $CARGO_TARGET_DIR/dist/sessions-<v>-py3-none-manylinux2014_aarch64.manylinux_2_17_aarch64.whl
#   $CARGO_TARGET_DIR/dist/sessions-<v>.tar.gz   (sdist: `pip install` builds it with cargo)
#
# One wheel per architecture serves every CPython >= 3.11: the generated module loads
# the library with ctypes and does not link against libpython; the compiled fast path
# sessions/_fastpath.abi3.so (PyO3, abi3 >= 3.11, built by the package's backend beside
# the library) is optional at run time (sessions/_fast.py falls back to ctypes). The wheels are built by
# scripts/portable-libs.sh (zig, glibc 2.17), whose libraries the Kotlin jar reuses.
#
# Checks (any failure exits non-zero):
#   - `twine check --strict` on all three (the metadata and readme a registry accepts),
#     and every classifier is one PyPI knows (trove-classifiers);
#   - `auditwheel show` finds each wheel consistent with manylinux_2_17 for its arch;
#   - each wheel's libsessions.so is an ELF for its machine (x86-64 / AArch64) that needs
#     no glibc symbol version above 2.17 and no shared library beyond glibc's own
#     (scripts/check-native-lib.sh), and loads and runs there: a C program calls into it,
#     the aarch64 one under qemu-user with Debian's aarch64 glibc (scripts/check-lib-runs.sh);
#   - the compiled fast path sessions/_fastpath.abi3.so passes the same ELF and glibc
#     checks and exports PyInit__fastpath; libsessions.so (also the Kotlin jar's) has no
#     Python symbol at all;
#   - wheel and sdist contents: the thin layer and its type stub, the generated module,
#     the library, the compiled fast path, py.typed, the MIT LICENSE; the sdist carries
#     the crate, Cargo.lock, uniffi.toml, the backend, the fast path's crate and LICENSE, and describes itself with the readme the
#     wheels have (and would be rebuilt with);
#   - a wheel builds from the sdist (one release build, nothing in the dev profile) and
#     carries the files the x86_64 wheel does;
#   - the x86_64 wheel installs into a fresh virtualenv and works from outside the
#     repository (a SQLite file shared by two managers: create, validate, rotate, revoke).
#
# Usage: bindings/python/build-wheels.sh [--no-check]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR=$PWD/$CARGO_TARGET_DIR ;; esac
PACK_VENV=$CARGO_TARGET_DIR/pack-venv
DIST=$CARGO_TARGET_DIR/dist
AUDITWHEEL_VERSION=6.8.2
TWINE_VERSION=7.0.0
TROVE_CLASSIFIERS_VERSION=2026.9.21.13

check=1
case "${1:-}" in
  "") ;;
  --no-check) check=0 ;;
  *) echo "usage: $0 [--no-check]" >&2; exit 2 ;;
esac

fail() { echo "FAILED: $*" >&2; exit 1; }

bash "$REPO/scripts/portable-libs.sh" x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu

echo "==> sdist"
rm -f "$DIST"/sessions-*.tar.gz
(cd "$REPO/bindings/python" && "$PACK_VENV/bin/maturin" sdist --out "$DIST" >"$DIST/sdist.log" 2>&1) \
  || { cat "$DIST/sdist.log"; fail "maturin sdist"; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n 1)
wheel_x86_64=$DIST/sessions-$version-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl
wheel_aarch64=$DIST/sessions-$version-py3-none-manylinux2014_aarch64.manylinux_2_17_aarch64.whl
sdist=$DIST/sessions-$version.tar.gz
for f in "$wheel_x86_64" "$wheel_aarch64" "$sdist"; do
  [[ -f "$f" ]] || fail "$f was not built (found: $(ls "$DIST"))"
done
ls -l "$wheel_x86_64" "$wheel_aarch64" "$sdist"
[[ $check == 1 ]] || exit 0

echo "==> checking the artifacts"
"$PACK_VENV/bin/python" -m pip install --quiet "auditwheel==$AUDITWHEEL_VERSION" "twine==$TWINE_VERSION" \
  "trove-classifiers==$TROVE_CLASSIFIERS_VERSION"
NO_COLOR=1 COLUMNS=200 "$PACK_VENV/bin/twine" check --strict "$wheel_x86_64" "$wheel_aarch64" "$sdist"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# check_wheel WHEEL ARCH
check_wheel() {
  local wheel=$1 arch=$2 name
  name=$(basename "$wheel")
  local show
  show=$("$PACK_VENV/bin/auditwheel" show "$wheel" 2>&1) || { echo "$show"; fail "auditwheel show $name"; }
  # (auditwheel wraps its lines)
  tr -s ' \n' '  ' <<<"$show" | grep -q "consistent with the following platform tag: \"manylinux_2_17_$arch\"" \
    || { echo "$show"; fail "$name is not manylinux_2_17_$arch"; }

  local dir=$work/$arch entries
  mkdir -p "$dir"
  entries=$(unzip -Z1 "$wheel")
  for entry in sessions/__init__.py sessions/__init__.pyi sessions/py.typed \
      sessions/_native/sessions.py sessions/_native/libsessions.so sessions/_fastpath.abi3.so \
      "sessions-$version.dist-info/METADATA" "sessions-$version.dist-info/licenses/LICENSE"; do
    grep -qx "$entry" <<<"$entries" || fail "$entry is not in $name"
  done
  unzip -q -o "$wheel" sessions/_native/libsessions.so sessions/_fastpath.abi3.so \
    "sessions-$version.dist-info/METADATA" -d "$dir"
  local so=$dir/sessions/_native/libsessions.so ext=$dir/sessions/_fastpath.abi3.so

  bash "$REPO/scripts/check-native-lib.sh" "$so" "$arch" "$name: sessions/_native/libsessions.so"
  bash "$REPO/scripts/check-native-lib.sh" "$ext" "$arch" "$name: sessions/_fastpath.abi3.so"
  # The core library is shared with the Kotlin jar: no Python in it, ever.
  local python_symbols
  python_symbols=$(readelf --dyn-syms -W "$so" | awk '{print $8}' | grep -E '^_?Py' | head -n 3 || true)
  [[ -z "$python_symbols" ]] || fail "$name: libsessions.so refers to Python symbols ($python_symbols)"
  readelf --dyn-syms -W "$ext" | awk '$7 != "UND" {print $8}' | grep -qx 'PyInit__fastpath' \
    || fail "$name: sessions/_fastpath.abi3.so does not export PyInit__fastpath"
  local meta=$dir/sessions-$version.dist-info/METADATA
  for field in "Requires-Python: >=3.11" "License-Expression: MIT" "License-File: LICENSE" \
      "Classifier: Programming Language :: Python :: 3.11" "Project-URL: Repository, " \
      "Description-Content-Type: text/markdown"; do
    grep -qF "$field" "$meta" || fail "METADATA of $name has no '$field'"
  done
  # PyPI refuses an upload with a classifier that is not in its list.
  "$PACK_VENV/bin/python" - "$meta" <<'PY' || fail "METADATA of $name has classifiers PyPI does not accept"
import sys
from email.parser import Parser
from trove_classifiers import classifiers, deprecated_classifiers
meta = Parser().parse(open(sys.argv[1], encoding="utf-8"))
bad = [c for c in meta.get_all("Classifier", []) if c not in classifiers or c in deprecated_classifiers]
if bad:
    sys.exit(f"unknown or deprecated classifiers: {bad}")
PY
}
check_wheel "$wheel_x86_64" x86_64
check_wheel "$wheel_aarch64" aarch64
# Each library loads and answers on its own architecture (aarch64 under qemu-user).
bash "$REPO/scripts/check-lib-runs.sh" x86_64 "$work/x86_64/sessions/_native/libsessions.so"
bash "$REPO/scripts/check-lib-runs.sh" aarch64 "$work/aarch64/sessions/_native/libsessions.so"

sdist_entries=$(tar -tzf "$sdist")
for entry in pyproject.toml backend/sessions_build.py Cargo.toml Cargo.lock uniffi.toml \
    src/lib.rs src/bin/uniffi-bindgen.rs python/sessions/__init__.py python/sessions/py.typed \
    native/Cargo.toml native/Cargo.lock native/pyproject.toml native/src/lib.rs native/src/layout.rs \
    native/src/unsafe_code.rs native/build.rs native/c/no_unwind_info.c README.md PKG-INFO LICENSE; do
  grep -q "^sessions-$version/\(.*/\)\?$entry\$" <<<"$sdist_entries" || fail "$entry is not in $(basename "$sdist")"
done
# A wheel built from the sdist must describe itself as the sdist does: the same readme.
tar -xzf "$sdist" -C "$work" "sessions-$version/PKG-INFO" "sessions-$version/README.md"
"$PACK_VENV/bin/python" - "$work/sessions-$version" "$work/x86_64/sessions-$version.dist-info/METADATA" <<'PY' \
  || fail "the sdist's description differs from the wheel's, or from the README.md it would be rebuilt from"
import sys
from email.parser import Parser
root, wheel_meta = sys.argv[1], sys.argv[2]
def body(path):
    return Parser().parse(open(path, encoding="utf-8")).get_payload().strip()
readme = open(f"{root}/README.md", encoding="utf-8").read().strip()
sys.exit(0 if body(f"{root}/PKG-INFO") == body(wheel_meta) == readme else 1)
PY
echo "$(basename "$sdist"): $(wc -l <<<"$sdist_entries") entries, crate and build backend included; same description as the wheels"

echo "==> a wheel from the sdist (what \`pip install $(basename "$sdist")\` builds)"
# A native build in cargo's shared release directory: the dependencies are built already,
# only the crate itself is compiled again from the sdist's copy (under a minute here).
started=$work/sdist-build-started
touch "$started"
PATH="$PACK_VENV/bin:$PATH" "$PACK_VENV/bin/python" -m pip wheel --no-deps --no-build-isolation \
  --wheel-dir "$work/from-sdist" "$sdist" >"$DIST/sdist-wheel.log" 2>&1 \
  || { tail -n 40 "$DIST/sdist-wheel.log"; fail "building a wheel from $(basename "$sdist")"; }
from_sdist=$(ls "$work/from-sdist/sessions-$version"-*.whl)
diff <(unzip -Z1 "$from_sdist" | grep -v '\.dist-info/' | sort) \
  <(unzip -Z1 "$wheel_x86_64" | grep -v '\.dist-info/' | sort) \
  || fail "the wheel built from the sdist does not carry the files the x86_64 wheel does"
stray=$(find "$CARGO_TARGET_DIR" -maxdepth 3 -path '*/debug*' -newer "$started" -print -quit)
[[ -z "$stray" ]] || fail "building from the sdist compiled the crate in the dev profile ($stray)"
echo "$(basename "$from_sdist"): built from the sdist in one release build; same files as the x86_64 wheel"

echo "==> the x86_64 wheel in a fresh virtualenv"
"${PYTHON3:-python3}" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --no-index "$wheel_x86_64"
# From an empty directory, so `import sessions` can only come from the installed wheel.
(cd "$work" && "$work/venv/bin/python" - "$version" <<'PY'
import os, sys, tempfile
import sessions

assert "site-packages" in sessions.__file__, sessions.__file__
assert sessions.__version__ == sys.argv[1], (sessions.__version__, sys.argv[1])
assert sessions._fast.PATH == "extension", "the compiled fast path did not load"
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "s.sqlite")
    manager = sessions.SessionManager.open(path, sessions.SessionConfig())
    s = manager.create(sessions.CreateSessionOptions(user_id="alice"))
    assert manager.validate(s.token).valid
    other = sessions.SessionManager.open(path, sessions.SessionConfig())
    assert other.validate(s.token).valid, "a second manager on the file does not see the session"
    new = manager.refresh(s.token)
    assert new.token != s.token and manager.validate(new.token).valid
    assert new.token not in repr(new) and new.token not in str(new)
    assert manager.destroy_all_for_user("alice") == 1
    assert not other.validate(new.token).valid
print(f"sessions {sessions.__version__} from the wheel: SQLite file, create, validate, rotate, revoke OK")
PY
)
echo "==> Python artifacts OK"
