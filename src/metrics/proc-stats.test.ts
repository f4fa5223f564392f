import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { AppError } from '../errors.js';
import {
  parseNetDev,
  parseProcStat,
  readClockTicks,
  readNetDevice,
  readProcessCPUSeconds,
  readResidentBytes,
} from './proc-stats.js';

const FIXTURE_PROC = join(import.meta.dirname, '../../test/fixtures/metrics/proc');

test('parseProcStat counts fields from the last ")" so odd command names do not shift them', () => {
  const stat = '7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 31 7 0 0 20 0 1 0 9 0 0\n';
  assert.deepEqual(parseProcStat(stat), { utimeTicks: 31, stimeTicks: 7 });
  assert.throws(() => parseProcStat('garbage'), AppError);
});

test('readProcessCPUSeconds divides utime+stime by the clock tick rate', async () => {
  assert.equal(await readProcessCPUSeconds(4242, 100, FIXTURE_PROC), (1234 + 566) / 100);
  assert.equal(await readResidentBytes(4242, FIXTURE_PROC), 262144 * 1024);
});

test('this process: CPU seconds match process.cpuUsage() and RSS is plausible', async () => {
  const ticks = await readClockTicks();
  assert.ok(Number.isInteger(ticks) && ticks > 0);
  // Burn a little CPU so the figure is not zero.
  const until = Date.now() + 50;
  while (Date.now() < until);
  const usage = process.cpuUsage();
  const cpu = await readProcessCPUSeconds(process.pid, ticks);
  const expected = (usage.user + usage.system) / 1e6;
  assert.ok(cpu > 0, `cpu ${cpu}`);
  // Ticks are coarse (10 ms at 100 Hz); allow a few of them either way.
  assert.ok(Math.abs(cpu - expected) < 0.1 + expected * 0.05, `cpu ${cpu} vs ${expected}`);
  const rss = await readResidentBytes(process.pid);
  const nodeRss = process.memoryUsage.rss();
  assert.ok(rss > nodeRss / 2 && rss < nodeRss * 2, `rss ${rss} vs ${nodeRss}`);
});

test('parseNetDev reads receive and transmit columns per device', async () => {
  const devices = parseNetDev(await readFile(join(FIXTURE_PROC, '4242/net/dev'), 'utf8'));
  assert.deepEqual([...devices.keys()], ['lo', 'vm6c6f0a2e', 'eth0']);
  assert.deepEqual(devices.get('vm6c6f0a2e'), {
    receiveBytes: 1111,
    receivePackets: 11,
    receiveErrors: 1,
    receiveDrops: 2,
    transmitBytes: 2222,
    transmitPackets: 22,
    transmitErrors: 3,
    transmitDrops: 4,
  });
  assert.equal(devices.get('eth0')?.transmitBytes, 12345678);
});

test('readNetDevice finds lo in this process namespace, and rejects unknown devices', async () => {
  const lo = await readNetDevice(process.pid, 'lo');
  assert.ok(lo.receiveBytes >= 0 && lo.transmitBytes >= 0);
  // On loopback every packet sent is also received.
  assert.equal(lo.receivePackets > 0, lo.transmitPackets > 0);
  await assert.rejects(readNetDevice(process.pid, 'no-such-if0'), (err: unknown) =>
    AppError.is(err, 'NotFound'),
  );
  await assert.rejects(readNetDevice(4242, 'lo', '/nonexistent-proc'));
});
