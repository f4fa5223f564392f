import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeServices, messages, type FakeServices } from '../../test/fakes/fake-services.js';
import { installSupervisor } from '../../test/fakes/fake-supervisor.js';
import { FakeClock } from '../../test/fakes/fake-clock.js';
import { desired, earlier, OPEN, vmsByName, withEngine } from '../../test/fakes/manifests.js';
import { createVM } from './create-vm.js';
import {
  MANIFEST_DIR_MANAGER,
  readManifestDir,
  reconcileManifestDir,
  resolveManifestDir,
  runManifestDir,
  type ManifestDirPass,
} from './manifest-dir.js';
import { reconcileVMs } from './reconcile-vms.js';
import { FILE_ANNOTATION, MANAGED_BY, SOURCE_ANNOTATION } from './reconcile-spec.js';

const DIR = '/etc/ignite/manifests';

const vm = (name: string, o: { labels?: string; memory?: string; running?: boolean } = {}) =>
  `apiVersion: ignite.weave.works/v1alpha1\nkind: VM\nmetadata:\n  name: ${name}\n` +
  (o.labels ? `  labels: {${o.labels}}\n` : '') +
  `spec:\n  image:\n    ociClaim:\n      ref: busybox\n  memory: ${o.memory ?? '128MB'}\n` +
  (o.running ? 'status:\n  state: Running\n' : '');

function host(): FakeServices {
  const s = fakeServices();
  s.hostFiles.dirs.add(DIR);
  installSupervisor(s, { kind: 'supervises' });
  return s;
}

test('readManifestDir: manifests under the directory, the others passed over', async () => {
  const s = host();
  s.hostDirs.files.set(`${DIR}/web.yaml`, vm('web'));
  s.hostDirs.files.set(`${DIR}/team/db.yml`, vm('db'));
  s.hostDirs.files.set(`${DIR}/README.md`, '# not a manifest');
  s.hostDirs.files.set(`${DIR}/broken.yaml`, vm('broken', { memory: 'lots' }));
  s.hostDirs.files.set(`${DIR}/big.json`, '{}');
  s.hostDirs.unreadable.set(`${DIR}/big.json`, 'cannot read: EACCES');
  s.hostDirs.files.set('/etc/ignite/other/x.yaml', vm('x'));
  const read = await readManifestDir(s, DIR);
  assert.deepEqual(
    read.desired.vms.map((d) => `${d.file}:${d.vm.metadata.name}`),
    ['team/db.yml:db', 'web.yaml:web'],
  );
  assert.deepEqual(read.desired.invalidFiles.sort(), ['big.json', 'broken.yaml']);
  assert.match(
    read.invalid.map((i) => i.message).join('\n'),
    /broken\.yaml: invalid: \.spec\.memory/,
  );
  assert.match(read.invalid.map((i) => i.message).join('\n'), /big\.json: invalid: cannot read/);

  const again = await readManifestDir(s, DIR);
  assert.equal(again.fingerprint, read.fingerprint, 'the same files, the same fingerprint');
  s.hostDirs.files.set(`${DIR}/web.yaml`, vm('web', { labels: 'a: b' }));
  assert.notEqual((await readManifestDir(s, DIR)).fingerprint, read.fingerprint);
});

test('readManifestDir: a directory that cannot be read throws instead of looking empty', async () => {
  const s = host();
  s.hostDirs.missing.add(DIR);
  await assert.rejects(readManifestDir(s, DIR), { code: 'Unavailable' });
});

test('resolveManifestDir: an absolute path to a directory, or InvalidArgument', async () => {
  const s = host();
  assert.equal(await resolveManifestDir(s, DIR), DIR);
  await assert.rejects(resolveManifestDir(s, 'manifests'), /use an absolute path/);
  await assert.rejects(resolveManifestDir(s, '/nowhere'), /"\/nowhere": not a directory/);
});

