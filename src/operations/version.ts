import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CNI_PATHS } from '../network/cni/cni-runner.js';
import { probeTools, type ToolProbe, type ToolVersion } from '../system/tool-versions.js';

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

export interface BuildInfo {
  version: string;
  gitCommit: string;
  buildDate: string;
}

export function getVersion(build: BuildInfo): VersionInfo {
  return {
    ...build,
    nodeVersion: process.version,
    platform: `${process.platform}/${process.arch}`,
  };
}

/** The programs ignite runs, by what they do for it. */
function toolProbes(): ToolProbe[] {
  const cniDir =
    DEFAULT_CNI_PATHS.find((d) => existsSync(join(d, 'bridge'))) ?? DEFAULT_CNI_PATHS[0];
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
  build: BuildInfo,
  env: NodeJS.ProcessEnv,
  hypervisor: () => Promise<string>,
): Promise<VersionDetails> {
  const [tools, vmm] = await Promise.all([probeTools(toolProbes(), env), hypervisor()]);
  const hv = tools[vmm === 'firecracker' ? 'firecracker' : 'qemu-system-x86_64'] ?? {
    found: false,
  };
  return {
    ...getVersion(build),
    hypervisor: { name: vmm, ...hv },
    kvm: { device: existsSync('/dev/kvm') },
    tools,
  };
}
