import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssertionError } from 'node:assert';
import { Ajv, type ValidateFunction } from 'ajv';

const SPEC = join(import.meta.dirname, '../../api/openapi.json');

type Schema = Record<string, unknown>;
interface Operation {
  parameters?: Schema[];
  responses: Record<string, Schema>;
}
interface Document {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, Schema>; responses: Record<string, Schema> };
}

/** What a client saw: enough of the exchange to check it against the spec. */
export interface Exchange {
  method: string;
  /** The request's path and query, as sent (`/apis/…/vms?labelSelector=a=b`). */
  url: string;
  status: number;
  /** The response's `content-type` header, if any. */
  contentType: string | undefined;
  /** The whole body (a stream's lines, joined), or undefined when it was not read. */
  body?: string;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/**
 * Checks HTTP exchanges against api/openapi.json: the method and path are an operation of the
 * spec, every query parameter is declared, the status is one the operation answers, the content
 * type is one that status has, and the body (JSON, or every line of `application/x-ndjson`)
 * validates against its schema. A path of the spec asked with a method it lacks may only be a
 * 405 problem. `problems` lists what is wrong; `check` throws an AssertionError naming it all.
 */
export class OpenAPIContract {
  private readonly ajv: Ajv;
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly routes: { template: string; pattern: RegExp; item: Record<string, unknown> }[];
  /** How many exchanges were checked, so a test can show it checked some. */
  checked = 0;

  constructor(private readonly doc: Document = loadSpec()) {
    this.ajv = new Ajv({ strict: false, allErrors: true });
    this.ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);
    this.ajv.addFormat('binary', true);
    // zod names a prefix check as a format beside the pattern that does the check.
    this.ajv.addFormat('starts_with', true);
    this.ajv.addSchema({ components: toDraft7(doc.components) }, 'openapi.json');
    this.routes = Object.entries(doc.paths).map(([template, item]) => ({
      template,
      item,
      pattern: new RegExp(
        `^${template
          .split('/')
          .map((seg) =>
            /^\{\w+\}$/.test(seg) ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
          )
          .join('/')}/?$`,
      ),
    }));
  }

  /** Every problem of one exchange; empty when it keeps the contract. */
  problems(x: Exchange): string[] {
    const url = new URL(x.url, 'http://api');
    const what = `${x.method} ${url.pathname} → ${x.status}`;
    const route = this.routes.find((r) => r.pattern.test(url.pathname));
    if (!route) return [`${what}: no path of the spec matches ${url.pathname}`];
    const op = route.item[x.method.toLowerCase()] as Operation | undefined;
    if (!op) {
      const declared = METHODS.filter((m) => m in route.item).map((m) => m.toUpperCase());
      if (x.status !== 405)
        return [`${what}: ${route.template} has no ${x.method} (only ${declared.join(', ')})`];
      if (mediaType(x.contentType) !== 'application/problem+json')
        return [
          `${what}: a 405 must be application/problem+json, not ${x.contentType ?? '(none)'}`,
        ];
      return this.bodyProblems(what, x, 'application/problem+json', 'Problem');
    }
    const out: string[] = [];
    const params = [
      ...((route.item['parameters'] as Schema[] | undefined) ?? []),
      ...(op.parameters ?? []),
    ];
    const query = new Set(params.filter((p) => p['in'] === 'query').map((p) => p['name']));
    for (const key of url.searchParams.keys())
      if (!query.has(key)) out.push(`${what}: query parameter "${key}" is not in the spec`);
    const response = this.resolve(op.responses[String(x.status)] ?? op.responses['default']);
    if (!response) {
      out.push(
        `${what}: status ${x.status} is not one the spec gives (${Object.keys(op.responses).join(', ')})`,
      );
      return out;
    }
    const content = response['content'] as Record<string, { schema: Schema }> | undefined;
    if (!content) return out;
    const type = mediaType(x.contentType);
    const key = type !== undefined && type in content ? type : '*/*' in content ? '*/*' : undefined;
    if (key === undefined) {
      out.push(
        `${what}: content type ${x.contentType ?? '(none)'} is not one of ${Object.keys(content).join(', ')}`,
      );
      return out;
    }
    const schema = content[key]?.schema ?? {};
    return [...out, ...this.bodyProblems(what, x, key, schema)];
  }

  /** Throws an AssertionError listing every problem of the exchange. */
  check(x: Exchange): void {
    this.checked++;
    const problems = this.problems(x);
    if (problems.length > 0)
      throw new AssertionError({
        message: `the answer breaks api/openapi.json:\n  ${problems.join('\n  ')}\n  body: ${(x.body ?? '').slice(0, 2000)}`,
      });
  }

  private bodyProblems(what: string, x: Exchange, type: string, schema: Schema | string): string[] {
    if (x.body === undefined) return [];
    const isJSON = type === 'application/json' || type.endsWith('+json');
    if (type === 'application/x-ndjson') {
      const lines = x.body.split('\n').filter((l) => l !== '');
      return lines.flatMap((l, i) => this.valueProblems(`${what} line ${i + 1}`, l, schema));
    }
    // A text body (logs, metrics) is any string.
    return isJSON ? this.valueProblems(what, x.body, schema) : [];
  }

  private valueProblems(what: string, text: string, schema: Schema | string): string[] {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return [`${what}: not JSON: ${text.slice(0, 200)}`];
    }
    const validate = this.validator(schema);
    if (validate(value)) return [];
    return (validate.errors ?? []).map(
      (e) =>
        `${what}: ${e.instancePath || '/'} ${e.message ?? 'invalid'} ${JSON.stringify(e.params)}`,
    );
  }

  private validator(schema: Schema | string): ValidateFunction {
    const ref = typeof schema === 'string' ? `#/components/schemas/${schema}` : schema['$ref'];
    const key = typeof ref === 'string' ? ref : JSON.stringify(schema);
    let v = this.validators.get(key);
    if (!v) {
      v =
        typeof ref === 'string'
          ? this.ajv.compile({ $ref: `openapi.json${ref}` })
          : this.ajv.compile(schema as Schema);
      this.validators.set(key, v);
    }
    return v;
  }

  private resolve(r: Schema | undefined): Schema | undefined {
    const ref = r?.['$ref'];
    if (typeof ref !== 'string') return r;
    return this.doc.components.responses[ref.split('/').pop() ?? ''];
  }
}

/**
 * OpenAPI 3.0 schemas follow JSON Schema draft 4 in one way that matters here: `exclusiveMinimum`
 * and `exclusiveMaximum` are booleans beside `minimum` and `maximum`. Ajv reads draft 7, where
 * they are the bounds themselves.
 */
function toDraft7(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toDraft7);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = toDraft7(v);
  for (const [flag, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (typeof out[flag] !== 'boolean') continue;
    if (out[flag] === true) out[flag] = out[bound];
    else delete out[flag];
    if (out[flag] !== undefined) delete out[bound];
  }
  return out;
}

function loadSpec(): Document {
  return JSON.parse(readFileSync(SPEC, 'utf8')) as Document;
}

/** `application/json; charset=utf-8` → `application/json`. */
function mediaType(header: string | undefined): string | undefined {
  return header?.split(';')[0]?.trim().toLowerCase() || undefined;
}
