import assert from 'node:assert/strict';
import { AppError, type ErrorCode } from '../../src/errors.js';

/** Asserts that `p` rejects with an AppError of `code` whose message matches `message`. */
export async function rejectsWith(
  p: Promise<unknown>,
  code: ErrorCode,
  message: RegExp,
): Promise<AppError> {
  let caught: unknown;
  await assert.rejects(p, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(AppError.is(caught), `expected an AppError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  return caught;
}
