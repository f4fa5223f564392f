import { AppError, internal, notFound, permissionDenied, unavailable } from '../errors.js';

/** A filesystem error of the store as an AppError about `what` (`vm "0123…"`, `image store`). */
export function mapFsError(err: unknown, what: string): AppError {
  if (err instanceof AppError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return notFound(`${what}: not found`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return permissionDenied(`${what}: permission denied`, {
        cause: err,
        hint: 'run as root or choose a writable --data-dir',
      });
    case 'ENOSPC':
      return unavailable(`${what}: no space left on device`, { cause: err });
    case 'EROFS':
      return unavailable(`${what}: read-only file system`, { cause: err });
    default:
      return internal(`${what}: ${(err as Error).message}`, { cause: err });
  }
}
