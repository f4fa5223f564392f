// Density: how many small busybox VMs run at once on the host before a boot takes more than
// 3× the single-VM boot time. Each VM is started while all earlier ones keep running; a boot is
// timed from `ignite run` to the guest's first init line.
import { freemem } from 'node:os';
import { benchEnv, bootBusybox, fmt } from './lib.js';
import { TEST_KERNEL } from '../test/helpers/vm-env.js';

const CAP = Number(process.env['BENCH_DENSITY_CAP'] ?? 64);
/** Stop before the host runs short of memory: the figure is then a lower bound. */
const MIN_FREE_BYTES = 3 * 2 ** 30;
const BUDGET_MS = Number(process.env['BENCH_DENSITY_BUDGET_MS'] ?? 240_000);

export async function densityBench(): Promise<{ rows: string[][] }> {
  await using b = await benchEnv(['busybox', 'kernel']);
  await b.ig(['image', 'import', `${b.registry}/ignite-busybox`]);
  await b.ig(['kernel', 'import', `${b.registry}/${TEST_KERNEL}`]);
  const boot = async (i: number, memory: string, timeoutMs: number): Promise<number> =>
    (await bootBusybox(b, `d-${i}`, { memory, timeoutMs })).ms;
  // Density is counted in 64 MiB VMs; Debian's generic kernel may need more, so the smallest
  // size that boots is used, and the table says which.
  let memory = '64MB';
  let single: number;
  try {
    single = await boot(0, memory, 30_000);
  } catch {
    await b.ig(['rm', '-f', 'd-0']);
    memory = '96MB';
    single = await boot(0, memory, 120_000);
  }
  const started = performance.now();
  let running = 1;
  let last = single;
  let stop = 'cap';
  for (let i = 1; i < CAP; i++) {
    if (performance.now() - started > BUDGET_MS) {
      stop = `time budget of ${BUDGET_MS / 1000} s`;
      break;
    }
    if (freemem() < MIN_FREE_BYTES) {
      stop = 'host memory (less than 3 GiB free)';
      break;
    }
    last = await boot(i, memory, Math.max(3 * single * 2, 60_000)).catch(() => Infinity);
    if (last > 3 * single) {
      stop = `boot ${running + 1} took ${Number.isFinite(last) ? fmt(last) : 'too long'}`;
      break;
    }
    running++;
  }
  return {
    rows: [
      [
        `density: ${memory} busybox VMs running at once, each boot ≤ 3× the first`,
        `${stop.startsWith('boot') ? '' : '≥ '}${running} VMs`,
        `first boot ${fmt(single)}; stopped at: ${stop}${memory === '64MB' ? '' : " (64 MiB does not boot Debian's generic kernel, which reserves about 58 MiB at boot)"}`,
      ],
    ],
  };
}
