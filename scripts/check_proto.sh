#!/usr/bin/env bash
# Fails when the checked-in generated code differs from what proto/ generates now, or when proto/ breaks
# the last released contract (the newest snapshot under proto/releases/, cut by scripts/release_proto.sh).
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
release=$(ls -1 "$root/proto/releases" | sort -V | tail -1)
# buf refuses an --against input inside the workspace it checks: compare with a copy.
mkdir -p "$tmp/release"
cp -r "$root/proto/releases/$release/." "$tmp/release/"
if ! "$root/.venv/bin/buf" breaking "$root/proto" --against "$tmp/release"; then
  echo "proto/ breaks the released contract $release (see above): keep field numbers, names and types;" \
    "add fields instead of changing them" >&2
  exit 1
fi
echo "proto: no breaking change against release $release"
