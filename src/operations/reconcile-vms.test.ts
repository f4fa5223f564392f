import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kernel, StoredVM } from '../api/index.js';
import { unavailable } from '../errors.js';
import { image } from '../../test/helpers/objects.js';
import {
  assertDecisions,
  desired,
  earlier,
  manifest,
  pass,
  SRC,
  vmsByName as byName,
  type Manifest,
  type Want,
} from '../../test/fakes/manifests.js';
import { fakeServices, type FakeServices } from '../../test/fakes/fake-services.js';
import { installSupervisor } from '../../test/fakes/fake-supervisor.js';
import { createVM } from './create-vm.js';
import type { ManifestTrust } from './manifest-trust.js';
import {
  FILE_ANNOTATION,
  MANAGED_BY,
  SOURCE_ANNOTATION,
  SPEC_HASH_ANNOTATION,
  specHash,
  type DesiredState,
} from './reconcile-vms.js';
import { PENDING } from './reconcile-spec.js';

const NODE_PORTS: ManifestTrust = { allowHostPaths: [], hostPortRange: [30000, 32767] };

interface Scenario {
  name: string;
  /** What the host has before the pass: an earlier pass of SRC, hand-made VMs, … */
  setup?: (s: FakeServices) => Promise<void>;
  asked: DesiredState;
  trust?: ManifestTrust;
  want: Want[];
  /** Checks the host after the pass; `before` is the stored VMs by name before it. */
  check?: (s: FakeServices, before: Map<string, StoredVM>) => Promise<void>;
}

const uidOf = (vms: Map<string, StoredVM>, name: string): string =>
  vms.get(name)?.metadata.uid ?? '';

