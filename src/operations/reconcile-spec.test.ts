import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, setVMDefaults, Size, type VM, type VMSpec } from '../api/index.js';
import { changedFields, specHash } from './reconcile-spec.js';

const manifest = (metadata: VM['metadata'], spec: Partial<VMSpec> = {}): VM => ({
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

function vm(spec: Partial<VMSpec>, name = 'web'): VM {
  return manifest(
    { name },
    { image: { ociClaim: { ref: 'docker.io/library/busybox:latest' } }, ...spec },
  );
}

test('changedFields names what differs from the stored, defaulted VM, and only that', () => {
  const stored = setVMDefaults(
    vm({ cpus: 2, network: { ports: [{ hostPort: 8080, vmPort: 80 }] } }),
  );
  const cases: { name: string; wanted: VM; want: string[] }[] = [
    {
      name: 'the same manifest',
      wanted: vm({ cpus: 2, network: { ports: [{ hostPort: 8080, vmPort: 80 }] } }),
      want: [],
    },
    { name: 'fields left to their defaults', wanted: vm({}), want: [] },
    { name: 'a default written out', wanted: vm({ memory: Size.parse('512MB') }), want: [] },
    { name: 'cpus', wanted: vm({ cpus: 4 }), want: ['spec.cpus'] },
    {
      name: 'the image',
      wanted: vm({ image: { ociClaim: { ref: 'alpine' } } }),
      want: ['spec.image'],
    },
    { name: 'the ports', wanted: vm({ network: { ports: [] } }), want: ['spec.network'] },
    { name: 'the name', wanted: vm({}, 'db'), want: ['metadata.name'] },
  ];
  for (const c of cases) assert.deepEqual(changedFields(stored, c.wanted), c.want, c.name);
});
