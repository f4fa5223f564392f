import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { ignite } from '../helpers/cli.js';
import { storeManifestAsIs, tempDataDir } from '../helpers/data-dir.js';

const pexec = promisify(execFile);
const FIX = join(import.meta.dirname, '../fixtures/manifests');

test('inspect prints a VM stored as an Ignite v0.4.0 YAML manifest, with defaults filled in', async () => {
  await using dir = await tempDataDir();
  await storeManifestAsIs(dir.path, 'vm', join(FIX, 'ignite-v0.4/vm-minimal.yaml'));
  const r = await ignite(['inspect', 'vm', 'my-vm'], { dataDir: dir.path });
  assert.equal(r.code, 0, r.stderr);
  const obj = JSON.parse(r.stdout) as {
    apiVersion: string;
    spec: Record<string, unknown>;
    status: Record<string, unknown>;
  };
  assert.equal(obj.apiVersion, 'ignite.weave.works/v1alpha1');
  assert.equal(obj.spec['cpus'], 1);
  assert.equal(obj.spec['memory'], '512MB');
  assert.equal(obj.spec['diskSize'], '4GB');
  assert.deepEqual(obj.spec['kernel'], {
    ociClaim: { type: 'Docker', ref: 'docker.io/weaveworks/ignite-kernel:4.19.47' },
    cmdLine: 'console=ttyS0 reboot=k panic=1 pci=off ip=dhcp',
  });
  assert.deepEqual(obj.spec['network'], { mode: 'docker-bridge' });
  assert.equal(obj.status['state'], 'Created');

  const j = await ignite(['inspect', 'vm', 'my-vm', '-o', 'json'], { dataDir: dir.path });
  assert.equal(
    (JSON.parse(j.stdout) as { apiVersion: string }).apiVersion,
    'ignite.weave.works/v1alpha1',
  );

  const y = await ignite(['inspect', 'VM', 'my', '-o', 'yaml'], { dataDir: dir.path });
  assert.equal(y.code, 0, y.stderr);
  assert.equal((parse(y.stdout) as { metadata: { name: string } }).metadata.name, 'my-vm');

  const t = await ignite(
    ['inspect', 'vm', 'my-vm', '-o', '{{.Spec.CPUs}} {{.Name}} {{.Status.State}}'],
    { dataDir: dir.path },
  );
  assert.equal(t.stdout, '1 my-vm Created\n');
});

test('the full v0.4.0 manifest keeps its fields through inspect and ps', async () => {
  await using dir = await tempDataDir();
  const uid = await storeManifestAsIs(dir.path, 'vm', join(FIX, 'ignite-v0.4/vm-full.yaml'));
  const r = await ignite(['inspect', 'vm', uid.slice(0, 6)], { dataDir: dir.path });
  assert.equal(r.code, 0, r.stderr);
  const obj = JSON.parse(r.stdout) as {
    spec: { cpus: number; memory: string; ssh: unknown; network: unknown };
  };
  assert.equal(obj.spec.cpus, 2);
  assert.equal(obj.spec.memory, '1GB');
  assert.equal(obj.spec.ssh, true);
  assert.deepEqual(obj.spec.network, {
    mode: 'docker-bridge',
    ports: [{ hostPort: 443, vmPort: 6443 }],
  });

  const ps = await ignite(['ps', '-a'], { dataDir: dir.path });
  assert.equal(ps.code, 0, ps.stderr);
  const lines = ps.stdout.trimEnd().split('\n');
  assert.match(
    lines[0] ?? '',
    /^VM ID\s+IMAGE\s+KERNEL\s+CREATED\s+SIZE\s+CPUS\s+MEMORY\s+STATE\s+UPTIME\s+RESTARTS\s+IPS\s+PORTS\s+NAME$/,
  );
  assert.match(
    lines[1] ?? '',
    /^05286f8fb73dc324\s+weaveworks\/ignite-ubuntu:latest\s+weaveworks\/ignite-kernel:4\.19\.47\s+.*4\.0 GB\s+2\s+1024\.0 MB\s+Stopped\s+0\s+0\.0\.0\.0:443->6443\s+ubuntu-vm$/,
  );
  const q = await ignite(['-q', 'ps', '-a'], { dataDir: dir.path });
  assert.equal(q.stdout, '05286f8fb73dc324\n');
  // Docker's spelling, which scripts use: the short flags combined after the command.
  const aq = await ignite(['ps', '-aq'], { dataDir: dir.path });
  assert.equal(aq.stdout, '05286f8fb73dc324\n', aq.stderr);
  const js = await ignite(['vm', 'ps', '-a', '-o', 'json', '--filter', 'label=foo=bar'], {
    dataDir: dir.path,
  });
  assert.equal((JSON.parse(js.stdout) as unknown[]).length, 1);
  const none = await ignite(['ps', '-a', '-o', 'json', '--filter', 'name=nomatch'], {
    dataDir: dir.path,
  });
  assert.deepEqual(JSON.parse(none.stdout), []);
});

