import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { tarOf } from '../../test/helpers/layer-tar.js';
import { AppError } from '../errors.js';
import { localSourceDir, readLocalImage } from './local-source.js';

const digest = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A docker save archive of one image with one layer, as a tar. */
function dockerSave(): Buffer {
  const layer = tarOf([{ name: 'etc/hostname', body: 'vm\n' }]);
  const config = JSON.stringify({ rootfs: { type: 'layers', diff_ids: [digest(layer)] } });
  const manifest = JSON.stringify([
    { Config: 'config.json', RepoTags: ['example.com/linked:v1'], Layers: ['layer.tar'] },
  ]);
  return tarOf([
    { name: 'manifest.json', body: manifest },
    { name: 'config.json', body: config },
    { name: 'layer.tar', body: layer },
  ]);
}

async function workDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), 'ignite-local-source-'));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

test('localSourceDir: an archive named through a symlink is unpacked as the archive it points to', async () => {
  await using work = await workDir();
  const archive = join(work.path, 'saved.tar');
  await writeFile(archive, dockerSave());
  const link = join(work.path, 'link.tar');
  await symlink(archive, link);
  const label = `image archive "${link}"`;
  const dir = await localSourceDir(link, join(work.path, 'unpacked'), label);
  assert.equal(dir, join(work.path, 'unpacked'));
  const image = await readLocalImage(dir, label);
  assert.equal(image.name, 'example.com/linked:v1');
  assert.equal(image.layers.length, 1);
});

test('localSourceDir: a directory, or a symlink to one, is read in place', async () => {
  await using work = await workDir();
  const layout = join(work.path, 'layout');
  await mkdir(layout);
  const link = join(work.path, 'layout-link');
  await symlink(layout, link);
  assert.equal(await localSourceDir(layout, join(work.path, 'a'), 'x'), layout);
  assert.equal(await localSourceDir(link, join(work.path, 'b'), 'x'), link);
});

test('localSourceDir refuses a FIFO (without opening it) and a dangling symlink', async () => {
  await using work = await workDir();
  const fifo = join(work.path, 'fifo');
  await promisify(execFile)('mkfifo', [fifo]);
  const toFifo = join(work.path, 'fifo.tar');
  await symlink(fifo, toFifo);
  await assert.rejects(
    localSourceDir(toFifo, join(work.path, 'a'), 'image archive "fifo.tar"'),
    (err: unknown) =>
      AppError.is(err, 'InvalidArgument') &&
      /^image archive "fifo.tar": not a regular file or a directory/.test(err.message),
  );
  const dangling = join(work.path, 'gone.tar');
  await symlink(join(work.path, 'missing.tar'), dangling);
  await assert.rejects(
    localSourceDir(dangling, join(work.path, 'b'), 'image archive "gone.tar"'),
    (err: unknown) => AppError.is(err, 'NotFound'),
  );
});

test('inside an archive unpacked through a symlink, a symlinked manifest is still refused', async () => {
  await using work = await workDir();
  const secret = join(work.path, 'secret');
  await writeFile(secret, '[]');
  const archive = join(work.path, 'evil.tar');
  await writeFile(archive, tarOf([{ name: 'manifest.json', type: 'symlink', linkname: secret }]));
  const link = join(work.path, 'evil-link.tar');
  await symlink(archive, link);
  const dir = await localSourceDir(link, join(work.path, 'unpacked'), 'a');
  await assert.rejects(readLocalImage(dir, 'a'), /manifest.json is a symlink/);
});
