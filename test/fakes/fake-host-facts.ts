import type { HostFacts } from '../../src/system/host-facts.js';

/** A host as a test wants it: root by default, pid 4242, Node 20 on linux/x64, with /dev/kvm. */
export function fakeHostFacts(
  over: Partial<Omit<HostFacts, 'hasKVMDevice'>> & { kvm?: boolean } = {},
): HostFacts {
  const { kvm = true, ...facts } = over;
  const uid = facts.uid ?? (facts.isRoot === false ? 1000 : 0);
  return {
    isRoot: uid === 0,
    uid,
    pid: 4242,
    nodeVersion: 'v20.19.0',
    platform: 'linux/x64',
    cpus: 4,
    memoryBytes: 8 * 1024 ** 3,
    ...facts,
    hasKVMDevice: () => kvm,
  };
}
