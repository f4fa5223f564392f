import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer, type RawData } from 'ws';
import { AppError } from '../errors.js';
import { parseDaemonAddress } from './address.js';
import { API_BASE, DaemonClient } from './daemon-client.js';
import { attachRemoteConsole } from './remote-console.js';

test('attach: console bytes both ways over the WebSocket; Ctrl-P Ctrl-Q detaches', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-console-'));
  const server = http.createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ status: 404, code: 'NotFound', detail: 'vm "gone": not found' }));
  });
  const wss = new WebSocketServer({ noServer: true });
  const received: Buffer[] = [];
  server.on('upgrade', (req, socket, head) => {
    if (req.url === `${API_BASE}/vms/stopped/console`)
      return wss.handleUpgrade(req, socket, head, (ws) =>
        ws.close(4409, 'vm "stopped": is not running'),
      );
    if (req.url !== `${API_BASE}/vms/0123456789abcdef/console`) {
      socket.end(
        'HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\n\r\n{"status":404,"code":"NotFound","detail":"vm \\"gone\\": not found"}',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (req.headers['sec-websocket-protocol'] !== 'ignite.console')
        return ws.close(4400, 'no subprotocol');
      ws.send(Buffer.from('login: '));
      ws.on('message', (d: RawData) => received.push(Buffer.from(d as Buffer)));
    });
  });
  server.listen(join(dir, 'd.sock'));
  await once(server, 'listening');
  try {
    const client = new DaemonClient({
      address: parseDaemonAddress(`unix://${join(dir, 'd.sock')}`),
    });
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    let shown = '';
    stdout.on('data', (c: Buffer) => (shown += c.toString()));
    const attached = attachRemoteConsole(client, '0123456789abcdef', { stdin, stdout });
    while (!shown.includes('login: ')) await new Promise((r) => setTimeout(r, 10));
    stdin.write('root\n');
    while (Buffer.concat(received).toString() !== 'root\n')
      await new Promise((r) => setTimeout(r, 10));
    stdin.write(Buffer.from([0x10, 0x11]));
    await attached;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(Buffer.concat(received).toString(), 'root\n', 'the detach keys stay here');

    await assert.rejects(
      attachRemoteConsole(client, 'gone', { stdin: new PassThrough(), stdout }),
      (e) => AppError.is(e, 'NotFound') && e.message === 'vm "gone": not found',
    );
    await assert.rejects(
      attachRemoteConsole(client, 'stopped', { stdin: new PassThrough(), stdout }),
      (e) => AppError.is(e, 'FailedPrecondition') && e.message === 'vm "stopped": is not running',
    );
  } finally {
    for (const c of wss.clients) c.terminate();
    server.closeAllConnections();
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
