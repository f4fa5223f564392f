// `ignite ps -a` with 1,000 stored VMs, against `ignite version` (bare CLI start-up), in this run.
// The VMs are written through the real storage client, as `ignite create` stores them.
import { rm } from 'node:fs/promises';
import { IGNITE_BIN, dataDirWithStoppedVMs, fmt, median, pexec, sampleInTurns } from './lib.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 7);
const COUNT = 1000;

export async function psLatencyBench(): Promise<{ rows: string[][]; ratio: number }> {
  const dataDir = await dataDirWithStoppedVMs(COUNT);
  try {
    const env = { ...process.env, IGNITE_DATA_DIR: dataDir };
    const run = (args: string[]) =>
      pexec(process.execPath, [IGNITE_BIN, ...args], { env, maxBuffer: 64 << 20 });
    const listed = (await run(['ps', '-a', '-q'])).stdout.trim().split('\n').length;
    if (listed !== COUNT) throw new Error(`ps -a listed ${listed} VMs, not ${COUNT}`);
    const [versions, pss] = await sampleInTurns(
      RUNS,
      () => run(['version']),
      () => run(['ps', '-a']),
    );
    const version = median(versions);
    const ps = median(pss);
    return {
      ratio: ps / version,
      rows: [
        ['ignite version (bare CLI start-up)', fmt(version), `median of ${RUNS}, in turns with ps`],
        [
          `ignite ps -a with ${COUNT} stored VMs`,
          fmt(ps),
          `ratio ${(ps / version).toFixed(2)} to version (target ≤ 1.5)`,
        ],
      ],
    };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
