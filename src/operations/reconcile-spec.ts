import { createHash } from 'node:crypto';
import { setVMSpecDefaults, type VM } from '../api/index.js';
import { VMM_ANNOTATION } from './build-vm.js';

/**
 * Annotations a declarative source (gitops) puts on the VMs it creates. Only VMs whose `source`
 * annotation names the same source are ever changed or deleted by it; VMs made by hand are not.
 */
export const MANAGED_BY = 'ignite.weave.works/managed-by';
export const SOURCE_ANNOTATION = 'ignite.weave.works/gitops-source';
export const FILE_ANNOTATION = 'ignite.weave.works/gitops-file';
export const SPEC_HASH_ANNOTATION = 'ignite.weave.works/gitops-spec-hash';
export const OWN_ANNOTATIONS = new Set([
  MANAGED_BY,
  SOURCE_ANNOTATION,
  FILE_ANNOTATION,
  SPEC_HASH_ANNOTATION,
  VMM_ANNOTATION,
]);
/** Written first and replaced at the end: a VM still marked so was interrupted mid-way. */
export const PENDING = 'pending';

/**
 * What cannot change in place: the name and the spec, as the manifest wrote them (defaults are
 * not applied, so a host's defaults changing does not recreate VMs).
 */
export function specHash(vm: VM): string {
  const identity = { name: vm.metadata.name ?? '', spec: vm.spec };
  return createHash('sha256').update(canonicalJSON(identity)).digest('hex').slice(0, 32);
}

function canonicalJSON(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJSON(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The top-level spec fields whose manifest value differs from the stored VM's. The stored spec
 * has defaults applied, so a field the manifest leaves out counts as unchanged, and a field it
 * gives is compared with its defaults filled in too (`image` gains its claim's type, `network`
 * its mode).
 */
export function changedFields(current: VM, wanted: VM): string[] {
  const out: string[] = [];
  if (current.metadata.name !== wanted.metadata.name) out.push('metadata.name');
  const have = current.spec as Record<string, unknown>;
  const want = setVMSpecDefaults(wanted.spec) as Record<string, unknown>;
  for (const [key, value] of Object.entries(wanted.spec as Record<string, unknown>)) {
    if (value !== undefined && canonicalJSON(want[key]) !== canonicalJSON(have[key]))
      out.push(`spec.${key}`);
  }
  return out;
}

/** The annotations a manifest owns: all but those the reconciler writes. */
export function userAnnotations(a: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(a ?? {}).filter(([k]) => !OWN_ANNOTATIONS.has(k)));
}

export function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
