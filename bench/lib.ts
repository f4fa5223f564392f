import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

export const pexec = promisify(execFile);

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** Milliseconds since `t0` at which `file` first contains `text`. */
export async function waitInFile(
  file: string,
  text: string,
  t0: number,
  timeoutMs = 120_000,
): Promise<number> {
  for (;;) {
    const c = await readFile(file, 'utf8').catch(() => '');
    if (c.includes(text)) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`${file}: no "${text}" within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs a program and resolves with the ms until its stdout shows `text`; then kills it. */
export function timeToOutput(
  file: string,
  args: string[],
  text: string,
  timeoutMs = 120_000,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file}: no "${text}" within ${timeoutMs} ms: ${out.slice(-500)}`));
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(text)) {
        clearTimeout(timer);
        const ms = performance.now() - t0;
        child.kill('SIGKILL');
        child.once('exit', () => resolve(ms));
      }
    });
    child.on('error', reject);
  });
}

export function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
