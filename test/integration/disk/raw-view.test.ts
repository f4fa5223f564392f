import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, runUnchecked } from '../../../src/system/exec.js';
import { AppError } from '../../../src/errors.js';
import { createOverlay } from '../../../src/vmm/disk/create-root-disk.js';
import { withRawView } from '../../../src/vmm/disk/fuse-export.js';

const SIZE = 64 * 2 ** 20;

async function fixture(): Promise<{ dir: string; qcow2: string } & AsyncDisposable> {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-raw-view-'));
  const image = join(dir, 'image.raw');
  await writeFile(image, '');
  await run('truncate', ['-s', String(SIZE), image]);
  const qcow2 = join(dir, 'disk.qcow2');
  await createOverlay(image, qcow2, 2 * SIZE);
  return { dir, qcow2, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

/** Whether a qemu-storage-daemon serving `path` is still running. */
async function daemonFor(path: string): Promise<boolean> {
  const r = await runUnchecked('pgrep', ['-f', `qemu-storage-daemon.*${path}`]);
  return r.stdout.trim() !== '';
}

const mounted = async (path: string) =>
  (await readFile('/proc/self/mounts', 'utf8')).includes(` ${path} `);

test('raw view: the whole disk, writable, as soon as it is given; then nothing is left', async () => {
  await using fx = await fixture();
  const mark = Buffer.from('written through the raw view');
  await withRawView(fx.qcow2, 2 * SIZE, 'vm "t"', async (raw) => {
    // No wait of its own: the export is mounted by the time the view is handed over.
    assert.equal((await stat(raw)).size, 2 * SIZE);
    assert.ok(await mounted(raw));
    await run('dd', [`of=${raw}`, 'bs=512', `seek=${SIZE / 512 + 8}`, 'conv=notrunc,fsync'], {
      input: mark,
    });
  });
  const view = `${fx.qcow2}.raw-view`;
  assert.equal(await mounted(view), false, 'the FUSE mount is gone');
  await assert.rejects(stat(view), { code: 'ENOENT' });
  assert.equal(await daemonFor(fx.qcow2), false, 'no daemon is left');
  // The write landed in the overlay, past the image's end.
  const back = join(fx.dir, 'back.raw');
  await run('qemu-img', ['convert', '-O', 'raw', fx.qcow2, back]);
  const data = await readFile(back);
  assert.equal(
    data.subarray(SIZE + 8 * 512, SIZE + 8 * 512 + mark.length).toString(),
    mark.toString(),
  );
});

test('raw view: a disk the daemon cannot open fails at once, with its words, leaving nothing', async () => {
  await using fx = await fixture();
  const missing = join(fx.dir, 'missing.qcow2');
  const t0 = performance.now();
  let called = false;
  await assert.rejects(
    withRawView(missing, SIZE, 'vm "t"', () => {
      called = true;
      return Promise.resolve();
    }),
    (err: unknown) => {
      assert.ok(AppError.is(err, 'Unavailable'), String(err));
      assert.match(err.message, /^vm "t": cannot open the root disk for writing: /);
      assert.match(err.message, /missing\.qcow2.*No such file or directory/);
      return true;
    },
  );
  // Told by the daemon's end, not by a timeout.
  assert.ok(performance.now() - t0 < 5000, `took ${performance.now() - t0} ms`);
  assert.equal(called, false);
  await assert.rejects(stat(`${missing}.raw-view`), { code: 'ENOENT' });
  assert.equal(await daemonFor(missing), false);
});
