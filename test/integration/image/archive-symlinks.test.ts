import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pack, type Header } from 'tar-stream';

type Headers = Partial<Header> & { name: string };
import { ignite } from '../../helpers/cli.js';
import { tempDataDir } from '../../helpers/data-dir.js';

/** Writes a tar of `entries` (a body for files, none for links and FIFOs) to `file`. */
async function writeTar(file: string, entries: [Headers, string?][]): Promise<void> {
  const p = pack();
  const done = pipeline(p, createWriteStream(file));
  for (const [h, body] of entries) {
    if (body === undefined) p.entry(h);
    else p.entry(h, body);
  }
  p.finalize();
  await done;
}

// A docker save or OCI layout archive is read only through its own regular files: a symlink
// inside it to a host file is refused, and the error never shows that file's content.
test(
  'image import of an archive whose manifest, config or blobs are symlinks to host files',
  { timeout: 120_000 },
  async () => {
    const work = await mkdtemp(join(tmpdir(), 'ignite-archive-links-'));
    try {
      const secret = `root:SECRET-${randomBytes(8).toString('hex')}:19000:0:99999:7:::`;
      const hostFile = join(work, 'host-secret');
      await writeFile(hostFile, `${secret}\n`, { mode: 0o600 });
      const hostDir = join(work, 'host-dir');
      const layout: [Headers, string] = [{ name: 'oci-layout' }, '{"imageLayoutVersion":"1.0.0"}'];
      const cases: Record<string, [Headers, string?][]> = {
        'manifest-link': [[{ name: 'manifest.json', type: 'symlink', linkname: hostFile }]],
        'config-link': [
          [{ name: 'manifest.json' }, JSON.stringify([{ Config: 'cfg.json', Layers: [] }])],
          [{ name: 'cfg.json', type: 'symlink', linkname: hostFile }],
        ],
        'index-link': [layout, [{ name: 'index.json', type: 'symlink', linkname: hostFile }]],
        'blobs-dir-link': [
          layout,
          [
            { name: 'index.json' },
            JSON.stringify({
              manifests: [{ digest: `sha256:${'a'.repeat(64)}`, size: 10, mediaType: 'x' }],
            }),
          ],
          [{ name: 'blobs', type: 'symlink', linkname: hostDir }],
        ],
        'manifest-fifo': [[{ name: 'manifest.json', type: 'fifo' }]],
      };
      await mkdir(join(hostDir, 'sha256'), { recursive: true });
      await writeFile(join(hostDir, 'sha256', 'a'.repeat(64)), secret);
      await using dir = await tempDataDir();
      const env = { IGNITE_DATA_DIR: dir.path };
      for (const [name, entries] of Object.entries(cases)) {
        const tar = join(work, `${name}.tar`);
        await writeTar(tar, entries);
        const r = await ignite(['image', 'import', tar, '--name', `localhost/${name}:x`], {
          env,
          timeoutMs: 60_000,
        });
        assert.notEqual(r.code, 0, `${name}: the import must fail`);
        assert.match(r.stderr, /^Error: image archive ".*": /m, `${name}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /SECRET|root:/, `${name}: no host content in the error`);
        assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
        if (name !== 'manifest-fifo')
          assert.match(r.stderr, /symlink|regular file|missing/, `${name}: ${r.stderr}`);
        const list = await ignite(['image', 'ls', '-o', 'json'], { env });
        assert.deepEqual(JSON.parse(list.stdout), [], `${name}: nothing imported`);
        assert.deepEqual(
          await readdir(join(dir.path, '.staging')).catch(() => []),
          [],
          `${name}: no staging left`,
        );
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  },
);
