# shellcheck shell=bash
# Shared by test.sh and demo.sh (sourced, not run): builds the `sessions` wheel and
# installs it into a fresh virtualenv.
#
# `sessions_python_install` builds the wheel as `pip install ./bindings/python` does and
# installs it; `sessions_python_install WHEEL` installs a wheel built already (test.sh
# passes the manylinux2014 x86_64 wheel of build-wheels.sh: the tests run the wheel that
# ships, and the crate is not built a second time for them).
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
#                      of the project; the wheel is built in release, like everything)

PYTEST_VERSION=9.0.3

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# One pin, in pyproject.toml's build requirements, for `pip install` and for this script.
MATURIN_VERSION=$(sed -n 's/.*"maturin==\([^"]*\)".*/\1/p' "$REPO/bindings/python/pyproject.toml")
VENV=${SESSIONS_PY_VENV:-$REPO/target/py-venv}
PYTHON=$VENV/bin/python

sessions_python_install() {
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
  local wheels=$CARGO_TARGET_DIR/py-wheels wheel=${1:-}

  echo "==> fresh virtualenv in $VENV"
  rm -rf "$VENV"
  "${PYTHON3:-python3}" -m venv "$VENV"
  "$PYTHON" -m pip install --quiet --upgrade pip
  "$PYTHON" -m pip install --quiet "pytest==$PYTEST_VERSION"
  if [[ -z "$wheel" ]]; then
    "$PYTHON" -m pip install --quiet "maturin==$MATURIN_VERSION"
    sessions_python_build_wheel "$wheels" || return 1
    wheel=$(ls "$wheels"/sessions-*.whl)
  fi
  echo "==> installing $(basename "$wheel")"
  "$PYTHON" -m pip install --quiet --force-reinstall --no-deps "$wheel"
}

# sessions_python_build_wheel DIR: `pip wheel ./bindings/python` into DIR (emptied first).
sessions_python_build_wheel() {
  local wheels=$1
  echo "==> building the wheel: pip wheel ./bindings/python (cargo --release, target dir $CARGO_TARGET_DIR)"
  rm -rf "$wheels"
  # The same build `pip install ./bindings/python` runs: the package's own backend
  # (backend/sessions_build.py), with the venv's maturin. It compiles the crate once, in
  # release; nothing may be compiled in cargo's dev profile (the uniffi-bindgen run
  # maturin makes would do that without the backend), which the check below enforces.
  local started=$VENV/.wheel-build-started
  touch "$started"
  # (maturin's hooks run the `maturin` command: the venv's, hence its bin/ first on PATH.)
  PATH="$VENV/bin:$PATH" "$PYTHON" -m pip wheel --no-deps --no-build-isolation \
    --wheel-dir "$wheels" "$REPO/bindings/python"
  if [[ -d "$CARGO_TARGET_DIR/debug" ]] \
      && [[ -n "$(find "$CARGO_TARGET_DIR/debug" -newer "$started" -print -quit)" ]]; then
    echo "FAILED: building the wheel also compiled the crate in the dev profile" \
      "($CARGO_TARGET_DIR/debug): the second build is back" >&2
    return 1
  fi
}
