import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { AppError } from '../../errors.js';
import { QMPClient, type QMPEvent } from './qmp-client.js';

/** Two connected in-memory streams, like the two ends of a socket. */
class End extends Duplex {
  peer: End | undefined;
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.peer?.push(chunk);
    cb();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    this.peer = undefined;
    if (peer !== undefined && !peer.destroyed) {
      peer.peer = undefined;
      peer.push(null);
      peer.destroy();
    }
    cb(err);
  }
}

function duplexPair(): [Duplex, Duplex] {
  const a = new End();
  const b = new End();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

type Handler = (cmd: { execute: string; arguments?: unknown; id?: unknown }) => unknown;

/** A QEMU stand-in: greets, then answers each command line with what `handle` returns. */
function fakeQemu(server: Duplex, handle: Handler): string[] {
  const seen: string[] = [];
  server.write(
    '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "test"}, "capabilities": ["oob"]}}\r\n',
  );
  let buf = '';
  server.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const cmd = JSON.parse(buf.slice(0, nl)) as { execute: string; id?: unknown };
      buf = buf.slice(nl + 1);
      seen.push(cmd.execute);
      const reply = handle(cmd);
      if (reply !== undefined)
        server.write(`${JSON.stringify({ ...(reply as object), id: cmd.id })}\r\n`);
    }
  });
  return seen;
}

test('QMPClient: negotiates capabilities, then runs commands', async () => {
  const [c, s] = duplexPair();
  const seen = fakeQemu(s, (cmd) =>
    cmd.execute === 'query-status'
      ? { return: { status: 'running', running: true } }
      : { return: {} },
  );
  const { client, greeting } = await QMPClient.open(c, 'vm "t"');
  assert.equal(greeting.QMP.version.qemu.major, 7);
  assert.deepEqual(await client.queryStatus(), { status: 'running', running: true });
  assert.deepEqual(seen, ['qmp_capabilities', 'query-status']);
  client.close();
});

test('QMPClient: matches replies by id when they arrive out of order, between events', async () => {
  const [c, s] = duplexPair();
  const held: { id?: unknown }[] = [];
  fakeQemu(s, (cmd) => {
    if (cmd.execute === 'qmp_capabilities') return { return: {} };
    held.push(cmd);
    if (held.length === 2) {
      s.write('{"event": "POWERDOWN", "timestamp": {"seconds": 1, "microseconds": 2}}\r\n');
      s.write(`${JSON.stringify({ return: 'second', id: held[1]?.id })}\r\n`);
      s.write(`${JSON.stringify({ return: 'first', id: held[0]?.id })}\r\n`);
    }
    return undefined;
  });
  const { client } = await QMPClient.open(c, 'vm "t"');
  const events: QMPEvent[] = [];
  client.onEvent((e) => events.push(e));
  const [a, b] = await Promise.all([client.execute('a'), client.execute('b')]);
  assert.equal(a, 'first');
  assert.equal(b, 'second');
  assert.deepEqual(
    events.map((e) => e.event),
    ['POWERDOWN'],
  );
  client.close();
});

test('QMPClient: a QMP error becomes an AppError that leads with the VM', async () => {
  const [c, s] = duplexPair();
  fakeQemu(s, (cmd) =>
    cmd.execute === 'qmp_capabilities'
      ? { return: {} }
      : { error: { class: 'DeviceNotFound', desc: "Device 'nope' not found" } },
  );
  const { client } = await QMPClient.open(c, 'vm "web"');
  await assert.rejects(client.execute('device_del', { id: 'nope' }), (e: unknown) => {
    assert.ok(e instanceof AppError);
    assert.equal(e.code, 'NotFound');
    assert.match(e.message, /^vm "web": qmp device_del: Device 'nope' not found/);
    return true;
  });
  client.close();
});

test('QMPClient: send-key carries ctrl-alt-delete as qcodes', async () => {
  const [c, s] = duplexPair();
  let args: unknown;
  fakeQemu(s, (cmd) => {
    if (cmd.execute === 'send-key') args = cmd.arguments;
    return { return: {} };
  });
  const { client } = await QMPClient.open(c, 'vm "t"');
  await client.sendCtrlAltDel();
  assert.deepEqual(args, {
    keys: [
      { type: 'qcode', data: 'ctrl' },
      { type: 'qcode', data: 'alt' },
      { type: 'qcode', data: 'delete' },
    ],
  });
  client.close();
});

test('QMPClient: pending commands fail when the connection closes; quit treats that as done', async () => {
  const [c, s] = duplexPair();
  fakeQemu(s, (cmd) => {
    if (cmd.execute === 'qmp_capabilities') return { return: {} };
    setImmediate(() => s.destroy());
    return undefined;
  });
  const { client } = await QMPClient.open(c, 'vm "t"');
  await client.quit();
  await client.closed;
  await assert.rejects(client.queryStatus(), (e: unknown) => AppError.is(e, 'Unavailable'));
});

test('QMPClient: a command without a reply times out', async () => {
  const [c, s] = duplexPair();
  fakeQemu(s, (cmd) => (cmd.execute === 'qmp_capabilities' ? { return: {} } : undefined));
  const { client } = await QMPClient.open(c, 'vm "t"');
  await assert.rejects(client.execute('query-status', undefined, 50), /no reply within 50 ms/);
  client.close();
});
