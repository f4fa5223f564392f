import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RESTART_POLICY_ANNOTATION, type VM, type VMExit, type VMStatus } from '../api/index.js';
import {
  backoffMs,
  restartDecision,
  type RestartDecision,
  type RestartHistory,
} from './restart-policy.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms);
const iso = (ms: number) => at(ms).toISOString();

/** A VM that started at T0 and ended at `endedMs` as `exit` says, with `policy`. */
function ended(
  policy: string | undefined,
  exit: Partial<VMExit> | undefined,
  status: Partial<VMStatus> = {},
  endedMs = 1_000,
): VM {
  return {
    apiVersion: 'ignite.weave.works/v1alpha1',
    kind: 'VM',
    metadata: {
      name: 'web',
      uid: '0123456789abcdef',
      ...(policy !== undefined ? { annotations: { [RESTART_POLICY_ANNOTATION]: policy } } : {}),
    },
    spec: { image: { ociClaim: { ref: 'busybox' } } },
    status: {
      state: 'Stopped',
      startTime: iso(0),
      desiredState: 'Running',
      ...(exit !== undefined
        ? { lastExit: { time: iso(endedMs), reason: 'Crashed', ...exit } }
        : {}),
      ...status,
    },
  };
}

test('backoffMs starts at 100 ms, doubles, and stops at 1 min', () => {
  assert.deepEqual(
    [0, 1, 2, 3, 9, 10, 11, 50].map(backoffMs),
    [100, 200, 400, 800, 51_200, 60_000, 60_000, 60_000],
  );
});

test("restartDecision follows Docker's policies", () => {
  const crashed = { reason: 'Crashed' as const, exitCode: 1 };
  const now = at(1_100);
  const cases: { name: string; vm: VM; want: RestartDecision['kind']; why?: RegExp }[] = [
    { name: 'no policy', vm: ended(undefined, crashed), want: 'none', why: /policy no/ },
    { name: 'policy no', vm: ended('no', crashed), want: 'none', why: /policy no/ },
    { name: 'always: crashed', vm: ended('always', crashed), want: 'now' },
    {
      name: 'always: the guest powered off',
      vm: ended('always', { reason: 'PoweredOff' }),
      want: 'now',
    },
    {
      name: 'always: stopped on request',
      vm: ended('always', { reason: 'Stopped' }),
      want: 'none',
      why: /stopped on request/,
    },
    {
      name: 'always: killed on request',
      vm: ended('always', { reason: 'Killed' }),
      want: 'none',
      why: /killed on request/,
    },
    {
      name: 'always: crashed, but stopped by hand since',
      vm: ended('always', crashed, { desiredState: 'Stopped' }),
      want: 'none',
      why: /asked to stay stopped/,
    },
    {
      name: 'always: running again',
      vm: ended('always', crashed, { state: 'Running' }),
      want: 'none',
      why: /running/,
    },
    {
      name: 'always: never ran',
      vm: ended('always', undefined, { state: 'Created' }),
      want: 'none',
      why: /never ended/,
    },
    {
      name: 'always: desired state never recorded (a VM from before it was)',
      vm: ended('always', crashed, { desiredState: undefined }),
      want: 'now',
    },
    { name: 'on-failure: crashed', vm: ended('on-failure', crashed), want: 'now' },
    {
      name: 'on-failure: crashed by a signal',
      vm: ended('on-failure', { reason: 'Crashed', signal: 'SIGKILL' }),
      want: 'now',
    },
    {
      name: 'on-failure: the guest powered off',
      vm: ended('on-failure', { reason: 'PoweredOff' }),
      want: 'none',
      why: /did not crash/,
    },
    {
      name: 'on-failure: stopped',
      vm: ended('on-failure', { reason: 'Stopped' }),
      want: 'none',
    },
    {
      name: 'on-failure:3 after 2 restarts',
      vm: ended('on-failure:3', crashed, { restartCount: 2 }),
      want: 'now',
    },
    {
      name: 'on-failure:3 after 3 restarts',
      vm: ended('on-failure:3', crashed, { restartCount: 3 }),
      want: 'none',
      why: /gave up after 3 restarts/,
    },
    {
      name: 'on-failure without a limit after many restarts',
      vm: ended('on-failure', crashed, { restartCount: 1000 }),
      want: 'now',
    },
    {
      name: 'a broken policy annotation restarts nothing',
      vm: ended('sometimes', crashed),
      want: 'none',
      why: /"sometimes" is not a restart policy/,
    },
  ];
  for (const c of cases) {
    const d = restartDecision(c.vm, now);
    assert.equal(d.kind, c.want, c.name);
    if (c.why !== undefined && d.kind === 'none') assert.match(d.why, c.why, c.name);
  }
});

test('restartDecision backs off exponentially from the exit, and starts over after a steady run', () => {
  const cases: {
    name: string;
    /** How long the VM ran before it ended. */
    ranMs: number;
    history?: RestartHistory;
    nowAfterExitMs: number;
    want: RestartDecision;
  }[] = [
    {
      name: 'first crash: 100 ms after the exit',
      ranMs: 1_000,
      nowAfterExitMs: 0,
      want: { kind: 'later', at: at(1_100), streak: 1 },
    },
    {
      name: 'first crash, 100 ms passed: now',
      ranMs: 1_000,
      nowAfterExitMs: 100,
      want: { kind: 'now', streak: 1 },
    },
    {
      name: 'third quick crash in a row: 400 ms',
      ranMs: 1_000,
      history: { streak: 2, lastAttempt: at(-5) },
      nowAfterExitMs: 0,
      want: { kind: 'later', at: at(1_400), streak: 3 },
    },
    {
      name: 'many quick crashes: capped at 1 min',
      ranMs: 1_000,
      history: { streak: 30, lastAttempt: at(-5) },
      nowAfterExitMs: 0,
      want: { kind: 'later', at: at(61_000), streak: 31 },
    },
    {
      name: 'a run of 10 s resets the backoff',
      ranMs: 10_000,
      history: { streak: 30, lastAttempt: at(-5) },
      nowAfterExitMs: 0,
      want: { kind: 'later', at: at(10_100), streak: 1 },
    },
    {
      name: 'a run just short of 10 s does not',
      ranMs: 9_999,
      history: { streak: 3, lastAttempt: at(-5) },
      nowAfterExitMs: 0,
      want: { kind: 'later', at: at(9_999 + 800), streak: 4 },
    },
    {
      name: 'a restart that failed to start backs off from the attempt, not the old exit',
      ranMs: 60_000,
      history: { streak: 2, lastAttempt: at(60_500) },
      nowAfterExitMs: 500,
      want: { kind: 'later', at: at(60_900), streak: 3 },
    },
  ];
  for (const c of cases) {
    const vm = ended('always', { reason: 'Crashed', exitCode: 1 }, {}, c.ranMs);
    assert.deepEqual(
      restartDecision(vm, at(c.ranMs + c.nowAfterExitMs), c.history),
      c.want,
      c.name,
    );
  }
});
