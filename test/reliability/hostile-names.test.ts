import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../helpers/cli.js';
import { tempDataDir } from '../helpers/data-dir.js';

const CANARY = join(tmpdir(), `ignite-canary-${process.pid}`);
const NAMES = [
  '../x',
  '../../etc/passwd',
  '/etc/passwd',
  `a;touch ${CANARY}`,
  `$(touch ${CANARY})`,
  `\`touch ${CANARY}\``,
  `a|touch ${CANARY}`,
  `a && touch ${CANARY}`,
  'a b',
  "a'b",
  'a"b',
  'A\nB',
  '*',
  '.',
  '..',
];

/** Every command that takes a VM, image or kernel name, with the name in its place. */
const COMMANDS: ((n: string) => string[])[] = [
  (n) => ['create', 'busybox', '--name', n],
  (n) => ['run', 'busybox', '--name', n],
  (n) => ['start', n],
  (n) => ['stop', n],
  (n) => ['kill', n],
  (n) => ['rm', '-f', n],
  (n) => ['inspect', 'vm', n],
  (n) => ['logs', n],
  (n) => ['attach', n],
  (n) => ['exec', n, '--', 'true'],
  (n) => ['ssh', n],
  (n) => ['cp', `${n}:/etc/hostname`, join(tmpdir(), 'ignite-cp-out')],
  (n) => ['metrics', n],
  (n) => ['image', 'rm', n],
  (n) => ['kernel', 'rm', n],
  (n) => ['inspect', 'image', n],
  (n) => ['inspect', 'kernel', n],
];

// Names with `../` or shell metacharacters, in every command that takes a name: each gets a clean
// InvalidArgument or NotFound, nothing is run by a shell, and nothing is written outside the store.
test(
  'names with ../ or shell metacharacters are refused or not found, and never executed',
  { timeout: 300_000 },
  async () => {
    await using dir = await tempDataDir();
    const env = { IGNITE_DATA_DIR: dir.path, IGNITE_KERNEL_IMAGE: '127.0.0.1:1/none' };
    // One command at a time, its names in parallel: 255 runs of the CLI.
    for (const make of COMMANDS) {
      await Promise.all(
        NAMES.map(async (name) => {
          const args = make(name);
          const r = await ignite(args, { env, timeoutMs: 60_000 });
          assert.ok(
            [2, 3].includes(r.code),
            `ignite ${JSON.stringify(args)}: exit ${r.code}, expected 2 (invalid) or 3 (not found)\n${r.stderr}`,
          );
          assert.match(
            r.stderr,
            /^(Error|error): /m,
            `ignite ${JSON.stringify(args)}: ${r.stderr}`,
          );
          assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
        }),
      );
    }
    assert.equal(existsSync(CANARY), false, 'no shell ran a name');
    for (const kind of ['vm', 'image', 'kernel'])
      assert.deepEqual(
        await readdir(join(dir.path, kind)).catch(() => []),
        [],
        `nothing stored under ${kind}/`,
      );
  },
);
