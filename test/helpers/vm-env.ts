import { ignite } from './cli.js';
import { cliMode } from './cli-mode.js';
import { tempDataDir } from './data-dir.js';
import { pushProjectImages, startRegistry, type ProjectImage } from './registry.js';

/** The kernel image VM tests boot unless they name another: the project's micro kernel. */
export const TEST_KERNEL = 'ignite-kernel:6.1-micro';

export interface VMTestEnv extends AsyncDisposable {
  /** The test registry, `127.0.0.1:<port>`, holding the project's images. */
  registry: string;
  dataDir: string;
  /**
   * The environment for `ignite`: its own data dir, the registry's kernel, TCG, and IGNITE_HOST
   * when the cases run through a daemon (helpers/cli-mode.ts).
   */
  env: NodeJS.ProcessEnv;
}

/**
 * What every VM test starts from: a real registry with the project's images pushed to it, and a
 * fresh data dir. TCG is chosen up front: KVM is unusable on the project's machines, and the
 * probe that finds that out has its own test. `kernel` pushes both kernels: the micro kernel,
 * which `ignite` boots by default here (TEST_KERNEL), and Debian's generic `ignite-kernel:6.1`
 * for the tests that name it.
 */
export async function vmTestEnv(images: ProjectImage[]): Promise<VMTestEnv> {
  const reg = await startRegistry();
  const push = images.includes('kernel')
    ? [...new Set([...images, 'kernel-micro' as const])]
    : images;
  await pushProjectImages(reg.host, push);
  const dir = await tempDataDir();
  const mode = await cliMode({
    IGNITE_DATA_DIR: dir.path,
    IGNITE_KERNEL_IMAGE: `${reg.host}/${TEST_KERNEL}`,
    IGNITE_ACCEL: 'tcg',
  });
  return {
    registry: reg.host,
    dataDir: dir.path,
    env: mode.env,
    [Symbol.asyncDispose]: async () => {
      await mode[Symbol.asyncDispose]();
      // A test that failed half-way may have left VMs running: end them with their data dir.
      const left = await ignite(['ps', '-a', '-q'], { dataDir: dir.path }).catch(() => undefined);
      const ids = left?.stdout.split('\n').filter(Boolean) ?? [];
      if (ids.length > 0)
        await ignite(['rm', '-f', ...ids], { dataDir: dir.path }).catch(() => undefined);
      await dir[Symbol.asyncDispose]();
      await reg[Symbol.asyncDispose]();
    },
  };
}
