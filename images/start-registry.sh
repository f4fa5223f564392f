#!/usr/bin/env bash
# Starts Debian's docker-registry on 127.0.0.1:<port> (default 5000) with filesystem storage,
# in the background. Idempotent: a registry already answering on the port is reused.
# Usage: images/start-registry.sh [--port 5000] [--dir .cache/registry]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=5000
dir="$root/.cache/registry"
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    *) echo "start-registry.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
url="http://127.0.0.1:$port/v2/"
if curl -fsS -o /dev/null "$url" 2>/dev/null; then
  echo "registry already serving on 127.0.0.1:$port" >&2
  exit 0
fi
mkdir -p "$dir/data"
cat > "$dir/config.yml" <<CFG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CFG
nohup docker-registry serve "$dir/config.yml" > "$dir/registry.log" 2>&1 &
echo $! > "$dir/registry.pid"
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$url" 2>/dev/null && { echo "registry serving on 127.0.0.1:$port (pid $(cat "$dir/registry.pid"))" >&2; exit 0; }
  sleep 0.1
done
echo "start-registry.sh: registry did not answer on $url; see $dir/registry.log" >&2
exit 1
