import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../../helpers/cli.js';
import { tempDataDir } from '../../helpers/data-dir.js';
import { pushCraftedImage, type LayerEntry } from '../../helpers/push-image.js';
import { startRegistry } from '../../helpers/registry.js';

const FAKE_ELF = Buffer.concat([
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]),
  Buffer.alloc(200),
  Buffer.from('Linux version 6.1.0-crafted (build@host) #1 SMP\0'),
]);

/** gzip of `mib` MiB of zeros, made as a stream: about 1 KiB per MiB. */
async function gzipOfZeros(mib: number): Promise<Buffer> {
  const zero = Buffer.alloc(1 << 20);
  const chunks: Buffer[] = [];
  const gz = Readable.from(
    (function* () {
      for (let i = 0; i < mib; i++) yield zero;
    })(),
  ).pipe(createGzip({ level: 9 }));
  for await (const c of gz) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const boot: LayerEntry = [{ name: 'boot', type: 'directory', mode: 0o755 }];

// Kernel images that put something other than a regular file where the kernel belongs, or
// point it at a host file, or inflate without end: each is refused with a clear error, nothing
// on the host is read or changed, and nothing is left behind.
test(
  'kernel import refuses FIFO, device, directory and outside-symlink kernels, and a bzImage bomb',
  { timeout: 300_000 },
  async () => {
    await using reg = await startRegistry();
    const shadowBefore = createHash('sha256')
      .update(await readFile('/etc/shadow'))
      .digest('hex');
    const bomb = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(0x200), await gzipOfZeros(600)]);
    const cases: Record<string, { layers: LayerEntry[][]; error: RegExp }> = {
      fifo: {
        layers: [[boot, [{ name: 'boot/vmlinux', type: 'fifo', mode: 0o644 }]]],
        error: /\/boot\/vmlinux is a FIFO, not a regular file/,
      },
      chardev: {
        layers: [
          [boot, [{ name: 'boot/vmlinux', type: 'character-device', devmajor: 1, devminor: 3 }]],
        ],
        error: /\/boot\/vmlinux is a character device, not a regular file/,
      },
      directory: {
        layers: [[boot, [{ name: 'boot/vmlinux', type: 'directory' }]]],
        error: /\/boot\/vmlinux is a directory, not a regular file/,
      },
      'fifo-behind-link': {
        layers: [
          [[{ name: 'data/k', type: 'fifo' }], boot],
          [[{ name: 'boot/vmlinuz-6.1', type: 'symlink', linkname: '../data/k' }]],
        ],
        error: /\/boot\/vmlinuz-6.1 is a FIFO, not a regular file/,
      },
      'link-outside': {
        layers: [[boot, [{ name: 'boot/vmlinux', type: 'symlink', linkname: '/etc/shadow' }]]],
        error: /\/boot\/vmlinux is a symlink to "\/etc\/shadow", which the image lacks/,
      },
      'whited-out': {
        layers: [
          [boot, [{ name: 'boot/vmlinux', size: FAKE_ELF.length }, FAKE_ELF]],
          [[{ name: 'boot/.wh.vmlinux' }, '']],
        ],
        error: /no \/boot\/vmlinux or \/boot\/vmlinuz in the image/,
      },
      bomb: {
        layers: [[boot, [{ name: 'boot/vmlinuz-6.1', size: bomb.length }, bomb]]],
        error: /: \/boot\/vmlinuz-6.1: its gzip payload inflates past 536870912 bytes/,
      },
    };
    await using dir = await tempDataDir();
    const env = { IGNITE_DATA_DIR: dir.path };
    for (const [name, c] of Object.entries(cases)) {
      await pushCraftedImage(reg.host, `hostile/${name}`, 'latest', c.layers);
      const r = await ignite(['kernel', 'import', `${reg.host}/hostile/${name}:latest`], {
        env,
        timeoutMs: 120_000,
      });
      assert.notEqual(r.code, 0, `${name}: the import must fail`);
      assert.match(r.stderr, /^Error: kernel ".*hostile\//m, `${name}: ${r.stderr}`);
      assert.match(r.stderr, c.error, `${name}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
      const list = await ignite(['kernel', 'ls', '-o', 'json'], { env });
      assert.deepEqual(JSON.parse(list.stdout), [], `${name}: nothing imported`);
      assert.deepEqual(await readdir(join(dir.path, 'kernel')).catch(() => []), [], name);
      assert.deepEqual(await readdir(join(dir.path, '.staging')).catch(() => []), [], name);
    }
    const shadowAfter = createHash('sha256')
      .update(await readFile('/etc/shadow'))
      .digest('hex');
    assert.equal(shadowAfter, shadowBefore, '/etc/shadow unchanged');

    // The same rules take an honest image: a symlinked kernel and initrd, a decoy whited out.
    const initrd = Buffer.from('07070100000000initrd');
    await pushCraftedImage(reg.host, 'hostile/ok', 'latest', [
      [
        boot,
        [{ name: 'boot/vmlinux-6.1.0', size: FAKE_ELF.length }, FAKE_ELF],
        [{ name: 'boot/vmlinux-0-decoy', size: 4 }, 'MZ..'],
        [{ name: 'initrd.img', type: 'symlink', linkname: 'boot/initrd.img-6.1.0' }],
      ],
      [
        [{ name: 'boot/vmlinux', type: 'symlink', linkname: '/boot/vmlinux-6.1.0' }],
        [{ name: 'boot/initrd.img-6.1.0', size: initrd.length }, initrd],
        [{ name: 'boot/.wh.vmlinux-0-decoy' }, ''],
      ],
    ]);
    const ok = await ignite(['kernel', 'import', `${reg.host}/hostile/ok:latest`], { env });
    assert.equal(ok.code, 0, ok.stderr);
    const [kernel] = JSON.parse((await ignite(['kernel', 'ls', '-o', 'json'], { env })).stdout) as {
      metadata: { uid: string };
      status: { version: string };
    }[];
    assert.equal(kernel?.status.version, '6.1.0-crafted');
    const kdir = join(dir.path, 'kernel', kernel?.metadata.uid ?? '');
    assert.deepEqual(await readFile(join(kdir, 'vmlinux')), FAKE_ELF);
    assert.deepEqual(await readFile(join(kdir, 'initrd')), initrd);
    assert.ok((await stat(join(kdir, 'vmlinux'))).isFile());
    assert.deepEqual(await readdir(join(dir.path, '.staging')).catch(() => []), []);
  },
);
