// `npm run bench [name…]`: every figure, each a median, compared with a baseline taken in the same
// run where there is one. Prints a table and writes it, with the machine's details, to
// bench/results/<date>.md. Names: import, boot, kernels, create, ps, memory, density, gitops, api,
// snapshots, fleet, rootless.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { apiBench } from './api.js';
import { bootBench } from './boot.js';
import { createLatencyBench } from './create-latency.js';
import { densityBench } from './density.js';
import { fleetBench } from './fleet.js';
import { gitopsBench } from './gitops.js';
import { importBench } from './import.js';
import { kernelsBench } from './kernels.js';
import { memoryBench } from './memory.js';
import { psLatencyBench } from './ps-latency.js';
import { rootlessBench } from './rootless.js';
import { snapshotsBench } from './snapshots.js';

const pexec = promisify(execFile);
const only = process.argv.slice(2);
const benches: [string, () => Promise<{ rows: string[][] }>][] = [
  ['import', importBench],
  ['boot', bootBench],
  ['kernels', kernelsBench],
  ['create', createLatencyBench],
  ['ps', psLatencyBench],
  ['memory', memoryBench],
  ['gitops', gitopsBench],
  ['density', densityBench],
  ['api', apiBench],
  ['snapshots', snapshotsBench],
  ['fleet', fleetBench],
  ['rootless', rootlessBench],
];
const unknown = only.filter((o) => !benches.some(([n]) => n === o));
if (unknown.length > 0) {
  process.stderr.write(
    `bench: unknown ${unknown.join(', ')}; use ${benches.map(([n]) => n).join(', ')}\n`,
  );
  process.exit(2);
}
const rows: string[][] = [];
const started = performance.now();
for (const [name, fn] of benches) {
  if (only.length > 0 && !only.includes(name)) continue;
  const t0 = performance.now();
  process.stderr.write(`bench: ${name}…\n`);
  rows.push(...(await fn()).rows);
  process.stderr.write(`bench: ${name} took ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}
const total = (performance.now() - started) / 1000;

const qemu = await pexec('qemu-system-x86_64', ['--version']).then(
  (r) => r.stdout.split('\n')[0] ?? '',
  () => 'not found',
);
const machine = [
  `CPU: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  `memory: ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
  `kernel: Linux ${release()}`,
  `Node ${process.version}`,
  qemu,
  // The project's machines cannot run QEMU under KVM (nested KVM fails), so VMs boot under TCG.
  'accelerator: TCG (IGNITE_ACCEL=tcg)',
].join('; ');
const table = [
  '| Figure | Median | Note |',
  '|---|---|---|',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');
process.stdout.write(`${table}\n\nMachine: ${machine}\nTotal time: ${total.toFixed(0)} s\n`);
const date = new Date().toISOString().slice(0, 10);
await mkdir(join(import.meta.dirname, 'results'), { recursive: true });
await writeFile(
  // A run of some figures only gets its own file, so it never replaces a full run's.
  join(import.meta.dirname, 'results', `${date}${only.length > 0 ? `-${only.join('-')}` : ''}.md`),
  `# Benchmarks, ${date}\n\nMachine: ${machine}\n\nTotal time: ${total.toFixed(0)} s (\`npm run bench\`)\n\n${table}\n`,
);
