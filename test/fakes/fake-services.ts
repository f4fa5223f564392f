import { Writable } from 'node:stream';
import { API_VERSION, type Image, type Kernel } from '../../src/api/index.js';
import { RegistryClient, type ImportWorkspace } from '../../src/image/index.js';
import type { VMMetricsEndpoint } from '../../src/metrics/vm-metrics-endpoint.js';
import type { NetworkAttachment, VMNetwork } from '../../src/network/vm-network.js';
import type { Services } from '../../src/operations/services.js';
import { MemoryRawStorage, newClient } from '../../src/storage/index.js';
import { DataLayout } from '../../src/storage/layout.js';
import { parseHostConfig, type HostFlags } from '../../src/system/host-config.js';
import type { HostFiles } from '../../src/system/host-files.js';
import { createLogger } from '../../src/system/logger.js';
import type { SignalHook, HandledSignal } from '../../src/system/program-io.js';
import type { SSHClient } from '../../src/system/ssh-client.js';
import type { RootDiskRequest, RootDisks } from '../../src/vmm/disk/root-disks.js';
import { StrategyVMMs, askedByHost, askedByVM, fallback } from '../../src/vmm/vmm-choice.js';
import type { VMMDriver } from '../../src/vmm/vmm-driver.js';
import { FakeClock } from './fake-clock.js';
import { fakeHostFacts } from './fake-host-facts.js';
import { FakeProcesses } from './fake-processes.js';
import { FakeRuntimeFiles } from './fake-runtime-files.js';

/** A network that records what it was asked and gives each VM 10.61.0.<n>. */
export class RecordingNetwork implements VMNetwork {
  readonly calls: string[] = [];
  readonly reserved = new Map<string, string>();
  private next = 2;

  reserve(req: { uid: string; mode: string }): Promise<string | undefined> {
    this.calls.push(`reserve ${req.uid}`);
    if (req.mode === 'none') return Promise.resolve(undefined);
    const ip = this.reserved.get(req.uid) ?? `10.61.0.${this.next++}`;
    this.reserved.set(req.uid, ip);
    return Promise.resolve(ip);
  }
  attach(req: { uid: string; mode: string }): Promise<NetworkAttachment> {
    this.calls.push(`attach ${req.uid}`);
    const ip = this.reserved.get(req.uid);
    return Promise.resolve(
      req.mode === 'none' || ip === undefined
        ? { ipAddresses: [] }
        : {
            ipAddresses: [ip],
            netns: `ignite-${req.uid}`,
            tapName: 'tap0',
            mac: '02:00:00:00:00:01',
          },
    );
  }
  detach(req: { uid: string }): Promise<void> {
    this.calls.push(`detach ${req.uid}`);
    return Promise.resolve();
  }
  release(req: { uid: string }): Promise<void> {
    this.calls.push(`release ${req.uid}`);
    this.reserved.delete(req.uid);
    return Promise.resolve();
  }
  leases(): Promise<number> {
    return Promise.resolve(0);
  }
  sweep(): Promise<string[]> {
    this.calls.push('sweep');
    return Promise.resolve([]);
  }
}

/** Host files from a map of path to content; every listed path is readable. */
export function fakeHostFiles(files: Record<string, string> = {}): HostFiles {
  const has = (p: string) => p in files;
  return {
    readText: (p) =>
      has(p) ? Promise.resolve(files[p] ?? '') : Promise.reject(new Error(`${p}: no such file`)),
    isReadable: (p) => Promise.resolve(has(p)),
    exists: (p) => Promise.resolve(has(p)),
    existsSync: has,
    realpath: (p) => Promise.resolve(has(p) ? p : undefined),
    isDirectory: (p) => Promise.resolve(Object.keys(files).some((f) => f.startsWith(`${p}/`))),
    isFile: (p) => Promise.resolve(has(p)),
  };
}

/** Signals a test raises itself with `raise`. */
export class FakeSignals implements SignalHook {
  private readonly handlers = new Map<HandledSignal, Set<() => void>>();
  on(signal: HandledSignal, fn: () => void): () => void {
    const set = this.handlers.get(signal) ?? new Set();
    set.add(fn);
    this.handlers.set(signal, set);
    return () => void set.delete(fn);
  }
  once(signal: HandledSignal, fn: () => void): () => void {
    const off = this.on(signal, () => {
      off();
      fn();
    });
    return off;
  }
  raise(signal: HandledSignal): void {
    for (const fn of [...(this.handlers.get(signal) ?? [])]) fn();
  }
}

