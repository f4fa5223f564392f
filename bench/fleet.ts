// The fleet against one host, in the same run: `ignite run` through the fleet (stored, placed by
// the elected scheduler, made and started by the owning host's agent) against `ignite run` on a
// single host's data dir, each to the guest's first init line; and `ignite ps -a` over 1,000
// VMs in etcd against the same 1,000 in a data dir.
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EtcdRawStorage } from '../src/storage/etcd-raw-storage.js';
import { BUSYBOX_INIT } from '../test/helpers/console.js';
import { startEtcdCluster } from '../test/helpers/etcd-cluster.js';
import { startTestFleet } from '../test/helpers/fleet.js';
import {
  benchEnv,
  bootBusybox,
  dataDirWithStoppedVMs,
  fmt,
  IGNITE_BIN,
  median,
  pexec,
  sampleInTurns,
  waitInFile,
} from './lib.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const COUNT = 1000;

export async function fleetBench(): Promise<{ rows: string[][] }> {
  return { rows: [...(await placementRows()), ...(await listRows())] };
}

async function placementRows(): Promise<string[][]> {
  await using single = await benchEnv(['busybox', 'kernel']);
  await using fleet = await startTestFleet({ capacityCPUs: 4, capacityMemory: '1GB' });
  const h1 = fleet.hosts[0];
  if (!h1) throw new Error('fleet: no host');
  const one: number[] = [];
  const many: number[] = [];
  // One warm-up each, so both sides have the image and kernel imported.
  const warm = await bootBusybox(single, 'warm', { memory: '64MB' });
  await single.ig(['rm', '-f', warm.uid]);
  await fleetBoot(fleet, 'warm');
  for (let i = 0; i < RUNS; i++) {
    const s = await bootBusybox(single, `one-${i}`, { memory: '64MB' });
    one.push(s.ms);
    await single.ig(['rm', '-f', s.uid]);
    many.push(await fleetBoot(fleet, `fleet-${i}`));
  }
  const ratio = median(many) / median(one);
  return [
    [
      'boot: ignite run to first init line, one host (64 MiB, --net none)',
      fmt(median(one)),
      `median of ${RUNS}, interleaved with the fleet`,
    ],
    [
      'placement: ignite run through a 3-host fleet on etcd to first init line',
      fmt(median(many)),
      `ratio ${ratio.toFixed(2)} to one host (target ≤ 1.5)`,
    ],
  ];
}

/** `ignite run` from host 1's CLI; ms until the init line shows in the owner's console log. */
async function fleetBoot(
  fleet: Awaited<ReturnType<typeof startTestFleet>>,
  name: string,
): Promise<number> {
  const t0 = performance.now();
  const r = await fleet.cli(0, [
    'run',
    `${fleet.registry}/ignite-busybox`,
    '--name',
    name,
    '--net',
    'none',
    '--memory',
    '64MB',
  ]);
  if (r.code !== 0) throw new Error(`fleet run ${name}: ${r.stderr}`);
  const ps = await fleet.cli(0, ['inspect', 'vm', name, '-o', 'json']);
  const vm = JSON.parse(ps.stdout) as { metadata: { uid: string }; status: { host?: string } };
  const host = fleet.hosts.find((h) => h.name === vm.status.host);
  if (!host) throw new Error(`fleet run ${name}: placed on ${vm.status.host ?? 'no host'}`);
  const file = join(host.dataDir, 'vm', vm.metadata.uid, 'console.log');
  const ms = await waitInFile(file, BUSYBOX_INIT, t0);
  const del = await fleet.cli(0, ['rm', '-f', name]);
  if (del.code !== 0) throw new Error(`fleet rm ${name}: ${del.stderr}`);
  return ms;
}

async function listRows(): Promise<string[][]> {
  const dataDir = await dataDirWithStoppedVMs(COUNT);
  await using etcd = await startEtcdCluster();
  try {
    // The same bytes, key for key, in etcd.
    const raw = new EtcdRawStorage({ endpoints: etcd.endpoints.split(',') });
    try {
      for (const uid of await readdir(join(dataDir, 'vm'))) {
        if (uid.startsWith('.')) continue;
        const data = await readFile(join(dataDir, 'vm', uid, 'metadata.json'));
        await raw.write({ kind: 'VM', uid }, data);
      }
    } finally {
      await raw.close();
    }
    const list = (env: NodeJS.ProcessEnv) => async () => {
      const r = await pexec(process.execPath, [IGNITE_BIN, 'ps', '-a', '-q'], {
        env,
        maxBuffer: 64 << 20,
      });
      const n = r.stdout.split('\n').filter(Boolean).length;
      if (n !== COUNT) throw new Error(`ps -a listed ${n}, not ${COUNT}`);
    };
    const fsEnv = { ...process.env, IGNITE_DATA_DIR: dataDir };
    const etcdEnv = { ...fsEnv, IGNITE_STORE: etcd.storeURL };
    const [fs, etcdTimes] = await sampleInTurns(RUNS, list(fsEnv), list(etcdEnv));
    const onFs = median(fs);
    const onEtcd = median(etcdTimes);
    return [
      [
        `ps -a with ${COUNT} VMs in etcd (3 members)`,
        fmt(onEtcd),
        `ratio ${(onEtcd / onFs).toFixed(2)} to the same VMs in a data dir (${fmt(onFs)}); target ≤ 2; median of ${RUNS}`,
      ],
    ];
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
