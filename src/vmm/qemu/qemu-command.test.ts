import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VMConfig } from '../vmm-driver.js';
import { qemuArgs, qemuCmdline, userNICArgs } from './qemu-command.js';

const config: VMConfig = {
  uid: '0123456789abcdef',
  name: 'web',
  vcpus: 2,
  memoryMiB: 512,
  kernel: { vmlinuxPath: '/k/vmlinux', initrdPath: '/k/initrd.gz', cmdline: 'root=/dev/vda rw' },
  rootDisk: { path: '/vm/a,b/rootfs.qcow2', format: 'qcow2' },
  nics: [
    { tapName: 'vm_eth0', mac: '02:00:00:00:00:01' },
    { tapName: 'vm_eth1', mac: '02:00:00:00:00:02' },
  ],
  paths: {
    consoleLog: '/vm/console.log',
    consoleSocket: '/vm/console.sock',
    controlSocket: '/vm/control.sock',
    workDir: '/vm',
  },
};

/** The value that follows each occurrence of `flag`. */
const values = (args: string[], flag: string) =>
  args.flatMap((a, i) => (a === flag ? [args[i + 1] ?? ''] : []));

test('qemuCmdline: adds root=, console= and, under TCG, tsc_early_khz= and tsc=reliable unless the spec has them', () => {
  const table: [string, 'kvm' | 'tcg', string][] = [
    ['root=/dev/vda', 'tcg', 'root=/dev/vda console=ttyS0 tsc_early_khz=2300000 tsc=reliable'],
    ['root=/dev/vda', 'kvm', 'root=/dev/vda console=ttyS0'],
    ['console=hvc0  quiet', 'kvm', 'console=hvc0 quiet root=/dev/vda rw'],
    [
      'tsc_early_khz=1 console=ttyS0 ro tsc=unstable',
      'tcg',
      'tsc_early_khz=1 console=ttyS0 ro tsc=unstable root=/dev/vda',
    ],
    ['', 'tcg', 'root=/dev/vda rw console=ttyS0 tsc_early_khz=2300000 tsc=reliable'],
    // A word that only starts like a key is not that key.
    ['consoleblank=0 rootwait', 'kvm', 'consoleblank=0 rootwait root=/dev/vda rw console=ttyS0'],
  ];
  for (const [input, accel, want] of table) {
    assert.equal(qemuCmdline(input, { accel, tscKHz: 2_300_000 }), want, `${input} (${accel})`);
  }
  assert.throws(() => qemuCmdline('', { accel: 'tcg' }), /tscKHz/);
});

test('qemuCmdline: drops ip= when the VM has no NIC, keeps it when it has one', () => {
  const spec = 'console=ttyS0 reboot=k panic=1 pci=off ip=dhcp root=/dev/vda';
  assert.equal(
    qemuCmdline(spec, { accel: 'kvm' }, 0),
    'console=ttyS0 reboot=k panic=1 pci=off root=/dev/vda',
  );
  assert.equal(qemuCmdline(spec, { accel: 'kvm' }, 1), spec);
  const args = qemuArgs(
    { ...config, nics: [], kernel: { ...config.kernel, cmdline: spec } },
    {
      accel: 'kvm',
    },
  );
  assert.deepEqual(values(args, '-append'), [
    'console=ttyS0 reboot=k panic=1 pci=off root=/dev/vda',
  ]);
});

test('qemuArgs: a microvm with the disk, NICs, console socket+log and QMP', () => {
  const args = qemuArgs(config, { accel: 'tcg', tscKHz: 2_300_000 });
  assert.deepEqual(values(args, '-M'), ['microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=on']);
  assert.deepEqual(values(args, '-accel'), ['tcg']);
  assert.deepEqual(values(args, '-cpu'), ['qemu64,+arat'], 'an always-running APIC timer');
  assert.deepEqual(values(args, '-smp'), ['2']);
  assert.deepEqual(values(args, '-m'), ['512M']);
  assert.deepEqual(values(args, '-kernel'), ['/k/vmlinux']);
  assert.deepEqual(values(args, '-initrd'), ['/k/initrd.gz']);
  assert.ok(args.includes('-no-reboot') && args.includes('-nodefaults'));
  assert.deepEqual(values(args, '-drive'), [
    'id=root,file=/vm/a,,b/rootfs.qcow2,format=qcow2,if=none,cache=writeback,discard=unmap',
  ]);
  assert.deepEqual(values(args, '-netdev'), [
    'tap,id=net0,ifname=vm_eth0,script=no,downscript=no',
    'tap,id=net1,ifname=vm_eth1,script=no,downscript=no',
  ]);
  assert.deepEqual(values(args, '-device'), [
    'i8042',
    'virtio-blk-device,drive=root',
    'virtio-net-device,netdev=net0,mac=02:00:00:00:00:01',
    'virtio-net-device,netdev=net1,mac=02:00:00:00:00:02',
    'virtio-rng-device,rng=rng0',
  ]);
  assert.deepEqual(values(args, '-object'), ['rng-random,id=rng0,filename=/dev/urandom']);
  assert.deepEqual(values(args, '-chardev'), [
    'stdio,id=console,signal=off',
    'socket,id=qmp,path=/vm/control.sock,server=on,wait=off',
  ]);
  assert.deepEqual(values(args, '-serial'), ['chardev:console']);
  assert.deepEqual(values(args, '-mon'), ['chardev=qmp,mode=control']);
});

