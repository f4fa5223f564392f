import { AppError, ERROR_CODES, type ErrorCode, type FieldProblem } from '../errors.js';

/** An RFC 9457 problem as the daemon sends it, with the AppError's code. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  hint?: string;
  problems?: FieldProblem[];
}

/** The code of an answer without one: what its HTTP status means. */
export function codeOfStatus(status: number): ErrorCode {
  if (status === 400 || status === 413 || status === 415) return 'InvalidArgument';
  if (status === 401 || status === 403) return 'PermissionDenied';
  if (status === 404) return 'NotFound';
  if (status === 409 || status === 410) return 'FailedPrecondition';
  if (status === 408 || status === 502 || status === 503 || status === 504) return 'Unavailable';
  return 'Internal';
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}

function isProblemList(v: unknown): v is FieldProblem[] {
  return (
    Array.isArray(v) &&
    v.every(
      (p) =>
        typeof p === 'object' &&
        p !== null &&
        typeof (p as FieldProblem).path === 'string' &&
        typeof (p as FieldProblem).message === 'string',
    )
  );
}

/**
 * The AppError a daemon's error answer stands for: the same code, message and hint the CLI would
 * have shown working on the data dir itself, so exit codes and messages match in both modes. An
 * answer that is no problem document is described by its status and the start of its body.
 */
export function problemToAppError(daemon: string, status: number, body: string): AppError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
    const p = parsed as Problem;
    const message = p.detail ?? p.title;
    if (typeof message === 'string' && message !== '') {
      const code = isErrorCode(p.code) ? p.code : codeOfStatus(status);
      return new AppError(code, message, {
        ...(typeof p.hint === 'string' ? { hint: p.hint } : {}),
        ...(isProblemList(p.problems) ? { problems: p.problems } : {}),
      });
    }
  }
  const text = body.trim().split('\n')[0]?.slice(0, 200) ?? '';
  return new AppError(
    codeOfStatus(status),
    `daemon at ${daemon}: HTTP ${status}${text ? `: ${text}` : ''}`,
  );
}
