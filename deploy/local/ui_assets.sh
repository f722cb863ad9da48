#!/usr/bin/env bash
# The browser libraries the case-worker UI serves itself (nothing is fetched from a CDN at run time): Apache
# ECharts from the npm registry, pinned with its integrity hash in services/workflow/ui-assets/package-lock.json,
# installed with `npm ci` and copied to the UI's static/vendor/ folder (not in git; served at /static/vendor/).
# Idempotent: nothing happens while the copy matches the lock file. Never fails the setup: without npm or the
# registry the dashboard still works (tables, every number a link) and draws no charts; deploy/local/tools.sh
# installs npm.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
src="$root/services/workflow/ui-assets"
dest="$root/services/workflow/src/safetynet_workflow/ui/static/vendor"
stamp="$dest/.lock-sha256"
log() { printf 'ui-assets: %s\n' "$*" >&2; }

want=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)
if [[ -s "$dest/echarts.min.js" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  log "npm is missing: the dashboard will draw no charts (bash deploy/local/tools.sh installs npm)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$src/package.json" "$src/package-lock.json" "$work/"
if ! (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2); then
  log "npm ci failed: the dashboard will draw no charts until this runs again (make venv)"
  exit 0
fi
mkdir -p "$dest"
cp "$work/node_modules/echarts/dist/echarts.min.js" "$dest/echarts.min.js.tmp"
mv "$dest/echarts.min.js.tmp" "$dest/echarts.min.js"
cp "$work/node_modules/echarts/LICENSE" "$dest/echarts.LICENSE"
echo "$want" >"$stamp"
log "echarts $(cd "$work" && node -p 'require("echarts/package.json").version' 2>/dev/null || echo '?') installed"
