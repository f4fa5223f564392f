import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, openSync, closeSync } from 'node:fs';
import {
  access,
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { run } from '../../src/system/exec.js';
import type { VMConfig } from '../../src/vmm/vmm-driver.js';

/**
 * A minimal bootable guest built from this host's own packages, so the real-boot tests need
 * neither a registry nor images/build.sh:
 * - `vmlinux`: the PVH ELF inside Debian's /boot/vmlinuz-* (the first xz stream after the magic
 *   FD 37 7A 58 5A 00, decompressed with `xz -dc --single-stream`);
 * - `initrd.cpio.gz`: static busybox plus the virtio/ext4 modules of host-facts.md, loaded with
 *   insmod in that order (`.ko.xz`/`.ko.zst` are decompressed at build time); its /init mounts
 *   /dev/vda and switch_roots to it, or prints INITRAMFS_FAILED and powers off;
 * - `rootfs.ext4`: a raw 32 MiB ext4 (mkfs.ext4 -d) with busybox init: rcS prints INIT_MARKER,
 *   a shell runs on the console, and Ctrl-Alt-Del (or SIGTERM to init) reboots, which ends the
 *   hypervisor. Never boot this file itself: copy it or put a qcow2 overlay on it.
 *
 * Built once into `.cache/test-fixtures/boot-<hash>/`, the hash covering every input (kernel,
 * busybox, modules, scripts), and reused; a concurrent build loses the rename race harmlessly.
 */
export interface BootFixture {
  vmlinuxPath: string;
  initrdPath: string;
  rootfsPath: string;
  /** The guest command line (the drivers add console= and tsc_early_khz=). */
  cmdline: string;
  /** A line the guest's init prints once userspace runs on the root disk. */
  initMarker: string;
}

export const INIT_MARKER = 'IGNITE-FIXTURE-INIT-OK';

const MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_mmio',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio_pci',
  'virtio_blk',
  'failover',
  'net_failover',
  'virtio_net',
  'virtio_console',
  'crc16',
  'mbcache',
  'jbd2',
  'crc32c_generic',
  'ext4',
];

