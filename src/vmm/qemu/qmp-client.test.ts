import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../errors.js';
import { duplexPair, fakeQemu } from '../../../test/fixtures/vmm/fake-qmp.js';
import { QMPClient, type QMPEvent } from './qmp-client.js';

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
