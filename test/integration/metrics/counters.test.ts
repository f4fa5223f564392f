import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { parseExposition } from '../../../src/metrics/index.js';
import { curlUnix, startFakeVM, tempDir } from './fixture.js';

/** Sends `bytes` through a TCP echo server on 127.0.0.1 and waits for them all to come back. */
async function loopbackTraffic(bytes: number): Promise<void> {
  const echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = echo.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      const client = connect(port, '127.0.0.1', () => client.end(Buffer.alloc(bytes, 0x61)));
      let received = 0;
      client.on('data', (chunk: Buffer) => (received += chunk.length));
      client.on('end', () =>
        received === bytes ? resolve() : reject(new Error(`echoed ${received} of ${bytes}`)),
      );
      client.on('error', reject);
    });
  } finally {
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  }
}

async function totals(socketPath: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const family of parseExposition(await curlUnix(socketPath))) {
    for (const s of family.samples) if (s.name.startsWith('ignite_vm_')) out.set(s.name, s.value);
  }
  return out;
}

test('totals grow: block stats, loopback traffic and hypervisor CPU between two scrapes', async () => {
  await using dir = await tempDir();
  await using vm = await startFakeVM(dir.path, 'ffff000000000006', 'grow');
  const before = await totals(vm.socketPath);

  vm.block.readBytes += 1_048_576;
  vm.block.readOps += 256;
  vm.block.writeBytes += 4096;
  vm.block.writeOps += 1;
  const MiB = 1_048_576;
  await loopbackTraffic(MiB);
  // CPU time for the "hypervisor" (this process), measured as CPU, not wall time: on a busy
  // machine a wall-clock loop may get little of it.
  const cpuStart = process.cpuUsage();
  while (process.cpuUsage(cpuStart).user < 150_000);

  const after = await totals(vm.socketPath);
  const delta = (name: string): number => (after.get(name) ?? NaN) - (before.get(name) ?? NaN);
  assert.equal(delta('ignite_vm_block_read_bytes_total'), 1_048_576);
  assert.equal(delta('ignite_vm_block_read_ops_total'), 256);
  assert.equal(delta('ignite_vm_block_write_bytes_total'), 4096);
  assert.equal(delta('ignite_vm_block_write_ops_total'), 1);
  // The megabyte went out and came back over lo: at least that much each way.
  for (const name of [
    'ignite_vm_network_receive_bytes_total',
    'ignite_vm_network_transmit_bytes_total',
  ]) {
    assert.ok(delta(name) >= 2 * MiB, `${name} grew by ${delta(name)}`);
  }
  assert.ok(delta('ignite_vm_network_receive_packets_total') > 0);
  assert.ok(delta('ignite_vm_network_transmit_packets_total') > 0);
  assert.ok(delta('ignite_vm_hypervisor_cpu_seconds_total') >= 0.1);
});
