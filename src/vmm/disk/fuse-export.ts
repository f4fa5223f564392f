import { spawn } from 'node:child_process';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { unavailable } from '../../errors.js';
import { runUnchecked } from '../../system/exec.js';
import { sleep } from '../../system/process.js';

/**
 * Shows a qcow2 image as a raw file, through qemu-storage-daemon's FUSE export, so that e2fsck,
 * resize2fs and debugfs — which only read raw images — can work on a VM's overlay. Writes land in
 * the overlay; the image under it is untouched. The export is always taken down again, also when
 * `fn` fails: no daemon and no mount are left behind.
 */
export async function withRawView<T>(
  qcow2: string,
  virtualSize: number,
  label: string,
  fn: (raw: string) => Promise<T>,
): Promise<T> {
  const mountpoint = `${qcow2}.raw-view`;
  await writeFile(mountpoint, '');
  const child = spawn(
    'qemu-storage-daemon',
    [
      '--blockdev',
      `driver=file,node-name=file,filename=${qcow2.replaceAll(',', ',,')}`,
      '--blockdev',
      'driver=qcow2,node-name=disk,file=file',
      '--export',
      `type=fuse,id=raw,node-name=disk,mountpoint=${mountpoint.replaceAll(',', ',,')},writable=on`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => undefined);
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const size = await stat(mountpoint).then(
        (s) => s.size,
        () => -1,
      );
      if (size === virtualSize) break;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw unavailable(
          `${label}: cannot open the root disk for writing: qemu-storage-daemon: ${stderr.trim() || 'no FUSE export'}`,
          {
            hint: 'needs /dev/fuse and qemu-storage-daemon (qemu-system-common)',
          },
        );
      }
      await sleep(20);
    }
    return await fn(mountpoint);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    // An unref'd timer: a pending wait must not keep the CLI process alive after its work.
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
    if (child.exitCode === null) child.kill('SIGKILL');
    if ((await readFile('/proc/self/mounts', 'utf8')).includes(` ${mountpoint} `)) {
      await runUnchecked('umount', ['-l', mountpoint]);
    }
    await rm(mountpoint, { force: true });
  }
}
