import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import {
  bindingFor,
  bindingWithKernelFile,
  checkBinding,
  kernelDigestFor,
  commitSavedState,
  digestFile,
  partialPath,
  readSavedState,
  removeSavedState,
  writeDigested,
  type StateBinding,
} from './saved-state.js';
import type { VMConfig } from './vmm-driver.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';

const BINDING: StateBinding = {
  hypervisor: 'qemu',
  hypervisorVersion: '7.2.22',
  machine: 'microvm,acpi=on -accel tcg',
  vcpus: 1,
  memoryMiB: 256,
  kernel: { size: 1000, sha256: 'a'.repeat(64) },
  nics: 1,
  rootDiskFormat: 'qcow2',
};

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir('ignite-saved-state-', fn);

test('checkBinding: the same binding passes; each difference is named with both values', () => {
  checkBinding(BINDING, { ...BINDING }, 'vm "web"', '/s');
  checkBinding(BINDING, {}, 'vm "web"', '/s');
  const table: [Partial<StateBinding>, RegExp][] = [
    [{ memoryMiB: 128 }, /memory: saved with 256 MiB, this VM has 128 MiB/],
    [{ vcpus: 2 }, /vCPUs: saved with 1, this VM has 2/],
    [
      { machine: 'microvm -accel kvm' },
      /machine: saved with microvm,acpi=on -accel tcg, this VM has microvm -accel kvm/,
    ],
    [
      { hypervisorVersion: '8.2.0' },
      /hypervisor version: saved with 7\.2\.22, this VM has 8\.2\.0/,
    ],
    [{ hypervisor: 'firecracker' }, /hypervisor: saved with qemu, this VM has firecracker/],
    [{ nics: 0 }, /NICs: saved with 1, this VM has 0/],
    [{ rootDiskFormat: 'raw' }, /root disk format: saved with qcow2, this VM has raw/],
    [
      { kernel: { size: 1000, sha256: 'b'.repeat(64) } },
      /kernel: saved with a vmlinux of 1000 bytes, sha256 aaaaaaaaaaaa, this VM has a vmlinux of 1000 bytes, sha256 bbbbbbbbbbbb/,
    ],
  ];
  for (const [expected, message] of table) {
    assert.throws(
      () => checkBinding(BINDING, { ...BINDING, ...expected }, 'vm "web"', '/s'),
      (e: unknown) => {
        assert.ok(AppError.is(e, 'FailedPrecondition'), String(e));
        assert.match(e.message, /^vm "web": saved state \/s does not match: /);
        assert.match(e.message, message);
        assert.equal(e.message.split(';').length, 1, 'only the difference is named');
        return true;
      },
      JSON.stringify(expected),
    );
  }
  // Every difference at once.
  assert.throws(
    () => checkBinding(BINDING, { ...BINDING, memoryMiB: 512, vcpus: 4 }, 'vm "web"', '/s'),
    /vCPUs: .*; memory: |memory: .*; vCPUs: /,
  );
});

test('bindingFor: takes the sizes and devices from the config and hashes the kernel', async () => {
  await withDir(async (dir) => {
    const kernel = join(dir, 'vmlinux');
    await writeFile(kernel, 'kernel bytes');
    const config = {
      vcpus: 2,
      memoryMiB: 512,
      kernel: { vmlinuxPath: kernel, cmdline: '' },
      nics: [{ tapName: 't', mac: '02:00:00:00:00:01' }],
      rootDisk: { path: '/d', format: 'qcow2' },
    } as unknown as VMConfig;
    const b = await bindingFor(config, {
      hypervisor: 'qemu',
      hypervisorVersion: '7',
      machine: 'm',
    });
    assert.deepEqual(b, {
      hypervisor: 'qemu',
      hypervisorVersion: '7',
      machine: 'm',
      vcpus: 2,
      memoryMiB: 512,
      kernel: { size: 12, sha256: createHash('sha256').update('kernel bytes').digest('hex') },
      nics: 1,
      rootDiskFormat: 'qcow2',
    });
  });
});

