import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../errors.js';
import { decode, toPlain } from '../scheme.js';
import {
  formatRestartPolicy,
  parseRestartPolicy,
  RESTART_POLICY_ANNOTATION,
  restartPolicyOf,
  type RestartPolicy,
} from './restart-policy.js';

test('parseRestartPolicy reads Docker’s names, and formatRestartPolicy writes them back', () => {
  const cases: { text: string | undefined; want: RestartPolicy; written: string }[] = [
    { text: undefined, want: { name: 'no' }, written: 'no' },
    { text: 'no', want: { name: 'no' }, written: 'no' },
    { text: 'always', want: { name: 'always' }, written: 'always' },
    { text: 'on-failure', want: { name: 'on-failure' }, written: 'on-failure' },
    { text: 'on-failure:3', want: { name: 'on-failure', maxRetries: 3 }, written: 'on-failure:3' },
    { text: 'on-failure:0', want: { name: 'on-failure', maxRetries: 0 }, written: 'on-failure:0' },
  ];
  for (const c of cases) {
    const got = parseRestartPolicy(c.text);
    assert.deepEqual(got, c.want, String(c.text));
    assert.equal(formatRestartPolicy(got), c.written, String(c.text));
  }
});

test('parseRestartPolicy refuses anything else, naming where it came from', () => {
  for (const text of [
    '',
    'yes',
    'Always',
    'on-failure:',
    'on-failure:-1',
    'on-failure:x',
    'unless-stopped',
  ]) {
    assert.throws(
      () => parseRestartPolicy(text),
      (err: unknown) =>
        AppError.is(err, 'InvalidArgument') &&
        err.message.startsWith(
          `annotation ${RESTART_POLICY_ANNOTATION}: "${text}" is not a restart policy`,
        ),
      text,
    );
  }
  assert.throws(
    () => parseRestartPolicy('sometimes', '--restart'),
    /^AppError: --restart: "sometimes"/,
  );
});

test('restartPolicyOf reads the annotation; a VM without one has policy no', () => {
  assert.deepEqual(restartPolicyOf({ metadata: {} }), { name: 'no' });
  assert.deepEqual(
    restartPolicyOf({ metadata: { annotations: { [RESTART_POLICY_ANNOTATION]: 'always' } } }),
    { name: 'always' },
  );
});

test('a VM status with desired state, restart count and last exit round-trips', () => {
  const manifest = {
    apiVersion: 'ignite.weave.works/v1alpha1',
    kind: 'VM',
    metadata: { name: 'web', uid: '0123456789abcdef' },
    spec: { image: { ociClaim: { ref: 'busybox' } } },
    status: {
      state: 'Stopped',
      desiredState: 'Running',
      restartCount: 2,
      lastExit: { time: '2026-01-01T00:00:00Z', reason: 'Crashed', signal: 'SIGKILL' },
    },
  };
  const vm = decode(JSON.stringify(manifest));
  const plain = toPlain(vm) as { status: Record<string, unknown> };
  assert.deepEqual(plain.status['lastExit'], manifest.status.lastExit);
  assert.equal(plain.status['desiredState'], 'Running');
  assert.equal(plain.status['restartCount'], 2);
  const bad = {
    ...manifest,
    status: { ...manifest.status, lastExit: { time: 'x', reason: 'Exploded' } },
  };
  assert.throws(
    () => decode(JSON.stringify(bad)),
    (err: unknown) =>
      AppError.is(err, 'InvalidArgument') &&
      err.problems.some((p) => p.path === '.status.lastExit.reason') &&
      err.problems.some((p) => p.path === '.status.lastExit.time'),
  );
});
