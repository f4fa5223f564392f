import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBundle } from '../helpers/bundle-loader.js';
import { ignite } from '../helpers/cli.js';
import { waitForBusyboxInit } from '../helpers/console.js';
import { eventually } from '../helpers/fleet.js';
import { vmTestEnv } from '../helpers/vm-env.js';

const DIST = join(import.meta.dirname, '../../dist');

// The first `run` of a build leaves code caches trained by a VM's start, for the CLI and for
// the supervisor, and the next processes start from them (bin/load-bundle.cjs).
test(
  'a run leaves trained code caches for the CLI and the supervisor, which the next processes take',
  { timeout: 300_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const bundles = ['ignite.cjs', 'ignite-spawn.cjs'];
    // Other tests' processes may train them too, alike: one of a build is as good as another.
    for (const b of bundles) await rm(join(DIST, `${b}.trained-cache`), { force: true });
    const name = `trained-${process.pid}`;
    try {
      const run = await ignite(
        ['run', `${t.registry}/ignite-busybox`, '--name', name, '--net', 'none'],
        { env: t.env },
      );
      assert.equal(run.code, 0, run.stderr);
      await waitForBusyboxInit(t.dataDir, run.stdout);
      for (const b of bundles) {
        const file = join(DIST, b);
        const tag = async (suffix: string) =>
          (await readFile(`${file}${suffix}`).catch(() => Buffer.alloc(0))).subarray(0, 32);
        // The CLI's is written as it exits, the supervisor's a few seconds after its VM runs.
        await eventually(
          `${b}: a trained cache of this build`,
          async () => {
            const trained = await tag('.trained-cache');
            return trained.length === 32 && trained.equals(await tag('.cache')) ? true : undefined;
          },
          30_000,
          100,
        );
        const next = await loadBundle(file, false, ['--help']);
        assert.deepEqual([next.cacheUsed, next.trained], [true, true], `${b}: not taken`);
      }
    } finally {
      await ignite(['rm', '-f', name], { env: t.env });
    }
  },
);
