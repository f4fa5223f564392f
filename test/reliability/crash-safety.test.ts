import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IGNITE_BIN, ignite } from '../helpers/cli.js';
import { leftovers } from '../helpers/host-leftovers.js';
import { vmTestEnv } from '../helpers/vm-env.js';
import { prng } from '../helpers/prng.js';

const TRIALS = Number(process.env['IGNITE_CRASH_TRIALS'] ?? 20);
const SEED = Number(process.env['IGNITE_CRASH_SEED'] ?? 424242);

/** Starts `ignite args` and SIGKILLs it after `delayMs` (or lets it finish first). */
function killAfter(args: string[], env: NodeJS.ProcessEnv, delayMs: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [IGNITE_BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(signal ?? `exit ${code}`);
    });
  });
}

/** The stored objects' files: not those in directories a write or delete has on its way (`.new-`, `.trash-`). */
async function metadataFiles(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) await metadataFiles(p, out);
    else if (e.name === 'metadata.json') out.push(p);
  }
  return out;
}

// kill -9 of the CLI at random points of create, import and rm. After each kill the store still
// parses and ps works; a retry or rm -f gets back to a clean state with nothing leaked.
test(
  `crash safety: ${TRIALS} random kill -9 during create, import and rm (seed ${SEED})`,
  { timeout: 900_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    const image = `${t.registry}/ignite-busybox`;
    const rnd = prng(SEED);
    // How long each takes uninterrupted here, so the kills land anywhere inside it.
    const timed = async (args: string[]) => {
      const t0 = performance.now();
      const r = await ignite(args, { env });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return performance.now() - t0;
    };
    const importMs = await timed(['image', 'import', image]);
    await timed(['kernel', 'import', `${t.registry}/ignite-kernel:6.1`]);
    const createMs = await timed(['create', image, '--name', 'probe', '--net', 'docker-bridge']);
    const rmMs = await timed(['rm', '-f', 'probe']);
    const uids = new Set<string>();
    const outcomes: string[] = [];

    for (let i = 0; i < TRIALS; i++) {
      const op = (['create', 'import', 'rm'] as const)[i % 3] ?? 'create';
      const name = `crash-${i}`;
      const net = i % 2 === 0 ? 'none' : 'docker-bridge';
      let args: string[];
      let span: number;
      if (op === 'create') {
        args = ['create', image, '--name', name, '--net', net];
        span = createMs;
      } else if (op === 'import') {
        assert.equal((await ignite(['image', 'rm', image], { env })).code, 0);
        args = ['image', 'import', image];
        span = importMs;
      } else {
        const made = await ignite(['create', image, '--name', name, '--net', net], { env });
        assert.equal(made.code, 0, made.stderr);
        uids.add(made.stdout.trim());
        args = ['rm', '-f', name];
        span = rmMs;
      }
      const delay = Math.floor(rnd() * span * 1.1);
      outcomes.push(`${op}@${delay}ms: ${await killAfter(args, env, delay)}`);

      // Right after the kill: every stored object parses, and listing works.
      for (const f of await metadataFiles(t.dataDir)) {
        const text = await readFile(f, 'utf8').catch(() => '{}');
        assert.doesNotThrow(() => JSON.parse(text), `${f} parses`);
      }
      const ps = await ignite(['ps', '-a', '-o', 'json'], { env });
      assert.equal(ps.code, 0, `trial ${i} (${op}): ps after the kill: ${ps.stderr}`);
      for (const v of JSON.parse(ps.stdout) as { metadata: { uid: string } }[])
        uids.add(v.metadata.uid);
      assert.equal((await ignite(['image', 'ls', '-o', 'json'], { env })).code, 0);

      // The retry, or rm -f, gets back to a clean state.
      if (op === 'import') {
        const again = await ignite(['image', 'import', image], { env });
        assert.equal(again.code, 0, `trial ${i}: import retried: ${again.stderr}`);
      } else {
        const rm = await ignite(['rm', '-f', name], { env });
        assert.ok([0, 3].includes(rm.code), `trial ${i}: rm -f after the kill: ${rm.stderr}`);
      }
      const left = await ignite(['ps', '-a', '-q'], { env });
      assert.equal(left.stdout.trim(), '', `trial ${i} (${op}): VMs left: ${left.stdout}`);
    }

    // Nothing leaked, of any VM any trial made: files, processes, namespaces, taps, reservations.
    const vmDirs = (await readdir(join(t.dataDir, 'vm'))).filter((e) => !e.startsWith('.trash-'));
    const contents = await Promise.all(
      vmDirs.map(async (d) => `${d}: ${(await readdir(join(t.dataDir, 'vm', d))).join(' ')}`),
    );
    assert.deepEqual(
      vmDirs,
      [],
      `no VM directory (${contents.join('; ')}; ${outcomes.join('; ')})`,
    );
    assert.deepEqual(
      await readdir(join(t.dataDir, '.staging')).catch(() => []),
      [],
      'no staging dir',
    );
    const network = await readdir(join(t.dataDir, 'network')).catch(() => [] as string[]);
    assert.deepEqual(
      network.filter((f) => [...uids].some((u) => f.startsWith(u))),
      [],
      `no network state (${outcomes.join('; ')})`,
    );
    for (const uid of uids)
      assert.deepEqual(await leftovers(uid), [], `vm ${uid}: nothing on the host`);
    const mounts = await readFile('/proc/self/mounts', 'utf8');
    assert.ok(!mounts.includes(t.dataDir), 'no mount under the data dir');
    const images = JSON.parse(
      (await ignite(['image', 'ls', '-o', 'json'], { env })).stdout,
    ) as unknown[];
    assert.equal(images.length, 1, 'the image, imported once');
    process.stderr.write(`crash trials: ${outcomes.join('; ')}\n`);
  },
);
