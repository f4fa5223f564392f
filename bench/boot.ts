// Boot overhead: `ignite run` to the guest's first init line, against a bare qemu-system-x86_64
// boot of the same kernel, initrd and disk (a qcow2 overlay over the same image), in this run.
// `ignite run` is timed three times per round: with `--net none`, and with the default network a
// user's `run` gets (a CNI bridge attachment, DHCP in the VM's namespace), which the bare boot has
// not; both find the host supervisor running (as a host running VMs has it), so the default
// network is timed once more with no supervisor running: the first VM's start, which starts one.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectHostTsc } from '../src/vmm/qemu/host-tsc.js';
import { createOverlay } from '../src/vmm/disk/create-root-disk.js';
import { pushProjectImages, startRegistry } from '../test/helpers/registry.js';
import { fmt, median, pexec, sampleInTurns, timeToOutput, waitInFile } from './lib.js';
import { BUSYBOX_INIT } from '../test/helpers/console.js';
import { endHostSupervisor } from '../test/helpers/data-dir.js';

// TCG boots on a shared host vary by about ±20 % from one to the next for the same command,
// several times the overhead measured: nine interleaved pairs leave the ratio of the medians
// anywhere from 1.06 to 1.22 between runs of the same build, and fifteen still ±0.1 s in the
// difference; twenty-one narrow it further, and thirty-one further still (a median's error
// falls with the square root of the runs), which matters with the overhead near its target.
const RUNS = Number(process.env['BENCH_RUNS'] ?? 31);
const IGNITE = join(import.meta.dirname, '../bin/ignite.js');

export async function bootBench(): Promise<{ rows: string[][]; ratio: number }> {
  await using reg = await startRegistry();
  await pushProjectImages(reg.host, ['busybox', 'kernel']);
  const dataDir = await mkdtemp(join(tmpdir(), 'ignite-bench-boot-'));
  const env = {
    ...process.env,
    IGNITE_DATA_DIR: dataDir,
    IGNITE_KERNEL_IMAGE: `${reg.host}/ignite-kernel:6.1`,
    IGNITE_ACCEL: 'tcg',
  };
  const ig = (args: string[]) =>
    pexec(process.execPath, [IGNITE, '--log-level', 'warn', ...args], { env });
  try {
    await ig(['image', 'import', `${reg.host}/ignite-busybox`]);
    await ig(['kernel', 'import', `${reg.host}/ignite-kernel:6.1`]);
    const kdir = join(dataDir, 'kernel', (await readdir(join(dataDir, 'kernel')))[0] ?? '');
    const image = join(
      dataDir,
      'image',
      (await readdir(join(dataDir, 'image')))[0] ?? '',
      'image.ext4',
    );
    const tsc = (await detectHostTsc()).kHz;

    const bare: number[] = [];
    const ignite: number[] = [];
    const withNet: number[] = [];
    const cold: number[] = [];
    const igniteRun = async (name: string, net: string[]) => {
      const t0 = performance.now();
      const run = pexec(
        process.execPath,
        [
          IGNITE,
          '--log-level',
          'warn',
          'run',
          `${reg.host}/ignite-busybox`,
          '--name',
          name,
          ...net,
        ],
        { env },
      );
      const uid = (await run).stdout.trim().split('\n').pop() ?? '';
      const t = await waitInFile(join(dataDir, 'vm', uid, 'console.log'), BUSYBOX_INIT, t0);
      await ig(['rm', '-f', name]);
      return t;
    };
    // What earlier benches and the imports wrote is flushed first, not while boots are timed.
    await pexec('sync', []);
    for (let i = 0; i < RUNS; i++) {
      const disk = join(dataDir, `bare-${i}.qcow2`);
      await createOverlay(image, disk, 4 * 2 ** 30);
      bare.push(
        await timeToOutput(
          'qemu-system-x86_64',
          [
            '-M',
            'microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=on',
            '-accel',
            'tcg',
            '-m',
            '512',
            '-smp',
            '1',
            '-nodefaults',
            '-no-user-config',
            '-nographic',
            '-serial',
            'stdio',
            '-no-reboot',
            '-kernel',
            join(kdir, 'vmlinux'),
            '-initrd',
            join(kdir, 'initrd'),
            '-append',
            `console=ttyS0 reboot=k panic=1 pci=off tsc_early_khz=${tsc}`,
            '-drive',
            `id=root,file=${disk},format=qcow2,if=none`,
            '-device',
            'virtio-blk-device,drive=root',
          ],
          BUSYBOX_INIT,
        ),
      );
      await rm(disk, { force: true });

      ignite.push(await igniteRun(`bench-${i}`, ['--net', 'none']));
      withNet.push(await igniteRun(`bench-net-${i}`, []));
      await endHostSupervisor(dataDir);
      cold.push(await igniteRun(`bench-cold-${i}`, []));
    }
    // Every `ignite` command and supervisor starts Node first; what that costs here is part of
    // each figure above, and the environment can weigh on it (NODE_EXTRA_CA_CERTS, which Node 20
    // reads as it starts). Shown so that a reader can tell it from ignite's own overhead.
    const extraCAs = process.env['NODE_EXTRA_CA_CERTS'];
    const nodeStart = (env: NodeJS.ProcessEnv) => () =>
      pexec(process.execPath, ['-e', '0'], { env });
    const { NODE_EXTRA_CA_CERTS: _unset, ...without } = process.env;
    const [asIs, unset] = await sampleInTurns(9, nodeStart(process.env), nodeStart(without));
    const nodeRow = [
      'boot: Node.js start-up (node -e 0), as each ignite process pays it here',
      `${median(asIs).toFixed(0)} ms`,
      extraCAs !== undefined
        ? `NODE_EXTRA_CA_CERTS is set here (${extraCAs}); ${median(unset).toFixed(0)} ms without it; no target; median of 9, in turns`
        : 'no target; median of 9',
    ];
    const b = median(bare);
    const g = median(ignite);
    const n = median(withNet);
    const c = median(cold);
    const pairs = (xs: number[]) => median(xs.map((x, i) => x / (bare[i] ?? x))).toFixed(2);
    return {
      ratio: g / b,
      rows: [
        [
          'boot: bare qemu-system-x86_64 (microvm, TCG) to first init line',
          fmt(b),
          `median of ${RUNS}`,
        ],
        [
          'boot: ignite run (create + start, --net none) to first init line',
          fmt(g),
          `ratio ${(g / b).toFixed(2)} (target ≤ 1.10); ${fmt(g - b, true)} (target ≤ +0.25 s); median of the pairs' ratios ${pairs(ignite)}`,
        ],
        [
          'boot: ignite run (create + start, default network) to first init line',
          fmt(n),
          `ratio ${(n / b).toFixed(2)} (target ≤ 1.10); ${fmt(n - b, true)} (target ≤ +0.25 s); median of the pairs' ratios ${pairs(withNet)}`,
        ],
        [
          'boot: ignite run (default network), no supervisor running yet, to first init line',
          fmt(c),
          `ratio ${(c / b).toFixed(2)} (target ≤ 1.10); ${fmt(c - b, true)} (target ≤ +0.25 s); median of the pairs' ratios ${pairs(cold)}`,
        ],
        nodeRow,
      ],
    };
  } finally {
    await pexec(
      process.execPath,
      [IGNITE, 'rm', '-f', ...(await readdir(join(dataDir, 'vm')).catch(() => []))],
      { env },
    ).catch(() => undefined);
    await endHostSupervisor(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  }
}
