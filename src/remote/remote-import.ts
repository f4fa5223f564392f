import { AppError } from '../errors.js';
import type { DaemonClient } from './daemon-client.js';
import { problemToAppError, type Problem } from './problem.js';

/** What a pull reports as it goes (the shape of image's PullProgress). */
export interface ImportProgress {
  layer?(digest: string, total: number): void;
  bytes?(digest: string, n: number): void;
  phase?(name: 'unpacking' | 'building filesystem' | 'done'): void;
}

/** One line of an import stream. */
interface ImportLine {
  type?: string;
  object?: unknown;
  error?: Problem;
  /** The layer's digest. */
  layer?: string;
  total?: number;
  bytes?: number;
  phase?: string;
}

const PHASES = new Set(['unpacking', 'building filesystem', 'done']);

/**
 * POSTs `{ ref }` to `/images` or `/kernels` asking for a stream, hands its progress lines to
 * `progress`, and returns the imported object as sent (not yet decoded).
 */
export async function importThroughDaemon(
  client: DaemonClient,
  collection: 'images' | 'kernels',
  ref: string,
  progress: ImportProgress | undefined,
): Promise<unknown> {
  for await (const line of client.ndjson<ImportLine>('POST', `/${collection}`, {
    body: { ref },
  })) {
    if (line.type === 'result') return line.object;
    if (line.type === 'error')
      throw problemToAppError(client.url, line.error?.status ?? 500, JSON.stringify(line.error));
    if (line.type === 'progress' && progress !== undefined) report(progress, line);
  }
  throw new AppError('Unavailable', `daemon at ${client.url}: the import of "${ref}" ended early`);
}

function report(progress: ImportProgress, line: ImportLine): void {
  if (typeof line.phase === 'string' && PHASES.has(line.phase))
    progress.phase?.(line.phase as 'unpacking' | 'building filesystem' | 'done');
  else if (typeof line.layer === 'string' && typeof line.total === 'number')
    progress.layer?.(line.layer, line.total);
  else if (typeof line.layer === 'string' && typeof line.bytes === 'number')
    progress.bytes?.(line.layer, line.bytes);
}
