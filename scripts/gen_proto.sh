#!/usr/bin/env bash
# Regenerates the Python protobuf modules from proto/ (the one command; CI checks the output is current).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="${1:-$root/libs/core/src}"
py="$root/.venv/bin/python"
rm -rf "$out/safetynet/v1"
mkdir -p "$out/safetynet/v1"
"$py" -m grpc_tools.protoc -I "$root/proto" --python_out="$out" --pyi_out="$out" \
  "$root"/proto/safetynet/v1/*.proto
touch "$out/safetynet/__init__.py" "$out/safetynet/v1/__init__.py"
