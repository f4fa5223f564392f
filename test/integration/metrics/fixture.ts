import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import {
  createManagerMetrics,
  createVMMetrics,
  serveMetrics,
  type BlockCounters,
  type SocketMetricsServer,
  type VMSocket,
} from '../../../src/metrics/index.js';
import { run, runUnchecked, type ExecResult } from '../../../src/system/exec.js';

/** A temporary data dir, removed on dispose. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), 'ignite-metrics-'));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** A stand-in VM: the test process plays the hypervisor, `lo` the tap, block stats are fake. */
export interface FakeVM extends VMSocket, AsyncDisposable {
  registry: Registry;
  server: SocketMetricsServer;
  /** Change to make the block counters move. */
  block: BlockCounters;
}

export async function startFakeVM(dataDir: string, uid: string, name: string): Promise<FakeVM> {
  const dir = join(dataDir, 'vm', uid);
  await mkdir(dir, { recursive: true });
  const block: BlockCounters = { readBytes: 4096, writeBytes: 512, readOps: 2, writeOps: 1 };
  const registry = await createVMMetrics(
    {
      state: () => 'Running',
      bootTimeSeconds: () => Math.floor(Date.now() / 1000) - 60,
      hypervisorPid: () => process.pid,
      blockStats: () => Promise.resolve({ ...block }),
      netDevice: () => ({ pid: process.pid, ifname: 'lo' }),
      dhcpLeases: () => 1,
    },
    { uid, name, vmm: 'qemu', image: 'weaveworks/ignite-ubuntu:latest', kernel: 'kernel:5.10' },
  );
  const socketPath = join(dir, 'prometheus.sock');
  const server = await serveMetrics(registry, socketPath);
  return {
    uid,
    name,
    socketPath,
    registry,
    server,
    block,
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** Manager metrics over a fixed inventory. */
export function fakeManager(): ReturnType<typeof createManagerMetrics> {
  return createManagerMetrics({
    vmStates: () => Promise.resolve(['Running', 'Running', 'Stopped']),
    images: () => Promise.resolve({ count: 1, bytes: 268_435_456 }),
    kernels: () => Promise.resolve({ count: 1, bytes: 31_457_280 }),
  });
}

/** `curl --unix-socket <sock> http:/metrics`, as the Ignite docs show. */
export async function curlUnix(socketPath: string, url = 'http:/metrics'): Promise<string> {
  const { stdout } = await run('curl', ['-sSf', '--unix-socket', socketPath, url], {
    timeoutMs: 10_000,
  });
  return stdout;
}

export async function curl(url: string): Promise<string> {
  return (await run('curl', ['-sSf', url], { timeoutMs: 10_000 })).stdout;
}

/** `promtool check metrics` reading the exposition on stdin. */
export function promtoolCheck(exposition: string): Promise<ExecResult> {
  return runUnchecked('promtool', ['check', 'metrics'], { input: exposition, timeoutMs: 20_000 });
}

/** A TCP port free on 127.0.0.1 at the time of asking. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
