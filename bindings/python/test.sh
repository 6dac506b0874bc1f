#!/usr/bin/env bash
# Builds and checks the release artifacts (build-wheels.sh: manylinux2014 wheels for
# x86_64 and aarch64, the sdist), installs the x86_64 wheel into a fresh virtualenv and,
# from outside the repository (so `import sessions` can only come from that wheel):
#   - checks the shipped type stubs against the built package (regenerated and diffed
#     by scripts/python_stubs.py, then compared at run time by mypy's stubtest);
#   - type-checks the README's examples and typed host classes with `mypy --strict`
#     (tests/python/typing);
#   - runs the pytest suite (tests/python).
# Runnable from any directory. Needs python3 (3.11+), pip, rustup, cargo (build-wheels.sh
# installs zig, auditwheel and twine from PyPI, and qemu-user for the aarch64 check).
#
# Extra arguments are passed to pytest, e.g. `bindings/python/test.sh -k conformance`.
set -euo pipefail

# shellcheck source=_install.sh
source "$(dirname "${BASH_SOURCE[0]}")/_install.sh"
bash "$REPO/bindings/python/build-wheels.sh"
sessions_python_install "$(ls "${CARGO_TARGET_DIR:-$REPO/target}"/dist/sessions-*-manylinux2014_x86_64.*.whl)"

# Test-only dependencies: mypy (stubtest, --strict), and pydantic, FastAPI and its test
# client's HTTP library for the serialization tests; the web integration tests' servers
# (uvicorn, waitress), Flask and HTTP client (httpx).
"$PYTHON" -m pip install --quiet "mypy==2.4.1" "pydantic==2.14.4" "fastapi==0.165.0" "httpx2==2.16.2" \
  "uvicorn==0.54.0" "waitress==3.0.2" "flask==3.1.3" "httpx==0.28.1"

outside=$(mktemp -d)
trap 'rm -rf "$outside"' EXIT
cd "$outside"

echo "==> type stubs match the built package"
"$PYTHON" "$REPO/scripts/python_stubs.py" --check
# Private modules (the generated one included) are not part of the stub; the generated
# SessionManager's and AsyncSessionManager's metaclass is typing.Protocol's, which a stub cannot say.
printf '%s\n' 'sessions\._.*' 'sessions\.SessionManager' 'sessions\.AsyncSessionManager' >"$outside/stubtest-allowlist"
"$PYTHON" -m mypy.stubtest sessions --mypy-config-file "$REPO/bindings/python/pyproject.toml" \
  --allowlist "$outside/stubtest-allowlist" --allowlist "$REPO/tests/python/web/stubtest-allowlist"

echo "==> mypy --strict tests/python/typing"
"$PYTHON" -m mypy --strict --warn-unused-ignores --cache-dir "$outside/mypy-cache" \
  "$REPO/tests/python/typing"

echo "==> pytest tests/python"
"$PYTHON" - <<'PY'
import sessions, sys
where = sessions.__file__
assert "site-packages" in where, f"sessions imported from {where}, not from the wheel"
print(f"sessions {sessions.__version__} from {where}")
PY
"$PYTHON" -m pytest -p no:cacheprovider "$REPO/tests/python" "$@"
