import lockfile from 'proper-lockfile';
import { join } from 'node:path';
import { alreadyExists, failedPrecondition } from '../errors.js';
import type { Logger } from '../system/logger.js';
import type { CNIRunner, CNIRuntime, NetworkConfigList } from './cni/cni-runner.js';
import type { NetworkFiles } from './network-state.js';

/** The interface name a reserved address is held under while the VM has no namespace. */
export const RESERVE_IF = 'reserve0';

/** What reservations need of CNI: the network's IPAM plugin alone. */
export type IPAMRunner = Pick<CNIRunner, 'ipam'>;

/** The CNI runtime an address is reserved under: the VM's container ID, no namespace of its own. */
export function reservationRuntime(uid: string, ip?: string): CNIRuntime {
  return {
    containerId: `ignite-${uid}`,
    netns: '/proc/self/ns/net',
    ifName: RESERVE_IF,
    ...(ip !== undefined ? { args: `IgnoreUnknown=1;IP=${ip}` } : {}),
  };
}

/** The first IPv4 address of a CNI result, without its prefix length. */
function firstIPv4(ips: readonly { address: string }[] | undefined): string | undefined {
  return ips?.find((i) => !i.address.includes(':'))?.address.split('/')[0];
}

/**
 * Addresses reserved for created VMs: the network's IPAM allocates one under the VM's container
 * ID and the placeholder interface, and `<uid>.reservation.json` remembers it until the VM's
 * first attach hands it to its interface. Every IPAM move (reserve, hand over, give back) holds
 * the lock `<dataDir>/network/.lock`, so concurrent creates and starts, in any process, see
 * each other's reservations.
 */
export class IPAMReservations {
  constructor(
    private readonly files: NetworkFiles,
    private readonly cni: IPAMRunner,
    private readonly logger?: Logger,
  ) {}

  /** Runs `fn` holding the IPAM lock; a holder that died frees it after 10 s. */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    await this.files.ensureDir();
    const release = await lockfile.lock(this.files.dir, {
      realpath: false,
      lockfilePath: join(this.files.dir, '.lock'),
      stale: 10_000,
      update: 2000,
      retries: { retries: 200, factor: 1.2, minTimeout: 10, maxTimeout: 200 },
    });
    try {
      return await fn();
    } finally {
      await release().catch(() => undefined);
    }
  }

  get(uid: string): Promise<string | undefined> {
    return this.files.readReservation(uid).then((r) => r?.ip);
  }

  /** The VM's reserved address: the one it holds, else a new one from `list`'s IPAM. */
  /** With `wanted`, exactly that address: AlreadyExists when it is not free. */
  reserve(
    uid: string,
    list: NetworkConfigList,
    label: string,
    wanted?: { ip: string; network: string },
  ): Promise<string> {
    return this.locked(async () => {
      const existing = await this.files.readReservation(uid);
      if (existing) return existing.ip;
      const result = await this.cni
        .ipam('ADD', list, reservationRuntime(uid, wanted?.ip), label)
        .catch((err: unknown) => {
          if (wanted === undefined) throw err;
          throw alreadyExists(
            `${label}: address ${wanted.ip} is not free in network "${wanted.network}"`,
            {
              cause: err,
              hint: 'choose another address, or remove the VM that holds it',
            },
          );
        });
      const ip = firstIPv4(result?.ips);
      if (ip === undefined) {
        await this.cni.ipam('DEL', list, reservationRuntime(uid), label).catch(() => undefined);
        throw failedPrecondition(`${label}: network "${list.name}" gave no IPv4 address`);
      }
      await this.files.saveReservation(uid, { ip, list });
      return ip;
    });
  }

  /**
   * Runs `attach` under the lock. A VM with a reservation gets it handed over: the placeholder
   * lets go of the address, `attach` is asked for exactly that one, and the reservation ends
   * when `attach` succeeds. When `attach` fails, the placeholder takes the address back, so a
   * failed start keeps the address that create reserved.
   */
  handOver<T>(
    uid: string,
    label: string,
    attach: (reserved: { ip: string; list: NetworkConfigList } | undefined) => Promise<T>,
  ): Promise<T> {
    return this.locked(async () => {
      const reservation = await this.files.readReservation(uid);
      if (reservation === undefined) return attach(undefined);
      const { ip, list } = reservation;
      await this.cni.ipam('DEL', list, reservationRuntime(uid), label);
      let result: T;
      try {
        result = await attach(reservation);
      } catch (err) {
        await this.cni
          .ipam('ADD', list, reservationRuntime(uid, ip), label)
          .catch((e: unknown) =>
            this.logger?.warn({ uid, ip, err: e }, `${label}: could not hold ${ip} again`),
          );
        throw err;
      }
      await this.files.removeReservation(uid);
      return result;
    });
  }

  /**
   * Reserves exactly `ip` for the VM, as its address already: the caller holds the lock (see
   * `locked`), and has just given the address back from the VM's interface.
   */
  async holdLocked(uid: string, list: NetworkConfigList, ip: string, label: string): Promise<void> {
    await this.cni.ipam('ADD', list, reservationRuntime(uid, ip), label);
    await this.files.saveReservation(uid, { ip, list });
  }

  /** Gives the VM's reserved address back to its network, if it holds one. Idempotent. */
  release(uid: string, label: string): Promise<void> {
    return this.locked(async () => {
      const reservation = await this.files.readReservation(uid);
      if (reservation !== undefined)
        await this.cni.ipam('DEL', reservation.list, reservationRuntime(uid), label);
      // Also when there is none: a reserve killed while recording it left its temp file.
      await this.files.removeReservation(uid);
    });
  }

  /**
   * Gives back an address the IPAM holds under the placeholder for `uid` but this data dir has
   * no record of: a create killed between the IPAM's ADD and the record (the plugin may even
   * finish after its caller died). Under the lock, no reserve is between the two, so a hold
   * without a record is no one's. One with a record is release()'s. Idempotent.
   */
  releaseUnrecorded(uid: string, list: NetworkConfigList, label: string): Promise<void> {
    return this.locked(async () => {
      if ((await this.files.readReservation(uid)) !== undefined) return;
      await this.cni.ipam('DEL', list, reservationRuntime(uid), label);
    });
  }
}
