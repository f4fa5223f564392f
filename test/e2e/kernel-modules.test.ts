import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extract } from 'tar-stream';
import { execWhenUp, ignite } from '../helpers/cli.js';
import { pushCraftedImage, type LayerEntry } from '../helpers/push-image.js';
import { TEST_KERNEL, vmTestEnv } from '../helpers/vm-env.js';

const pexec = promisify(execFile);
const FAKE_FIRECRACKER = fileURLToPath(new URL('../fixtures/vmm/bin', import.meta.url));

interface Stored {
  metadata: { uid: string; name: string };
  status: { version?: string };
}

const inspect = async (kind: string, name: string, env: NodeJS.ProcessEnv) =>
  JSON.parse((await ignite(['inspect', kind, name], { env })).stdout) as Stored;

/** Blocks the file really takes on disk, in bytes. */
const allocated = async (path: string) => (await stat(path)).blocks * 512;

test(
  'modules of the micro kernel image load in a Debian guest; a second VM copies no image',
  { timeout: 900_000 },
  async (tc) => {
    assert.equal(process.getuid?.(), 0, 'the default network needs root (CI runs as root)');
    await using t = await vmTestEnv(['debian', 'kernel-micro']);
    const { env } = t;
    const image = `${t.registry}/ignite-debian:bookworm`;
    const [a, b] = [`mods-a-${process.pid}`, `mods-b-${process.pid}`];
    try {
      const run = await ignite(['run', image, '--name', a, '--ssh', '--memory', '256MB'], { env });
      assert.equal(run.code, 0, run.stderr);
      const release = (await inspect('kernel', `${t.registry}/${TEST_KERNEL}`, env)).status.version;
      assert.match(release ?? '', /^6\.1\.\d+-micro$/);
      const ls = await execWhenUp(a, ['ls', `/lib/modules/${release}/kernel/drivers/net`], env);
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /dummy\.ko/);
      const probe = await ignite(
        [
          'exec',
          a,
          '--',
          'sh',
          '-c',
          'modprobe dummy && grep -w ^dummy /proc/modules && ip link add d0 type dummy && ip -o link show d0',
        ],
        { env },
      );
      assert.equal(probe.code, 0, probe.stdout + probe.stderr);
      assert.match(probe.stdout, /^dummy /m);
      assert.match(probe.stdout, /d0: <BROADCAST,NOARP>/);

      // The second VM's disk holds the modules too, in its own overlay over the shared image.
      const create = await ignite(['create', image, '--name', b, '--ssh'], { env });
      assert.equal(create.code, 0, create.stderr);
      const imageUID = (await inspect('image', image, env)).metadata.uid;
      const imageBytes = await allocated(join(t.dataDir, 'image', imageUID, 'image.ext4'));
      for (const vm of [a, b]) {
        const uid = (await inspect('vm', vm, env)).metadata.uid;
        const overlay = await allocated(join(t.dataDir, 'vm', uid, 'rootfs.qcow2'));
        tc.diagnostic(`${vm}: overlay ${overlay} bytes allocated, image ${imageBytes}`);
        assert.ok(
          overlay * 10 < imageBytes,
          `${vm}: its overlay takes ${overlay} bytes, the image ${imageBytes}: not a copy`,
        );
      }
    } finally {
      await ignite(['rm', '-f', a, b], { env });
    }
  },
);

/** The micro kernel's files, as imported: its vmlinux and its modules as layer entries. */
async function microKernelFiles(dataDir: string, env: NodeJS.ProcessEnv, registry: string) {
  const kernel = await inspect('kernel', `${registry}/${TEST_KERNEL}`, env);
  const dir = join(dataDir, 'kernel', kernel.metadata.uid);
  const modules: LayerEntry[] = [];
  const ex = extract();
  Readable.from([await readFile(join(dir, 'modules.tar'))]).pipe(ex);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    const { name, type, mode, linkname } = e.header;
    const entry = {
      name: `lib/modules/${name}`,
      type,
      mode,
      linkname: type === 'link' ? `lib/modules/${linkname ?? ''}` : (linkname ?? ''),
    };
    modules.push(type === 'file' ? [entry, Buffer.concat(chunks)] : [entry]);
  }
  return { vmlinux: join(dir, 'vmlinux'), modules };
}

