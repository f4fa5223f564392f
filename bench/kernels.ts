// Boot to init with the two kernels, in the same run: `ignite run --net none` of the busybox
// image to its first init line, with the micro kernel (ignite-kernel:6.1-micro: no initramfs,
// drivers built in) against Debian's generic kernel with its module-loading initramfs
// (ignite-kernel:6.1). The runs alternate, so both see the same load on the shared machine. Each
// kernel boots in the smallest guest memory listed for it here.
import { benchEnv, bootBusybox, fmt, median } from './lib.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 9);
const KERNELS = [
  { tag: 'ignite-kernel:6.1-micro', label: 'micro kernel, no initramfs', memory: '64MB' },
  { tag: 'ignite-kernel:6.1', label: "Debian's kernel + initramfs", memory: '96MB' },
] as const;

export async function kernelsBench(): Promise<{ rows: string[][]; ratio: number }> {
  await using b = await benchEnv(['busybox', 'kernel', 'kernel-micro']);
  await b.ig(['image', 'import', `${b.registry}/ignite-busybox`]);
  for (const k of KERNELS) await b.ig(['kernel', 'import', `${b.registry}/${k.tag}`]);
  const times: number[][] = KERNELS.map(() => []);
  for (let i = 0; i < RUNS; i++) {
    for (const [j, k] of KERNELS.entries()) {
      const name = `kern-${j}-${i}`;
      const { ms } = await bootBusybox(b, name, {
        memory: k.memory,
        kernelImage: `${b.registry}/${k.tag}`,
      });
      times[j]?.push(ms);
      await b.ig(['rm', '-f', name]);
    }
  }
  const [micro, generic] = times.map(median) as [number, number];
  return {
    ratio: micro / generic,
    rows: KERNELS.map((k, j) => [
      `boot: ignite run to first init line, ${k.label} (${k.memory}, --net none)`,
      fmt(median(times[j] ?? [])),
      j === 0
        ? `ratio to Debian's kernel ${(micro / generic).toFixed(2)} (target ≤ 0.5); median of ${RUNS}, interleaved`
        : `median of ${RUNS}, interleaved`,
    ]),
  };
}
