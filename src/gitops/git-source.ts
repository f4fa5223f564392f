import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, invalidArgument, unavailable } from '../errors.js';
import { run, runUnchecked } from '../system/exec.js';
import {
  isManifestPath,
  MAX_MANIFEST_BYTES,
  type ManifestFile,
  type UnreadableManifest,
} from '../operations/manifest-files.js';
const GIT_TIMEOUT_MS = 120_000;

export interface GitSourceOptions {
  url: string;
  branch: string;
  /** Only manifests under this directory of the repository are read ('' for all). */
  path: string;
  /** Where the local copy lives: one bare repository per URL. */
  cacheDir: string;
  env: NodeJS.ProcessEnv;
}

/**
 * A branch of a remote git repository, read with git itself. The local copy is a bare
 * repository, so nothing is checked out: manifests are read from the commit's tree, and a file
 * half-written by a checkout can never be seen.
 */
export class GitSource {
  readonly dir: string;
  private readonly ref: string;

  constructor(private readonly o: GitSourceOptions) {
    if (o.url === '' || o.url.startsWith('-'))
      throw invalidArgument(`gitops: repository "${o.url}": not a git URL or path`);
    if (!/^[A-Za-z0-9._/-]+$/.test(o.branch) || o.branch.startsWith('-') || o.branch.includes('..'))
      throw invalidArgument(`gitops: branch "${o.branch}": not a valid branch name`);
    const key = createHash('sha256').update(o.url).digest('hex').slice(0, 16);
    this.dir = join(o.cacheDir, `${key}.git`);
    this.ref = `refs/heads/${o.branch}`;
  }

  /** Fetches the branch and returns its head commit. Unreachable remotes are Unavailable. */
  async sync(): Promise<string> {
    await this.ensureRepo();
    const fetch = await runUnchecked(
      'git',
      [
        '-C',
        this.dir,
        'fetch',
        '--quiet',
        '--no-tags',
        '--force',
        '--',
        this.o.url,
        `+${this.ref}:${this.ref}`,
      ],
      { env: gitEnv(this.o.env), timeoutMs: GIT_TIMEOUT_MS },
    );
    if (fetch.exitCode !== 0) {
      const why = fetch.stderr.trim().split('\n')[0] ?? `exit code ${fetch.exitCode}`;
      throw unavailable(`gitops: ${this.o.url} (${this.o.branch}): fetch failed: ${why}`);
    }
    const head = await run(
      'git',
      ['-C', this.dir, 'rev-parse', '--verify', `${this.ref}^{commit}`],
      {
        env: gitEnv(this.o.env),
      },
    );
    return head.stdout.trim();
  }

  /** Every manifest (`*.yaml`, `*.yml`, `*.json`) under the path, at `commit`. */
  async manifests(
    commit: string,
  ): Promise<{ files: ManifestFile[]; unreadable: UnreadableManifest[] }> {
    const scope = this.o.path.replace(/^\/+|\/+$/g, '');
    const listing = await run(
      'git',
      ['-C', this.dir, 'ls-tree', '-r', '-l', '-z', commit, '--', ...(scope ? [scope] : [])],
      { env: gitEnv(this.o.env) },
    );
    const files: ManifestFile[] = [];
    const unreadable: UnreadableManifest[] = [];
    for (const entry of listing.stdout.split('\0')) {
      const m = /^\d+ blob [0-9a-f]+\s+(\d+)\t(.+)$/s.exec(entry);
      if (!m?.[2] || !isManifestPath(m[2])) continue;
      if (Number(m[1]) > MAX_MANIFEST_BYTES) {
        unreadable.push({ path: m[2], reason: 'larger than 1 MiB' });
        continue;
      }
      const blob = await run('git', ['-C', this.dir, 'cat-file', 'blob', `${commit}:${m[2]}`], {
        env: gitEnv(this.o.env),
      });
      files.push({ path: m[2], text: blob.stdout });
    }
    return { files, unreadable };
  }

  private async ensureRepo(): Promise<void> {
    const exists = await stat(join(this.dir, 'HEAD')).then(
      () => true,
      () => false,
    );
    if (exists) return;
    await mkdir(this.o.cacheDir, { recursive: true, mode: 0o700 });
    try {
      await run('git', ['init', '--quiet', '--bare', this.dir], { env: gitEnv(this.o.env) });
    } catch (err) {
      throw new AppError('Internal', `gitops: cannot create ${this.dir}`, { cause: err });
    }
  }
}

/** git must never stop to ask for a password: a reconciler has no one to ask. */
function gitEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', LC_ALL: 'C' };
}
