import { isAbsolute, sep } from 'node:path';
import { isSSHPublicKeyText, type VM } from '../api/index.js';
import { invalidArgument, type FieldProblem } from '../errors.js';
import type { HostFiles } from '../system/host-files.js';
import type { Services } from './services.js';

/**
 * How far a manifest from a less trusted source (a git repository, a directory of manifests) is
 * trusted. Such a manifest is written by whoever can push to the repository, not by the host's
 * root, so it may name no host file (`copyFiles`, an `ssh` public key path, a volume's block
 * device, image file or shared directory) outside the
 * directories the operator allowed, and may map only host ports inside the operator's range.
 * `ssh: true` (a generated key) needs no host file and is always allowed.
 */
export interface ManifestTrust {
  /** Directories, already resolved with realpath, under which host files may be named. */
  allowHostPaths: string[];
  /** The host ports a manifest may map, inclusive. */
  hostPortRange: [number, number];
}

/** Kubernetes' NodePort range: high, unprivileged, and away from the usual services. */
export const DEFAULT_HOST_PORT_RANGE = '30000-32767';

/** Parses `--host-port-range`: `LOW-HIGH` or a single port, within 1-65535. */
export function parseHostPortRange(value: string): [number, number] {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(value);
  const low = Number(m?.[1]);
  const high = m?.[2] !== undefined ? Number(m[2]) : low;
  if (!m || low < 1 || high > 65535 || low > high)
    throw invalidArgument(
      `--host-port-range "${value}": expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535, such as ${DEFAULT_HOST_PORT_RANGE}`,
    );
  return [low, high];
}

/**
 * Builds the trust from the operator's flags: each allowed directory must exist and is resolved
 * now, so a later check compares real paths with real paths.
 */
export async function resolveManifestTrust(
  s: Pick<Services, 'hostFiles'>,
  o: { allowHostPaths: readonly string[]; hostPortRange: string },
): Promise<ManifestTrust> {
  const allowHostPaths: string[] = [];
  for (const dir of o.allowHostPaths) {
    if (!isAbsolute(dir)) throw invalidArgument(`--allow-host-path "${dir}": use an absolute path`);
    const real = await s.hostFiles.realpath(dir);
    const isDir = real !== undefined && (await s.hostFiles.isDirectory(real));
    if (!isDir) throw invalidArgument(`--allow-host-path "${dir}": not a directory on the host`);
    allowHostPaths.push(real);
  }
  return { allowHostPaths, hostPortRange: parseHostPortRange(o.hostPortRange) };
}

/**
 * What in `vm` the trust does not allow, as field problems (none: allowed). Host paths are
 * resolved with realpath first, so `..` and symlinks, inside an allowed directory or not, are
 * judged by where they really lead; a path that does not resolve is refused.
 */
export async function checkManifestTrust(
  s: Pick<Services, 'hostFiles'>,
  vm: VM,
  trust: ManifestTrust,
): Promise<FieldProblem[]> {
  const problems: FieldProblem[] = [];
  const hostFile = async (path: string, field: string): Promise<void> => {
    const why = await outsideAllowed(s.hostFiles, path, trust.allowHostPaths);
    if (why !== undefined) problems.push({ path: field, message: why });
  };
  for (const [i, f] of (vm.spec.copyFiles ?? []).entries())
    await hostFile(f.hostPath, `.spec.copyFiles[${i}].hostPath`);
  if (typeof vm.spec.ssh === 'string' && !isSSHPublicKeyText(vm.spec.ssh)) {
    // create reads `<path>.pub` unless the path already names the public key.
    const pub = vm.spec.ssh.endsWith('.pub') ? vm.spec.ssh : `${vm.spec.ssh}.pub`;
    await hostFile(pub, '.spec.ssh');
  }
  // Block devices, image files and shared directories are host paths; named volumes are not.
  for (const [i, v] of (vm.spec.storage?.volumes ?? []).entries()) {
    const field = `.spec.storage.volumes[${i}]`;
    if (v.blockDevice) await hostFile(v.blockDevice.path, `${field}.blockDevice.path`);
    if (v.file) await hostFile(v.file.path, `${field}.file.path`);
    if (v.directory) await hostFile(v.directory.path, `${field}.directory.path`);
  }
  const [low, high] = trust.hostPortRange;
  for (const [i, p] of (vm.spec.network?.ports ?? []).entries()) {
    if (p.hostPort < low || p.hostPort > high)
      problems.push({
        path: `.spec.network.ports[${i}].hostPort`,
        message: `host port ${p.hostPort} is outside the allowed range ${low}-${high} (--host-port-range)`,
      });
  }
  return problems;
}

async function outsideAllowed(
  files: HostFiles,
  path: string,
  allowed: readonly string[],
): Promise<string | undefined> {
  const hint =
    allowed.length === 0
      ? 'host files are not allowed from this source (allow a directory with --allow-host-path)'
      : `it is not under an allowed host directory (${allowed.join(', ')})`;
  if (!isAbsolute(path)) return `"${path}": not an absolute path`;
  if (allowed.length === 0) return `"${path}": ${hint}`;
  const real = await files.realpath(path);
  if (real === undefined) return `"${path}": not found on the host`;
  const inside = allowed.some(
    (dir) => real === dir || real.startsWith(dir === sep ? dir : dir + sep),
  );
  if (!inside) return `"${path}"${real !== path ? ` (really ${real})` : ''}: ${hint}`;
  return undefined;
}

/** A VM manifest the trust refused, with why. */
export interface RefusedManifest {
  name: string;
  file: string;
  problems: FieldProblem[];
  message: string;
}

/** Splits a source's VM manifests into the ones the trust allows and the ones it refuses. */
export async function sortByTrust<T extends { vm: VM; file: string }>(
  s: Pick<Services, 'hostFiles'>,
  manifests: readonly T[],
  trust: ManifestTrust,
): Promise<{ trusted: T[]; refused: RefusedManifest[] }> {
  const trusted: T[] = [];
  const refused: RefusedManifest[] = [];
  for (const m of manifests) {
    const problems = await checkManifestTrust(s, m.vm, trust);
    if (problems.length === 0) {
      trusted.push(m);
      continue;
    }
    refused.push({
      name: m.vm.metadata.name ?? m.vm.metadata.uid ?? '',
      file: m.file,
      problems,
      message: `manifest ${m.file}: refused: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    });
  }
  return { trusted, refused };
}
