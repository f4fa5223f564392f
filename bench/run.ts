// `npm run bench`: every figure, each a median, compared with a baseline taken in the same run.
// Prints a table and writes it, with the machine's details, to bench/results/<date>.md.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { bootBench } from './boot.js';
import { importBench } from './import.js';

const only = process.argv.slice(2);
const benches: [string, () => Promise<{ rows: string[][] }>][] = [
  ['import', importBench],
  ['boot', bootBench],
];
const rows: string[][] = [];
for (const [name, fn] of benches) {
  if (only.length > 0 && !only.includes(name)) continue;
  process.stderr.write(`bench: ${name}…\n`);
  rows.push(...(await fn()).rows);
}
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
const table = [
  '| Figure | Median | Note |',
  '|---|---|---|',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');
process.stdout.write(`${table}\n\nMachine: ${machine}\n`);
const date = new Date().toISOString().slice(0, 10);
await mkdir(join(import.meta.dirname, 'results'), { recursive: true });
await writeFile(
  join(import.meta.dirname, 'results', `${date}.md`),
  `# Benchmarks, ${date}\n\nMachine: ${machine}\n\n${table}\n`,
);
