import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../errors.js';
import { parseListenAddress } from './host-server.js';

test('parseListenAddress', () => {
  const ok: [string, { host: string | undefined; port: number }][] = [
    ['127.0.0.1:9090', { host: '127.0.0.1', port: 9090 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['[::1]:9100', { host: '::1', port: 9100 }],
    [':9090', { host: undefined, port: 9090 }],
  ];
  for (const [input, expected] of ok) assert.deepEqual(parseListenAddress(input), expected, input);
  for (const bad of ['9090', '127.0.0.1', '127.0.0.1:99999', '::1:9090', 'host:port', '']) {
    assert.throws(
      () => parseListenAddress(bad),
      (err: unknown) => AppError.is(err, 'InvalidArgument'),
      bad,
    );
  }
});
