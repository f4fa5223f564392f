import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { failedPrecondition } from '../errors.js';
import { HOST_LOCAL_DIR } from './cni/leftovers.js';
import { systemExec, type ExecPort } from './exec-port.js';
import { conflistFor, isolationRules, type NamedNetworkConfig } from './named-network.js';
import type { NamedNetworks } from './named-networks.js';

const BRIDGE = /^[A-Za-z0-9_.-]{1,15}$/;

/** NamedNetworks on the host: the file written atomically, rules with iptables, links with ip. */
export class HostNamedNetworks implements NamedNetworks {
  constructor(
    private readonly exec: ExecPort = systemExec,
    private readonly hostLocalDir = HOST_LOCAL_DIR,
    private readonly sysNetDir = '/sys/class/net',
  ) {}

  async ensure(config: NamedNetworkConfig, conflistPath: string): Promise<void> {
    checkBridge(config.bridge);
    await mkdir(dirname(conflistPath), { recursive: true, mode: 0o755 });
    await writeFile(`${conflistPath}.tmp`, `${JSON.stringify(conflistFor(config), null, 2)}\n`);
    await rename(`${conflistPath}.tmp`, conflistPath);
    for (const rule of isolationRules(config)) {
      const present = await this.exec.runUnchecked('iptables', ['-w', '-C', 'FORWARD', ...rule]);
      if (present.exitCode !== 0)
        await this.exec.run('iptables', ['-w', '-I', 'FORWARD', '1', ...rule]);
    }
  }

  async remove(config: NamedNetworkConfig, conflistPath: string): Promise<void> {
    checkBridge(config.bridge);
    for (const rule of isolationRules(config)) {
      // A rule inserted twice (two creates racing a reboot) is deleted as often as it is there.
      for (let i = 0; i < 16; i++) {
        const r = await this.exec.runUnchecked('iptables', ['-w', '-D', 'FORWARD', ...rule]);
        if (r.exitCode !== 0) break;
      }
    }
    if (this.bridgeExists(config.bridge))
      await this.exec.runUnchecked('ip', ['link', 'del', 'dev', config.bridge]);
    await rm(conflistPath, { force: true });
    await rm(join(this.hostLocalDir, conflistFor(config).name), { recursive: true, force: true });
  }

  bridgeExists(bridge: string): boolean {
    return BRIDGE.test(bridge) && existsSync(join(this.sysNetDir, bridge));
  }
}

function checkBridge(bridge: string): void {
  if (!BRIDGE.test(bridge)) throw failedPrecondition(`network: bad bridge name "${bridge}"`);
}
