import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { Registry } from 'prom-client';
import type { VMState } from '../api/index.js';
import { createLogger } from '../system/logger.js';
import { parseExposition } from './exposition.js';
import { createVMMetrics, type BlockCounters, type VMMetricsSources } from './vm-metrics.js';

const FIXTURE_PROC = join(import.meta.dirname, '../../test/fixtures/metrics/proc');
const IDENTITY = { uid: 'f00dcafe', name: 'web', vmm: 'qemu', image: 'img:1', kernel: 'k:1' };

/** Sources whose answers the test changes; counts calls to blockStats. */
function fakeSources() {
  const s = {
    state: 'Running' as VMState,
    boot: 1_700_000_000 as number | undefined,
    pid: 4242 as number | undefined,
    block: { readBytes: 10, writeBytes: 20, readOps: 1, writeOps: 2 } as BlockCounters | undefined,
    blockError: undefined as Error | undefined,
    blockCalls: 0,
    net: { pid: 4242, ifname: 'vm6c6f0a2e' } as { pid: number; ifname: string } | undefined,
    leases: 1,
  };
  const sources: VMMetricsSources = {
    state: () => s.state,
    bootTimeSeconds: () => s.boot,
    hypervisorPid: () => s.pid,
    blockStats: async () => {
      s.blockCalls++;
      await new Promise((r) => setTimeout(r, 5));
      if (s.blockError) throw s.blockError;
      return s.block;
    },
    netDevice: () => s.net,
    dhcpLeases: () => s.leases,
  };
  return { s, sources };
}

/** Scrapes and returns `name{labels}` -> value for the ignite_vm_ series. */
async function scrape(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const family of parseExposition(await registry.metrics())) {
    for (const sample of family.samples) {
      if (!sample.name.startsWith('ignite_vm_')) continue;
      const labels = sample.labels
        .filter(([k]) => k !== 'vm_uid' && k !== 'vm_name')
        .map(([k, v]) => `${k}=${v}`);
      out.set(`${sample.name}{${labels.join(',')}}`, sample.value);
    }
  }
  return out;
}

test('every series, read from the sources; network seen from the guest side of the tap', async () => {
  const { s, sources } = fakeSources();
  const registry = await createVMMetrics(sources, IDENTITY, {
    clockTicks: 100,
    procRoot: FIXTURE_PROC,
    processMetrics: false,
  });
  assert.deepEqual(Object.fromEntries(await scrape(registry)), {
    'ignite_vm_info{vmm=qemu,image=img:1,kernel=k:1}': 1,
    'ignite_vm_state{state=Created}': 0,
    'ignite_vm_state{state=Running}': 1,
    'ignite_vm_state{state=Stopped}': 0,
    'ignite_vm_state{state=Pending}': 0,
    'ignite_vm_boot_time_seconds{}': 1_700_000_000,
    'ignite_vm_hypervisor_cpu_seconds_total{}': 18,
    'ignite_vm_hypervisor_resident_memory_bytes{}': 262144 * 1024,
    'ignite_vm_block_read_bytes_total{}': 10,
    'ignite_vm_block_write_bytes_total{}': 20,
    'ignite_vm_block_read_ops_total{}': 1,
    'ignite_vm_block_write_ops_total{}': 2,
    // The fixture tap received 1111 bytes / 11 packets (sent by the guest) and transmitted
    // 2222 / 22 (to the guest).
    'ignite_vm_network_receive_bytes_total{device=vm6c6f0a2e}': 2222,
    'ignite_vm_network_transmit_bytes_total{device=vm6c6f0a2e}': 1111,
    'ignite_vm_network_receive_packets_total{device=vm6c6f0a2e}': 22,
    'ignite_vm_network_transmit_packets_total{device=vm6c6f0a2e}': 11,
    'ignite_vm_dhcp_leases_total{}': 1,
  });
  // One scrape asks the hypervisor for block stats once, not once per counter.
  assert.equal(s.blockCalls, 1);
  const text = await registry.metrics();
  assert.match(text, /^ignite_vm_dhcp_leases_total\{vm_uid="f00dcafe",vm_name="web"\} 1$/m);
  assert.match(text, /^# TYPE ignite_vm_block_read_bytes_total counter$/m);
});

test('values change between scrapes; absent sources show no series', async () => {
  const { s, sources } = fakeSources();
  const registry = await createVMMetrics(sources, IDENTITY, {
    clockTicks: 100,
    procRoot: FIXTURE_PROC,
    processMetrics: false,
  });
  await scrape(registry);
  s.state = 'Stopped';
  s.boot = undefined;
  s.pid = undefined;
  s.net = undefined;
  s.block = undefined;
  s.leases = 3;
  const after = await scrape(registry);
  assert.equal(after.get('ignite_vm_state{state=Stopped}'), 1);
  assert.equal(after.get('ignite_vm_state{state=Running}'), 0);
  assert.equal(after.get('ignite_vm_dhcp_leases_total{}'), 3);
  for (const gone of [
    'ignite_vm_boot_time_seconds{}',
    'ignite_vm_hypervisor_cpu_seconds_total{}',
    'ignite_vm_block_read_bytes_total{}',
    'ignite_vm_network_receive_bytes_total{device=vm6c6f0a2e}',
  ]) {
    assert.equal(after.has(gone), false, gone);
  }
});

test('a failing source keeps its last values and the scrape goes on; it is logged', async () => {
  const { s, sources } = fakeSources();
  const logged: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
      done();
    },
  });
  const registry = await createVMMetrics(sources, IDENTITY, {
    clockTicks: 100,
    procRoot: FIXTURE_PROC,
    processMetrics: false,
    logger: createLogger({ level: 'debug', stream, pretty: false }),
  });
  await scrape(registry);
  s.blockError = new Error('QMP went away');
  s.pid = 999_999_999; // no such process: /proc read fails
  s.net = { pid: 4242, ifname: 'missing0' };
  s.leases = 5;
  const after = await scrape(registry);
  assert.equal(after.get('ignite_vm_block_write_bytes_total{}'), 20);
  assert.equal(after.get('ignite_vm_hypervisor_cpu_seconds_total{}'), 18);
  assert.equal(after.get('ignite_vm_network_receive_bytes_total{device=vm6c6f0a2e}'), 2222);
  assert.equal(after.get('ignite_vm_dhcp_leases_total{}'), 5);
  assert.ok(logged.some((m) => m.includes('ignite_vm_block_read_bytes_total')));
  assert.ok(logged.some((m) => m.includes('ignite_vm_network_receive_bytes_total')));
});

test('a negative total from a source is rejected, not exposed', async () => {
  const { s, sources } = fakeSources();
  const registry = await createVMMetrics(sources, IDENTITY, {
    clockTicks: 100,
    procRoot: FIXTURE_PROC,
    processMetrics: false,
  });
  s.leases = -1;
  assert.equal((await scrape(registry)).has('ignite_vm_dhcp_leases_total{}'), false);
});

test('process metrics of the supervisor carry the VM labels; nonconforming ones are left out', async () => {
  const { sources } = fakeSources();
  const registry = await createVMMetrics(sources, IDENTITY, { procRoot: FIXTURE_PROC });
  const text = await registry.metrics();
  assert.match(text, /^process_cpu_seconds_total\{vm_uid="f00dcafe",vm_name="web"\} [\d.e-]+$/m);
  assert.match(text, /^nodejs_version_info\{.*vm_uid="f00dcafe"/m);
  assert.doesNotMatch(text, /nodejs_active_handles_total/);
});
