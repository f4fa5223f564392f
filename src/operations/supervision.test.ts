import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeServices } from '../../test/fakes/fake-services.js';
import { isSupervised, parseHostSupervisorRequest } from './supervision.js';

const UID = '0123456789abcdef';

test('isSupervised: the mark names a live host supervisor; an earlier per-VM supervisor still counts', async (t) => {
  const cases: {
    name: string;
    argv: string[];
    mark: 'its pid' | 'another pid' | 'none';
    alive?: boolean;
    uid?: string;
    want: boolean;
  }[] = [
    {
      name: 'the host supervisor its mark names',
      argv: ['node', 'spawn', '--supervise-host'],
      mark: 'its pid',
      want: true,
    },
    {
      name: 'marked for another supervisor',
      argv: ['node', 'spawn', '--supervise-host'],
      mark: 'another pid',
      want: false,
    },
    {
      name: 'marked, but the PID is another program now',
      argv: ['/usr/sbin/sshd'],
      mark: 'its pid',
      want: false,
    },
    {
      name: 'marked, but the supervisor is gone',
      argv: ['node', 'spawn', '--supervise-host'],
      mark: 'its pid',
      alive: false,
      want: false,
    },
    {
      name: "an earlier version's supervisor of the VM, unmarked",
      argv: ['node', 'spawn', UID],
      mark: 'none',
      want: true,
    },
    {
      name: 'unmarked, and the PID is another program',
      argv: ['/usr/sbin/sshd'],
      mark: 'none',
      want: false,
    },
    { name: 'no UID', argv: ['node', 'spawn', UID], mark: 'none', uid: '', want: false },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      const p = s.processes.add(c.argv);
      if (c.alive === false) s.processes.exit(p.pid);
      if (c.mark !== 'none')
        await s.runtimeFiles.markSupervised(UID, c.mark === 'its pid' ? p.pid : p.pid + 1);
      assert.equal(isSupervised(s, c.uid ?? UID, p.pid), c.want);
    });
  }
});

test('parseHostSupervisorRequest keeps what it understands and refuses the rest', () => {
  assert.deepEqual(
    parseHostSupervisorRequest({
      op: 'supervise',
      uid: UID,
      env: { PATH: '/bin', N: 1 },
      logLevel: 'loud',
      policyRestart: true,
      stopTimeoutMs: -1,
    }),
    { op: 'supervise', uid: UID, env: { PATH: '/bin' }, policyRestart: true },
  );
  const form = { json: { kind: 'VM' } };
  assert.deepEqual(
    parseHostSupervisorRequest({
      op: 'supervise',
      uid: UID,
      env: {},
      known: { checksum: '1:2:3', form },
    }),
    { op: 'supervise', uid: UID, env: {}, known: { checksum: '1:2:3', form } },
  );
  for (const known of [{ checksum: 1, form }, { checksum: '1:2:3' }, 'known'])
    assert.deepEqual(
      parseHostSupervisorRequest({ op: 'supervise', uid: UID, env: {}, known }),
      { op: 'supervise', uid: UID, env: {} },
      `${JSON.stringify(known)} is left out`,
    );
  assert.deepEqual(parseHostSupervisorRequest({ op: 'signal', uid: UID, signal: 'SIGQUIT' }), {
    op: 'signal',
    uid: UID,
    signal: 'SIGQUIT',
  });
  for (const bad of [
    null,
    { op: 'signal', uid: UID, signal: 'SIGKILL' },
    { op: 'supervise', uid: UID },
    { op: 'supervise', env: {} },
  ])
    assert.throws(() => parseHostSupervisorRequest(bad), /not understood/);
});
