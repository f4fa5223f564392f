import type { HandledSignal, SignalHook } from './program-io.js';

/**
 * A signal hook of one VM in a process that supervises many: signals are delivered by request,
 * not by the kernel. One sent while nothing listens yet (a stop asked while the VM still boots)
 * waits for the first listener instead of being lost.
 */
export class QueuedSignals implements SignalHook {
  private readonly listeners = new Map<HandledSignal, Set<() => void>>();
  private readonly pending = new Set<HandledSignal>();

  on(signal: HandledSignal, fn: () => void): () => void {
    return this.add(signal, fn, false);
  }

  once(signal: HandledSignal, fn: () => void): () => void {
    return this.add(signal, fn, true);
  }

  /** Delivers `signal` to its listeners, or keeps it for the first one. */
  emit(signal: HandledSignal): void {
    const fns = [...(this.listeners.get(signal) ?? [])];
    if (fns.length === 0) {
      this.pending.add(signal);
      return;
    }
    for (const fn of fns) fn();
  }

  private add(signal: HandledSignal, fn: () => void, once: boolean): () => void {
    const set = this.listeners.get(signal) ?? new Set<() => void>();
    this.listeners.set(signal, set);
    const listener = once
      ? () => {
          set.delete(listener);
          fn();
        }
      : fn;
    set.add(listener);
    if (this.pending.delete(signal)) queueMicrotask(() => this.emit(signal));
    return () => void set.delete(listener);
  }
}
