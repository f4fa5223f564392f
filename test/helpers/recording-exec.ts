import { AppError } from '../../src/errors.js';
import type { ExecPort } from '../../src/network/exec-port.js';
import type { ExecOptions, ExecResult } from '../../src/system/exec.js';

/** One program run through a RecordingExec. */
export interface RecordedRun {
  file: string;
  args: string[];
  input?: string;
  /** The CNI_* variables of its environment (a CNI plugin's command and runtime). */
  cni?: Record<string, string>;
}

/**
 * An exec port that runs nothing: it records each argv and answers from `answer` (exit 0 and no
 * output by default). `run` fails on a non-zero exit as the host's does.
 */
export class RecordingExec implements ExecPort {
  readonly runs: RecordedRun[] = [];

  constructor(private readonly answer: (run: RecordedRun) => Partial<ExecResult> = () => ({})) {}

  /** The runs as `[CNI_X=… ]file arg arg…` lines, for comparing whole sequences. */
  lines(): string[] {
    return this.runs.map((r) =>
      [...Object.entries(r.cni ?? {}).map(([k, v]) => `${k}=${v}`), r.file, ...r.args].join(' '),
    );
  }

  runUnchecked(
    file: string,
    args: readonly string[],
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    const cni = Object.entries(options.env ?? {}).filter(
      (e): e is [string, string] =>
        e[0].startsWith('CNI_') && e[0] !== 'CNI_PATH' && e[1] !== undefined,
    );
    const run: RecordedRun = {
      file,
      args: [...args],
      ...(options.input !== undefined ? { input: String(options.input) } : {}),
      ...(cni.length > 0 ? { cni: Object.fromEntries(cni) } : {}),
    };
    this.runs.push(run);
    return Promise.resolve({ stdout: '', stderr: '', exitCode: 0, ...this.answer(run) });
  }

  async run(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.runUnchecked(file, args, options);
    if (r.exitCode !== 0) throw new AppError('Internal', `${file}: failed (exit ${r.exitCode})`);
    return r;
  }
}
