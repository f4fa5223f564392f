import type { ObjectMeta } from './schema.js';

type StatusOf<T> = T extends { status?: infer S } ? { status: NonNullable<S> } : unknown;

/**
 * An object as the store holds it: it has its UID, its name and a status. A manifest may leave
 * them out (the store gives the UID, a VM gets a generated name, defaulting gives the status);
 * what the store returns always has them.
 */
export type Stored<T extends { metadata: ObjectMeta }> = T & {
  metadata: T['metadata'] & { uid: string; name: string };
} & StatusOf<T>;

/** Whether `obj` has what a stored object has; the store checks this of what it reads. */
export function isStored<T extends { metadata: ObjectMeta; status?: unknown }>(
  obj: T,
): obj is Stored<T> & T {
  return (
    obj.metadata.uid !== undefined &&
    obj.metadata.name !== undefined &&
    obj.metadata.name !== '' &&
    obj.status !== undefined
  );
}
