import { join } from 'node:path';
import type { VM } from '../api/index.js';
import { internal, permissionDenied } from '../errors.js';
import type { OperationDeps } from './deps.js';

/**
 * The files of one VM, all in `<dataDir>/vm/<uid>/`, so removing that directory removes the VM
 * whole: metadata.json, the root disk, the SSH key pair, the console log and sockets, the
 * supervisor's log, the metrics socket, and the record of the current run.
 */
export interface VMPaths {
  dir: string;
  rootDiskQcow2: string;
  rootDiskRaw: string;
  sshKey: string;
  sshPubKey: string;
  consoleLog: string;
  consoleSocket: string;
  controlSocket: string;
  spawnLog: string;
  metricsSocket: string;
  /** The supervisor's record of the current run (see vm-run-record.ts). */
  runRecord: string;
}

export function vmPaths(deps: Pick<OperationDeps, 'client'>, vm: VM): VMPaths {
  const uid = vm.metadata.uid;
  const dir = uid === undefined ? undefined : deps.client.vms.objectDir(uid);
  if (uid === undefined || dir === undefined)
    throw internal(`vm "${vm.metadata.name ?? ''}": has no directory`);
  return {
    dir,
    rootDiskQcow2: join(dir, 'rootfs.qcow2'),
    rootDiskRaw: join(dir, 'rootfs.ext4'),
    sshKey: join(dir, `id_${uid}`),
    sshPubKey: join(dir, `id_${uid}.pub`),
    consoleLog: join(dir, 'console.log'),
    consoleSocket: join(dir, 'console.sock'),
    controlSocket: join(dir, 'control.sock'),
    spawnLog: join(dir, 'spawn.log'),
    metricsSocket: join(dir, 'prometheus.sock'),
    runRecord: runRecordPath(dir),
  };
}

export function vmLabel(vm: VM): string {
  return `vm "${vm.metadata.name ?? vm.metadata.uid ?? ''}"`;
}

/**
 * A VM on a network (docker-bridge or cni) needs root: network namespaces, a bridge, a tap and
 * iptables rules. Said up front, with the way out, rather than as a failing `ip` command.
 */
export function requireRootForNetwork(vm: VM, isRoot: boolean): void {
  const mode = vm.spec.network?.mode ?? 'docker-bridge';
  if (mode === 'none' || isRoot) return;
  throw permissionDenied(
    `${vmLabel(vm)}: its network (${mode}) needs root: network namespaces, bridges, taps and iptables rules`,
    { hint: 'run ignite as root, or give the VM no network with --net none' },
  );
}

/** The supervisor's run record in a VM's directory; alone, for `ps`, which asks it of every VM. */
export function runRecordPath(vmDir: string): string {
  return join(vmDir, 'run.json');
}
