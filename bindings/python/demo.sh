#!/usr/bin/env bash
# Builds and installs the Python wheel into a fresh virtualenv (as test.sh does), then
# runs examples/walkthrough.py. Extra arguments go to the walkthrough (e.g. a database
# path). Runnable from any directory.
set -euo pipefail

# shellcheck source=_install.sh
source "$(dirname "${BASH_SOURCE[0]}")/_install.sh"
sessions_python_install

echo "==> examples/walkthrough.py"
exec "$PYTHON" "$REPO/examples/walkthrough.py" "$@"
