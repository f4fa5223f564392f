import type { ErrorCode } from '../errors.js';

/**
 * Exit codes of the ignite CLI. This table is the one place errors become numbers; it is printed
 * in docs/cli/exit-codes.md. `exec` and `ssh` exit with the guest command's own status instead.
 */
export const EXIT_CODES: Readonly<Record<ErrorCode | 'Success' | 'Usage', number>> = Object.freeze({
  Success: 0,
  Internal: 1,
  Usage: 2,
  InvalidArgument: 2,
  NotFound: 3,
  AlreadyExists: 4,
  FailedPrecondition: 5,
  PermissionDenied: 6,
  Unavailable: 7,
});

export const EXIT_CODE_MEANINGS: Readonly<Record<keyof typeof EXIT_CODES, string>> = Object.freeze({
  Success: 'the command did what was asked',
  Internal:
    'an unexpected failure (a bug, or a tool that failed); run with --log-level debug for the cause',
  Usage: 'the command line is wrong: unknown command or flag, missing argument',
  InvalidArgument:
    'an argument or manifest is invalid; each problem is printed with its field path',
  NotFound: 'the named VM, image or kernel does not exist',
  AlreadyExists: 'an object with that name or ID already exists',
  FailedPrecondition:
    'the object is not in a state that allows this (for example removing a running VM without -f)',
  PermissionDenied: 'the command needs root or access to the data directory',
  Unavailable:
    'a needed tool, service or resource is missing or unreachable (hypervisor, registry, disk space)',
});
