import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, type VM } from '../api/index.js';
import { specHash } from './reconcile-spec.js';

const manifest = (metadata: VM['metadata'], spec: Partial<VM['spec']> = {}): VM => ({
  apiVersion: API_VERSION,
  kind: 'VM',
  metadata,
  spec: { image: { ociClaim: { ref: 'busybox' } }, ...spec },
});

// A VM's recorded hash must not change across versions: a changed hash recreates the VM. These
// values are what the hash gave when it was introduced.
test('specHash is stable across versions, a manifest without a name included', () => {
  assert.equal(specHash(manifest({})), 'ddcbc02acff9091478fc19915fee9bb9');
  assert.equal(
    specHash(manifest({ name: 'web' }, { cpus: 2 })),
    '34e760a17d53b867829b9dfc9a7e6d8c',
  );
});

test('specHash ignores labels, annotations and key order; sees the name and the spec', () => {
  const a = manifest({ name: 'web', labels: { a: '1' } }, { cpus: 2, memory: undefined });
  const b = manifest({ name: 'web', annotations: { x: 'y' } }, { cpus: 2 });
  assert.equal(specHash(a), specHash(b));
  assert.notEqual(specHash(a), specHash(manifest({ name: 'db' }, { cpus: 2 })));
  assert.notEqual(specHash(a), specHash(manifest({ name: 'web' }, { cpus: 4 })));
});
