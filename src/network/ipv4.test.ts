import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import {
  firstHost,
  formatIPv4,
  formatSubnet,
  isHostOf,
  overlaps,
  parseIPv4,
  parseSubnet,
} from './ipv4.js';

test('parseIPv4 reads dotted quads and refuses anything else', () => {
  assert.equal(parseIPv4('10.70.0.10'), 0x0a46000a);
  assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['10.70.0', '10.70.0.256', '1.2.3.4.5', 'a.b.c.d', '', '10.70.0.1/24'])
    assert.equal(parseIPv4(bad), undefined, bad);
  assert.equal(formatIPv4(0x0a46000a), '10.70.0.10');
});

test('parseSubnet normalises host bits and checks the prefix', () => {
  const s = parseSubnet('10.70.0.77/24');
  assert.equal(formatSubnet(s), '10.70.0.0/24');
  assert.equal(s.size, 256);
  assert.equal(formatIPv4(firstHost(s)), '10.70.0.1');
  for (const bad of ['10.70.0.0', '10.70.0.0/33', '10.70.0.0/30', '10.70.0.0/7', 'x/24', '1/2/3'])
    assert.throws(
      () => parseSubnet(bad),
      (e: unknown) => AppError.is(e, 'InvalidArgument'),
      bad,
    );
});

test('overlaps finds shared addresses in either order, and only then', () => {
  const cases: [string, string, boolean][] = [
    ['10.70.0.0/24', '10.70.0.0/24', true],
    ['10.70.0.0/24', '10.70.0.128/25', true],
    ['10.0.0.0/8', '10.61.0.0/16', true],
    ['10.70.0.0/24', '10.70.1.0/24', false],
    ['10.61.0.0/16', '10.62.0.0/16', false],
    ['192.168.0.0/16', '10.61.0.0/16', false],
  ];
  for (const [a, b, want] of cases) {
    assert.equal(overlaps(parseSubnet(a), parseSubnet(b)), want, `${a} ${b}`);
    assert.equal(overlaps(parseSubnet(b), parseSubnet(a)), want, `${b} ${a}`);
  }
});

test('isHostOf excludes the network and broadcast addresses', () => {
  const s = parseSubnet('10.70.0.0/24');
  const at = (ip: string) => isHostOf(s, parseIPv4(ip) ?? -1);
  assert.equal(at('10.70.0.0'), false);
  assert.equal(at('10.70.0.1'), true);
  assert.equal(at('10.70.0.254'), true);
  assert.equal(at('10.70.0.255'), false);
  assert.equal(at('10.70.1.5'), false);
});
