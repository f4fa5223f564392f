/**
 * Phase timestamps for profiling what a command waits on (a VM's start above all), asked for
 * with IGNITE_TRACE=1. Each mark is one line on the process's log stream (the CLI's stderr, the
 * supervisor's spawn.log):
 *
 *     ignite-trace <wall ms> <component>[<pid>] +<ms since the process started> <phase>
 *
 * The wall time lines up the CLI's and its supervisor's marks; the process's own offset shows
 * what node's start-up and the bundle's load took before the first mark.
 */
export interface Tracer {
  /** Notes that `phase` was reached now. */
  mark(phase: string): void;
  /** Marks `phase start`, runs `fn`, then marks `phase done` (or `phase failed`). */
  span<T>(phase: string, fn: () => Promise<T>): Promise<T>;
}

/** A tracer that notes nothing, for tests and for runs without IGNITE_TRACE. */
export const NO_TRACE: Tracer = {
  mark: () => undefined,
  span: (_phase, fn) => fn(),
};

/** Where a tracer reads the time: the process's start (epoch ms) and the ms since. */
export interface TraceClock {
  timeOrigin: number;
  now(): number;
}

/** Whether the environment asks for traces (IGNITE_TRACE=1, or any value but 0 and empty). */
export function traceWanted(env: NodeJS.ProcessEnv): boolean {
  const v = env['IGNITE_TRACE'];
  return v !== undefined && v !== '' && v !== '0';
}

/** The tracer IGNITE_TRACE asks for: lines on `stream`, else NO_TRACE. */
export function envTracer(
  env: NodeJS.ProcessEnv,
  component: string,
  stream: NodeJS.WritableStream,
  pid: number,
  clock: TraceClock = performance,
): Tracer {
  if (!traceWanted(env)) return NO_TRACE;
  const mark = (phase: string): void => {
    const since = clock.now();
    const wall = clock.timeOrigin + since;
    stream.write(
      `ignite-trace ${wall.toFixed(1)} ${component}[${pid}] +${since.toFixed(1)} ${phase}\n`,
    );
  };
  return {
    mark,
    async span(phase, fn) {
      mark(`${phase} start`);
      try {
        const r = await fn();
        mark(`${phase} done`);
        return r;
      } catch (err) {
        mark(`${phase} failed`);
        throw err;
      }
    },
  };
}
