import { cmdlineWords, hasCmdlineKey, withoutIPAutoconfig } from '../kernel-cmdline.js';
import type { UserNICConfig, VMConfig } from '../vmm-driver.js';

export type Accel = 'kvm' | 'tcg';

export interface QemuCommandOptions {
  accel: Accel;
  /** The host TSC rate; required under TCG (see host-tsc.ts). */
  tscKHz?: number;
}

/**
 * The `microvm` machine, measured on Debian 12 / QEMU 7.2 with Debian's 6.1 kernel:
 * - `acpi=on` (its default, spelt out because it matters): Debian builds virtio_mmio without
 *   VIRTIO_MMIO_CMDLINE_DEVICES, so the guest finds its virtio-mmio disk and NICs only in the
 *   ACPI DSDT; with `acpi=off` the root disk never appears. ACPI also lets a guest `poweroff`
 *   (S5 through the GED sleep registers) end QEMU.
 * - `x-option-roms=off`: nothing to run before a PVH kernel; saves boot time.
 * - `isa-serial=on`: the console is ttyS0, as under Firecracker.
 * - `rtc=on`: a wall clock at boot. `pit`/`pic` stay at their defaults (nothing measured better).
 */
export const MICROVM_MACHINE = 'microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=on';

/**
 * The kernel command line: the spec's, plus what this machine needs and the spec lacks.
 * - `root=/dev/vda rw`: the root disk is the only virtio-blk device. Firecracker adds the same
 *   words for its root drive; a kernel without an initramfs (ignite-kernel:6.1-micro, Weave
 *   Ignite's kernels) has no other way to find its root.
 * - `ip=` goes when the VM has no NIC (see kernel-cmdline.ts).
 */
export function qemuCmdline(cmdline: string, options: QemuCommandOptions, nics = 1): string {
  const words = withoutIPAutoconfig(cmdlineWords(cmdline), nics);
  const has = (key: string) => hasCmdlineKey(words, key);
  if (!has('root')) words.push('root=/dev/vda', ...(has('ro') || has('rw') ? [] : ['rw']));
  if (!has('console')) words.push('console=ttyS0');
  if (options.accel === 'tcg' && !has('tsc_early_khz')) {
    if (options.tscKHz === undefined) throw new Error('qemuCmdline: tcg needs tscKHz');
    words.push(`tsc_early_khz=${options.tscKHz}`);
  }
  // TCG's TSC follows the host's monotonic clock; the guest's watchdog, comparing it with
  // jiffies that lag on a busy host, would mark it unstable and fall back to a periodic tick.
  if (options.accel === 'tcg' && !has('tsc')) words.push('tsc=reliable');
  return words.join(' ');
}

/**
 * QEMU's argv for a VM (without the binary). Every value is its own argv element, so no path or
 * name is ever parsed by a shell; QEMU's own `,` separator is escaped as `,,` in paths.
 */
