import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import { parseDaemonAddress } from './address.js';
import { daemonConnection } from './connection.js';

test('parseDaemonAddress: unix sockets, TCP with TLS, plain HTTP', () => {
  const table: [string, unknown][] = [
    [
      'unix:///run/ignite/ignited.sock',
      { kind: 'unix', path: '/run/ignite/ignited.sock', url: 'unix:///run/ignite/ignited.sock' },
    ],
    [
      'tcp://10.0.0.2:7443',
      { kind: 'tcp', host: '10.0.0.2', port: 7443, tls: true, url: 'tcp://10.0.0.2:7443' },
    ],
    [
      'https://host.example:7443/',
      {
        kind: 'tcp',
        host: 'host.example',
        port: 7443,
        tls: true,
        url: 'https://host.example:7443',
      },
    ],
    [
      'http://127.0.0.1:7080',
      { kind: 'tcp', host: '127.0.0.1', port: 7080, tls: false, url: 'http://127.0.0.1:7080' },
    ],
    [
      'tcp://[::1]:7443',
      { kind: 'tcp', host: '::1', port: 7443, tls: true, url: 'tcp://[::1]:7443' },
    ],
  ];
  for (const [text, want] of table) assert.deepEqual(parseDaemonAddress(text), want, text);
  for (const bad of [
    'unix://relative.sock',
    'tcp://host',
    'ftp://h:1',
    'tcp://h:70000',
    '/run/x.sock',
  ])
    assert.throws(
      () => parseDaemonAddress(bad),
      (e) => AppError.is(e, 'InvalidArgument'),
      bad,
    );
});

test('daemonConnection: --host over IGNITE_HOST over the fallback; CA and token only for TCP', async () => {
  const files = new Map([
    ['/etc/ignite/ca.pem', 'PEM'],
    ['/etc/ignite/token', 's3cret\n'],
  ]);
  const read = {
    readText: (p: string) =>
      files.has(p) ? Promise.resolve(files.get(p) ?? '') : Promise.reject(new Error('ENOENT')),
  };
  assert.equal(await daemonConnection({}, {}, read), undefined, 'no daemon asked for');
  assert.equal(
    (await daemonConnection({}, {}, read, 'unix:///run/ignite/ignited.sock'))?.address.url,
    'unix:///run/ignite/ignited.sock',
  );
  const env = {
    IGNITE_HOST: 'tcp://10.0.0.2:7443',
    IGNITE_TLS_CA: '/etc/ignite/ca.pem',
    IGNITE_TOKEN_FILE: '/etc/ignite/token',
    IGNITE_TOKEN: 'ignored',
  };
  const tcp = await daemonConnection({}, env, read);
  assert.equal(tcp?.ca, 'PEM');
  assert.equal(tcp?.token, 's3cret');
  const flag = await daemonConnection({ host: 'unix:///tmp/d.sock' }, env, read);
  assert.deepEqual(flag, {
    address: { kind: 'unix', path: '/tmp/d.sock', url: 'unix:///tmp/d.sock' },
  });
  const fromEnv = await daemonConnection(
    {},
    { IGNITE_HOST: 'http://127.0.0.1:1', IGNITE_TOKEN: 't' },
    read,
  );
  assert.equal(fromEnv?.token, 't');
  await assert.rejects(
    daemonConnection({ tokenFile: '/nope' }, env, read),
    (e) => AppError.is(e, 'InvalidArgument') && e.message.startsWith('--token-file /nope: '),
  );
});
