import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import {
  API_VERSION,
  parseDocuments,
  toPlain,
  zodProblems,
  type APIObject,
  type Kind,
} from '../api/index.js';
import { invalidArgument } from '../errors.js';
import { HTTPError, toProblem } from './http-error.js';

/** The largest request body the API reads; a VM manifest is a few KiB. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Reads a request body, refusing one over `limit` as soon as its length says so or its bytes
 * pass it: a client cannot make the daemon hold more than `limit` of it.
 */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLarge(limit: number): HTTPError {
  // The rest of the body is not read: the connection closes after the answer.
  return new HTTPError(413, `request body: larger than ${limit} bytes`, { connection: 'close' });
}

/**
 * Parses a body as one JSON (or, with a YAML content type, YAML) document. An empty body is
 * `undefined`; other media types are refused.
 */
export async function readDocument(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? 'application/json').split(';')[0]?.trim() ?? '';
  const yaml = ['application/yaml', 'application/x-yaml', 'text/yaml'].includes(type);
  if (!yaml && type !== 'application/json')
    throw new HTTPError(415, `request body: unsupported media type "${type}"; send JSON or YAML`);
  const text = (await readBody(req)).toString('utf8');
  if (text.trim() === '') return undefined;
  if (!yaml) {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw invalidArgument(`request body: not valid JSON: ${(err as Error).message}`);
    }
  }
  const docs = parseDocuments(text, 'request body');
  if (docs.length !== 1)
    throw invalidArgument(`request body: expected one document, found ${docs.length}`);
  return docs[0];
}

/**
 * A request body checked against its schema in src/api (the one api/openapi.json gives for it);
 * every problem is reported with its field path.
 */
export function bodyAs<T extends z.ZodType>(schema: T, doc: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(doc);
  if (parsed.success) return parsed.data;
  const problems = zodProblems(parsed.error);
  throw invalidArgument(
    `request body: ${what}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    { problems },
  );
}

export function sendJSON(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** A list of a kind's objects, as the API answers every list: at the feed's `version`. */
export function sendList(
  res: ServerResponse,
  kind: Kind,
  version: number,
  items: readonly APIObject[],
): void {
  sendJSON(res, 200, {
    apiVersion: API_VERSION,
    kind: `${kind}List`,
    metadata: { resourceVersion: String(version) },
    items: items.map((o) => toPlain(o)),
  });
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  type = 'text/plain',
): void {
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8` });
  res.end(text);
}

/** Answers with the problem for `err`; when the answer has begun, ends the stream instead. */
export function sendProblem(res: ServerResponse, err: unknown): void {
  const { problem, headers } = toProblem(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(problem);
  res.writeHead(problem.status, {
    ...headers,
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** A stream of JSON lines (`application/x-ndjson`), flushed line by line. */
export interface JSONLines {
  write(value: unknown): boolean;
  end(): void;
}

export function startJSONLines(res: ServerResponse, status = 200): JSONLines {
  res.writeHead(status, {
    'content-type': 'application/x-ndjson',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.flushHeaders();
  return {
    write: (value) => res.write(`${JSON.stringify(value)}\n`),
    end: () => res.end(),
  };
}
