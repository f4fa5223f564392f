import { stringify } from 'yaml';
import { toPlain, type APIObject } from '../../api/index.js';
import { invalidArgument } from '../../errors.js';
import { renderTemplate } from './template.js';

export type OutputFormat = 'json' | 'yaml' | { template: string };

/** Reads `-o json|yaml|'{{…}}'` (and `table` where a table is the default). */
export function parseOutput(
  value: string | undefined,
  allowed: readonly string[],
  fallback: string,
): OutputFormat | 'table' | 'short' {
  const v = value ?? fallback;
  if (v.includes('{{')) return { template: v };
  if (!allowed.includes(v)) {
    throw invalidArgument(
      `-o ${v}: unknown output format (use ${allowed.join(', ')} or a {{template}})`,
    );
  }
  return v as 'json' | 'yaml' | 'table' | 'short';
}

/** Prints data as pretty JSON, YAML, or through a template; always ends with a newline. */
export function formatData(data: unknown, format: OutputFormat): string {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  if (format === 'yaml') return stringify(data, { lineWidth: 0 });
  const out = renderTemplate(format.template, data);
  return out.endsWith('\n') ? out : `${out}\n`;
}

/**
 * Prints a stored object: JSON and YAML in its stored form, a template over the object itself, so
 * that sizes print in Ignite's human form (`1024.0 MB`) there.
 */
export function formatObject(obj: APIObject, format: OutputFormat): string {
  if (typeof format !== 'object') return formatData(toPlain(obj), format);
  const out = renderTemplate(format.template, obj);
  return out.endsWith('\n') ? out : `${out}\n`;
}

/** Left-aligned columns separated by at least three spaces, as Ignite's tables were. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  // Loops rather than spreads and joins: `ps` prints a table of thousands of VMs.
  const widths = header.map((h) => h.length);
  for (const r of rows)
    for (let i = 0; i < widths.length; i++) {
      const n = (r[i] ?? '').length;
      if (n > (widths[i] ?? 0)) widths[i] = n;
    }
  const line = (cells: readonly string[]) => {
    // Empty cells at the end would only be padding, which the line does not end with.
    let end = cells.length - 1;
    while (end > 0 && (cells[end] ?? '') === '') end--;
    let out = '';
    for (let i = 0; i < end; i++) out += (cells[i] ?? '').padEnd((widths[i] ?? 0) + 3);
    out += cells[end] ?? '';
    return /\s$/.test(out) ? `${out.trimEnd()}\n` : `${out}\n`;
  };
  let out = line(header);
  for (const r of rows) out += line(r);
  return out;
}

/** `3 minutes ago`, as Docker and Ignite print ages. */
export function ago(from: Date, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - from.getTime()) / 1000));
  if (s < 1) return 'Less than a second ago';
  return `${humanDuration(s)} ago`;
}

/** `42 seconds`, `About a minute`, `3 hours`, `2 days`, after Docker's HumanDuration. */
export function humanDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return s === 1 ? '1 second' : `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  const d = Math.round(h / 24);
  if (d < 14) return `${d} days`;
  if (d < 60) return `${Math.round(d / 7)} weeks`;
  if (d < 730) return `${Math.round(d / 30)} months`;
  return `${Math.round(d / 365)} years`;
}
