import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../helpers/cli.js';
import { pushProjectImages, startRegistry } from '../helpers/registry.js';

const pexec = promisify(execFile);

// An import into a data dir on a small tmpfs runs out of space: it must fail cleanly, saying so,
// leave nothing partial, and leave the store usable. (Mounting needs root, which CI has.)
test(
  'an import that runs out of disk space fails cleanly and leaves the store consistent',
  { timeout: 300_000 },
  async () => {
    if (process.getuid?.() !== 0)
      assert.fail('this test mounts a tmpfs and must run as root (CI does); run it with sudo');
    await using reg = await startRegistry();
    await pushProjectImages(reg.host, ['busybox', 'debian']);
    const mnt = await mkdtemp(join(tmpdir(), 'ignite-nospace-'));
    await pexec('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', mnt]);
    try {
      const env = { IGNITE_DATA_DIR: mnt };
      const small = await ignite(['image', 'import', `${reg.host}/ignite-busybox`], { env });
      assert.equal(small.code, 0, `a small image fits: ${small.stderr}`);
      const big = await ignite(['image', 'import', `${reg.host}/ignite-debian:bookworm`], {
        env,
        timeoutMs: 240_000,
      });
      assert.equal(big.code, 7, `no space is Unavailable (exit 7): ${big.stderr}`);
      assert.match(big.stderr, /no space/i);
      assert.doesNotMatch(big.stderr, /\n\s+at /, 'no stack trace');
      const list = await ignite(['image', 'ls', '-o', 'json'], { env });
      assert.equal(list.code, 0, list.stderr);
      const images = JSON.parse(list.stdout) as { spec: { ociClaim: { ref: string } } }[];
      assert.deepEqual(
        images.map((i) => i.spec.ociClaim.ref),
        [`${reg.host}/ignite-busybox:latest`],
        'the store holds what it held before, and nothing of the failed import',
      );
      assert.equal((await readdir(join(mnt, 'image'))).length, 1);
      assert.deepEqual(await readdir(join(mnt, '.staging')).catch(() => []), [], 'no staging left');
      const { stdout } = await pexec('df', ['-B1', '--output=used', mnt]);
      const used = Number(stdout.split('\n')[1]);
      assert.ok(
        used < 40 * 2 ** 20,
        `the space of the failed import was given back (${used} bytes used)`,
      );
    } finally {
      await pexec('umount', [mnt]).catch(() => pexec('umount', ['-l', mnt]));
      await rm(mnt, { recursive: true, force: true });
    }
  },
);
