import { AppError, notFound, permissionDenied, unavailable } from '../errors.js';

/** A registry answer worth asking again: 429 or a 5xx. */
export class TransientError extends Error {}

/** The error for a request that got no answer: too many redirects, or no connection. */
export function unreachable(err: unknown, what: string, url: string, base: string): AppError {
  const cause = (err as { cause?: { message?: string; code?: string } }).cause;
  const detail = cause?.message ?? (err as Error).message;
  if (/redirect/i.test(detail))
    return unavailable(`${what}: too many redirects from ${url}`, { cause: err });
  return new AppError('Unavailable', `${what}: cannot reach ${base}: ${detail}`, {
    cause: err,
    hint: 'is the registry running and reachable?',
  });
}

/**
 * The error for an answer that is not OK, by its status. `suffix` is the request path after the
 * repository (`/manifests/<ref>`, `/blobs/<digest>`), named in a not-found message.
 */
export function refusal(
  status: number,
  x: { what: string; domain: string; suffix: string; url: string },
): Error {
  if (status === 401 || status === 403)
    return permissionDenied(`${x.what}: the registry refused access (HTTP ${status})`, {
      hint: 'log in: credentials are read from ~/.docker/config.json',
    });
  if (status === 404) {
    const [, kind = '', name = ''] = x.suffix.split('/');
    return notFound(`${x.what}: not found in ${x.domain} (${kind} ${name})`);
  }
  if (status === 429 || status >= 500)
    return new TransientError(`${x.what}: registry answered HTTP ${status}`);
  return unavailable(`${x.what}: registry answered HTTP ${status} for ${x.url}`);
}

/**
 * Runs `fn` again on transient failures (a TransientError, or a registry it cannot reach), with
 * backoff, at most `attempts` times in all.
 */
export async function withRetry<T>(attempts: number, fn: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const transient =
        err instanceof TransientError ||
        (AppError.is(err, 'Unavailable') && /cannot reach/.test(err.message));
      if (!transient || i >= attempts) {
        if (err instanceof TransientError)
          throw unavailable(`${err.message} (after ${i} attempts)`);
        throw err;
      }
      await new Promise((r) => setTimeout(r, 200 * 2 ** (i - 1)));
    }
  }
}
