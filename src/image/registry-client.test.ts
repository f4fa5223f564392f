import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient, parseChallenge, pickPlatform } from './registry-client.js';

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
