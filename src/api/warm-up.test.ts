import { test } from 'node:test';
import assert from 'node:assert/strict';
import { warmUpDecoding } from './warm-up.js';

test('the warm-up samples decode (a schema change that refuses them fails here, not at a start)', () => {
  assert.doesNotThrow(() => warmUpDecoding());
});
