import { mkdir, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ignite, type CliResult } from './cli.js';
import { startTestDaemon, type TestDaemon } from './daemon.js';
import { tempDataDir } from './data-dir.js';
import { startEtcdCluster, type EtcdCluster } from './etcd-cluster.js';
import { pushProjectImages, startRegistry } from './registry.js';
import { TEST_KERNEL } from './vm-env.js';

/** One agent of a test fleet: its own data dir, runtime dir and socket, as a separate host has. */
export interface FleetHost {
  name: string;
  dataDir: string;
  runtimeDir: string;
  /** The running agent, or undefined while it is stopped. */
  daemon: TestDaemon | undefined;
  /** Starts (or restarts) the agent with the flags it was first given. */
  start(): Promise<void>;
  /** The environment `ignite` runs with on this host: its data dir, the fleet store, TCG. */
  env: NodeJS.ProcessEnv;
}

export interface TestFleet extends AsyncDisposable {
  etcd: EtcdCluster;
  registry: string;
  hosts: FleetHost[];
  /** `ignite` on host `i` (0-based), against the fleet's store. */
  cli(i: number, args: readonly string[], timeoutMs?: number, input?: string): Promise<CliResult>;
  /**
   * The hosts each VM's hypervisor runs on now, by VM UID, read from /proc: every QEMU whose
   * root disk lies in one of the fleet's data dirs.
   */
  hypervisors(): Promise<Map<string, string[]>>;
}

export interface TestFleetOptions {
  /** Agents (default 3), named h1, h2, …. */
  size?: number;
  capacityCPUs?: number;
  capacityMemory?: string;
  leaseTTLSeconds?: number;
  rescheduleGraceSeconds?: number;
  /** Extra `--host-label`s per host, by index. */
  labels?: Record<number, string[]>;
}

/**
 * A fleet on one machine: a real 3-member etcd cluster and `size` real `ignited` agents, each
 * acting as one host with its own data dir, runtime dir and socket, all sharing the store. The
 * project's busybox image and micro kernel are served by a real registry. Everything (agents,
 * VMs, etcd, dirs) is torn down by `await using`.
 */
export async function startTestFleet(options: TestFleetOptions = {}): Promise<TestFleet> {
  const size = options.size ?? 3;
  const reg = await startRegistry();
  const cleanups: (() => PromiseLike<unknown>)[] = [() => reg[Symbol.asyncDispose]()];
  try {
    await pushProjectImages(reg.host, ['busybox', 'debian-slim', 'kernel-micro']);
    const etcd = await startEtcdCluster();
    cleanups.unshift(() => etcd[Symbol.asyncDispose]());
    const hosts: FleetHost[] = [];
    for (let i = 1; i <= size; i++) {
      const dir = await tempDataDir();
      cleanups.unshift(() => dir[Symbol.asyncDispose]());
      const dataDir = join(dir.path, 'data');
      const runtimeDir = join(dir.path, 'run');
      await mkdir(runtimeDir, { recursive: true, mode: 0o700 });
      const env: NodeJS.ProcessEnv = {
        IGNITE_DATA_DIR: dataDir,
        IGNITE_STORE: etcd.storeURL,
        IGNITE_KERNEL_IMAGE: `${reg.host}/${TEST_KERNEL}`,
        IGNITE_ACCEL: 'tcg',
      };
      const name = `h${i}`;
      const args = [
        '--data-dir',
        dataDir,
        '--host-name',
        name,
        '--runtime-dir',
        runtimeDir,
        '--capacity-cpus',
        String(options.capacityCPUs ?? 2),
        '--capacity-memory',
        options.capacityMemory ?? '256MB',
        '--lease-ttl',
        String(options.leaseTTLSeconds ?? 5),
        '--reschedule-grace',
        String(options.rescheduleGraceSeconds ?? 3),
        ...(options.labels?.[i - 1] ?? []).flatMap((l) => ['--host-label', l]),
      ];
      const host: FleetHost = {
        name,
        dataDir,
        runtimeDir,
        env,
        daemon: undefined,
        async start() {
          host.daemon = await startTestDaemon(env, {
            dir: runtimeDir,
            socket: join(runtimeDir, 'ignited.sock'),
            args,
          });
        },
      };
      await host.start();
      cleanups.unshift(async () => {
        // VMs first, while their agent can still stop them; then the agent and its group.
        const left = await ignite(['ps', '-a', '-q'], { env }).catch(() => undefined);
        const ids = left?.stdout.split('\n').filter(Boolean) ?? [];
        if (ids.length > 0) await ignite(['rm', '-f', ...ids], { env }).catch(() => undefined);
        await host.daemon?.killGroup().catch(() => undefined);
        await killHypervisorsUnder(dataDir);
      });
      hosts.push(host);
    }
    return {
      etcd,
      registry: reg.host,
      hosts,
      cli: (i, args, timeoutMs, input) => {
        const host = hosts[i];
        if (!host) throw new Error(`no host ${i}`);
        return ignite(args, {
          env: host.env,
          timeoutMs: timeoutMs ?? 180_000,
          ...(input !== undefined ? { input } : {}),
        });
      },
      hypervisors: () => hypervisorsByVM(hosts),
      [Symbol.asyncDispose]: async () => {
        for (const c of cleanups) await Promise.resolve(c()).catch(() => undefined);
      },
    };
  } catch (err) {
    for (const c of cleanups) await Promise.resolve(c()).catch(() => undefined);
    throw err;
  }
}

