#!/usr/bin/env bash
# Installs the command-line tools the tests need beyond the Python venv, only when they are missing:
#   promtool  (Debian package `prometheus`) — tests/unit/deploy/test_observability.py checks the
#             alert rules and scrape configs under deploy/prometheus/ with it.
#   wrk       (Debian package `wrk`) — the load generator of `make bench` B1.
#   chromium  (Debian package `chromium`) — the browser Playwright drives in tests/e2e/browser.
#   fonts-noto-cjk — so the zh-CN pages in the browser tests' screenshots show characters, not boxes.
#   npm       (Debian package `npm`) — deploy/local/ui_assets.sh installs the dashboard's chart library
#             (Apache ECharts) from the npm registry with it.
# Idempotent and fast when everything is present (no apt-get at all). Installing needs root and
# apt-get; `apt-get update` runs once, before the first install. The package's daemon is never
# started (a temporary policy-rc.d denies service starts when the system has none of its own).
set -euo pipefail

log() { printf 'tools: %s\n' "$*" >&2; }

missing=()   # Debian packages to install
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)   # load generator of `make bench` (B1)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)   # browser tests (Playwright)
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-noto-cjk)   # zh-CN in screenshots
command -v npm >/dev/null 2>&1 || missing+=(npm)   # the dashboard's charts (deploy/local/ui_assets.sh)

((${#missing[@]} == 0)) && exit 0

if [[ "$(id -u)" != 0 ]]; then
  log "missing: ${missing[*]}. Installing needs root:"
  log "  sudo bash deploy/local/tools.sh    # or: sudo apt-get install -y --no-install-recommends ${missing[*]}"
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  log "missing: ${missing[*]} and apt-get is not available; install promtool (Prometheus) and put it on PATH"
  exit 1
fi

policy=/usr/sbin/policy-rc.d
temp_policy=0
if [[ ! -e "$policy" ]]; then   # keep invoke-rc.d from starting a prometheus daemon during install
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  temp_policy=1
fi
cleanup() { if ((temp_policy)); then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
log "installing with apt-get: ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

command -v promtool >/dev/null 2>&1 || { log "promtool still not on PATH after installing prometheus"; exit 1; }
log "promtool: $(promtool --version 2>&1 | head -n1)"
