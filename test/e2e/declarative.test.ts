import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../helpers/cli.js';
import { freePort } from '../helpers/registry.js';
import { vmTestEnv } from '../helpers/vm-env.js';

// `run --config` with a manifest that sets every field Ignite v0.4.0 accepted, checked from
// inside a real Debian guest under TCG; a flag overrides the manifest's field.
test(
  'run --config: name, labels, kernel image and cmdline, cpus, memory, diskSize, ports, copyFiles and ssh all take effect; flags override',
  { timeout: 900_000 },
  async () => {
    await using t = await vmTestEnv(['kernel', 'debian']);
    const { env } = t;
    const work = await mkdtemp(join(tmpdir(), 'ignite-config-'));
    const name = `cfg-${process.pid}`;
    const port = await freePort();
    try {
      await writeFile(join(work, 'hello.txt'), 'hello from the manifest\n');
      const manifest = `apiVersion: ignite.weave.works/v1alpha1
kind: VM
metadata:
  name: ${name}
  labels:
    env: test
spec:
  image:
    ociClaim:
      ref: ${t.registry}/ignite-debian:bookworm
  kernel:
    ociClaim:
      ref: ${t.registry}/ignite-kernel:6.1
    cmdLine: 'console=ttyS0 reboot=k panic=1 pci=off ip=dhcp ignite.test=declarative'
  cpus: 1
  memory: 384MB
  diskSize: 3GB
  network:
    mode: docker-bridge
    ports:
      - hostPort: ${port}
        vmPort: 8080
  copyFiles:
    - hostPath: ${join(work, 'hello.txt')}
      vmPath: /srv/www/hello.txt
    - hostPath: /bin/busybox
      vmPath: /usr/local/bin/busybox
  ssh: true
status:
  state: Running
`;
      const file = join(work, 'vm.yaml');
      await writeFile(file, manifest);

      const conflict = await ignite(['create', `${t.registry}/ignite-busybox`, '--config', file], {
        env,
      });
      assert.equal(conflict.code, 2, 'an image argument that contradicts the manifest');
      assert.match(conflict.stderr, /the manifest asks for/);

      const run = await ignite(['run', '--config', file, '--cpus', '2', '--label', 'extra=yes'], {
        env,
        timeoutMs: 300_000,
      });
      assert.equal(run.code, 0, run.stderr);
      const exec = (...cmd: string[]) => ignite(['exec', name, '--', ...cmd], { env });
      let up = await exec('true');
      for (let i = 0; i < 60 && up.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 2000));
        up = await exec('true');
      }
      assert.equal(up.code, 0, `ssh (spec.ssh: true) reaches the guest: ${up.stderr}`);

      assert.equal((await exec('nproc')).stdout.trim(), '2', '--cpus overrides spec.cpus');
      const memKiB = Number(
        /MemTotal:\s+(\d+)/.exec((await exec('cat', '/proc/meminfo')).stdout)?.[1],
      );
      assert.ok(memKiB > 300 * 1024 && memKiB <= 384 * 1024, `MemTotal ${memKiB} KiB for 384MB`);
      const rootBytes = Number(
        (await exec('df', '-B1', '--output=size', '/')).stdout.split('\n')[1],
      );
      assert.ok(
        rootBytes > 2.7e9 && rootBytes <= 3.3e9,
        `root filesystem of ${rootBytes} bytes for 3GB`,
      );
      assert.match((await exec('cat', '/proc/cmdline')).stdout, /ignite\.test=declarative/);
      assert.equal((await exec('cat', '/srv/www/hello.txt')).stdout, 'hello from the manifest\n');

      const vm = JSON.parse((await ignite(['inspect', 'vm', name], { env })).stdout) as {
        metadata: { labels: Record<string, string> };
        status: { state: string };
      };
      assert.deepEqual(vm.metadata.labels, { env: 'test', extra: 'yes' });
      assert.equal(vm.status.state, 'Running');

      // The port mapping: busybox httpd (copied in by copyFiles) on the guest's 8080.
      const httpd = await exec('/usr/local/bin/busybox', 'httpd', '-p', '8080', '-h', '/srv/www');
      assert.equal(httpd.code, 0, httpd.stderr);
      let body = '';
      for (let i = 0; i < 20 && body === ''; i++) {
        body = await fetch(`http://127.0.0.1:${port}/hello.txt`).then(
          (r) => (r.ok ? r.text() : ''),
          () => '',
        );
        if (body === '') await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(body, 'hello from the manifest\n', `127.0.0.1:${port} reaches the guest's 8080`);
    } finally {
      await ignite(['rm', '-f', name], { env });
      await rm(work, { recursive: true, force: true });
    }
  },
);
