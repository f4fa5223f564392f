import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const pexec = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface TestRegistry extends AsyncDisposable {
  /** `127.0.0.1:<port>` */
  host: string;
  dir: string;
}

/**
 * A real registry (Debian's docker-registry) on 127.0.0.1 with a fresh storage dir. With
 * `htpasswd`, it requires Basic auth for that user.
 */
export async function startRegistry(
  options: { htpasswd?: { user: string; password: string } } = {},
): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-registry-'));
  const port = await freePort();
  let auth = '';
  if (options.htpasswd) {
    const { stdout } = await pexec('htpasswd', [
      '-Bbn',
      options.htpasswd.user,
      options.htpasswd.password,
    ]);
    await writeFile(join(dir, 'htpasswd'), stdout);
    auth = `auth:\n  htpasswd:\n    realm: test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  await writeFile(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`,
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: 'ignore',
  });
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await fetch(`http://${host}/v2/`).then(
      (r) => r.status === 200 || r.status === 401,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`docker-registry did not start on ${host}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    dir,
    [Symbol.asyncDispose]: async () => {
      child.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The targets of images/build.sh. */
export type ProjectImage = 'busybox' | 'debian' | 'debian-slim' | 'kernel' | 'kernel-micro';

/**
 * Builds (cached) and pushes the project's images to `registry` with images/build.sh. A fresh
 * cache compiles the micro kernel, which takes minutes on 2 cores (CI builds it before the tests).
 */
export async function pushProjectImages(registry: string, which: ProjectImage[]): Promise<void> {
  await pexec('bash', [join(ROOT, 'images/build.sh'), '--registry', registry, ...which], {
    maxBuffer: 16 << 20,
    timeout: which.includes('kernel-micro') ? 3_600_000 : 600_000,
  });
}

/** Copies an image between registries/layouts with skopeo (plain HTTP to the test registry). */
export async function skopeoCopy(src: string, dst: string, extra: string[] = []): Promise<void> {
  await pexec(
    'skopeo',
    ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', ...extra, src, dst],
    { maxBuffer: 16 << 20 },
  );
}
