// Rootless against root, in the same run:
// - `ignite run` of the busybox image to the guest's first init line, as an ordinary user and as
//   root, interleaved round by round: each with its default network (the user's passt, root's CNI
//   bridge), and both with `--net none`, which leaves the cost of running unprivileged alone.
// - guest → host TCP throughput: a Debian guest writes to a Node server on the host, reached at
//   its gateway, over user networking (passt, or slirp where passt is missing) and over the
//   bridge. The issue sets no target for it.
// Also runnable alone: `npx tsx bench/rootless.ts` (after `npm run build`).
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUSYBOX_INIT } from '../test/helpers/console.js';
import { pushProjectImages, startRegistry } from '../test/helpers/registry.js';
import { ensureUser, ROOTLESS_USERS, runtimeDirOf } from '../test/helpers/rootless-user.js';
import { TEST_KERNEL } from '../test/helpers/vm-env.js';
import { IGNITE_BIN, fmt, median, pexec, waitInFile } from './lib.js';

// TCG boots on a shared host vary by ±20 % from one to the next; the rounds interleave the two
// users so that drift in the host's load falls on both.
const RUNS = Number(process.env['BENCH_RUNS'] ?? 9);
/** Bytes per guest → host transfer, and transfers per network. */
const TRANSFER_MIB = Number(process.env['BENCH_TRANSFER_MIB'] ?? 64);
const TRANSFERS = 3;

interface Runner {
  /** Runs `ignite` as this user; its stdout. */
  ig(args: string[]): Promise<string>;
  dataDir: string;
}

export async function rootlessBench(): Promise<{ rows: string[][] }> {
  await using reg = await startRegistry();
  await pushProjectImages(reg.host, ['busybox', 'debian-slim', 'kernel-micro']);
  const user = await ensureUser(ROOTLESS_USERS[0]);
  const runtime = await runtimeDirOf(user);
  const rootData = await mkdtemp(join(tmpdir(), 'ignite-bench-root-'));
  const userData = await mkdtemp(join(tmpdir(), 'ignite-bench-user-'));
  await chown(userData, user.uid, user.uid);
  const common = {
    IGNITE_KERNEL_IMAGE: `${reg.host}/${TEST_KERNEL}`,
    IGNITE_ACCEL: 'tcg',
    PATH: process.env['PATH'] ?? '',
  };
  // Both start from `env -i` with the same variables; the user's through setpriv, which switches
  // ids without a PAM session (runuser's costs tens of ms that root's run would not pay).
  const runner = (dataDir: string, prefix: string[], env: Record<string, string>): Runner => ({
    dataDir,
    ig: async (args) =>
      (
        await pexec(
          prefix[0] ?? 'env',
          [
            ...(prefix.length > 0 ? [...prefix.slice(1), 'env'] : []),
            '-i',
            ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
            process.execPath,
            IGNITE_BIN,
            '--log-level',
            'warn',
            ...args,
          ],
          { maxBuffer: 64 << 20 },
        )
      ).stdout,
  });
  const root = runner(rootData, [], {
    ...common,
    HOME: '/root',
    IGNITE_DATA_DIR: rootData,
  });
  const setpriv = ['setpriv', `--reuid=${user.uid}`, `--regid=${user.uid}`, '--init-groups', '--'];
  const rootless = runner(userData, setpriv, {
    ...common,
    HOME: user.home,
    USER: user.name,
    IGNITE_DATA_DIR: userData,
    XDG_RUNTIME_DIR: runtime,
  });
  try {
    for (const r of [root, rootless]) {
      await r.ig(['image', 'import', `${reg.host}/ignite-busybox`]);
      await r.ig(['image', 'import', `${reg.host}/ignite-debian:slim`]);
      await r.ig(['kernel', 'import', `${reg.host}/${TEST_KERNEL}`]);
    }
    const boot = async (r: Runner, name: string, net: string[]): Promise<number> => {
      const t0 = performance.now();
      const out = await r.ig(['run', `${reg.host}/ignite-busybox`, '--name', name, ...net]);
      const uid = out.trim().split('\n').pop() ?? '';
      const ms = await waitInFile(join(r.dataDir, 'vm', uid, 'console.log'), BUSYBOX_INIT, t0);
      await r.ig(['rm', '-f', name]);
      return ms;
    };
    const samples: Record<'rootDefault' | 'userDefault' | 'rootNone' | 'userNone', number[]> = {
      rootDefault: [],
      userDefault: [],
      rootNone: [],
      userNone: [],
    };
    // One warm-up boot each: the first run of a data dir probes the host (accel, TSC).
    await boot(root, 'warm', ['--net', 'none']);
    await boot(rootless, 'warm', ['--net', 'none']);
    for (let i = 0; i < RUNS; i++) {
      // Alternate who goes first, so neither always boots on a host the other just warmed.
      const order = i % 2 === 0 ? ([root, rootless] as const) : ([rootless, root] as const);
      for (const r of order) {
        const who = r === root ? 'root' : 'user';
        samples[`${who}Default`].push(await boot(r, `d-${i}`, []));
        samples[`${who}None`].push(await boot(r, `n-${i}`, ['--net', 'none']));
      }
    }
    const bridged = await throughput(root, reg.host, 'tput-bridge');
    const userNet = await throughput(rootless, reg.host, 'tput-user');
    const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) as Record<
      keyof typeof samples,
      number
    >;
    const pairs = (a: number[], b: number[]) => median(a.map((x, i) => x / (b[i] ?? x))).toFixed(2);
    const mbps = (bytesPerMs: number) => `${((bytesPerMs * 8) / 1000).toFixed(0)} Mbit/s`;
    return {
      rows: [
        [
          'rootless: root `ignite run` (CNI bridge, its default) to first init line',
          fmt(m.rootDefault),
          `median of ${RUNS}, interleaved with the user's`,
        ],
        [
          'rootless: user `ignite run` (user network, its default) to first init line',
          fmt(m.userDefault),
          `ratio ${(m.userDefault / m.rootDefault).toFixed(2)} to root's (target ≤ 1.10); median of the pairs' ratios ${pairs(samples.userDefault, samples.rootDefault)}`,
        ],
        [
          'rootless: root `ignite run --net none` to first init line',
          fmt(m.rootNone),
          `median of ${RUNS}`,
        ],
        [
          'rootless: user `ignite run --net none` to first init line',
          fmt(m.userNone),
          `ratio ${(m.userNone / m.rootNone).toFixed(2)} to root's (target ≤ 1.10); median of the pairs' ratios ${pairs(samples.userNone, samples.rootNone)}`,
        ],
        [
          'rootless: guest → host TCP over the bridge (root, CNI)',
          mbps(bridged.rate),
          `median of ${TRANSFERS} transfers of ${TRANSFER_MIB} MiB (Debian guest, TCG)`,
        ],
        [
          `rootless: guest → host TCP over user networking (${userNet.backend})`,
          mbps(userNet.rate),
          `ratio ${(userNet.rate / bridged.rate).toFixed(2)} to the bridge's (no target); median of ${TRANSFERS}`,
        ],
      ],
    };
  } finally {
    for (const r of [root, rootless]) {
      const left = await r.ig(['ps', '-a', '-q']).catch(() => '');
      const ids = left.split('\n').filter(Boolean);
      if (ids.length > 0) await r.ig(['rm', '-f', ...ids]).catch(() => undefined);
    }
    await rm(rootData, { recursive: true, force: true });
    await rm(userData, { recursive: true, force: true });
    await rm(runtime, { recursive: true, force: true });
  }
}

