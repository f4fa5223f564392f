import { Command, Option } from 'commander';
import { Size, fromPlainAs, newUID, parseDocuments, type NetworkMode } from '../../api/index.js';
import { invalidArgument } from '../../errors.js';
import { createVM, readManifestFile, type CreateVMOptions } from '../../operations/create-vm.js';
import { prestartSupervisor, startVM } from '../../operations/start-vm.js';
import { parseCopyFile, parseLabel, parsePortMapping } from '../../operations/vm-options.js';
import type { CliContext } from '../context.js';
import { parseDuration } from './vm-lifecycle.js';

interface CreateFlags {
  name?: string;
  config?: string;
  ports: string[];
  copyFiles: string[];
  cpus?: string;
  memory?: string;
  size?: string;
  logMaxSize?: string;
  kernelArgs?: string;
  kernelImage?: string;
  net?: string;
  networkPlugin?: string;
  ssh?: boolean | string;
  label: string[];
  vmm?: string;
}

interface RunFlags extends CreateFlags {
  interactive: boolean;
  debug: boolean;
  startTimeout: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function addCreateFlags(cmd: Command): Command {
  return cmd
    .argument('[image]', 'the OCI image to boot, such as 127.0.0.1:5000/ignite-busybox')
    .option('-n, --name <name>', 'name of the VM (default: a random adjective-noun)')
    .option(
      '--config <file>',
      'a VM manifest (YAML or JSON, "-" for stdin); flags override its fields',
    )
    .option(
      '-p, --ports <host:vm[/proto]>',
      'map a host port to a VM port; repeatable',
      collect,
      [],
    )
    .option(
      '-f, --copy-files <host:vm>',
      'copy a host file into the VM before it boots; repeatable',
      collect,
      [],
    )
    .option('--cpus <n>', 'number of vCPUs (default 1)')
    .option('--memory <size>', 'guest memory, such as 512MB or 1GB (default 512MB)')
    .option('-s, --size <size>', 'root disk size, such as 4GB (default 4GB)')
    .option(
      '--log-max-size <size>',
      'cap of the console log; past it the log is rotated to console.log.1 (default 10MB)',
    )
    .option('--kernel-args <args>', 'kernel command line')
    .option(
      '-k, --kernel-image <image>',
      "the kernel OCI image (default: IGNITE_KERNEL_IMAGE or Ignite's)",
    )
    .addOption(
      new Option(
        '--net <mode>',
        "network: docker-bridge (default; ignite's default bridge), cni, or none",
      ).choices(['docker-bridge', 'cni', 'none']),
    )
    .addOption(
      new Option('--network-plugin <mode>', 'alias of --net, as later Ignite versions named it')
        .choices(['docker-bridge', 'cni', 'none'])
        .hideHelp(),
    )
    .option(
      '--ssh [pubkey]',
      'enable SSH: bare generates a key pair; a path authorizes that public key',
    )
    .option('-l, --label <key=value>', 'a label; repeatable', collect, [])
    .addOption(
      new Option(
        '--vmm <name>',
        'hypervisor: qemu or firecracker (default: IGNITE_VMM, else what is installed)',
      ).choices(['qemu', 'firecracker']),
    );
}

async function toOptions(
  ctx: CliContext,
  image: string | undefined,
  f: CreateFlags,
): Promise<CreateVMOptions> {
  const o: CreateVMOptions = {};
  if (f.config !== undefined) {
    const text = await readManifestFile(f.config, ctx.io.stdin);
    const docs = parseDocuments(text, f.config);
    if (docs.length !== 1)
      throw invalidArgument(`--config ${f.config}: expected one VM, found ${docs.length} objects`);
    o.manifest = fromPlainAs('VM', docs[0], { source: f.config, defaults: false });
  }
  if (image !== undefined) o.image = image;
  if (f.name !== undefined) o.name = f.name;
  if (f.cpus !== undefined) {
    const n = Number(f.cpus);
    if (!Number.isInteger(n) || n < 1 || n > 240)
      throw invalidArgument(`--cpus ${f.cpus}: expected a whole number from 1 to 240`);
    o.cpus = n;
  }
  if (f.memory !== undefined) o.memory = parseSizeFlag('--memory', f.memory);
  if (f.size !== undefined) o.diskSize = parseSizeFlag('--size', f.size);
  if (f.logMaxSize !== undefined) {
    o.logMaxSize = parseSizeFlag('--log-max-size', f.logMaxSize);
    if (o.logMaxSize.bytes < 4096)
      throw invalidArgument(`--log-max-size ${f.logMaxSize}: expected at least 4KB`);
  }
  if (f.kernelArgs !== undefined) o.kernelArgs = f.kernelArgs;
  if (f.kernelImage !== undefined) o.kernelImage = f.kernelImage;
  const net = f.net ?? f.networkPlugin;
  if (net !== undefined) o.networkMode = net as NetworkMode;
  if (f.ssh !== undefined) o.ssh = f.ssh;
  if (f.ports.length > 0) o.ports = f.ports.map(parsePortMapping);
  if (f.copyFiles.length > 0) o.copyFiles = f.copyFiles.map(parseCopyFile);
  if (f.label.length > 0) o.labels = Object.fromEntries(f.label.map(parseLabel));
  if (f.vmm !== undefined) o.vmm = f.vmm as 'qemu' | 'firecracker';
  return o;
}

function parseSizeFlag(flag: string, value: string): Size {
  try {
    return Size.parse(value);
  } catch (err) {
    throw invalidArgument(`${flag} ${value}: ${(err as Error).message}`);
  }
}

export function createCommand(ctx: CliContext): Command {
  return addCreateFlags(new Command('create'))
    .description('Create a VM from an OCI image (pulled on demand), without starting it')
    .action(async (image: string | undefined, flags: CreateFlags, cmd: Command) => {
      const vm = await createVM(ctx.createDeps(cmd), await toOptions(ctx, image, flags));
      ctx.out(`${vm.metadata.uid ?? ''}\n`);
    });
}

export function runCommand(ctx: CliContext): Command {
  return addCreateFlags(new Command('run'))
    .description('Create a VM and start it')
    .option('-i, --interactive', 'attach to the VM console after starting', false)
    .option('-d, --debug', "keep the supervisor's log verbose (debug level)", false)
    .addOption(
      new Option('--start-timeout <duration>', 'how long to wait for the VM to start').default(
        '120s',
      ),
    )
    .action(async (image: string | undefined, flags: RunFlags, cmd: Command) => {
      const deps = ctx.createDeps(cmd);
      const options = await toOptions(ctx, image, flags);
      // The VM's UID is chosen here so its supervisor can start while the VM is being created.
      const uid = options.manifest?.metadata.uid ?? newUID();
      options.uid = uid;
      const runDeps = flags.debug ? { ...deps, logLevel: 'debug' as const } : deps;
      const supervisor = await prestartSupervisor(runDeps, uid);
      try {
        await createVM(deps, options);
      } catch (err) {
        await supervisor.abandon();
        throw err;
      }
      await startVM(runDeps, uid, {
        timeoutMs: parseDuration(flags.startTimeout),
        prestarted: supervisor,
      });
      ctx.out(`${uid}\n`);
      if (flags.interactive) await ctx.attach(cmd, uid);
    });
}
