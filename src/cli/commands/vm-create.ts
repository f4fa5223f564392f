import { Command, Option } from 'commander';
import { isSSHPublicKeyText, parseRestartPolicy, type NetworkMode } from '../../api/index.js';
import { invalidArgument } from '../../errors.js';
import { readManifestFile, type CreateVMOptions } from '../../operations/create-vm.js';
import { vmManifest, type VMPlacement } from '../../operations/build-vm.js';
import type { EngineCreateOptions } from '../../operations/engine.js';
import { decodeVMConfig } from '../../operations/vm-config.js';
import { nodeHostFiles } from '../../system/node-host-files.js';
import type { CliContext } from '../context.js';
import { storageFromFlags } from '../volume-options.js';
import { offerTrainedCodeCache } from '../../system/code-cache.js';
import {
  collect,
  parseCopyFile,
  parseDuration,
  parseLabel,
  parseNetworks,
  parsePortMapping,
  parseSize,
} from '../options.js';

interface CreateFlags {
  name?: string;
  config?: string;
  ports: string[];
  copyFiles: string[];
  volumes: string[];
  mount: string[];
  cpus?: string;
  memory?: string;
  size?: string;
  logMaxSize?: string;
  kernelArgs?: string;
  kernelImage?: string;
  net?: string;
  networkPlugin?: string;
  network: string[];
  ip?: string;
  mac?: string;
  ssh?: boolean | string;
  label: string[];
  vmm?: string;
  restart?: string;
  fromSnapshot?: string;
  onHost?: string;
  hostSelector: string[];
  reschedule?: boolean;
}

interface RunFlags extends CreateFlags {
  interactive: boolean;
  debug: boolean;
  startTimeout: string;
  timeout: string;
}

function addCreateFlags(cmd: Command): Command {
  return cmd
    .argument('[image]', 'the OCI image to boot, such as 127.0.0.1:5000/ignite-busybox')
    .option('-n, --name <name>', 'name of the VM (default: a random adjective-noun)')
    .option(
      '--config <file>',
      'a VM manifest (YAML or JSON, "-" for stdin); flags override its fields',
    )
    .option(
      '-p, --ports <[net:]host:vm[/proto]>',
      "map a host port to a VM port (on named network net's interface, else the first); repeatable",
      collect,
      [],
    )
    .option(
      '--network <name[,ip=addr][,mac=mac]>',
      'join a named network (first eth0, then eth1, …); repeatable',
      collect,
      [],
    )
    .option('--ip <address>', 'a static address on the first --network, in its subnet')
    .option('--mac <mac>', 'the MAC address of the first --network interface')
    .option(
      '-f, --copy-files <host:vm>',
      'copy a host file into the VM before it boots; repeatable',
      collect,
      [],
    )
    .option(
      '-v, --volumes <src:/guest/path[:ro]>',
      'attach a named volume, a host block device (/dev/…) or a host image file as a disk, mounted at the path; repeatable',
      collect,
      [],
    )
    .option(
      '--mount <type=bind,src=DIR,dst=PATH[,ro]>',
      'share a host directory with the guest over virtio-9p (QEMU only); repeatable',
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
        "network: docker-bridge (default as root; ignite's default bridge), cni, user (default without root; passt or QEMU's slirp, no privilege), or none",
      ).choices(['docker-bridge', 'cni', 'user', 'none']),
    )
    .addOption(
      new Option('--network-plugin <mode>', 'alias of --net, as later Ignite versions named it')
        .choices(['docker-bridge', 'cni', 'user', 'none'])
        .hideHelp(),
    )
    .option(
      '--ssh [=pubkey]',
      'enable SSH: --ssh generates a key pair; --ssh=<file> authorizes that public key',
    )
    .option('-l, --label <key=value>', 'a label; repeatable', collect, [])
    .addOption(
      new Option(
        '--vmm <name>',
        'hypervisor: qemu or firecracker (default: IGNITE_VMM, else what is installed)',
      ).choices(['qemu', 'firecracker']),
    )
    .option(
      '--from-snapshot <snapshot>',
      "clone a snapshot: the VM's disk goes over the snapshot's, and it resumes the snapshot's memory instead of booting (its own address is NATed to the one its guest kept)",
    )
    .option('--on-host <name>', 'in a fleet: run the VM on this host (its --host-name)')
    .option(
      '--host-selector <key=value>',
      'in a fleet: place the VM only on a host with this label; repeatable',
      collect,
      [],
    )
    .option(
      '--reschedule',
      'in a fleet: the VM may be moved to another host (with a fresh disk) when its host is lost or drained',
    )
    .option(
      '--restart <policy>',
      'what ignited does when the VM ends: no (default), on-failure[:N] (restart a crashed VM, at most N times) or always (unless stopped)',
    );
}

