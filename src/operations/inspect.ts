import type { Kind, KindMap } from '../api/index.js';
import type { OperationDeps } from './deps.js';

/** Finds one object by name or UID prefix, as `ignite inspect <kind> <name|uid>` shows it. */
export function inspectObject<K extends Kind>(
  deps: Pick<OperationDeps, 'client'>,
  kind: K,
  query: string,
): Promise<KindMap[K]> {
  return deps.client.of(kind).find(query);
}
