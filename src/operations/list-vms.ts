import { compareText, type StoredVM } from '../api/index.js';
import { invalidArgument } from '../errors.js';
import { refreshVMStates, type VMStateServices } from './vm-state.js';

export interface ListVMsOptions {
  /** Include VMs that are not running (`ps -a`). */
  all: boolean;
  /** Docker-style filters: `name=web`, `state=Running`, `label=k` or `label=k=v`, `image=busybox`. */
  filters: readonly string[];
}

type Predicate = (vm: StoredVM) => boolean;

/** Parses `--filter` expressions; an unknown key is an error naming it. */
export function parseVMFilters(filters: readonly string[]): Predicate[] {
  return filters.map((f) => {
    const eq = f.indexOf('=');
    if (eq <= 0) throw invalidArgument(`--filter "${f}": expected key=value`);
    const key = f.slice(0, eq).toLowerCase();
    const value = f.slice(eq + 1);
    switch (key) {
      case 'name':
        return (vm) => vm.metadata.name.includes(value);
      case 'id':
      case 'uid':
        return (vm) => vm.metadata.uid.startsWith(value);
      case 'state':
      case 'status':
        return (vm) => (vm.status?.state ?? 'Created').toLowerCase() === value.toLowerCase();
      case 'image':
        return (vm) => vm.spec.image.ociClaim.ref.includes(value);
      case 'label': {
        const [k = '', v] = splitOnce(value, '=');
        return (vm) => {
          const labels = vm.metadata.labels ?? {};
          return k in labels && (v === undefined || labels[k] === v);
        };
      }
      default:
        throw invalidArgument(
          `--filter "${f}": unknown key "${key}" (use name, id, state, image, label)`,
        );
    }
  });
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

/** The VMs `ignite ps` shows: running ones, or all with `-a`, filtered, oldest first. */
export async function listVMs(s: VMStateServices, options: ListVMsOptions): Promise<StoredVM[]> {
  // A VM whose supervisor died says Running until someone looks: ps looks, and records the truth.
  const vms = await refreshVMStates(s, await s.client.vms.list());
  return selectVMs(vms, options);
}

/**
 * The VMs of `vms` that `ps` shows: running ones (and in a fleet the Unknown ones, which may
 * still run on a host that lost its lease), or all with `-a`, filtered, oldest first.
 */
export function selectVMs(vms: readonly StoredVM[], options: ListVMsOptions): StoredVM[] {
  const predicates = parseVMFilters(options.filters);
  return vms
    .filter((vm) => options.all || vm.status.state === 'Running' || vm.status.state === 'Unknown')
    .filter((vm) => predicates.every((p) => p(vm)))
    .sort((a, b) => compareText(a.metadata.created ?? '', b.metadata.created ?? ''));
}
