import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../system/logger.js';
import { toAppError } from '../errors.js';
import {
  DEFAULT_CNI_CONF_DIR,
  loadNetworkConfig,
  type NetworkConfigList,
} from './cni/cni-runner.js';
import { findCNILeftovers, hostLocalHolds, type CNILeftover } from './cni/leftovers.js';
import { DEFAULT_NETWORK } from './default-network.js';
import type { ExecPort } from './exec-port.js';
import type { NetnsPlumbing } from './netns-plumbing.js';
import { vmOfInterface, type NetworkFiles, type NetworkState } from './network-state.js';

/** What the sweep needs of the network it cleans up after. */
export interface SweepTarget {
  confDir: string | undefined;
  logger: Logger | undefined;
  /** The interface name addresses of created, never-started VMs are held under. */
  placeholderIf: string;
  netnsName(uid: string): string;
  exec: ExecPort;
  plumbing: Pick<NetnsPlumbing, 'add' | 'addUplink' | 'delete' | 'namespaces' | 'path'>;
  files: Pick<NetworkFiles, 'readState' | 'saveState'>;
  /** Where the named networks' configuration lists are (`<dataDir>/cni`). */
  namedConfDir?: string | undefined;
  /** The host-local plugin's data directory, when not its default. */
  hostLocalDir?: string | undefined;
  /** A normal, idempotent teardown from the saved state: CNI DEL, namespace, files. */
  teardown(uid: string): Promise<void>;
}

/**
 * Sweeps what the CNI plugins still hold for VMs whose network namespace is gone while the VM
 * was attached (a host reboot, the data dir deleted, the namespace deleted under a running VM):
 * host-local reservations, masquerade and port-mapping rules, found by the VM's container ID.
 * The bridge plugin un-masquerades only what it finds on the namespace's eth0, so each such VM
 * gets a namespace again with an eth0 holding its address, and a CNI DEL with its stored
 * configuration (else the network's) releases everything as for a VM stopped normally.
 * A VM whose namespace exists is left alone (it is set up, running, or being torn down), and
 * so is an address held for a created VM under the placeholder interface: another data dir's
 * VM may own it. Returns the UIDs swept; failures are logged, never thrown.
 */
export async function sweepLeftovers(target: SweepTarget): Promise<string[]> {
  const networks = await knownNetworks(target);
  // Leftovers first, namespaces second: a VM being set up has its namespace before any state.
  const leftovers = (
    await findCNILeftovers(
      [...networks.keys()],
      target.placeholderIf,
      target.exec,
      target.hostLocalDir,
    )
  ).filter((l) => !l.placeholderOnly);
  if (leftovers.length === 0) return [];
  const names = await target.plumbing.namespaces();
  const live = new Set(leftovers.map((l) => l.uid).filter((u) => names.has(target.netnsName(u))));
  const swept: string[] = [];
  for (const l of leftovers) {
    const list = networks.get(l.network);
    if (live.has(l.uid) || list === undefined) continue;
    try {
      await sweepOne(target, l.uid, list, l);
      swept.push(l.uid);
      target.logger?.info(
        { uid: l.uid, network: l.network },
        `network: released what vm ${l.uid} still held on ${l.network} (its namespace was gone)`,
      );
    } catch (err) {
      target.logger?.warn(
        { uid: l.uid, err },
        `network: cannot release what vm ${l.uid} still holds: ${toAppError(err).message}`,
      );
    }
  }
  return swept;
}

/**
 * The addresses host-local holds under the placeholder interface for the VM `uid` (its container
 * ID, or one of its further interfaces'), with the network each is in. Unlike the sweep, which
 * cannot tell whose they are, this asks for one VM's: its own removal may release them.
 */
export async function placeholderHolds(
  target: Pick<SweepTarget, 'confDir' | 'namedConfDir' | 'placeholderIf' | 'hostLocalDir'>,
  uid: string,
): Promise<{ key: string; list: NetworkConfigList }[]> {
  const networks = await knownNetworks(target);
  return (await hostLocalHolds([...networks.keys()], target.hostLocalDir)).flatMap((h) => {
    const list = networks.get(h.network);
    return h.ifName === target.placeholderIf && vmOfInterface(h.key) === uid && list !== undefined
      ? [{ key: h.key, list }]
      : [];
  });
}

/** The networks ignite's VMs may be on: the default, the host's CNI network, the named ones. */
async function knownNetworks(
  target: Pick<SweepTarget, 'confDir' | 'namedConfDir'>,
): Promise<Map<string, NetworkConfigList>> {
  const networks = new Map([[DEFAULT_NETWORK.name, DEFAULT_NETWORK]]);
  const conf = await loadNetworkConfig(target.confDir ?? DEFAULT_CNI_CONF_DIR);
  if (conf) networks.set(conf.name, conf);
  for (const named of await namedNetworkLists(target.namedConfDir)) networks.set(named.name, named);
  return networks;
}

async function sweepOne(
  target: SweepTarget,
  uid: string,
  list: NetworkConfigList,
  held: Pick<CNILeftover, 'ips' | 'ports'>,
): Promise<void> {
  const netns = target.netnsName(uid);
  const state: NetworkState = (await target.files.readState(uid)) ?? {
    uid,
    netns,
    list,
    runtime: {
      containerId: `ignite-${uid}`,
      netns: target.plumbing.path(netns),
      ifName: 'eth0',
      // portmap removes its chains by container ID, but only when it is given mappings.
      portMappings: held.ports.map((p) => ({ ...p, containerPort: p.hostPort })),
    },
  };
  const ip = held.ips.find((a) => !a.includes(':'));
  if (state.result?.ips === undefined && ip !== undefined)
    state.result = { cniVersion: state.list.cniVersion, ips: [{ address: `${ip}/32` }] };
  delete state.dhcpPid;
  await target.files.saveState(state);
  await target.plumbing.add(netns);
  try {
    await target.plumbing.addUplink(netns, state.runtime.ifName);
  } catch (err) {
    await target.plumbing.delete(netns);
    throw err;
  }
  await target.teardown(uid);
}

/** The configuration lists of the named networks, each `<name>.conflist` in `dir`. */
async function namedNetworkLists(dir: string | undefined): Promise<NetworkConfigList[]> {
  if (dir === undefined) return [];
  const lists: NetworkConfigList[] = [];
  for (const file of await readdir(dir).catch(() => [] as string[])) {
    if (!file.endsWith('.conflist')) continue;
    try {
      const doc = JSON.parse(await readFile(join(dir, file), 'utf8')) as Partial<NetworkConfigList>;
      if (typeof doc.name === 'string' && Array.isArray(doc.plugins))
        lists.push({ cniVersion: doc.cniVersion ?? '1.0.0', name: doc.name, plugins: doc.plugins });
    } catch {
      continue;
    }
  }
  return lists;
}
