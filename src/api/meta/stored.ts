import type { ObjectMeta } from './schema.js';

/**
 * An object as the store holds it: it has its UID and its name. A manifest may leave both out
 * (the store gives the UID, and a VM a generated name); what the store returns always has them.
 */
export type Stored<T extends { metadata: ObjectMeta }> = T & {
  metadata: T['metadata'] & { uid: string; name: string };
};

/** Whether `obj` has what a stored object has; the store checks this of what it reads. */
export function isStored<T extends { metadata: ObjectMeta }>(obj: T): obj is Stored<T> {
  return (
    obj.metadata.uid !== undefined && obj.metadata.name !== undefined && obj.metadata.name !== ''
  );
}
