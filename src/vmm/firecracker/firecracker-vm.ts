import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { failedPrecondition, internal } from '../../errors.js';
import type { Logger } from '../../system/logger.js';
import { sleep } from '../../system/linux-processes.js';
import type { ConsoleRelay } from '../console-relay.js';
import { exitsWithin, killNow, type HypervisorProcess } from '../hypervisor-process.js';
import {
  bindingFor,
  commitSavedState,
  digestFile,
  partialPath,
  SIDECAR_SUFFIX,
  type StateBinding,
} from '../saved-state.js';
import { vmLabel } from '../vm-config-check.js';
import type { BlockStats, RunningVM, SavedStateInfo, VMConfig } from '../vmm-driver.js';
import type { FirecrackerApi, FirecrackerClient } from './firecracker-client.js';

/** The guest memory part of a Firecracker state: `<file>.mem` beside the vmstate `<file>`. */
export const MEMORY_SUFFIX = '.mem';

/** Why a Firecracker of this API generation cannot save or restore, if it cannot. */
export function snapshotsUnsupported(api: FirecrackerApi): string | undefined {
  return api === 'v0' ? 'firecracker v0.x has no snapshot API (PATCH /vm, /snapshot)' : undefined;
}

/** What a state saved by this Firecracker is bound to, apart from the VM's config. */
export function firecrackerBindingFacts(
  version: string,
): Pick<StateBinding, 'hypervisor' | 'hypervisorVersion' | 'machine'> {
  return { hypervisor: 'firecracker', hypervisorVersion: version, machine: 'firecracker' };
}

/** A running Firecracker, controlled through its API socket. */
export class FirecrackerVM implements RunningVM {
  readonly pid: number;
  readonly exited: RunningVM['exited'];
  private readonly label: string;

  constructor(
    private readonly proc: HypervisorProcess,
    private readonly client: FirecrackerClient,
    relay: ConsoleRelay,
    private readonly metricsPath: string,
    private readonly config: VMConfig,
    private readonly options: { killGraceMs?: number; logger?: Logger },
    private readonly hypervisor: { api: FirecrackerApi; version: string },
  ) {
    this.pid = proc.pid;
    this.label = vmLabel(config);
    // `exited` settles only once the console is flushed, so the log is complete by then.
    this.exited = proc.exited.then(async (info) => {
      await relay.close();
      return info;
    });
  }

  async shutdown(): Promise<void> {
    if (!this.proc.running()) return;
    await this.client.action('SendCtrlAltDel');
  }

  async kill(): Promise<void> {
    if (this.proc.running()) {
      // Firecracker has no quit request; SIGTERM ends it, SIGKILL if that does not.
      this.proc.child.kill('SIGTERM');
      if (!(await exitsWithin(this.proc, this.options.killGraceMs ?? 2000))) {
        await killNow(this.proc);
      }
    }
    await this.exited;
  }

  async blockStats(): Promise<BlockStats> {
    const before = await this.metricsSize();
    await this.client.action('FlushMetrics');
    // FlushMetrics returns once written on v1; v0.x may write just after replying.
    for (let i = 0; i < 50 && (await this.metricsSize()) <= before; i++) await sleep(20);
    return blockStatsFromMetrics(await readFile(this.metricsPath, 'utf8'), this.label);
  }

  async pause(): Promise<void> {
    this.requireSnapshots();
    await this.client.patchVm('Paused');
  }

  async resume(): Promise<void> {
    this.requireSnapshots();
    await this.client.patchVm('Resumed');
  }

  async saveState(file: string): Promise<SavedStateInfo> {
    const started = Date.now();
    await this.pause();
    const binding = await bindingFor(this.config, firecrackerBindingFacts(this.hypervisor.version));
    await mkdir(dirname(file), { recursive: true });
    const state = partialPath(file);
    const memory = partialPath(file, MEMORY_SUFFIX);
    try {
      await this.client.createSnapshot({ snapshotPath: state, memFilePath: memory });
      const [s, m] = await Promise.all([digestFile(state), digestFile(memory)]);
      return await commitSavedState(file, {
        binding,
        parts: [
          { suffix: '', ...s },
          { suffix: MEMORY_SUFFIX, ...m },
        ],
        saveMs: Date.now() - started,
      });
    } catch (err) {
      for (const p of [state, memory, partialPath(file, SIDECAR_SUFFIX)])
        await rm(p, { force: true });
      throw err;
    }
  }

  freezeRootDisk(): Promise<void> {
    return Promise.reject(
      failedPrecondition(
        `${this.label}: firecracker's root disk is a raw file, which cannot be frozen without copying it`,
      ),
    );
  }

  private requireSnapshots(): void {
    const why = snapshotsUnsupported(this.hypervisor.api);
    if (why !== undefined) throw failedPrecondition(`${this.label}: ${why}`);
  }

  private async metricsSize(): Promise<number> {
    const f = await open(this.metricsPath, 'r');
    try {
      return (await f.stat()).size;
    } finally {
      await f.close();
    }
  }
}

/**
 * The root disk's counters from Firecracker's metrics: JSON lines, one per flush, each with a
 * `block` section (all drives; v1 adds `block_<drive_id>` per drive).
 */
export function blockStatsFromMetrics(text: string, label: string): BlockStats {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '');
  for (const line of lines.reverse()) {
    let m: Record<string, Record<string, unknown> | undefined>;
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      continue; // A line being written as we read.
    }
    const b = m.block_rootfs ?? m.block;
    if (b === undefined) continue;
    const n = (k: string) => (typeof b[k] === 'number' ? b[k] : 0);
    return {
      readBytes: n('read_bytes'),
      writeBytes: n('write_bytes'),
      readOps: n('read_count'),
      writeOps: n('write_count'),
    };
  }
  throw internal(`${label}: firecracker wrote no block metrics`);
}
