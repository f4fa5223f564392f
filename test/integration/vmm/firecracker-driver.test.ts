import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../../../src/errors.js';
import { run } from '../../../src/system/exec.js';
import { FirecrackerDriver } from '../../../src/vmm/firecracker/firecracker-driver.js';
import type { VMConfig } from '../../../src/vmm/vmm-driver.js';
import { INIT_MARKER } from '../../helpers/vm-fixture.js';
import { vmmDriverSuite, type VMMDriverHarness } from '../../suites/vmm-driver.suite.js';

// No firecracker binary can run on the project's machines, so this runs the driver against a
// fake that checks every request against Firecracker's spec (test/fixtures/vmm/fake-firecracker.ts).
const fakeBin = fileURLToPath(new URL('../../fixtures/vmm/bin', import.meta.url));
process.env.PATH = `${fakeBin}${delimiter}${process.env.PATH ?? ''}`;

/** A fresh VM dir with an ELF-looking "kernel" (the fake checks the magic) and a real ext4 disk. */
async function makeConfig(name: string, withInitrd: boolean) {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-fc-'));
  const kernel = join(dir, 'vmlinux');
  await writeFile(
    kernel,
    Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(4092)]),
  );
  const initrd = join(dir, 'initrd.cpio.gz');
  await writeFile(initrd, '');
  const disk = join(dir, 'rootfs.ext4');
  await run('truncate', ['-s', '8M', disk]);
  await run('mkfs.ext4', ['-q', '-F', disk]);
  const config: VMConfig = {
    uid: name,
    name,
    vcpus: 1,
    memoryMiB: 128,
    kernel: {
      vmlinuxPath: kernel,
      ...(withInitrd ? { initrdPath: initrd } : {}),
      cmdline: 'reboot=k panic=1 pci=off',
    },
    rootDisk: { path: disk, format: 'raw' },
    nics: [{ tapName: 'vm_eth0', mac: '02:00:00:00:00:01' }],
    paths: {
      consoleLog: join(dir, 'console.log'),
      consoleSocket: join(dir, 'console.sock'),
      controlSocket: join(dir, 'control.sock'),
      workDir: dir,
    },
  };
  return { config, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const harness = (driver: FirecrackerDriver, withInitrd: boolean): VMMDriverHarness => ({
  driver,
  initMarker: INIT_MARKER,
  bootTimeoutMs: 10_000,
  shutdownTimeoutMs: 10_000,
  makeConfig: (name) => makeConfig(name, withInitrd),
});

vmmDriverSuite('firecracker v1 (fake, on PATH)', () =>
  Promise.resolve(harness(new FirecrackerDriver(), true)),
);
vmmDriverSuite('firecracker v0.17 (fake)', () =>
  Promise.resolve(
    harness(new FirecrackerDriver({ binary: join(fakeBin, 'firecracker-v0.17.0') }), false),
  ),
);

test('firecracker: availability reports the version; a qcow2 disk is refused up front', async () => {
  const driver = new FirecrackerDriver();
  assert.deepEqual(await driver.availability(), { available: true, version: '1.16.1' });
  const missing = await new FirecrackerDriver({
    binary: '/nonexistent/firecracker',
  }).availability();
  assert.equal(missing.available, false);
  assert.match(missing.reason ?? '', /not installed/);
  const { config, cleanup } = await makeConfig('qcow', true);
  try {
    await assert.rejects(
      driver.start({ ...config, rootDisk: { ...config.rootDisk, format: 'qcow2' } }),
      (e: unknown) =>
        AppError.is(e, 'InvalidArgument') &&
        /^vm "qcow": firecracker needs a raw root disk/.test(e.message),
    );
  } finally {
    await cleanup();
  }
});
