// GitOps: the time for `ignite gitops --once` to reconcile 100 VM manifests (status Stopped) into
// created VMs, from a real bare git repository. The image and kernel are imported beforehand, so
// the figure is the reconcile itself: fetch, read, 100 creates.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchEnv, fmt, median, pexec } from './lib.js';
import { TEST_KERNEL } from '../test/helpers/vm-env.js';

const COUNT = Number(process.env['BENCH_GITOPS_VMS'] ?? 100);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);

export async function gitopsBench(): Promise<{ rows: string[][] }> {
  await using b = await benchEnv(['busybox', 'kernel']);
  const image = `${b.registry}/ignite-busybox`;
  await b.ig(['image', 'import', image]);
  await b.ig(['kernel', 'import', `${b.registry}/${TEST_KERNEL}`]);
  const root = await mkdtemp(join(tmpdir(), 'ignite-bench-git-'));
  try {
    const bare = join(root, 'vms.git');
    const work = join(root, 'work');
    const git = (args: string[], cwd = root) =>
      pexec('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', ...args], {
        cwd,
      });
    await git(['init', '--quiet', '--bare', '--initial-branch=main', bare]);
    await git(['init', '--quiet', '--initial-branch=main', work]);
    await mkdir(join(work, 'vms'));
    for (let i = 0; i < COUNT; i++) {
      const name = `vm-${String(i).padStart(3, '0')}`;
      await writeFile(
        join(work, 'vms', `${name}.yaml`),
        `apiVersion: ignite.weave.works/v1alpha1\nkind: VM\nmetadata:\n  name: ${name}\nspec:\n  image:\n    ociClaim:\n      ref: ${image}\n  cpus: 1\n  memory: 64MB\n  diskSize: 1GB\n  network:\n    mode: none\nstatus:\n  state: Stopped\n`,
      );
    }
    await git(['add', '-A'], work);
    await git(['commit', '--quiet', '-m', `${COUNT} VMs`], work);
    const withVMs = (await git(['rev-parse', 'HEAD'], work)).stdout.trim();
    await git(['rm', '--quiet', '-r', 'vms'], work);
    await git(['commit', '--quiet', '--allow-empty', '-m', 'no VMs'], work);
    const without = (await git(['rev-parse', 'HEAD'], work)).stdout.trim();
    const push = (commit: string) =>
      git(['push', '--quiet', '--force', bare, `${commit}:refs/heads/main`], work);
    const reconcile = () => b.ig(['gitops', `file://${bare}`, '--once', '-o', 'json']);

    const times: number[] = [];
    const noops: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await push(withVMs);
      const t0 = performance.now();
      const out = await reconcile();
      times.push(performance.now() - t0);
      const created = (JSON.parse(out) as { decisions: { action: string }[] }).decisions.filter(
        (d) => d.action === 'created',
      ).length;
      if (created !== COUNT) throw new Error(`gitops created ${created} VMs, not ${COUNT}`);
      const t1 = performance.now();
      await reconcile();
      noops.push(performance.now() - t1);
      await push(without);
      await reconcile();
    }
    const ms = median(times);
    const noop = median(noops);
    return {
      rows: [
        [
          `gitops: reconcile ${COUNT} manifests into created VMs`,
          fmt(ms),
          `${fmt(ms / COUNT)} per VM; median of ${RUNS}`,
        ],
        ['gitops: the same commit again (nothing to do)', fmt(noop), `median of ${RUNS}`],
      ],
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
