import { execFile, spawn } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { endHostSupervisor } from '../test/helpers/data-dir.js';
import { pushProjectImages, startRegistry, type ProjectImage } from '../test/helpers/registry.js';
import { TEST_KERNEL } from '../test/helpers/vm-env.js';
import { BUSYBOX_INIT } from '../test/helpers/console.js';
import { newUID } from '../src/api/index.js';
import { newFsClient } from '../src/storage/index.js';
import { vm } from '../test/helpers/objects.js';

export const pexec = promisify(execFile);

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/**
 * Milliseconds since `t0` at which `file` first contains `text`. Each write wakes it (inotify,
 * through fs.watch), so the time is taken as the text lands, as timeToOutput takes it from a
 * pipe; a poll alone, every 10 ms, would add 5 ms on average to every figure timed this way. The
 * poll stays for a file that is not there yet, or an event missed.
 */
export async function waitInFile(
  file: string,
  text: string,
  t0: number,
  timeoutMs = 120_000,
): Promise<number> {
  // A write while the file is being read is noted, and the file read again at once.
  let written = false;
  let wake: (() => void) | undefined;
  const onWrite = () => {
    written = true;
    wake?.();
  };
  let watcher: FSWatcher | undefined;
  let seen = 0;
  let tail = Buffer.alloc(0);
  try {
    for (;;) {
      if (watcher === undefined) {
        try {
          watcher = watch(file, onWrite);
          watcher.on('error', () => undefined);
        } catch {
          // Not there yet: watched from the next poll on.
        }
      }
      written = false;
      // Only what was added since the last read (a guest's boot log is read hundreds of times),
      // after the last text.length - 1 bytes of before, for a match split across two writes.
      const { added, size } = await readFrom(file, seen);
      // A file shorter than what was read of it was rotated, or written anew: read from its start.
      if (size < seen) {
        seen = 0;
        tail = Buffer.alloc(0);
        continue;
      }
      seen += added.length;
      tail = Buffer.concat([tail, added]);
      if (tail.includes(text)) return performance.now() - t0;
      tail = tail.subarray(Math.max(0, tail.length - Buffer.byteLength(text) + 1));
      if (performance.now() - t0 > timeoutMs)
        throw new Error(`${file}: no "${text}" within ${timeoutMs} ms`);
      if (written) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, 10);
        wake = done;
      });
    }
  } finally {
    watcher?.close();
  }
}

/** The bytes of `file` from `offset` on, and its size; none, and 0, when it is not there. */
async function readFrom(file: string, offset: number): Promise<{ added: Buffer; size: number }> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (fh === undefined) return { added: Buffer.alloc(0), size: 0 };
  try {
    const size = (await fh.stat()).size;
    if (size <= offset) return { added: Buffer.alloc(0), size };
    const buf = Buffer.alloc(size - offset);
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    return { added: buf.subarray(0, bytesRead), size };
  } finally {
    await fh.close();
  }
}

