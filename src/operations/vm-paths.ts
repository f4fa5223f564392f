import type { DefaultedVM, StoredVM, VM } from '../api/index.js';
import { permissionDenied } from '../errors.js';
import type { VMFiles } from '../storage/layout.js';
import type { Services } from './services.js';

/** The files of a stored VM (see storage/layout.ts). */
export function vmPaths(s: Pick<Services, 'layout'>, vm: StoredVM): VMFiles {
  return s.layout.vm(vm.metadata.uid);
}

export function vmLabel(vm: VM): string {
  return `vm "${vm.metadata.name ?? vm.metadata.uid ?? ''}"`;
}

/**
 * A VM on a bridged network (docker-bridge or cni) needs root: network namespaces, a bridge, a
 * tap and iptables rules. Said up front, with the way out, rather than as a failing `ip` command.
 * `user` and `none` need no privilege.
 */
export function requireRootForNetwork(vm: DefaultedVM, isRoot: boolean): void {
  const mode = vm.spec.network.mode;
  if (mode === 'none' || mode === 'user' || isRoot) return;
  throw permissionDenied(
    `${vmLabel(vm)}: its network (${mode}) needs root: network namespaces, bridges, taps and iptables rules`,
    {
      hint: 'run ignite as root, or use user-mode networking with --net user (the default without root)',
    },
  );
}
