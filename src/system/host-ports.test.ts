import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { hostPortsInUse, serverPorts } from './host-ports.js';

test('serverPorts reads the local ports of sockets in the given state, IPv4 and IPv6', () => {
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 263 1',
    '   1: 0100007F:1388 0100007F:C6F2 01 00000000:00000000 00:00000000 00000000     0        0 0 3',
    '   2: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 0 0 0',
    '',
  ].join('\n');
  assert.deepEqual(serverPorts(tcp, '0A'), [2024, 8080]);
  assert.deepEqual(serverPorts(tcp, '01'), [5000]);
});

test('hostPortsInUse sees a listening socket of this process', async (t) => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const used = await hostPortsInUse();
  assert.ok(used.has(`${port}/tcp`), `${port}/tcp is listed`);
  assert.ok(!used.has(`${port}/udp`));
});
