import { failedPrecondition } from '../../src/errors.js';
import type {
  Availability,
  BlockStats,
  Capability,
  ExitInfo,
  RunningVM,
  SavedStateInfo,
  VMConfig,
  VMMCapabilities,
  VMMDriver,
  VMMName,
  VMStartOptions,
} from '../../src/vmm/vmm-driver.js';
import type { FakeProcess, FakeProcesses } from './fake-processes.js';

/** What the guest does when asked to power off. */
export type GuestShutdown = 'powers-off' | 'ignores' | 'fails';

/** The fake hypervisor cannot pause, save or freeze: the snapshot calls refuse, as the seam says. */
const NO_SNAPSHOT_REASON = 'the fake hypervisor cannot save a VM';
const NO_SNAPSHOTS: Capability = { available: false, reason: NO_SNAPSHOT_REASON };

function refused(name: string, what: string): Promise<never> {
  return Promise.reject(failedPrecondition(`vmm "${name}": ${what}: ${NO_SNAPSHOT_REASON}`));
}

/**
 * A hypervisor that can save (FakeVMMDriver.saves): what its VMs were asked, in order
 * (`pause`, `freeze <frozen> <next>`, `save <file>`, `resume`), and where a saved state goes.
 */
export interface FakeSaves {
  calls: string[];
  /** Called with the state's file when a save completes (a test marks the state there). */
  onSave(file: string): void;
  /** Makes the next save fail. */
  failSave?: Error;
}

/**
 * A hypervisor as a process of FakeProcesses: its command line names the VM's directory (so it
 * carries the VM's UID, as QEMU's and Firecracker's do), and `exited` settles when that process
 * ends, by a signal, by `kill`, by a guest power-off, or by `FakeProcesses.exit`.
 */
export class FakeRunningVM implements RunningVM {
  readonly exited: Promise<ExitInfo>;
  shutdownCalls = 0;
  killCalls = 0;
  /** Whether the NICs' links are up: down from a start with `linksHeld` until releaseLinks(). */
  linksUp = true;

  constructor(
    readonly process: FakeProcess,
    private readonly processes: FakeProcesses,
    private readonly guest: GuestShutdown,
    private readonly vmm: VMMName,
    private readonly saves?: FakeSaves,
  ) {
    this.exited = new Promise((resolve) => {
      process.onExit = (signal) =>
        resolve({ code: signal === undefined ? 0 : null, signal: signal ?? null });
    });
  }

  get pid(): number {
    return this.process.pid;
  }

  shutdown(): Promise<void> {
    this.shutdownCalls++;
    if (this.guest === 'fails') return Promise.reject(new Error('QMP: connection refused'));
    if (this.guest === 'powers-off') setImmediate(() => this.processes.exit(this.pid));
    return Promise.resolve();
  }

  releaseLinks(): Promise<void> {
    this.linksUp = true;
    return Promise.resolve();
  }

  kill(): Promise<void> {
    this.killCalls++;
    this.processes.signal(this.pid, 'SIGKILL');
    return Promise.resolve();
  }

  blockStats(): Promise<BlockStats> {
    return Promise.resolve({ readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 });
  }

  pause(): Promise<void> {
    if (!this.saves) return refused(this.vmm, 'pause');
    this.saves.calls.push('pause');
    return Promise.resolve();
  }

  resume(): Promise<void> {
    if (!this.saves) return refused(this.vmm, 'resume');
    this.saves.calls.push('resume');
    return Promise.resolve();
  }

  saveState(file: string): Promise<SavedStateInfo> {
    if (!this.saves) return refused(this.vmm, 'save');
    this.saves.calls.push(`save ${file}`);
    const failure = this.saves.failSave;
    if (failure !== undefined) {
      delete this.saves.failSave;
      return Promise.reject(failure);
    }
    this.saves.onSave(file);
    return Promise.resolve({ files: [file, `${file}.json`], bytes: 4096, saveMs: 250 });
  }

  freezeRootDisk(frozenPath: string, newOverlayPath: string): Promise<void> {
    if (!this.saves) return refused(this.vmm, 'freeze the root disk');
    this.saves.calls.push(`freeze ${frozenPath} ${newOverlayPath}`);
    return Promise.resolve();
  }
}

/** A VMMDriver whose VMs are fake processes; it keeps every config it was started with. */
export class FakeVMMDriver implements VMMDriver {
  readonly holdsLinks = true;
  readonly started: VMConfig[] = [];
  readonly running: FakeRunningVM[] = [];
  installed: Availability = { available: true, version: '0.0.0-fake' };
  guest: GuestShutdown = 'powers-off';
  /** Makes start fail, as a hypervisor that cannot boot the VM. */
  failStart?: Error;
  /** Set, the VMs can pause, save and freeze, and start restores (see FakeSaves). */
  saves?: FakeSaves;
  /** The states VMs were restored from, in order. */
  readonly restoredFrom: string[] = [];
  /** The kernels (vmlinux paths) this hypervisor cannot boot, and why. */
  readonly unbootable = new Map<string, string>();

  constructor(
    readonly name: VMMName,
    private readonly processes: FakeProcesses,
  ) {}

  availability(): Promise<Availability> {
    return Promise.resolve(this.installed);
  }

  capabilities(): Promise<VMMCapabilities> {
    return Promise.resolve({ saveState: NO_SNAPSHOTS, freezeRootDisk: NO_SNAPSHOTS });
  }

  bootsKernel(vmlinuxPath: string): Promise<Capability> {
    const reason = this.unbootable.get(vmlinuxPath);
    return Promise.resolve(
      reason === undefined ? { available: true } : { available: false, reason },
    );
  }

  start(config: VMConfig, options: VMStartOptions = {}): Promise<RunningVM> {
    if (options.restoreFrom !== undefined) {
      if (!this.saves) return refused(this.name, 'restore');
      this.restoredFrom.push(options.restoreFrom);
    }
    this.started.push(config);
    if (this.failStart !== undefined) return Promise.reject(this.failStart);
    const reason = this.unbootable.get(config.kernel.vmlinuxPath);
    if (reason !== undefined)
      return Promise.reject(failedPrecondition(`vm "${config.name}": kernel: ${reason}`));
    const process = this.processes.add([
      `${this.name}-fake`,
      '-name',
      config.name,
      config.paths.workDir,
    ]);
    // SIGTERM would power the guest off in a real hypervisor; here only SIGKILL and exit end it.
    process.onSignal = (signal, self) => {
      if (signal === 'SIGKILL') this.processes.exit(self.pid, signal);
    };
    const vm = new FakeRunningVM(process, this.processes, this.guest, this.name, this.saves);
    vm.linksUp = config.linksHeld !== true;
    this.running.push(vm);
    return Promise.resolve(vm);
  }
}
