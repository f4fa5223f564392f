import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasProgram } from '../../../src/system/exec.js';
import { probeBoot } from '../../../src/vmm/qemu/accel-probe.js';
import { bootFixture, bootFixtureUnavailable } from '../../helpers/vm-fixture.js';

const QEMU = 'qemu-system-x86_64';

async function skipReason(): Promise<string | undefined> {
  if (!hasProgram(QEMU)) return `${QEMU} is not installed`;
  return bootFixtureUnavailable();
}

// The probe's verdict rests on recognising a booted kernel; TCG always boots, so it shows the
// probe can say yes, and a junk kernel shows it can say no.
test(
  'probeBoot: a real kernel under TCG reaches the root mount',
  { timeout: 60_000 },
  async (t) => {
    const skip = await skipReason();
    if (skip !== undefined) assert.fail(`cannot run here: ${skip}`);
    const r = await probeBoot(QEMU, (await bootFixture()).vmlinuxPath, 'tcg', 30_000);
    t.diagnostic(`TCG probe boot: ${r.ms} ms`);
    assert.equal(r.ok, true, r.detail);
  },
);

test('probeBoot: a junk kernel fails fast', { timeout: 30_000 }, async () => {
  const skip = await skipReason();
  if (skip !== undefined) assert.fail(`cannot run here: ${skip}`);
  const dir = await mkdtemp(join(tmpdir(), 'ignite-probe-'));
  try {
    await writeFile(join(dir, 'vmlinux'), 'not a kernel');
    const r = await probeBoot(QEMU, join(dir, 'vmlinux'), 'tcg', 10_000);
    assert.equal(r.ok, false);
    assert.ok(r.ms < 10_000, r.detail);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
