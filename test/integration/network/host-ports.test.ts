import { createServer } from 'node:net';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../../helpers/cli.js';
import { vmTestEnv } from '../../helpers/vm-env.js';
import { freePort } from '../../helpers/registry.js';
import { reservationsOf } from '../../helpers/host-leftovers.js';

interface VMJSON {
  metadata: { name: string; uid: string };
}

// Real creates (image import, root disk, address reservation; no boots), as root.
test('a host port that a host process or another VM uses is refused at create, leaving nothing behind', async () => {
  assert.equal(process.getuid?.(), 0, 'the default network needs root (CI runs as root)');
  await using t = await vmTestEnv(['busybox', 'kernel']);
  const { env } = t;
  const image = `${t.registry}/ignite-busybox`;
  const port = await freePort();
  const vms = async () =>
    JSON.parse((await ignite(['ps', '-a', '-o', 'json'], { env })).stdout) as VMJSON[];

  // 1. A host process listens on the port (on every address, as a server would).
  const server = createServer();
  server.listen(port, '0.0.0.0');
  await once(server, 'listening');
  try {
    const r = await ignite(['create', image, '--name', 'busy', '-p', `${port}:80`], { env });
    assert.equal(r.code, 4, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`vm "busy": host port ${port}/tcp is already used by a host process`),
    );
  } finally {
    server.close();
  }
  assert.deepEqual(await vms(), [], 'no VM is stored');
  assert.deepEqual(await readdir(join(t.dataDir, 'vm')).catch(() => []), [], 'no VM directory');

  // 2. Once the process is gone the port is free; a second VM asking for it is refused, by name.
  const a = await ignite(['create', image, '--name', 'first', '-p', `${port}:80`], { env });
  assert.equal(a.code, 0, a.stderr);
  const b = await ignite(['create', image, '--name', 'second', '-p', `${port}:81`], {
    env,
  });
  assert.equal(b.code, 4, b.stderr);
  assert.match(
    b.stderr,
    new RegExp(`vm "second": host port ${port}/tcp is already used by vm "first"`),
  );
  let all = await vms();
  assert.deepEqual(
    all.map((v) => v.metadata.name),
    ['first'],
  );
  const firstUID = all[0]?.metadata.uid ?? '';
  assert.deepEqual(await readdir(join(t.dataDir, 'vm')), [firstUID]);

  // The same port number over UDP is another port.
  const c = await ignite(['create', image, '--name', 'third', '-p', `${port}:53/udp`], { env });
  assert.equal(c.code, 0, c.stderr);
  all = await vms();
  assert.deepEqual(all.map((v) => v.metadata.name).sort(), ['first', 'third']);
  // A refused create reserved no address: only the two VMs hold one.
  for (const v of all) assert.equal((await reservationsOf(v.metadata.uid)).size, 1);

  // rm frees the port.
  assert.equal((await ignite(['rm', 'first'], { env })).code, 0);
  const d = await ignite(['create', image, '--name', 'fourth', '-p', `${port}:80`], { env });
  assert.equal(d.code, 0, d.stderr);
});