test('reconcileManifestDir: VMs are marked as the directory’s, and gitops’s are not touched', async () => {
  const s = host();
  // A gitops repository at the same path made "db"; a hand-made VM is "pet".
  await earlier([{ name: 'db' }], DIR)(s);
  await createVM(s, { image: 'busybox', name: 'pet' });
  s.hostDirs.files.set(`${DIR}/web.yaml`, vm('web', { running: true }));
  const pass = await reconcileManifestDir(withEngine(s), DIR, await readManifestDir(s, DIR), {
    trust: OPEN,
  });
  assert.deepEqual(
    pass.decisions.map((d) => `${d.vm}: ${d.action}`),
    ['web: created'],
  );
  const vms = await vmsByName(s);
  const a = vms.get('web')?.metadata.annotations ?? {};
  assert.deepEqual(
    [a[MANAGED_BY], a[SOURCE_ANNOTATION], a[FILE_ANNOTATION]],
    [MANIFEST_DIR_MANAGER, DIR, 'web.yaml'],
  );
  assert.equal(vms.get('web')?.status.state, 'Running');
  assert.deepEqual([...vms.keys()].sort(), ['db', 'pet', 'web']);

  // The gitops pass of that path leaves the directory's VM alone, and the reverse.
  assert.deepEqual(await reconcileVMs(withEngine(s), DIR, desired([]), { trust: OPEN }), [
    { vm: 'db', action: 'deleted', detail: `no manifest for it in ${DIR}` },
  ]);
  s.hostDirs.files.delete(`${DIR}/web.yaml`);
  const removed = await reconcileManifestDir(withEngine(s), DIR, await readManifestDir(s, DIR), {
    trust: OPEN,
  });
  assert.deepEqual(
    removed.decisions.map((d) => `${d.vm}: ${d.action}`),
    ['web: deleted'],
  );
  assert.deepEqual([...(await vmsByName(s)).keys()], ['pet']);
});

/** Runs the loop on a clock that moves only when told; `stop` ends it and waits for it. */
function loop(s: FakeServices, o: { trust?: typeof OPEN } = {}) {
  const clock = new FakeClock('2026-01-01T00:00:00Z');
  s.clock = clock;
  const passes: ManifestDirPass[] = [];
  const waiters: (() => void)[] = [];
  const abort = new AbortController();
  const done = runManifestDir(withEngine(s), {
    dir: DIR,
    signal: abort.signal,
    trust: o.trust ?? OPEN,
    intervalMs: 5_000,
    debounceMs: 300,
    onPass: (p) => {
      passes.push(p);
      waiters.splice(0).forEach((w) => w());
    },
  });
  /** Lets the loop run until it sleeps again. */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 200 && clock.waiting === 0; i++) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  return {
    clock,
    passes,
    settle,
    async stop(): Promise<void> {
      abort.abort();
      await done;
    },
  };
}

test('runManifestDir: an event is acted on once the directory is quiet, not before', async () => {
  const s = host();
  const l = loop(s);
  await l.settle();
  assert.equal(l.passes.length, 1, 'a first pass over the empty directory');
  assert.equal(s.hostDirs.watching, 1);

  s.hostDirs.write(`${DIR}/web.yaml`, vm('web'));
  await l.settle();
  assert.equal(l.passes.length, 1, 'the event waits for quiet');
  l.clock.advance(200);
  s.hostDirs.write(`${DIR}/web.yaml`, vm('web', { labels: 'tier: front' }));
  await l.settle();
  l.clock.advance(200);
  await l.settle();
  assert.equal(l.passes.length, 1, 'a second write restarts the wait');
  l.clock.advance(300);
  await l.settle();
  assert.equal(l.passes.length, 2);
  assert.deepEqual(
    l.passes[1]?.decisions.map((d) => `${d.vm}: ${d.action}`),
    ['web: created'],
  );
  assert.deepEqual((await vmsByName(s)).get('web')?.metadata.labels, { tier: 'front' });
  await l.stop();
  assert.equal(s.hostDirs.watching, 0, 'the watch is closed');
  assert.ok(messages(s).includes('manifest-dir: stopped; VMs are left as they are'));
});