/** Runs a program and resolves with the ms until its stdout shows `text`; then kills it. */
export function timeToOutput(
  file: string,
  args: string[],
  text: string,
  timeoutMs = 120_000,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file}: no "${text}" within ${timeoutMs} ms: ${out.slice(-500)}`));
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(text)) {
        clearTimeout(timer);
        const ms = performance.now() - t0;
        child.kill('SIGKILL');
        child.once('exit', () => resolve(ms));
      }
    });
    child.on('error', reject);
  });
}

/** Seconds with two decimals; `signed` prints a difference's sign (`+0.31 s`, `-0.02 s`). */
export function fmt(ms: number, signed = false): string {
  return `${signed && ms >= 0 ? '+' : ''}${(ms / 1000).toFixed(2)} s`;
}

export const IGNITE_BIN = new URL('../bin/ignite.js', import.meta.url).pathname;

/** A bench's world: a real registry with the project's images, a data dir, and `ignite`. */
export interface BenchEnv extends AsyncDisposable {
  registry: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  /** Runs `ignite` (warn-level logs) and returns its stdout. */
  ig(args: string[]): Promise<string>;
}

/** As in the tests, `kernel` pushes both kernels and VMs boot the micro kernel by default. */
export async function benchEnv(images: ProjectImage[]): Promise<BenchEnv> {
  const reg = await startRegistry();
  const push = images.includes('kernel')
    ? [...new Set([...images, 'kernel-micro' as const])]
    : images;
  await pushProjectImages(reg.host, push);
  const dataDir = await mkdtemp(join(tmpdir(), 'ignite-bench-'));
  const env = {
    ...process.env,
    IGNITE_DATA_DIR: dataDir,
    IGNITE_KERNEL_IMAGE: `${reg.host}/${TEST_KERNEL}`,
    IGNITE_ACCEL: 'tcg',
  };
  const ig = async (args: string[]) =>
    (
      await pexec(process.execPath, [IGNITE_BIN, '--log-level', 'warn', ...args], {
        env,
        maxBuffer: 256 << 20,
      })
    ).stdout;
  return {
    registry: reg.host,
    dataDir,
    env,
    ig,
    [Symbol.asyncDispose]: async () => {
      const vms = await readdir(join(dataDir, 'vm')).catch(() => []);
      const uids = vms.filter((v) => !v.startsWith('.'));
      if (uids.length > 0) await ig(['rm', '-f', ...uids]).catch(() => undefined);
      await endHostSupervisor(dataDir);
      await rm(dataDir, { recursive: true, force: true });
      await reg[Symbol.asyncDispose]();
    },
  };
}

/** Times `fn` `runs` times (after one warm-up run when `warmup`); returns every sample in ms. */
export async function sample(
  runs: number,
  fn: () => Promise<unknown>,
  warmup = true,
): Promise<number[]> {
  if (warmup) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * Times two things in turns, `runs` times each (after one warm-up run of each), so that a ratio
 * of their medians is taken under the same conditions even if the machine's speed drifts;
 * returns every sample of each, in ms.
 */
export async function sampleInTurns(
  runs: number,
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
): Promise<[number[], number[]]> {
  await a();
  await b();
  const out: [number[], number[]] = [[], []];
  for (let i = 0; i < runs; i++) {
    out[0].push(...(await sample(1, a, false)));
    out[1].push(...(await sample(1, b, false)));
  }
  return out;
}

/**
 * `ignite run` of the busybox image with `--net none`: the VM's UID, and the ms from the run to
 * the guest's first init line.
 */
export async function bootBusybox(
  b: BenchEnv,
  name: string,
  options: { memory: string; kernelImage?: string; timeoutMs?: number },
): Promise<{ uid: string; ms: number }> {
  const t0 = performance.now();
  const out = await b.ig([
    'run',
    `${b.registry}/ignite-busybox`,
    '--name',
    name,
    '--net',
    'none',
    '--memory',
    options.memory,
    ...(options.kernelImage === undefined ? [] : ['--kernel-image', options.kernelImage]),
  ]);
  const uid = out.trim().split('\n').pop() ?? '';
  const file = join(b.dataDir, 'vm', uid, 'console.log');
  return { uid, ms: await waitInFile(file, BUSYBOX_INIT, t0, options.timeoutMs) };
}

/**
 * A fresh data dir holding `count` stopped VMs, written through the real storage client as
 * `ignite create` stores them.
 */
export async function dataDirWithStoppedVMs(count: number): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ignite-bench-vms-'));
  const client = newFsClient(dataDir);
  for (let i = 0; i < count; i++) {
    const v = vm(`vm-${String(i).padStart(4, '0')}`);
    v.metadata.uid = newUID();
    v.status = { state: 'Stopped' };
    // set(), not create(): create() checks every stored name, which makes filling the store
    // quadratic; the names here are unique by construction.
    await client.vms.set(v);
  }
  return dataDir;
}
