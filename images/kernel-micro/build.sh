# Sourced by images/build.sh: the `kernel-micro` target, ignite-kernel:6.1-micro.
#
# The compiled kernel (vmlinux, config, modules) is cached apart from the OCI layout, in
# $cache/kernel-micro/<key>, keyed by the config fragment, the source and compiler package
# versions and the compile recipe below; editing the rest of build.sh never recompiles it. Each
# compile runs in $cache/kernel-micro/.tmp.* and is published by one rename, so a killed build
# leaves a temp directory (removed by the next build) and never a key that looks complete.

kernel_micro_fragment="$here/kernel-micro/microvm.config"

# Extracts Debian's linux-source-6.1, merges the fragment onto allnoconfig, checks that every
# line of the fragment survived, builds vmlinux and the modules, and installs them under $2.
compile_kernel_micro() {
  local work="$1" out="$2" src release line sym val missing=0
  tar -xf /usr/src/linux-source-6.1.tar.xz -C "$work"
  src="$work/linux-source-6.1"
  (cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -n "$kernel_micro_fragment" >"$work/merge.log" 2>&1) || {
    cat "$work/merge.log" >&2
    return 1
  }
  # merge_config.sh only warns when Kconfig drops a requested value (a missing dependency).
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=*)
        sym=${line%%=*} val=${line#*=}
        if [ "$val" = n ]; then
          grep -qx "# $sym is not set" "$src/.config" || grep -qx "$sym=n" "$src/.config" || {
            echo "kernel-micro: $sym=n did not survive the merge" >&2; missing=1; }
        else
          grep -qxF "$line" "$src/.config" || {
            echo "kernel-micro: $line did not survive the merge (got: $(grep -E "^(# )?$sym[= ]" "$src/.config" || echo nothing))" >&2
            missing=1
          }
        fi ;;
    esac
  done <"$kernel_micro_fragment"
  [ "$missing" -eq 0 ] || return 1
  nice -n 10 make -C "$src" -s -j2 ARCH=x86_64 vmlinux modules
  release=$(make -C "$src" -s ARCH=x86_64 kernelrelease)
  mkdir -p "$out/boot"
  cp "$src/vmlinux" "$out/boot/vmlinux"
  cp "$src/.config" "$out/boot/config-$release"
  echo "$release" >"$out/boot/version"
  make -C "$src" -s ARCH=x86_64 modules_install INSTALL_MOD_PATH="$out" INSTALL_MOD_STRIP=1
  # Links back into the build tree, which is about to go.
  rm -f "$out/lib/modules/$release/build" "$out/lib/modules/$release/source"
}

# The compiled kernel's key: what decides the bytes of vmlinux and the modules.
kernel_micro_key() {
  {
    sha256sum <"$kernel_micro_fragment"
    declare -f compile_kernel_micro
    pkgver linux-source-6.1 gcc binutils libelf-dev
  } | sha256sum | cut -c1-16
}

# Prints the directory of the compiled kernel, building it first when the cache lacks it.
kernel_micro_tree() {
  local key dir work start
  key=$(kernel_micro_key)
  dir="$cache/kernel-micro/$key"
  if [ ! -d "$dir" ]; then
    mkdir -p "$cache/kernel-micro"
    # Left by a killed build: the lock held here means no other build is using them.
    rm -rf "$cache/kernel-micro"/.tmp.*
    work=$(mktemp -d "$cache/kernel-micro/.tmp.XXXXXX")
    start=$(date +%s)
    log "compiling the micro kernel from linux-source-6.1 (several minutes on 2 cores)"
    mkdir -p "$work/out"
    compile_kernel_micro "$work" "$work/out" >&2
    # vmlinux must carry the PVH entry note (Xen ELF note type 18, XEN_ELFNOTE_PHYS32_ENTRY).
    readelf -n "$work/out/boot/vmlinux" | grep -q 'Xen.*0x00000012' || {
      echo "kernel-micro: vmlinux has no PVH entry note" >&2
      return 1
    }
    mv "$work/out" "$dir"
    rm -rf "$work"
    log "micro kernel $(cat "$dir/boot/version") compiled in $(($(date +%s) - start)) s"
    # Older keys of this target only take space.
    find "$cache/kernel-micro" -mindepth 1 -maxdepth 1 -not -name "$key" -not -name '.tmp.*' -exec rm -rf {} +
  fi
  echo "$dir"
}

build_kernel_micro() {
  local tree key layout="$cache/ignite-kernel-micro" release
  tree=$(kernel_micro_tree)
  release=$(cat "$tree/boot/version")
  key=$({ basename "$tree"; declare -f build_kernel_micro make_layout; } | sha256sum | cut -c1-16)
  if [ "$(cat "$layout.key" 2>/dev/null)" != "$key" ]; then
    log "building ignite-kernel:6.1-micro ($release)"
    make_layout "$tree" "$layout" "$release" \
      --config.label "org.opencontainers.image.version=$release" \
      --config.label "org.opencontainers.image.title=ignite-kernel-micro"
    echo "$key" >"$layout.key"
  fi
  push "$layout" "$release" ignite-kernel 6.1-micro
}
