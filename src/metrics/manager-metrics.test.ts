import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExposition } from './exposition.js';
import { createManagerMetrics } from './manager-metrics.js';

test('VMs by state, images and kernels are read at scrape time; gitops events count', async () => {
  let states: ('Created' | 'Running' | 'Stopped')[] = ['Running', 'Running', 'Stopped'];
  let imageReads = 0;
  const { registry, gitops } = createManagerMetrics(
    {
      vmStates: () => Promise.resolve(states),
      images: () => {
        imageReads++;
        return Promise.resolve({ count: 2, bytes: 3_000_000 });
      },
      kernels: () => Promise.resolve({ count: 1, bytes: 40_000 }),
    },
    { processMetrics: false },
  );
  const values = async (): Promise<Record<string, number>> =>
    Object.fromEntries(
      parseExposition(await registry.metrics()).flatMap((f) =>
        f.samples.map((s) => [
          `${s.name}${s.labels.map(([k, v]) => `,${k}=${v}`).join('')}`,
          s.value,
        ]),
      ),
    );

  assert.deepEqual(await values(), {
    'ignite_vms,state=Created': 0,
    'ignite_vms,state=Running': 2,
    'ignite_vms,state=Stopped': 1,
    'ignite_vms,state=Pending': 0,
    ignite_images: 2,
    ignite_image_bytes: 3_000_000,
    ignite_kernels: 1,
    ignite_kernel_bytes: 40_000,
    ignite_gitops_reconciles_total: 0,
    ignite_gitops_invalid_manifests_total: 0,
  });
  // ignite_images and ignite_image_bytes share one read per scrape.
  assert.equal(imageReads, 1);

  states = ['Created'];
  gitops.reconciled();
  gitops.reconciled();
  gitops.failed('Unavailable');
  gitops.invalidManifest('vms/bad.yaml');
  const after = await values();
  assert.equal(after['ignite_vms,state=Created'], 1);
  assert.equal(after['ignite_vms,state=Running'], 0);
  assert.equal(after.ignite_gitops_reconciles_total, 2);
  assert.equal(after['ignite_gitops_reconcile_errors_total,reason=Unavailable'], 1);
  assert.equal(after.ignite_gitops_invalid_manifests_total, 1);
});

test('each call makes a separate registry: two managers do not share counters', async () => {
  const sources = {
    vmStates: () => Promise.resolve([]),
    images: () => Promise.resolve({ count: 0, bytes: 0 }),
    kernels: () => Promise.resolve({ count: 0, bytes: 0 }),
  };
  const a = createManagerMetrics(sources);
  const b = createManagerMetrics(sources);
  a.gitops.reconciled();
  assert.match(await a.registry.metrics(), /^ignite_gitops_reconciles_total 1$/m);
  assert.match(await b.registry.metrics(), /^ignite_gitops_reconciles_total 0$/m);
});
