import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IGNITE_BIN, ignite } from '../helpers/cli.js';
import { IGNITED_BIN } from '../helpers/daemon.js';
import { vmTestEnv, type VMTestEnv } from '../helpers/vm-env.js';

const ROOT = join(import.meta.dirname, '../..');
const DOCS = join(ROOT, 'docs');
const QUICKSTART_REGISTRY = '127.0.0.1:5000';

interface Block {
  line: number;
  info: string;
  code: string;
  /** Lines the block's output must contain: the `text output` block right after it. */
  expect: string[];
}

/** The fenced blocks of a Markdown file, with the line each starts on. */
export function fencedBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(.*)$/.exec(lines[i] ?? '');
    if (!open) continue;
    const [, indent = '', fence = '```', info = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !(lines[j] ?? '').trim().startsWith(fence); j++)
      body.push((lines[j] ?? '').slice(indent.length));
    blocks.push({ line: i + 1, info: info.trim(), code: body.join('\n'), expect: [] });
    i = j;
  }
  // A `text output` block belongs to the block before it.
  const out: Block[] = [];
  for (const b of blocks) {
    const prev = out[out.length - 1];
    if (b.info === 'text output' && prev)
      prev.expect.push(...b.code.split('\n').filter((l) => l.trim() !== ''));
    else out.push(b);
  }
  return out;
}

const isShell = (info: string) => /^(sh|bash|shell|console)\b/.test(info);

async function guides(): Promise<string[]> {
  return (await readdir(DOCS)).filter((f) => f.endsWith('.md')).map((f) => join(DOCS, f));
}

test('every shell example in the guides is marked runnable or norun', async () => {
  for (const file of await guides()) {
    for (const b of fencedBlocks(await readFile(file, 'utf8'))) {
      if (!isShell(b.info)) continue;
      assert.match(
        b.info,
        /\b(runnable|norun)\b/,
        `${file}:${b.line}: a shell block must say "runnable" or "norun"`,
      );
    }
  }
});

function runBash(
  code: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', code], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve({ code: c ?? 1, output });
    });
  });
}

// Runs every `sh runnable` block, file by file, in order, as a user would type them: `ignite` on
// the PATH, a fresh data dir per file, and the project's images in a local registry.
test('the runnable examples in the docs run and pass', { timeout: 1_800_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'the examples boot VMs with networks: run as root (CI does)');
  await using env = await vmTestEnv(['busybox', 'kernel', 'debian']);
  const bin = await mkdtemp(join(tmpdir(), 'ignite-docs-bin-'));
  await writeFile(
    join(bin, 'ignite'),
    `#!/bin/sh\nexec "${process.execPath}" "${IGNITE_BIN}" "$@"\n`,
  );
  await chmod(join(bin, 'ignite'), 0o755);
  await writeFile(
    join(bin, 'ignited'),
    `#!/bin/sh\nexec "${process.execPath}" "${IGNITED_BIN}" "$@"\n`,
  );
  await chmod(join(bin, 'ignited'), 0o755);
  try {
    // IGNITE_DOCS=metrics,usage runs only those guides (while writing them).
    const only = (process.env['IGNITE_DOCS'] ?? '').split(',').filter(Boolean);
    for (const file of await guides()) {
      if (only.length > 0 && !only.some((o) => file.endsWith(`/${o}.md`))) continue;
      const blocks = fencedBlocks(await readFile(file, 'utf8')).filter((b) =>
        /\brunnable\b/.test(b.info),
      );
      if (blocks.length === 0) continue;
      await t.test(file.slice(ROOT.length + 1), async () => runFile(env, bin, file, blocks));
    }
  } finally {
    await rm(bin, { recursive: true, force: true });
  }
});

async function runFile(v: VMTestEnv, bin: string, file: string, blocks: Block[]): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'ignite-docs-'));
  const dataDir = join(work, 'data');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...v.env,
    PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
    IGNITE_DATA_DIR: dataDir,
    IGNITE_KERNEL_IMAGE: `${v.registry}/ignite-kernel:6.1`,
  };
  const local = (s: string) => s.replaceAll(QUICKSTART_REGISTRY, v.registry);
  try {
    for (const b of blocks) {
      const r = await runBash(local(b.code), work, env);
      assert.equal(
        r.code,
        0,
        `${file}:${b.line}: exit ${r.code}\n${b.code}\n--- output ---\n${r.output}`,
      );
      for (const want of b.expect.map(local))
        assert.ok(
          r.output.includes(want),
          `${file}:${b.line}: output lacks "${want}"\n--- output ---\n${r.output}`,
        );
    }
  } finally {
    // Whatever a failed example left running: the daemon a guide started (its pid is in
    // ignited.pid), then VMs.
    const daemonPid = Number(await readFile(join(work, 'ignited.pid'), 'utf8').catch(() => ''));
    const cmdline = await readFile(`/proc/${daemonPid}/cmdline`, 'utf8').catch(() => '');
    if (daemonPid > 0 && cmdline.includes(IGNITED_BIN)) process.kill(daemonPid, 'SIGKILL');
    const left = await ignite(['ps', '-a', '-q'], { dataDir });
    const ids = left.stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await ignite(['rm', '-f', ...ids], { dataDir });
    await rm(work, { recursive: true, force: true });
  }
}
