/** Signals a long-running command or the supervisor reacts to. */
export type HandledSignal = 'SIGTERM' | 'SIGINT' | 'SIGQUIT';

/**
 * Subscribes to process signals; the returned function unsubscribes. While nothing listens, a
 * signal has its default effect (SIGTERM and SIGINT end the process): after a `once` handler ran,
 * a second signal does.
 */
export interface SignalHook {
  on(signal: HandledSignal, fn: () => void): () => void;
  once(signal: HandledSignal, fn: () => void): () => void;
}

/**
 * What a front end (the CLI, ignite-spawn) gets of its process: streams, environment and
 * signals, injected so that only the entry files (cli/main.ts, cli/sea-main.ts, spawn/main.ts)
 * touch `process`.
 */
export interface ProgramIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  env: NodeJS.ProcessEnv;
  signals: SignalHook;
}

/** The signal hook of the running process. */
export function processSignals(proc: NodeJS.Process): SignalHook {
  return {
    on(signal, fn) {
      proc.on(signal, fn);
      return () => void proc.off(signal, fn);
    },
    once(signal, fn) {
      proc.once(signal, fn);
      return () => void proc.off(signal, fn);
    },
  };
}

/** The ProgramIO of the running process: its streams, environment and signals. */
export function processIO(proc: NodeJS.Process): ProgramIO {
  return {
    stdout: proc.stdout,
    stderr: proc.stderr,
    stdin: proc.stdin,
    env: proc.env,
    signals: processSignals(proc),
  };
}
