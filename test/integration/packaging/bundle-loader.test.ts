import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';

const pexec = promisify(execFile);
const LOADER = join(import.meta.dirname, '../../../bin/load-bundle.cjs');

/** A bundle as scripts/bundle.mjs writes one: code, then its build ID. */
function bundle(code: string): string {
  return `${code}//# ignite-build=${createHash('sha256').update(code).digest('hex')}\n`;
}

async function load(
  file: string,
  writeCache = false,
  args = ['arg1'],
): Promise<{ out: string; cacheUsed: boolean }> {
  const { stdout, stderr } = await pexec(process.execPath, [
    '-e',
    `process.stderr.write('loader: ' + JSON.stringify(require(${JSON.stringify(LOADER)}).loadBundle(${JSON.stringify(file)}, { writeCache: ${writeCache} })) + '\\n')`,
    '--',
    file,
    ...args,
  ]);
  const m = /^loader: (.*)$/m.exec(stderr);
  assert.ok(m?.[1], `${file}: no loader result in: ${stderr}`);
  return { out: stdout, ...(JSON.parse(m[1]) as { cacheUsed: boolean }) };
}

test('the bundle loader uses the code cache of its own build and ignores any other', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-loader-'));
  try {
    const file = join(dir, 'b.cjs');
    // Same length, different behaviour: V8 itself checks a cache only against the length.
    const a = 'function f(){return "AAAA"}\nconsole.log(f(), process.argv[2], __filename);\n';
    const b = a.replace('AAAA', 'BBBB');
    await writeFile(file, bundle(a));
    assert.deepEqual(await load(file, true), { out: `AAAA arg1 ${file}\n`, cacheUsed: false });
    assert.ok((await readFile(`${file}.cache`)).length > 32, 'a cache was written');
    assert.deepEqual(await load(file), { out: `AAAA arg1 ${file}\n`, cacheUsed: true });

    await writeFile(file, bundle(b));
    assert.deepEqual(await load(file), { out: `BBBB arg1 ${file}\n`, cacheUsed: false });

    // A bundle without a build ID never takes a cache.
    await writeFile(file, a);
    assert.deepEqual(await load(file), { out: `AAAA arg1 ${file}\n`, cacheUsed: false });
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
    const r = await load(join(dist, name), false, ['--help']);
    assert.equal(r.cacheUsed, true, `${name}: its code cache was not used`);
    assert.match(r.out, /Usage: ignite/);
  }
});