async function toOptions(
  ctx: CliContext,
  image: string | undefined,
  f: CreateFlags,
): Promise<CreateVMOptions> {
  const o: CreateVMOptions = {};
  if (image !== undefined) o.image = image;
  if (f.name !== undefined) o.name = f.name;
  if (f.cpus !== undefined) {
    const n = Number(f.cpus);
    if (!Number.isInteger(n) || n < 1 || n > 240)
      throw invalidArgument(`--cpus ${f.cpus}: expected a whole number from 1 to 240`);
    o.cpus = n;
  }
  if (f.memory !== undefined) o.memory = parseSize('--memory', f.memory);
  if (f.size !== undefined) o.diskSize = parseSize('--size', f.size);
  if (f.logMaxSize !== undefined) {
    o.logMaxSize = parseSize('--log-max-size', f.logMaxSize);
    if (o.logMaxSize.bytes < 4096)
      throw invalidArgument(`--log-max-size ${f.logMaxSize}: expected at least 4KB`);
  }
  if (f.kernelArgs !== undefined) o.kernelArgs = f.kernelArgs;
  if (f.kernelImage !== undefined) o.kernelImage = f.kernelImage;
  const net = f.net ?? f.networkPlugin;
  if (net !== undefined) o.networkMode = net as NetworkMode;
  if (f.ssh !== undefined) o.ssh = f.ssh === '' || f.ssh === true ? true : f.ssh;
  if (f.ports.length > 0) o.ports = f.ports.map(parsePortMapping);
  const networks = parseNetworks(f.network, f.ip, f.mac);
  if (networks.length > 0) o.networks = networks;
  if (f.copyFiles.length > 0) o.copyFiles = f.copyFiles.map(parseCopyFile);
  const storage = storageFromFlags(f.volumes, f.mount);
  if (storage !== undefined) o.storage = storage;
  if (f.label.length > 0) o.labels = Object.fromEntries(f.label.map((l) => parseLabel(l)));
  if (f.vmm !== undefined) o.vmm = f.vmm as 'qemu' | 'firecracker';
  if (f.restart !== undefined) o.restartPolicy = parseRestartPolicy(f.restart, '--restart');
  if (f.fromSnapshot !== undefined) o.fromSnapshot = f.fromSnapshot;
  const placement = placementOf(f);
  if (placement !== undefined) o.placement = placement;
  // The flags are written over the manifest before it is validated: Ignite's configs often leave
  // the name and image to --name and the argument.
  if (f.config !== undefined)
    o.manifest = decodeVMConfig(
      await readManifestFile({ hostFiles: nodeHostFiles }, f.config, ctx.io.stdin),
      f.config,
      o,
    );
  return o;
}

function placementOf(f: CreateFlags): VMPlacement | undefined {
  const p: VMPlacement = {};
  if (f.onHost !== undefined) p.host = f.onHost;
  if (f.hostSelector.length > 0)
    p.hostSelector = Object.fromEntries(
      f.hostSelector.map((l) => parseLabel(l, '--host-selector')),
    );
  if (f.reschedule === true) p.reschedule = true;
  return Object.keys(p).length > 0 ? p : undefined;
}

/**
 * Builds the VM's manifest here, from the flags and `--config`, and has the engine create it
 * (and start it, for `run`). A daemon cannot read this host's files: an SSH public key named by
 * `--ssh=<file>` is read here and sent as the key itself.
 */
