import { join } from 'node:path';
import { API_VERSION, Size, formatImageRef, type Kernel, type StoredKernel } from '../api/index.js';
import { extractVmlinux, kernelVersion, pullKernelFiles } from '../image/index.js';
import { KERNEL_INITRD, KERNEL_MODULES, KERNEL_VMLINUX } from '../storage/layout.js';
import {
  importPrologue,
  limitsOf,
  parseRef,
  storeWithFiles,
  type ImportServices,
} from './import-common.js';
import type { ImportOptions } from './services.js';

/**
 * Imports a kernel image: pulls it, finds `/boot/vmlinux` (or extracts it from a bzImage), an
 * initrd and `/lib/modules/<release>`, and records the kernel's release. Files:
 * `<dataDir>/kernel/<uid>/vmlinux`, `initrd`, `modules.tar`.
 */
export async function importKernel(
  s: ImportServices,
  refText: string,
  options: ImportOptions = {},
): Promise<StoredKernel> {
  const ref = parseRef(refText);
  const name = formatImageRef(ref);
  const limits = limitsOf(s);
  const existing = await importPrologue(s, 'Kernel', name);
  if (existing) return existing;
  const label = `kernel "${name}"`;
  return s.importWorkspace.withDir(async (work) => {
    const pulled = await pullKernelFiles({
      client: s.registry,
      ref,
      workDir: work,
      label,
      limits,
      ...(options.progress ? { progress: options.progress } : {}),
    });
    const vmlinux = join(work, KERNEL_VMLINUX);
    if (pulled.kernel.kind === 'bzImage') {
      await extractVmlinux(pulled.kernel.path, vmlinux, label, { shownAs: pulled.kernel.name });
      await s.importWorkspace.remove(pulled.kernel.path);
    }
    const files: [string, string][] = [[vmlinux, KERNEL_VMLINUX]];
    if (pulled.initrd !== undefined) files.push([pulled.initrd, KERNEL_INITRD]);
    const version = await kernelVersion(vmlinux);
    if (pulled.modules !== undefined) {
      // Only the kernel's own release is ever copied into a VM; modules of others are dropped.
      if (pulled.modules.releases.includes(version))
        files.push([pulled.modules.path, KERNEL_MODULES]);
      else
        s.logger.warn(
          { kernel: name },
          `${label}: /lib/modules has ${pulled.modules.releases.join(', ')}, not ${version}; VMs get no modules from it`,
        );
    }
    const size = await s.importWorkspace.size(vmlinux);
    const kernel: Kernel = {
      apiVersion: API_VERSION,
      kind: 'Kernel',
      metadata: { name },
      spec: { ociClaim: { type: 'Docker', ref: name } },
      status: {
        version,
        ociSource: {
          id: pulled.configDigest,
          size: Size.fromBytes(size),
          repoDigests: [`${ref.domain}/${ref.path}@${pulled.manifestDigest}`],
        },
      },
    };
    return storeWithFiles(s, 'Kernel', kernel, work, files, options);
  });
}
