import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite, runProgram } from '../helpers/cli.js';
import { tempDataDir } from '../helpers/data-dir.js';
import { HOSTILE_LAYERS, symlinkAfterDirectory, tarOf } from '../helpers/layer-tar.js';
import { pushLayerTars } from '../helpers/push-image.js';
import { startRegistry } from '../helpers/registry.js';
import {
  asUser,
  ensureUser,
  processesOf,
  ROOTLESS_USERS,
  runtimeDirOf,
} from '../helpers/rootless-user.js';
import { diffTrees, snapshotTree } from '../helpers/tree-snapshot.js';

const hashOf = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

/** The first `Error:` line of a CLI's stderr. */
const errorLine = (stderr: string) => /^Error: .*$/m.exec(stderr)?.[0] ?? `(none) ${stderr}`;

// The corpus every layer consumer must refuse, imported by an ordinary user: the user's imports
// write the ext4 from the stream as root's do, and must refuse the same layers with the same
// error. The victims are the user's own files, which a layer escaping the import would be free
// to change: they, the user's home and /etc must be as they were.
test(
  'rootless: the hostile-layer corpus is rejected as it is for root, and nothing outside the data dir changes',
  { timeout: 600_000 },
  async (ctx) => {
    assert.equal(process.getuid?.(), 0, 'the test makes a user and switches to it: run as root');
    await using reg = await startRegistry();
    await using rootData = await tempDataDir();
    const user = await ensureUser(ROOTLESS_USERS[2]);
    const dataDir = join(user.home, '.local/share/ignite');
    await rm(dataDir, { recursive: true, force: true });
    const runtime = await runtimeDirOf(user);
    const victimDir = join(user.home, 'victim-dir');
    const victimFile = join(user.home, 'victim-file');
    try {
      await mkdir(victimDir, { recursive: true });
      await writeFile(victimFile, 'the user owns this\n');
      await runProgram('chown', ['-R', `${user.uid}:${user.uid}`, victimDir, victimFile], {});
      const cases = [
        ...HOSTILE_LAYERS,
        ...symlinkAfterDirectory({ file: victimFile, dir: victimDir }),
      ];
      const homeBefore = await snapshotTree(user.home);
      const passwd = await hashOf('/etc/passwd');
      const env = { XDG_RUNTIME_DIR: runtime };
      for (const [i, [what, entries]] of cases.entries()) {
        const ref = `${reg.host}/hostile/case${i}:latest`;
        await pushLayerTars(reg.host, `hostile/case${i}`, 'latest', [tarOf(entries)]);
        const mine = await asUser(user, ['image', 'import', ref], env);
        const roots = await ignite(['image', 'import', ref], { dataDir: rootData.path });
        assert.notEqual(mine.code, 0, `${what}: the user's import must fail`);
        assert.equal(mine.code, roots.code, `${what}: the same exit code as root's`);
        assert.match(mine.stderr, /^Error: image ".*hostile\/case\d+.*: layer sha256:/m, what);
        assert.match(mine.stderr, /rejected/, `${what}: ${mine.stderr}`);
        assert.equal(errorLine(mine.stderr), errorLine(roots.stderr), `${what}: the same error`);
        assert.doesNotMatch(mine.stderr, /\n\s+at /, `${what}: no stack trace`);
        ctx.diagnostic(`${what}: ${errorLine(mine.stderr)}`);
        const list = await asUser(user, ['image', 'ls', '-q'], env);
        assert.equal(list.stdout.trim(), '', `${what}: nothing imported`);
        for (const sub of ['image', '.staging'])
          assert.deepEqual(
            await readdir(join(dataDir, sub)).catch(() => []),
            [],
            `${what}: ${sub}`,
          );
      }
      // The data dir and the dirs made for it are the user's import's to change.
      const outside = (p: string) =>
        ['.local', '.local/share'].includes(p) ||
        p === '.local/share/ignite' ||
        p.startsWith('.local/share/ignite/');
      assert.deepEqual(diffTrees(homeBefore, await snapshotTree(user.home), outside), []);
      assert.equal(await hashOf('/etc/passwd'), passwd, '/etc/passwd unchanged');
      assert.deepEqual(await readdir(runtime), [], 'no import left a runtime file');
      assert.deepEqual(await processesOf(user.name), [], 'no import left a process');
    } finally {
      await rm(runtime, { recursive: true, force: true });
      await rm(dataDir, { recursive: true, force: true });
      await rm(victimDir, { recursive: true, force: true });
      await rm(victimFile, { force: true });
    }
  },
);