const scenarios: Scenario[] = [
  {
    name: 'create: a new manifest, marked as made from its source and file',
    asked: desired([{ name: 'web' }]),
    want: [['web', 'created', 'vms/web.yaml']],
    check: async (s) => {
      const a = (await byName(s)).get('web')?.metadata.annotations ?? {};
      assert.deepEqual(
        [a[MANAGED_BY], a[SOURCE_ANNOTATION], a[FILE_ANNOTATION], a[SPEC_HASH_ANNOTATION]],
        ['gitops', SRC, 'vms/web.yaml', specHash(manifest({ name: 'web' }))],
      );
      const web = (await byName(s)).get('web');
      assert.equal(web?.status.state, 'Created', 'not started unless asked');
    },
  },
  {
    name: 'create: a manifest that asks for Running is started',
    asked: desired([{ name: 'web', running: true }]),
    want: [['web', 'created']],
    check: async (s) => assert.equal((await byName(s)).get('web')?.status.state, 'Running'),
  },
  {
    name: 'relabel in place: same VM, new labels, no new disk',
    setup: earlier([{ name: 'web', labels: { tier: 'a' } }]),
    asked: desired([{ name: 'web', labels: { tier: 'b', team: 'x' } }]),
    want: [['web', 'updated', 'labels']],
    check: async (s, before) => {
      const web = (await byName(s)).get('web');
      assert.equal(web?.metadata.uid, uidOf(before, 'web'), 'the same VM');
      assert.deepEqual(web?.metadata.labels, { tier: 'b', team: 'x' });
      assert.equal(s.rootDisks.requests.length, 1, 'no disk built again');
    },
  },
  {
    name: 'a manifest moved to another file: the file is recorded, the VM kept',
    setup: earlier([{ name: 'web', file: 'old/web.yaml' }]),
    asked: desired([{ name: 'web', file: 'new/web.yaml' }]),
    want: [],
    check: async (s, before) => {
      const web = (await byName(s)).get('web');
      assert.equal(web?.metadata.uid, uidOf(before, 'web'));
      assert.equal(web?.metadata.annotations?.[FILE_ANNOTATION], 'new/web.yaml');
    },
  },
  {
    name: 'recreate: a spec field that cannot change in place',
    setup: earlier([{ name: 'web', cpus: 1 }]),
    asked: desired([{ name: 'web', cpus: 2 }]),
    want: [['web', 'recreated', 'spec.cpus changed; it cannot change in place']],
    check: async (s, before) => {
      const web = (await byName(s)).get('web');
      const old = uidOf(before, 'web');
      assert.notEqual(web?.metadata.uid, old, 'a new VM');
      assert.equal(web?.spec.cpus, 2);
      assert.equal(await s.client.vms.tryFind(old), undefined, 'the old one removed');
      assert.ok(s.network.opsFor(old).includes('release'), "the old one's address released");
      assert.deepEqual(s.rootDisks.released, [`${s.layout.vm(old).dir}`]);
    },
  },
  {
    name: 'recreate: a VM an interrupted pass left pending',
    setup: async (s) => {
      await earlier([{ name: 'web' }])(s);
      const web = await s.client.vms.find('web');
      await s.client.vms.update(web.metadata.uid, (v) => {
        v.metadata.annotations = { ...v.metadata.annotations, [SPEC_HASH_ANNOTATION]: PENDING };
      });
    },
    asked: desired([{ name: 'web' }]),
    want: [['web', 'recreated', 'its last reconcile was interrupted']],
    check: async (s, before) =>
      assert.notEqual((await byName(s)).get('web')?.metadata.uid, uidOf(before, 'web')),
  },
  {
    name: 'delete: a VM whose manifest is gone',
    setup: earlier([{ name: 'web' }, { name: 'db' }]),
    asked: desired([{ name: 'web' }]),
    want: [['db', 'deleted', `no manifest for it in ${SRC}`]],
    check: async (s, before) => {
      const now = await byName(s);
      assert.deepEqual([...now.keys()], ['web']);
      assert.equal(now.get('web')?.metadata.uid, uidOf(before, 'web'));
      assert.ok(s.network.opsFor(uidOf(before, 'db')).includes('release'));
    },
  },
  {
    name: 'delete: a running VM is asked to power off first',
    setup: earlier([{ name: 'db', running: true }]),
    asked: desired([]),
    want: [['db', 'deleted']],
    check: async (s, before) => {
      const uid = before.get('db')?.metadata.uid;
      assert.deepEqual(
        s.requests.sent
          .map((x) => x.request as { op: string; uid?: string; signal?: string })
          .filter((r) => r.op === 'signal' && r.uid === uid)
          .map((r) => r.signal),
        ['SIGTERM'], // asked to power off
      );
      assert.equal((await byName(s)).size, 0);
    },
  },
  {
    name: 'start and stop in place as the manifest asks',
    setup: earlier([{ name: 'up' }, { name: 'down', running: true }]),
    asked: desired([{ name: 'up', running: true }, { name: 'down' }]),
    want: [
      ['up', 'started'],
      ['down', 'stopped'],
    ],
    check: async (s, before) => {
      const now = await byName(s);
      assert.equal(now.get('up')?.status.state, 'Running');
      assert.equal(now.get('down')?.status.state, 'Stopped');
      for (const n of ['up', 'down']) assert.equal(now.get(n)?.metadata.uid, uidOf(before, n));
    },
  },
  {
    name: 'leave hand-made VMs alone: one of the same name is not taken over',
    setup: async (s) => void (await createVM(s, { image: 'busybox', name: 'web', cpus: 4 })),
    asked: desired([{ name: 'web' }]),
    want: [['web', 'failed', `vm "web": exists and was not created from ${SRC}; left alone`]],
    check: async (s, before) => {
      const web = (await byName(s)).get('web');
      assert.deepEqual(web, before.get('web'), 'untouched');
    },
  },
  {
    name: 'leave hand-made VMs alone: one without a manifest is not deleted',
    setup: async (s) => void (await createVM(s, { image: 'busybox', name: 'pet' })),
    asked: desired([]),
    want: [],
    check: async (s, before) => assert.deepEqual(await byName(s), before),
  },
  {
    name: "leave another source's VMs alone",
    setup: earlier([{ name: 'web' }], 'https://git.example.com/other.git'),
    asked: desired([]),
    want: [],
    check: async (s, before) => assert.deepEqual(await byName(s), before),
  },
  {
    name: "leave the VMs of another kind of source with the same name alone (a directory's)",
    setup: earlier([{ name: 'web' }], SRC, 'manifest-dir'),
    asked: desired([]),
    want: [],
    check: async (s, before) => {
      assert.deepEqual(await byName(s), before);
      const a = (await byName(s)).get('web')?.metadata.annotations ?? {};
      assert.equal(a[MANAGED_BY], 'manifest-dir');
    },
  },
  {
    name: 'a VM of another kind of source is not taken over: the manifest fails, the VM stays',
    setup: earlier([{ name: 'web', cpus: 1 }], SRC, 'manifest-dir'),
    asked: desired([{ name: 'web', cpus: 2 }]),
    want: [['web', 'failed', /exists and was not created from/]],
    check: async (s, before) => assert.deepEqual(await byName(s), before),
  },
  {
    name: 'keep the VMs of an invalid manifest',
    setup: earlier([{ name: 'web' }, { name: 'db' }]),
    asked: desired([{ name: 'web' }], ['vms/db.yaml']),
    want: [['db', 'kept', 'its manifest vms/db.yaml is invalid']],
    check: async (s, before) => assert.deepEqual(await byName(s), before),
  },
  {
    name: 'keep the VM of a manifest the trust now refuses, and refuse the change',
    setup: earlier([{ name: 'web', hostPort: 30080 }]),
    asked: desired([{ name: 'web', hostPort: 80 }]),
    trust: NODE_PORTS,
    want: [
      [
        'web',
        'refused',
        /^manifest vms\/web.yaml: refused: .spec.network.ports\[0\].hostPort: host port 80 is outside/,
      ],
      ['web', 'kept', 'its manifest vms/web.yaml is invalid'],
    ],
    check: async (s, before) => assert.deepEqual(await byName(s), before),
  },
  {
    name: 'one failure touches no other VM',
    setup: (s) => {
      s.imports.fail.set('docker.io/library/broken:latest', unavailable('registry: broken'));
      return Promise.resolve();
    },
    asked: desired([{ name: 'a', image: 'broken' }, { name: 'b' }]),
    want: [
      ['a', 'failed', /registry: broken/],
      ['b', 'created'],
    ],
    check: async (s) => assert.deepEqual([...(await byName(s)).keys()], ['b']),
  },
];

