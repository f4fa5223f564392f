import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLabelSelector } from './label-selector.js';

test('label selectors: equality, inequality, existence, absence', () => {
  const labels = { app: 'web', tier: 'front' };
  const cases: [string, boolean][] = [
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app=db', false],
    ['app!=db', true],
    ['app!=web', false],
    ['missing!=x', true],
    ['tier', true],
    ['!tier', false],
    ['!missing', true],
    ['app=web,tier=front', true],
    ['app=web, tier=back', false],
  ];
  for (const [sel, want] of cases) assert.equal(parseLabelSelector(sel)(labels), want, sel);
  assert.equal(parseLabelSelector('app')(undefined), false);
});

test('label selectors: malformed terms are refused by name', () => {
  for (const bad of ['=x', 'a b', '!a=b', 'a=b c'])
    assert.throws(() => parseLabelSelector(bad), { code: 'InvalidArgument' }, bad);
});
