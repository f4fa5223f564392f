import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError, invalidArgument } from '../errors.js';
import { TransientError, refusal, unreachable, withRetry } from './registry-failures.js';

const x = {
  what: 'image "r/x:1"',
  domain: 'r',
  suffix: '/manifests/1',
  url: 'https://r/v2/x/manifests/1',
};

test('refusal maps an answer to an error by its status', () => {
  const cases: [number, string, RegExp][] = [
    [401, 'PermissionDenied', /^image "r\/x:1": the registry refused access \(HTTP 401\)$/],
    [403, 'PermissionDenied', /refused access \(HTTP 403\)/],
    [404, 'NotFound', /^image "r\/x:1": not found in r \(manifests 1\)$/],
    [400, 'Unavailable', /answered HTTP 400 for https:\/\/r\/v2\/x\/manifests\/1$/],
  ];
  for (const [status, code, message] of cases) {
    const err = refusal(status, x);
    assert.ok(AppError.is(err, code as 'NotFound'), `${status}: ${code}`);
    assert.match(err.message, message);
  }
  for (const status of [429, 500, 503]) assert.ok(refusal(status, x) instanceof TransientError);
});

test('unreachable names the registry, or the redirect loop', () => {
  const refused = unreachable(
    new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') }),
    x.what,
    x.url,
    'https://r',
  );
  assert.ok(AppError.is(refused, 'Unavailable'));
  assert.equal(refused.message, 'image "r/x:1": cannot reach https://r: connect ECONNREFUSED');
  const loop = unreachable(new TypeError('redirect count exceeded'), x.what, x.url, 'https://r');
  assert.match(loop.message, /too many redirects from https:\/\/r\/v2\/x\/manifests\/1/);
});

test('withRetry tries transient failures again, up to its attempts, and nothing else', async () => {
  let calls = 0;
  assert.equal(
    await withRetry(3, () => {
      calls++;
      return calls < 2 ? Promise.reject(new TransientError('busy')) : Promise.resolve('ok');
    }),
    'ok',
  );
  assert.equal(calls, 2);
  calls = 0;
  await assert.rejects(
    withRetry(2, () => {
      calls++;
      return Promise.reject(new TransientError('image "x": registry answered HTTP 503'));
    }),
    (err: unknown) =>
      AppError.is(err, 'Unavailable') &&
      err.message === 'image "x": registry answered HTTP 503 (after 2 attempts)',
  );
  assert.equal(calls, 2);
  calls = 0;
  await assert.rejects(
    withRetry(3, () => {
      calls++;
      return Promise.reject(invalidArgument('bad'));
    }),
    /bad/,
  );
  assert.equal(calls, 1, 'a refusal is not retried');
});
