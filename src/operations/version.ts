import { join } from 'node:path';
import { DEFAULT_CNI_PATHS } from '../network/cni/cni-runner.js';
import type { HostFacts } from '../system/host-facts.js';
import type { BuildInfo } from '../system/packaging.js';
import { probeTools, type ToolProbe, type ToolVersion } from '../system/tool-versions.js';
import type { Services } from './services.js';

export type { BuildInfo };

/** What `ignite version` reports. */
export interface VersionInfo {
  version: string;
  gitCommit: string;
  buildDate: string;
  nodeVersion: string;
  platform: string;
}

/** `ignite version -o json|yaml`: the build, plus the hypervisor and tools found on this host. */
export interface VersionDetails extends VersionInfo {
  hypervisor: { name: string } & ToolVersion;
  kvm: { device: boolean };
  tools: Record<string, ToolVersion>;
}

export function getVersion(
  host: Pick<HostFacts, 'nodeVersion' | 'platform'>,
  build: BuildInfo,
): VersionInfo {
  return { ...build, nodeVersion: host.nodeVersion, platform: host.platform };
}

/** The programs ignite runs, by what they do for it. */
function toolProbes(s: Pick<Services, 'hostFiles'>): ToolProbe[] {
  const cniDir =
    DEFAULT_CNI_PATHS.find((d) => s.hostFiles.existsSync(join(d, 'bridge'))) ??
    DEFAULT_CNI_PATHS[0];
  return [
    { name: 'qemu-system-x86_64', command: ['qemu-system-x86_64', '--version'] },
    { name: 'firecracker', command: ['firecracker', '--version'] },
    { name: 'qemu-img', command: ['qemu-img', '--version'] },
    { name: 'qemu-storage-daemon', command: ['qemu-storage-daemon', '--version'] },
    { name: 'mkfs.ext4', command: ['mkfs.ext4', '-V'] },
    { name: 'debugfs', command: ['debugfs', '-V'] },
    { name: 'iproute2', command: ['ip', '-V'] },
    { name: 'iptables', command: ['iptables', '--version'] },
    {
      // Without CNI_COMMAND a plugin prints its own version (often "unknown" in distributions).
      name: 'cni-plugins',
      command: [join(cniDir ?? '/usr/lib/cni', 'bridge')],
      pattern: /plugin version v?(\d+\.\d+\.\d+\S*)/,
    },
    { name: 'busybox', command: ['busybox'] },
    { name: 'ssh', command: ['ssh', '-V'] },
    { name: 'git', command: ['git', '--version'] },
  ];
}

export async function getVersionDetails(
  s: Pick<Services, 'host' | 'hostFiles' | 'config' | 'vmms'>,
  build: BuildInfo,
): Promise<VersionDetails> {
  const [tools, vmm] = await Promise.all([probeTools(toolProbes(s), s.config.env), s.vmms.pick()]);
  const hv = tools[vmm === 'firecracker' ? 'firecracker' : 'qemu-system-x86_64'] ?? {
    found: false,
  };
  return {
    ...getVersion(s.host, build),
    hypervisor: { name: vmm, ...hv },
    kvm: { device: s.host.hasKVMDevice() },
    tools,
  };
}
