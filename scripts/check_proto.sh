#!/usr/bin/env bash
# Fails when the checked-in generated code differs from what proto/ generates now.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$root/scripts/gen_proto.sh" "$tmp"
if ! diff -r -x __pycache__ "$tmp/safetynet" "$root/libs/core/src/safetynet" >/dev/null; then
  diff -r -x __pycache__ "$tmp/safetynet" "$root/libs/core/src/safetynet" | head -20
  echo "generated protobuf code is stale: run 'make proto' and commit" >&2
  exit 1
fi
echo "proto: generated code is current"
