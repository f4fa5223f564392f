import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extract } from 'tar-stream';
import { ignite } from '../../helpers/cli.js';
import { tempDataDir } from '../../helpers/data-dir.js';
import { pushCraftedImage, type LayerEntry } from '../../helpers/push-image.js';
import { startRegistry } from '../../helpers/registry.js';

const REL = '6.1.0-crafted';
const FAKE_ELF = Buffer.concat([
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]),
  Buffer.alloc(200),
  Buffer.from(`Linux version ${REL} (build@host) #1 SMP\0`),
]);
const mtime = new Date('2024-05-01T00:00:00Z');
const M = `lib/modules/${REL}`;

/** Ignite's kernel image layout: /boot/vmlinux and /lib/modules/<release>, no initrd. */
const kernelLayers = (extra: LayerEntry[] = []): LayerEntry[][] => [
  [
    [{ name: 'boot', type: 'directory', mode: 0o755 }],
    [{ name: 'boot/vmlinux', size: FAKE_ELF.length }, FAKE_ELF],
    [{ name: `${M}/kernel/net`, type: 'directory', mode: 0o750, uid: 3, gid: 4, mtime }],
    [{ name: `${M}/kernel/net/dummy.ko`, mode: 0o640, uid: 5, gid: 6, mtime }, 'dummy\n'],
    [{ name: `${M}/kernel/net/gone.ko`, mode: 0o644, mtime }, 'whited out\n'],
    [{ name: `${M}/modules.dep`, mode: 0o644, mtime }, 'kernel/net/dummy.ko:\n'],
    [{ name: `${M}/build`, type: 'symlink', linkname: '/usr/src/linux-6.1', mode: 0o777, mtime }],
    [{ name: `${M}/kernel/net/same.ko`, type: 'link', linkname: `${M}/kernel/net/dummy.ko` }],
    ...extra,
  ],
  [[{ name: `${M}/kernel/net/.wh.gone.ko` }, '']],
];

interface TarEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname: string;
  body: string;
}

async function readTar(file: string): Promise<TarEntry[]> {
  const ex = extract();
  Readable.from([await readFile(file)]).pipe(ex);
  const out: TarEntry[] = [];
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    const h = e.header;
    out.push({
      name: h.name,
      type: h.type ?? '',
      mode: h.mode ?? 0,
      uid: h.uid ?? 0,
      gid: h.gid ?? 0,
      mtime: (h.mtime?.getTime() ?? 0) / 1000,
      linkname: h.linkname ?? '',
      body: Buffer.concat(chunks).toString(),
    });
  }
  return out;
}

test('kernel import keeps /lib/modules/<release> as modules.tar, as the layers left it', async () => {
  await using reg = await startRegistry();
  await using dir = await tempDataDir();
  const env = { IGNITE_DATA_DIR: dir.path };
  await pushCraftedImage(reg.host, 'kernel/mods', 'latest', kernelLayers());
  const r = await ignite(['kernel', 'import', `${reg.host}/kernel/mods:latest`], { env });
  assert.equal(r.code, 0, r.stderr);
  const [kernel] = JSON.parse((await ignite(['kernel', 'ls', '-o', 'json'], { env })).stdout) as {
    metadata: { uid: string };
  }[];
  const kdir = join(dir.path, 'kernel', kernel?.metadata.uid ?? '');
  assert.deepEqual((await readdir(kdir)).sort(), ['metadata.json', 'modules.tar', 'vmlinux']);
  const t = 1714521600;
  const entries = await readTar(join(kdir, 'modules.tar'));
  assert.deepEqual(
    entries.map((e) => [e.name, e.type, e.mode.toString(8), e.uid, e.gid]),
    [
      [REL, 'directory', '755', 0, 0],
      [`${REL}/build`, 'symlink', '777', 0, 0],
      [`${REL}/kernel`, 'directory', '755', 0, 0],
      [`${REL}/kernel/net`, 'directory', '750', 3, 4],
      [`${REL}/kernel/net/dummy.ko`, 'file', '640', 5, 6],
      [`${REL}/modules.dep`, 'file', '644', 0, 0],
      [`${REL}/kernel/net/same.ko`, 'link', '640', 5, 6],
    ],
  );
  const byName = new Map(entries.map((e) => [e.name, e]));
  assert.equal(byName.get(`${REL}/kernel/net/dummy.ko`)?.body, 'dummy\n');
  assert.equal(byName.get(`${REL}/kernel/net/dummy.ko`)?.mtime, t);
  assert.equal(byName.get(`${REL}/build`)?.linkname, '/usr/src/linux-6.1');
  assert.equal(byName.get(`${REL}/kernel/net/same.ko`)?.linkname, `${REL}/kernel/net/dummy.ko`);
  assert.deepEqual(await readdir(join(dir.path, '.staging')).catch(() => []), []);
});

test('kernel import: a modules tree ignite cannot write into a disk rejects the image', async () => {
  await using reg = await startRegistry();
  await using dir = await tempDataDir();
  const env = { IGNITE_DATA_DIR: dir.path };
  const cases: Record<string, { extra: LayerEntry[]; error: RegExp }> = {
    space: {
      extra: [[{ name: `${M}/a b.ko` }, 'x']],
      error: new RegExp(`/lib/modules/${REL}/a b\\.ko: a name of other characters`),
    },
    quote: {
      extra: [[{ name: `${M}/evil`, type: 'symlink', linkname: '/x" ; rm -rf /' }]],
      error: /\/evil: a symlink to "\/x\\?" ; rm -rf \/"/,
    },
    fifo: {
      extra: [[{ name: `${M}/pipe`, type: 'fifo' }]],
      error: /\/pipe: a FIFO, not a file, directory or symlink/,
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    await pushCraftedImage(reg.host, `kernel/${name}`, 'latest', kernelLayers(c.extra));
    const r = await ignite(['kernel', 'import', `${reg.host}/kernel/${name}:latest`], { env });
    assert.notEqual(r.code, 0, name);
    assert.match(r.stderr, c.error, `${name}: ${r.stderr}`);
    assert.match(r.stderr, /the kernel image is rejected/);
    assert.deepEqual(await readdir(join(dir.path, 'kernel')).catch(() => []), [], name);
    assert.deepEqual(await readdir(join(dir.path, '.staging')).catch(() => []), [], name);
  }
});