export function qemuArgs(config: VMConfig, options: QemuCommandOptions): string[] {
  const p = config.paths;
  const args = [
    '-name',
    opt(config.name),
    '-M',
    MICROVM_MACHINE,
    '-accel',
    options.accel,
    // Under KVM the guest sees the host CPU. TCG keeps QEMU's default model, measured to boot,
    // plus ARAT: without an always-running APIC timer, and with no broadcast timer on microvm,
    // the guest cannot go tickless and an idle VM takes a timer interrupt 250 times a second.
    ...(options.accel === 'kvm' ? ['-cpu', 'host'] : ['-cpu', 'qemu64,+arat']),
    '-smp',
    String(config.vcpus),
    '-m',
    `${config.memoryMiB}M`,
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    // A guest reboot ends QEMU, as it ends Firecracker: `reboot` in the guest stops the VM.
    '-no-reboot',
    '-kernel',
    config.kernel.vmlinuxPath,
    ...(config.kernel.initrdPath === undefined ? [] : ['-initrd', config.kernel.initrdPath]),
    '-append',
    qemuCmdline(
      config.kernel.cmdline,
      options,
      config.nics.length + (config.userNIC !== undefined ? 1 : 0),
    ),
    // The console is QEMU's stdin and stdout: the supervisor relays it to the log (rotated at
    // its cap) and to `ignite attach` clients, and drops a client that stops reading.
    '-chardev',
    'stdio,id=console,signal=off',
    '-serial',
    'chardev:console',
    '-chardev',
    `socket,id=qmp,path=${opt(p.controlSocket)},server=on,wait=off`,
    '-mon',
    'chardev=qmp,mode=control',
    // A PS/2 controller, only so QMP send-key can deliver Ctrl-Alt-Del (see qemu-driver.ts).
    '-device',
    'i8042',
    '-drive',
    `id=root,file=${opt(config.rootDisk.path)},format=${config.rootDisk.format},if=none,cache=writeback,discard=unmap`,
    '-device',
    'virtio-blk-device,drive=root',
  ];
  // After the root disk, so the guest names them /dev/vdb, /dev/vdc, … in this order.
  (config.disks ?? []).forEach((disk, i) => {
    const ro = disk.readOnly ? ',readonly=on' : '';
    args.push(
      '-drive',
      `id=disk${i},file=${opt(disk.path)},format=raw,if=none,cache=writeback${ro}`,
      '-device',
      `virtio-blk-device,drive=disk${i}`,
    );
  });
  (config.shares ?? []).forEach((share, i) => {
    const ro = share.readOnly ? ',readonly=on' : '';
    args.push(
      '-fsdev',
      // passthrough: the guest's files are the host's, with their owners and modes (QEMU runs
      // as root), so what the guest writes is plainly there on the host.
      `local,id=fs${i},path=${opt(share.path)},security_model=passthrough${ro}`,
      '-device',
      `virtio-9p-device,fsdev=fs${i},mount_tag=${opt(share.tag)}`,
    );
  });
  config.nics.forEach((nic, i) => {
    const id = nicId(i);
    args.push(
      '-netdev',
      `tap,id=${id},ifname=${opt(nic.tapName)},script=no,downscript=no`,
      '-device',
      `virtio-net-device,netdev=${id},mac=${nic.mac}`,
    );
  });
  if (config.userNIC !== undefined) args.push(...userNICArgs(config.userNIC, config.nics.length));
  args.push(...RNG_ARGS);
  return args;
}

/**
 * A virtio-rng device fed by the host's /dev/urandom, last so that it moves no other device. A
 * guest with a virtio-rng driver (the micro kernel builds it in) seeds its pool from it at boot,
 * and after a restore reads the host's fresh bytes, not the saved guest's: what sets clones of
 * one snapshot apart (docs/snapshots.md, "Randomness"). It is part of the device state, so a
 * state saved without it does not load with it (see qemuBindingFacts).
 */
export const RNG_ARGS = [
  '-object',
  'rng-random,id=rng0,filename=/dev/urandom',
  '-device',
  'virtio-rng-device,rng=rng0',
];

/**
 * The user-mode NIC: a stream to passt's unix socket, or slirp with its host forwards (its DNS
 * on 10.0.2.3, the host's loopback as 10.0.2.2).
 */
export function userNICArgs(nic: UserNICConfig, index: number): string[] {
  const id = `net${index}`;
  const netdev =
    nic.backend === 'passt'
      ? `stream,id=${id},server=off,addr.type=unix,addr.path=${opt(nic.socket)}`
      : [
          `user,id=${id}`,
          ...nic.forwards.map(
            (f) => `hostfwd=${f.protocol}:${f.hostAddress ?? ''}:${f.hostPort}-:${f.vmPort}`,
          ),
        ].join(',');
  return ['-netdev', netdev, '-device', `virtio-net-device,netdev=${id},mac=${nic.mac}`];
}

/** Escapes a value inside QEMU's comma-separated option syntax. */
function opt(value: string): string {
  return value.replaceAll(',', ',,');
}

/** The QEMU id of the netdev of the VM's `i`th tap NIC (`set_link` takes it). */
export function nicId(i: number): string {
  return `net${i}`;
}
