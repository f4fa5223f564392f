import { Command } from 'commander';
import { Size, familiarImageRef, toPlain, type StoredVM } from '../../api/index.js';
import { selectVMs } from '../../operations/list-vms.js';
import { systemClock } from '../../system/system-clock.js';
import type { CliContext } from '../context.js';
import { collect } from '../options.js';
import {
  ago,
  formatData,
  formatObject,
  formatTable,
  humanDuration,
  parseOutput,
} from '../output/format.js';

/** `ps` / `vm ps` / `vm ls`: the table of VMs, as Ignite printed it. */
export function psCommand(ctx: CliContext, name = 'ps'): Command {
  return (
    new Command(name)
      .description('List running VMs (all VMs with -a)')
      .aliases(name === 'ps' ? [] : ['ls', 'list'])
      .option('-a, --all', 'show all VMs, not only running ones', false)
      // Also here, not only global, so that Docker's `ps -aq` parses.
      .option('-q, --quiet', 'print only IDs')
      .option(
        '-f, --filter <key=value>',
        'filter by name, id, state, image or label (label=k or label=k=v); repeatable',
        collect,
        [],
      )
      .option(
        '-o, --output <format>',
        'table, json, yaml, or a {{template}} applied to each VM',
        'table',
      )
      .option(
        '-t, --template <template>',
        'a Go-style template applied to each VM, as in later Ignite versions',
      )
      .action((opts: PsOptions, cmd: Command) => runPs(ctx, cmd, opts))
  );
}

export interface PsOptions {
  all: boolean;
  quiet?: boolean;
  filter: string[];
  output: string;
  template?: string;
}

export async function runPs(ctx: CliContext, cmd: Command, opts: PsOptions): Promise<void> {
  const g = ctx.globals(cmd);
  const engine = await ctx.engine(cmd);
  const format =
    opts.template !== undefined
      ? { template: opts.template }
      : parseOutput(opts.output, ['table', 'json', 'yaml'], 'table');
  const vms = selectVMs(await engine.listVMs(), { all: opts.all, filters: opts.filter });
  if (g.quiet || opts.quiet === true)
    return ctx.out(vms.map((v) => `${v.metadata.uid}\n`).join(''));
  if (format === 'table' || format === 'short') {
    const fleet = (await ctx.fleet(cmd)) !== undefined;
    return ctx.out(vmTable(vms, systemClock.now(), fleet));
  }
  if (typeof format === 'object') return ctx.out(vms.map((v) => formatObject(v, format)).join(''));
  ctx.out(
    formatData(
      vms.map((v) => toPlain(v)),
      format,
    ),
  );
}

export function registerPs(program: Command, ctx: CliContext): void {
  program.addCommand(psCommand(ctx));
}

/** Ignite's columns; in a fleet, also the host each VM is placed on, before its name. */
function vmTable(vms: StoredVM[], now: Date, fleet: boolean): string {
  const header = [
    'VM ID',
    'IMAGE',
    'KERNEL',
    'CREATED',
    'SIZE',
    'CPUS',
    'MEMORY',
    'STATE',
    'UPTIME',
    'RESTARTS',
    'IPS',
    'PORTS',
    ...(fleet ? ['HOST'] : []),
    'NAME',
  ];
  const shortRef = memoized(shortRefOf);
  const rows = vms.map((vm) => [
    vm.metadata.uid,
    shortRef(vm.spec.image.ociClaim.ref),
    shortRef(vm.spec.kernel.ociClaim.ref),
    vm.metadata.created ? ago(new Date(vm.metadata.created), now) : '',
    (vm.spec.diskSize ?? Size.fromBytes(0)).toHuman(),
    String(vm.spec.cpus ?? ''),
    (vm.spec.memory ?? Size.fromBytes(0)).toHuman(),
    vm.status?.state ?? 'Created',
    vm.status?.state === 'Running' && vm.status.startTime
      ? humanDuration((now.getTime() - Date.parse(vm.status.startTime)) / 1000)
      : '',
    String(vm.status.restartCount ?? 0),
    (vm.status?.ipAddresses ?? []).join(', '),
    (vm.spec.network?.ports ?? [])
      .map((p) => `0.0.0.0:${p.hostPort}->${p.vmPort}${p.protocol === 'udp' ? '/udp' : ''}`)
      .join(', '),
    ...(fleet ? [vm.status.host ?? ''] : []),
    vm.metadata.name,
  ]);
  return formatTable(header, rows);
}

/** `fn` with its results kept by argument: a thousand VMs often share one or two images. */
function memoized(fn: (s: string) => string): (s: string) => string {
  const seen = new Map<string, string>();
  return (s) => {
    let out = seen.get(s);
    if (out === undefined) {
      out = fn(s);
      seen.set(s, out);
    }
    return out;
  };
}

function shortRefOf(ref: string): string {
  try {
    return familiarImageRef(ref);
  } catch {
    return ref;
  }
}
