# Shared by test.sh and demo.sh (sourced, not run): builds the `sessions` wheel and
# installs it into a fresh virtualenv.
#
# After `sessions_python_install`:
#   REPO      the repository root
#   VENV      the virtualenv (under target/, which git ignores)
#   PYTHON    the virtualenv's python
#
# Environment:
#   PYTHON3            interpreter to create the venv with (default: python3)
#   SESSIONS_PY_VENV   where the venv lives (default: $REPO/target/py-venv)
#   CARGO_TARGET_DIR   cargo's target dir (default: $REPO/target, shared with the rest
#                      of the project; maturin builds in release)

PYTEST_VERSION=9.0.3

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# One pin, in pyproject.toml's build requirements, for `pip install` and for this script.
MATURIN_VERSION=$(sed -n 's/.*"maturin==\([^"]*\)".*/\1/p' "$REPO/bindings/python/pyproject.toml")
VENV=${SESSIONS_PY_VENV:-$REPO/target/py-venv}
PYTHON=$VENV/bin/python

sessions_python_install() {
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
  local wheels=$CARGO_TARGET_DIR/py-wheels

  echo "==> fresh virtualenv in $VENV"
  rm -rf "$VENV"
  "${PYTHON3:-python3}" -m venv "$VENV"
  "$PYTHON" -m pip install --quiet --upgrade pip
  "$PYTHON" -m pip install --quiet "maturin==$MATURIN_VERSION" "pytest==$PYTEST_VERSION"

  echo "==> building the wheel (cargo --release, target dir $CARGO_TARGET_DIR)"
  rm -rf "$wheels"
  # maturin generates the Python module with the crate's own `uniffi-bindgen` bin, so
  # generator and library share one uniffi version. It runs it as
  # `cargo run --bin uniffi-bindgen ...`, in the dev profile: a second, debug build of
  # the whole crate. A `cargo` shim first on PATH adds `--release` to that one command
  # (everything else goes to cargo unchanged), so the bin comes from the release build
  # the rest of the project shares. Without the shim (e.g. `pip install
  # ./bindings/python`) the result is the same, only slower.
  local shim=$VENV/cargo-shim real_cargo
  real_cargo=$(command -v cargo) || { echo "cargo is not on PATH" >&2; return 1; }
  mkdir -p "$shim"
  cat >"$shim/cargo" <<SHIM
#!/usr/bin/env bash
if [[ "\${1:-}" == run && "\${2:-}" == --bin && "\${3:-}" == uniffi-bindgen ]]; then
  shift
  exec "$real_cargo" run --release "\$@"
fi
exec "$real_cargo" "\$@"
SHIM
  chmod +x "$shim/cargo"
  (cd "$REPO/bindings/python" && PATH="$shim:$PATH" "$VENV/bin/maturin" build --release --out "$wheels")

  local wheel
  wheel=$(ls "$wheels"/sessions-*.whl)
  echo "==> installing $(basename "$wheel")"
  "$PYTHON" -m pip install --quiet --force-reinstall --no-deps "$wheel"
}
