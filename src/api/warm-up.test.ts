import { test } from 'node:test';
import assert from 'node:assert/strict';
import { warmUpDecodingWhileIdle } from './warm-up.js';

test('the warm-up samples decode (a schema change that refuses them fails here, not at a start)', async () => {
  assert.equal(await warmUpDecodingWhileIdle(() => false), true);
});

test('the warm-up lets what came first go first, and then leaves the decoding to it', async () => {
  let came = false;
  setImmediate(() => (came = true));
  assert.equal(await warmUpDecodingWhileIdle(() => came), false);
});
