import type { ExpositionSample, MetricFamily } from './exposition.js';

/** One exposition to merge, e.g. the registry of one VM's supervisor. */
export interface ExpositionSource {
  families: readonly MetricFamily[];
  /**
   * Labels every sample of this source must carry; added where missing, so that samples of
   * the same family from different VMs stay distinct series.
   */
  labels?: Readonly<Record<string, string>>;
  /** Names the source in problems, e.g. `vm "web"`. */
  origin?: string;
}

export interface MergeResult {
  families: MetricFamily[];
  /** What was dropped to keep the result valid, one line each. */
  problems: string[];
}

/**
 * Combines expositions into one in which every family appears once, under one HELP and TYPE,
 * as the text format requires. The first source to declare a family sets its HELP and TYPE; a
 * later family of another type, or a series (name and label set) already present, is dropped and
 * reported. Family order is that of first appearance.
 */
export function mergeExpositions(sources: readonly ExpositionSource[]): MergeResult {
  const merged = new Map<string, MetricFamily>();
  // Sample name -> family name: a histogram's `x_count` must not collide with a family `x_count`.
  const owners = new Map<string, string>();
  const series = new Set<string>();
  const problems: string[] = [];

  for (const [index, source] of sources.entries()) {
    const origin = source.origin ?? `source ${index + 1}`;
    for (const family of source.families) {
      let target = merged.get(family.name);
      if (target && target.type !== family.type) {
        problems.push(
          `${origin}: metric ${family.name}: type ${family.type} conflicts with ${target.type}; dropped`,
        );
        continue;
      }
      if (!target) {
        target = { name: family.name, type: family.type, samples: [] };
        merged.set(family.name, target);
      }
      if (target.help === undefined && family.help !== undefined) target.help = family.help;
      for (const sample of family.samples) {
        const owner = owners.get(sample.name);
        if (owner !== undefined && owner !== family.name) {
          problems.push(`${origin}: sample ${sample.name} also belongs to ${owner}; dropped`);
          continue;
        }
        const labelled = withLabels(sample, source.labels);
        const key = seriesKey(labelled);
        if (series.has(key)) {
          problems.push(`${origin}: duplicate series ${key}; dropped`);
          continue;
        }
        series.add(key);
        owners.set(sample.name, family.name);
        target.samples.push(labelled);
      }
    }
  }
  return { families: [...merged.values()], problems };
}

function withLabels(
  sample: ExpositionSample,
  labels: Readonly<Record<string, string>> | undefined,
): ExpositionSample {
  if (labels === undefined) return sample;
  const present = new Set(sample.labels.map(([name]) => name));
  const missing = Object.entries(labels).filter(([name]) => !present.has(name));
  return missing.length === 0 ? sample : { ...sample, labels: [...sample.labels, ...missing] };
}

function seriesKey(sample: ExpositionSample): string {
  const labels = [...sample.labels]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `${sample.name}{${labels.join(',')}}`;
}
