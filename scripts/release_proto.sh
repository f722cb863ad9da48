#!/usr/bin/env bash
# Cuts a release of the event contracts: snapshots proto/safetynet into proto/releases/<VERSION>, the
# contract later changes are checked against (`buf breaking` in scripts/check_proto.sh). Commit the result.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version="${1:?usage: release_proto.sh VERSION (e.g. 2027.03)}"
target="$root/proto/releases/$version"
if [ -e "$target" ]; then
  echo "release $version exists already" >&2
  exit 1
fi
mkdir -p "$target"
cp -r "$root/proto/safetynet" "$target/"
echo "proto: released $version in proto/releases/$version"
