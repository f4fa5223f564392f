import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../helpers/cli.js';
import { tempDataDir } from '../helpers/data-dir.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A tar header for a regular file of `size` bytes. */
function fileHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}

/**
 * A decompression bomb: about 7 MB of gzip (concatenated members, which gunzip reads as one
 * stream) holding one 7 GiB file of zeros.
 */
function bomb(): Buffer {
  const size = 7 * 1024 ** 3;
  const zeros = gzipSync(Buffer.alloc(64 << 20), { level: 9 });
  return Buffer.concat([
    gzipSync(fileHeader('bomb', size)),
    ...Array<Buffer>(size / (64 << 20)).fill(zeros),
  ]);
}

/** A layer of 2000 empty files. */
function manyEntries(): Buffer {
  const parts = Array.from({ length: 2000 }, (_, i) => fileHeader(`f${i}`, 0));
  return gzipSync(Buffer.concat([...parts, Buffer.alloc(1024)]));
}

/** A one-file layer, gzipped, and the image config naming it. */
function image() {
  const header = fileHeader('hello.txt', 6);
  const body = Buffer.alloc(512);
  body.write('hello\n');
  const tar = Buffer.concat([header, body, Buffer.alloc(1024)]);
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [sha(tar)] },
      config: {},
    }),
  );
  return { layer, config };
}

type Case =
  | 'wrong-digest'
  | 'truncated-blob'
  | 'huge-manifest'
  | 'redirect-loop'
  | 'bomb'
  | 'many-entries'
  | 'size-lie'
  | 'size-negative'
  | 'size-fraction'
  | 'size-huge'
  | 'config-huge'
  | 'ok';

/** The size each size-lie case puts in a descriptor. */
const LAYER_SIZES: Partial<Record<Case, number>> = {
  'size-lie': 100,
  'size-negative': -1,
  'size-fraction': 1.5,
  'size-huge': 2 ** 60,
};
const BIG = Buffer.alloc(10 << 20, 7);

/** Kernel imports name the image, not the layer entry, when a limit stops them. */
const KERNEL_EXPECTED: Partial<Record<Case, RegExp>> = {
  bomb: /the image unpacks to more than 104857600 bytes/,
  'many-entries': /the image has more than 1000 entries/,
};

/** A registry that misbehaves in the way its repository name says. */
async function evilRegistry(): Promise<{ host: string; server: Server }> {
  const { layer: plain, config } = image();
  const special: Partial<Record<Case, Buffer>> = { bomb: bomb(), 'many-entries': manyEntries() };
  const layerOf = (c: Case) => special[c] ?? plain;
  const manifest = (c: Case) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: {
          mediaType: 'application/vnd.docker.container.image.v1+json',
          size: c === 'config-huge' ? 100 << 20 : config.length,
          digest: sha(config),
        },
        layers: [
          {
            mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
            size: LAYER_SIZES[c] ?? layerOf(c).length,
            // The wrong-digest case names a digest the blob does not have.
            digest: c === 'wrong-digest' ? sha(Buffer.from('something else')) : sha(layerOf(c)),
          },
        ],
      }),
    );
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/v2/') return res.writeHead(200).end('{}');
    const m = /^\/v2\/([a-z-]+)\/(manifests|blobs)\/(.+)$/.exec(url);
    const c = (m?.[1] ?? 'ok') as Case;
    if (m?.[2] === 'manifests') {
      if (c === 'huge-manifest') {
        res.writeHead(200, {
          'content-type': 'application/vnd.docker.distribution.manifest.v2+json',
        });
        const chunk = Buffer.alloc(1 << 20, 0x20);
        let sent = 0;
        const pump = () => {
          while (sent < 64 && res.write(chunk)) sent++;
          if (sent >= 64) res.end();
          else res.once('drain', pump);
        };
        res.on('error', () => undefined);
        return pump();
      }
      const body = manifest(c);
      return res
        .writeHead(200, {
          'content-type': 'application/vnd.docker.distribution.manifest.v2+json',
          'docker-content-digest': sha(body),
          'content-length': body.length,
        })
        .end(req.method === 'HEAD' ? undefined : body);
    }
    if (m?.[2] === 'blobs') {
      if (c === 'redirect-loop') return res.writeHead(302, { location: url }).end();
      const digest = m[3] ?? '';
      const layer = layerOf(c);
      const blob = digest === sha(config) ? config : c === 'size-lie' ? BIG : layer;
      if (c === 'truncated-blob' && blob === layer) {
        res.writeHead(200, { 'content-length': blob.length });
        res.write(blob.subarray(0, Math.floor(blob.length / 2)));
        return res.destroy();
      }
      return res.writeHead(200, { 'content-length': blob.length }).end(blob);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { host: `127.0.0.1:${port}`, server };
}

