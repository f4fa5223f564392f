import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ignite } from './cli.js';
import { vmTestEnv, type VMTestEnv } from './vm-env.js';

const pexec = promisify(execFile);

/** A real bare git repository (the "remote") and a work tree to commit to it. */
export interface TestRepo extends AsyncDisposable {
  /** The bare repository's `file://` URL. */
  url: string;
  bare: string;
  work: string;
  /** Writes (or, with `undefined`, deletes) files, commits, and pushes to `main`; returns the commit. */
  commit(files: Record<string, string | undefined>, message?: string): Promise<string>;
}

export async function testRepo(): Promise<TestRepo> {
  const root = await mkdtemp(join(tmpdir(), 'ignite-git-'));
  const bare = join(root, 'vms.git');
  const work = join(root, 'work');
  const git = (args: string[], cwd = work) =>
    pexec('git', args, {
      cwd,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'test',
        GIT_AUTHOR_EMAIL: 'test@example.invalid',
        GIT_COMMITTER_NAME: 'test',
        GIT_COMMITTER_EMAIL: 'test@example.invalid',
      },
    });
  await git(['init', '--quiet', '--bare', '--initial-branch=main', bare], root);
  await git(['init', '--quiet', '--initial-branch=main', work], root);
  await git(['remote', 'add', 'origin', bare]);
  return {
    url: `file://${bare}`,
    bare,
    work,
    async commit(files, message = 'update VMs') {
      for (const [path, text] of Object.entries(files)) {
        const full = join(work, path);
        if (text === undefined) await rm(full, { force: true });
        else {
          await mkdir(dirname(full), { recursive: true });
          await writeFile(full, text);
        }
      }
      await git(['add', '-A']);
      await git(['commit', '--quiet', '--allow-empty', '-m', message]);
      await git(['push', '--quiet', 'origin', 'HEAD:main']);
      return (await git(['rev-parse', 'HEAD'])).stdout.trim();
    },
    [Symbol.asyncDispose]: () => rm(root, { recursive: true, force: true }),
  };
}

/** A VM manifest as a user would write it for Ignite v0.4's gitops. */
export function vmManifest(
  name: string,
  image: string,
  o: {
    state?: 'Running' | 'Stopped';
    labels?: Record<string, string>;
    memory?: string;
    uid?: string;
    extra?: string;
  } = {},
): string {
  const labels = Object.entries(o.labels ?? {})
    .map(([k, v]) => `    ${k}: "${v}"\n`)
    .join('');
  return (
    `apiVersion: ignite.weave.works/v1alpha1\nkind: VM\nmetadata:\n  name: ${name}\n` +
    (o.uid ? `  uid: ${o.uid}\n` : '') +
    (labels ? `  labels:\n${labels}` : '') +
    `spec:\n  image:\n    ociClaim:\n      ref: ${image}\n  cpus: 1\n  memory: ${o.memory ?? '128MB'}\n  diskSize: 1GB\n  network:\n    mode: none\n` +
    (o.extra ?? '') +
    `status:\n  state: ${o.state ?? 'Stopped'}\n`
  );
}

/** A VM as `ignite ps -a -o json` prints it, with the fields the gitops tests read. */
export interface VMJSON {
  metadata: {
    name: string;
    uid: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  status: { state: string; startTime?: string; runtime?: { spawnPid: number; pid: number } };
}

/** What a gitops test starts from: a registry with the images, a data dir, and a bare repository. */
export interface GitopsTestEnv extends AsyncDisposable {
  t: VMTestEnv;
  repo: TestRepo;
  env: NodeJS.ProcessEnv;
  /** The busybox image in the test registry. */
  image: string;
  /** Every VM, as `ignite ps -a -o json` lists it. */
  vms: () => Promise<VMJSON[]>;
}

export async function gitopsTestEnv(): Promise<GitopsTestEnv> {
  const t = await vmTestEnv(['busybox', 'kernel']);
  const repo = await testRepo();
  return {
    t,
    repo,
    env: t.env,
    image: `${t.registry}/ignite-busybox`,
    vms: async () =>
      JSON.parse((await ignite(['ps', '-a', '-o', 'json'], { env: t.env })).stdout) as VMJSON[],
    [Symbol.asyncDispose]: async () => {
      await repo[Symbol.asyncDispose]();
      await t[Symbol.asyncDispose]();
    },
  };
}
