import { runUnchecked } from './exec.js';

/** One external program ignite runs, as found on this host. */
export interface ToolProbe {
  name: string;
  /** The program and the arguments that make it print its version. */
  command: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Where the version is, when the first number printed is not it; group 1 is the version. */
  pattern?: RegExp;
}

export interface ToolVersion {
  found: boolean;
  /** The version number, as the program printed it. */
  version?: string;
  /** The line it came from, for the details a number leaves out (`Debian 1:7.2+dfsg-7`). */
  line?: string;
}

/**
 * Asks each program for its version, all at once. A program that is missing is reported as not
 * found rather than failing: `version` must work on a half-installed host, to help fix it.
 */
export async function probeTools(
  probes: readonly ToolProbe[],
  env: NodeJS.ProcessEnv,
): Promise<Record<string, ToolVersion>> {
  const results = await Promise.all(
    probes.map(async (p): Promise<[string, ToolVersion]> => {
      const [file, ...args] = p.command;
      if (file === undefined) return [p.name, { found: false }];
      try {
        const r = await runUnchecked(file, args, {
          env: { ...env, ...p.env, LC_ALL: 'C' },
          timeoutMs: 5000,
        });
        return [p.name, parseVersion(`${r.stdout}\n${r.stderr}`, p.pattern)];
      } catch {
        return [p.name, { found: false }];
      }
    }),
  );
  return Object.fromEntries(results);
}

/** The first line with a version number in it (`QEMU emulator version 7.2.22 (Debian …)`). */
export function parseVersion(output: string, pattern?: RegExp): ToolVersion {
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    const m = pattern
      ? pattern.exec(line)
      : /(?<![\d.])v?(\d+\.\d+(?:\.\d+)?(?:[-+~][0-9A-Za-z.+~-]*)?)/.exec(line);
    if (m?.[1]) return { found: true, version: m[1], line };
  }
  const first = output.trim().split('\n')[0]?.trim();
  return first ? { found: true, line: first } : { found: true };
}