test('runManifestDir: a missed event is found by the next rescan; unchanged files are no pass', async () => {
  const s = host();
  const l = loop(s);
  await l.settle();
  s.hostDirs.write(`${DIR}/web.yaml`, vm('web'), { quiet: true });
  l.clock.advance(4_000);
  await l.settle();
  assert.equal(l.passes.length, 1);
  l.clock.advance(1_000);
  await l.settle();
  assert.equal(l.passes.length, 2, 'found within one interval');
  l.clock.advance(5_000);
  await l.settle();
  l.clock.advance(5_000);
  await l.settle();
  assert.equal(l.passes.length, 2, 'the same files again: nothing to do');
  await l.stop();
});

test('runManifestDir: a broken file keeps its VM; the others are reconciled; a removal deletes', async () => {
  const s = host();
  s.hostDirs.files.set(`${DIR}/web.yaml`, vm('web'));
  s.hostDirs.files.set(`${DIR}/db.yaml`, vm('db'));
  const l = loop(s);
  await l.settle();
  const before = await vmsByName(s);
  assert.deepEqual([...before.keys()].sort(), ['db', 'web']);

  s.hostDirs.write(`${DIR}/web.yaml`, vm('web', { memory: 'lots' }));
  s.hostDirs.write(`${DIR}/db.yaml`, vm('db', { labels: 'a: b' }));
  await l.settle();
  l.clock.advance(300);
  await l.settle();
  assert.deepEqual(
    l.passes[1]?.decisions.map((d) => `${d.vm}: ${d.action}`),
    ['web: kept', 'db: updated'],
  );
  assert.deepEqual(l.passes[1]?.invalidFiles, ['web.yaml']);
  const after = await vmsByName(s);
  assert.deepEqual(after.get('web'), before.get('web'), 'the broken file’s VM is kept as it was');
  assert.equal(after.get('db')?.metadata.uid, before.get('db')?.metadata.uid);
  assert.match(messages(s, 50).join('\n'), /manifest web\.yaml: invalid: \.spec\.memory/);

  s.hostDirs.remove(`${DIR}/web.yaml`);
  await l.settle();
  l.clock.advance(300);
  await l.settle();
  assert.deepEqual(
    l.passes[2]?.decisions.map((d) => `${d.vm}: ${d.action}`),
    ['web: deleted'],
  );
  assert.deepEqual([...(await vmsByName(s)).keys()], ['db']);
  await l.stop();
});

test('runManifestDir: an unreadable directory keeps every VM, and is read again', async () => {
  const s = host();
  s.hostDirs.files.set(`${DIR}/web.yaml`, vm('web'));
  const l = loop(s);
  await l.settle();
  s.hostDirs.missing.add(DIR);
  for (let i = 0; i < 3; i++) {
    l.clock.advance(5_000);
    await l.settle();
  }
  assert.equal(l.passes.length, 1, 'no pass while it cannot be read');
  assert.deepEqual([...(await vmsByName(s)).keys()], ['web']);
  const warnings = messages(s, 40).filter((m) => m.includes('cannot read'));
  assert.equal(warnings.length, 1, 'said once, not every interval');
  s.hostDirs.missing.delete(DIR);
  l.clock.advance(5_000);
  await l.settle();
  assert.ok(messages(s).includes(`manifest-dir: ${DIR} is readable again`));
  await l.stop();
});

test('runManifestDir: a manifest the trust refuses is not created, with why in the log', async () => {
  const s = host();
  s.hostDirs.files.set(
    `${DIR}/web.yaml`,
    vm('web') + '  network:\n    ports:\n      - { hostPort: 22, vmPort: 22 }\n',
  );
  const l = loop(s, { trust: { allowHostPaths: [], hostPortRange: [30000, 32767] } });
  await l.settle();
  assert.deepEqual(
    l.passes[0]?.decisions.map((d) => `${d.vm}: ${d.action}`),
    ['web: refused'],
  );
  assert.deepEqual(l.passes[0]?.invalidFiles, ['web.yaml']);
  assert.match(messages(s, 50).join('\n'), /host port 22 is outside the allowed range/);
  assert.equal((await vmsByName(s)).size, 0);
  await l.stop();
});
