import { readdir, readFile, access } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { AppError, failedPrecondition, unavailable } from '../../errors.js';
import { systemExec, type ExecPort } from '../exec-port.js';

/**
 * Runs CNI plugins as the CNI spec says: each plugin of a network configuration list in turn,
 * with CNI_COMMAND/CNI_CONTAINERID/CNI_NETNS/CNI_IFNAME/CNI_PATH in its environment and its
 * config (plus `prevResult` and capability `runtimeConfig`) on stdin. DEL runs the list in reverse.
 */
export interface NetworkConfigList {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

export interface CNIRuntime {
  containerId: string;
  /** Path of the network namespace, e.g. /run/netns/ignite-<uid>. */
  netns: string;
  ifName: string;
  /** CNI_ARGS, e.g. `IgnoreUnknown=1;IP=10.61.0.7` to ask host-local for one address. */
  args?: string;
  portMappings?: { hostPort: number; containerPort: number; protocol: 'tcp' | 'udp' }[];
}

export interface CNIResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: { nameservers?: string[] };
}

export const DEFAULT_CNI_PATHS = ['/usr/lib/cni', '/opt/cni/bin'];
export const DEFAULT_CNI_CONF_DIR = '/etc/cni/net.d';

export class CNIRunner {
  constructor(
    private readonly paths: readonly string[] = DEFAULT_CNI_PATHS,
    private readonly execPort: ExecPort = systemExec,
  ) {}

  private async plugin(type: string, label: string): Promise<string> {
    if (!/^[A-Za-z0-9_.-]+$/.test(type))
      throw failedPrecondition(`${label}: CNI plugin type "${type}" is not a plugin name`);
    for (const dir of this.paths) {
      const p = join(dir, type);
      if (
        await access(p, constants.X_OK).then(
          () => true,
          () => false,
        )
      )
        return p;
    }
    throw unavailable(`${label}: CNI plugin "${type}" not found in ${this.paths.join(', ')}`, {
      hint: 'install containernetworking-plugins',
    });
  }

  private async exec(
    command: 'ADD' | 'DEL' | 'CHECK',
    list: NetworkConfigList,
    rt: CNIRuntime,
    plugin: Record<string, unknown>,
    prev: CNIResult | undefined,
    label: string,
  ): Promise<CNIResult | undefined> {
    const type = typeof plugin['type'] === 'string' ? plugin['type'] : '';
    const bin = await this.plugin(type, label);
    const conf: Record<string, unknown> = {
      ...plugin,
      cniVersion: list.cniVersion,
      name: list.name,
    };
    if (prev !== undefined) conf['prevResult'] = prev;
    const caps = (plugin['capabilities'] ?? {}) as Record<string, boolean>;
    if (caps['portMappings'] && rt.portMappings?.length)
      conf['runtimeConfig'] = { portMappings: rt.portMappings };
    const r = await this.execPort.runUnchecked(bin, [], {
      input: JSON.stringify(conf),
      timeoutMs: 60_000,
      env: {
        PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        CNI_COMMAND: command,
        CNI_CONTAINERID: rt.containerId,
        CNI_NETNS: rt.netns,
        CNI_IFNAME: rt.ifName,
        CNI_PATH: this.paths.join(':'),
        ...(rt.args !== undefined ? { CNI_ARGS: rt.args } : {}),
      },
    });
    if (r.exitCode !== 0) {
      let msg = r.stderr.trim() || `exit ${r.exitCode}`;
      try {
        const e = JSON.parse(r.stdout) as { code?: number; msg?: string; details?: string };
        msg = `${e.msg ?? ''}${e.details ? `: ${e.details}` : ''} (code ${e.code ?? '?'})`;
      } catch {
        // Not a CNI error object: keep stderr.
      }
      throw new AppError(
        'Unavailable',
        `${label}: CNI ${command} failed in plugin "${type}" of network "${list.name}": ${msg}`,
      );
    }
    if (command !== 'ADD') return prev;
    try {
      return JSON.parse(r.stdout) as CNIResult;
    } catch {
      throw new AppError('Internal', `${label}: CNI plugin "${type}" printed no result`);
    }
  }

  /**
   * Runs only the network's IPAM plugin (the first plugin's `ipam` section), as plugins call it:
   * used to hold an address for a VM while it has no namespace.
   */
  async ipam(
    command: 'ADD' | 'DEL',
    list: NetworkConfigList,
    rt: CNIRuntime,
    label: string,
  ): Promise<CNIResult | undefined> {
    const ipam = list.plugins
      .map((p) => p['ipam'])
      .find((i): i is Record<string, unknown> => typeof i === 'object' && i !== null);
    if (ipam === undefined)
      throw failedPrecondition(
        `${label}: network "${list.name}" has no IPAM to reserve an address with`,
      );
    return this.exec(
      command,
      { ...list, plugins: [ipam] },
      rt,
      { ...ipam, ipam },
      undefined,
      label,
    );
  }

  async add(list: NetworkConfigList, rt: CNIRuntime, label: string): Promise<CNIResult> {
    let prev: CNIResult | undefined;
    for (const p of list.plugins) prev = await this.exec('ADD', list, rt, p, prev, label);
    return prev ?? {};
  }

  async check(
    list: NetworkConfigList,
    rt: CNIRuntime,
    result: CNIResult,
    label: string,
  ): Promise<void> {
    for (const p of list.plugins) await this.exec('CHECK', list, rt, p, result, label);
  }

  /** DEL in reverse order; keeps going past failures so as much as possible is released. */
  async del(
    list: NetworkConfigList,
    rt: CNIRuntime,
    result: CNIResult | undefined,
    label: string,
  ): Promise<void> {
    let first: AppError | undefined;
    for (const p of [...list.plugins].reverse()) {
      try {
        await this.exec('DEL', list, rt, p, result, label);
      } catch (err) {
        first ??= AppError.is(err) ? err : new AppError('Internal', String(err), { cause: err });
      }
    }
    if (first !== undefined) throw first;
  }
}

/** The first valid network configuration in `dir` (sorted; .conflist, .conf, .json), if any. */
export async function loadNetworkConfig(
  dir: string = DEFAULT_CNI_CONF_DIR,
): Promise<NetworkConfigList | undefined> {
  const names = (await readdir(dir).catch(() => [] as string[]))
    .filter((n) => /\.(conflist|conf|json)$/.test(n))
    .sort();
  for (const n of names) {
    try {
      const doc = JSON.parse(await readFile(join(dir, n), 'utf8')) as Record<string, unknown>;
      const str = (v: unknown, dflt: string) => (typeof v === 'string' ? v : dflt);
      if (Array.isArray(doc['plugins'])) {
        return {
          cniVersion: str(doc['cniVersion'], '1.0.0'),
          name: str(doc['name'], n),
          plugins: doc['plugins'] as Record<string, unknown>[],
        };
      }
      if (typeof doc['type'] === 'string') {
        return {
          cniVersion: str(doc['cniVersion'], '1.0.0'),
          name: str(doc['name'], n),
          plugins: [doc],
        };
      }
    } catch {
      continue;
    }
  }
  return undefined;
}