test('a manifest with wrong fields gets one line per problem and a non-zero exit', async () => {
  await using dir = await tempDataDir();
  await storeManifestAsIs(
    dir.path,
    'vm',
    join(FIX, 'invalid/vm-wrong-fields.yaml'),
    'abcdefabcdef0001',
  );
  const r = await ignite(['inspect', 'vm', 'abcdefabcdef0001'], { dataDir: dir.path });
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '');
  const problemLines = r.stderr.split('\n').filter((l) => /^\s+\.spec\./.test(l));
  assert.equal(problemLines.length, 6, r.stderr);
  for (const field of [
    '.spec.cpus',
    '.spec.memory',
    '.spec.diskSize',
    '.spec.network.mode',
    '.spec.network.ports[0].hostPort',
    '.spec.sshKey',
  ]) {
    assert.ok(
      problemLines.some((l) => l.trim().startsWith(`${field}:`)),
      `${field} in ${r.stderr}`,
    );
  }
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('user errors are one line, with documented exit codes; debug shows the cause', async () => {
  await using dir = await tempDataDir();
  const nf = await ignite(['inspect', 'vm', 'nope'], { dataDir: dir.path });
  assert.equal(nf.code, 3);
  assert.equal(nf.stderr, 'Error: vm "nope": not found\n');
  const kind = await ignite(['inspect', 'pod', 'x'], { dataDir: dir.path });
  assert.equal(kind.code, 2);
  const usage = await ignite(['frobnicate'], { dataDir: dir.path });
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown command 'frobnicate'/);
  const restart = await ignite(['create', 'busybox', '--restart', 'sometimes'], {
    dataDir: dir.path,
  });
  assert.equal(restart.code, 2, restart.stderr);
  assert.match(
    restart.stderr,
    /^Error: --restart: "sometimes" is not a restart policy; expected no, on-failure, on-failure:N or always\n$/,
  );
  const dbg = await ignite(['--log-level', 'debug', 'inspect', 'vm', 'nope'], {
    dataDir: dir.path,
  });
  assert.match(dbg.stderr, /Trace: AppError: vm "nope": not found\n\s+at /);
});

test('version, help and empty listings work', async () => {
  await using dir = await tempDataDir();
  const v = await ignite(['version', '-o', 'json'], { dataDir: dir.path });
  assert.equal(v.code, 0);
  const info = JSON.parse(v.stdout) as {
    version: string;
    gitCommit: string;
    hypervisor: { name: string; found: boolean; version?: string };
    tools: Record<string, { found: boolean; version?: string }>;
  };
  assert.match(info.version, /^\d+\.\d+\.\d+/);
  assert.match(info.gitCommit, /^[0-9a-f]{40}/);
  // The versions reported are those the programs themselves print.
  const qemu = (await pexec('qemu-system-x86_64', ['--version'])).stdout;
  assert.ok(qemu.includes(`version ${info.tools['qemu-system-x86_64']?.version ?? '?'}`), qemu);
  const git = (await pexec('git', ['--version'])).stdout.trim();
  assert.equal(git, `git version ${info.tools['git']?.version ?? '?'}`);
  assert.ok(['qemu', 'firecracker'].includes(info.hypervisor.name));
  assert.equal(info.hypervisor.found, true, 'the hypervisor new VMs would use is installed');
  const help = await ignite(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /inspect/);
  for (const args of [
    ['ps', '--help'],
    ['inspect', '--help'],
    ['image', 'ls', '--help'],
    ['vm', '--help'],
  ]) {
    const h = await ignite(args);
    assert.equal(h.code, 0, args.join(' '));
    assert.match(h.stdout, /^Usage: /);
  }
  for (const args of [['ps'], ['ps', '-a'], ['image', 'ls'], ['kernel'], ['vm']]) {
    const r = await ignite(args, { dataDir: dir.path });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
});
