import type { StoredVM } from '../api/index.js';
import { toAppError } from '../errors.js';
import type { Fleet, HeldHostLease } from '../storage/fleet.js';
import {
  killReplaceableCopies,
  placedOn,
  recordFenced,
  removeForeignCopies,
} from './fleet-copies.js';
import { registerHost, type FleetHostOptions } from './fleet-host.js';
import { Fencing } from './fleet-fencing.js';
import { runScheduler } from './fleet-scheduler.js';
import { FleetVMs } from './fleet-vms.js';
import { keepVMsRunning } from './keep-vms-running.js';
import type { Services } from './services.js';

export type FleetAgentServices = Services & { fleet: Fleet };

export interface FleetAgentOptions extends FleetHostOptions {
  version: string;
  startTimeoutMs: number;
  /** How often the agent looks at the VMs (default 1 s). */
  passIntervalMs?: number;
}

const RETRY_MS = 1000;
/** How often the agent looks at the VMs when no watch event comes first. */
const PASS_INTERVAL_MS = 2000;

/**
 * A fleet host's agent, until `signal` aborts: registers the Host, then, for each term of its
 * lease, first kills its local copies of replaceable VMs (they may be moved any moment), then puts
 * its lease key under the VM kind's lock (ordered with the scheduler's moves) and, still under
 * it, removes its copies of VMs placed elsewhere or gone; only then does it make, start, stop and
 * restart the VMs placed here, until the lease is lost. Beside that, it campaigns to be the
 * scheduler and runs `runScheduler` while elected. On abort, the lease is released.
 */
export async function runFleetAgent(
  s: FleetAgentServices,
  o: FleetAgentOptions,
  signal: AbortSignal,
): Promise<void> {
  const label = `host "${o.name}"`;
  await retry(s, signal, `${label}: registering`, () => registerHost(s, o, o.version));
  let known = await retry(s, signal, `${label}: reading VMs`, () => s.client.vms.list());
  const campaign = campaignForScheduler(s, o, signal);
  while (!signal.aborted && known !== undefined) {
    const killed = killReplaceableCopies(s, known, o.name);
    const term = new AbortController();
    const endTerm = (): void => term.abort();
    signal.addEventListener('abort', endTerm, { once: true });
    const fencing = new Fencing(s, { ttlSeconds: o.leaseTTLSeconds });
    let held: HeldHostLease | undefined;
    try {
      held = await s.client.storage.withLock('VM', async () => {
        const lease = await s.fleet.hostLease(o.name, o.leaseTTLSeconds, {
          renewed: (sentAt) => fencing.renewed(sentAt),
          lost: (err) => {
            s.logger.error({ err }, `${label}: lease lost: ${toAppError(err).message}`);
            endTerm();
          },
        });
        try {
          known = await s.client.vms.list();
          await removeForeignCopies(s, known, o.name);
        } catch (err) {
          await lease.release().catch(() => undefined);
          throw err;
        }
        return lease;
      });
    } catch (err) {
      s.logger.warn({ err }, `${label}: taking the lease: ${toAppError(err).message}`);
      signal.removeEventListener('abort', endTerm);
      await s.clock.sleep(RETRY_MS, signal);
      continue;
    }
    s.logger.info({ host: o.name }, `${label}: lease held (TTL ${o.leaseTTLSeconds} s)`);
    // After the lock: these writes take it themselves.
    await recordFenced(s, killed, o.name).catch((err: unknown) =>
      s.logger.warn({ err }, `${label}: recording fenced VMs: ${toAppError(err).message}`),
    );
    // Pending VMs are made by FleetVMs before anything may start them.
    const owns = (vm: StoredVM): boolean => placedOn(vm, o.name) && vm.status.state !== 'Pending';
    const startEnv = (): NodeJS.ProcessEnv => fencing.startEnv();
    const vms = new FleetVMs(s, { host: o.name, startTimeoutMs: o.startTimeoutMs, startEnv });
    await Promise.all([
      keepVMsRunning(s, term.signal, { startTimeoutMs: o.startTimeoutMs, owns, startEnv }).catch(
        (err: unknown) => s.logger.error({ err }, `${label}: restarts: ${toAppError(err).message}`),
      ),
      (async () => {
        // A change of a VM or of the live hosts starts the next pass at once.
        let nap = new AbortController();
        const poke = (): void => nap.abort();
        term.signal.addEventListener('abort', poke, { once: true });
        const onError = (err: unknown): void =>
          s.logger.warn({ err }, `${label}: watching: ${toAppError(err).message}`);
        const watches = [
          s.client.vms.watch(poke, { onError }),
          s.fleet.watchLiveHosts(poke, { onError }),
        ];
        while (!term.signal.aborted) {
          try {
            known = await s.client.vms.list();
            fencing.track(known.filter((vm) => placedOn(vm, o.name)));
            await vms.pass(known);
          } catch (err) {
            s.logger.warn({ err }, `${label}: checking VMs: ${toAppError(err).message}`);
          }
          if (term.signal.aborted) break;
          if (!nap.signal.aborted)
            await s.clock.sleep(o.passIntervalMs ?? PASS_INTERVAL_MS, nap.signal);
          nap = new AbortController();
        }
        for (const w of watches) w.close();
        await vms.settled();
      })(),
    ]);
    signal.removeEventListener('abort', endTerm);
    if (signal.aborted) await held.release().catch(() => undefined);
    else held.abandon();
  }
  await campaign;
}

/** Campaigns for the scheduler role while `signal` lives, running the scheduler while elected. */
async function campaignForScheduler(
  s: FleetAgentServices,
  o: FleetAgentOptions,
  signal: AbortSignal,
): Promise<void> {
  const deps = {
    client: s.client,
    fleet: s.fleet,
    clock: s.clock,
    logger: s.logger,
    hostName: o.name,
  };
  while (!signal.aborted) {
    const term = new AbortController();
    let scheduling: Promise<void> | undefined;
    let leadership: { close(): Promise<void> } | undefined;
    await new Promise<void>((resolve) => {
      signal.addEventListener('abort', () => resolve(), { once: true });
      leadership = s.fleet.campaign(o.name, {
        elected: () => {
          s.logger.info({ host: o.name }, `host "${o.name}": elected scheduler`);
          scheduling = runScheduler(deps, term.signal, { graceMs: o.graceMs }).catch(
            (err: unknown) =>
              s.logger.error({ err }, `scheduler: stopped: ${toAppError(err).message}`),
          );
        },
        lost: (err) => {
          s.logger.warn(
            { err },
            `host "${o.name}": scheduler election: ${toAppError(err).message}`,
          );
          resolve();
        },
      });
    });
    term.abort();
    await scheduling;
    await leadership?.close().catch(() => undefined);
    if (!signal.aborted) await s.clock.sleep(RETRY_MS, signal);
  }
}

/** Calls `fn` until it succeeds or `signal` aborts (then undefined), logging each failure. */
async function retry<T>(
  s: Pick<Services, 'logger' | 'clock'>,
  signal: AbortSignal,
  what: string,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  while (!signal.aborted) {
    try {
      return await fn();
    } catch (err) {
      s.logger.warn({ err }, `${what}: ${toAppError(err).message}`);
      await s.clock.sleep(RETRY_MS, signal);
    }
  }
  return undefined;
}
