import { isSSHPublicKeyText, type StoredVM, type VM } from '../api/index.js';
import { AppError, invalidArgument, toAppError } from '../errors.js';
import { hostVMDefaults } from '../system/vm-defaults.js';
import { buildVM, VMM_ANNOTATION, validateVMName, type CreateVMOptions } from './build-vm.js';
import { cloneSource } from './clone-source.js';
import { checkHostPortsFree } from './host-port-check.js';
import { uniqueRandomName } from './names.js';
import { networkTargetsOf } from './vm-network-target.js';
import type { Services } from './services.js';
import { createdStatus, importVMArtifacts, makeVMFiles } from './make-vm.js';
import { requireRootForNetwork, vmLabel } from './vm-paths.js';
import { checkVolumeSources } from './vm-volumes.js';

export { buildVM, VMM_ANNOTATION, validateVMName, type CreateVMOptions };

export type CreateVMServices = Pick<
  Services,
  | 'config'
  | 'layout'
  | 'client'
  | 'logger'
  | 'host'
  | 'hostFiles'
  | 'hostPorts'
  | 'network'
  | 'namedNetworks'
  | 'vmms'
  | 'imports'
  | 'rootDisks'
  | 'runtimeFiles'
  | 'sshKeys'
  | 'stateFiles'
  | 'trace'
>;

/** Reads `--config <file|->`: a VM manifest in YAML or JSON. */
export async function readManifestFile(
  s: Pick<Services, 'hostFiles'>,
  path: string,
  stdin: NodeJS.ReadableStream,
): Promise<string> {
  if (path !== '-') {
    try {
      return await s.hostFiles.readText(path);
    } catch (err) {
      throw invalidArgument(`--config ${path}: ${toAppError(err).message}`, { cause: err });
    }
  }
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

/** Picks the name: the given one (checked), or a random one not taken. */
export async function chooseName(s: Pick<Services, 'client'>, vm: VM): Promise<string> {
  if (vm.metadata.name) {
    validateVMName(vm.metadata.name);
    return vm.metadata.name;
  }
  const taken = new Set((await s.client.vms.list()).map((v) => v.metadata.name));
  return uniqueRandomName(taken);
}

export { vmLabel };

/**
 * Creates a VM: merges flags over the manifest, imports its image and kernel when needed, stores
 * it, and builds its root disk. If anything fails after the VM was stored, the VM and its
 * directory are removed again, so a failed create leaves nothing behind.
 */
export async function createVM(s: CreateVMServices, given: CreateVMOptions): Promise<StoredVM> {
  const from = given.fromSnapshot;
  const clone =
    from !== undefined ? await cloneSource(s, { ...given, fromSnapshot: from }) : undefined;
  const options = clone?.options ?? given;
  const vm = buildVM(options, hostVMDefaults(s.config));
  requireRootForNetwork(vm, s.host.isRoot);
  const vmm = await s.vmms.pick(options.vmm ?? vm.metadata.annotations?.[VMM_ANNOTATION]);
  vm.metadata.annotations = {
    ...vm.metadata.annotations,
    [VMM_ANNOTATION]: vmm,
    ...clone?.annotations,
  };
  const authorizedKeys: string[] = [];
  if (typeof vm.spec.ssh === 'string') authorizedKeys.push(await readPublicKey(s, vm.spec.ssh));
  for (const f of vm.spec.copyFiles ?? []) {
    if (!(await s.hostFiles.isReadable(f.hostPath)))
      throw invalidArgument(`--copy-files: ${f.hostPath}: not found on the host or not readable`);
  }
  await checkHostPortsFree(s, vm);
  await checkVolumeSources(s, vm, vmm);
  // The network and a static address in it are checked before anything is pulled or stored.
  const networks = await networkTargetsOf(s, vm);

  s.trace.mark('create: checked');
  const artifacts = await importVMArtifacts(s, vm, vmm);
  s.trace.mark('create: image and kernel found');
  vm.status = {
    ...createdStatus(artifacts),
    ...(options.toRun === true ? { desiredState: 'Running' as const } : {}),
  };

  // Uniqueness is checked under the store's lock, in create(); a generated name that another
  // create took meanwhile is simply generated again.
  const generated = !vm.metadata.name;
  let created: StoredVM | undefined;
  for (let attempt = 0; created === undefined; attempt++) {
    vm.metadata.name = generated
      ? await chooseName(s, { ...vm, metadata: { ...vm.metadata, name: '' } })
      : await chooseName(s, vm);
    try {
      created = await s.client.vms.create(vm);
    } catch (err) {
      if (!(generated && AppError.is(err, 'AlreadyExists') && attempt < 10)) throw err;
    }
  }
  const uid = created.metadata.uid;
  const name = created.metadata.name;
  s.trace.mark('create: stored');
  try {
    await checkHostPortsFree(s, created, { afterStore: true });
    await makeVMFiles(s, created, {
      ...artifacts,
      vmm,
      networks,
      authorizedKeys,
      ...(clone !== undefined ? { clone: { disk: clone.disk, state: clone.state } } : {}),
    });
  } catch (err) {
    await s.network.release({ uid }).catch(() => undefined);
    await s.client.vms.delete(uid).catch(() => undefined);
    throw err;
  }
  s.trace.mark('create: files made');
  s.logger.info({ vm: name, uid }, `Created VM with ID "${uid}" and name "${name}"`);
  return created;
}

async function readPublicKey(s: Pick<Services, 'hostFiles'>, path: string): Promise<string> {
  // A client of the daemon sends the key it read on its own host.
  if (isSSHPublicKeyText(path)) return path.trim();
  const file = path.endsWith('.pub') ? path : `${path}.pub`;
  try {
    const key = (await s.hostFiles.readText(file)).trim();
    if (!/^(ssh-|ecdsa-|sk-)/.test(key))
      throw invalidArgument(`--ssh ${file}: not an SSH public key`);
    return key;
  } catch (err) {
    if (AppError.is(err)) throw err;
    throw invalidArgument(`--ssh ${file}: cannot read the public key: ${toAppError(err).message}`, {
      cause: err,
    });
  }
}
