/** Where bin/load-bundle.cjs puts its offer to keep a trained code cache. */
const TRAIN_HOOK = Symbol.for('ignite.trainCodeCache');

/**
 * Tells the bundle loader (bin/load-bundle.cjs) that this process has now done the work later
 * processes of its kind will repeat (a `run`, a supervisor's first VM), so a code cache taken
 * once it is through holds what that work compiles: at exit, or `afterMs` from now if the process
 * lives on. Only the first process of a build does it; run from source or as a single executable,
 * there is no such loader, and this does nothing.
 */
export function offerTrainedCodeCache(options: { afterMs?: number } = {}): void {
  const hook = (globalThis as Record<symbol, unknown>)[TRAIN_HOOK];
  if (typeof hook === 'function') (hook as (o: { afterMs?: number }) => void)(options);
}
