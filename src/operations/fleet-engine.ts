import {
  compareText,
  type DefaultedVM,
  type StoredHost,
  type StoredVM,
  type VM,
  type VMDefaults,
} from '../api/index.js';
import { AppError, failedPrecondition, notFound, unavailable } from '../errors.js';
import type { Client } from '../storage/client.js';
import type { Fleet } from '../storage/fleet.js';
import type { Clock } from '../system/clock.js';
import { buildVM } from './build-vm.js';
import { chooseName } from './create-vm.js';
import type {
  Engine,
  EngineCreateOptions,
  EngineStartOptions,
  EngineStopOptions,
} from './engine.js';
import { vmLabel } from './vm-paths.js';
import { waitForVM } from './fleet-wait.js';

export interface FleetEngineDeps {
  /** The shared store: VMs and hosts. */
  client: Client;
  fleet: Pick<Fleet, 'liveHosts'>;
  clock: Clock;
  /** This host's own engine: images and kernels stay in its data dir. */
  local: Engine;
  /** An engine that asks the daemon at `address` (a Host's `spec.address`). */
  daemonFor(address: string): Engine;
  vmDefaults: Readonly<VMDefaults>;
  /** How long `create` waits for the VM to be made on its host. */
  createTimeoutMs: number;
}

/** How long `start` and `stop` wait for the owner's agent when the caller gives no timeout. */
const DEFAULT_WAIT_MS = 120_000;

/** A VM as `ps` shows it in a fleet: `Unknown` while it is placed on a host whose lease is gone. */
export function withFleetState(vm: StoredVM, live: ReadonlySet<string>): StoredVM {
  const host = vm.status.host;
  if (host === undefined || live.has(host)) return vm;
  return { ...vm, status: { ...vm.status, state: 'Unknown' } };
}

/**
 * The engine of a fleet: VMs live in the shared store and on the hosts they are placed on. A
 * create stores a Pending VM for the scheduler and waits for its host's agent to make it; start
 * and stop set `desiredState` for the agent; logs, metrics, console, replace and remove go to the
 * owner's daemon. Images and kernels are this host's (`local`).
 */
export class FleetEngine implements Engine {
  constructor(private readonly deps: FleetEngineDeps) {}

  async listVMs(): Promise<StoredVM[]> {
    const [vms, live] = await Promise.all([
      this.deps.client.vms.list(),
      this.deps.fleet.liveHosts(),
    ]);
    return vms
      .map((vm) => withFleetState(vm, live))
      .sort(
        (a, b) =>
          compareText(a.metadata.created ?? '', b.metadata.created ?? '') ||
          compareText(a.metadata.name, b.metadata.name),
      );
  }

  async findVM(query: string): Promise<StoredVM> {
    const vm = await this.deps.client.vms.find(query);
    return withFleetState(vm, await this.deps.fleet.liveHosts());
  }

  async createVM(manifest: VM, options: EngineCreateOptions = {}): Promise<StoredVM> {
    const { client } = this.deps;
    const vm: DefaultedVM = buildVM({ manifest }, this.deps.vmDefaults);
    vm.status = {
      state: 'Pending',
      ...(options.start !== undefined ? { desiredState: 'Running' as const } : {}),
    };
    const generated = !vm.metadata.name;
    let created: StoredVM | undefined;
    for (let attempt = 0; created === undefined; attempt++) {
      vm.metadata.name = await chooseName({ client }, generated ? withoutName(vm) : vm);
      try {
        created = await client.vms.create(vm);
      } catch (err) {
        if (!(generated && AppError.is(err, 'AlreadyExists') && attempt < 10)) throw err;
      }
    }
    // Made first (an image pull on its host may take a while), then started.
    const made = await waitForVM(this.deps, created, {
      want: 'Created',
      timeoutMs: this.deps.createTimeoutMs,
    });
    if (options.start === undefined) return made;
    return waitForVM(this.deps, made, { want: 'Running', timeoutMs: options.start.timeoutMs });
  }

  async startVM(query: string, options: EngineStartOptions = {}): Promise<StoredVM> {
    const vm = await this.setDesired(query, 'Running');
    if (vm.status.state === 'Running') return vm;
    return waitForVM(this.deps, vm, {
      want: 'Running',
      timeoutMs: options.timeoutMs ?? DEFAULT_WAIT_MS,
    });
  }

