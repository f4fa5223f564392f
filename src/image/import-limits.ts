import { invalidArgument } from '../errors.js';

/**
 * Bounds on what one image may unpack to, checked while its layers stream in, so a small layer
 * that expands without end (a decompression bomb) is stopped early and leaves nothing behind.
 */
export interface ImportLimits {
  /** Bytes of file content over all layers, whited-out files included (they were written). */
  maxBytes: number;
  /** Tar entries over all layers, whiteouts included: each costs memory until the image is written. */
  maxEntries: number;
}

/**
 * 32 GiB is several times the largest root filesystems people run (CUDA and desktop images are
 * 10-20 GB) and far beyond a microVM's; a million entries is some thirty Debian systems, and about
 * half a gigabyte of the importer's memory.
 */
export const DEFAULT_IMPORT_LIMITS: Readonly<ImportLimits> = Object.freeze({
  maxBytes: 32 * 1024 ** 3,
  maxEntries: 1_000_000,
});

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  ki: 1024,
  mi: 1024 ** 2,
  gi: 1024 ** 3,
  ti: 1024 ** 4,
};

/** Parses `32GiB`, `500MB`, `1000000` and the like; `what` names the setting in errors. */
export function parseLimit(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*$/i.exec(text);
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  const n = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0)
    throw invalidArgument(`${what} "${text}": expected a positive number such as 32GiB or 100000`);
  return n;
}

/**
 * The limits from flags, then the environment (IGNITE_IMPORT_MAX_SIZE, IGNITE_IMPORT_MAX_ENTRIES),
 * then the defaults.
 */
export function importLimits(
  flags: { maxSize?: string | undefined; maxEntries?: string | undefined },
  env: NodeJS.ProcessEnv,
): ImportLimits {
  const size = flags.maxSize ?? env['IGNITE_IMPORT_MAX_SIZE'];
  const entries = flags.maxEntries ?? env['IGNITE_IMPORT_MAX_ENTRIES'];
  return {
    maxBytes:
      size !== undefined && size !== ''
        ? parseLimit(size, 'import size limit')
        : DEFAULT_IMPORT_LIMITS.maxBytes,
    maxEntries:
      entries !== undefined && entries !== ''
        ? parseLimit(entries, 'import entry limit')
        : DEFAULT_IMPORT_LIMITS.maxEntries,
  };
}
