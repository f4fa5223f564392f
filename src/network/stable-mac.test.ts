import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guestMac, stableMac } from './stable-mac.js';

test('a stable MAC is locally administered and unicast, the same for the same seed only', () => {
  for (const seed of ['a', 'b', 'ignite guest 0123456789abcdef']) {
    const mac = stableMac(seed);
    assert.match(mac, /^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/);
    assert.equal(stableMac(seed), mac);
  }
  assert.notEqual(guestMac('0123456789abcdef'), guestMac('0123456789abcdee'));
  assert.notEqual(guestMac('x'), stableMac('x'), 'a guest MAC is not any other stable MAC');
});
