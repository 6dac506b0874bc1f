#!/usr/bin/env bash
# Builds the Python wheel, installs it into a fresh virtualenv and runs the pytest suite
# (tests/python) from outside the repository, so `import sessions` can only come from
# the installed wheel. Runnable from any directory. Needs python3 (3.11+), pip, cargo.
#
# Extra arguments are passed to pytest, e.g. `bindings/python/test.sh -k conformance`.
set -euo pipefail

# shellcheck source=_install.sh
source "$(dirname "${BASH_SOURCE[0]}")/_install.sh"
sessions_python_install

echo "==> pytest tests/python"
outside=$(mktemp -d)
trap 'rm -rf "$outside"' EXIT
cd "$outside"
"$PYTHON" - <<'PY'
import sessions, sys
where = sessions.__file__
assert "site-packages" in where, f"sessions imported from {where}, not from the wheel"
print(f"sessions {sessions.__version__} from {where}")
PY
"$PYTHON" -m pytest -p no:cacheprovider "$REPO/tests/python" "$@"
