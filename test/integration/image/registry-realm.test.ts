import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../../helpers/cli.js';
import { tempDataDir } from '../../helpers/data-dir.js';

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

// Basic credentials for a registry go to its token realm only over https, or to the registry's
// own plain-HTTP host. A realm on another host over plain HTTP would read them off the wire.
test(
  'a Bearer realm on another host over plain HTTP never receives the registry credentials',
  { timeout: 60_000 },
  async () => {
    const seenByRealm: (string | undefined)[] = [];
    const realm = createServer((req, res) => {
      seenByRealm.push(req.headers.authorization);
      res.writeHead(401).end();
    });
    // 127.0.0.2 is loopback too, but another host than the registry's 127.0.0.1.
    const realmPort = await listen(realm, '127.0.0.2');
    const seenByRegistry: (string | undefined)[] = [];
    const registry = createServer((req, res) => {
      seenByRegistry.push(req.headers.authorization);
      res
        .writeHead(401, {
          'WWW-Authenticate': `Bearer realm="http://127.0.0.2:${realmPort}/token",service="reg"`,
        })
        .end();
    });
    const regPort = await listen(registry, '127.0.0.1');
    const host = `127.0.0.1:${regPort}`;
    const cfg = await mkdtemp(join(tmpdir(), 'ignite-docker-config-'));
    const basic = `Basic ${Buffer.from('bob:s3cret').toString('base64')}`;
    await writeFile(
      join(cfg, 'config.json'),
      JSON.stringify({ auths: { [host]: { auth: Buffer.from('bob:s3cret').toString('base64') } } }),
    );
    try {
      await using dir = await tempDataDir();
      const r = await ignite(['image', 'import', `${host}/team/app:latest`], {
        env: { IGNITE_DATA_DIR: dir.path, DOCKER_CONFIG: cfg },
        timeoutMs: 30_000,
      });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /^Error: image ".*team\/app:latest": the token service refused/m);
      assert.ok(seenByRealm.length > 0, 'the realm was asked for a token');
      assert.deepEqual(
        seenByRealm.filter((a) => a !== undefined),
        [],
        'no Authorization header reached the realm',
      );
      // The registry itself is on its own plain-HTTP loopback host: it may have them.
      assert.ok(seenByRegistry.includes(basic), 'the registry got its own credentials');
    } finally {
      realm.close();
      registry.close();
      await rm(cfg, { recursive: true, force: true });
    }
  },
);
