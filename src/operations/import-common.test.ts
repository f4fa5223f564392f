import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, type Kernel } from '../api/index.js';
import type { ImportWorkspace } from '../image/index.js';
import { fakeServices, type FakeServices } from '../../test/fakes/fake-services.js';
import { storeWithFiles } from './import-common.js';

const kernel = (): Kernel => ({
  apiVersion: API_VERSION,
  kind: 'Kernel',
  metadata: { name: 'example.org/kernel:1' },
  spec: { ociClaim: { type: 'Docker', ref: 'example.org/kernel:1' } },
  status: { version: '6.1.0' },
});

/**
 * A workspace that records where files went and, at every move, whether a kernel of that name
 * could already be seen: a concurrent import that saw it would use files not there yet.
 */
function recordingWorkspace(s: FakeServices) {
  const moves: { to: string; visible: boolean }[] = [];
  const claimed: string[] = [];
  const removed: string[] = [];
  const ws: ImportWorkspace = {
    ...s.importWorkspace,
    claim: (_work, dir) => {
      claimed.push(dir);
      return Promise.resolve();
    },
    moveInto: async (_from, to) => {
      // A yield between checks, so concurrent imports interleave as real ones do.
      await new Promise((r) => setImmediate(r));
      const visible = (await s.client.kernels.findByName('example.org/kernel:1')) !== undefined;
      moves.push({ to, visible });
    },
    remove: (path) => {
      removed.push(path);
      return Promise.resolve();
    },
  };
  return { ws, moves, claimed, removed };
}

test('an imported object is stored only once its files are in its directory', async () => {
  const s = fakeServices();
  const rec = recordingWorkspace(s);
  const files: [string, string][] = [
    ['/w/vmlinux', 'vmlinux'],
    ['/w/initrd', 'initrd'],
  ];
  const k = await storeWithFiles(
    { ...s, importWorkspace: rec.ws },
    'Kernel',
    kernel(),
    '/w',
    files,
    {},
  );
  const dir = s.layout.objectDir('Kernel', k.metadata.uid);
  assert.deepEqual(rec.claimed, [dir]);
  assert.deepEqual(
    rec.moves.map((m) => m.to),
    [`${dir}/vmlinux`, `${dir}/initrd`],
  );
  assert.ok(
    rec.moves.every((m) => !m.visible),
    'the kernel was visible before its files',
  );
});

test('of concurrent imports of one name, the losers return the winner, files in place, and drop their own', async () => {
  const s = fakeServices();
  const rec = recordingWorkspace(s);
  const svc = { ...s, importWorkspace: rec.ws };
  const all = await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      storeWithFiles(svc, 'Kernel', kernel(), `/w${i}`, [[`/w${i}/vmlinux`, 'vmlinux']], {}),
    ),
  );
  const uids = new Set(all.map((k) => k.metadata.uid));
  assert.equal(uids.size, 1, 'every import returns the one stored kernel');
  assert.equal((await s.client.kernels.list()).length, 1);
  const winnerDir = s.layout.objectDir('Kernel', [...uids][0] ?? '');
  assert.ok(
    rec.moves.some((m) => m.to === `${winnerDir}/vmlinux` && !m.visible),
    "the winner's files were moved before it was stored",
  );
  assert.deepEqual(
    rec.removed.sort(),
    rec.claimed.filter((d) => d !== winnerDir).sort(),
    'each loser removes the directory it claimed, and only that',
  );
});

test('a failed store removes the claimed directory and stores nothing', async () => {
  const s = fakeServices();
  const rec = recordingWorkspace(s);
  const ws: ImportWorkspace = {
    ...rec.ws,
    moveInto: () => Promise.reject(new Error('disk full')),
  };
  await assert.rejects(
    storeWithFiles(
      { ...s, importWorkspace: ws },
      'Kernel',
      kernel(),
      '/w',
      [['/w/v', 'vmlinux']],
      {},
    ),
    /disk full/,
  );
  assert.deepEqual(rec.removed, rec.claimed);
  assert.equal((await s.client.kernels.list()).length, 0);
});
