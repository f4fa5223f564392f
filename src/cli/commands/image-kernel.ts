import { Command } from 'commander';
import {
  importImage,
  importImageFromFile,
  importKernel,
  isLocalSource,
} from '../../operations/import-image.js';
import { removeImageOrKernel } from '../../operations/remove-artifact.js';
import { removeVM } from '../../operations/remove-vm.js';
import type { CliContext } from '../context.js';
import { pullProgress } from '../output/progress.js';

export function importCommand(ctx: CliContext, kind: 'Image' | 'Kernel'): Command {
  const noun = kind.toLowerCase();
  return new Command('import')
    .description(
      `Import an OCI image as a ${noun}: pull it from its registry (no Docker needed)${kind === 'Image' ? ' and build its ext4 root filesystem' : ' and extract its vmlinux'}`,
    )
    .argument(
      '<image>',
      kind === 'Image'
        ? 'an OCI image reference (127.0.0.1:5000/ignite-busybox), or a docker save tarball or OCI layout (directory or tar)'
        : 'an OCI image reference, such as 127.0.0.1:5000/ignite-kernel:6.1',
    )
    .option(
      '--name <ref>',
      'name for an image imported from a file (default: the name the archive gives)',
    )
    .action(async (ref: string, opts: { name?: string }, cmd: Command) => {
      const deps = ctx.services(cmd);
      const bars = pullProgress(ctx.io.stderr, `${noun} "${ref}"`);
      if (kind === 'Image' && (await isLocalSource(deps, ref))) {
        try {
          const img = await importImageFromFile(deps, ref, {
            ...(bars.progress ? { progress: bars.progress } : {}),
            ...(opts.name !== undefined ? { name: opts.name } : {}),
          });
          ctx.out(`${img.metadata.uid}\n`);
        } finally {
          bars.stop();
        }
        return;
      }
      try {
        const obj =
          kind === 'Image'
            ? await importImage(deps, ref, bars.progress ? { progress: bars.progress } : {})
            : await importKernel(deps, ref, bars.progress ? { progress: bars.progress } : {});
        bars.stop();
        ctx.out(`${obj.metadata.uid}\n`);
      } finally {
        bars.stop();
      }
    });
}

export function removeCommand(ctx: CliContext, kind: 'Image' | 'Kernel', name = 'rm'): Command {
  const noun = kind.toLowerCase();
  return new Command(name)
    .description(`Remove ${noun}s; refuses one a VM uses unless -f, which removes those VMs too`)
    .argument(`<${noun}...>`, 'names, IDs, or unique prefixes')
    .option('-f, --force', `also remove the VMs that use the ${noun}`, false)
    .action(async (queries: string[], opts: { force: boolean }, cmd: Command) => {
      const deps = ctx.services(cmd);
      for (const q of queries) {
        const uid = await removeImageOrKernel(deps, kind, q, {
          force: opts.force,
          removeVM: (vm) => removeVM(deps, vm, { force: true }),
        });
        ctx.out(`${uid}\n`);
      }
    });
}
