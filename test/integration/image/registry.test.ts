import { createServer, type Server } from 'node:http';
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../../helpers/cli.js';
import { tempDataDir } from '../../helpers/data-dir.js';
import { freePort, pushProjectImages, skopeoCopy, startRegistry } from '../../helpers/registry.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function dockerConfig(host: string, user: string, password: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-dockercfg-'));
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({
      auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } },
    }),
  );
  return dir;
}

/**
 * Pushes an OCI index naming the busybox manifest as linux/amd64, after an arm64 decoy: the same
 * manifest with an annotation added (so a different digest the registry knows). Returns the amd64
 * manifest's digest.
 */
async function pushIndex(host: string, repo: string, tag: string, auth?: string): Promise<string> {
  const authH: Record<string, string> = auth ? { Authorization: auth } : {};
  const res = await fetch(`http://${host}/v2/${repo}/manifests/latest`, {
    headers: {
      Accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      ...authH,
    },
  });
  const body = Buffer.from(await res.arrayBuffer());
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0] ?? '';
  const decoy = Buffer.from(
    JSON.stringify({ ...(JSON.parse(body.toString()) as object), annotations: { decoy: 'arm64' } }),
  );
  const putDecoy = await fetch(`http://${host}/v2/${repo}/manifests/decoy`, {
    method: 'PUT',
    headers: { 'Content-Type': mediaType, ...authH },
    body: decoy,
  });
  assert.ok(putDecoy.ok, `PUT decoy: ${putDecoy.status} ${await putDecoy.text()}`);
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType,
        digest: sha(decoy),
        size: decoy.length,
        platform: { os: 'linux', architecture: 'arm64' },
      },
      {
        mediaType,
        digest: sha(body),
        size: body.length,
        platform: { os: 'linux', architecture: 'amd64' },
      },
    ],
  };
  const put = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json', ...authH },
    body: JSON.stringify(index),
  });
  assert.ok(put.ok, `PUT index: ${put.status} ${await put.text()}`);
  return sha(body);
}

