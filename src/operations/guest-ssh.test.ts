import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeServices } from '../../test/fakes/fake-services.js';
import { fleetVM } from '../../test/fakes/fleet-objects.js';
import { guestTarget, remoteCommand } from './guest-ssh.js';

test('one word is a command line for the remote shell; several are quoted word by word', () => {
  const cases: [string[], string[]][] = [
    [['find /tmp -name x | wc -l'], ['find /tmp -name x | wc -l']],
    [['uname'], ['uname']],
    [
      ['printf', '%s|', 'two words', "it's"],
      ['printf', "'%s|'", "'two words'", `'it'\\''s'`],
    ],
    [
      ['sh', '-c', 'exit 7'],
      ['sh', '-c', "'exit 7'"],
    ],
    [[], []],
  ];
  for (const [argv, want] of cases) assert.deepEqual(remoteCommand(argv), want, argv.join(' '));
});

test('a fleet VM whose key is on another host is refused with that host named', async () => {
  const s = fakeServices();
  const vm = await s.client.vms.create(fleetVM('web', { host: 'h2', state: 'Running' }));
  await assert.rejects(guestTarget(s, 'web'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'FailedPrecondition');
    assert.match(err.message, /^vm "web": runs on host "h2", which keeps its SSH key$/);
    return true;
  });
  // With a key of the user's own, it is the guest's state that counts.
  await assert.rejects(guestTarget(s, vm.metadata.uid, '/root/.ssh/id_ed25519'), /is not running/);
});