const INITRAMFS_INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${MODULES.join(' ')}; do
  [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko
done
if mount -t ext4 /dev/vda /newroot; then
  umount /proc /sys
  mount --move /dev /newroot/dev
  exec switch_root /newroot /sbin/init
fi
echo INITRAMFS_FAILED: no ext4 on /dev/vda
poweroff -f
`;

const INITTAB = `::sysinit:/etc/init.d/rcS
::ctrlaltdel:/sbin/reboot
::respawn:-/bin/sh
`;

const RCS = `#!/bin/sh
mount -t proc proc /proc
mount -t tmpfs tmp /tmp
echo ${INIT_MARKER}
`;

const FIXTURE_VERSION = 1;
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Why this host cannot build the fixture, or undefined when it can. */
export async function bootFixtureUnavailable(): Promise<string | undefined> {
  if ((await hostKernel()) === undefined) return 'no /boot/vmlinuz-* on this host';
  for (const p of ['/bin/busybox', '/sbin/mkfs.ext4', '/usr/bin/xz']) {
    try {
      await access(p, constants.X_OK);
    } catch {
      return `${p} is missing (apt-get install busybox-static e2fsprogs xz-utils)`;
    }
  }
  return undefined;
}

export async function bootFixture(): Promise<BootFixture> {
  const kernel = await hostKernel();
  if (kernel === undefined) throw new Error('vm-fixture: no /boot/vmlinuz-*');
  const modDir = `/lib/modules/${kernel.release}`;
  const modules = await findModules(modDir);
  const busybox = await stat('/bin/busybox');
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        FIXTURE_VERSION,
        kernel: [kernel.path, kernel.size, kernel.mtimeMs],
        busybox: [busybox.size, busybox.mtimeMs],
        modules,
        INITRAMFS_INIT,
        INITTAB,
        RCS,
      }),
    )
    .digest('hex')
    .slice(0, 16);
  const dir = join(repoRoot, '.cache', 'test-fixtures', `boot-${key}`);
  const fixture: BootFixture = {
    vmlinuxPath: join(dir, 'vmlinux'),
    initrdPath: join(dir, 'initrd.cpio.gz'),
    rootfsPath: join(dir, 'rootfs.ext4'),
    cmdline: 'root=/dev/vda rw quiet panic=-1 reboot=k',
    initMarker: INIT_MARKER,
  };
  try {
    await access(join(dir, 'complete'));
    return fixture;
  } catch {
    // Not built yet.
  }
  await mkdir(join(repoRoot, '.cache', 'test-fixtures'), { recursive: true });
  const tmp = await mkdtemp(`${dir}.tmp-`);
  try {
    await extractVmlinux(kernel.path, join(tmp, 'vmlinux'));
    await writeFile(join(tmp, 'initrd.cpio.gz'), await buildInitramfs(modules));
    await buildRootfs(join(tmp, 'rootfs.ext4'), join(tmp, 'root'));
    await rm(join(tmp, 'root'), { recursive: true });
    await writeFile(join(tmp, 'complete'), new Date().toISOString());
    await rename(tmp, dir).catch((err: NodeJS.ErrnoException) => {
      // Another test process finished first; its copy is as good as ours.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return fixture;
}

interface HostKernel {
  path: string;
  release: string;
  size: number;
  mtimeMs: number;
}

async function hostKernel(): Promise<HostKernel | undefined> {
  let names: string[];
  try {
    names = (await readdir('/boot')).filter((n) => n.startsWith('vmlinuz-')).sort();
  } catch {
    return undefined;
  }
  for (const name of names.reverse()) {
    const release = name.slice('vmlinuz-'.length);
    try {
      await access(`/lib/modules/${release}/modules.dep`);
      const s = await stat(join('/boot', name));
      return { path: join('/boot', name), release, size: s.size, mtimeMs: s.mtimeMs };
    } catch {
      continue;
    }
  }
  return undefined;
}

/** Module name → its file under /lib/modules/<release>, from modules.dep. */
async function findModules(modDir: string): Promise<Record<string, string>> {
  const dep = await readFile(join(modDir, 'modules.dep'), 'utf8');
  const found: Record<string, string> = {};
  for (const line of dep.split('\n')) {
    const file = line.slice(0, line.indexOf(':'));
    const m = /\/([^/]+)\.ko(\.xz|\.zst|\.gz)?$/.exec(file);
    const name = m?.[1]?.replaceAll('-', '_');
    if (name !== undefined && MODULES.includes(name)) found[name] = join(modDir, file);
  }
  return found;
}

async function extractVmlinux(bzImage: string, out: string): Promise<void> {
  const data = await readFile(bzImage);
  const at = data.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  if (at < 0) throw new Error(`vm-fixture: ${bzImage} has no xz payload`);
  const fd = openSync(out, 'w');
  try {
    await new Promise<void>((resolve, reject) => {
      const xz = spawn('xz', ['-dc', '--single-stream'], { stdio: ['pipe', fd, 'pipe'] });
      let err = '';
      xz.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      xz.on('error', reject);
      xz.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`vm-fixture: xz failed (${code}): ${err}`)),
      );
      // xz stops reading at the end of its stream; the rest of the bzImage is not for it.
      xz.stdin?.on('error', () => undefined);
      xz.stdin?.end(data.subarray(at));
    });
  } finally {
    closeSync(fd);
  }
}

async function moduleBytes(path: string): Promise<Buffer> {
  if (path.endsWith('.ko')) return readFile(path);
  const tool = path.endsWith('.zst') ? 'zstd' : path.endsWith('.gz') ? 'gzip' : 'xz';
  return new Promise((resolve, reject) => {
    const child = spawn(tool, ['-dc', path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(Buffer.concat(chunks))
        : reject(new Error(`${tool} -dc ${path}: ${code}`)),
    );
  });
}

async function buildInitramfs(modules: Record<string, string>): Promise<Buffer> {
  const cpio = new NewcWriter();
  for (const d of ['bin', 'dev', 'proc', 'sys', 'newroot', 'lib', 'lib/modules']) cpio.dir(d);
  // The kernel opens /dev/console for init before anything mounts devtmpfs.
  cpio.charDevice('dev/console', 5, 1);
  cpio.file('bin/busybox', await readFile('/bin/busybox'), 0o755);
  cpio.file('init', Buffer.from(INITRAMFS_INIT), 0o755);
  for (const name of MODULES) {
    const path = modules[name];
    // Built into some kernels; the init script skips what is absent.
    if (path !== undefined) cpio.file(`lib/modules/${name}.ko`, await moduleBytes(path), 0o644);
  }
  return gzipSync(cpio.finish(), { level: 6 });
}

async function buildRootfs(image: string, root: string): Promise<void> {
  for (const d of ['bin', 'sbin', 'etc/init.d', 'proc', 'sys', 'dev', 'tmp', 'root']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await writeFile(join(root, 'bin/busybox'), await readFile('/bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'mount', 'echo', 'cat', 'ls', 'sync']) {
    await symlink('busybox', join(root, 'bin', applet));
  }
  for (const applet of ['init', 'reboot', 'poweroff']) {
    await symlink('../bin/busybox', join(root, 'sbin', applet));
  }
  await writeFile(join(root, 'etc/inittab'), INITTAB);
  await writeFile(join(root, 'etc/init.d/rcS'), RCS, { mode: 0o755 });
  await writeFile(image, '');
  await run('truncate', ['-s', '32M', image]);
  await run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', root, image]);
}

/** A cpio "newc" archive, the initramfs format; written here so no mknod is needed. */
class NewcWriter {
  private readonly parts: Buffer[] = [];
  private ino = 1;

  dir(name: string): void {
    this.entry(name, 0o040755, Buffer.alloc(0));
  }

  file(name: string, data: Buffer, mode: number): void {
    this.entry(name, 0o100000 | mode, data);
  }

  charDevice(name: string, major: number, minor: number): void {
    this.entry(name, 0o020600, Buffer.alloc(0), major, minor);
  }

  finish(): Buffer {
    this.entry('TRAILER!!!', 0, Buffer.alloc(0));
    return Buffer.concat(this.parts);
  }

  private entry(name: string, mode: number, data: Buffer, rmajor = 0, rminor = 0): void {
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    const nameBytes = Buffer.from(`${name}\0`);
    const fields = [
      this.ino++,
      mode,
      0,
      0,
      1,
      0,
      data.length,
      0,
      0,
      rmajor,
      rminor,
      nameBytes.length,
      0,
    ];
    const header = Buffer.from(`070701${fields.map(hex).join('')}`);
    this.parts.push(
      header,
      nameBytes,
      pad(header.length + nameBytes.length),
      data,
      pad(data.length),
    );
  }
}

const pad = (len: number) => Buffer.alloc((4 - (len % 4)) % 4);

/** A VM `name` booting the fixture from `disk` (an overlay of its rootfs), its files in `dir`. */
export function fixtureVMConfig(f: BootFixture, dir: string, name: string, disk: string): VMConfig {
  return {
    uid: name,
    name,
    vcpus: 1,
    memoryMiB: 256,
    kernel: { vmlinuxPath: f.vmlinuxPath, initrdPath: f.initrdPath, cmdline: f.cmdline },
    rootDisk: { path: disk, format: 'qcow2' },
    nics: [],
    paths: {
      consoleLog: join(dir, 'console.log'),
      consoleSocket: join(dir, 'console.sock'),
      controlSocket: join(dir, 'control.sock'),
      workDir: dir,
    },
  };
}
