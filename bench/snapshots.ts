// Snapshots (docs/snapshots.md), all on a 256 MiB busybox guest with --net none and Debian's
// generic kernel (ignite-kernel:6.1, as the boot bench; the micro kernel boots under TCG in about
// the time a restore takes), in this run:
// - `start` after `stop --save` (a resume) against `start` after a plain `stop` (a cold boot),
//   each to the point where the guest answers on its console (an echo round trip);
// - `snapshot create`: the command's time, the save alone, and the snapshot's size;
// - `run --from-snapshot` (a clone) against a cold `run`, to the same point.
import { connect } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { benchEnv, fmt, median, type BenchEnv } from './lib.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const MEMORY = '256MB';

/** Every line typed is new: a line echoed in an earlier round must not count. */
let typed = 0;

/** Types on the VM's console until the guest's shell echoes a computed line; ms since `t0`. */
async function untilEcho(b: BenchEnv, uid: string, t0: number): Promise<number> {
  const dir = join(b.dataDir, 'vm', uid);
  while (performance.now() - t0 < 180_000) {
    const k = ++typed;
    const want = `echo-${k + 100_000}`;
    await new Promise<void>((resolve) => {
      const s = connect(join(dir, 'console.sock'));
      s.once('error', () => resolve());
      s.once('connect', () => s.end(`echo echo-$((${k}+100000))\n`, () => resolve()));
    });
    for (let i = 0; i < 20; i++) {
      const log = await readFile(join(dir, 'console.log'), 'utf8').catch(() => '');
      if (new RegExp(`^${want}\\r?$`, 'm').test(log)) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  throw new Error(`vm ${uid}: the console never echoed`);
}

async function timed(b: BenchEnv, args: string[], uid?: string): Promise<number> {
  const t0 = performance.now();
  const out = await b.ig(args);
  return untilEcho(b, uid ?? out.trim().split('\n').pop() ?? '', t0);
}

export async function snapshotsBench(): Promise<{ rows: string[][] }> {
  await using b = await benchEnv(['busybox', 'kernel']);
  const image = `${b.registry}/ignite-busybox`;
  const kernel = `${b.registry}/ignite-kernel:6.1`;
  const run = ['run', image, '--net', 'none', '--memory', MEMORY, '--kernel-image', kernel];
  const uid = (await b.ig([...run, '--name', 'src'])).trim().split('\n').pop() ?? '';
  await untilEcho(b, uid, performance.now());

  const cold: number[] = [];
  const resumed: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await b.ig(['stop', 'src']);
    cold.push(await timed(b, ['start', 'src'], uid));
    await b.ig(['stop', '--save', 'src']);
    resumed.push(await timed(b, ['start', 'src'], uid));
  }

  const create: number[] = [];
  const save: number[] = [];
  let size = '';
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await b.ig(['snapshot', 'create', 'src', '--name', `s${i}`]);
    create.push(performance.now() - t0);
    const snap = JSON.parse(await b.ig(['snapshot', 'inspect', `s${i}`])) as {
      status: { saveSeconds: number; size: string };
    };
    save.push(snap.status.saveSeconds * 1000);
    size = snap.status.size;
  }

  const clones: number[] = [];
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const last = `s${RUNS - 1}`;
    clones.push(
      await timed(b, ['run', '--from-snapshot', last, '--net', 'none', '--name', `c${i}`]),
    );
    await b.ig(['rm', '-f', `c${i}`]);
    runs.push(await timed(b, [...run, '--name', `r${i}`]));
    await b.ig(['rm', '-f', `r${i}`]);
  }
  await b.ig(['rm', '-f', 'src']);
  for (let i = RUNS - 1; i >= 0; i--) await b.ig(['snapshot', 'rm', `s${i}`]);

  const c = median(cold);
  const r = median(resumed);
  const k = median(clones);
  const n = median(runs);
  return {
    rows: [
      ['snapshot: start after stop (cold boot) to a console echo', fmt(c), `median of ${RUNS}`],
      [
        'snapshot: start after stop --save (resume) to a console echo',
        fmt(r),
        `ratio ${(r / c).toFixed(2)} of the cold boot (target ≤ 0.2)`,
      ],
      [
        'snapshot: snapshot create of a running 256 MiB busybox VM',
        fmt(median(create)),
        `the save alone ${fmt(median(save))}; size ${size}`,
      ],
      ['snapshot: run (cold) to a console echo', fmt(n), `median of ${RUNS}`],
      [
        'snapshot: run --from-snapshot (clone) to a console echo',
        fmt(k),
        `ratio ${(k / n).toFixed(2)} of the cold run`,
      ],
    ],
  };
}
