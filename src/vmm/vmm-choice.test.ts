import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  askedByHost,
  askedByVM,
  fallback,
  StrategyVMMs,
  whenAvailable,
  type VMMStrategy,
} from './vmm-choice.js';
import type { VMMDriver } from './vmm-driver.js';

function firecracker(available: boolean): Pick<VMMDriver, 'name' | 'availability'> {
  return { name: 'firecracker', availability: () => Promise.resolve({ available }) };
}

function strategies(installed: boolean): VMMStrategy[] {
  return [askedByVM, askedByHost, whenAvailable(firecracker(installed)), fallback('qemu')];
}

test('the hypervisor: the flag, else IGNITE_VMM, else Firecracker if installed, else QEMU', async () => {
  const cases: [wanted: string | undefined, setting: string, installed: boolean, want: string][] = [
    ['qemu', 'firecracker', true, 'qemu'],
    ['firecracker', 'qemu', false, 'firecracker'],
    [undefined, 'qemu', true, 'qemu'],
    [undefined, 'firecracker', false, 'firecracker'],
    [undefined, 'auto', true, 'firecracker'],
    [undefined, 'auto', false, 'qemu'],
    // A VM asking for auto is not overruled by the host's setting.
    ['auto', 'qemu', true, 'firecracker'],
  ];
  for (const [wanted, setting, installed, want] of cases) {
    const vmms = new StrategyVMMs(strategies(installed), setting, []);
    assert.equal(await vmms.pick(wanted), want, `${wanted}/${setting}/${installed}`);
  }
});

test('an unknown hypervisor name is an error naming it', async () => {
  await assert.rejects(
    new StrategyVMMs(strategies(false), 'auto', []).pick('kvmtool'),
    /"kvmtool": unknown/,
  );
  await assert.rejects(new StrategyVMMs(strategies(false), 'xen', []).pick(), /"xen": unknown/);
  await assert.rejects(new StrategyVMMs(strategies(false), '', []).pick(), /"": unknown/);
});
