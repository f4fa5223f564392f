import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';

const pexec = promisify(execFile);
const LOADER = join(import.meta.dirname, '../../bin/load-bundle.cjs');

/**
 * Runs the bundle `file` with `args` through bin/load-bundle.cjs, as the programs in bin/ do:
 * what it printed, and what the loader says of its code cache.
 */
export async function loadBundle(
  file: string,
  writeCache = false,
  args = ['arg1'],
): Promise<{ out: string; cacheUsed: boolean; trained: boolean }> {
  const { stdout, stderr } = await pexec(process.execPath, [
    '-e',
    `process.stderr.write('loader: ' + JSON.stringify(require(${JSON.stringify(LOADER)}).loadBundle(${JSON.stringify(file)}, { writeCache: ${writeCache} })) + '\\n')`,
    '--',
    file,
    ...args,
  ]);
  const m = /^loader: (.*)$/m.exec(stderr);
  assert.ok(m?.[1], `${file}: no loader result in: ${stderr}`);
  return { out: stdout, ...(JSON.parse(m[1]) as { cacheUsed: boolean; trained: boolean }) };
}
