import {
  compareText,
  fromPlainAs,
  isStored,
  toPlain,
  type Kind,
  type KindMap,
  type Stored,
  type StoredImage,
  type StoredKernel,
  type StoredSnapshot,
  type StoredVM,
  type ExecRequest,
  type VM,
} from '../api/index.js';
import { AppError, failedPrecondition, internal } from '../errors.js';
import type { LogLevel } from '../system/logger.js';
import type { DaemonClient } from './daemon-client.js';
import { attachRemoteConsole, type ConsoleTerminal } from './remote-console.js';
import { execThroughDaemon, type RemoteExecIO } from './remote-exec.js';
import { importThroughDaemon, type ImportProgress } from './remote-import.js';

type ArtifactKind = 'Image' | 'Kernel';
interface StoredArtifact {
  Image: StoredImage;
  Kernel: StoredKernel;
}

const PATHS = { VM: 'vms', Image: 'images', Kernel: 'kernels', Snapshot: 'snapshots' } as const;
type ListedKind = keyof typeof PATHS;

/** An object as the daemon sends it, checked against its kind's schema. */
export function decodeStored<K extends Kind>(
  daemon: string,
  kind: K,
  plain: unknown,
): Stored<KindMap[K]> {
  let obj: KindMap[K];
  try {
    obj = fromPlainAs(kind, plain, { defaults: false });
  } catch (err) {
    throw internal(
      `daemon at ${daemon}: sent a ${kind} this client cannot read: ${(err as Error).message}`,
      {
        cause: err,
        hint: 'the daemon and this CLI may be of different versions',
      },
    );
  }
  if (!isStored(obj)) throw internal(`daemon at ${daemon}: sent a ${kind} without its UID or name`);
  return obj;
}

const item = (query: string) => encodeURIComponent(query);

/**
 * The engine of a CLI talking to `ignited`: each call is one request of its API (see
 * docs/daemon-design or api/openapi.json). It satisfies operations' Engine port by shape.
 */
export class RemoteEngine {
  constructor(private readonly client: DaemonClient) {}

  private async list<K extends ListedKind>(kind: K): Promise<Stored<KindMap[K]>[]> {
    const list = await this.client.json<{ items?: unknown[] }>('GET', `/${PATHS[kind]}`);
    return (list.items ?? [])
      .map((o) => decodeStored(this.client.url, kind, o))
      .sort((a, b) => compareText(a.metadata.created ?? '', b.metadata.created ?? ''));
  }

  private async one<K extends Kind>(
    kind: K,
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | boolean | undefined>,
  ): Promise<Stored<KindMap[K]>> {
    const plain = await this.client.json<unknown>(method, path, {
      ...(body !== undefined ? { body } : {}),
      ...(query !== undefined ? { query } : {}),
    });
    return decodeStored(this.client.url, kind, plain);
  }

  async listVMs(): Promise<StoredVM[]> {
    return (await this.list('VM')) as StoredVM[];
  }

  async findVM(query: string): Promise<StoredVM> {
    return (await this.one('VM', 'GET', `/vms/${item(query)}`)) as StoredVM;
  }

  async createVM(manifest: VM, options: { start?: object } = {}): Promise<StoredVM> {
    const started = options.start !== undefined ? { start: true } : undefined;
    return (await this.one('VM', 'POST', '/vms', toPlain(manifest), started)) as StoredVM;
  }

  async startVM(query: string, options: { timeoutMs?: number; logLevel?: LogLevel } = {}) {
    return (await this.one(
      'VM',
      'POST',
      `/vms/${item(query)}/start`,
      timeout(options),
    )) as StoredVM;
  }

  async stopVM(
    query: string,
    options: { kill: boolean; save?: boolean; timeoutMs?: number },
  ): Promise<StoredVM> {
    const action = options.kill ? 'kill' : 'stop';
    const path = `/vms/${item(query)}/${action}`;
    const body = options.save === true ? { ...timeout(options), save: true } : timeout(options);
    return (await this.one('VM', 'POST', path, body)) as StoredVM;
  }

  async replaceVM(query: string, manifest: VM): Promise<StoredVM> {
    return (await this.one('VM', 'PUT', `/vms/${item(query)}`, toPlain(manifest))) as StoredVM;
  }

