// Host memory per running VM. One host supervisor (ignite-spawn --supervise-host) supervises
// every VM of a data dir, so its RSS is shared: the figure per VM is its RSS over the VMs it
// supervises, with the supervisor's RSS alone with one VM and what each further VM adds reported
// beside it. The hypervisor's RSS is per VM; under TCG, QEMU touches guest RAM lazily, so it holds
// only the pages the guest used.
import { readFile } from 'node:fs/promises';
import { benchEnv, bootBusybox, median } from './lib.js';

const VMS = Number(process.env['BENCH_MEMORY_VMS'] ?? 4);
// The micro kernel (the bench's default, as in the tests) boots busybox in 64 MiB; Debian's generic
// kernel needs about 88 MiB.
const GUEST_MIB = 64;

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

interface RuntimeJSON {
  status: { runtime: { spawnPid: number; pid: number } };
}

export async function memoryBench(): Promise<{ rows: string[][] }> {
  await using b = await benchEnv(['busybox', 'kernel']);
  const inspect = async (name: string) =>
    (JSON.parse(await b.ig(['inspect', 'vm', name])) as RuntimeJSON).status.runtime;
  const supervisorRss: number[] = [];
  const hvRss: number[] = [];
  let supervisor = 0;
  for (let i = 0; i < VMS; i++) {
    const name = `mem-${i}`;
    await bootBusybox(b, name, { memory: `${GUEST_MIB}MB` });
    // Let the guest and the supervisor settle after the init line.
    await new Promise((r) => setTimeout(r, 3000));
    const run = await inspect(name);
    if (i > 0 && run.spawnPid !== supervisor)
      throw new Error(
        `vm ${name}: supervised by ${run.spawnPid}, not the host supervisor ${supervisor}`,
      );
    supervisor = run.spawnPid;
    supervisorRss.push(await rssMiB(supervisor));
    hvRss.push(await rssMiB(run.pid));
  }
  const all = supervisorRss.at(-1) ?? 0;
  const alone = supervisorRss[0] ?? 0;
  const perVM = all / VMS;
  const added = VMS > 1 ? (all - alone) / (VMS - 1) : 0;
  const h = median(hvRss);
  return {
    rows: [
      [
        'memory: supervisor RSS per VM (host supervisor RSS / VMs)',
        `${perVM.toFixed(1)} MiB`,
        `target ≤ 30 MiB; ${all.toFixed(1)} MiB over ${VMS} VMs`,
      ],
      [
        'memory: host supervisor RSS with one VM',
        `${alone.toFixed(1)} MiB`,
        'a Node process; paid once per data dir',
      ],
      [
        'memory: what each further VM adds to the supervisor',
        `${added.toFixed(1)} MiB`,
        `mean over VMs 2..${VMS}`,
      ],
      [
        'memory: hypervisor (QEMU, TCG) RSS per VM',
        `${h.toFixed(1)} MiB`,
        `${GUEST_MIB} MiB guest, busybox idle; median of ${VMS}`,
      ],
      [
        'memory: host memory per VM (supervisor share + hypervisor − guest RAM)',
        `${(perVM + h - GUEST_MIB).toFixed(1)} MiB`,
        'negative would mean the guest has not touched all its RAM',
      ],
    ],
  };
}
