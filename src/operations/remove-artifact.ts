import { failedPrecondition } from '../errors.js';
import type { Services } from './services.js';

/** Removes an image or kernel; refuses one that a VM uses, unless forced (then those VMs go too). */
export async function removeImageOrKernel(
  s: Pick<Services, 'client'>,
  kind: 'Image' | 'Kernel',
  query: string,
  options: { force: boolean; removeVM: (uid: string) => Promise<unknown> },
): Promise<string> {
  const kc = kind === 'Image' ? s.client.images : s.client.kernels;
  const obj = await kc.find(query);
  const name = obj.metadata.name;
  const users = (await s.client.vms.list()).filter((vm) =>
    kind === 'Image' ? vm.spec.image.ociClaim.ref === name : vm.spec.kernel?.ociClaim.ref === name,
  );
  if (users.length > 0 && !options.force) {
    throw failedPrecondition(
      `${kind.toLowerCase()} "${name}": in use by VM ${users.map((v) => `"${v.metadata.name}"`).join(', ')}`,
      { hint: 'remove those VMs first, or use -f to remove them too' },
    );
  }
  for (const vm of users) await options.removeVM(vm.metadata.uid);
  await kc.delete(obj.metadata.uid);
  return obj.metadata.uid;
}