/** Imports that store an image or kernel named by the reference, without a registry. */
function storeOnlyImports(s: Pick<Services, 'client'>): Services['imports'] {
  const claim = (ref: string) => ({ ociClaim: { type: 'Docker' as const, ref } });
  return {
    async image(ref) {
      const found = await s.client.images.findByName(ref);
      if (found) return found;
      const obj: Image = {
        apiVersion: API_VERSION,
        kind: 'Image',
        metadata: { name: ref },
        spec: claim(ref),
        status: {},
      };
      return s.client.images.create(obj);
    },
    async kernel(ref) {
      const found = await s.client.kernels.findByName(ref);
      if (found) return found;
      const obj: Kernel = {
        apiVersion: API_VERSION,
        kind: 'Kernel',
        metadata: { name: ref },
        spec: claim(ref),
        status: {},
      };
      return s.client.kernels.create(obj);
    },
  };
}

/** Root disks that exist once created: recorded in the runtime files' map. */
class RecordingRootDisks implements RootDisks {
  readonly created: RootDiskRequest[] = [];
  constructor(
    private readonly files: FakeRuntimeFiles,
    private readonly layout: DataLayout,
  ) {}
  create(req: RootDiskRequest): Promise<void> {
    this.created.push(req);
    const uid = req.vmDir.split('/').pop() ?? '';
    const v = this.layout.vm(uid);
    this.files.rootDisks.set(
      uid,
      req.format === 'raw'
        ? { path: v.rootDiskRaw, format: 'raw' }
        : { path: v.rootDiskQcow2, format: 'qcow2' },
    );
    return Promise.resolve();
  }
  release(): Promise<void> {
    return Promise.resolve();
  }
}

const unused = (what: string) => () => Promise.reject(new Error(`${what}: not faked`));

/** Everything a use case may need, in memory; `over` replaces any port. */
export function fakeServices(
  over: Partial<Services> & { flags?: HostFlags; env?: NodeJS.ProcessEnv } = {},
) {
  const { flags, env, ...ports } = over;
  const config = parseHostConfig({ dataDir: '/data', ...flags }, env ?? { IGNITE_VMM: 'qemu' }, '');
  const clock = new FakeClock(undefined, { autoAdvance: true });
  const layout = new DataLayout(config.dataDir);
  const runtimeFiles = new FakeRuntimeFiles();
  const processes = new FakeProcesses(clock);
  const network = new RecordingNetwork();
  const signals = new FakeSignals();
  const rootDisks = new RecordingRootDisks(runtimeFiles, layout);
  const client = newClient(new MemoryRawStorage(), () => clock.now());
  const driver = (name: 'qemu' | 'firecracker'): VMMDriver => ({
    name,
    availability: () => Promise.resolve({ available: name === 'qemu' }),
    capabilities: () =>
      Promise.resolve({
        saveState: { available: false, reason: 'a fake driver' },
        freezeRootDisk: { available: false, reason: 'a fake driver' },
      }),
    start: unused(`${name} driver`),
  });
  const ssh: SSHClient = {
    answers: () => Promise.resolve(true),
    ssh: () => Promise.resolve({ code: 0, stdout: '', stderr: '' }),
    scp: () => Promise.resolve({ code: 0, stderr: '' }),
  };
  const workspace: ImportWorkspace = {
    withDir: (fn) => fn('/data/.staging/test'),
    sweep: () => Promise.resolve(),
    share: unused('share'),
    moveInto: unused('moveInto'),
    remove: () => Promise.resolve(),
    size: () => Promise.resolve(0),
    isLocalSource: () => Promise.resolve(false),
    isFile: () => Promise.resolve(false),
  };
  const vmMetrics: VMMetricsEndpoint = {
    serve: () => Promise.resolve({ close: () => Promise.resolve() }),
  };
  const services: Services = {
    config,
    layout,
    client,
    logger: createLogger({
      level: 'silent',
      stream: new Writable({ write: (_c, _e, cb) => cb() }),
    }),
    clock,
    host: fakeHostFacts(),
    processes,
    hostFiles: fakeHostFiles(),
    runtimeFiles,
    network,
    vmms: new StrategyVMMs([askedByVM, askedByHost, fallback('qemu')], config.vmm, [
      driver('qemu'),
      driver('firecracker'),
    ]),
    registry: new RegistryClient({
      fetch: () => Promise.reject(new Error('no registry in tests')),
    }),
    importWorkspace: workspace,
    imports: storeOnlyImports({ client }),
    rootDisks,
    sshKeys: { generate: () => Promise.resolve('ssh-ed25519 AAAA test') },
    ssh,
    hostPorts: { inUse: () => Promise.resolve(new Set<string>()) },
    consoles: { connect: unused('console') },
    vmMetrics,
    spawnCommand: { file: '/usr/bin/node', args: ['ignite-spawn.js'] },
    signals,
    ...ports,
  };
  return { services, clock, runtimeFiles, processes, network, signals, rootDisks };
}
