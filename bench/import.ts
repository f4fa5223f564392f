// Import: OCI pull to ext4 with ignite, against skopeo copy + umoci unpack + mkfs.ext4 -d of the
// same image (ignite-debian, about 250 MB unpacked), in this run. Targets: ignite takes at most half
// the chain's time, and unpacks at 150 MB/s or more.
import { lstatSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushProjectImages, startRegistry } from '../test/helpers/registry.js';
import { fmt, median, pexec } from './lib.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);

/** Bytes a tree needs on ext4 with 4 KiB blocks, and its inode count: the baseline's mkfs size. */
function measureTree(dir: string): { bytes: number; inodes: number } {
  let bytes = 0;
  let inodes = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const st = lstatSync(join(d, name));
      inodes++;
      bytes += Math.ceil(st.size / 4096) * 4096;
      if (st.isDirectory()) walk(join(d, name));
    }
  };
  walk(dir);
  return { bytes, inodes };
}
const IGNITE = join(import.meta.dirname, '../bin/ignite.js');

export async function importBench(): Promise<{ rows: string[][]; ratio: number }> {
  await using reg = await startRegistry();
  await pushProjectImages(reg.host, ['debian']);
  const ref = `${reg.host}/ignite-debian:bookworm`;
  const ours: number[] = [];
  const chain: number[] = [];
  let unpacked = 0;
  for (let i = 0; i < RUNS; i++) {
    const work = await mkdtemp(join(tmpdir(), 'ignite-bench-import-'));
    try {
      let t0 = performance.now();
      await pexec(process.execPath, [IGNITE, '--log-level', 'warn', 'image', 'import', ref], {
        env: { ...process.env, IGNITE_DATA_DIR: join(work, 'data') },
      });
      ours.push(performance.now() - t0);

      t0 = performance.now();
      await pexec('skopeo', [
        'copy',
        '--quiet',
        '--src-tls-verify=false',
        `docker://${ref}`,
        `oci:${join(work, 'layout')}:x`,
      ]);
      await pexec('umoci', [
        'unpack',
        '--image',
        `${join(work, 'layout')}:x`,
        join(work, 'bundle'),
      ]);
      const rootfs = join(work, 'bundle', 'rootfs');
      const { bytes, inodes } = measureTree(rootfs);
      unpacked = bytes;
      const img = join(work, 'chain.ext4');
      await writeFile(img, '');
      await pexec('truncate', [
        '-s',
        String(Math.ceil((bytes * 1.25 + inodes * 512 + (64 << 20)) / (1 << 20)) * (1 << 20)),
        img,
      ]);
      await pexec('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', rootfs, img]);
      chain.push(performance.now() - t0);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  const o = median(ours);
  const c = median(chain);
  const mbps = unpacked / 1e6 / (o / 1000);
  return {
    ratio: o / c,
    rows: [
      [
        `import: skopeo copy + umoci unpack + mkfs.ext4 -d (${(unpacked / 1e6).toFixed(0)} MB unpacked)`,
        fmt(c),
        `median of ${RUNS}`,
      ],
      [
        'import: ignite image import (pull, verify, unpack, ext4)',
        fmt(o),
        `ratio ${(o / c).toFixed(2)} (target ≤ 0.5)`,
      ],
      [
        'import: ignite unpacked throughput',
        `${mbps.toFixed(0)} MB/s`,
        `${(unpacked / 1e6).toFixed(0)} MB in ${fmt(o)} (target ≥ 150 MB/s)`,
      ],
    ],
  };
}
