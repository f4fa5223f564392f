// Create latency must not grow with the image: `ignite create` of a VM whose image is 1 GB,
// against one whose image is 100 MB, both already imported. Each image is the project's busybox
// plus one layer of random data (incompressible, so its size is real).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchEnv, fmt, median, pexec, sample } from './lib.js';
import { TEST_KERNEL } from '../test/helpers/vm-env.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);

async function pushPadded(registry: string, mib: number): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'ignite-bench-pad-'));
  const ref = `${registry}/ignite-busybox-padded:${mib}m`;
  try {
    const layout = `${join(work, 'layout')}:base`;
    await pexec('skopeo', [
      'copy',
      '--quiet',
      '--src-tls-verify=false',
      `docker://${registry}/ignite-busybox`,
      `oci:${layout}`,
    ]);
    await pexec('dd', [
      'if=/dev/urandom',
      `of=${join(work, 'padding.bin')}`,
      'bs=1M',
      `count=${mib}`,
      'status=none',
    ]);
    await pexec('umoci', ['insert', '--image', layout, join(work, 'padding.bin'), '/padding.bin']);
    await pexec('skopeo', [
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${layout}`,
      `docker://${ref}`,
    ]);
    return ref;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export async function createLatencyBench(): Promise<{ rows: string[][]; ratio: number }> {
  await using b = await benchEnv(['busybox', 'kernel']);
  const small = await pushPadded(b.registry, 100);
  const large = await pushPadded(b.registry, 1024);
  await b.ig(['kernel', 'import', `${b.registry}/${TEST_KERNEL}`]);
  const times: Record<string, number[]> = {};
  for (const ref of [small, large]) await b.ig(['image', 'import', ref]);
  let n = 0;
  /** The time of `ignite create` alone; the VM is removed after the clock stops. */
  const create = async (ref: string): Promise<number> => {
    const name = `create-${n++}`;
    const [ms] = await sample(
      1,
      () => b.ig(['create', ref, '--name', name, '--net', 'none', '--size', '2GB']),
      false,
    );
    await b.ig(['rm', name]);
    return ms ?? 0;
  };
  // Interleaved, so a slow patch of the machine hits both alike.
  times[small] = [];
  times[large] = [];
  await create(small);
  await create(large);
  for (let i = 0; i < RUNS; i++) {
    for (const ref of [small, large]) {
      times[ref]?.push(await create(ref));
    }
  }
  const s = median(times[small] ?? []);
  const l = median(times[large] ?? []);
  return {
    ratio: l / s,
    rows: [
      ['create: VM of a 100 MB image (imported)', fmt(s), `median of ${RUNS}`],
      [
        'create: VM of a 1 GB image (imported)',
        fmt(l),
        `ratio ${(l / s).toFixed(2)} (target ≤ 1.2)`,
      ],
    ],
  };
}
