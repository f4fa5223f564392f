#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for ignite: Debian packages, npm dependencies, and the build.
# Idempotent: packages already installed are not fetched again, and npm ci/build are cheap to repeat.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

mapfile -t packages < <(grep -Ev '^\s*(#|$)' scripts/apt-packages.txt)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: installing Debian packages needs root: ${missing[*]}" >&2
    exit 6
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  log "Debian packages: all ${#packages[@]} present"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is needed (found $(node --version))" >&2
  exit 7
fi

log "npm ci"
npm ci --no-audit --no-fund --loglevel=error
log "npm run build"
npm run build --silent

# CNI: when /etc/cni/net.d holds no network, install ignite's default one (bridge ignite0).
# (find, not ls: ls fails when any one of several globs matches nothing.)
if [ -z "$(find /etc/cni/net.d -maxdepth 1 \( -name '*.conf' -o -name '*.conflist' -o -name '*.json' \) 2>/dev/null)" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    node --input-type=module -e "const m = await import('./dist/network/default-network.js'); console.error('==> installed ' + await m.installDefaultNetwork('/etc/cni/net.d'));"
  else
    echo "==> /etc/cni/net.d has no network; run setup as root to install ignite's default" >&2
  fi
fi
log "setup done"
