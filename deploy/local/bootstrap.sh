#!/usr/bin/env bash
# Installs what a fresh machine lacks for the Python side: uv (from PyPI) and the workspace venv.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
if ! command -v uv >/dev/null 2>&1; then
  echo "bootstrap: installing uv from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
uv_bin=$(command -v uv || echo "$(python3 -m site --user-base)/bin/uv")
"$uv_bin" sync --all-packages --frozen --quiet
bash "$root/deploy/local/ui_assets.sh"   # the UI's chart library (Apache ECharts from the npm registry)
