import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const ROOT = join(import.meta.dirname, '..');

// The architecture diagram is drawn by hand; this keeps it naming the code's real modules.
test('docs/architecture.dot names only modules that exist, and every top-level module', async () => {
  const source = await readFile(join(ROOT, 'docs/architecture.dot'), 'utf8');
  const named = new Set(source.match(/src\/[A-Za-z0-9_./-]*[A-Za-z0-9_/]/g) ?? []);
  assert.ok(named.size > 20, `only ${named.size} module paths in the diagram`);
  for (const path of named) assert.ok(existsSync(join(ROOT, path)), `${path} does not exist`);
  const modules = readdirSync(join(ROOT, 'src'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => `src/${e.name}/`);
  for (const m of modules)
    assert.ok(
      [...named].some((p) => p.startsWith(m)),
      `the diagram does not show ${m}`,
    );
});