test('qemuArgs: KVM passes the host CPU; no initrd means no -initrd', () => {
  const kernel = { vmlinuxPath: config.kernel.vmlinuxPath, cmdline: config.kernel.cmdline };
  const args = qemuArgs({ ...config, kernel, nics: [] }, { accel: 'kvm' });
  assert.deepEqual(values(args, '-cpu'), ['host']);
  assert.deepEqual(values(args, '-initrd'), []);
  assert.deepEqual(values(args, '-netdev'), []);
});

test('qemuArgs: volumes after the root disk in order, read-only ones readonly=on, shares over 9p', () => {
  const args = qemuArgs(
    {
      ...config,
      disks: [
        { path: '/data/volume/1/volume.img', readOnly: false },
        { path: '/dev/loop0', readOnly: true },
      ],
      shares: [
        { tag: 'share0', path: '/srv/a,b', readOnly: false },
        { tag: 'share1', path: '/srv/ro', readOnly: true },
      ],
    },
    { accel: 'tcg', tscKHz: 2_300_000 },
  );
  assert.deepEqual(values(args, '-drive'), [
    'id=root,file=/vm/a,,b/rootfs.qcow2,format=qcow2,if=none,cache=writeback,discard=unmap',
    'id=disk0,file=/data/volume/1/volume.img,format=raw,if=none,cache=writeback',
    'id=disk1,file=/dev/loop0,format=raw,if=none,cache=writeback,readonly=on',
  ]);
  assert.deepEqual(values(args, '-fsdev'), [
    'local,id=fs0,path=/srv/a,,b,security_model=passthrough',
    'local,id=fs1,path=/srv/ro,security_model=passthrough,readonly=on',
  ]);
  assert.deepEqual(
    values(args, '-device').filter((d) => d.startsWith('virtio-blk') || d.startsWith('virtio-9p')),
    [
      'virtio-blk-device,drive=root',
      'virtio-blk-device,drive=disk0',
      'virtio-blk-device,drive=disk1',
      'virtio-9p-device,fsdev=fs0,mount_tag=share0',
      'virtio-9p-device,fsdev=fs1,mount_tag=share1',
    ],
  );
});

test('userNICArgs: a stream to passt, or slirp with its host forwards', () => {
  assert.deepEqual(
    userNICArgs({ backend: 'passt', mac: '02:00:00:00:00:09', socket: '/run/a,b/passt.sock' }, 0),
    [
      '-netdev',
      'stream,id=net0,server=off,addr.type=unix,addr.path=/run/a,,b/passt.sock',
      '-device',
      'virtio-net-device,netdev=net0,mac=02:00:00:00:00:09',
    ],
  );
  const slirp = userNICArgs(
    {
      backend: 'slirp',
      mac: '02:00:00:00:00:09',
      forwards: [
        { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 40022, vmPort: 22 },
        { protocol: 'udp', hostPort: 5353, vmPort: 53 },
      ],
    },
    1,
  );
  assert.equal(
    slirp[1],
    'user,id=net1,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=udp::5353-:53',
    'forwards on the given address, or all',
  );
  const args = qemuArgs(
    {
      ...config,
      kernel: { ...config.kernel, cmdline: 'ip=dhcp' },
      nics: [],
      userNIC: { backend: 'passt', mac: '02:00:00:00:00:09', socket: '/s' },
    },
    { accel: 'kvm' },
  );
  assert.ok(args.includes('virtio-net-device,netdev=net0,mac=02:00:00:00:00:09'));
  const append = args[args.indexOf('-append') + 1] ?? '';
  assert.match(append, /ip=dhcp/, 'the user NIC counts: ip= stays');
});
