import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkTCPSecurity, parseListenAddress } from './listen-address.js';

test('listen addresses: unix paths and tcp host:port, others refused', () => {
  assert.deepEqual(parseListenAddress('unix:///run/x.sock'), {
    kind: 'unix',
    path: '/run/x.sock',
    url: 'unix:///run/x.sock',
  });
  assert.deepEqual(parseListenAddress('tcp://[::1]:8080'), {
    kind: 'tcp',
    host: '::1',
    port: 8080,
    url: 'tcp://[::1]:8080',
  });
  for (const bad of ['unix://rel.sock', 'tcp://host', 'tcp://h:0', 'tcp://h:70000', 'http://h:1'])
    assert.throws(() => parseListenAddress(bad), { code: 'InvalidArgument' }, bad);
});

test('tcp needs TLS and a token, or --insecure on loopback only', () => {
  const at = (s: string) =>
    parseListenAddress(s) as ReturnType<typeof parseListenAddress> & {
      kind: 'tcp';
    };
  const none = { insecure: false };
  assert.throws(() => checkTCPSecurity(at('tcp://127.0.0.1:1'), none), /needs --tls-cert/);
  assert.throws(
    () => checkTCPSecurity(at('tcp://0.0.0.0:1'), { insecure: true }),
    /only on a loopback/,
  );
  assert.equal(checkTCPSecurity(at('tcp://127.0.0.1:1'), { insecure: true }), false);
  assert.equal(checkTCPSecurity(at('tcp://[::1]:1'), { insecure: true }), false);
  assert.throws(
    () => checkTCPSecurity(at('tcp://0.0.0.0:1'), { insecure: false, tlsCert: 'c', tlsKey: 'k' }),
    /needs --tls-cert, --tls-key and --token-file/,
  );
  assert.throws(
    () => checkTCPSecurity(at('tcp://0.0.0.0:1'), { insecure: false, tlsCert: 'c' }),
    /give both/,
  );
  assert.equal(
    checkTCPSecurity(at('tcp://0.0.0.0:1'), {
      insecure: false,
      tlsCert: 'c',
      tlsKey: 'k',
      tokenFile: 't',
    }),
    true,
  );
});
