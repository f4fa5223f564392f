import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../../../src/errors.js';
import { run } from '../../../src/system/exec.js';
import { createOverlay } from '../../../src/vmm/disk/create-root-disk.js';
import { QemuDriver } from '../../../src/vmm/qemu/qemu-driver.js';
import type { RunningVM, VMConfig } from '../../../src/vmm/vmm-driver.js';
import { typeOnConsole, waitForText } from '../../helpers/console.js';
import {
  bootFixture,
  bootFixtureUnavailable,
  fixtureVMConfig,
  type BootFixture,
} from '../../helpers/vm-fixture.js';
import { vmmDriverSuite } from '../../suites/vmm-driver.suite.js';

/** A VM `name` of the boot fixture, its files in `dir`: over its own overlay, as ignite boots. */
async function fixtureConfig(fixture: BootFixture, dir: string, name: string): Promise<VMConfig> {
  const disk = join(dir, 'rootfs.qcow2');
  await createOverlay(fixture.rootfsPath, disk);
  return fixtureVMConfig(fixture, dir, name, disk);
}

// A real boot of the host's Debian kernel under QEMU microvm. TCG unless IGNITE_ACCEL=kvm: KVM
// is unusable on the project's machines (docs: host-facts.md), and the probe has its own test.
vmmDriverSuite('qemu', async () => {
  const driver = new QemuDriver({ accel: process.env.IGNITE_ACCEL === 'kvm' ? 'kvm' : 'tcg' });
  const availability = await driver.availability();
  if (!availability.available) return { skip: availability.reason ?? 'qemu is not available' };
  const missing = await bootFixtureUnavailable();
  if (missing !== undefined) return { skip: missing };
  const fixture = await bootFixture();
  return {
    driver,
    initMarker: fixture.initMarker,
    bootTimeoutMs: 30_000,
    shutdownTimeoutMs: 20_000,
    makeConfig: async (name) => {
      const dir = await mkdtemp(join(tmpdir(), 'ignite-qemu-'));
      return {
        config: await fixtureConfig(fixture, dir, name),
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  };
});

test('qemu: a vmlinux without the PVH note is refused before QEMU starts', async () => {
  const fixture = await bootFixture();
  const dir = await mkdtemp(join(tmpdir(), 'ignite-qemu-nopvh-'));
  try {
    const nopvh = join(dir, 'vmlinux');
    await run('objcopy', ['--remove-section', '.notes', fixture.vmlinuxPath, nopvh]);
    const driver = new QemuDriver({ accel: 'tcg' });
    assert.deepEqual(await driver.bootsKernel(fixture.vmlinuxPath), { available: true });
    const boots = await driver.bootsKernel(nopvh);
    assert.equal(boots.available, false);
    assert.match(boots.available ? '' : boots.reason, /no PVH entry point/);
    const disk = join(dir, 'rootfs.qcow2');
    await createOverlay(fixture.rootfsPath, disk);
    await writeFile(join(dir, 'console.log'), '');
    const config = {
      ...fixtureVMConfig(fixture, dir, 'nopvh', disk),
      memoryMiB: 128,
      kernel: { vmlinuxPath: nopvh, cmdline: fixture.cmdline },
    };
    await assert.rejects(
      driver.start(config),
      (e: unknown) =>
        AppError.is(e, 'FailedPrecondition') &&
        e.message.startsWith(`vm "nopvh": kernel ${nopvh}: its vmlinux has no PVH entry point`),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('qemu: a VM started with its links held sees no carrier on its NIC until releaseLinks', async () => {
  assert.equal(process.getuid?.(), 0, 'a tap in a namespace needs root (CI runs as root)');
  const fixture = await bootFixture();
  const dir = await mkdtemp(join(tmpdir(), 'ignite-qemu-links-'));
  const netns = `ignite-links-${process.pid}`;
  const driver = new QemuDriver({ accel: process.env.IGNITE_ACCEL === 'kvm' ? 'kvm' : 'tcg' });
  let vm: RunningVM | undefined;
  try {
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['-n', netns, 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap']);
    await run('ip', ['-n', netns, 'link', 'set', 'tap0', 'up']);
    const config = await fixtureConfig(fixture, dir, 'links');
    const { paths } = config;
    vm = await driver.start({
      ...config,
      nics: [{ tapName: 'tap0', mac: '02:00:00:00:00:01' }],
      netns,
      linksHeld: true,
    });
    await waitForText(paths.consoleLog, fixture.initMarker, 60_000);
    const carrier = async (expected: string) => {
      await typeOnConsole(
        paths.consoleSocket,
        'mount -t sysfs sys /sys 2>/dev/null; ip link set eth0 up; echo CARRIER=$(cat /sys/class/net/eth0/carrier)',
      );
      await waitForText(paths.consoleLog, new RegExp(`CARRIER=${expected}\\b`), 30_000);
    };
    await carrier('0');
    await vm.releaseLinks?.();
    await carrier('1');
  } finally {
    await vm?.kill();
    await run('ip', ['netns', 'del', netns]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});
