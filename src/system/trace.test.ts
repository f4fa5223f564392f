import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envTracer, NO_TRACE, traceWanted } from './trace.js';

function sink(): { stream: NodeJS.WritableStream; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = { write: (s: string) => chunks.push(s) > 0 } as unknown as NodeJS.WritableStream;
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

test('traceWanted: IGNITE_TRACE set to anything but empty or 0', () => {
  for (const [v, want] of [
    [undefined, false],
    ['', false],
    ['0', false],
    ['1', true],
    ['yes', true],
  ] as const)
    assert.equal(traceWanted(v === undefined ? {} : { IGNITE_TRACE: v }), want, String(v));
});

test('envTracer without IGNITE_TRACE writes nothing', async () => {
  const out = sink();
  const t = envTracer({}, 'cli', out.stream, 7);
  assert.equal(t, NO_TRACE);
  t.mark('x');
  assert.equal(await t.span('y', () => Promise.resolve(3)), 3);
  assert.deepEqual(out.lines(), []);
});

test('envTracer marks wall time, component, pid and the offset from the process start', async () => {
  const out = sink();
  let now = 12.25;
  const t = envTracer({ IGNITE_TRACE: '1' }, 'spawn', out.stream, 42, {
    timeOrigin: 1000,
    now: () => now,
  });
  t.mark('bundle loaded');
  now = 20;
  const r = await t.span('attach', () => {
    now = 31.5;
    return Promise.resolve('ok');
  });
  assert.equal(r, 'ok');
  now = 40;
  await assert.rejects(t.span('fails', () => Promise.reject(new Error('no'))));
  assert.deepEqual(out.lines(), [
    'ignite-trace 1012.3 spawn[42] +12.3 bundle loaded',
    'ignite-trace 1020.0 spawn[42] +20.0 attach start',
    'ignite-trace 1031.5 spawn[42] +31.5 attach done',
    'ignite-trace 1040.0 spawn[42] +40.0 fails start',
    'ignite-trace 1040.0 spawn[42] +40.0 fails failed',
  ]);
});
