import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import { checkDescriptor, pickPlatform, sha256 } from './oci-manifest.js';
import { parseChallenge } from './registry-auth.js';
import { RegistryClient } from './registry-client.js';

test('loopback registries use plain HTTP; others HTTPS unless listed insecure', () => {
  const c = new RegistryClient({ insecureRegistries: ['registry.lan:5000'] });
  const cases: [string, string][] = [
    ['127.0.0.1:5000', 'http://127.0.0.1:5000'],
    ['127.1.2.3', 'http://127.1.2.3'],
    ['localhost:5000', 'http://localhost:5000'],
    ['[::1]:5000', 'http://[::1]:5000'],
    ['registry.lan:5000', 'http://registry.lan:5000'],
    ['quay.io', 'https://quay.io'],
    ['docker.io', 'https://registry-1.docker.io'],
    ['10.0.0.5:5000', 'https://10.0.0.5:5000'],
  ];
  for (const [domain, url] of cases) assert.equal(c.baseURL(domain), url, domain);
});

test('parseChallenge reads Bearer and Basic challenges', () => {
  assert.deepEqual(
    parseChallenge(
      'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"',
    ),
    {
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull' },
    },
  );
  assert.equal(parseChallenge('Basic realm="x"').scheme, 'basic');
});

test('pickPlatform takes linux/amd64, or a lone entry without platform', () => {
  const d = (arch?: string) => ({
    mediaType: 'm',
    digest: `sha256:${arch ?? 'none'}`,
    size: 1,
    ...(arch ? { platform: { os: 'linux', architecture: arch } } : {}),
  });
  assert.equal(pickPlatform([d('arm64'), d('amd64')])?.digest, 'sha256:amd64');
  assert.equal(pickPlatform([d('arm64')]), undefined);
  assert.equal(pickPlatform([d()])?.digest, 'sha256:none');
});

const D = `sha256:${'a'.repeat(64)}`;

test('checkDescriptor takes only sha256 digests and non-negative safe-integer sizes', () => {
  assert.equal(
    checkDescriptor({ mediaType: 'm', digest: D, size: 0 }, 'image "x"', 'layer 0').size,
    0,
  );
  for (const size of [-1, 1.5, 2 ** 60, Number.NaN, '100', null, undefined]) {
    assert.throws(
      () => checkDescriptor({ mediaType: 'm', digest: D, size }, 'image "x"', 'layer 0'),
      (err: unknown) =>
        AppError.is(err, 'InvalidArgument') &&
        /^image "x": layer 0 sha256:a+: size .* is not a whole number of bytes from 0 to 2\^53-1$/.test(
          err.message,
        ),
      String(size),
    );
  }
  for (const digest of ['sha512:abc', 'sha256:../../x', undefined])
    assert.throws(() => checkDescriptor({ digest, size: 1 }, 'image "x"', 'config'), /digest/);
});

/** A fetch that answers every request with `body`, recording the requests. */
function fakeFetch(body: (url: string) => Buffer | Response) {
  const seen: { url: string; auth: string | undefined }[] = [];
  const impl = ((input: string | URL, init?: RequestInit) => {
    const url = String(input);
    const headers = (init?.headers ?? {}) as Record<string, string>;
    seen.push({ url, auth: headers['Authorization'] });
    const b = body(url);
    return Promise.resolve(b instanceof Response ? b : new Response(b));
  }) as typeof fetch;
  return { impl, seen };
}

const ref = { domain: '127.0.0.1:5000', path: 'x', tag: 'latest' } as const;

test('blobBytes refuses a config over 4 MiB, and a blob longer or shorter than its descriptor', async () => {
  const blob = Buffer.alloc(10 << 20, 1);
  const { impl, seen } = fakeFetch(() => blob);
  const c = new RegistryClient({ fetch: impl, attempts: 1 });
  const digest = `sha256:${sha256(blob)}`;
  await assert.rejects(c.blobBytes(ref, { mediaType: 'm', digest, size: 100 << 20 }), (err) => {
    assert.ok(AppError.is(err, 'InvalidArgument'));
    assert.match(err.message, /is 104857600 bytes; at most 4194304/);
    return true;
  });
  assert.equal(seen.length, 0, 'an oversized config is refused before it is fetched');
  await assert.rejects(
    c.blobBytes(ref, { mediaType: 'm', digest, size: 100 }),
    /its descriptor says 100 bytes\) is too large/,
  );
  const small = Buffer.from('{}');
  const { impl: short } = fakeFetch(() => small);
  await assert.rejects(
    new RegistryClient({ fetch: short }).blobBytes(ref, {
      mediaType: 'm',
      digest: `sha256:${sha256(small)}`,
      size: 100,
    }),
    /shorter than its descriptor says \(2 of 100 bytes\)/,
  );
});

test('credentials go to an https realm, or the registry’s own plain-HTTP host, never elsewhere', () => {
  const c = new RegistryClient({ insecureRegistries: ['registry.lan:5000'] });
  const cases: [string, string, boolean][] = [
    ['quay.io', 'https://auth.quay.io/token', true],
    ['quay.io', 'http://auth.quay.io/token', false],
    ['quay.io', 'http://quay.io/token', false],
    ['127.0.0.1:5000', 'http://127.0.0.1:5000/token', true],
    ['127.0.0.1:5000', 'http://127.0.0.2:5000/token', false],
    ['127.0.0.1:5000', 'http://127.0.0.1:5001/token', false],
    ['registry.lan:5000', 'http://registry.lan:5000/auth', true],
    ['registry.lan:5000', 'http://evil.example/auth', false],
    ['registry.lan:5000', 'ftp://registry.lan:5000/auth', false],
  ];
  for (const [domain, realm, ok] of cases)
    assert.equal(c.realmMayHaveCredentials(domain, new URL(realm)), ok, `${domain} → ${realm}`);
});
