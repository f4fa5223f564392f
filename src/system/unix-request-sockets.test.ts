import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError, failedPrecondition } from '../errors.js';
import { unixRequestSockets as sockets } from './unix-request-sockets.js';

test('a request gets its answer; a thrown AppError comes back with its code and hint', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'req-'));
  const path = join(dir, 's.sock');
  try {
    const server = await sockets.serve(path, (req) => {
      const r = req as { op: string };
      if (r.op === 'fail')
        return Promise.reject(failedPrecondition('vm "a": busy', { hint: 'wait' }));
      return Promise.resolve({ echoed: r.op });
    });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await sockets.request(path, { op: 'x' }, 5000), { echoed: 'x' });
    await assert.rejects(sockets.request(path, { op: 'fail' }, 5000), (err: unknown) => {
      assert.ok(AppError.is(err, 'FailedPrecondition'));
      assert.equal(err.message, 'vm "a": busy');
      assert.equal(err.hint, 'wait');
      return true;
    });
    await server.close();
    await assert.rejects(stat(path), /ENOENT/);
    await assert.rejects(sockets.request(path, { op: 'x' }, 5000), (err: unknown) =>
      AppError.is(err, 'Unavailable'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('no answer in time is Unavailable', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'req-'));
  const path = join(dir, 's.sock');
  const server = await sockets.serve(path, () => new Promise(() => undefined));
  try {
    await assert.rejects(sockets.request(path, {}, 200), /no answer within/);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