test(
  'a kernel image without the PVH note: run refuses it on QEMU at once; Firecracker takes it',
  { timeout: 600_000 },
  async (tc) => {
    await using t = await vmTestEnv(['busybox', 'kernel-micro']);
    const { env } = t;
    const imp = await ignite(['kernel', 'import', `${t.registry}/${TEST_KERNEL}`], { env });
    assert.equal(imp.code, 0, imp.stderr);
    const micro = await microKernelFiles(t.dataDir, env, t.registry);
    // Laid out like Weave Ignite's kernel images: /boot/vmlinux without PVH, /lib/modules, no initrd.
    const nopvh = join(t.dataDir, 'vmlinux-nopvh');
    await pexec('objcopy', ['--remove-section', '.notes', micro.vmlinux, nopvh]);
    // readelf exits 1 when a file has no notes at all.
    const notes = await pexec('readelf', ['-n', nopvh]).then(
      (r) => r.stdout,
      (e: { stdout?: string }) => e.stdout ?? '',
    );
    assert.doesNotMatch(notes, /Xen/, 'the PVH note is gone');
    await pushCraftedImage(t.registry, 'ignite-kernel', 'nopvh', [
      [
        [{ name: 'boot', type: 'directory', mode: 0o755 }],
        [{ name: 'boot/vmlinux', mode: 0o755 }, await readFile(nopvh)],
      ],
      micro.modules,
    ]);
    const kernelRef = `${t.registry}/ignite-kernel:nopvh`;
    const name = `nopvh-${process.pid}`;
    const started = Date.now();
    const run = await ignite(
      [
        'run',
        `${t.registry}/ignite-busybox`,
        '--name',
        name,
        '--net',
        'none',
        '--kernel-image',
        kernelRef,
        '--vmm',
        'qemu',
      ],
      { env },
    );
    const took = Date.now() - started;
    tc.diagnostic(`run refused the kernel in ${took} ms`);
    assert.notEqual(run.code, 0, 'refused');
    assert.match(
      run.stderr,
      new RegExp(
        `^Error: kernel "${kernelRef}": qemu cannot boot it: its vmlinux has no PVH entry point`,
        'm',
      ),
    );
    assert.match(run.stderr, /ignite-kernel:6\.1-micro/);
    assert.match(run.stderr, /install Firecracker and use --vmm firecracker/);
    assert.ok(took < 2_000, `refused within 2 s (took ${took} ms)`);
    assert.equal((await ignite(['ps', '-a', '-q'], { env })).stdout, '', 'no VM left');
    assert.deepEqual(
      await readdir(join(t.dataDir, 'vm')).catch(() => []),
      [],
      'no VM directory left',
    );
    const created = await ignite(
      [
        'create',
        `${t.registry}/ignite-busybox`,
        '--name',
        name,
        '--kernel-image',
        kernelRef,
        '--vmm',
        'qemu',
      ],
      { env },
    );
    assert.notEqual(created.code, 0, 'create refuses it too');
    assert.match(created.stderr, /qemu cannot boot it/);

    // The same kernel on Firecracker (the spec-checking stand-in: no Firecracker runs here).
    const fcEnv = { ...env, PATH: `${FAKE_FIRECRACKER}${delimiter}${process.env.PATH ?? ''}` };
    const fc = await ignite(
      [
        'run',
        `${t.registry}/ignite-busybox`,
        '--name',
        name,
        '--net',
        'none',
        '--kernel-image',
        kernelRef,
        '--vmm',
        'firecracker',
      ],
      { env: fcEnv },
    );
    try {
      assert.equal(fc.code, 0, fc.stderr);
      const ps = await ignite(['ps', '-o', '{{.Status.State}}'], { env: fcEnv });
      assert.match(ps.stdout, /Running/);
    } finally {
      await ignite(['rm', '-f', name], { env: fcEnv });
    }
  },
);
