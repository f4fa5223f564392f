#!/usr/bin/env bash
# Stops a registry started by start-registry.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="${1:-$root/.cache/registry}"
if [ -f "$dir/registry.pid" ]; then
  kill "$(cat "$dir/registry.pid")" 2>/dev/null || true
  rm -f "$dir/registry.pid"
fi
