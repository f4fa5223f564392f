import { readFile, stat } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../helpers/cli.js';
import { waitForBusyboxInit, waitForText } from '../helpers/console.js';
import { vmTestEnv } from '../helpers/vm-env.js';

const connected = (path: string) =>
  new Promise<Socket>((resolve, reject) => {
    const s = connect(path, () => resolve(s));
    s.once('error', reject);
  });

// A real boot under TCG: an attach client that stops reading is dropped while the VM and a
// reading client go on, and the console log is rotated at --log-max-size.
test(
  'console: a slow attach client is dropped, the log rotates at --log-max-size',
  { timeout: 600_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const run = await ignite(
      [
        'run',
        `${t.registry}/ignite-busybox`,
        '--name',
        'chatty',
        '--net',
        'none',
        '--log-max-size',
        '64KB',
      ],
      { env: t.env, timeoutMs: 300_000 },
    );
    assert.equal(run.code, 0, run.stderr);
    const uid = await waitForBusyboxInit(t.dataDir, run.stdout);
    const vmDir = join(t.dataDir, 'vm', uid);
    const sock = join(vmDir, 'console.sock');

    const slow = await connected(sock);
    slow.pause();
    let slowTail = '';
    slow.on('data', (d: Buffer) => (slowTail = (slowTail + d.toString('latin1')).slice(-300)));
    const slowClosed = new Promise<void>((r) => slow.once('close', () => r()));
    const fast = await connected(sock);
    let fastTail = '';
    fast.on('data', (d: Buffer) => (fastTail = (fastTail + d.toString('latin1')).slice(-300)));
    // About 3 MiB of output: well past what a client may have queued (1 MiB).
    fast.write(
      'yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c 3000000; echo; echo FLOOD-$((40+2))\n',
    );
    await waitForText(join(vmDir, 'console.log'), 'FLOOD-42', 400_000);
    for (let i = 0; i < 100 && !fastTail.includes('FLOOD-42'); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.match(fastTail, /FLOOD-42/, 'the reading client saw all of it');
    slow.resume();
    await slowClosed;
    // Cut off before the end of the flood: it was dropped, not waited for.
    assert.doesNotMatch(slowTail, /FLOOD-42/);
    fast.destroy();

    // The VM runs on, and a new client works.
    const ps = await ignite(['ps', '-q'], { env: t.env });
    assert.match(ps.stdout, new RegExp(uid));
    const again = await connected(sock);
    let againText = '';
    again.on('data', (d: Buffer) => (againText += d.toString('latin1')));
    again.write('echo AGAIN-$((1+1))\n');
    for (let i = 0; i < 300 && !againText.includes('AGAIN-2'); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.match(againText, /AGAIN-2/);
    again.destroy();

    // The log: at most 64 KB, one rotated generation, and `ignite logs` shows the recent output.
    assert.ok((await stat(join(vmDir, 'console.log'))).size <= 64 * 1024);
    assert.ok((await stat(join(vmDir, 'console.log.1'))).size <= 64 * 1024);
    const logs = await ignite(['logs', 'chatty'], { env: t.env });
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /FLOOD-42/);
    assert.match(logs.stdout, /AGAIN-2/);
    const spawnLog = await readFile(join(vmDir, 'spawn.log'), 'utf8');
    assert.match(spawnLog, /dropped a console client that stopped reading/);
    const rm = await ignite(['rm', '-f', 'chatty'], { env: t.env });
    assert.equal(rm.code, 0, rm.stderr);
  },
);
