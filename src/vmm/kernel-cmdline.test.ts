import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cmdlineWords, hasCmdlineKey, withoutIPAutoconfig } from './kernel-cmdline.js';

test('cmdlineWords: splits on any run of whitespace, nothing for a blank line', () => {
  assert.deepEqual(cmdlineWords('  a=1\tb \n c '), ['a=1', 'b', 'c']);
  assert.deepEqual(cmdlineWords('   '), []);
});

test('hasCmdlineKey: the key alone or with a value, not a longer word', () => {
  assert.ok(hasCmdlineKey(['ro'], 'ro'));
  assert.ok(hasCmdlineKey(['root=/dev/vda'], 'root'));
  assert.ok(!hasCmdlineKey(['rootwait', 'roothash=x'], 'root'));
});

test('withoutIPAutoconfig: every ip= word goes without a NIC, none with one; ip=dhcp is eth0 with several', () => {
  const words = ['console=ttyS0', 'ip=dhcp', 'ipv6.disable=1', 'ip=10.0.0.2::10.0.0.1'];
  assert.deepEqual(withoutIPAutoconfig(words, 0), ['console=ttyS0', 'ipv6.disable=1']);
  assert.deepEqual(withoutIPAutoconfig(words, 1), words);
  assert.deepEqual(withoutIPAutoconfig(words, 2), [
    'console=ttyS0',
    'ip=:::::eth0:dhcp',
    'ipv6.disable=1',
    'ip=10.0.0.2::10.0.0.1',
  ]);
});
