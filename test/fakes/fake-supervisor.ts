import { toAppError } from '../../src/errors.js';
import { superviseVM } from '../../src/operations/supervise-vm.js';
import type { HandledSignal } from '../../src/system/program-io.js';
import { ENDS, type FakeProcess, type SpawnRecord } from './fake-processes.js';
import type { FakeServices } from './fake-services.js';
import { FakeSignals } from './fake-signals.js';

/**
 * What a spawned ignite-spawn does:
 * - `supervises`: runs superviseVM in this process, as the real one does in its own, with its
 *   PID as the host's and its signals delivered through its own hook; `--wait-signal` waits for
 *   SIGUSR2 (go) or SIGTERM (give up) first. An error ends it with the message in its log.
 * - `hangs`: lives and never reports.
 * - `dies`: exits at once, leaving `log` as its spawn log.
 */
export type SupervisorBehaviour =
  | { kind: 'supervises'; stopTimeoutMs?: number }
  | { kind: 'hangs' }
  | { kind: 'dies'; log?: string };

/** The supervisors spawned so far, with their signal hooks (for `supervises`). */
export interface FakeSupervisor {
  record: SpawnRecord;
  uid: string;
  signals: FakeSignals;
  /** Settles when the supervisor has ended. */
  done: Promise<void>;
}

/** Makes every ignite-spawn the use cases start behave as `b`; returns those started. */
export function installSupervisor(s: FakeServices, b: SupervisorBehaviour): FakeSupervisor[] {
  const started: FakeSupervisor[] = [];
  s.processes.onSpawn = (record) => {
    const uid = record.args[s.spawnCommand.args.length] ?? '';
    const p = record.process;
    const signals = new FakeSignals();
    let finish = (): void => undefined;
    const done = new Promise<void>((resolve) => (finish = resolve));
    started.push({ record, uid, signals, done });
    const exit = (signal?: NodeJS.Signals): void => {
      s.processes.exit(p.pid, signal);
      finish();
    };
    p.onSignal = (signal) => {
      if (signal === 'SIGKILL') exit(signal);
      else if (!signals.emit(signal as HandledSignal) && ENDS.has(signal)) exit(signal);
    };
    if (b.kind === 'hangs') return;
    if (b.kind === 'dies') {
      if (b.log !== undefined) s.runtimeFiles.spawnLogs.set(uid, b.log);
      exit();
      return;
    }
    const wait = record.args.includes('--wait-signal');
    if (wait) p.catches.add(12);
    const go = wait
      ? new Promise<boolean>((resolve) => {
          signals.once('SIGUSR2', () => resolve(true));
          signals.once('SIGTERM', () => resolve(false));
        })
      : Promise.resolve(true);
    const own = { ...s, host: { ...s.host, pid: p.pid }, signals };
    const options = {
      ...(b.stopTimeoutMs !== undefined ? { stopTimeoutMs: b.stopTimeoutMs } : {}),
      policyRestart: record.args.includes('--policy-restart'),
      reuseNetwork: record.args.includes('--reuse-network'),
    };
    void go
      .then((ok) => (ok ? superviseVM(own, uid, options) : undefined))
      .then(
        () => exit(),
        (err: unknown) => {
          const line = JSON.stringify({ level: 50, msg: toAppError(err).message });
          s.runtimeFiles.spawnLogs.set(uid, `${s.runtimeFiles.spawnLogs.get(uid) ?? ''}${line}\n`);
          exit();
        },
      );
  };
  return started;
}

/**
 * Records a stored VM Running under processes a test made by hand (a stuck supervisor, a PID
 * since taken by another program), as a supervisor would have recorded it.
 */
export async function recordRunning(
  s: FakeServices,
  uid: string,
  runtime: { spawnPid: number; pid?: number },
): Promise<void> {
  await s.client.vms.update(uid, (v) => {
    v.status = {
      ...v.status,
      state: 'Running',
      ipAddresses: ['10.61.0.2'],
      runtime: { vmm: 'qemu', ...runtime },
    };
  });
}

/** A process that ignores every signal but SIGKILL, as a supervisor or hypervisor that hangs. */
export function stuckProcess(s: FakeServices, argv: string[]): FakeProcess {
  const p = s.processes.add(argv);
  p.onSignal = (signal, self) => {
    if (signal === 'SIGKILL') s.processes.exit(self.pid, signal);
  };
  return p;
}
