import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VMExit } from '../api/index.js';
import type { ExitInfo } from '../vmm/vmm-driver.js';
import { exitRecord, type AskedEnd } from './vm-exit.js';

test('exitRecord names how the hypervisor ended', () => {
  const time = new Date('2026-01-01T00:00:05Z');
  const t = time.toISOString();
  const cases: { name: string; exit: ExitInfo; asked?: AskedEnd; want: VMExit }[] = [
    {
      name: 'asked to stop, whatever the exit',
      exit: { code: 0, signal: null },
      asked: 'Stopped',
      want: { time: t, reason: 'Stopped' },
    },
    {
      name: 'asked to stop, then killed after the timeout',
      exit: { code: null, signal: 'SIGKILL' },
      asked: 'Stopped',
      want: { time: t, reason: 'Stopped' },
    },
    {
      name: 'asked to kill',
      exit: { code: null, signal: 'SIGKILL' },
      asked: 'Killed',
      want: { time: t, reason: 'Killed' },
    },
    {
      name: 'the guest powered off',
      exit: { code: 0, signal: null },
      want: { time: t, reason: 'PoweredOff' },
    },
    {
      name: 'a non-zero exit',
      exit: { code: 1, signal: null },
      want: { time: t, reason: 'Crashed', exitCode: 1 },
    },
    {
      name: 'a signal nobody asked for',
      exit: { code: null, signal: 'SIGKILL' },
      want: { time: t, reason: 'Crashed', signal: 'SIGKILL' },
    },
  ];
  for (const c of cases) assert.deepEqual(exitRecord(c.exit, c.asked, time), c.want, c.name);
});
