import type { HandledSignal, SignalHook } from '../../src/system/program-io.js';

/** A process's signals as a test sends them: `emit` runs the handlers as the signal would. */
export class FakeSignals implements SignalHook {
  private readonly handlers: { signal: HandledSignal; fn: () => void; once: boolean }[] = [];

  on(signal: HandledSignal, fn: () => void): () => void {
    return this.add(signal, fn, false);
  }

  once(signal: HandledSignal, fn: () => void): () => void {
    return this.add(signal, fn, true);
  }

  /** Delivers a signal; false when nothing listens (the signal then has its default effect). */
  emit(signal: HandledSignal): boolean {
    const now = this.handlers.filter((h) => h.signal === signal);
    for (const h of now) {
      if (h.once) this.handlers.splice(this.handlers.indexOf(h), 1);
      h.fn();
    }
    return now.length > 0;
  }

  /** How many handlers listen to `signal`. */
  listeners(signal: HandledSignal): number {
    return this.handlers.filter((h) => h.signal === signal).length;
  }

  private add(signal: HandledSignal, fn: () => void, once: boolean): () => void {
    const h = { signal, fn, once };
    this.handlers.push(h);
    return () => {
      const i = this.handlers.indexOf(h);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }
}
