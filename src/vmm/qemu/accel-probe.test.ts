import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chooseAccel, type AccelProbeOptions, type ProbeResult } from './accel-probe.js';
import type { Accel } from './qemu-command.js';
import { withTempDir } from '../../../test/helpers/temp-dir.js';

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir('ignite-accel-', fn);

/** Options whose probe answers `ok` and counts its calls; /dev/kvm is a plain file in `dir`. */
async function options(dir: string, ok: boolean, version = 'QEMU emulator version 7.2.22') {
  const kvm = join(dir, 'kvm');
  await writeFile(kvm, '');
  const calls: Accel[] = [];
  const opts: AccelProbeOptions = {
    qemuBinary: 'qemu-system-x86_64',
    cacheFile: join(dir, '.cache', 'accel.json'),
    kernelPath: '/k/vmlinux',
    kvmDevice: kvm,
    qemuVersion: () => Promise.resolve(version),
    probe: (accel): Promise<ProbeResult> => {
      calls.push(accel);
      return Promise.resolve({ ok, detail: ok ? 'reached the root mount' : 'timed out', ms: 5 });
    },
  };
  return { opts, calls };
}

test('chooseAccel: an override wins without probing', () =>
  withDir(async (dir) => {
    const { opts, calls } = await options(dir, true);
    assert.equal((await chooseAccel({ ...opts, override: 'tcg' })).accel, 'tcg');
    assert.equal(
      (await chooseAccel({ ...opts, override: 'kvm', kvmDevice: join(dir, 'none') })).accel,
      'kvm',
    );
    assert.deepEqual(calls, []);
  }));

test('chooseAccel: no usable /dev/kvm means TCG, without probing', () =>
  withDir(async (dir) => {
    const { opts, calls } = await options(dir, true);
    const c = await chooseAccel({ ...opts, kvmDevice: join(dir, 'none') });
    assert.equal(c.accel, 'tcg');
    assert.match(c.reason, /missing or not usable/);
    assert.deepEqual(calls, []);
  }));

test('chooseAccel: KVM only when the probe boot works; the verdict is cached per QEMU version', () =>
  withDir(async (dir) => {
    const bad = await options(dir, false);
    const first = await chooseAccel(bad.opts);
    assert.equal(first.accel, 'tcg');
    assert.match(first.reason, /KVM probe boot failed: timed out/);
    assert.deepEqual(bad.calls, ['kvm']);
    const cached = JSON.parse(await readFile(bad.opts.cacheFile, 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(cached.accel, 'tcg');
    assert.equal(cached.qemuVersion, 'QEMU emulator version 7.2.22');

    // Same QEMU and host kernel: the cache answers, even if KVM would now work.
    const good = await options(dir, true);
    const again = await chooseAccel(good.opts);
    assert.equal(again.accel, 'tcg');
    assert.match(again.reason, /cached/);
    assert.deepEqual(good.calls, []);

    // A new QEMU probes again.
    const upgraded = await options(dir, true, 'QEMU emulator version 8.0.0');
    assert.equal((await chooseAccel(upgraded.opts)).accel, 'kvm');
    assert.deepEqual(upgraded.calls, ['kvm']);
  }));
