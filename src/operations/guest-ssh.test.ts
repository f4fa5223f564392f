import { test } from 'node:test';
import assert from 'node:assert/strict';
import { remoteCommand } from './guest-ssh.js';

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
