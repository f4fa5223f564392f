// Host memory per running VM: the supervisor's RSS plus the hypervisor's RSS, minus the guest's
// RAM. Under TCG, QEMU touches guest RAM lazily, so the hypervisor's RSS holds only the pages the
// guest used; the raw figures are reported beside the overhead.
import { readFile } from 'node:fs/promises';
import { benchEnv, bootBusybox, median } from './lib.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
// The micro kernel (the bench's default, as in the tests) boots busybox in 64 MiB; Debian's generic
// kernel needs about 88 MiB.
const GUEST_MIB = 64;

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

export async function memoryBench(): Promise<{ rows: string[][] }> {
  await using b = await benchEnv(['busybox', 'kernel']);
  const spawnRss: number[] = [];
  const hvRss: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const name = `mem-${i}`;
    await bootBusybox(b, name, { memory: `${GUEST_MIB}MB` });
    // Let the guest settle after its init line.
    await new Promise((r) => setTimeout(r, 3000));
    const vm = JSON.parse(await b.ig(['inspect', 'vm', name])) as {
      status: { runtime: { spawnPid: number; pid: number } };
    };
    spawnRss.push(await rssMiB(vm.status.runtime.spawnPid));
    hvRss.push(await rssMiB(vm.status.runtime.pid));
    await b.ig(['rm', '-f', name]);
  }
  const s = median(spawnRss);
  const h = median(hvRss);
  const overhead = s + h - GUEST_MIB;
  return {
    rows: [
      [
        'memory: ignite-spawn RSS per VM',
        `${s.toFixed(1)} MiB`,
        `target ≤ 30 MiB; median of ${RUNS}`,
      ],
      [
        'memory: hypervisor (QEMU, TCG) RSS per VM',
        `${h.toFixed(1)} MiB`,
        `${GUEST_MIB} MiB guest, busybox idle`,
      ],
      [
        'memory: host memory per VM (spawn + hypervisor − guest RAM)',
        `${overhead.toFixed(1)} MiB`,
        'negative would mean the guest has not touched all its RAM',
      ],
    ],
  };
}
