import { API_VERSION, NAME_PATTERN, fromPlain, parseDocuments, type VM } from '../api/index.js';
import { AppError, toAppError, type FieldProblem } from '../errors.js';
import type { DesiredState } from './reconcile-steps.js';

/** A manifest file of a source (a repository at one commit, a directory), by its path in it. */
export interface ManifestFile {
  path: string;
  text: string;
}

/** A manifest file the source holds but could not hand over (too large, unreadable), with why. */
export interface UnreadableManifest {
  path: string;
  reason: string;
}

/** Manifests larger than this are refused rather than parsed: no VM manifest is this big. */
export const MAX_MANIFEST_BYTES = 1 << 20;

export interface InvalidManifest {
  file: string;
  problems: FieldProblem[];
  message: string;
}

export const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'] as const;

export function isManifestPath(path: string): boolean {
  return MANIFEST_EXTENSIONS.some((ext) => path.toLowerCase().endsWith(ext));
}

/**
 * Reads the desired state from a source's manifests. Documents of another API group (a CI
 * config, a Kubernetes manifest) are not ours and are passed over; a document of ours that does
 * not validate makes its whole file invalid, so a half-read file never deletes a VM.
 * Two manifests for the same VM, or the same host port mapped by two VMs, make the later file
 * invalid.
 */
export function readDesiredState(
  files: readonly ManifestFile[],
  unreadable: readonly UnreadableManifest[] = [],
): {
  desired: DesiredState;
  invalid: InvalidManifest[];
} {
  const desired: DesiredState = { vms: [], images: [], kernels: [], invalidFiles: [] };
  const invalid: InvalidManifest[] = [];
  const byIdentity = new Map<string, string>();
  const hostPorts = new Map<string, string>();
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    try {
      const objects = parseDocuments(file.text, file.path)
        .filter(isOurs)
        .map((doc) => fromPlain(doc, { source: file.path, defaults: false }));
      const vms = objects.filter((o): o is VM => o.kind === 'VM');
      const problems: FieldProblem[] = [];
      vms.forEach((vm, i) => problems.push(...checkVM(vm, i, vms.length, file.path)));
      for (const vm of vms) {
        const id = identity(vm);
        const other = byIdentity.get(id);
        if (other !== undefined)
          problems.push({ path: '.metadata', message: `${id} is also defined in ${other}` });
        vm.spec.network?.ports?.forEach((p, i) => {
          const key = `${p.hostPort}/${p.protocol ?? 'tcp'}`;
          const user = hostPorts.get(key);
          if (user !== undefined)
            problems.push({
              path: `.spec.network.ports[${i}]`,
              message: `host port ${key} is already mapped by ${user}`,
            });
        });
      }
      if (problems.length > 0) throw new AppError('InvalidArgument', 'invalid', { problems });
      for (const vm of vms) {
        byIdentity.set(identity(vm), file.path);
        for (const p of vm.spec.network?.ports ?? [])
          hostPorts.set(`${p.hostPort}/${p.protocol ?? 'tcp'}`, `vm "${vm.metadata.name ?? ''}"`);
        desired.vms.push({ vm, file: file.path });
      }
      for (const o of objects) {
        if (o.kind === 'Image') desired.images.push({ obj: o, file: file.path });
        if (o.kind === 'Kernel') desired.kernels.push({ obj: o, file: file.path });
        if (o.kind !== 'VM' && o.kind !== 'Image' && o.kind !== 'Kernel')
          (desired.hostObjects ??= []).push({
            kind: o.kind,
            name: o.metadata.name ?? '',
            file: file.path,
          });
      }
    } catch (err) {
      const e = toAppError(err);
      const problems = e.problems.length > 0 ? e.problems : [{ path: '.', message: e.message }];
      desired.invalidFiles.push(file.path);
      invalid.push({
        file: file.path,
        problems,
        message: `manifest ${file.path}: invalid: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      });
    }
  }
  for (const file of unreadable) {
    desired.invalidFiles.push(file.path);
    invalid.push({
      file: file.path,
      problems: [{ path: '.', message: file.reason }],
      message: `manifest ${file.path}: invalid: ${file.reason}`,
    });
  }
  return { desired, invalid };
}

/** Our documents: any `ignite.weave.works/…` apiVersion (a wrong version is then reported). */
function isOurs(doc: unknown): boolean {
  if (typeof doc !== 'object' || doc === null) return true;
  const apiVersion = (doc as Record<string, unknown>)['apiVersion'];
  return typeof apiVersion !== 'string' || apiVersion.startsWith(API_VERSION.split('/')[0] ?? '');
}

function identity(vm: VM): string {
  return vm.metadata.uid !== undefined
    ? `vm uid ${vm.metadata.uid}`
    : `vm "${vm.metadata.name ?? ''}"`;
}

function checkVM(vm: VM, index: number, count: number, file: string): FieldProblem[] {
  const at = count > 1 ? `[document ${index}]` : '';
  const name = vm.metadata.name;
  if (!name) return [{ path: `${at}.metadata.name`, message: `a VM in ${file} needs a name` }];
  if (!NAME_PATTERN.test(name))
    return [
      {
        path: `${at}.metadata.name`,
        message: `"${name}": use 1-63 lower-case letters, digits, '.', '_' or '-'`,
      },
    ];
  return [];
}
