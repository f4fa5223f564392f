import { invalidArgument } from '../../errors.js';

type Requirement = (labels: Readonly<Record<string, string>>) => boolean;

/**
 * Parses a Kubernetes equality-based label selector: comma-separated `k=v` (or `k==v`), `k!=v`,
 * `k` (has the label) and `!k` (has not). An empty selector selects everything.
 */
export function parseLabelSelector(
  selector: string,
): (labels: Readonly<Record<string, string>> | undefined) => boolean {
  const reqs: Requirement[] = [];
  for (const raw of selector.split(',')) {
    const term = raw.trim();
    if (term === '') continue;
    const m = /^(!?)([A-Za-z0-9][-A-Za-z0-9_./]*)(?:\s*(==|=|!=)\s*([-A-Za-z0-9_.]*))?$/.exec(term);
    if (!m?.[2]) throw invalidArgument(`labelSelector "${selector}": cannot parse "${term}"`);
    const [, not, key, op, value = ''] = m;
    if (not !== '' && op !== undefined)
      throw invalidArgument(`labelSelector "${selector}": "!${key}" takes no value`);
    if (op === undefined) reqs.push((l) => key in l !== (not === '!'));
    else if (op === '!=') reqs.push((l) => l[key] !== value);
    else reqs.push((l) => l[key] === value);
  }
  return (labels) => reqs.every((r) => r(labels ?? {}));
}
