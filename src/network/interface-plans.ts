import type { NetworkMode, PortMapping } from '../api/index.js';
import type { Logger } from '../system/logger.js';
import {
  DEFAULT_CNI_CONF_DIR,
  loadNetworkConfig,
  type NetworkConfigList,
} from './cni/cni-runner.js';
import type { InterfacePlan } from './cni-interface.js';
import { DEFAULT_NETWORK, installDefaultNetwork } from './default-network.js';
import { interfaceKey } from './network-state.js';
import type { NamedNetworkTarget } from './vm-network.js';

/**
 * A VM's interfaces: one per named network in order, each with the ports that name it (the
 * first also those that name none); else one on the mode's network, none for `none`.
 */
export async function interfacePlans(
  req: {
    uid: string;
    mode: NetworkMode;
    networks?: readonly NamedNetworkTarget[] | undefined;
    ports?: readonly PortMapping[];
  },
  confDir: string | undefined,
  logger: Logger | undefined,
): Promise<InterfacePlan[]> {
  const ports = req.ports ?? [];
  const named = req.networks ?? [];
  if (named.length === 0) {
    if (req.mode === 'none') return [];
    return [{ key: req.uid, index: 0, list: await networkFor(req.mode, confDir, logger), ports }];
  }
  return named.map((target, index) => ({
    key: interfaceKey(req.uid, index),
    index,
    list: target.list,
    target,
    ports: ports.filter((p) => (p.network === undefined ? index === 0 : p.network === target.name)),
  }));
}

/** The network of a mode: Docker's bridge, or the first of `confDir` (ignite's, installed). */
async function networkFor(
  mode: NetworkMode,
  confDir: string | undefined,
  logger: Logger | undefined,
): Promise<NetworkConfigList> {
  if (mode === 'docker-bridge') return DEFAULT_NETWORK;
  const dir = confDir ?? DEFAULT_CNI_CONF_DIR;
  const found = await loadNetworkConfig(dir);
  if (found) return found;
  await installDefaultNetwork(dir);
  logger?.info({ dir }, 'no CNI configuration found: installed the default ignite network');
  return DEFAULT_NETWORK;
}
