import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../errors.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  detectHostTsc,
  detectHostTscCached,
  tscKHzFromCpuinfo,
  tscKHzFromDmesg,
  type TscSources,
} from './host-tsc.js';

const none = () => Promise.resolve(undefined);
const text = (s: string) => () => Promise.resolve(s);

test('tscKHzFromDmesg: the refined calibration wins over the early estimate', () => {
  const log = [
    '[    0.000053] tsc: Detected 2300.000 MHz processor',
    '[    1.432100] tsc: Refined TSC clocksource calibration: 2299.998 MHz',
  ].join('\n');
  assert.equal(tscKHzFromDmesg(log), 2_299_998);
  assert.equal(tscKHzFromDmesg(log.split('\n')[0] ?? ''), 2_300_000);
  assert.equal(tscKHzFromDmesg('nothing about clocks'), undefined);
});

test('tscKHzFromCpuinfo: the first cpu MHz line', () => {
  assert.equal(
    tscKHzFromCpuinfo('processor\t: 0\ncpu MHz\t\t: 2095.076\ncpu MHz\t: 1\n'),
    2_095_076,
  );
  assert.equal(tscKHzFromCpuinfo('processor\t: 0\n'), undefined);
});

test('detectHostTsc: sysfs, then dmesg, then cpuinfo', async () => {
  const all: TscSources = {
    sysfs: text('2400000\n'),
    dmesg: text('tsc: Detected 2300.000 MHz processor'),
    cpuinfo: text('cpu MHz : 1000.0'),
  };
  assert.deepEqual(await detectHostTsc(all), { kHz: 2_400_000, source: 'sysfs' });
  assert.deepEqual(await detectHostTsc({ ...all, sysfs: none }), {
    kHz: 2_300_000,
    source: 'dmesg',
  });
  assert.deepEqual(await detectHostTsc({ ...all, sysfs: text('garbage'), dmesg: none }), {
    kHz: 1_000_000,
    source: 'cpuinfo',
  });
  await assert.rejects(detectHostTsc({ sysfs: none, dmesg: none, cpuinfo: none }), (e: unknown) =>
    AppError.is(e, 'FailedPrecondition'),
  );
});

test('detectHostTsc: this host has a rate', async () => {
  const tsc = await detectHostTsc();
  assert.ok(tsc.kHz > 100_000, `implausible TSC rate ${tsc.kHz} kHz from ${tsc.source}`);
});

test('the TSC rate is detected once per host boot and then read from the cache', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-tsc-'));
  try {
    let reads = 0;
    const sources = {
      sysfs: () => Promise.resolve(undefined),
      dmesg: () => {
        reads++;
        return Promise.resolve('tsc: Refined TSC clocksource calibration: 2294.612 MHz');
      },
      cpuinfo: () => Promise.resolve(undefined),
    };
    const file = join(dir, 'host-tsc.json');
    assert.deepEqual(await detectHostTscCached(file, sources), { kHz: 2294612, source: 'dmesg' });
    assert.deepEqual(await detectHostTscCached(file, sources), { kHz: 2294612, source: 'dmesg' });
    assert.equal(reads, 1, 'the kernel log is read once');
    // Another boot (a different boot_id) detects again.
    await writeFile(file, JSON.stringify({ kHz: 1, source: 'dmesg', bootId: 'an-old-boot' }));
    assert.equal((await detectHostTscCached(file, sources)).kHz, 2294612);
    assert.equal(reads, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
