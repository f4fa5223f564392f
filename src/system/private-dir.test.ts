import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../errors.js';
import { ensurePrivateDir } from './private-dir.js';

test('ensurePrivateDir: makes a 0700 dir, keeps one, refuses one others may enter or a link', async () => {
  const base = await mkdtemp(join(tmpdir(), 'ignite-private-'));
  try {
    const fresh = join(base, 'a', 'ignite');
    await ensurePrivateDir(fresh);
    assert.equal((await stat(fresh)).mode & 0o777, 0o700);
    await ensurePrivateDir(fresh);

    const open = join(base, 'open');
    await mkdir(open);
    await chmod(open, 0o755);
    const link = join(base, 'link');
    await symlink(fresh, link);
    for (const dir of [open, link])
      await assert.rejects(
        ensurePrivateDir(dir),
        (err: unknown) =>
          err instanceof AppError &&
          err.code === 'PermissionDenied' &&
          err.message.startsWith(`runtime dir ${dir}: not a private directory`),
      );
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
