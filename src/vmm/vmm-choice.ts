import { invalidArgument } from '../errors.js';
import type { VMMDriver, VMMName } from './vmm-driver.js';

/** What a strategy gets: the VM's own choice (flag or annotation) and the host's (IGNITE_VMM). */
export interface VMMWish {
  wanted?: string | undefined;
  setting: string;
}

/**
 * One way to choose a VM's hypervisor. It answers undefined when it does not apply, so the next
 * one is asked, or names the hypervisor, or throws when what it was given is wrong.
 */
export interface VMMStrategy {
  readonly name: string;
  choose(wish: VMMWish): Promise<VMMName | undefined>;
}

const NAMES: readonly string[] = ['qemu', 'firecracker'];

function named(what: string, choice: string): VMMName | undefined {
  if (choice === 'auto') return undefined;
  if (NAMES.includes(choice)) return choice as VMMName;
  throw invalidArgument(`${what} "${choice}": unknown (use qemu, firecracker or auto)`);
}

/** The VM's own choice: `--vmm`, or the annotation of a VM created with one. */
export const askedByVM: VMMStrategy = {
  name: 'flag',
  choose: (w) => Promise.resolve(w.wanted === undefined ? undefined : named('vmm', w.wanted)),
};

/** The host's choice, IGNITE_VMM, when the VM made none. */
export const askedByHost: VMMStrategy = {
  name: 'IGNITE_VMM',
  choose: (w) => Promise.resolve(w.wanted === undefined ? named('vmm', w.setting) : undefined),
};

/** Firecracker where its binary is installed and answers. */
export function whenAvailable(driver: Pick<VMMDriver, 'name' | 'availability'>): VMMStrategy {
  return {
    name: `${driver.name} if installed`,
    choose: async () => ((await driver.availability()).available ? driver.name : undefined),
  };
}

/** The last resort, which works everywhere: QEMU (with KVM where usable, TCG otherwise). */
export const fallback = (vmm: VMMName): VMMStrategy => ({
  name: vmm,
  choose: () => Promise.resolve(vmm),
});

/** The hypervisors of this host: which one a new VM gets, and the driver of each. */
export interface VMMs {
  /**
   * The hypervisor for a new VM: the flag, else the host setting (IGNITE_VMM), else Firecracker
   * where installed, else QEMU. The choice is stored on the VM, since its disk format depends on it.
   */
  pick(wanted?: string): Promise<VMMName>;
  /** The driver of a hypervisor by name; undefined for a name no driver has. */
  driver(name: string): VMMDriver | undefined;
}

/** Asks each strategy in turn; the first that applies decides. */
export class StrategyVMMs implements VMMs {
  constructor(
    private readonly strategies: readonly VMMStrategy[],
    private readonly setting: string,
    private readonly drivers: readonly VMMDriver[],
  ) {}

  async pick(wanted?: string): Promise<VMMName> {
    for (const s of this.strategies) {
      const vmm = await s.choose({ wanted, setting: this.setting });
      if (vmm !== undefined) return vmm;
    }
    throw invalidArgument('vmm: no hypervisor applies');
  }

  driver(name: string): VMMDriver | undefined {
    return this.drivers.find((d) => d.name === name);
  }
}
