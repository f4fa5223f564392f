import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { failedPrecondition, internal } from '../../errors.js';
import type { Logger } from '../../system/logger.js';
import { linkFrozenOverlay } from '../disk/overlay-snapshot.js';
import { exitsWithin, killNow, type HypervisorProcess } from '../hypervisor-process.js';
import {
  bindingWithKernelFile,
  commitSavedState,
  partialPath,
  SIDECAR_SUFFIX,
  type FileIdentity,
  type StateBinding,
} from '../saved-state.js';
import { vmLabel } from '../vm-config-check.js';
import type { BlockStats, RunningVM, SavedStateInfo, VMConfig } from '../vmm-driver.js';
import { MICROVM_MACHINE, nicId, type Accel } from './qemu-command.js';
import { migrateToFile } from './qemu-migration.js';
import type { QMPClient } from './qmp-client.js';

/** What a state saved by this QEMU is bound to, apart from the VM's config. */
export function qemuBindingFacts(
  accel: Accel,
  qemuVersion: string,
): Pick<StateBinding, 'hypervisor' | 'hypervisorVersion' | 'machine'> {
  return {
    hypervisor: 'qemu',
    hypervisorVersion: qemuVersion,
    // The devices every VM has beyond its disks and NICs (counted apart) are part of the state.
    machine: `${MICROVM_MACHINE} -accel ${accel} +virtio-rng`,
  };
}

interface QMPBlockInfo {
  device: string;
  inserted?: { 'node-name': string };
}

/** A running QEMU, controlled over its QMP connection. */
export class QemuVM implements RunningVM {
  readonly pid: number;
  readonly exited: RunningVM['exited'];
  private readonly label: string;
  private binding: Promise<{ binding: StateBinding; kernelFile?: FileIdentity }> | undefined;
  private overlays = 0;
  /** The overlay the guest writes to: the config's, until freezeRootDisk() moves it. */
  private rootDiskPath: string;

  constructor(
    private readonly proc: HypervisorProcess,
    private readonly qmp: QMPClient,
    private readonly config: VMConfig,
    private readonly options: { killGraceMs?: number; logger?: Logger },
    private readonly facts: { accel: Accel; qemuVersion: string },
  ) {
    this.pid = proc.pid;
    this.exited = proc.exited;
    this.label = vmLabel(config);
    this.rootDiskPath = config.rootDisk.path;
    qmp.onEvent((e) =>
      options.logger?.info({ vm: config.name, event: e.event, data: e.data }, 'qemu event'),
    );
    void proc.exited.then(() => qmp.close());
  }

  async releaseLinks(): Promise<void> {
    for (const i of this.config.nics.keys()) await this.qmp.setLink(nicId(i), true);
  }

  async shutdown(): Promise<void> {
    if (!this.proc.running()) return;
    await this.qmp.sendCtrlAltDel();
  }

  async kill(): Promise<void> {
    if (!this.proc.running()) return;
    const grace = this.options.killGraceMs ?? 2000;
    try {
      await this.qmp.quit(grace);
    } catch (err) {
      this.options.logger?.warn({ err }, `${this.label}: qmp quit failed; killing qemu`);
    }
    if (!(await exitsWithin(this.proc, grace))) await killNow(this.proc);
    await this.proc.exited;
  }

  async blockStats(): Promise<BlockStats> {
    const all = await this.qmp.queryBlockstats();
    const root = all.find((d) => d.device === 'root');
    if (root === undefined)
      throw internal(`${this.label}: qemu reports no stats for its root disk`);
    return {
      readBytes: root.stats.rd_bytes,
      writeBytes: root.stats.wr_bytes,
      readOps: root.stats.rd_operations,
      writeOps: root.stats.wr_operations,
    };
  }

  async pause(): Promise<void> {
    await this.qmp.stop();
  }

  async resume(): Promise<void> {
    await this.qmp.cont();
  }

  async saveState(file: string): Promise<SavedStateInfo> {
    const started = Date.now();
    // QEMU gives its disks away at the end of a save and will not save again until `cont`.
    if ((await this.qmp.queryStatus()).status === 'postmigrate') {
      throw failedPrecondition(
        `${this.label}: its state was just saved; resume it before saving again`,
      );
    }
    await this.pause();
    this.binding ??= bindingWithKernelFile(
      this.config,
      qemuBindingFacts(this.facts.accel, this.facts.qemuVersion),
    );
    const { binding, kernelFile } = await this.binding;
    await mkdir(dirname(file), { recursive: true });
    try {
      const digest = await migrateToFile(this.qmp, partialPath(file), {
        label: this.label,
        socketDir: dirname(this.config.paths.controlSocket),
      });
      return await commitSavedState(file, {
        binding,
        ...(kernelFile !== undefined ? { kernelFile } : {}),
        parts: [{ suffix: '', ...digest }],
        saveMs: Date.now() - started,
      });
    } catch (err) {
      await rm(partialPath(file), { force: true });
      await rm(partialPath(file, SIDECAR_SUFFIX), { force: true });
      throw err;
    }
  }

  /**
   * The files first (linkFrozenOverlay), then QEMU opens the new overlay as a node of its own
   * without its backing chain (`backing: null`), and `blockdev-snapshot` puts it over the
   * drive's current node, which is the frozen file: guest writes go to the new overlay from then
   * on, and the chain on disk and in QEMU agree. `blockdev-snapshot-sync` would create the
   * overlay itself, naming its backing file by the old name, which is the VM's and not the
   * snapshot's.
   */
  async freezeRootDisk(frozenPath: string, newOverlayPath: string): Promise<void> {
    const disk = this.config.rootDisk;
    if (disk.format !== 'qcow2') {
      throw failedPrecondition(
        `${this.label}: only a qcow2 root disk can be frozen, not ${disk.format}`,
      );
    }
    const blocks = await this.qmp.execute<QMPBlockInfo[]>('query-block');
    const node = blocks.find((b) => b.device === 'root')?.inserted?.['node-name'];
    if (node === undefined) throw internal(`${this.label}: qemu reports no root disk node`);
    const frozen = await linkFrozenOverlay(
      this.rootDiskPath,
      frozenPath,
      newOverlayPath,
      this.label,
    );
    const overlay = `root-overlay-${++this.overlays}`;
    let added = false;
    try {
      await this.qmp.execute('blockdev-add', {
        driver: 'qcow2',
        'node-name': overlay,
        discard: 'unmap',
        file: { driver: 'file', filename: newOverlayPath },
        backing: null,
      });
      added = true;
      await this.qmp.execute('blockdev-snapshot', { node, overlay });
    } catch (err) {
      if (added) {
        await this.qmp.execute('blockdev-del', { 'node-name': overlay }).catch(() => undefined);
      }
      await frozen.undo();
      throw err;
    }
    this.rootDiskPath = newOverlayPath;
  }
}
