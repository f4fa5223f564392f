import { stableMac } from '../stable-mac.js';
import { readFile } from 'node:fs/promises';
import type { Logger } from '../../system/logger.js';
import type { ExecPort } from '../exec-port.js';
import type { NetworkConfigList } from './cni-runner.js';

const ZERO_MAC = '00:00:00:00:00:00';

/**
 * A locally administered unicast MAC for a bridge, the same for the same name on every host
 * start: a bridge that keeps its address never goes back to all zeros.
 */
export function stableBridgeMac(bridge: string): string {
  return stableMac(`ignite bridge ${bridge}`);
}

/**
 * The Linux bridge takes the lowest MAC of its ports unless one was set, and all zeros when it has
 * none: a first CNI ADD that failed after the bridge plugin created the bridge leaves it so, and
 * every later ADD then fails ("could not set bridge's mac"). Before an ADD, each bridge of the
 * network found with the zero MAC gets a stable one set; a bridge that does not exist yet is the
 * plugin's to create. Returns the bridges repaired.
 */
export async function repairZeroMacBridges(
  list: NetworkConfigList,
  exec: ExecPort,
  logger?: Logger,
): Promise<string[]> {
  const repaired: string[] = [];
  for (const plugin of list.plugins) {
    if (plugin['type'] !== 'bridge') continue;
    const name = typeof plugin['bridge'] === 'string' ? plugin['bridge'] : 'cni0';
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) continue;
    const mac = (await readFile(`/sys/class/net/${name}/address`, 'utf8').catch(() => '')).trim();
    if (mac !== ZERO_MAC) continue;
    const fixed = stableBridgeMac(name);
    await exec.run('ip', ['link', 'set', 'dev', name, 'address', fixed]);
    logger?.warn({ bridge: name, mac: fixed }, `bridge ${name} had no MAC address: set ${fixed}`);
    repaired.push(name);
  }
  return repaired;
}