async function createFromFlags(
  ctx: CliContext,
  cmd: Command,
  image: string | undefined,
  flags: CreateFlags,
  options: EngineCreateOptions = {},
) {
  const given = await toOptions(ctx, image, flags);
  const from = given.fromSnapshot;
  if (from !== undefined)
    return cloneFromFlags(ctx, cmd, { ...given, fromSnapshot: from }, options);
  const manifest = vmManifest(given, ctx.vmDefaults(cmd));
  // A daemon, or the host a fleet places the VM on, cannot read this host's files.
  const remote = (await ctx.daemon(cmd)) !== undefined || (await ctx.fleet(cmd)) !== undefined;
  if (remote && typeof manifest.spec.ssh === 'string' && !isSSHPublicKeyText(manifest.spec.ssh))
    manifest.spec.ssh = await readPublicKeyText(manifest.spec.ssh);
  return (await ctx.engine(cmd)).createVM(manifest, options);
}

/** A clone, made where the snapshot is (here, or by the daemon --host or IGNITE_HOST names). */
async function cloneFromFlags(
  ctx: CliContext,
  cmd: Command,
  given: CreateVMOptions & { fromSnapshot: string },
  options: EngineCreateOptions,
) {
  const snaps = await ctx.snapshots(cmd);
  const snap = await snaps.findSnapshot(given.fromSnapshot);
  const manifest = vmManifest(
    { ...given, image: given.image ?? snap.spec.image },
    ctx.vmDefaults(cmd),
  );
  return snaps.cloneSnapshot(snap.metadata.uid, manifest, options);
}

async function readPublicKeyText(path: string): Promise<string> {
  const file = path.endsWith('.pub') ? path : `${path}.pub`;
  const key = await nodeHostFiles.readText(file).catch((err: unknown) => {
    throw invalidArgument(`--ssh ${file}: cannot read the public key: ${(err as Error).message}`, {
      cause: err,
    });
  });
  if (!isSSHPublicKeyText(key.trim()))
    throw invalidArgument(`--ssh ${file}: not an SSH public key`);
  return key.trim();
}

/**
 * A command whose `--ssh` takes a value only as `--ssh=PATH`, as Ignite's did: a bare `--ssh`
 * never takes the next word, which is usually the image (`create --ssh busybox`).
 */
class VMCommand extends Command {
  override parseOptions(argv: string[]): ReturnType<Command['parseOptions']> {
    const end = argv.indexOf('--');
    return super.parseOptions(
      argv.map((a, i) => (a === '--ssh' && (end < 0 || i < end) ? '--ssh=' : a)),
    );
  }
}

export function createCommand(ctx: CliContext): Command {
  return addCreateFlags(new VMCommand('create'))
    .description('Create a VM from an OCI image (pulled on demand), without starting it')
    .action(async (image: string | undefined, flags: CreateFlags, cmd: Command) => {
      const vm = await createFromFlags(ctx, cmd, image, flags);
      ctx.out(`${vm.metadata.uid}\n`);
    });
}

export function runCommand(ctx: CliContext): Command {
  return addCreateFlags(new VMCommand('run'))
    .description('Create a VM and start it')
    .option('-i, --interactive', 'attach to the VM console after starting', false)
    .option('-d, --debug', "keep the supervisor's log verbose (debug level)", false)
    .addOption(
      new Option('--start-timeout <duration>', 'how long to wait for the VM to start').default(
        '120s',
      ),
    )
    .option(
      '--timeout <duration>',
      'with --ssh: how long to wait for SSH in the VM to answer before failing',
      '120s',
    )
    .action(async (image: string | undefined, flags: RunFlags, cmd: Command) => {
      const vm = await createFromFlags(ctx, cmd, image, flags, {
        start: {
          timeoutMs: parseDuration(flags.startTimeout),
          sshTimeoutMs: parseDuration(flags.timeout),
          ...(flags.debug ? { logLevel: 'debug' as const } : {}),
        },
      });
      const uid = vm.metadata.uid;
      ctx.out(`${uid}\n`);
      // Every later `run` of this build repeats what this one compiled.
      offerTrainedCodeCache();
      if (flags.interactive) await ctx.attach(cmd, uid);
    });
}
