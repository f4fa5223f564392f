import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Size, decode, type APIObject } from '../api/index.js';
import { vm } from '../../test/helpers/objects.js';
import { reviveDecodedForm, toDecodedForm } from './decoded-form.js';
import { Serializer } from './serializer.js';

const V04 = join(import.meta.dirname, '../../test/fixtures/manifests/ignite-v0.4');

/** Stored bytes as ignite writes them, and what the store's decoder makes of them. */
function stored(obj: APIObject): APIObject {
  const serializer = new Serializer();
  return serializer.decode(Buffer.from(serializer.encode(obj, 'json')));
}

/** VMs as they are stored in their lifecycle: created, running with a run's status, stopped. */
function storedVMs(): APIObject[] {
  const created = vm('web');
  created.metadata.uid = '0123456789abcdef';
  created.metadata.created = '2026-01-02T03:04:05.000Z';
  const running = vm('db', 'docker.io/library/postgres:16');
  running.metadata.uid = '1123456789abcdef';
  running.metadata.labels = { tier: 'data', '': 'empty-key' };
  running.spec.memory = Size.parse('1.5GiB');
  running.spec.diskSize = Size.parse('10GB');
  running.spec.network = {
    ports: [
      { hostPort: 8080, vmPort: 80 },
      { hostPort: 5353, vmPort: 53, protocol: 'udp' },
    ],
  };
  running.status = {
    state: 'Running',
    startTime: '2026-01-02T03:04:06.000Z',
    ipAddresses: ['10.61.0.2'],
    runtime: { pid: 4242, spawnPid: 4241 },
  };
  const stopped = vm('old');
  stopped.metadata.uid = '2123456789abcdef';
  stopped.status = {
    state: 'Stopped',
    lastExit: { time: '2026-01-02T03:04:07.000Z', reason: 'Crashed', message: 'supervisor gone' },
  };
  return [created, running, stopped].map(stored);
}

/** Every ignite v0.4 manifest of the fixtures, decoded as the store decodes a stored object. */
function v04Objects(): APIObject[] {
  return readdirSync(V04)
    .sort()
    .map((f) => stored(decode(readFileSync(join(V04, f), 'utf8'), { source: f })));
}

/** The round trip the listing cache makes: to the form, through JSON text, and back. */
function throughCache(obj: APIObject): APIObject {
  const form = toDecodedForm(obj);
  assert.ok(form, `${obj.kind} ${obj.metadata.name ?? ''}: has a decoded form`);
  return reviveDecodedForm(JSON.parse(JSON.stringify(form)) as typeof form);
}

test('a revived object equals what the schema decodes, Size values and all, for stored VMs and v0.4 manifests', () => {
  const objects = [...storedVMs(), ...v04Objects()];
  assert.ok(objects.length >= 7);
  assert.ok(objects.some((o) => o.kind === 'Image') && objects.some((o) => o.kind === 'Kernel'));
  for (const obj of objects) {
    const revived = throughCache(obj);
    assert.deepStrictEqual(revived, obj);
    if (revived.kind === 'VM' && obj.kind === 'VM') {
      assert.ok(revived.spec.memory instanceof Size);
      assert.equal(revived.spec.memory.toHuman(), obj.spec.memory?.toHuman());
    }
  }
});

test('keys present with the value undefined stay present', () => {
  const obj = storedVMs()[0] as APIObject & { spec: Record<string, unknown> };
  obj.spec['cpus'] = undefined;
  const revived = throughCache(obj);
  assert.ok('cpus' in revived.spec);
  assert.deepStrictEqual(revived, obj);
});

test('an object holding a value JSON cannot carry has no decoded form', () => {
  const base = storedVMs()[0] as APIObject;
  const withMeta = (extra: Record<string, unknown>) =>
    ({ ...base, metadata: { ...base.metadata, ...extra } }) as APIObject;
  assert.equal(toDecodedForm(withMeta({ x: new Date() })), undefined);
  assert.equal(toDecodedForm(withMeta({ x: NaN })), undefined);
  assert.equal(
    toDecodedForm(withMeta({ labels: JSON.parse('{"__proto__": {"x": 1}}') })),
    undefined,
  );
  assert.ok(toDecodedForm(withMeta({ labels: { a: 'b' } })));
});

test('a damaged form is refused, not half revived', () => {
  assert.throws(() => reviveDecodedForm({ json: 'x' }), TypeError);
  assert.throws(() => reviveDecodedForm({ json: {}, sizes: [['spec', 'memory']] }), TypeError);
  assert.throws(
    () => reviveDecodedForm({ json: { spec: { memory: 'x' } }, sizes: [['spec', 'memory']] }),
    TypeError,
  );
  assert.throws(() => reviveDecodedForm({ json: { a: 1 }, sizes: [[]] }), TypeError);
});
