import { z } from 'zod';

/** The API group, its version, and its kinds: the names every schema of the group shares. */
export const GROUP = 'ignite.weave.works';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}` as const;

export const KINDS = ['VM', 'Image', 'Kernel', 'Snapshot', 'Host', 'Volume', 'Network'] as const;
export type Kind = (typeof KINDS)[number];

/** The `apiVersion` and `kind` fields of a kind's schema. */
export const typeMeta = <K extends Kind>(kind: K) => ({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(kind),
});
