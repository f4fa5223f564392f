import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { loadBundle } from '../../helpers/bundle-loader.js';

/** A bundle as scripts/bundle.mjs writes one: code, then its build ID. */
function bundle(code: string): string {
  return `${code}//# ignite-build=${createHash('sha256').update(code).digest('hex')}\n`;
}

test('the bundle loader uses the code cache of its own build and ignores any other', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-loader-'));
  try {
    const file = join(dir, 'b.cjs');
    // Same length, different behaviour: V8 itself checks a cache only against the length.
    const a = 'function f(){return "AAAA"}\nconsole.log(f(), process.argv[2], __filename);\n';
    const b = a.replace('AAAA', 'BBBB');
    await writeFile(file, bundle(a));
    assert.deepEqual(await loadBundle(file, true), {
      out: `AAAA arg1 ${file}\n`,
      cacheUsed: false,
      trained: false,
    });
    assert.ok((await readFile(`${file}.cache`)).length > 32, 'a cache was written');
    assert.deepEqual(await loadBundle(file), {
      out: `AAAA arg1 ${file}\n`,
      cacheUsed: true,
      trained: false,
    });

    await writeFile(file, bundle(b));
    assert.deepEqual(await loadBundle(file), {
      out: `BBBB arg1 ${file}\n`,
      cacheUsed: false,
      trained: false,
    });

    // A bundle without a build ID never takes a cache.
    await writeFile(file, a);
    assert.deepEqual(await loadBundle(file), {
      out: `AAAA arg1 ${file}\n`,
      cacheUsed: false,
      trained: false,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a process that did its work leaves a trained cache, which the next ones take and keep', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-loader-'));
  try {
    const file = join(dir, 'b.cjs');
    const trained = `${file}.trained-cache`;
    // `train` offers training as a run does once its VM runs; `live` offers it and lives on.
    const code = [
      'function f(){return "AAAA"}',
      'const offer = globalThis[Symbol.for("ignite.trainCodeCache")];',
      'if (process.argv[2] === "train") offer?.();',
      'if (process.argv[2] === "live") { offer?.({ afterMs: 50 }); setTimeout(() => console.log(require("fs").existsSync(__filename + ".trained-cache")), 1000); }',
      'else console.log(f(), typeof offer);',
      '',
    ].join('\n');
    await writeFile(file, bundle(code));
    await loadBundle(file, true, ['x']);
    const tag = (await readFile(`${file}.cache`)).subarray(0, 32);
    assert.deepEqual(await loadBundle(file, false, ['x']), {
      out: 'AAAA function\n',
      cacheUsed: true,
      trained: false,
    });
    await assert.rejects(stat(trained), 'no work done, nothing trained');

    await loadBundle(file, false, ['train']);
    assert.deepEqual((await readFile(trained)).subarray(0, 32), tag, 'tagged as its build');
    const first = await stat(trained, { bigint: true });
    // Taken by the next process, which is offered no training: the cache stays as it was.
    assert.deepEqual(await loadBundle(file, false, ['x']), {
      out: 'AAAA undefined\n',
      cacheUsed: true,
      trained: true,
    });
    await loadBundle(file, false, ['train']);
    assert.equal((await stat(trained, { bigint: true })).mtimeNs, first.mtimeNs);

    // A process that lives on writes it the given time after the offer, not only at exit.
    await rm(trained);
    assert.equal((await loadBundle(file, false, ['live'])).out, 'true\n');

    // One that cannot write it (here a directory is in the way) leaves nothing and fails nothing.
    await rm(trained);
    await mkdir(trained);
    await loadBundle(file, false, ['train']);
    assert.deepEqual((await readdir(dir)).sort(), ['b.cjs', 'b.cjs.cache', 'b.cjs.trained-cache']);
    await rm(trained, { recursive: true });

    // Another build ignores this one's trained cache.
    await loadBundle(file, false, ['train']);
    await writeFile(file, bundle(code.replace('AAAA', 'BBBB')));
    assert.deepEqual(await loadBundle(file, false, ['x']), {
      out: 'BBBB function\n',
      cacheUsed: false,
      trained: false,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the built CLI and supervisor bundles start from their code caches', async () => {
  const dist = join(import.meta.dirname, '../../../dist');
  for (const name of ['ignite.cjs', 'ignite-spawn.cjs', 'ignited.cjs']) {
    // The loader reads a bundle as Latin-1: anything but ASCII would reach V8 garbled.
    const bytes = await readFile(join(dist, name));
    assert.equal(
      bytes.findIndex((b) => b > 0x7f),
      -1,
      `${name}: not ASCII`,
    );
    const r = await loadBundle(join(dist, name), false, ['--help']);
    assert.equal(r.cacheUsed, true, `${name}: its code cache was not used`);
    assert.match(r.out, /Usage: ignite/);
  }
});
