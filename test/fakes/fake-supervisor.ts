import { unavailable } from '../../src/errors.js';
import { HostSupervisor } from '../../src/operations/host-supervisor.js';
import {
  HOST_SUPERVISOR_FLAG,
  parseHostSupervisorRequest,
  type HostSupervisorRequest,
} from '../../src/operations/supervision.js';
import type { QueuedSignals } from '../../src/system/queued-signals.js';
import { type FakeProcess, type SpawnRecord } from './fake-processes.js';
import type { FakeServices } from './fake-services.js';

/**
 * What a spawned host supervisor (ignite-spawn --supervise-host) does:
 * - `supervises`: runs the real HostSupervisor in this process, serving its requests on the fake
 *   sockets, with its PID as the host's for the VMs it supervises;
 * - `hangs`: answers pings, but a VM handed to it is never reported running (its starter's
 *   request times out);
 * - `dies`: exits at once.
 */
export type SupervisorBehaviour =
  { kind: 'supervises'; stopTimeoutMs?: number } | { kind: 'hangs' } | { kind: 'dies' };

/** A VM handed to a fake host supervisor. */
export interface FakeSupervisor {
  /** How the host supervisor was spawned. */
  record: SpawnRecord;
  uid: string;
  /** The request that handed it the VM. */
  request: Extract<HostSupervisorRequest, { op: 'supervise' }>;
  signals: QueuedSignals;
  /** Settles when its supervision of the VM has ended. */
  done: Promise<void>;
}

/** Makes every host supervisor the use cases start behave as `b`; returns the VMs handed to them. */
export function installSupervisor(s: FakeServices, b: SupervisorBehaviour): FakeSupervisor[] {
  const started: FakeSupervisor[] = [];
  s.processes.onSpawn = (record) => {
    if (!record.args.includes(HOST_SUPERVISOR_FLAG)) return;
    const p = record.process;
    const socket = s.layout.hostSupervisorSocket;
    const ref: { host?: HostSupervisor } = {};
    const stop = (signal?: NodeJS.Signals): void => {
      s.processes.exit(p.pid, signal);
      s.requests.served.delete(socket);
    };
    p.onSignal = (signal) => {
      if (signal === 'SIGKILL') stop(signal);
      else if (signal === 'SIGTERM') ref.host?.signalAll('SIGTERM');
    };
    if (b.kind === 'dies') {
      stop();
      return;
    }
    if (b.kind === 'hangs') {
      void s.requests.serve(socket, (raw) => {
        const r = parseHostSupervisorRequest(raw);
        if (r.op === 'ping') return Promise.resolve({ pid: p.pid });
        if (r.op === 'signal') return Promise.resolve({});
        // Taken on, never answered: the asking side gives up after its timeout.
        const waited = s.requests.sent.at(-1)?.timeoutMs ?? 0;
        return s.runtimeFiles
          .markSupervised(r.uid, p.pid)
          .then(() => s.clock.sleep(waited))
          .then(() => {
            throw unavailable(`${socket}: no answer within ${Math.round(waited / 1000)} s`);
          });
      });
      return;
    }
    const own = { ...s, host: { ...s.host, pid: p.pid } };
    const host = new HostSupervisor(
      own,
      (uid, o) => {
        const request = pending.get(uid);
        if (request === undefined) throw new Error(`no request for ${uid}`);
        let finish = (): void => undefined;
        const done = new Promise<void>((resolve) => (finish = resolve));
        started.push({ record, uid, request, signals: o.signals, done });
        return {
          services: { ...own, signals: o.signals, config: { ...s.config, env: o.env } },
          close: () => {
            finish();
            return Promise.resolve();
          },
        };
      },
      60_000,
    );
    const pending = new Map<string, Extract<HostSupervisorRequest, { op: 'supervise' }>>();
    const handle = host.handle;
    void s.requests.serve(socket, (raw) => {
      const r = parseHostSupervisorRequest(raw);
      if (r.op !== 'supervise') return handle(r);
      pending.set(r.uid, r);
      return handle(b.stopTimeoutMs !== undefined ? { ...r, stopTimeoutMs: b.stopTimeoutMs } : r);
    });
    ref.host = host;
    void host.idle.then(() => stop());
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
