#!/usr/bin/env bash
# Builds the images the quickstart and the tests use, without Docker, from the host's Debian
# packages, as OCI image layouts, and pushes them to a registry:
#   ignite-busybox:latest   busybox-static with an init that takes an address over DHCP
#   ignite-debian:bookworm  Debian bookworm (mmdebstrap) with systemd, openssh-server and DHCP
#   ignite-debian:slim      Debian bookworm (mmdebstrap minbase), sysvinit and openssh-server, no
#                           DHCP client: the kernel's ip=dhcp brings the network up
#   ignite-kernel:6.1       Debian's linux-image-amd64: /boot/vmlinux (PVH ELF) + an initramfs
#   ignite-kernel:6.1-micro a microVM kernel built from linux-source-6.1 with
#                           kernel-micro/microvm.config: /boot/vmlinux, /lib/modules/<release>
#
# Usage: images/build.sh [--registry 127.0.0.1:5000] [--cache DIR, default $IGNITE_IMAGE_CACHE
#          or .cache/images]
#          [busybox|debian|debian-slim|kernel|kernel-micro ...]
# Without --registry the layouts are only built. A layout is rebuilt only when its inputs (its
# recipe, the package versions, the kernel config fragment) change.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
registry=""
cache="${IGNITE_IMAGE_CACHE:-$root/.cache/images}"
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --registry) registry="$2"; shift 2 ;;
    --cache) cache="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    busybox|debian|debian-slim|kernel|kernel-micro) targets+=("$1"); shift ;;
    *) echo "build.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=(busybox kernel kernel-micro debian debian-slim)
mkdir -p "$cache"
# One build at a time per cache: tests running in parallel on a fresh clone would otherwise build
# the same layout at once, and umoci's blob writes collide.
exec 9>"$cache/.build.lock"
flock 9

log() { printf '==> %s\n' "$*" >&2; }
pkgver() { dpkg-query -W -f='${Package}=${Version} ' "$@"; }

# The key of a build: the target's function, the layout helper and the versions of the packages
# it copies from; editing one target leaves the others' layouts alone.
input_key() {
  local fn="$1"; shift
  { declare -f "$fn" make_layout; pkgver "$@"; } | sha256sum | cut -c1-16
}

# Turns a root filesystem directory into an OCI layout tagged `tag` (umoci: no daemon needed).
make_layout() {
  local rootfs="$1" layout="$2" tag="$3"; shift 3
  local bundle
  bundle=$(mktemp -d "$cache/bundle.XXXXXX")
  rm -rf "$layout"
  umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  umoci unpack --image "$layout:$tag" "$bundle/b"
  cp -a "$rootfs/." "$bundle/b/rootfs/"
  umoci repack --image "$layout:$tag" "$bundle/b"
  umoci config --image "$layout:$tag" --config.cmd /sbin/init "$@"
  umoci gc --layout "$layout"
  rm -rf "$bundle"
}

push() {
  local layout="$1" tag="$2" name="$3"; shift 3
  [ -z "$registry" ] && return 0
  for t in "$tag" "$@"; do
    log "push $registry/$name:$t"
    skopeo copy --quiet --dest-tls-verify=false "oci:$layout:$tag" "docker://$registry/$name:$t"
  done
}

build_busybox() {
  local key layout="$cache/ignite-busybox" r
  key=$(input_key build_busybox busybox-static)
  if [ "$(cat "$layout.key" 2>/dev/null)" != "$key" ]; then
    log "building ignite-busybox"
    r=$(mktemp -d "$cache/rootfs.XXXXXX")
    mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,proc,sys,dev,tmp,run,root,var/log,www,usr/share/udhcpc}
    cp /bin/busybox "$r/bin/busybox"
    # Every applet as a symlink, at the path busybox itself says.
    /bin/busybox --list-full | while read -r p; do
      [ "$p" = bin/busybox ] || ln -sf /bin/busybox "$r/$p"
    done
    cat > "$r/etc/inittab" <<'INITTAB'
::sysinit:/etc/init.d/rcS
::respawn:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
INITTAB
    cat > "$r/etc/init.d/rcS" <<'RCS'
