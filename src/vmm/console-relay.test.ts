import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SLOW_CLIENT_MESSAGE, startConsoleRelay } from './console-relay.js';

const connected = (path: string) =>
  new Promise<Socket>((resolve, reject) => {
    const s = connect(path, () => resolve(s));
    s.once('error', reject);
  });

test('a client that stops reading is dropped; the log and the other clients go on', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-relay-'));
  try {
    const output = new PassThrough();
    const input = new PassThrough();
    let dropped = 0;
    const relay = await startConsoleRelay({
      output,
      input,
      logPath: join(dir, 'console.log'),
      socketPath: join(dir, 'console.sock'),
      logMaxBytes: 1 << 20,
      clientBufferBytes: 64 << 10,
      onSlowClient: () => dropped++,
    });
    const slow = await connected(join(dir, 'console.sock'));
    slow.pause();
    let slowText = '';
    slow.on('data', (d: Buffer) => (slowText = (slowText + d.toString('latin1')).slice(-200)));
    const slowClosed = new Promise<void>((r) => slow.once('close', () => r()));
    const fast = await connected(join(dir, 'console.sock'));
    let got = 0;
    fast.on('data', (d: Buffer) => (got += d.length));
    fast.write('typed');
    const chunk = Buffer.alloc(16 << 10, 0x41);
    const total = 400 * chunk.length; // 6.25 MiB: far past what the slow client may queue
    for (let i = 0; i < 400; i++) {
      output.write(chunk);
      await new Promise((r) => setImmediate(r));
    }
    output.write('\nthe end\n');
    assert.equal(dropped, 1, 'the slow client was dropped once');
    // It reads again: what was queued, then the reason, then the end of the connection.
    slow.resume();
    await slowClosed;
    assert.ok(slowText.endsWith(SLOW_CLIENT_MESSAGE), JSON.stringify(slowText));
    for (let i = 0; i < 100 && got < total + 9; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(got, total + 9, 'the reading client got everything');
    assert.equal(String(input.read() as Buffer | null), 'typed');
    // The log kept the most recent output within its cap and one rotated generation.
    const log = await readFile(join(dir, 'console.log'), 'utf8');
    const old = await readFile(join(dir, 'console.log.1'), 'utf8');
    assert.ok(log.endsWith('\nthe end\n'));
    assert.equal(old.length, 1 << 20);
    assert.ok(log.length <= 1 << 20);
    fast.destroy();
    output.end();
    await relay.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
