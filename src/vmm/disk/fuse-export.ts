import { spawn } from 'node:child_process';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { permissionDenied, unavailable } from '../../errors.js';
import { runUnchecked } from '../../system/exec.js';

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
  // If this process dies (even by SIGKILL), the kernel sends the daemon SIGTERM, and it takes its
  // export down itself: no daemon and no mount outlive a killed `ignite create`.
  const child = spawn(
    'setpriv',
    [
      '--pdeathsig',
      'TERM',
      '--',
      'qemu-storage-daemon',
      '--blockdev',
      `driver=file,node-name=file,filename=${qcow2.replaceAll(',', ',,')}`,
      '--blockdev',
      'driver=qcow2,node-name=disk,file=file',
      '--export',
      `type=fuse,id=raw,node-name=disk,mountpoint=${mountpoint.replaceAll(',', ',,')},writable=on`,
      // The daemon sets its options up in order, so its monitor greets (on stdout) only once the
      // export is mounted: that is the moment to go on, with no polling. Its stdin stays open
      // (a pipe), as a monitor that reads end-of-file would be closed.
      '--chardev',
      'stdio,id=qmp',
      '--monitor',
      'chardev=qmp',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Closed: exited, and all it wrote read (an error's words included).
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('error', () => undefined);
  child.stdin.on('error', () => undefined);
  try {
    await exportReady(child.stdout, closed, 10_000);
    const size = await stat(mountpoint).then(
      (s) => s.size,
      () => -1,
    );
    if (size !== virtualSize) {
      if (/Permission denied|Operation not permitted/i.test(stderr))
        throw permissionDenied(
          `${label}: writing its root disk needs root (a FUSE view of the disk): ${stderr.trim()}`,
          { hint: 'run ignite as root' },
        );
      throw unavailable(
        `${label}: cannot open the root disk for writing: qemu-storage-daemon: ${stderr.trim() || 'no FUSE export'}`,
        {
          hint: 'needs /dev/fuse and qemu-storage-daemon (qemu-system-common)',
        },
      );
    }
    return await fn(mountpoint);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    // An unref'd timer: a pending wait must not keep the CLI process alive after its work.
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
    if (child.exitCode === null) child.kill('SIGKILL');
    child.stdin.destroy();
    // A daemon that ended by its own hand (exit status 0, after SIGTERM) took its export down.
    if (child.exitCode !== 0) await releaseMount(mountpoint);
    await rm(mountpoint, { force: true });
  }
}

/**
 * Resolves once the daemon's monitor greeted on `stdout`, or it ended, or `timeoutMs` passed:
 * whether the export is there is then the mount's to tell.
 */
function exportReady(stdout: Readable, closed: Promise<void>, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    let seen = '';
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stdout.removeListener('data', onData);
      // What the monitor says later is not read: flowing, it cannot fill the pipe.
      stdout.resume();
      resolve();
    };
    const onData = (d: Buffer) => {
      // The tail of the last chunk is kept for a token split between two.
      const text = seen + d.toString('latin1');
      if (text.includes('"QMP"')) done();
      seen = text.slice(-4);
    };
    const timer = setTimeout(done, timeoutMs);
    timer.unref();
    stdout.on('data', onData);
    void closed.then(done);
  });
}

async function releaseMount(mountpoint: string): Promise<void> {
  if ((await readFile('/proc/self/mounts', 'utf8')).includes(` ${mountpoint} `)) {
    await runUnchecked('umount', ['-l', mountpoint]);
  }
}

/**
 * Takes down raw views left in a VM's directory by a process killed before it could (a stale
 * FUSE mount would make the directory impossible to remove). Idempotent; cheap when none is left.
 */
export async function releaseRawViews(vmDir: string): Promise<void> {
  const prefix = `${vmDir.replace(/\/+$/, '')}/`;
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .map((m) => m.replace(/\\040/g, ' '))
    .filter((m) => m.startsWith(prefix) && m.endsWith('.raw-view'));
  for (const m of mounts) {
    await releaseMount(m);
    await rm(m, { force: true });
  }
}
