import { Command } from 'commander';
import { failedPrecondition } from '../../errors.js';
import { importImageFromFile, isLocalSource } from '../../operations/import-image.js';
import { nodeHostFiles } from '../../system/node-host-files.js';
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
      const bars = pullProgress(ctx.io.stderr, `${noun} "${ref}"`);
      const progress = bars.progress ? { progress: bars.progress } : {};
      try {
        if (kind === 'Image' && (await ctx.daemon(cmd)) === undefined) {
          const deps = ctx.services(cmd);
          if (await isLocalSource(deps, ref)) {
            const img = await importImageFromFile(deps, ref, {
              ...progress,
              ...(opts.name !== undefined ? { name: opts.name } : {}),
            });
            ctx.out(`${img.metadata.uid}\n`);
            return;
          }
        } else if (kind === 'Image' && (await nodeHostFiles.exists(ref))) {
          throw failedPrecondition(
            `image "${ref}": importing an archive needs the host it is on; the daemon imports from registries`,
            {
              hint: "run the import on the daemon's host without --host, or push the image to a registry",
            },
          );
        }
        const obj = await (await ctx.engine(cmd)).importArtifact(kind, ref, progress);
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
      const engine = await ctx.engine(cmd);
      for (const q of queries) {
        const uid = await engine.removeArtifact(kind, q, { force: opts.force });
        ctx.out(`${uid}\n`);
      }
    });
}
