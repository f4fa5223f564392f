# Sourced by images/build.sh: the `debian-slim` target, ignite-debian:slim.
#
# Debian bookworm from mmdebstrap --variant=minbase with sysvinit instead of systemd, and no DHCP
# client at all: like Weave Ignite's images, it relies on the kernel's `ip=dhcp` (IP_PNP) for its
# address, so it needs a kernel with IP_PNP_DHCP such as ignite-kernel:6.1-micro. The kernel
# writes the lease's DNS servers to /proc/net/pnp, which /etc/resolv.conf points at. sshd makes
# its host keys at first boot, so VMs of the image do not share them. It boots in 64 MiB.

build_debian_slim() {
  local key layout="$cache/ignite-debian-slim" r
  key=$({ declare -f build_debian_slim make_layout; pkgver mmdebstrap; } | sha256sum | cut -c1-16)
  if [ "$(cat "$layout.key" 2>/dev/null)" != "$key" ]; then
    log "building ignite-debian:slim (mmdebstrap minbase bookworm; about a minute)"
    r=$(mktemp -d "$cache/rootfs.XXXXXX")
    rmdir "$r"
    mmdebstrap --quiet --variant=minbase \
      --include=sysvinit-core,openssh-server,iproute2,iputils-ping,procps,kmod \
      --customize-hook='sed -i -E "/^[1-6]:[0-9]+:respawn:\/sbin\/getty/d" "$1/etc/inittab"' \
      --customize-hook='echo "T0:2345:respawn:/sbin/getty -L 115200 ttyS0 vt100" >> "$1/etc/inittab"' \
      --customize-hook='ln -sf ../proc/net/pnp "$1/etc/resolv.conf"' \
      --customize-hook='ln -sf ../proc/self/mounts "$1/etc/mtab"' \
      --customize-hook='sed -i "s/^#\?PermitRootLogin.*/PermitRootLogin prohibit-password/" "$1/etc/ssh/sshd_config"' \
      --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
      --customize-hook='printf "%s\n" "#!/bin/sh" "### BEGIN INIT INFO" "# Provides:          ssh-hostkeys" "# Required-Start:    \$local_fs" "# Required-Stop:" "# X-Start-Before:    ssh" "# Default-Start:     2 3 4 5" "# Default-Stop:" "# Short-Description: Makes this VM'"'"'s SSH host keys at its first boot" "### END INIT INFO" "[ \"\$1\" = start ] && ssh-keygen -A" "exit 0" > "$1/etc/init.d/ssh-hostkeys"' \
      --customize-hook='chmod 0755 "$1/etc/init.d/ssh-hostkeys" && chroot "$1" update-rc.d ssh-hostkeys defaults' \
      --customize-hook='echo ignite-debian-slim > "$1/etc/hostname"' \
      --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/locale/*' \
      bookworm "$r" http://deb.debian.org/debian
    make_layout "$r" "$layout" slim --config.label "org.opencontainers.image.title=ignite-debian-slim"
    rm -rf "$r"
    echo "$key" >"$layout.key"
  fi
  push "$layout" slim ignite-debian
}
