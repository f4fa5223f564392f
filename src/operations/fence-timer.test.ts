import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../test/fakes/fake-clock.js';
import { FenceTimer } from './fence-timer.js';

const turn = () => new Promise((r) => setImmediate(r));

test('FenceTimer: fires once its deadline passes, and later deadlines put it off', async () => {
  const clock = new FakeClock('2026-01-01T00:00:00Z');
  const fired: string[] = [];
  const fence = new FenceTimer(clock, (d) => fired.push(d.toISOString()));
  fence.extend(new Date('2026-01-01T00:00:04Z'));
  clock.advance(3000);
  await turn();
  fence.extend(new Date('2026-01-01T00:00:07Z'));
  fence.extend(new Date('2026-01-01T00:00:05Z')); // earlier: ignored
  await turn();
  clock.advance(2000); // 00:05, past the first deadline only
  await turn();
  assert.deepEqual(fired, []);
  clock.advance(2000); // 00:07
  await turn();
  await turn();
  assert.deepEqual(fired, ['2026-01-01T00:00:07.000Z']);
  fence.extend(new Date('2026-01-01T00:01:00Z'));
  clock.advance(60_000);
  await turn();
  assert.equal(fired.length, 1, 'a fence that fired stays fired');
});

test('FenceTimer: a closed fence never fires, and a deadline already past fires at once', async () => {
  const clock = new FakeClock('2026-01-01T00:00:00Z');
  const fired: Date[] = [];
  const closed = new FenceTimer(clock, (d) => fired.push(d));
  closed.extend(new Date('2026-01-01T00:00:01Z'));
  closed.close();
  clock.advance(5000);
  await turn();
  assert.equal(fired.length, 0);
  const late = new FenceTimer(clock, (d) => fired.push(d));
  late.extend(new Date('2026-01-01T00:00:00Z'));
  await turn();
  assert.equal(fired.length, 1);
});
