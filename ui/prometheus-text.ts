/**
 * The value of each named metric in a Prometheus text exposition: the first sample of each name
 * (labels are skipped, quoted values may hold any character). Names not wanted are not kept.
 */
export function sampleValues(text: string, wanted: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(line)?.[0];
    if (name === undefined || !wanted.includes(name) || out.has(name)) continue;
    const rest = skipLabels(line, name.length);
    if (rest === undefined) continue;
    const value = parseValue(rest.trim().split(/\s+/)[0] ?? '');
    if (value !== undefined) out.set(name, value);
  }
  return out;
}

/** The text after `{…}` starting at `at` (or after nothing, when no labels follow). */
function skipLabels(line: string, at: number): string | undefined {
  if (line[at] !== '{') return line.slice(at);
  let quoted = false;
  for (let i = at + 1; i < line.length; i++) {
    const c = line[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === '}') return line.slice(i + 1);
  }
  return undefined;
}

function parseValue(v: string): number | undefined {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (v === 'NaN') return NaN;
  if (v === '' || !/^[-+]?[0-9.eE+-]+$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isNaN(n) ? undefined : n;
}

/** The per-VM series the list shows (src/metrics/vm-metrics.ts). */
export const CPU_SECONDS = 'ignite_vm_hypervisor_cpu_seconds_total';
export const RESIDENT_BYTES = 'ignite_vm_hypervisor_resident_memory_bytes';

/** A VM's usage as shown: CPU as a share of one core since the last sample, memory in bytes. */
export interface VMUsage {
  cpuPercent?: number;
  memoryBytes?: number;
}

/** One scrape of a VM: its CPU seconds so far, and when they were read (ms). */
export interface CPUSample {
  seconds: number;
  atMs: number;
}

/**
 * The usage of a VM from its exposition and its previous CPU sample; CPU needs two samples, so
 * the first scrape gives memory only. Returns the sample to keep for the next call.
 */
export function usageFrom(
  text: string,
  nowMs: number,
  previous: CPUSample | undefined,
): { usage: VMUsage; sample: CPUSample | undefined } {
  const values = sampleValues(text, [CPU_SECONDS, RESIDENT_BYTES]);
  const usage: VMUsage = {};
  const memory = values.get(RESIDENT_BYTES);
  if (memory !== undefined && Number.isFinite(memory)) usage.memoryBytes = memory;
  const seconds = values.get(CPU_SECONDS);
  if (seconds === undefined || !Number.isFinite(seconds)) return { usage, sample: undefined };
  const sample = { seconds, atMs: nowMs };
  if (previous !== undefined && nowMs > previous.atMs && seconds >= previous.seconds)
    usage.cpuPercent = ((seconds - previous.seconds) / ((nowMs - previous.atMs) / 1000)) * 100;
  return { usage, sample };
}
