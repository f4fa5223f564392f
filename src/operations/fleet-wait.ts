import type { StoredVM } from '../api/index.js';
import { notFound, toAppError, unavailable, type AppError } from '../errors.js';
import type { Client } from '../storage/client.js';
import type { Clock } from '../system/clock.js';
import { vmLabel } from './vm-paths.js';

/** What a fleet command waits for: the VM made on its host, running, or not running. */
export type FleetWant = 'Created' | 'Running' | 'Stopped';

function reached(vm: StoredVM, want: FleetWant): boolean {
  const state = vm.status.state;
  if (want === 'Created') return state !== 'Pending' && vm.status.host !== undefined;
  if (want === 'Running') return state === 'Running';
  return state !== 'Running';
}

/** Why `vm` has not reached `want`, for the error a timeout gives. */
export function notReachedError(vm: StoredVM, want: FleetWant): AppError {
  const label = vmLabel(vm);
  const host = vm.status.host;
  const message = vm.status.placement?.message;
  if (host === undefined)
    return unavailable(`${label}: not placed: ${message ?? 'no scheduler placed it in time'}`, {
      hint: 'it stays stored and is placed once a host fits; remove it with `ignite rm`',
    });
  if (vm.status.state === 'Pending')
    return unavailable(
      `${label}: not made on host "${host}" in time${message !== undefined ? `: ${message}` : ''}`,
    );
  const exit = vm.status.lastExit;
  const why =
    exit !== undefined
      ? ` (last exit: ${exit.reason}${exit.message ? `, ${exit.message}` : ''})`
      : '';
  const verb = want === 'Stopped' ? 'stopped' : 'started';
  return unavailable(`${label}: not ${verb} on host "${host}" in time${why}`);
}

/**
 * Waits, watching the shared store, until the VM reaches `want`; fails after `timeoutMs` with
 * what is holding it up (placement.message), or at once when the VM is removed meanwhile. The
 * VM stays stored either way.
 */
export function waitForVM(
  deps: { client: Client; clock: Clock },
  vm: StoredVM,
  options: { want: FleetWant; timeoutMs: number },
): Promise<StoredVM> {
  return waitUntil(deps, vm, (v) => reached(v, options.want), {
    timeoutMs: options.timeoutMs,
    onTimeout: (last) => notReachedError(last, options.want),
  });
}

/**
 * Waits, watching the shared store, until `ok` holds of the VM; after `timeoutMs` fails with
 * `onTimeout` of the VM as last seen, and at once with NotFound when the VM is removed.
 */
export async function waitUntil(
  deps: { client: Client; clock: Clock },
  vm: StoredVM,
  ok: (vm: StoredVM) => boolean,
  options: { timeoutMs: number; onTimeout: (last: StoredVM) => AppError },
): Promise<StoredVM> {
  const uid = vm.metadata.uid;
  if (ok(vm)) return vm;
  const stop = new AbortController();
  let last = vm;
  try {
    return await new Promise<StoredVM>((resolve, reject) => {
      const look = (current: StoredVM | undefined): void => {
        if (current === undefined) {
          reject(notFound(`${vmLabel(last)}: removed while waiting for it`));
          return;
        }
        last = current;
        if (ok(current)) resolve(current);
      };
      const watch = deps.client.vms.watch(
        (change) => {
          if (change.uid !== uid) return;
          look(change.type === 'DELETED' ? undefined : change.obj);
        },
        { onError: () => undefined },
      );
      stop.signal.addEventListener('abort', () => watch.close(), { once: true });
      void watch.ready
        .then(() => deps.client.vms.get(uid))
        .then(look, (err: unknown) =>
          (err as { code?: string }).code === 'NotFound'
            ? look(undefined)
            : reject(toAppError(err)),
        );
      void deps.clock
        .sleep(options.timeoutMs, stop.signal)
        .then(() => reject(options.onTimeout(last)));
    });
  } finally {
    stop.abort();
  }
}
