import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueuedSignals } from './queued-signals.js';

test('a signal with no listener waits for the first one; once listeners hear it once', async () => {
  const q = new QueuedSignals();
  const heard: string[] = [];
  q.emit('SIGTERM');
  q.on('SIGTERM', () => heard.push('on'));
  await Promise.resolve();
  assert.deepEqual(heard, ['on']);
  q.once('SIGQUIT', () => heard.push('once'));
  q.emit('SIGQUIT');
  q.emit('SIGQUIT');
  assert.deepEqual(heard, ['on', 'once'], 'a once listener is gone after it heard it');
  const off = q.on('SIGINT', () => heard.push('int'));
  off();
  q.emit('SIGINT');
  assert.deepEqual(heard, ['on', 'once']);
});