interface HypervisorProcess {
  pid: number;
  argv: string[];
}

async function hypervisorProcesses(): Promise<HypervisorProcess[]> {
  const out: HypervisorProcess[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const exe = await readlink(`/proc/${entry}/exe`);
      if (!exe.includes('qemu-system')) continue;
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      out.push({ pid: Number(entry), argv });
    } catch {
      // Gone between the listing and the read.
    }
  }
  return out;
}

/** The VM UID a hypervisor serves, when its root disk lies in `<dataDir>/vm/<uid>/`. */
function vmOf(p: HypervisorProcess, dataDir: string): string | undefined {
  const prefix = `${dataDir}/vm/`;
  for (const arg of p.argv) {
    const at = arg.indexOf(prefix);
    if (at < 0) continue;
    const uid = /^[0-9a-f]{16}/.exec(arg.slice(at + prefix.length))?.[0];
    if (uid !== undefined) return uid;
  }
  return undefined;
}

async function hypervisorsByVM(hosts: readonly FleetHost[]): Promise<Map<string, string[]>> {
  const byVM = new Map<string, string[]>();
  for (const p of await hypervisorProcesses()) {
    for (const h of hosts) {
      const uid = vmOf(p, h.dataDir);
      if (uid === undefined) continue;
      byVM.set(uid, [...(byVM.get(uid) ?? []), h.name]);
    }
  }
  return byVM;
}

async function killHypervisorsUnder(dataDir: string): Promise<void> {
  for (const p of await hypervisorProcesses()) {
    if (vmOf(p, dataDir) === undefined) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * Samples `fleet.hypervisors()` every `everyMs` until stopped, and records every moment a VM ran
 * on more than one host: the fleet's "no double start" invariant, checked from outside.
 */
export function watchForDoubleRuns(
  fleet: Pick<TestFleet, 'hypervisors'>,
  everyMs = 200,
): { stop(): Promise<{ samples: number; doubles: string[] }> } {
  const doubles: string[] = [];
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const byVM = await fleet.hypervisors();
      samples++;
      for (const [uid, on] of byVM)
        if (on.length > 1) doubles.push(`${new Date().toISOString()} ${uid} on ${on.join(',')}`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { samples, doubles };
    },
  };
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined; fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what}: not within ${timeoutMs} ms${last instanceof Error ? ` (last error: ${last.message})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
