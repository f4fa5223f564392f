import type { AppError } from '../errors.js';
import { toAppError, type ErrorCode, type FieldProblem } from '../errors.js';

/**
 * A failure of the HTTP exchange itself (a body too large, a wrong method, an old watch version):
 * statuses with no AppError code. Everything else a route throws is an AppError, mapped to its
 * status in one table (STATUS_OF_CODE).
 */
export class HTTPError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The HTTP status of each AppError code: the one place codes become statuses. */
export const STATUS_OF_CODE: Readonly<Record<ErrorCode, number>> = Object.freeze({
  InvalidArgument: 400,
  NotFound: 404,
  AlreadyExists: 409,
  FailedPrecondition: 409,
  PermissionDenied: 403,
  Unavailable: 503,
  Internal: 500,
});

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An RFC 9457 problem document, with ignite's error code and field problems as extensions. */
export interface Problem {
  type: 'about:blank';
  title: string;
  status: number;
  detail: string;
  code: ErrorCode | 'HTTP';
  hint?: string;
  problems?: FieldProblem[];
}

/** The problem document and headers for anything a route threw. */
export function toProblem(err: unknown): { problem: Problem; headers: Record<string, string> } {
  if (err instanceof HTTPError) {
    return {
      problem: {
        type: 'about:blank',
        title: TITLES[err.status] ?? 'Error',
        status: err.status,
        detail: err.message,
        code: 'HTTP',
      },
      headers: err.headers,
    };
  }
  const e: AppError = toAppError(err);
  const status = STATUS_OF_CODE[e.code];
  return {
    problem: {
      type: 'about:blank',
      title: TITLES[status] ?? 'Error',
      status,
      // An internal error's message may carry paths and tool output: it stays in the log.
      detail: e.code === 'Internal' ? 'internal error; see the daemon log' : e.message,
      code: e.code,
      ...(e.hint !== undefined ? { hint: e.hint } : {}),
      ...(e.problems.length > 0 ? { problems: e.problems } : {}),
    },
    headers: {},
  };
}