/** A pass-through proxy (credentials included) that flips the last byte of one blob. */
async function corruptingProxy(
  upstream: string,
  blob: string,
): Promise<{ host: string; server: Server }> {
  const port = await freePort();
  const server = createServer((req, res) => {
    void (async () => {
      const headers: Record<string, string> = {};
      for (const h of ['authorization', 'accept']) {
        const v = req.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      const up = await fetch(`http://${upstream}${req.url ?? '/'}`, { headers });
      let body = Buffer.from(await up.arrayBuffer());
      if ((req.url ?? '').endsWith(`/blobs/${blob}`) && body.length > 0) {
        body = Buffer.from(body);
        body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 0xff;
      }
      const out: Record<string, string> = {};
      for (const h of ['content-type', 'docker-content-digest', 'www-authenticate']) {
        const v = up.headers.get(h);
        if (v) out[h] = v;
      }
      res.writeHead(up.status, out).end(body);
    })().catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { host: `127.0.0.1:${port}`, server };
}

/** A layer blob whose bytes do not match its digest fails the import and leaves nothing. */
async function rejectsCorruptBlob(
  host: string,
  env: NodeJS.ProcessEnv,
  auth?: string,
): Promise<void> {
  const res = await fetch(`http://${host}/v2/ignite-busybox/manifests/latest`, {
    headers: {
      Accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      ...(auth ? { Authorization: auth } : {}),
    },
  });
  const layer = ((await res.json()) as { layers: { digest: string }[] }).layers[0]?.digest ?? '';
  const proxy = await corruptingProxy(host, layer);
  const own =
    env['DOCKER_CONFIG'] && auth
      ? await dockerConfigFrom(env['DOCKER_CONFIG'], host, proxy.host)
      : undefined;
  const cfg = own ?? env['DOCKER_CONFIG'];
  try {
    await using dir = await tempDataDir();
    const r = await ignite(['image', 'import', `${proxy.host}/ignite-busybox:latest`], {
      env: { ...env, IGNITE_DATA_DIR: dir.path, ...(cfg ? { DOCKER_CONFIG: cfg } : {}) },
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`digest mismatch for blob ${layer}`));
    assert.deepEqual(
      await readdir(join(dir.path, 'image')).catch(() => []),
      [],
      'no image object or file',
    );
    assert.deepEqual(
      await readdir(join(dir.path, '.staging')).catch(() => []),
      [],
      'no staging leftovers',
    );
  } finally {
    proxy.server.close();
    if (own !== undefined) await rm(own, { recursive: true, force: true });
  }
}

/** A copy of a Docker config whose credentials for `from` also apply to `to`. */
async function dockerConfigFrom(dir: string, from: string, to: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as {
    auths: Record<string, unknown>;
  };
  cfg.auths[to] = cfg.auths[from];
  const out = await mkdtemp(join(tmpdir(), 'ignite-dockercfg-'));
  await writeFile(join(out, 'config.json'), JSON.stringify(cfg));
  return out;
}

/** Pulls by tag, by digest, through an index, and twice, against `host`. */
async function exercise(host: string, env: NodeJS.ProcessEnv): Promise<void> {
  const tag = await ignite(['image', 'import', `${host}/ignite-busybox:latest`], { env });
  assert.equal(tag.code, 0, tag.stderr);
  // What an import killed after storing its image leaves: its working directory (no process has
  // this PID). The retry finds the image stored, and still clears it.
  const abandoned = join(env['IGNITE_DATA_DIR'] ?? '', '.staging', '4194399-deadbeef');
  await mkdir(join(abandoned, 'rootfs'), { recursive: true });
  const twice = await ignite(['image', 'import', `${host}/ignite-busybox`], { env });
  assert.equal(twice.stdout.trim(), tag.stdout.trim(), 'importing twice gives one object');
  assert.deepEqual(await readdir(join(abandoned, '..')), [], 'an abandoned staging dir is removed');
  const digest =
    (
      JSON.parse((await ignite(['inspect', 'image', tag.stdout.trim()], { env })).stdout) as {
        status: { ociSource: { repoDigests: string[] } };
      }
    ).status.ociSource.repoDigests[0] ?? '';
  const byDigest = await ignite(['image', 'import', digest], { env });
  assert.equal(byDigest.code, 0, byDigest.stderr);
  const viaIndex = await ignite(['image', 'import', `${host}/ignite-busybox:multi`], { env });
  assert.equal(viaIndex.code, 0, viaIndex.stderr);
  const picked =
    (
      JSON.parse((await ignite(['inspect', 'image', viaIndex.stdout.trim()], { env })).stdout) as {
        status: { ociSource: { repoDigests: string[] } };
      }
    ).status.ociSource.repoDigests[0] ?? '';
  assert.equal(picked, digest, 'the linux/amd64 entry of the index was pulled');
  const list = JSON.parse((await ignite(['image', 'ls', '-o', 'json'], { env })).stdout) as {
    status: { ociSource: { id: string } };
  }[];
  assert.equal(list.length, 3);
  assert.equal(
    new Set(list.map((i) => i.status.ociSource.id)).size,
    1,
    'all three are the same content',
  );
}

test(
  'anonymous registry: tag, digest, manifest index, twice, corrupt blob rejected',
  { timeout: 180_000 },
  async () => {
    await using reg = await startRegistry();
    await pushProjectImages(reg.host, ['busybox']);
    await pushIndex(reg.host, 'ignite-busybox', 'multi');
    await using dir = await tempDataDir();
    await exercise(reg.host, { IGNITE_DATA_DIR: dir.path });
    await rejectsCorruptBlob(reg.host, {});
  },
);

test(
  'Basic-auth registry (htpasswd): credentials from the Docker config; tag, digest, index, twice, corrupt blob rejected',
  { timeout: 180_000 },
  async () => {
    const user = { user: 'alice', password: 'wonder land' };
    await using reg = await startRegistry({ htpasswd: user });
    const cfg = await dockerConfig(reg.host, user.user, user.password);
    try {
      const src = await startRegistry();
      try {
        await pushProjectImages(src.host, ['busybox']);
        await skopeoCopy(
          `docker://${src.host}/ignite-busybox:latest`,
          `docker://${reg.host}/ignite-busybox:latest`,
          ['--dest-creds', `${user.user}:${user.password}`],
        );
      } finally {
        await src[Symbol.asyncDispose]();
      }
      await pushIndex(
        reg.host,
        'ignite-busybox',
        'multi',
        `Basic ${Buffer.from(`${user.user}:${user.password}`).toString('base64')}`,
      );
      await using dir = await tempDataDir();
      const denied = await ignite(['image', 'import', `${reg.host}/ignite-busybox`], {
        env: { IGNITE_DATA_DIR: dir.path, DOCKER_CONFIG: join(dir.path, 'none') },
      });
      assert.equal(denied.code, 6, denied.stderr);
      assert.match(denied.stderr, /needs credentials/);
      await exercise(reg.host, { IGNITE_DATA_DIR: dir.path, DOCKER_CONFIG: cfg });
      await rejectsCorruptBlob(
        reg.host,
        { DOCKER_CONFIG: cfg },
        `Basic ${Buffer.from(`${user.user}:${user.password}`).toString('base64')}`,
      );
    } finally {
      await rm(cfg, { recursive: true, force: true });
    }
  },
);

/**
 * The Bearer flow. docker-registry's own token auth needs a JWT-signing token server, so this
 * front answers like one: 401 with a Bearer challenge, a /token endpoint that checks Basic
 * credentials and issues a token, and authorized requests proxied to a real registry.
 */
async function bearerFront(
  upstream: string,
  corruptBlob?: string,
): Promise<{ host: string; server: Server; tokensIssued: () => number }> {
  const port = await freePort();
  let issued = 0;
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
      if (url.pathname === '/token') {
        if (req.headers.authorization !== `Basic ${Buffer.from('bob:secret').toString('base64')}`) {
          res.writeHead(401).end();
          return;
        }
        assert.equal(url.searchParams.get('service'), 'test-registry');
        assert.match(url.searchParams.get('scope') ?? '', /^repository:ignite-busybox:pull$/);
        issued++;
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ token: 'tok-123' }));
        return;
      }
      if (req.headers.authorization !== 'Bearer tok-123') {
        res
          .writeHead(401, {
            'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="test-registry",scope="repository:ignite-busybox:pull"`,
          })
          .end();
        return;
      }
      const up = await fetch(`http://${upstream}${url.pathname}`, {
        headers: { Accept: req.headers.accept ?? '*/*' },
      });
      let body = Buffer.from(await up.arrayBuffer());
      if (corruptBlob !== undefined && url.pathname.endsWith(`/blobs/${corruptBlob}`)) {
        body = Buffer.from(body);
        body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 0xff;
      }
      const headers: Record<string, string> = {};
      for (const h of ['content-type', 'docker-content-digest']) {
        const v = up.headers.get(h);
        if (v) headers[h] = v;
      }
      res.writeHead(up.status, headers).end(body);
    })().catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { host: `127.0.0.1:${port}`, server, tokensIssued: () => issued };
}

