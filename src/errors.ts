/**
 * The one error type of the project. Every failure a user can meet is an AppError with a code
 * from a closed set; the CLI maps codes to exit codes in one place (src/cli/exit-codes.ts).
 */
export const ERROR_CODES = [
  'InvalidArgument',
  'NotFound',
  'AlreadyExists',
  'FailedPrecondition',
  'PermissionDenied',
  'Unavailable',
  'Internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** One problem found in a manifest or option set, located by its field path (`.spec.memory`). */
export interface FieldProblem {
  path: string;
  message: string;
}

export interface AppErrorOptions {
  cause?: unknown;
  hint?: string;
  /** For InvalidArgument errors about manifests: every problem found, each with its field path. */
  problems?: FieldProblem[];
}

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly problems: FieldProblem[];

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.problems = options.problems ?? [];
  }

  /** True when `err` is an AppError, optionally of the given code. */
  static is(err: unknown, code?: ErrorCode): err is AppError {
    return err instanceof AppError && (code === undefined || err.code === code);
  }
}

export const invalidArgument = (message: string, options?: AppErrorOptions): AppError =>
  new AppError('InvalidArgument', message, options);
export const notFound = (message: string, options?: AppErrorOptions): AppError =>
  new AppError('NotFound', message, options);
export const alreadyExists = (message: string, options?: AppErrorOptions): AppError =>
  new AppError('AlreadyExists', message, options);
export const failedPrecondition = (message: string, options?: AppErrorOptions): AppError =>
  new AppError('FailedPrecondition', message, options);
export const permissionDenied = (message: string, options?: AppErrorOptions): AppError =>
  new AppError('PermissionDenied', message, options);
export const unavailable = (message: string, options?: AppErrorOptions): AppError =>
  new AppError('Unavailable', message, options);
export const internal = (message: string, options?: AppErrorOptions): AppError =>
  new AppError('Internal', message, options);

/** Wraps anything thrown into an AppError, keeping AppErrors as they are. */
export function toAppError(err: unknown, context?: string): AppError {
  if (err instanceof AppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const text = context === undefined ? message : `${context}: ${message}`;
  // The system errors a user can act on get their own codes: a full disk is not a bug.
  const errno = (err as { code?: unknown } | null)?.code;
  if (errno === 'ENOSPC' || errno === 'EDQUOT')
    return unavailable(text, { cause: err, hint: 'free some space, or choose another --data-dir' });
  if (errno === 'EACCES' || errno === 'EPERM')
    return permissionDenied(text, {
      cause: err,
      hint: 'run as root or choose a writable --data-dir',
    });
  return internal(text, { cause: err });
}
