// The daemon's API against the CLI, in the same run: create+start of the busybox image through
// `POST …/vms?start=true` to the guest's first init line, interleaved with `ignite run` of the
// same image; and `GET …/vms` with 1,000 stored VMs against `ignite ps -a` of the same store.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BUSYBOX_INIT } from '../test/helpers/console.js';
import { API, startTestDaemon } from '../test/helpers/daemon.js';
import {
  benchEnv,
  dataDirWithStoppedVMs,
  bootBusybox,
  fmt,
  IGNITE_BIN,
  median,
  pexec,
  sampleInTurns,
  waitInFile,
} from './lib.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 7);
const COUNT = 1000;

export async function apiBench(): Promise<{ rows: string[][] }> {
  return { rows: [...(await bootRows()), ...(await listRows())] };
}

async function bootRows(): Promise<string[][]> {
  await using b = await benchEnv(['busybox', 'kernel']);
  await b.ig(['image', 'import', `${b.registry}/ignite-busybox`]);
  await b.ig(['kernel', 'import', b.env['IGNITE_KERNEL_IMAGE'] ?? '']);
  await using d = await startTestDaemon(b.env, { dir: b.dataDir });
  const cli: number[] = [];
  const api: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const name = `cli-${i}`;
    cli.push((await bootBusybox(b, name, { memory: '64MB' })).ms);
    await b.ig(['rm', '-f', name]);
    const t0 = performance.now();
    const r = await d.request('POST', `${API}/vms?start=true`, manifest(`api-${i}`, b.registry));
    if (r.status !== 201) throw new Error(`POST vms: ${r.status} ${r.text}`);
    const uid = (r.json as { metadata: { uid: string } }).metadata.uid;
    api.push(await waitInFile(join(b.dataDir, 'vm', uid, 'console.log'), BUSYBOX_INIT, t0));
    const del = await d.request('DELETE', `${API}/vms/${uid}?force=true`);
    if (del.status !== 200) throw new Error(`DELETE vm: ${del.status} ${del.text}`);
  }
  const ratio = median(api) / median(cli);
  return [
    [
      'boot: ignite run to first init line (64 MiB, --net none)',
      fmt(median(cli)),
      `median of ${RUNS}, interleaved with the API`,
    ],
    [
      'boot: POST …/vms?start=true to first init line, same VM',
      fmt(median(api)),
      `ratio ${ratio.toFixed(2)} to ignite run (target ≤ 1.05)`,
    ],
  ];
}

function manifest(name: string, registry: string) {
  return {
    apiVersion: 'ignite.weave.works/v1alpha1',
    kind: 'VM',
    metadata: { name },
    spec: {
      image: { ociClaim: { ref: `${registry}/ignite-busybox` } },
      memory: '64MB',
      network: { mode: 'none' },
    },
  };
}

async function listRows(): Promise<string[][]> {
  const dataDir = await dataDirWithStoppedVMs(COUNT);
  try {
    const env = { ...process.env, IGNITE_DATA_DIR: dataDir };
    await using d = await startTestDaemon(env, { dir: dataDir });
    const get = async () => {
      const r = await d.request('GET', `${API}/vms`);
      const n = (r.json as { items?: unknown[] } | undefined)?.items?.length;
      if (n !== COUNT) throw new Error(`GET vms listed ${n ?? r.status}, not ${COUNT}`);
    };
    const [gets, pss] = await sampleInTurns(RUNS, get, () =>
      pexec(process.execPath, [IGNITE_BIN, 'ps', '-a'], { env, maxBuffer: 64 << 20 }),
    );
    const api = median(gets);
    const ps = median(pss);
    return [
      [
        `GET …/vms with ${COUNT} stored VMs (daemon running)`,
        fmt(api),
        `ratio ${(api / ps).toFixed(2)} to ignite ps -a of the same store (${fmt(ps)}); median of ${RUNS}`,
      ],
    ];
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
