import type { DefaultedVMStatus, StoredVM } from '../api/index.js';
import { failedPrecondition, toAppError } from '../errors.js';
import type { ExitInfo, RunningVM } from '../vmm/vmm-driver.js';
import type { NetworkAttachment, NetworkLinks } from '../network/vm-network.js';
import type { KnownObject } from '../storage/storage.js';
import { attachRequestOf, driverFor, kernelFiles, userNICOf } from './supervise-inputs.js';
import { serveMetrics } from './supervise-metrics.js';
import type { Services } from './services.js';
import { guestAddressOf } from './clone-source.js';
import { recoverRootDisk, RequestDesk } from './supervisor-requests.js';
import { exitRecord, type AskedEnd } from './vm-exit.js';
import { FenceTimer } from './fence-timer.js';
import { isReplaceable } from './fleet-copies.js';
import { FENCE_DEADLINE_ENV } from './fleet-fencing.js';
import { ownerOf, updateOwnedVM } from './vm-owner.js';
import { vmLabel, vmPaths } from './vm-paths.js';
import { checkVolumeConflicts, recoverReadOnlyVolumes, volumeDevices } from './vm-volumes.js';
import { namedVolumes } from './vm-storage.js';
import { isSupervised } from './supervision.js';

export type SuperviseServices = Pick<
  Services,
  | 'layout'
  | 'client'
  | 'logger'
  | 'clock'
  | 'host'
  | 'processes'
  | 'runtimeFiles'
  | 'network'
  | 'namedNetworks'
  | 'vmms'
  | 'vmMetrics'
  | 'volumeFiles'
  | 'signals'
  | 'requests'
  | 'stateFiles'
  | 'config'
  | 'trace'
>;

export interface SuperviseOptions {
  /** How long the guest gets to power off after SIGTERM before it is killed. */
  stopTimeoutMs?: number;
  /** This run is a restart by the VM's restart policy: count it in `status.restartCount`. */
  policyRestart?: boolean;
  /** Told once the VM is recorded Running (its starter waits for this). */
  onRunning?: () => void;
  /** The VM as its starter read it (see HostSupervisorRequest). */
  known?: KnownObject<'VM'>;
}

/**
 * Supervises one VM in the host supervisor: sets up the VM's network, boots it with the chosen
 * driver, records it Running, then waits. SIGTERM (from its own signal hook) asks the guest to
 * power off (killed after the timeout), SIGQUIT kills it at once. However the hypervisor ends, the network is torn down and the VM is recorded
 * Stopped, with how it ended as `status.lastExit` (which ignited's restart policies act on).
 */