test('reconcileVMs: each decision', async (t) => {
  for (const c of scenarios) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      installSupervisor(s, { kind: 'supervises' });
      await c.setup?.(s);
      const before = await byName(s);
      const decisions = await pass(s, c.asked, c.trust ? { trust: c.trust } : {});
      assertDecisions(decisions, c.want);
      await c.check?.(s, before);
    });
  }
});

test('reconcileVMs: a second pass over the same manifests changes nothing', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const asked = desired([{ name: 'web', running: true, labels: { a: '1' } }, { name: 'db' }]);
  assertDecisions(await pass(s, asked), [
    ['web', 'created'],
    ['db', 'created'],
  ]);
  const before = await byName(s);
  const spawned = s.processes.spawned.length;
  assertDecisions(await pass(s, asked), []);
  assert.deepEqual(await byName(s), before);
  assert.equal(s.processes.spawned.length, spawned, 'nothing restarted');
});

test('reconcileVMs: an aborted pass deletes and creates nothing', async (t) => {
  const cases: { name: string; before: Manifest[] }[] = [
    { name: 'with a VM to delete', before: [{ name: 'old' }] },
    { name: 'with only VMs to create', before: [] },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      await earlier(c.before)(s);
      const before = await byName(s);
      const stop = new AbortController();
      stop.abort();
      assertDecisions(await pass(s, desired([{ name: 'web' }]), { signal: stop.signal }), []);
      assert.deepEqual(await byName(s), before);
    });
  }
});

test('reconcileVMs: images and kernels the source declares are imported first', async () => {
  const s = fakeServices();
  s.imports.fail.set('broken/kernel', unavailable('registry: down'));
  const kernel: Kernel = { ...image('broken/kernel'), kind: 'Kernel' };
  const decisions = await pass(s, {
    ...desired([]),
    images: [{ obj: image('alpine'), file: 'images/alpine.yaml' }],
    kernels: [{ obj: kernel, file: 'kernels/k.yaml' }],
  });
  assert.deepEqual(s.imports.asked, [
    { kind: 'image', ref: 'alpine' },
    { kind: 'kernel', ref: 'broken/kernel' },
  ]);
  assert.deepEqual(decisions, [
    {
      kind: 'kernel',
      vm: 'broken/kernel',
      action: 'failed',
      detail: 'kernels/k.yaml: registry: down',
      error: 'Unavailable',
    },
  ]);
});

test('reconcileVMs: a Network or Volume in the source is refused with where it comes from; its VMs still reconcile', async () => {
  const s = fakeServices();
  const decisions = await pass(s, {
    ...desired([{ name: 'web' }]),
    hostObjects: [
      { kind: 'Network', name: 'lab', file: 'net.yaml' },
      { kind: 'Volume', name: 'data', file: 'vol.yaml' },
    ],
  });
  assertDecisions(decisions, [
    ['lab', 'refused', /^a Network is made on the host \(ignite network create\)/],
    ['data', 'refused', /^a Volume is made on the host \(ignite volume create\)/],
    ['web', 'created'],
  ]);
  assert.deepEqual(
    decisions.slice(0, 2).map((d) => [d.kind, d.file, d.error]),
    [
      ['network', 'net.yaml', 'PermissionDenied'],
      ['volume', 'vol.yaml', 'PermissionDenied'],
    ],
  );
  assert.ok((await byName(s)).has('web'));
});
