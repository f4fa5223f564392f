import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CNIResult, CNIRuntime, NetworkConfigList } from './cni/cni-runner.js';

/**
 * What a VM's CNI attachment needs to be undone, kept in `<dataDir>/network/<uid>.json` outside
 * the VM's directory, so leftovers can be collected even after the VM was removed.
 */
export interface NetworkState {
  uid: string;
  netns: string;
  list: NetworkConfigList;
  runtime: CNIRuntime;
  result?: CNIResult;
  dhcpPid?: number;
}

/** One interface of a VM, attached: its tap in the VM's namespace, the guest's MAC and address. */
export interface AttachedInterface {
  tapName: string;
  mac: string;
  address: string;
  prefixLength: number;
  gateway?: string;
}

/** An address held for a created VM under the placeholder interface until it starts. */
export interface Reservation {
  ip: string;
  list: NetworkConfigList;
}

/** The files of one VM's DHCP server, removed with its state once it is torn down. */
const ATTACHMENT_SUFFIXES = ['.json', '.udhcpd.conf', '.leases', '.dhcp.log'] as const;

/**
 * The network's files under `<dataDir>/network/` (mode 0700), by VM UID:
 * - `<uid>.json`: the attachment's NetworkState, from attach until its detach succeeds;
 * - `<uid>.reservation.json`: the address reserved at create, until attach hands it over;
 * - `<uid>.udhcpd.conf`, `<uid>.leases`, `<uid>.dhcp.log`: its DHCP server's;
 * - `.lock`: the IPAM lock.
 * Writes are atomic (a temporary file renamed), so a crash leaves the old file or the new one.
 */
export class NetworkFiles {
  readonly dir: string;

  constructor(dataDir: string) {
    // Absolute, since the DHCP server's command line names its configuration by this path and
    // a stored PID is recognised by it.
    this.dir = resolve(dataDir, 'network');
  }

  file(uid: string, suffix: string): string {
    return join(this.dir, `${uid}${suffix}`);
  }

  async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /**
   * The keys of a VM's interfaces that have files here: its UID for the first, `<uid>.<n>` for
   * interface n > 0 (whether or not the first has files of its own).
   */
  async interfaceKeys(uid: string): Promise<string[]> {
    const more = new Set<string>();
    const pattern = /^([a-z0-9]+\.\d+)\.(json|reservation\.json)$/;
    for (const f of await readdir(this.dir).catch(() => [] as string[])) {
      const key = pattern.exec(f)?.[1];
      if (key !== undefined && key.startsWith(`${uid}.`)) more.add(key);
    }
    return [uid, ...[...more].sort((a, b) => interfaceIndex(a) - interfaceIndex(b))];
  }

  readState(uid: string): Promise<NetworkState | undefined> {
    return this.readJSON<NetworkState>(this.file(uid, '.json'));
  }

  async saveState(state: NetworkState): Promise<void> {
    await this.writeJSON(this.file(state.uid, '.json'), state);
  }

  /** Removes the attachment's state and its DHCP server's files. */
  async removeAttachment(uid: string): Promise<void> {
    for (const suffix of ATTACHMENT_SUFFIXES) await removeWritten(this.file(uid, suffix));
  }

  readReservation(uid: string): Promise<Reservation | undefined> {
    return this.readJSON<Reservation>(this.file(uid, '.reservation.json'));
  }

  async saveReservation(uid: string, reservation: Reservation): Promise<void> {
    await this.writeJSON(this.file(uid, '.reservation.json'), reservation);
  }

  async removeReservation(uid: string): Promise<void> {
    await removeWritten(this.file(uid, '.reservation.json'));
  }

  /** A missing or unreadable file is no state: the network then acts as for a VM it never saw. */
  private async readJSON<T>(file: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  private async writeJSON(file: string, value: unknown): Promise<void> {
    await this.ensureDir();
    await writeFile(tempOf(file), JSON.stringify(value), { mode: 0o600 });
    await rename(tempOf(file), file);
  }
}

const tempOf = (file: string) => `${file}.tmp`;

/** Removes a file, and the temp file a write of it killed before its rename left beside it. */
async function removeWritten(file: string): Promise<void> {
  await rm(file, { force: true });
  await rm(tempOf(file), { force: true });
}

/** The key of a VM's interface `index`: its UID for the first, `<uid>.<index>` for the others. */
export function interfaceKey(uid: string, index: number): string {
  return index === 0 ? uid : `${uid}.${index}`;
}

/** The VM UID and interface index of an interface key. */
export function interfaceIndex(key: string): number {
  const dot = key.indexOf('.');
  return dot < 0 ? 0 : Number(key.slice(dot + 1));
}

/** The VM UID of an interface key. */
export function vmOfInterface(key: string): string {
  const dot = key.indexOf('.');
  return dot < 0 ? key : key.slice(0, dot);
}
