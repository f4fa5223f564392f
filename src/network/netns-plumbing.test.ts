import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipBatch, tcBatch } from './netns-plumbing.js';

const plumbing = { uplink: 'eth0', tap: 'tap0', mtu: 1500, serverIP: '169.254.255.1' };

test('the ip batch brings lo up, frees the uplink address and makes the addressed tap', () => {
  assert.equal(
    ipBatch(plumbing),
    'link set lo up\naddr flush dev eth0\ntuntap add dev tap0 mode tap\nlink set tap0 mtu 1500 up\naddr add 169.254.255.1/32 dev tap0\n',
  );
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