export async function superviseVM(
  s: SuperviseServices,
  uid: string,
  options: SuperviseOptions = {},
): Promise<void> {
  const vm = await s.client.vms.get(uid, options.known);
  const label = vmLabel(vm);
  const log = s.logger.child({ vm: vm.metadata.name, uid });
  const other = vm.status?.runtime?.spawnPid;
  if (vm.status?.state === 'Running' && other !== s.host.pid && isSupervised(s, uid, other)) {
    throw failedPrecondition(`${label}: already supervised by process ${other}`);
  }
  const paths = vmPaths(s, vm);
  const kernel = await kernelFiles(s, vm);
  const recovered = await recoverRootDisk(s, paths);
  if (recovered !== undefined) log.warn(`${label}: root disk recovered from ${recovered}`);
  const rootDisk = await s.runtimeFiles.rootDisk(uid);
  if (rootDisk === undefined)
    throw failedPrecondition(`root disk missing in ${paths.dir}`, {
      hint: 'remove the VM and create it again',
    });
  const driver = driverFor(s, vm);
  const mode = vm.spec.network.mode;

  let running: RunningVM | undefined;
  let exit: ExitInfo | undefined;
  let asked: AskedEnd | undefined;
  let metrics: { close(): Promise<void> } | undefined;
  let desk: RequestDesk | undefined;
  let requests: { close(): Promise<void> } | undefined;
  let fence: FenceTimer | undefined;
  let attaching: Promise<NetworkAttachment> | undefined;
  let hypervisorStart = (): void => undefined;
  const hypervisorStarted = new Promise<void>((resolve) => (hypervisorStart = resolve));
  // On a fleet host, the VM's status is written only while it is placed here, as it was at start.
  const host = s.config.hostName;
  const owner = host !== undefined ? ownerOf(vm, host) : undefined;
  // A state saved by `stop --save` (or `snapshot create --stop`) is resumed instead of a boot.
  const restoreFrom = (await s.stateFiles.has(paths.savedState)) ? paths.savedState : undefined;
  try {
    await s.runtimeFiles.makeRunDir(uid);
    const guest = guestAddressOf(vm);
    const request = await attachRequestOf(s, vm);
    // A booting guest needs its network only once it runs its DHCP client, so the hypervisor
    // starts as soon as the namespace and taps exist, with the guest's links held down while the
    // addresses, NAT and the DHCP server are made; they come up, and the VM is recorded Running,
    // once all is made. A resumed guest runs at once, and so waits for the whole network.
    let links: NetworkLinks | undefined;
    let linksMade = (): void => undefined;
    const linksReady = new Promise<void>((resolve) => (linksMade = resolve));
    // The rest of the attach waits for the hypervisor's start, whose handshake holds the guest.
    const early =
      restoreFrom === undefined && driver.holdsLinks === true
        ? {
            onLinksReady: (l: NetworkLinks) => {
              links = l;
              linksMade();
              return hypervisorStarted;
            },
          }
        : {};
    const attach = s.trace.span('network attach', () => s.network.attach({ ...request, ...early }));
    attaching = attach;
    // Awaited once the hypervisor runs; a failure before that must not go unhandled meanwhile.
    attach.catch(() => undefined);
    await Promise.race([linksReady, attach]);
    const volumes = await volumeDevices(s, vm);
    // Installed as soon as the hypervisor runs, before the VM is recorded Running: a stop or kill
    // sent once a start has returned is then always the user's, never taken for a death.
    let stopping = false;
    const onStopSignals = (hv: RunningVM): void => {
      s.signals.on('SIGTERM', () => void gracefulStop('SIGTERM'));
      s.signals.on('SIGINT', () => void gracefulStop('SIGINT'));
      s.signals.on('SIGQUIT', () => {
        asked = 'Killed';
        log.info(`${label}: killing (SIGQUIT)`);
        void hv.kill();
      });
      async function gracefulStop(sig: string): Promise<void> {
        if (stopping) return;
        stopping = true;
        asked ??= 'Stopped';
        log.info(`${label}: asking the guest to power off (${sig})`);
        try {
          await hv.shutdown();
        } catch (err) {
          log.warn({ err }, `${label}: graceful shutdown failed; killing`);
          await hv.kill();
          return;
        }
        const timer = setTimeout(() => {
          log.warn(`${label}: did not power off in time; killing`);
          void hv.kill();
        }, options.stopTimeoutMs ?? 30_000);
        void hv.exited.then(() => clearTimeout(timer));
      }
    };
    const startedAt = s.clock.now().getTime();
    const boot = async (): Promise<{
      hv: RunningVM;
      run: DefaultedVMStatus;
      recorded: StoredVM | undefined;
      net: NetworkAttachment;
    }> => {
      const joined = links ?? (await attach);
      running = await driver
        .start(
          {
            uid,
            name: vm.metadata.name,
            vcpus: vm.spec.cpus,
            memoryMiB: vm.spec.memory.toMiB(),
            ...(vm.spec.logMaxSize !== undefined
              ? { consoleLogMaxBytes: vm.spec.logMaxSize.bytes }
              : {}),
            kernel: {
              vmlinuxPath: kernel.vmlinux,
              ...(kernel.initrd !== undefined ? { initrdPath: kernel.initrd } : {}),
              cmdline: vm.spec.kernel.cmdLine,
            },
            rootDisk,
            ...volumes,
            nics: joined.nics ?? [],
            ...(links !== undefined ? { linksHeld: true } : {}),
            ...(joined.netns !== undefined ? { netns: joined.netns } : {}),
            ...('user' in joined && joined.user !== undefined
              ? { userNIC: userNICOf(joined.user) }
              : {}),
            paths: {
              consoleLog: paths.consoleLog,
              consoleSocket: paths.consoleSocket,
              controlSocket: paths.controlSocket,
              workDir: paths.dir,
            },
          },
          restoreFrom !== undefined ? { restoreFrom } : {},
        )
        .finally(hypervisorStart);
      const hv = running;
      onStopSignals(hv);
      const net = await attach
        .then(async (attached) => {
          if (links !== undefined) await hv.releaseLinks?.();
          return attached;
        })
        .catch(async (err: unknown) => {
          // Never recorded Running: the VM is left as it was, as when the hypervisor cannot start.
          await hv.kill();
          running = undefined;
          throw err;
        });
      log.info({ mode, ip: net.ipAddresses, netns: net.netns }, 'network ready');
      const restoreSeconds = (s.clock.now().getTime() - startedAt) / 1000;
      log.info(
        { pid: hv.pid, vmm: driver.name, ...(restoreFrom !== undefined ? { restoreSeconds } : {}) },
        `${label}: ${restoreFrom !== undefined ? 'restored' : 'started'}`,
      );
      // Resumed: the state is spent, as the guest and its disk move on from it.
      if (restoreFrom !== undefined) await s.stateFiles.remove(restoreFrom);
      const run: DefaultedVMStatus = {
        state: 'Running',
        startTime: s.clock.now().toISOString(),
        ipAddresses: net.ipAddresses,
        runtime: {
          vmm: driver.name,
          spawnPid: s.host.pid,
          pid: hv.pid,
          ...(restoreFrom !== undefined ? { restored: true, restoreSeconds } : {}),
        },
        network: {
          mode,
          ...(net.netns !== undefined ? { netns: net.netns } : {}),
          ...(net.user !== undefined ? { sshPort: net.user.sshPort } : {}),
        },
      };
      const recorded = await updateOwnedVM(s, uid, owner, (v) => {
        const count = v.status?.restartCount ?? 0;
        v.status = { ...v.status, ...run };
        // In the same write as Running, so a watcher sees this run start as a restart.
        if (options.policyRestart === true) v.status.restartCount = count + 1;
      });
      s.trace.mark('recorded running');
      return { hv, run, recorded, net };
    };
    // A VM with named volumes checks who else holds them and records itself Running under the
    // host's volume lock, so two starts cannot both take a volume.
    const { hv, run, recorded, net } =
      namedVolumes(vm.spec.storage).length > 0
        ? await s.runtimeFiles.withVolumeLock(async () => {
            await recoverReadOnlyVolumes(s, vm, await checkVolumeConflicts(s, vm, uid));
            return boot();
          })
        : await boot();
    if (recorded === undefined) {
      // Placed on another host meanwhile: this copy must not run.
      asked = 'Killed';
      log.warn(`${label}: no longer placed on ${host ?? 'this host'}; ending this run`);
      await hv.kill();
    } else {
      options.onRunning?.();
    }
    await s.runtimeFiles
      .writeRunRecord(uid, run)
      .catch((err: unknown) => log.warn({ err }, `${label}: could not write ${paths.runRecord}`));
    metrics = await serveMetrics(s, vm, hv, paths, net, driver.name).catch((err: unknown) => {
      log.warn({ err }, `${label}: metrics not served: ${toAppError(err).message}`);
      return undefined;
    });

    desk = new RequestDesk(
      s,
      hv,
      paths,
      label,
      async () => {
        asked = 'Stopped';
        await hv.kill();
      },
      rootDisk.path,
      guest !== undefined
        ? `${guest.address}/${guest.prefixLength}`
        : net.ipAddresses[0] !== undefined && net.prefixLength !== undefined
          ? `${net.ipAddresses[0]}/${net.prefixLength}`
          : undefined,
    );
    if (owner !== undefined && isReplaceable(vm)) {
      fence = new FenceTimer(s.clock, (deadline) => {
        asked = 'Fenced';
        log.warn(`${label}: fenced: no renewal of this host's lease by ${deadline.toISOString()}`);
        void hv.kill();
      });
      desk.onFence = (deadline) => fence?.extend(deadline);
      const first = s.config.env[FENCE_DEADLINE_ENV];
      if (first !== undefined) fence.extend(new Date(first));
    }
    requests = await s.requests.serve(paths.supervisorSocket, desk.handle).catch((err: unknown) => {
      log.warn({ err }, `${label}: requests not served: ${toAppError(err).message}`);
      return undefined;
    });

    exit = await hv.exited;
    log.info({ code: exit.code, signal: exit.signal }, `${label}: hypervisor exited`);
  } finally {
    fence?.close();
    // An attach still going (the hypervisor failed to start meanwhile) ends before its teardown.
    hypervisorStart();
    await attaching?.catch(() => undefined);
    // First: once the record says Stopped, no run file may say otherwise.
    await s.runtimeFiles.removeRunRecord(uid).catch(() => undefined);
    if (metrics) await metrics.close().catch(() => undefined);
    if (requests) await requests.close().catch(() => undefined);
    if (desk)
      await s.stateFiles
        .adoptOverlay(rootDisk.path, desk.current, desk.superseded)
        .catch((err: unknown) =>
          log.error({ err }, `${label}: root disk: ${toAppError(err).message}`),
        );
    try {
      // A saved guest keeps its address in memory: the network keeps it for the VM.
      await s.network.detach({ uid, keepAddress: desk?.saved === true });
    } catch (err) {
      log.error({ err }, `${label}: network teardown failed: ${toAppError(err).message}`);
    }
    await s.runtimeFiles.removeRunFiles(uid);
    await updateOwnedVM(s, uid, owner, (v) => {
      // Another supervisor took over meanwhile: its record stands.
      const supervisor = v.status?.runtime?.spawnPid;
      if (supervisor !== undefined && supervisor !== s.host.pid) return;
      const before = v.status?.state ?? 'Created';
      v.status = { ...v.status, state: running || before === 'Running' ? 'Stopped' : before };
      if (exit !== undefined) v.status.lastExit = exitRecord(exit, asked, s.clock.now());
      delete v.status.runtime;
      delete v.status.ipAddresses;
    }).catch((err: unknown) => log.error({ err }, `${label}: could not record the VM stopped`));
  }
}
