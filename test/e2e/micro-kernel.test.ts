import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execWhenUp, ignite, runTestVM } from '../helpers/cli.js';
import { waitForBusyboxInit, waitForText } from '../helpers/console.js';
import { vmTestEnv } from '../helpers/vm-env.js';

const pexec = promisify(execFile);
const MICRO = 'ignite-kernel:6.1-micro';

interface VMJSON {
  metadata: { uid: string };
  status: { state: string; ipAddresses?: string[] };
}

// ignite-kernel:6.1-micro (images/kernel-micro) under TCG: no initramfs, virtio and ext4 built
// in, the kernel's own DHCP client.
test(
  'micro kernel: busybox in 64 MiB reaches init without an initramfs, and stops cleanly',
  { timeout: 300_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel-micro']);
    const { env } = t;
    const name = `micro-bb-${process.pid}`;
    await using run = await runTestVM(
      `${t.registry}/ignite-busybox`,
      name,
      ['--net', 'none', '--memory', '64MB', '--kernel-image', `${t.registry}/${MICRO}`],
      env,
    );
    const uid = await waitForBusyboxInit(t.dataDir, run.stdout, 90_000);
    const consoleLog = join(t.dataDir, 'vm', uid, 'console.log');
    const boot = await readFile(consoleLog, 'utf8');
    assert.match(boot, /Linux version 6\.1\.\d+-micro /);
    assert.doesNotMatch(boot, /initramfs|Kernel panic/i);

    // Ctrl-Alt-Del through the i8042 reaches busybox init, which reboots: QEMU ends.
    const stop = await ignite(['stop', name, '--timeout', '60s'], { env });
    assert.equal(stop.code, 0, stop.stderr);
    await waitForText(consoleLog, 'reboot: Restarting system', 5_000);
  },
);

test('micro kernel: exec and cp into the systemd Debian image', { timeout: 900_000 }, async () => {
  assert.equal(process.getuid?.(), 0, 'the default network needs root (CI runs as root)');
  await using t = await vmTestEnv(['debian', 'kernel-micro']);
  const { env } = t;
  const work = await mkdtemp(join(tmpdir(), 'ignite-micro-'));
  const name = `micro-deb-${process.pid}`;
  try {
    await using _vm = await runTestVM(
      `${t.registry}/ignite-debian:bookworm`,
      name,
      ['--ssh', '--memory', '256MB', '--kernel-image', `${t.registry}/${MICRO}`],
      env,
    );
    const uname = await execWhenUp(name, ['uname', '-r'], env);
    assert.equal(uname.code, 0, uname.stderr);
    assert.match(uname.stdout.trim(), /^6\.1\.\d+-micro$/);

    await writeFile(join(work, 'in.txt'), 'to the micro kernel\n');
    const up = await ignite(['cp', join(work, 'in.txt'), `${name}:/root/in.txt`], { env });
    assert.equal(up.code, 0, up.stderr);
    const cat = await ignite(['exec', name, '--', 'cat', '/root/in.txt'], { env });
    assert.equal(cat.stdout, 'to the micro kernel\n');
    const down = await ignite(['cp', `${name}:/etc/hostname`, join(work, 'hostname')], { env });
    assert.equal(down.code, 0, down.stderr);
    assert.equal((await readFile(join(work, 'hostname'), 'utf8')).trim(), name);
    // systemd runs with its cgroups and reached its default target.
    const state = await ignite(['exec', name, '--', 'systemctl', 'is-system-running'], { env });
    assert.match(state.stdout, /running|degraded/, state.stdout + state.stderr);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test(
  'micro kernel: an image without a DHCP client gets its address from ip=dhcp and answers on it',
  { timeout: 600_000 },
  async () => {
    assert.equal(process.getuid?.(), 0, 'the default network needs root (CI runs as root)');
    await using t = await vmTestEnv(['debian-slim', 'kernel-micro']);
    const { env } = t;
    const name = `micro-slim-${process.pid}`;
    await using _vm = await runTestVM(
      `${t.registry}/ignite-debian:slim`,
      name,
      ['--ssh', '--memory', '64MB', '--kernel-image', `${t.registry}/${MICRO}`],
      env,
    );
    const vm = JSON.parse((await ignite(['inspect', 'vm', name], { env })).stdout) as VMJSON;
    const ip = vm.status.ipAddresses?.[0] ?? '';
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
    // The kernel, not the image, took the lease: it says so before init starts.
    const consoleLog = join(t.dataDir, 'vm', vm.metadata.uid, 'console.log');
    await waitForText(consoleLog, new RegExp(`IP-Config: Complete:[\\s\\S]*addr=${ip}\\b`), 90_000);
    await pexec('busybox', ['ping', '-c', '1', '-W', '5', ip]);

    const addr = await execWhenUp(name, ['ip', '-4', '-o', 'addr', 'show', 'eth0'], env);
    assert.equal(addr.code, 0, addr.stderr);
    assert.match(addr.stdout, new RegExp(` ${ip.replaceAll('.', '\\.')}/`));
    const clients = await ignite(
      ['exec', name, '--', 'sh', '-c', 'command -v dhclient udhcpc dhcpcd systemd-networkd'],
      { env },
    );
    assert.equal(clients.stdout, '', 'the image has no DHCP client');
  },
);

// Debian's generic kernel stays available beside the micro kernel (declarative.test.ts also boots
// the Debian image with it).
test(
  "generic kernel: busybox boots with Debian's kernel and its initramfs",
  { timeout: 300_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    const name = `generic-bb-${process.pid}`;
    await using run = await runTestVM(
      `${t.registry}/ignite-busybox`,
      name,
      ['--net', 'none', '--memory', '128MB', '--kernel-image', `${t.registry}/ignite-kernel:6.1`],
      env,
    );
    const uid = await waitForBusyboxInit(t.dataDir, run.stdout, 120_000);
    const boot = await readFile(join(t.dataDir, 'vm', uid, 'console.log'), 'utf8');
    assert.match(boot, /Linux version 6\.1\.0-\d+-amd64 /);
    assert.match(boot, /Freeing initrd memory|unpack rootfs image as initramfs/);
  },
);
