import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter } from './ndjson.js';

test('LineSplitter: lines cut anywhere between chunks come out whole', () => {
  const text = '{"a":1}\n{"b":"x\\ny"}\r\n\n{"c":3}\n{"d"';
  for (let cut = 0; cut <= text.length; cut++) {
    const s = new LineSplitter();
    const lines = [...s.push(text.slice(0, cut)), ...s.push(text.slice(cut)), ...s.end()];
    assert.deepEqual(lines, ['{"a":1}', '{"b":"x\\ny"}', '{"c":3}', '{"d"'], `cut at ${cut}`);
  }
});

test('LineSplitter: nothing held, nothing at the end', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push('one\n'), ['one']);
  assert.deepEqual(s.end(), []);
});
