import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../helpers/cli.js';
import { leftovers } from '../helpers/host-leftovers.js';
import { vmTestEnv } from '../helpers/vm-env.js';

// Slow (npm run test:slow): ten VMs boot at once under TCG on two cores.
// 10 parallel `ignite run` of distinct names and 10 parallel `ignite rm -f` of other VMs: no lost
// write, and no error at all (none is expected: every name is distinct, every VM exists).
test('concurrency: 10 parallel run and 10 parallel rm -f', { timeout: 900_000 }, async () => {
  await using t = await vmTestEnv(['busybox', 'kernel']);
  const { env } = t;
  const image = `${t.registry}/ignite-busybox`;
  const doomed: string[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await ignite(
      ['create', image, '--name', `old-${i}`, '--net', i % 2 ? 'none' : 'docker-bridge'],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    doomed.push(r.stdout.trim());
  }
  const results = await Promise.all([
    ...Array.from({ length: 10 }, (_, i) =>
      ignite(
        [
          'run',
          image,
          '--name',
          `new-${i}`,
          '--net',
          i % 2 ? 'none' : 'docker-bridge',
          '--memory',
          '128MB',
        ],
        {
          env,
          timeoutMs: 600_000,
        },
      ).then((r) => ({ what: `run new-${i}`, ...r })),
    ),
    ...Array.from({ length: 10 }, (_, i) =>
      ignite(['rm', '-f', `old-${i}`], { env, timeoutMs: 600_000 }).then((r) => ({
        what: `rm old-${i}`,
        ...r,
      })),
    ),
  ]);
  for (const r of results) assert.equal(r.code, 0, `${r.what}: ${r.stderr}`);
  const vms = JSON.parse((await ignite(['ps', '-a', '-o', 'json'], { env })).stdout) as {
    metadata: { name: string; uid: string };
    status: { state: string; network?: { ipAddresses?: string[] } };
  }[];
  assert.deepEqual(
    vms.map((v) => v.metadata.name).sort(),
    Array.from({ length: 10 }, (_, i) => `new-${i}`).sort(),
    'exactly the ten new VMs: no lost write, no removed VM back',
  );
  for (const v of vms) assert.equal(v.status.state, 'Running', `${v.metadata.name} runs`);
  const ips = vms.flatMap((v) => v.status.network?.ipAddresses ?? []);
  assert.equal(new Set(ips).size, ips.length, `distinct addresses: ${ips.join(', ')}`);
  for (const uid of doomed)
    assert.deepEqual(await leftovers(uid), [], `removed vm ${uid}: nothing left`);
  const rm = await ignite(['rm', '-f', ...vms.map((v) => v.metadata.name)], {
    env,
    timeoutMs: 300_000,
  });
  assert.equal(rm.code, 0, rm.stderr);
});
