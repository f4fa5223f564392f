import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, setVMDefaults, Size, type VM, type VMSpec } from '../api/index.js';
import { changedFields } from './reconcile-spec.js';

function vm(spec: Partial<VMSpec>, name = 'web'): VM {
  return {
    apiVersion: API_VERSION,
    kind: 'VM',
    metadata: { name },
    spec: { image: { ociClaim: { ref: 'docker.io/library/busybox:latest' } }, ...spec },
  };
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
