import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CPU_SECONDS, RESIDENT_BYTES, sampleValues, usageFrom } from './prometheus-text.js';

const EXPOSITION = `# HELP ignite_vm_info About the VM.
# TYPE ignite_vm_info gauge
ignite_vm_info{vm_uid="abc",vm_name="we}b \\"x\\"",vmm="qemu"} 1
# HELP ${CPU_SECONDS} CPU time of the hypervisor.
# TYPE ${CPU_SECONDS} counter
${CPU_SECONDS}{vm_uid="abc",vm_name="we}b"} 12.5
${CPU_SECONDS}{vm_uid="def",vm_name="other"} 99
${RESIDENT_BYTES}{vm_uid="abc"} 1.34217728e+08 1700000000000
ignite_vm_state{vm_uid="abc",state="Running"} 1
process_start_time_seconds 1700000000
`;

test('sampleValues: the first sample of each wanted name, labels with } and quotes skipped', () => {
  const v = sampleValues(EXPOSITION, [CPU_SECONDS, RESIDENT_BYTES, 'process_start_time_seconds']);
  assert.deepEqual(
    [...v.entries()],
    [
      [CPU_SECONDS, 12.5],
      [RESIDENT_BYTES, 134217728],
      ['process_start_time_seconds', 1700000000],
    ],
  );
});

test('sampleValues: special values, bad lines and unwanted names', () => {
  const text = 'a +Inf\nb NaN\nc{x="1" 5\nd{} -2\ne abc\nf 3\n';
  const v = sampleValues(text, ['a', 'b', 'c', 'd', 'e']);
  assert.equal(v.get('a'), Infinity);
  assert.ok(Number.isNaN(v.get('b')));
  assert.equal(v.has('c'), false, 'unterminated labels');
  assert.equal(v.get('d'), -2);
  assert.equal(v.has('e'), false, 'not a number');
  assert.equal(v.has('f'), false, 'not wanted');
});

test('usageFrom: memory at once, CPU from the second sample on', () => {
  const first = usageFrom(EXPOSITION, 10_000, undefined);
  assert.deepEqual(first.usage, { memoryBytes: 134217728 });
  assert.deepEqual(first.sample, { seconds: 12.5, atMs: 10_000 });

  const later = EXPOSITION.replace(`} 12.5`, `} 14`);
  const second = usageFrom(later, 13_000, first.sample);
  assert.equal(second.usage.cpuPercent, 50, '1.5 s of CPU in 3 s');

  // A restarted hypervisor's counter starts again: no figure rather than a negative one.
  const restarted = usageFrom(EXPOSITION.replace(`} 12.5`, `} 1`), 16_000, second.sample);
  assert.equal(restarted.usage.cpuPercent, undefined);
  assert.deepEqual(usageFrom('', 1, undefined), { usage: {}, sample: undefined });
});
