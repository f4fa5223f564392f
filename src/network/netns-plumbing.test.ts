import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordingExec } from '../../test/helpers/recording-exec.js';
import { ipBatch, natIPBatch, natRules, NetnsPlumbing, tcBatch } from './netns-plumbing.js';

const plumbing = { uplink: 'eth0', tap: 'tap0', mtu: 1500, serverIP: '169.254.255.1' };

test('the ip batch brings lo up, frees the uplink address and makes the addressed tap', () => {
  assert.equal(
    ipBatch(plumbing),
    'link set lo up\naddr flush dev eth0\ntuntap add dev tap0 mode tap\nlink set tap0 mtu 1500 up\naddr add 169.254.255.1/32 dev tap0\n',
  );
});

test('with the tap made ahead, the batch gives the uplink the guest MAC and makes no second tap', () => {
  assert.equal(
    ipBatch({ ...plumbing, mac: '02:aa:bb:cc:dd:ee', tapMade: true }),
    'link set lo up\naddr flush dev eth0\nlink set dev eth0 address 02:aa:bb:cc:dd:ee\nlink set tap0 mtu 1500 up\naddr add 169.254.255.1/32 dev tap0\n',
  );
  assert.throws(() => ipBatch({ ...plumbing, mac: '02:aa:bb:cc:dd:ee\nlink del eth0' }), /bad/);
});

test('taps made ahead are one ip process in the namespace; a bad name runs nothing', async () => {
  const exec = new RecordingExec();
  await new NetnsPlumbing(exec).addTaps('ignite-x', ['tap0', 'tap1']);
  assert.deepEqual(exec.runs, [
    {
      file: 'ip',
      args: ['-n', 'ignite-x', '-batch', '-'],
      input: 'tuntap add dev tap0 mode tap\ntuntap add dev tap1 mode tap\n',
    },
  ]);
  const refused = new RecordingExec();
  await assert.rejects(new NetnsPlumbing(refused).addTaps('ignite-x', ['tap0 up']), /bad tap/);
  assert.deepEqual(refused.runs, []);
});

test('the tc batch redirects both ways and keeps DHCP requests ahead of the redirect', () => {
  const lines = tcBatch(plumbing).trim().split('\n');
  assert.equal(lines.length, 5);
  assert.match(lines[1] ?? '', /dev eth0 .*prio 1 .*redirect dev tap0$/);
  assert.match(lines[3] ?? '', /dev tap0 .*prio 1 .*dport 67 0xffff flowid ffff:1$/);
  assert.match(lines[4] ?? '', /dev tap0 .*prio 2 .*redirect dev eth0$/);
});

test('values that are not one plain word never reach a batch', () => {
  for (const bad of [
    { ...plumbing, tap: 'tap0\nlink del eth0' },
    { ...plumbing, uplink: 'eth0 up' },
    { ...plumbing, serverIP: '1.2.3.4/0' },
    { ...plumbing, mtu: 1500.5 },
    { ...plumbing, mtu: 10 },
  ]) {
    assert.throws(() => ipBatch(bad), /bad/);
    assert.throws(() => tcBatch(bad), /bad/);
  }
});

const nat = { uplink: 'eth0', tap: 'tap0', mtu: 1500, outside: '10.61.0.7', inside: '10.61.0.2' };

test("a clone's NAT: the uplink keeps its address, the guest's is routed to the tap and mapped both ways", () => {
  assert.equal(
    natIPBatch(nat),
    'link set lo up\ntuntap add dev tap0 mode tap\nlink set tap0 mtu 1500 up\nroute add 10.61.0.2/32 dev tap0\n',
  );
  assert.deepEqual(natRules(nat).trim().split('\n'), [
    '*nat',
    '-A PREROUTING -d 10.61.0.7/32 -j DNAT --to-destination 10.61.0.2',
    '-A OUTPUT -d 10.61.0.7/32 -j DNAT --to-destination 10.61.0.2',
    '-A POSTROUTING -s 10.61.0.2/32 -o eth0 -j SNAT --to-source 10.61.0.7',
    'COMMIT',
  ]);
  for (const bad of [
    { ...nat, inside: '10.61.0.2 -j ACCEPT' },
    { ...nat, outside: '10.61.0.7/8' },
    { ...nat, tap: 'tap0\nlink del eth0' },
  ]) {
    assert.throws(() => natIPBatch(bad), /bad NAT plumbing/);
    assert.throws(() => natRules(bad), /bad NAT plumbing/);
  }
});

test('plumbing a tap is one ip and one tc process, each reading its batch in the namespace', async () => {
  const exec = new RecordingExec();
  await new NetnsPlumbing(exec).plumbTap('ignite-0123456789abcdef', plumbing);
  assert.deepEqual(exec.runs, [
    {
      file: 'ip',
      args: ['-n', 'ignite-0123456789abcdef', '-batch', '-'],
      input: ipBatch(plumbing),
    },
    {
      file: 'tc',
      args: ['-n', 'ignite-0123456789abcdef', '-batch', '-'],
      input: tcBatch(plumbing),
    },
  ]);
  const refused = new RecordingExec();
  await assert.rejects(
    new NetnsPlumbing(refused).plumbTap('ns', { ...plumbing, tap: 'a b' }),
    /bad interface/,
  );
  assert.deepEqual(refused.runs, [], 'nothing runs for a bad value');
});

test('namespaces are added, and deleted only when they exist', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-netns-'));
  try {
    const exec = new RecordingExec();
    const p = new NetnsPlumbing(exec, dir);
    assert.equal(p.path('ignite-a'), join(dir, 'ignite-a'));
    await p.add('ignite-a');
    await p.delete('ignite-a');
    assert.deepEqual(exec.lines(), ['ip netns add ignite-a'], 'no process for a missing one');
    await writeFile(join(dir, 'ignite-a'), '');
    assert.equal(p.exists('ignite-a'), true);
    await p.delete('ignite-a');
    assert.deepEqual(exec.lines(), ['ip netns add ignite-a', 'ip netns del ignite-a']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('link facts, addresses, uplinks and the namespace list go through ip with plain argv', async () => {
  const exec = new RecordingExec(({ args }) => {
    if (args.includes('-json'))
      return { stdout: '[{"ifname":"eth0","address":"0a:58:0a:00:00:02","mtu":1450}]' };
    if (args[1] === 'list') return { stdout: 'ignite-aaaaaaaaaaaaaaaa (id: 3)\nother\n' };
    return {};
  });
  const p = new NetnsPlumbing(exec);
  assert.deepEqual(await p.linkInfo('ns', 'eth0'), { mac: '0a:58:0a:00:00:02', mtu: 1450 });
  await p.restoreAddress('ns', 'eth0', '10.0.0.2/24');
  await p.addUplink('ns', 'eth0');
  assert.deepEqual(await p.namespaces(), new Set(['ignite-aaaaaaaaaaaaaaaa', 'other']));
  assert.deepEqual(exec.lines(), [
    'ip -n ns -json link show dev eth0',
    'ip -n ns addr add 10.0.0.2/24 dev eth0',
    'ip -n ns link add eth0 type veth peer name eth0p',
    'ip netns list',
  ]);
  await assert.rejects(p.addUplink('ns', 'eth0;x'), /bad link/);
  const bare = new NetnsPlumbing(new RecordingExec(() => ({ stdout: '[{"mtu":1500}]' })));
  await assert.rejects(bare.linkInfo('ns', 'eth0'), /has no MAC address or MTU/);
});