  async stopVM(query: string, options: EngineStopOptions): Promise<StoredVM> {
    // A kill or a saved stop is the owner's to do: desiredState says only "not running".
    if (options.kill || options.save === true) {
      const { vm, engine } = await this.owner(query);
      await this.setDesired(vm.metadata.uid, 'Stopped');
      return engine.stopVM(vm.metadata.uid, options);
    }
    const vm = await this.setDesired(query, 'Stopped');
    if (vm.status.state !== 'Running') return vm;
    return waitForVM(this.deps, vm, {
      want: 'Stopped',
      timeoutMs: (options.timeoutMs ?? DEFAULT_WAIT_MS) + 10_000,
    });
  }

  async replaceVM(query: string, manifest: VM): Promise<StoredVM> {
    const { vm, engine } = await this.owner(query);
    return engine.replaceVM(vm.metadata.uid, manifest);
  }

  async removeVM(query: string, options: { force: boolean }): Promise<string> {
    const { client } = this.deps;
    const vm = await client.vms.find(query);
    const uid = vm.metadata.uid;
    const host = vm.status.host;
    if (host === undefined) {
      await client.vms.delete(uid);
      return uid;
    }
    const live = await this.deps.fleet.liveHosts();
    if (!live.has(host)) {
      if (!options.force)
        throw failedPrecondition(`${vmLabel(vm)}: its host "${host}" is NotReady`, {
          hint: 'remove it with --force: its host removes its files when it comes back',
        });
      await client.vms.delete(uid);
      return uid;
    }
    return (await this.owner(uid)).engine.removeVM(uid, options);
  }

  async vmLogs(...[query, out, options]: Parameters<Engine['vmLogs']>): Promise<void> {
    const { vm, engine } = await this.owner(query);
    await engine.vmLogs(vm.metadata.uid, out, options);
  }

  async vmMetrics(query: string): Promise<string> {
    const { vm, engine } = await this.owner(query);
    return engine.vmMetrics(vm.metadata.uid);
  }

  async attach(...[query, io]: Parameters<Engine['attach']>): Promise<void> {
    const { vm, engine } = await this.owner(query);
    await engine.attach(vm.metadata.uid, io);
  }

  async exec(...[query, options, io]: Parameters<Engine['exec']>): Promise<number> {
    const { vm, engine } = await this.owner(query);
    return engine.exec(vm.metadata.uid, options, io);
  }

  listArtifacts: Engine['listArtifacts'] = (kind) => this.deps.local.listArtifacts(kind);
  findArtifact: Engine['findArtifact'] = (kind, query) => this.deps.local.findArtifact(kind, query);
  importArtifact: Engine['importArtifact'] = (kind, ref, options) =>
    this.deps.local.importArtifact(kind, ref, options);
  removeArtifact: Engine['removeArtifact'] = (kind, query, options) =>
    this.deps.local.removeArtifact(kind, query, options);

  /** The VM and an engine on the daemon of the host it is placed on, which must be Ready. */
  async owner(query: string): Promise<{ vm: StoredVM; host: StoredHost; engine: Engine }> {
    const { client, fleet } = this.deps;
    const vm = await client.vms.find(query);
    const name = vm.status.host;
    if (name === undefined)
      throw failedPrecondition(`${vmLabel(vm)}: not placed on a host yet`, {
        ...(vm.status.placement?.message !== undefined
          ? { hint: vm.status.placement.message }
          : {}),
      });
    const host = await client.hosts.tryFind(name);
    if (host === undefined || host.metadata.name !== name)
      throw notFound(`${vmLabel(vm)}: its host "${name}" is not registered`);
    if (!(await fleet.liveHosts()).has(name))
      throw unavailable(`${vmLabel(vm)}: its host "${name}" is NotReady`);
    return { vm, host, engine: this.deps.daemonFor(host.spec.address) };
  }

  private setDesired(query: string, desired: 'Running' | 'Stopped'): Promise<StoredVM> {
    return this.deps.client.vms.find(query).then((vm) =>
      this.deps.client.vms.update(vm.metadata.uid, (v) => {
        v.status.desiredState = desired;
      }),
    );
  }
}

function withoutName(vm: DefaultedVM): DefaultedVM {
  return { ...vm, metadata: { ...vm.metadata, name: '' } };
}