/**
 * The median rate (bytes per ms) at which a Debian guest on its runner's default network writes to a server on
 * the host that it reaches at its default gateway, timed on the host from the first byte to the
 * end of the stream.
 */
async function throughput(
  r: Runner,
  registry: string,
  name: string,
): Promise<{ rate: number; backend: string }> {
  await r.ig([
    'run',
    `${registry}/ignite-debian:slim`,
    '--name',
    name,
    '--ssh',
    '--memory',
    '256MB',
  ]);
  try {
    const exec = (cmd: string) =>
      r.ig(['exec', name, '--timeout', '180s', '--', 'bash', '-c', cmd]);
    const gw = /default via (\S+)/.exec(await exec('ip -4 route show default'))?.[1];
    if (gw === undefined) throw new Error(`vm "${name}": no default route`);
    const inspect = JSON.parse(await r.ig(['inspect', 'vm', name])) as {
      status: { network?: { mode?: string } };
    };
    const spawnLog = await r.ig(['logs', '--spawn', name]);
    const backend =
      inspect.status.network?.mode === 'user'
        ? /slirp|QEMU's user networking/.test(spawnLog)
          ? 'slirp'
          : 'passt'
        : 'bridge';
    const rates: number[] = [];
    for (let i = 0; i < TRANSFERS; i++) {
      let first = 0;
      let bytes = 0;
      const done = new Promise<number>((resolve, reject) => {
        const server = createServer((s) => {
          s.on('data', (d: Buffer) => {
            if (bytes === 0) first = performance.now();
            bytes += d.length;
          });
          s.on('end', () => {
            server.close();
            resolve(performance.now() - first);
          });
          s.on('error', reject);
        });
        server.listen(0, '0.0.0.0');
        server.once('listening', () => {
          const port = (server.address() as AddressInfo).port;
          exec(`head -c ${TRANSFER_MIB}M /dev/zero > /dev/tcp/${gw}/${port}`).catch(reject);
        });
      });
      const ms = await done;
      if (bytes !== TRANSFER_MIB << 20) throw new Error(`vm "${name}": ${bytes} bytes arrived`);
      rates.push(bytes / ms);
    }
    return { rate: median(rates), backend };
  } finally {
    await r.ig(['rm', '-f', name]).catch(() => undefined);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { rows } = await rootlessBench();
  process.stdout.write(
    ['| Figure | Median | Note |', '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)]
      .map((l) => `${l}\n`)
      .join(''),
  );
}