test('kernelDigestFor: the recorded digest while the vmlinux is unchanged; hashed again once it is written or replaced', async () => {
  await withDir(async (dir) => {
    const kernel = join(dir, 'vmlinux');
    await writeFile(kernel, 'kernel bytes');
    const config = {
      vcpus: 1,
      memoryMiB: 256,
      kernel: { vmlinuxPath: kernel, cmdline: '' },
      nics: [],
      rootDisk: { path: '/d', format: 'qcow2' },
    } as unknown as VMConfig;
    const facts = { hypervisor: 'qemu', hypervisorVersion: '7', machine: 'm' } as const;
    const { binding, kernelFile } = await bindingWithKernelFile(config, facts);
    assert.ok(kernelFile, 'the identity is recorded');
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    assert.equal(binding.kernel.sha256, sha('kernel bytes'));
    // A recorded digest that is not the file's shows that the file was not read.
    const recorded = { size: 12, sha256: 'f'.repeat(64) };
    const sidecar = {
      version: 1 as const,
      binding: { ...binding, kernel: recorded },
      kernelFile,
      parts: [],
      created: '',
      saveMs: 0,
    };
    assert.deepEqual(await kernelDigestFor(kernel, sidecar), recorded);
    const { kernelFile: _omitted, ...withoutIdentity } = sidecar;
    assert.equal((await kernelDigestFor(kernel, withoutIdentity)).sha256, sha('kernel bytes'));
    // Written in place with bytes of the same size: its times change, so it is hashed.
    await new Promise((r) => setTimeout(r, 5));
    await writeFile(kernel, 'kernel BYTES');
    assert.equal((await kernelDigestFor(kernel, sidecar)).sha256, sha('kernel BYTES'));
    // Replaced by another file (another inode) with the first content.
    await writeFile(join(dir, 'other'), 'kernel bytes');
    await rename(join(dir, 'other'), kernel);
    assert.equal((await kernelDigestFor(kernel, sidecar)).sha256, sha('kernel bytes'));
  });
});

test('commitSavedState: renames the parts into place, sidecar last; readSavedState reads it back; removeSavedState removes all', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'state');
    const state = await writeDigested(
      Readable.from([Buffer.from('device and memory')]),
      partialPath(file),
    );
    await writeFile(partialPath(file, '.mem'), 'memory');
    const mem = await digestFile(partialPath(file, '.mem'));
    const info = await commitSavedState(
      file,
      {
        binding: BINDING,
        parts: [
          { suffix: '', ...state },
          { suffix: '.mem', ...mem },
        ],
        saveMs: 42,
      },
      new Date('2026-01-02T03:04:05Z'),
    );
    assert.deepEqual(info.files, [file, `${file}.mem`, `${file}.json`]);
    assert.equal(info.saveMs, 42);
    const sidecarSize = (await readFile(`${file}.json`)).length;
    assert.equal(info.bytes, 17 + 6 + sidecarSize);
    assert.deepEqual((await readdir(dir)).sort(), ['state', 'state.json', 'state.mem']);
    const read = await readSavedState(file, 'vm "t"');
    assert.equal(read.created, '2026-01-02T03:04:05.000Z');
    assert.deepEqual(read.binding, BINDING);
    assert.equal(
      read.parts[0]?.sha256,
      createHash('sha256').update('device and memory').digest('hex'),
    );
    await writeFile(partialPath(file), 'left by a failed save');
    await removeSavedState(file);
    assert.deepEqual(await readdir(dir), []);
  });
});

test('readSavedState: no sidecar, a foreign sidecar, a truncated or missing part each fail before anything starts', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'state');
    const expectFail = async (message: RegExp) =>
      assert.rejects(readSavedState(file, 'vm "t"'), (e: unknown) => {
        assert.ok(AppError.is(e, 'FailedPrecondition'), String(e));
        assert.match(e.message, /^vm "t": saved state /);
        assert.match(e.message, message);
        return true;
      });
    await writeFile(partialPath(file), 'a save that never finished');
    await expectFail(/incomplete or unreadable/);
    await writeFile(`${file}.json`, '{"something": "else"}');
    await expectFail(/is not a saved-state sidecar/);

    await writeFile(partialPath(file), '0123456789');
    await commitSavedState(file, {
      binding: BINDING,
      parts: [{ suffix: '', size: 10, sha256: 'x' }],
      saveMs: 1,
    });
    await readSavedState(file, 'vm "t"');
    await truncate(file, 9);
    await expectFail(/damaged: .*state is 9 bytes, 10 bytes were saved/);
    await rm(file);
    await expectFail(/damaged: .*state is missing/);
  });
});
