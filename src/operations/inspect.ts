import type { Kind, KindMap } from '../api/index.js';
import type { Services } from './services.js';

/** Finds one object by name or UID prefix, as `ignite inspect <kind> <name|uid>` shows it. */
export function inspectObject<K extends Kind>(
  s: Pick<Services, 'client'>,
  kind: K,
  query: string,
): Promise<KindMap[K]> {
  return s.client.of(kind).find(query);
}
