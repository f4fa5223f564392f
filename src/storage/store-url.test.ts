import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStoreURL } from './store-url.js';

test('parseStoreURL: the data dir, etcd members, and TLS files from settings or the query', () => {
  const cases: { name: string; settings: Parameters<typeof parseStoreURL>[0]; want: unknown }[] = [
    { name: 'no URL: the data dir', settings: {}, want: undefined },
    { name: 'an empty URL: the data dir', settings: { url: '' }, want: undefined },
    {
      name: 'members, with the default port where none is given',
      settings: { url: 'etcd://h1:2379,h2,10.0.0.3:32379' },
      want: { endpoints: ['h1:2379', 'h2:2379', '10.0.0.3:32379'] },
    },
    {
      name: 'an IPv6 member',
      settings: { url: 'etcd://[::1]:2379' },
      want: { endpoints: ['[::1]:2379'] },
    },
    {
      name: 'TLS files in the query',
      settings: { url: 'etcd://h1?ca=/pki/ca.pem&cert=/pki/c.pem&key=/pki/c.key' },
      want: {
        endpoints: ['h1:2379'],
        tls: { ca: '/pki/ca.pem', cert: '/pki/c.pem', key: '/pki/c.key' },
      },
    },
    {
      name: 'TLS files from the settings win over the query',
      settings: { url: 'etcd://h1?ca=/q/ca.pem', ca: '/f/ca.pem' },
      want: { endpoints: ['h1:2379'], tls: { ca: '/f/ca.pem' } },
    },
  ];
  for (const c of cases) assert.deepEqual(parseStoreURL(c.settings), c.want, c.name);
});

test('parseStoreURL: refuses what it cannot use, naming the flag', () => {
  const bad: [string, Parameters<typeof parseStoreURL>[0], RegExp][] = [
    ['another scheme', { url: 'http://h1:2379' }, /unknown store/],
    ['no members', { url: 'etcd://' }, /is not a host/],
    ['an empty member', { url: 'etcd://h1,,h2' }, /is not a host/],
    ['a port out of range', { url: 'etcd://h1:70000' }, /out of range/],
    ['an unknown parameter', { url: 'etcd://h1?user=x' }, /unknown parameter "user"/],
    ['a certificate without a CA', { url: 'etcd://h1', cert: 'c', key: 'k' }, /needs the CA/],
    ['a certificate without its key', { url: 'etcd://h1', ca: 'a', cert: 'c' }, /needs its key/],
  ];
  for (const [name, settings, message] of bad) {
    assert.throws(
      () => parseStoreURL(settings),
      (e: { code?: string; message?: string }) =>
        e.code === 'InvalidArgument' &&
        message.test(e.message ?? '') &&
        (e.message ?? '').startsWith('--store '),
      name,
    );
  }
});
