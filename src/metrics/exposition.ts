import { invalidArgument } from '../errors.js';

/**
 * The Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): enough of a parser and printer
 * to combine the expositions of several processes into one.
 */

export const METRIC_TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

/** One sample line: `name{labels} value [timestamp]`. */
export interface ExpositionSample {
  /** The sample's own name, which for histograms and summaries may carry a suffix (`_bucket`). */
  name: string;
  /** Label pairs in the order they were written. */
  labels: [string, string][];
  value: number;
  /** Milliseconds since the epoch, when the exposition gave one. */
  timestampMs?: number;
}

/** A metric family: the samples under one `# HELP` / `# TYPE` header. */
export interface MetricFamily {
  name: string;
  help?: string;
  type: MetricType;
  samples: ExpositionSample[];
}

const METRIC_NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)$/i;
const INTEGER = /^-?\d+$/;

/** Suffixes of the extra series a histogram or summary writes beside its family name. */
const SUFFIXES: Partial<Record<MetricType, readonly string[]>> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

/** Parses an exposition; throws InvalidArgument naming the line of the first problem. */
export function parseExposition(text: string): MetricFamily[] {
  const families = new Map<string, MetricFamily>();
  // Families that had a TYPE line: a second one, or one after samples, is an error.
  const typed = new Set<string>();
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    try {
      if (line.startsWith('#')) parseComment(line, families, typed);
      else addSample(parseSample(line), families);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw invalidArgument(`exposition line ${index + 1}: ${message}`, { cause: err });
    }
  }
  return [...families.values()];
}

function parseComment(line: string, families: Map<string, MetricFamily>, typed: Set<string>): void {
  const match = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
  // Any other comment is free text.
  if (!match) return;
  const [, keyword, name = '', rest = ''] = match;
  if (!isMetricName(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
  const family = families.get(name) ?? { name, type: 'untyped', samples: [] };
  families.set(name, family);
  if (keyword === 'HELP') {
    if (family.help !== undefined) throw new Error(`second HELP line for ${name}`);
    family.help = unescapeHelp(rest);
    return;
  }
  const type = rest.trim();
  if (!isMetricType(type)) throw new Error(`unknown type ${JSON.stringify(type)} for ${name}`);
  if (family.samples.length > 0 || typed.has(name)) {
    throw new Error(`TYPE line for ${name} after its samples or a second time`);
  }
  family.type = type;
  typed.add(name);
}

function addSample(sample: ExpositionSample, families: Map<string, MetricFamily>): void {
  const family = familyOf(sample.name, families);
  if (family) family.samples.push(sample);
  else families.set(sample.name, { name: sample.name, type: 'untyped', samples: [sample] });
}

function familyOf(name: string, families: Map<string, MetricFamily>): MetricFamily | undefined {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = families.get(name.slice(0, -suffix.length));
    if (base && SUFFIXES[base.type]?.includes(suffix)) return base;
  }
  return families.get(name);
}

function parseSample(line: string): ExpositionSample {
  let pos = 0;
  // Sticky regexps carry their position, so each parse makes its own.
  const metricName = new RegExp(METRIC_NAME, 'y');
  const labelName = new RegExp(LABEL_NAME, 'y');
  const token = (re: RegExp): string | undefined => {
    re.lastIndex = pos;
    const m = re.exec(line);
    if (!m) return undefined;
    pos = re.lastIndex;
    return m[0];
  };
  const skipBlanks = (): void => {
    while (line[pos] === ' ' || line[pos] === '\t') pos++;
  };
  const name = token(metricName);
  if (name === undefined) throw new Error('expected a metric name');
  const labels: [string, string][] = [];
  skipBlanks();
  if (line[pos] === '{') {
    pos++;
    for (;;) {
      skipBlanks();
      if (line[pos] === '}') break;
      const label = token(labelName);
      if (label === undefined) throw new Error(`${name}: expected a label name`);
      if (labels.some(([l]) => l === label)) throw new Error(`${name}: label ${label} repeated`);
      skipBlanks();
      if (line[pos++] !== '=') throw new Error(`${name}: expected "=" after label ${label}`);
      skipBlanks();
      if (line[pos++] !== '"') throw new Error(`${name}: expected '"' to open label ${label}`);
      const [value, end] = readLabelValue(line, pos);
      labels.push([label, value]);
      pos = end;
      skipBlanks();
      if (line[pos] === ',') pos++;
      else if (line[pos] !== '}') throw new Error(`${name}: expected "," or "}"`);
    }
    pos++;
  }
  const [value, timestamp, ...extra] = line
    .slice(pos)
    .trim()
    .split(/[ \t]+/);
  if (value === undefined || !FLOAT.test(value)) {
    throw new Error(`${name}: invalid value ${JSON.stringify(value ?? '')}`);
  }
  if (extra.length > 0 || (timestamp !== undefined && !INTEGER.test(timestamp))) {
    throw new Error(`${name}: unexpected text after the value`);
  }
  const sample: ExpositionSample = { name, labels, value: parseFloatToken(value) };
  if (timestamp !== undefined) sample.timestampMs = Number(timestamp);
  return sample;
}

function readLabelValue(line: string, start: number): [string, number] {
  let out = '';
  for (let i = start; i < line.length; i++) {
    const c = line[i];
    if (c === '"') return [out, i + 1];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = line[++i];
    if (next === '\\' || next === '"') out += next;
    else if (next === 'n') out += '\n';
    else throw new Error(`invalid escape "\\${next ?? ''}" in a label value`);
  }
  throw new Error('unterminated label value');
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`invalid escape "\\${c}" in HELP`);
  });
}

function parseFloatToken(token: string): number {
  const lower = token.toLowerCase();
  if (lower.endsWith('nan')) return NaN;
  if (lower.includes('inf')) return lower.startsWith('-') ? -Infinity : Infinity;
  return Number(token);
}

function isMetricName(name: string): boolean {
  return new RegExp(`^${METRIC_NAME}$`).test(name);
}

function isMetricType(type: string): type is MetricType {
  return (METRIC_TYPES as readonly string[]).includes(type);
}

/** Prints families in the text format, each under one HELP and TYPE header. */
export function formatExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (family.help !== undefined) {
      const help = family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
      lines.push(`# HELP ${family.name} ${help}`);
    }
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const s of family.samples) {
      const labels = s.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
      const ts = s.timestampMs === undefined ? '' : ` ${s.timestampMs}`;
      lines.push(`${s.name}${labels === '' ? '' : `{${labels}}`} ${formatValue(s.value)}${ts}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
