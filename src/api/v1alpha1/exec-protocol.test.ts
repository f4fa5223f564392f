import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ExecChannel,
  execFrame,
  execQuery,
  parseExecFrame,
  parseExecQuery,
  type ExecRequest,
} from './exec-protocol.js';

test('an exec request survives its URL query; bad queries say what is wrong', () => {
  const requests: ExecRequest[] = [
    { command: ['sh', '-c', 'echo "a b" && exit 3'], tty: false, timeoutSeconds: 10 },
    { command: [], tty: true, timeoutSeconds: 1 },
    { command: ['ls /tmp | wc -l'], tty: false, timeoutSeconds: 600 },
  ];
  for (const r of requests) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(execQuery(r)))
      for (const item of Array.isArray(v) ? v : [v]) q.append(k, item);
    assert.deepEqual(parseExecQuery(new URLSearchParams(q.toString())), r);
  }
  const bad: [string, RegExp][] = [
    ['command=a%00b', /NUL/],
    ['tty=yes', /^tty: "yes"/],
    ['timeout=0', /^timeout: "0"/],
    ['timeout=601', /^timeout: "601"/],
    ['timeout=1.5', /^timeout: "1.5"/],
    ['timeout=', /^timeout: ""/],
  ];
  for (const [query, want] of bad) {
    const got = parseExecQuery(new URLSearchParams(query));
    assert.equal(typeof got, 'string', query);
    assert.match(got as string, want, query);
  }
});

test('exec frames carry their channel in the first byte', () => {
  assert.deepEqual([...execFrame(ExecChannel.STDIN_EOF)], [4]);
  const f = parseExecFrame(execFrame(ExecChannel.STDERR, Buffer.from('oops')));
  assert.equal(f?.channel, ExecChannel.STDERR);
  assert.equal(f?.payload.toString(), 'oops');
  assert.equal(parseExecFrame(Buffer.alloc(0)), undefined);
});
