import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export { LOG_LEVELS, type LogLevel } from './log-levels.js';
import type { LogLevel } from './log-levels.js';

export interface LoggerOptions {
  level: LogLevel;
  /** Where log lines go; the CLI passes stderr so stdout stays data. */
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  /** Readable lines for people (default: when the stream is a TTY); JSON lines otherwise. */
  pretty?: boolean;
  component?: string;
}

/** pino: JSON lines for machines, a readable form on a terminal. */
export function createLogger(options: LoggerOptions): Logger {
  const base = { component: options.component ?? 'cli' };
  const usePretty = options.pretty ?? options.stream.isTTY === true;
  const opts = { level: options.level, base };
  if (!usePretty) return pino(opts, options.stream);
  return pino(
    opts,
    pretty({
      destination: options.stream,
      sync: true,
      colorize: true,
      ignore: 'pid,hostname,component',
      translateTime: 'HH:MM:ss',
    }),
  );
}
