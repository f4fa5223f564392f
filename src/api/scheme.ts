import type { z } from 'zod';
import { parseAllDocuments } from 'yaml';
import { invalidArgument, type FieldProblem } from '../errors.js';
import { API_VERSION, KINDS, type Kind } from './v1alpha1/types.js';
import { KIND_SCHEMAS, type APIObject, type KindMap } from './v1alpha1/kinds.js';
import {
  setImageDefaults,
  setKernelDefaults,
  setSnapshotDefaults,
  setHostDefaults,
  setVolumeDefaults,
  setNetworkDefaults,
  setVMDefaults,
  type VMDefaults,
  IGNITE_V04_DEFAULTS,
} from './v1alpha1/defaults.js';

/**
 * The scheme ties kinds to their schemas: it decodes manifests (YAML or JSON; JSON is read as
 * YAML, as Ignite's decoder did, so a trailing comma is fine), validates them strictly, and applies
 * defaults. Every problem is reported with its field path.
 */
export interface DecodeOptions {
  /** Where the text came from, used in error messages (`vm.yaml`). */
  source?: string;
  /** Apply defaults after validation (default true). */
  defaults?: boolean;
  vmDefaults?: Readonly<VMDefaults>;
}

export function isKind(s: string): s is Kind {
  return (KINDS as readonly string[]).includes(s);
}

/** Looks a kind up case-insensitively (`vm`, `VMs`, `image`), as Ignite's CLI did. */
export function parseKind(s: string): Kind | undefined {
  const lower = s.toLowerCase().replace(/s$/, '');
  return KINDS.find((k) => k.toLowerCase() === lower);
}

/** The lower-case kind names storage directories after (`vm`, `image`, `kernel`, `snapshot`). */
export function kindDir(kind: Kind): string {
  return kind.toLowerCase();
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out === '' ? '.' : out;
}

/** Turns zod issues into one FieldProblem per problem, unknown fields named one by one. */
export function zodProblems(error: z.ZodError): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({
          path: formatPath([...issue.path, key]),
          message: `unknown field "${key}"`,
        });
      }
    } else if (issue.code === 'invalid_union') {
      problems.push({ path: formatPath(issue.path), message: unionMessage(issue) });
    } else {
      problems.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return problems;
}

function unionMessage(issue: z.core.$ZodIssueInvalidUnion): string {
  const inner = issue.errors.flat().find((i) => i.code === 'custom');
  return inner?.message ?? issue.message;
}

function problemError(what: string, problems: FieldProblem[]): Error {
  const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n');
  return invalidArgument(
    `${what}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${lines}`,
    {
      problems,
    },
  );
}

/** Validates a plain object as an API object of any kind, then defaults it. */
export function fromPlain(value: unknown, options: DecodeOptions = {}): APIObject {
  const what = options.source === undefined ? 'manifest' : `manifest ${options.source}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw problemError(what, [
      { path: '.', message: 'expected an object with apiVersion, kind, metadata and spec' },
    ]);
  }
  const rec = value as Record<string, unknown>;
  const head: FieldProblem[] = [];
  if (rec['apiVersion'] !== API_VERSION) {
    head.push({
      path: '.apiVersion',
      message: `expected "${API_VERSION}", got ${JSON.stringify(rec['apiVersion'] ?? null)}`,
    });
  }
  const kind = rec['kind'];
  if (typeof kind !== 'string' || !isKind(kind)) {
    head.push({
      path: '.kind',
      message: `expected one of ${KINDS.join(', ')}, got ${JSON.stringify(kind ?? null)}`,
    });
    throw problemError(what, head);
  }
  const result = KIND_SCHEMAS[kind].safeParse(value);
  const problems = [...head, ...(result.success ? [] : zodProblems(result.error))];
  if (problems.length > 0 || !result.success) throw problemError(what, problems);
  return options.defaults === false ? result.data : applyDefaults(result.data, options.vmDefaults);
}

/** Validates a plain object as the given kind. */
export function fromPlainAs<K extends Kind>(
  kind: K,
  value: unknown,
  options: DecodeOptions = {},
): KindMap[K] {
  // Another kind is named as such, not by the fields its schema would find wrong.
  const given = (value as { kind?: unknown } | null)?.kind;
  if (typeof given === 'string' && given !== kind) {
    const what = options.source === undefined ? 'manifest' : `manifest ${options.source}`;
    throw problemError(what, [
      { path: '.kind', message: `expected ${kind}, got ${JSON.stringify(given)}` },
    ]);
  }
  return fromPlain(value, options) as KindMap[K];
}

export function applyDefaults(
  obj: APIObject,
  vmDefaults: Readonly<VMDefaults> = IGNITE_V04_DEFAULTS,
): APIObject {
  switch (obj.kind) {
    case 'VM':
      return setVMDefaults(obj, vmDefaults);
    case 'Image':
      return setImageDefaults(obj);
    case 'Kernel':
      return setKernelDefaults(obj);
    case 'Snapshot':
      return setSnapshotDefaults(obj);
    case 'Host':
      return setHostDefaults(obj);
    case 'Volume':
      return setVolumeDefaults(obj);
    case 'Network':
      return setNetworkDefaults(obj);
  }
}

/** Parses YAML or JSON text into plain documents; syntax errors name the line. */
export function parseDocuments(text: string, source?: string): unknown[] {
  const what = source === undefined ? 'manifest' : `manifest ${source}`;
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: unknown[] = [];
  for (const doc of list) {
    const err = doc.errors[0];
    if (err) {
      const line = err.linePos?.[0];
      const where = line ? `line ${line.line}, column ${line.col}` : 'syntax';
      throw problemError(what, [
        {
          path: '.',
          message: `${where}: ${(err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
        },
      ]);
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // An alias without its anchor, or too many aliases (a "billion laughs" document).
      throw problemError(what, [
        { path: '.', message: (err as Error).message.split('\n')[0] ?? 'invalid' },
      ]);
    }
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** Decodes the one object in a manifest. */
export function decode(text: string, options: DecodeOptions = {}): APIObject {
  const docs = parseDocuments(text, options.source);
  if (docs.length !== 1) {
    const what = options.source === undefined ? 'manifest' : `manifest ${options.source}`;
    throw problemError(what, [{ path: '.', message: `expected one object, found ${docs.length}` }]);
  }
  return fromPlain(docs[0], options);
}

/** Decodes every object in a (possibly multi-document) manifest. */
export function decodeAll(text: string, options: DecodeOptions = {}): APIObject[] {
  return parseDocuments(text, options.source).map((d) => fromPlain(d, options));
}

/** The wire form of an object: plain JSON values in schema order, re-validated. */
export function toPlain(obj: APIObject): Record<string, unknown> {
  const plain: unknown = JSON.parse(JSON.stringify(obj));
  const parsed = KIND_SCHEMAS[obj.kind].safeParse(plain);
  if (!parsed.success)
    throw problemError(
      `${obj.kind.toLowerCase()} "${obj.metadata.name ?? ''}"`,
      zodProblems(parsed.error),
    );
  return JSON.parse(JSON.stringify(parsed.data)) as Record<string, unknown>;
}