// Each way a registry can lie gets a clear error, and nothing half-imported is left in the store.
test(
  'a malicious registry: wrong digest, truncated blob, huge manifest, redirect loop, a bomb, too many entries, size lies',
  { timeout: 180_000 },
  async () => {
    const { host, server } = await evilRegistry();
    await using dir = await tempDataDir();
    const env = { IGNITE_DATA_DIR: dir.path };
    try {
      const expected: Record<Exclude<Case, 'ok'>, RegExp> = {
        'wrong-digest': /digest|sha256/i,
        'truncated-blob': /truncat|short|size|closed|terminated|socket|premature/i,
        'huge-manifest': /manifest.*(large|exceeds|bytes|limit)/i,
        'redirect-loop': /redirect/i,
        bomb: /layer sha256:[a-f0-9]{64}: entry "bomb": the image unpacks to more than 104857600 bytes/,
        'many-entries': /more than 1000 entries \(the import entry limit\)/,
        'size-lie': /blob sha256:[a-f0-9]{64} is larger than its manifest says \(100 bytes\)/,
        'size-negative': /layer 0 sha256:[a-f0-9]{64}: size -1 is not a whole number of bytes/,
        'size-fraction': /layer 0 sha256:[a-f0-9]{64}: size 1.5 is not a whole number of bytes/,
        'size-huge':
          /layer 0 sha256:[a-f0-9]{64}: size 1152921504606847000 is not a whole number of bytes/,
        'config-huge':
          /config sha256:[a-f0-9]{64} is 104857600 bytes; at most 4194304 are accepted/,
      };
      const limits = ['--import-max-size', '100MiB', '--import-max-entries', '1000'];
      for (const [c, message] of Object.entries(expected)) {
        const t0 = Date.now();
        const r = await ignite([...limits, 'image', 'import', `${host}/${c}:latest`], {
          env,
          timeoutMs: 60_000,
        });
        assert.notEqual(r.code, 0, `${c}: the import must fail`);
        assert.match(r.stderr, message, `${c}: ${r.stderr}`);
        assert.match(r.stderr, /^Error: /m, `${c}: a clean error, not a crash: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /\n\s+at /, `${c}: no stack trace`);
        // Stopped while the layer streams, not after unpacking gigabytes.
        assert.ok(Date.now() - t0 < 20_000, `${c}: took ${Date.now() - t0} ms`);
        // Kernel imports read the same registry through the same checks.
        const k = await ignite([...limits, 'kernel', 'import', `${host}/${c}:latest`], {
          env,
          timeoutMs: 60_000,
        });
        assert.notEqual(k.code, 0, `${c}: the kernel import must fail`);
        assert.match(k.stderr, KERNEL_EXPECTED[c as Case] ?? message, `${c} (kernel): ${k.stderr}`);
        const kernels = await ignite(['kernel', 'ls', '-o', 'json'], { env });
        assert.deepEqual(JSON.parse(kernels.stdout), [], `${c}: no kernel imported`);
        const list = await ignite(['image', 'ls', '-o', 'json'], { env });
        assert.equal(list.code, 0, list.stderr);
        assert.deepEqual(JSON.parse(list.stdout), [], `${c}: nothing imported`);
        assert.deepEqual(
          await readdir(join(dir.path, 'image')).catch(() => []),
          [],
          `${c}: no image dir`,
        );
        assert.deepEqual(
          await readdir(join(dir.path, '.staging')).catch(() => []),
          [],
          `${c}: no staging left`,
        );
      }
      // The same registry serving an honest image works, so the failures above are the lies.
      const ok = await ignite(['image', 'import', `${host}/ok:latest`], { env, timeoutMs: 60_000 });
      assert.equal(ok.code, 0, ok.stderr);
    } finally {
      server.close();
    }
  },
);
