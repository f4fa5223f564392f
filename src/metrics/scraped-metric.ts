import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Metrics whose values live elsewhere (procfs, the hypervisor, storage) and are read when
 * Prometheus scrapes. prom-client's Counter can only be incremented, and an unlabelled metric
 * always shows a 0 sample; a cumulative figure read from a source must instead be reported as
 * it is, and a figure that does not exist right now (no hypervisor yet) must show no sample. So
 * these subclasses keep prom-client's type, name and registration but replace the samples with
 * what `read` returns. A source going backwards (a restarted hypervisor) is a counter reset,
 * which Prometheus's rate() already handles.
 */

/** One sample: labels beyond the registry's default labels, and the value. */
export interface Sample<T extends string = string> {
  labels?: Partial<Record<T, string>>;
  value: number;
}

/** Reports a source that failed; the scrape goes on with that metric's last samples. */
export type SampleErrorHandler = (err: unknown, metricName: string) => void;

export interface ScrapedMetricConfig<T extends string> {
  name: string;
  help: string;
  labelNames?: readonly T[];
  registry: Registry;
  /** The samples now; [] shows none. Throwing keeps the previous samples. */
  read: () => readonly Sample<T>[] | Promise<readonly Sample<T>[]>;
  onError?: SampleErrorHandler;
}

type Values<T extends string> = { value: number; labels: Partial<Record<T, string>> }[];

class Sampler<T extends string> {
  private last: Values<T> = [];

  constructor(
    private readonly config: ScrapedMetricConfig<T>,
    private readonly monotonic: boolean,
  ) {}

  async sample(): Promise<Values<T>> {
    try {
      const samples = await this.config.read();
      const values = samples.map((s) => {
        if (!Number.isFinite(s.value) || (this.monotonic && s.value < 0)) {
          throw new RangeError(`invalid value ${s.value}`);
        }
        return { value: s.value, labels: { ...s.labels } };
      });
      this.last = values;
    } catch (err) {
      this.config.onError?.(err, this.config.name);
    }
    return this.last;
  }
}

function baseConfig<T extends string>(
  c: ScrapedMetricConfig<T>,
): { name: string; help: string; labelNames: readonly T[]; registers: Registry[] } {
  return { name: c.name, help: c.help, labelNames: c.labelNames ?? [], registers: [c.registry] };
}

/** A counter whose value is a cumulative total read from a source at scrape time. */
export class ScrapedCounter<T extends string = string> extends Counter<T> {
  private readonly sampler: Sampler<T>;

  constructor(config: ScrapedMetricConfig<T>) {
    super(baseConfig(config));
    this.sampler = new Sampler(config, true);
  }

  override async get(): ReturnType<Counter<T>['get']> {
    return { ...(await super.get()), values: await this.sampler.sample() };
  }
}

/** A gauge whose value is read from a source at scrape time. */
export class ScrapedGauge<T extends string = string> extends Gauge<T> {
  private readonly sampler: Sampler<T>;

  constructor(config: ScrapedMetricConfig<T>) {
    super(baseConfig(config));
    this.sampler = new Sampler(config, false);
  }

  override async get(): ReturnType<Gauge<T>['get']> {
    return { ...(await super.get()), values: await this.sampler.sample() };
  }
}

/**
 * Wraps an async read so that calls made while one is under way share it: the metrics of one
 * scrape are collected concurrently, and the four block counters should cost one query of the
 * hypervisor, not four.
 */
export function coalesce<R>(read: () => Promise<R>): () => Promise<R> {
  let pending: Promise<R> | undefined;
  return () => {
    pending ??= read().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}
