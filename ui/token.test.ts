import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maySendToken, TokenStore } from './token.js';

test('maySendToken: https anywhere, plain http only to this machine', () => {
  const cases: [protocol: string, hostname: string, want: boolean][] = [
    ['https:', 'ignite.example.com', true],
    ['https:', '10.0.0.5', true],
    ['http:', 'ignite.example.com', false],
    ['http:', '10.0.0.5', false],
    ['http:', '127.0.0.1', true],
    ['http:', '127.12.0.3', true],
    ['http:', 'localhost', true],
    ['http:', 'LOCALHOST', true],
    ['http:', 'app.localhost', true],
    ['http:', '[::1]', true],
    ['http:', '127.0.0.1.example.com', false],
    ['http:', 'localhost.example.com', false],
    ['http:', '[::ffff:10.0.0.1]', false],
  ];
  for (const [protocol, hostname, want] of cases)
    assert.equal(maySendToken({ protocol, hostname }), want, `${protocol}//${hostname}`);
});

function memoryStorage() {
  const m = new Map<string, string>();
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
    m,
  };
}

test('TokenStore: keeps and gives the token only when the page may send it', () => {
  const storage = memoryStorage();
  const ok = new TokenStore(storage, true);
  assert.equal(ok.get(), undefined);
  ok.set(' s3cret \n');
  assert.equal(ok.get(), 's3cret');
  ok.clear();
  assert.equal(ok.get(), undefined);

  const refused = new TokenStore(storage, false);
  refused.set('s3cret');
  assert.equal(storage.m.size, 0, 'never stored');
  storage.m.set('ignite.token', 'planted');
  assert.equal(refused.get(), undefined, 'never given out');
});