#!/bin/sh
echo "ignite-busybox: init started"
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
# Volumes and shared directories: ignite writes their /etc/fstab lines before boot.
[ -s /etc/fstab ] && mount -a
[ -s /etc/hostname ] && hostname -F /etc/hostname
ip link set lo up
# Every NIC takes its address by DHCP: eth0's lease brings the default route and DNS, the
# others' only their subnets.
for dev in /sys/class/net/eth*; do
  [ -e "$dev" ] || continue
  i=${dev##*/}
  ip link set "$i" up
  # -b: keep trying in the background, so a VM without a DHCP server still boots.
  udhcpc -i "$i" -s /usr/share/udhcpc/default.script -t 5 -T 1 -b -S -p "/run/udhcpc.$i.pid"
  ip -4 -o addr show dev "$i" | sed -n "s/.* inet \\([0-9.\\/]*\\).*/ignite-busybox: $i \\1/p"
done
echo "ignite-busybox: ready"
RCS
    cat > "$r/usr/share/udhcpc/default.script" <<'DHCP'
#!/bin/sh
# udhcpc calls this with the lease in the environment.
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}"
    if [ -n "$router" ]; then
      while route del default gw 0.0.0.0 dev "$interface" 2>/dev/null; do :; done
      for r in $router; do route add default gw "$r" dev "$interface"; done
    fi
    if [ -n "$dns" ]; then
      : > /etc/resolv.conf
      for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    fi
    [ -n "$hostname" ] && hostname "$hostname"
    echo "ignite-busybox: lease $ip from ${serverid:-?}" ;;
esac
exit 0
DHCP
    chmod 0755 "$r/etc/init.d/rcS" "$r/usr/share/udhcpc/default.script"
    printf 'root:x:0:0:root:/root:/bin/sh\n' > "$r/etc/passwd"
    printf 'root:x:0:\n' > "$r/etc/group"
    printf '127.0.0.1 localhost\n' > "$r/etc/hosts"
    printf 'ignite-busybox\n' > "$r/etc/hostname"
    printf 'hello from ignite-busybox\n' > "$r/www/index.html"
    make_layout "$r" "$layout" latest --config.label "org.opencontainers.image.title=ignite-busybox"
    rm -rf "$r"
    echo "$key" > "$layout.key"
  fi
  push "$layout" latest ignite-busybox 1
}

# The host kernel's release: the newest /boot/vmlinuz-* that has its modules installed.
kernel_release() {
  local v
  for v in $(ls /boot/vmlinuz-* 2>/dev/null | sed 's|/boot/vmlinuz-||' | sort -rV); do
    [ -f "/lib/modules/$v/modules.dep" ] && { echo "$v"; return 0; }
  done
  echo "build.sh: no /boot/vmlinuz-* with modules; install linux-image-amd64" >&2
  return 1
}

# Debian builds virtio and ext4 as modules; the initramfs loads them, in this order.
KMODS="virtio_ring virtio virtio_mmio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk failover net_failover virtio_net virtio_console crc16 mbcache jbd2 crc32c_generic ext4"

build_kernel() {
  local release key layout="$cache/ignite-kernel" r ir at m f
  release=$(kernel_release)
  key=$({ input_key build_kernel busybox-static "linux-image-$release"; echo "$KMODS"; } | sha256sum | cut -c1-16)
  if [ "$(cat "$layout.key" 2>/dev/null)" != "$key" ]; then
    log "building ignite-kernel from linux-image-$release"
    r=$(mktemp -d "$cache/rootfs.XXXXXX")
    mkdir -p "$r/boot"
    cp "/boot/vmlinuz-$release" "$r/boot/vmlinuz"
    # The PVH ELF is the bzImage's xz payload: decompress the stream that starts at the magic.
    at=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "/boot/vmlinuz-$release" | head -1 | cut -d: -f1)
    tail -c +"$((at + 1))" "/boot/vmlinuz-$release" > "$r/boot/payload.xz"
    xz -dc --single-stream "$r/boot/payload.xz" > "$r/boot/vmlinux"
    rm "$r/boot/payload.xz"
    [ "$(head -c 4 "$r/boot/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || { echo "build.sh: extracted vmlinux is not an ELF" >&2; exit 1; }
    echo "$release" > "$r/boot/version"

    ir=$(mktemp -d "$cache/initrd.XXXXXX")
    mkdir -p "$ir"/{bin,dev,proc,sys,newroot,lib/modules}
    cp /bin/busybox "$ir/bin/busybox"
    mknod -m 600 "$ir/dev/console" c 5 1
    for m in $KMODS; do
      f=$(grep -E "/${m//_/[_-]}\.ko(\.xz|\.zst|\.gz)?:" "/lib/modules/$release/modules.dep" | cut -d: -f1 | head -1 || true)
      [ -z "$f" ] && continue
      case "$f" in
        *.xz) xz -dc "/lib/modules/$release/$f" > "$ir/lib/modules/$m.ko" ;;
        *.zst) zstd -qdc "/lib/modules/$release/$f" > "$ir/lib/modules/$m.ko" ;;
        *.gz) gzip -dc "/lib/modules/$release/$f" > "$ir/lib/modules/$m.ko" ;;
        *) cp "/lib/modules/$release/$f" "$ir/lib/modules/$m.ko" ;;
      esac
    done
    cat > "$ir/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $KMODS; do [ -f /lib/modules/\$m.ko ] && insmod /lib/modules/\$m.ko; done