test(
  'Bearer token flow: challenge, token from the realm with Basic credentials, then the pull',
  { timeout: 180_000 },
  async () => {
    await using reg = await startRegistry();
    await pushProjectImages(reg.host, ['busybox']);
    await pushIndex(reg.host, 'ignite-busybox', 'multi');
    const front = await bearerFront(reg.host);
    const cfg = await dockerConfig(front.host, 'bob', 'secret');
    try {
      await using dir = await tempDataDir();
      await exercise(front.host, { IGNITE_DATA_DIR: dir.path, DOCKER_CONFIG: cfg });
      assert.ok(front.tokensIssued() > 0);
    } finally {
      front.server.close();
      await rm(cfg, { recursive: true, force: true });
    }
  },
);

test(
  'Bearer token flow: a blob whose bytes do not match its digest is rejected and nothing is half-imported',
  { timeout: 180_000 },
  async () => {
    await using reg = await startRegistry();
    await pushProjectImages(reg.host, ['busybox']);
    const manifest = (await (
      await fetch(`http://${reg.host}/v2/ignite-busybox/manifests/latest`, {
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
      })
    ).json()) as { layers: { digest: string }[] };
    const layer = manifest.layers[0]?.digest ?? '';
    const front = await bearerFront(reg.host, layer);
    const cfg = await dockerConfig(front.host, 'bob', 'secret');
    try {
      await using dir = await tempDataDir();
      const r = await ignite(['image', 'import', `${front.host}/ignite-busybox`], {
        env: { IGNITE_DATA_DIR: dir.path, DOCKER_CONFIG: cfg },
      });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`digest mismatch for blob ${layer}`));
      assert.deepEqual(await readdir(join(dir.path, 'image')).catch(() => []), []);
      assert.deepEqual(
        await readdir(join(dir.path, '.staging')).catch(() => []),
        [],
        'no staging leftovers',
      );
      await mkdir(join(dir.path, 'x'), { recursive: true });
    } finally {
      front.server.close();
      await rm(cfg, { recursive: true, force: true });
    }
  },
);
