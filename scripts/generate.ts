// Writes every generated artefact from its single source, so CI can check them for drift:
//   api/openapi.json         OpenAPI 3 of the API types (from the zod schemas)
//   docs/api/v1alpha1.md     the API reference (from the same schemas)
//   docs/cli/*.md            the CLI reference (from the command definitions)
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildOpenAPI, renderAPIReference } from './generate/openapi.js';
import { renderCLIReference } from './generate/cli-reference.js';

const root = join(import.meta.dirname, '..');

async function writeAll(dir: string, files: Map<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const old of await readdir(dir))
    if (old.endsWith('.md') && !files.has(old)) await rm(join(dir, old));
  for (const [name, text] of files) await writeFile(join(dir, name), text);
}

const openapi = buildOpenAPI();
await mkdir(join(root, 'api'), { recursive: true });
await writeFile(join(root, 'api/openapi.json'), `${JSON.stringify(openapi, null, 2)}\n`);
await writeAll(join(root, 'docs/api'), new Map([['v1alpha1.md', renderAPIReference(openapi)]]));
await writeAll(join(root, 'docs/cli'), renderCLIReference());
console.log('generated api/openapi.json, docs/api/, docs/cli/');