root=/dev/vda; init=/sbin/init; mode=rw
for a in \$(cat /proc/cmdline); do
  case "\$a" in root=*) root=\${a#root=} ;; init=*) init=\${a#init=} ;; ro) mode=ro ;; rw) mode=rw ;; esac
done
i=0
while [ ! -b "\$root" ] && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i + 1)); done
if mount -t ext4 -o "\$mode" "\$root" /newroot; then
  umount /proc /sys
  mount --move /dev /newroot/dev
  exec switch_root /newroot "\$init"
fi
echo "ignite-kernel initramfs: cannot mount \$root (ext4); powering off"
poweroff -f
INIT
    chmod 0755 "$ir/init"
    (cd "$ir" && find . | cpio -o -H newc --quiet | gzip -6) > "$r/boot/initrd.img"
    rm -rf "$ir"
    make_layout "$r" "$layout" "$release" --config.label "org.opencontainers.image.version=$release" --config.label "org.opencontainers.image.title=ignite-kernel"
    rm -rf "$r"
    echo "$key" > "$layout.key"
  fi
  push "$layout" "$(kernel_release)" ignite-kernel 6.1 latest
}

build_debian() {
  local key layout="$cache/ignite-debian" r
  key=$(input_key build_debian mmdebstrap)
  if [ "$(cat "$layout.key" 2>/dev/null)" != "$key" ]; then
    log "building ignite-debian (mmdebstrap bookworm; about a minute)"
    r=$(mktemp -d "$cache/rootfs.XXXXXX")
    rmdir "$r"
    mmdebstrap --quiet --variant=minbase \
      --include=systemd,systemd-sysv,udev,kmod,openssh-server,iproute2,iputils-ping,procps,ca-certificates \
      --customize-hook='chroot "$1" systemctl enable systemd-networkd serial-getty@ttyS0' \
      --customize-hook='printf "[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n" > "$1/etc/systemd/network/10-eth0.network"' \
      --customize-hook='sed -i "s/^#\?PermitRootLogin.*/PermitRootLogin prohibit-password/" "$1/etc/ssh/sshd_config"' \
      --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
      --customize-hook='mkdir -p "$1/etc/systemd/system/ssh.service.d" && printf "[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n" > "$1/etc/systemd/system/ssh.service.d/10-hostkeys.conf"' \
      --customize-hook='echo ignite-debian > "$1/etc/hostname"; : > "$1/etc/machine-id"' \
      --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/* "$1"/usr/share/man/*' \
      bookworm "$r" http://deb.debian.org/debian
    make_layout "$r" "$layout" bookworm --config.label "org.opencontainers.image.title=ignite-debian"
    rm -rf "$r"
    echo "$key" > "$layout.key"
  fi
  push "$layout" bookworm ignite-debian latest
}

# shellcheck source=images/kernel-micro/build.sh
. "$here/kernel-micro/build.sh"
# shellcheck source=images/debian-slim/build.sh
. "$here/debian-slim/build.sh"

for t in "${targets[@]}"; do "build_${t//-/_}"; done
log "images ready${registry:+ in $registry}"
