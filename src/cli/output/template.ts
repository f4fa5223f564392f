import { Size } from '../../api/index.js';
import { invalidArgument } from '../../errors.js';

/**
 * A small subset of Go's text/template, enough for Ignite's `-o '{{.Spec.CPUs}}'` style:
 * field paths (matched case-insensitively against the JSON keys, with `.Name`, `.UID`, `.Labels`…
 * also found under metadata, as Go's embedded ObjectMeta allowed) and `{{json .X}}`.
 * A size prints as Ignite's templates printed its Size type, `1024.0 MB`, and as its wire form
 * (`1GB`) under `json`.
 */
export function renderTemplate(template: string, data: unknown): string {
  return template.replace(
    /\{\{\s*(json\s+)?([^}]*?)\s*\}\}/g,
    (_m, json: string | undefined, expr: string) => {
      const value = lookup(data, expr.trim());
      if (json) return JSON.stringify(value ?? null);
      return goString(value);
    },
  );
}

function lookup(data: unknown, expr: string): unknown {
  if (expr === '.') return data;
  if (!expr.startsWith('.'))
    throw invalidArgument(`template: unsupported expression "${expr}"`, {
      hint: 'use field paths such as {{.Spec.CPUs}}',
    });
  const parts = expr.slice(1).split('.');
  let cur: unknown = data;
  for (const [i, part] of parts.entries()) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const rec = cur as Record<string, unknown>;
    let key = findKey(rec, part);
    if (key === undefined && i === 0) {
      // Go's embedded ObjectMeta: `.Name` is `.metadata.name`; `.ObjectMeta.Name` too.
      if (part.toLowerCase() === 'objectmeta') {
        cur = rec['metadata'];
        continue;
      }
      const meta = rec['metadata'];
      if (meta && typeof meta === 'object') {
        key = findKey(meta as Record<string, unknown>, part);
        if (key !== undefined) {
          cur = (meta as Record<string, unknown>)[key];
          continue;
        }
      }
    }
    if (key === undefined) return undefined;
    cur = rec[key];
  }
  return cur;
}

function findKey(rec: Record<string, unknown>, part: string): string | undefined {
  const lower = part.toLowerCase();
  return Object.keys(rec).find((k) => k.toLowerCase() === lower);
}

/** Prints values as Go's fmt does for templates: `[a b]` for lists, `map[k:v]` for maps. */
function goString(v: unknown): string {
  if (v === undefined || v === null) return '<no value>';
  if (v instanceof Size) return v.toHuman();
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, val]) => val !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `map[${entries.map(([k, val]) => `${k}:${goString(val)}`).join(' ')}]`;
  }
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}
