import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bridgeName,
  conflistFor,
  gatewayOf,
  isolationRules,
  type NamedNetworkConfig,
} from './named-network.js';

const base: NamedNetworkConfig = {
  name: 'lab',
  subnet: '10.70.0.9/24',
  nat: true,
  isolated: false,
  bridge: 'ignite0123abcde',
};

test('bridgeName is ignite and 9 UID characters, within the kernel limit', () => {
  assert.equal(bridgeName('0123abcdef456789'), 'ignite0123abcde');
  assert.ok(bridgeName('0123abcdef456789').length <= 15);
});

test('conflistFor writes bridge, host-local, portmap and firewall for the network', () => {
  const list = conflistFor(base);
  assert.equal(list.name, 'ignite-net-lab');
  assert.deepEqual(
    list.plugins.map((p) => p['type']),
    ['bridge', 'portmap', 'firewall'],
  );
  const bridge = list.plugins[0] ?? {};
  assert.equal(bridge['bridge'], 'ignite0123abcde');
  assert.equal(bridge['ipMasq'], true);
  assert.equal(bridge['hairpinMode'], true);
  assert.deepEqual(bridge['ipam'], {
    type: 'host-local',
    ranges: [[{ subnet: '10.70.0.0/24', gateway: '10.70.0.1' }]],
  });
});

test('conflistFor: --no-nat turns masquerade off, --isolated hairpin, a gateway is kept', () => {
  const bridge =
    conflistFor({ ...base, nat: false, isolated: true, gateway: '10.70.0.254' }).plugins[0] ?? {};
  assert.equal(bridge['ipMasq'], false);
  assert.equal(bridge['hairpinMode'], false);
  assert.deepEqual(bridge['ipam'], {
    type: 'host-local',
    ranges: [[{ subnet: '10.70.0.0/24', gateway: '10.70.0.254' }]],
  });
  assert.equal(gatewayOf({ subnet: '10.70.0.0/24' }), '10.70.0.1');
});

test('isolationRules drop traffic to and from other ignite bridges, and within when isolated', () => {
  const verdicts = (c: NamedNetworkConfig) =>
    isolationRules(c).map((r) => `${r[1]}>${r[3]}:${r[r.length - 1]}`);
  assert.deepEqual(verdicts(base), [
    'ignite0123abcde>ignite+:DROP',
    'ignite+>ignite0123abcde:DROP',
    'ignite0123abcde>ignite0123abcde:ACCEPT',
  ]);
  assert.deepEqual(
    verdicts({ ...base, isolated: true }).at(-1),
    'ignite0123abcde>ignite0123abcde:DROP',
  );
  for (const rule of isolationRules(base)) assert.ok(rule.includes('ignite network lab'));
});
