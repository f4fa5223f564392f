import { launchHostSupervisor, liveHostSupervisor } from '../operations/supervisor-launch.js';
import { hostSupervisorFiles } from '../storage/host-supervisor-files.js';
import { loadHostConfig } from '../system/host-config.js';
import { LinuxProcesses } from '../system/linux-processes.js';
import { LOG_LEVELS, type LogLevel } from '../system/log-levels.js';
import { spawnCommand } from '../system/packaging.js';
import { envTracer } from '../system/trace.js';

/*
 * A VM's start needs the host supervisor, a second Node process. When none runs, the first `run`
 * on a host used to start it only once its own bundle had loaded, and the two start-ups then
 * followed each other. bin/ignite.js calls this first instead (dist/ignite-early.cjs, a small
 * bundle of these modules only), so the supervisor loads while the CLI does. The CLI's own
 * ensureHostSupervisor then finds it starting, by its pid file, and waits for it.
 *
 * Only a plain local `run` or `start` is served here; anything else (help, a daemon, an etcd
 * store, a flag it cannot read) is left to the CLI, which starts a supervisor where one is
 * needed. Its own small wiring, not the composition root's, is the point: that loads everything.
 */

/** The CLI's global flags that take a value (program.ts); checked against it by a test. */
export const GLOBAL_VALUE_FLAGS = [
  '--log-level',
  '--data-dir',
  '--store',
  '--store-ca',
  '--store-cert',
  '--store-key',
  '--insecure-registry',
  '--import-max-size',
  '--import-max-entries',
  '-H',
  '--host',
  '--tls-ca',
  '--token-file',
] as const;

/** Flags and variables that send the command elsewhere than this host's data dir. */
const ELSEWHERE_FLAGS = new Set(['--store', '-H', '--host']);
const ELSEWHERE_ENV = ['IGNITE_HOST', 'IGNITE_STORE'];

/** A local `run` or `start`'s data dir and log level flags; undefined for any other command. */
export function earlyStartOf(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { dataDir?: string; logLevel?: LogLevel } | undefined {
  if (ELSEWHERE_ENV.some((name) => (env[name] ?? '') !== '')) return undefined;
  const flags = new Map<string, string>();
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') break;
    if (arg === '-h' || arg === '--help') return undefined;
    if (!arg.startsWith('-')) {
      words.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!(GLOBAL_VALUE_FLAGS as readonly string[]).includes(name)) continue;
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) return undefined;
    if (ELSEWHERE_FLAGS.has(name)) return undefined;
    flags.set(name, value);
  }
  // `run`, `start`, `vm run`, `vm start`: the first words, past the global flags' values.
  const [first, second] = words;
  const command = first === 'vm' || first === 'vms' ? second : first;
  if (command !== 'run' && command !== 'start') return undefined;
  const level = flags.get('--log-level');
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) return undefined;
  const dataDir = flags.get('--data-dir');
  return {
    ...(dataDir !== undefined ? { dataDir } : {}),
    ...(level !== undefined ? { logLevel: level as LogLevel } : {}),
  };
}

/**
 * Starts the host supervisor for a local `run` or `start` when none holds its pid file. Never
 * fails the command: whatever goes wrong here, the CLI's own start of a supervisor reports.
 */
export function startSupervisorEarly(argv: readonly string[], env: NodeJS.ProcessEnv): void {
  try {
    const flags = earlyStartOf(argv, env);
    if (flags === undefined) return;
    const config = loadHostConfig(flags, env);
    const launch = {
      config,
      files: hostSupervisorFiles(config.dataDir, config.vmRunDir),
      processes: new LinuxProcesses(),
      spawnCommand: spawnCommand(),
    };
    if (liveHostSupervisor(launch) !== undefined) return;
    const proc = launchHostSupervisor(launch);
    envTracer(env, 'cli', process.stderr, process.pid).mark(`early supervisor ${proc.pid}`);
  } catch {
    // Left to the CLI.
  }
}