  async removeVM(query: string, options: { force: boolean }): Promise<string> {
    return this.remove('VM', query, options.force);
  }

  async vmLogs(
    query: string,
    out: NodeJS.WritableStream,
    options: { spawn?: boolean; follow?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    if (options.spawn === true)
      throw failedPrecondition(`logs --spawn: the daemon at ${this.client.url} does not serve it`, {
        hint: "read it on the VM's host: <dataDir>/vm/<uid>/spawn.log, or run without IGNITE_HOST",
      });
    await this.client.pipe(`/vms/${item(query)}/logs`, out, {
      query: { follow: options.follow === true ? true : undefined },
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
  }

  vmMetrics(query: string): Promise<string> {
    return this.client.text('GET', `/vms/${item(query)}/metrics`);
  }

  async attach(query: string, io: ConsoleTerminal): Promise<void> {
    const vm = await this.findVM(query);
    await attachRemoteConsole(this.client, vm.metadata.uid, io);
  }

  async exec(
    query: string,
    options: ExecRequest & { identity?: string },
    io: RemoteExecIO,
  ): Promise<number> {
    if (options.identity !== undefined)
      throw failedPrecondition(
        `exec: a key file of this host cannot be used through the daemon at ${this.client.url}`,
        { hint: "leave out -i: the daemon uses the VM's own key on its host" },
      );
    const vm = await this.findVM(query);
    const { command, tty, timeoutSeconds } = options;
    return execThroughDaemon(this.client, vm.metadata.uid, { command, tty, timeoutSeconds }, io);
  }

  async listArtifacts<K extends ArtifactKind>(kind: K): Promise<StoredArtifact[K][]> {
    return (await this.list(kind)) as StoredArtifact[K][];
  }

  async findArtifact<K extends ArtifactKind>(kind: K, query: string): Promise<StoredArtifact[K]> {
    return (await this.one(kind, 'GET', `/${PATHS[kind]}/${item(query)}`)) as StoredArtifact[K];
  }

  async importArtifact<K extends ArtifactKind>(
    kind: K,
    ref: string,
    options: { progress?: ImportProgress } = {},
  ): Promise<StoredArtifact[K]> {
    const plain = await importThroughDaemon(this.client, PATHS[kind], ref, options.progress);
    return decodeStored(this.client.url, kind, plain) as StoredArtifact[K];
  }

  removeArtifact(kind: ArtifactKind, query: string, options: { force: boolean }): Promise<string> {
    return this.remove(kind, query, options.force);
  }

  async listSnapshots(): Promise<StoredSnapshot[]> {
    return await this.list('Snapshot');
  }

  async findSnapshot(query: string): Promise<StoredSnapshot> {
    return await this.one('Snapshot', 'GET', `/snapshots/${item(query)}`);
  }

  async createSnapshot(
    vm: string,
    options: { name?: string; stop?: boolean; timeoutMs?: number } = {},
  ): Promise<StoredSnapshot> {
    const body = {
      vm,
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.stop === true ? { stop: true } : {}),
      ...timeout(options),
    };
    return await this.one('Snapshot', 'POST', '/snapshots', body);
  }

  removeSnapshot(query: string, options: { force: boolean }): Promise<string> {
    return this.remove('Snapshot', query, options.force);
  }

  async cloneSnapshot(
    query: string,
    manifest: VM,
    options: { start?: object } = {},
  ): Promise<StoredVM> {
    const started = options.start !== undefined ? { start: true } : undefined;
    const path = `/snapshots/${item(query)}/clone`;
    return (await this.one('VM', 'POST', path, toPlain(manifest), started)) as StoredVM;
  }

  private async remove(kind: ListedKind, query: string, force: boolean): Promise<string> {
    const status = await this.client.json<{ details?: { uid?: unknown } }>(
      'DELETE',
      `/${PATHS[kind]}/${item(query)}`,
      { query: { force: force ? true : undefined } },
    );
    const uid = status.details?.uid;
    if (typeof uid !== 'string')
      throw new AppError('Internal', `daemon at ${this.client.url}: a delete answered no UID`);
    return uid;
  }
}

function timeout(o: { timeoutMs?: number }): { timeoutSeconds: number } | undefined {
  return o.timeoutMs === undefined ? undefined : { timeoutSeconds: Math.ceil(o.timeoutMs / 1000) };
}
