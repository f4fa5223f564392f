import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RotatingLog } from './rotating-log.js';

test('the log rotates to .1 at its cap and keeps the most recent output', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-rotlog-'));
  try {
    const path = join(dir, 'console.log');
    const log = new RotatingLog(path, 100);
    let all = '';
    for (let i = 0; i < 40; i++) {
      const line = `line ${i}\n`;
      all += line;
      log.write(Buffer.from(line));
    }
    log.write(Buffer.alloc(250, 'x'));
    all += 'x'.repeat(250);
    log.close();
    const cur = await readFile(path, 'utf8');
    const old = await readFile(`${path}.1`, 'utf8');
    assert.ok(cur.length <= 100 && old.length === 100, `${old.length} ${cur.length}`);
    assert.ok(all.endsWith(old + cur), 'the two files are the tail of everything written');
    // Reopened, the log continues from its size, and rotates in time.
    const again = new RotatingLog(path, 100);
    again.write(Buffer.alloc(100 - cur.length + 1, 'y'));
    again.close();
    assert.equal(await readFile(`${path}.1`, 'utf8'), cur + 'y'.repeat(100 - cur.length));
    assert.equal(await readFile(path, 'utf8'), 'y');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
