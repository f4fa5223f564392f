#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: set everything up, build the local images, boot
# a VM, and print a command's output from inside it.
#   1. scripts/setup.sh: Debian packages, npm ci, build
#   2. a local registry on 127.0.0.1:5000 and the images, built from Debian packages (no Docker):
#      the micro kernel (ignite-kernel:6.1-micro) and the Debian image
#   3. ignite run ignite-debian --ssh, then ignite exec into it
# Run as root (VMs need /dev/kvm or TCG, network namespaces and iptables).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart: run as root (sudo bash scripts/quickstart.sh): VMs need network namespaces and iptables" >&2
  exit 6
fi

bash scripts/setup.sh
bash images/start-registry.sh --port 5000
# The micro kernel compiles from linux-source-6.1 on the first run (minutes); later runs reuse it.
nice -n 10 bash images/build.sh --registry 127.0.0.1:5000 kernel-micro debian

export IGNITE_KERNEL_IMAGE=127.0.0.1:5000/ignite-kernel:6.1-micro
ignite() { node bin/ignite.js "$@"; }
name=quickstart
ignite rm -f "$name" >/dev/null 2>&1 || true

echo "==> ignite run 127.0.0.1:5000/ignite-debian:bookworm --name $name --ssh"
ignite --log-level warn run 127.0.0.1:5000/ignite-debian:bookworm --name "$name" --ssh --cpus 1 --memory 512MB
echo "==> waiting for SSH in the guest"
for _ in $(seq 1 60); do
  ignite exec "$name" -- true >/dev/null 2>&1 && break
  sleep 2
done
ignite ps
echo "==> ignite exec $name -- sh -c 'uname -a; grep PRETTY_NAME /etc/os-release; ip -4 -o addr show eth0'"
ignite exec "$name" -- sh -c 'uname -a; grep PRETTY_NAME /etc/os-release; ip -4 -o addr show eth0'
echo "==> ignite rm -f $name"
ignite --log-level warn rm -f "$name"
echo "==> done. The images stay in the registry on 127.0.0.1:5000; stop it with images/stop-registry.sh"
