import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { ignite, runProgram } from '../helpers/cli.js';
import { freePort } from '../helpers/registry.js';
import {
  asUser,
  ensureUser,
  ROOTLESS_USERS,
  processesOnceIdle,
  runtimeDirOf,
} from '../helpers/rootless-user.js';
import { diffTrees, snapshotTree, type TreeSnapshot } from '../helpers/tree-snapshot.js';
import { TEST_KERNEL, vmTestEnv } from '../helpers/vm-env.js';

const pexec = promisify(execFile);

/** `preferred` if nothing on the host holds it now (on any address), else a free port. */
async function portOr(preferred: number): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(preferred, () => s.close(() => resolve(true)));
  });
  return free ? preferred : freePort();
}

/** The body of `http://127.0.0.1:<port>/`, tried for up to about 10 s; '' if none came. */
async function fetchPage(port: number): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const page = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) })
      .then((r) => (r.ok ? r.text() : ''))
      .catch(() => '');
    if (page !== '') return page;
    await new Promise((r) => setTimeout(r, 200));
  }
  return '';
}

/** A DNS server answering A queries for `name` with `address` (and nothing else). */
async function startDNSStub(name: string, address: string, port: number) {
  const sock = createSocket('udp4');
  sock.on('message', (q, from) => {
    // The question: its labels from offset 12, then type and class.
    let i = 12;
    const labels: string[] = [];
    while (i < q.length && q[i] !== 0) {
      const n = q[i] ?? 0;
      labels.push(q.subarray(i + 1, i + 1 + n).toString());
      i += n + 1;
    }
    const question = q.subarray(12, i + 5);
    const type = q.readUInt16BE(i + 1);
    const hit = labels.join('.').toLowerCase() === name && type === 1;
    const header = Buffer.from(q.subarray(0, 12));
    header.writeUInt16BE(hit ? 0x8180 : 0x8183, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(hit ? 1 : 0, 6);
    header.writeUInt32BE(0, 8);
    const answer = hit
      ? Buffer.concat([
          Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]),
          Buffer.from(address.split('.').map(Number)),
        ])
      : Buffer.alloc(0);
    sock.send(Buffer.concat([header, question, answer]), from.port, from.address);
  });
  await new Promise<void>((resolve) => sock.bind(port, '127.0.0.1', resolve));
  return { [Symbol.asyncDispose]: () => new Promise<void>((r) => sock.close(() => r())) };
}

/** Mounts an image file read-only (as root) and snapshots its tree. */
async function imageTree(image: string): Promise<TreeSnapshot> {
  const mnt = await mkdtemp(join(tmpdir(), 'ignite-rootless-mnt-'));
  await pexec('mount', ['-o', 'loop,ro', image, mnt]);
  try {
    return await snapshotTree(mnt);
  } finally {
    await pexec('umount', [mnt]);
    await rm(mnt, { recursive: true, force: true });
  }
}

test(
  'rootless: an ordinary user imports, runs with user networking and port forwards, exec/cp over the forwarded SSH, a guest HTTP server on the host port, and stop then rm leave nothing',
  { timeout: 600_000 },
  async (ctx) => {
    assert.equal(process.getuid?.(), 0, 'the test makes users and switches to them: run as root');
    await using t = await vmTestEnv(['busybox', 'debian-slim', 'kernel-micro']);
    const user1 = await ensureUser(ROOTLESS_USERS[0]);
    const user2 = await ensureUser(ROOTLESS_USERS[1]);
    for (const u of [user1, user2])
      await rm(join(u.home, '.local/share/ignite'), { recursive: true, force: true });
    const runtime1 = await runtimeDirOf(user1);
    const env = {
      IGNITE_KERNEL_IMAGE: `${t.registry}/${TEST_KERNEL}`,
      IGNITE_ACCEL: 'tcg',
      XDG_RUNTIME_DIR: runtime1,
    };
    const dataDir1 = join(user1.home, '.local/share/ignite');
    const work = await mkdtemp(join(tmpdir(), 'ignite-rootless-'));
    await chmod(work, 0o755);
    const name = `rl-${process.pid}`;
    const busybox = `${t.registry}/ignite-busybox`;
    try {
      // 1. Import as the user and as root: the same tree, owners, modes, devices, links.
      const imp = await asUser(user1, ['--log-level', 'warn', 'image', 'import', busybox], env);
      assert.equal(imp.code, 0, imp.stderr);
      const rootImp = await ignite(['--log-level', 'warn', 'image', 'import', busybox], {
        env: t.env,
      });
      assert.equal(rootImp.code, 0, rootImp.stderr);
      const imageFile = async (dir: string) => {
        const [uid] = await readdir(join(dir, 'image'));
        return join(dir, 'image', uid ?? '', 'image.ext4');
      };
      const asRoot = await imageTree(await imageFile(t.dataDir));
      const asUserTree = await imageTree(await imageFile(dataDir1));
      assert.deepEqual(
        diffTrees(asRoot, asUserTree, () => false),
        [],
      );
      assert.ok(Object.values(asRoot.entries).some((e) => e.uid === 0));

      const debian = await asUser(
        user1,
        ['--log-level', 'warn', 'image', 'import', `${t.registry}/ignite-debian:slim`],
        env,
      );
      assert.equal(debian.code, 0, debian.stderr);

      // 2. A port below the unprivileged start is refused at once, with the reason.
      const low = await asUser(
        user1,
        ['create', busybox, '--name', `${name}-low`, '-p', '80:80'],
        env,
      );
      assert.equal(low.code, 6, low.stderr);
      assert.match(low.stderr, /host port 80\/tcp is below 1024.*ip_unprivileged_port_start/);
      for (const net of ['cni', 'docker-bridge']) {
        const r = await asUser(
          user1,
          ['create', busybox, '--name', `${name}-${net}`, '--net', net],
          env,
        );
        assert.equal(r.code, 6, r.stderr);
        assert.match(r.stderr, /needs root/);
      }

      // 3. A root VM beside the user's, sharing nothing with it.
      const rootVM = await ignite(
        ['run', busybox, '--name', `${name}-root`, '--net', 'none', '--memory', '64MB'],
        { env: t.env },
      );
      assert.equal(rootVM.code, 0, rootVM.stderr);

      // 4. The user's VM: user networking by default, SSH and an HTTP port forwarded. The issue
      // names 2222 and 8080; on a host shared with other work either may be taken, and then any
      // free port tests the same forwarding.
      const sshFwd = await portOr(2222);
      const httpFwd = await portOr(8080);
      ctx.diagnostic(`forwarded host ports: ${sshFwd}:22, ${httpFwd}:80`);
      const run = await asUser(
        user1,
        [
          'run',
          `${t.registry}/ignite-debian:slim`,
          '--name',
          name,
          '--ssh',
          '-p',
          `${sshFwd}:22`,
          '-p',
          `${httpFwd}:80`,
          '--memory',
          '128MB',
        ],
        env,
      );
      assert.equal(run.code, 0, run.stderr);
      const spawnLog = await asUser(user1, ['logs', '--spawn', name], env);
      for (const line of spawnLog.stdout.split('\n').filter((l) => /passt|user networking/.test(l)))
        ctx.diagnostic(`supervisor: ${line}`);
      const inspect = JSON.parse((await asUser(user1, ['inspect', 'vm', name], env)).stdout) as {
        metadata: { uid: string };
        spec: { network: { mode: string } };
        status: { network: { mode: string; sshPort?: number } };
      };
      assert.equal(inspect.spec.network.mode, 'user', 'the default without root, recorded');
      assert.ok(inspect.status.network.sshPort, 'the forwarded SSH port is in the status');

      // Every socket and pid file of the running VM is under the user's runtime dir, none in
      // its directory under the data dir.
      const runDir = join(runtime1, 'ignite', inspect.metadata.uid);
      const vmDir = join(dataDir1, 'vm', inspect.metadata.uid);
      const inRunDir = await readdir(runDir);
      for (const sock of ['control.sock', 'console.sock', 'supervisor.sock', 'prometheus.sock']) {
        assert.ok(inRunDir.includes(sock), `${sock} in ${runDir}: ${inRunDir.join(' ')}`);
        assert.ok((await stat(join(runDir, sock))).isSocket(), sock);
      }
      assert.ok(inRunDir.includes('run.json'), 'the run record with its pids');
      assert.deepEqual(
        (await readdir(vmDir)).filter((f) => /\.(sock|pid)$|^run\.json$/.test(f)),
        [],
        'no socket or pid file in the data dir',
      );
      assert.equal((await stat(runDir)).mode & 0o077, 0, 'the run dir is 0700');
      const metrics = await asUser(user1, ['metrics', name], env);
      assert.equal(metrics.code, 0, metrics.stderr);
      assert.match(metrics.stdout, /^# HELP /m, 'metrics served on the runtime dir socket');

      const uname = await asUser(
        user1,
        ['exec', name, '--timeout', '120s', '--', 'uname', '-r'],
        env,
      );
      assert.equal(uname.code, 0, uname.stderr);
      assert.match(uname.stdout, /-micro/);

      // The forwarded host port answers: sshd's banner through -p.
      const banner = await new Promise<string>((resolve, reject) => {
        // Debian 12's passt relays the server's greeting once the client has sent its own.
        const c = connect(sshFwd, '127.0.0.1', () => c.write('SSH-2.0-test\r\n'));
        c.once('data', (d) => (c.destroy(), resolve(d.toString())));
        c.once('error', reject);
        setTimeout(() => (c.destroy(), reject(new Error('no banner'))), 10_000).unref();
      });
      assert.match(banner, /^SSH-2\.0-/);

      // A guest HTTP server (perl is the one interpreter the image has) answers on the
      // forwarded host port. It closes its stdio so that exec returns at once.
      const httpd = [
        '$s = IO::Socket::INET->new(LocalPort => 80, Listen => 5, ReuseAddr => 1) or die "$!";',
        'close STDIN; close STDOUT; close STDERR;',
        'while ($c = $s->accept) { while (<$c>) { last if /^\\r?$/ }',
        'print $c "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nserved by a rootless guest\\n";',
        'close $c }',
      ].join(' ');
      const serve = await asUser(
        user1,
        ['exec', name, '--', 'setsid', '-f', 'perl', '-MIO::Socket::INET', '-e', httpd],
        env,
      );
      assert.equal(serve.code, 0, serve.stderr);
      assert.equal(await fetchPage(httpFwd), 'served by a rootless guest\n');

      // cp both ways.
      await writeFile(join(work, 'in.txt'), 'to a rootless guest\n');
      await chmod(join(work, 'in.txt'), 0o644);
      const up = await asUser(user1, ['cp', join(work, 'in.txt'), `${name}:/root/in.txt`], env);
      assert.equal(up.code, 0, up.stderr);
      const cat = await asUser(user1, ['exec', name, '--', 'cat', '/root/in.txt'], env);
      assert.equal(cat.stdout, 'to a rootless guest\n');

      // 5. Outbound TCP, UDP and DNS from the guest to servers on the host's loopback, which the
      // guest reaches at its gateway.
      const route = await asUser(
        user1,
        ['exec', name, '--', 'ip', '-4', 'route', 'show', 'default'],
        env,
      );
      const gw = /default via (\S+)/.exec(route.stdout)?.[1];
      assert.ok(gw, route.stdout + route.stderr);
      const tcpPort = await freePort();
      const tcp = createServer((s) => s.end('tcp-from-host\n')).listen(tcpPort, '127.0.0.1');
      const udpPort = await freePort();
      const udp = createSocket('udp4');
      const gotUDP = new Promise<string>((resolve) =>
        udp.once('message', (m) => resolve(m.toString())),
      );
      await new Promise<void>((r) => udp.bind(udpPort, '127.0.0.1', r));
      try {
        const tcpOut = await asUser(
          user1,
          ['exec', name, '--', 'bash', '-c', `exec 3<>/dev/tcp/${gw}/${tcpPort}; cat <&3`],
          env,
        );
        assert.equal(tcpOut.stdout, 'tcp-from-host\n', tcpOut.stderr);
        const udpOut = await asUser(
          user1,
          ['exec', name, '--', 'bash', '-c', `echo udp-from-guest > /dev/udp/${gw}/${udpPort}`],
          env,
        );
        assert.equal(udpOut.code, 0, udpOut.stderr);
        assert.equal(await gotUDP, 'udp-from-guest\n');
      } finally {
        tcp.close();
        udp.close();
      }
      const resolv = await asUser(user1, ['exec', name, '--', 'cat', '/etc/resolv.conf'], env);
      assert.match(resolv.stdout, /^nameserver 10\.0\.2\.3$/m, 'the user network answers DNS');
      {
        await using _dns = await startDNSStub('rootless.test', '192.0.2.123', 53);
        const dns = await asUser(
          user1,
          [
            'exec',
            name,
            '--',
            'sh',
            '-c',
            `echo nameserver ${gw} > /etc/resolv.conf && getent hosts rootless.test`,
          ],
          env,
        );
        assert.match(dns.stdout, /^192\.0\.2\.123\s+rootless\.test/, dns.stderr);
      }

      // 6. Another user sees none of it.
      const other = await asUser(user2, ['ps', '-a', '-q'], {});
      assert.equal(other.code, 0, other.stderr);
      assert.equal(other.stdout.trim(), '', "the second user's store is its own");
      assert.equal((await stat(dataDir1)).mode & 0o077, 0, "the user's data dir is 0700");
      const peek = await runProgram(
        'runuser',
        ['-u', user2.name, '--', 'ls', join(dataDir1, 'vm'), runtime1],
        {},
      );
      assert.notEqual(peek.code, 0, `the second user listed the first's files: ${peek.stdout}`);
      assert.equal(
        (await ignite(['ps', '-q'], { env: t.env })).stdout.trim().split('\n').length,
        1,
        "root's store holds only root's VM",
      );

      // 7. Saved and resumed: nothing of the run is left while it is saved (the migration socket
      // is made in the run dir), and the guest's HTTP server, in RAM only, answers again.
      const saved = await asUser(user1, ['stop', '--save', name], env);
      assert.equal(saved.code, 0, saved.stderr);
      assert.deepEqual(
        await processesOnceIdle(user1.name),
        [],
        'no process while saved (its supervisor idle)',
      );
      assert.deepEqual(await readdir(runtime1), [], 'no socket or pid file while saved');
      const resumed = await asUser(user1, ['start', name], env);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(await fetchPage(httpFwd), 'served by a rootless guest\n', 'resumed from RAM');

      // 8. stop, then rm: no process, socket or file of the VM is left.
      const stopped = await asUser(user1, ['stop', name], env);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.deepEqual(
        await processesOnceIdle(user1.name),
        [],
        'no process once stopped (and its supervisor idle)',
      );
      assert.deepEqual(await readdir(runtime1), [], 'no socket or pid file once stopped');
      const removed = await asUser(user1, ['rm', name], env);
      assert.equal(removed.code, 0, removed.stderr);
      assert.deepEqual(await processesOnceIdle(user1.name), []);
      assert.deepEqual(await readdir(join(dataDir1, 'vm')), []);
      assert.deepEqual(await readdir(runtime1), []);

      // 9. Manifests as the user: --config, and gitops from a repository of the user's.
      const manifest = (vm: string) =>
        `apiVersion: ignite.weave.works/v1alpha1\nkind: VM\nmetadata:\n  name: ${vm}\nspec:\n  image:\n    ociClaim:\n      ref: ${busybox}\n  memory: 64MB\n`;
      await writeFile(join(work, 'vm.yaml'), manifest(`${name}-cfg`));
      await chmod(join(work, 'vm.yaml'), 0o644);
      const fromConfig = await asUser(user1, ['create', '--config', join(work, 'vm.yaml')], env);
      assert.equal(fromConfig.code, 0, fromConfig.stderr);
      const repo = join(user1.home, 'manifests');
      await rm(repo, { recursive: true, force: true });
      await mkdir(repo);
      await writeFile(join(repo, 'vm.yaml'), manifest(`${name}-git`));
      const git = (args: string[]) =>
        runProgram('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {});
      for (const args of [
        ['init', '-q', '-b', 'main'],
        ['add', '.'],
        ['commit', '-qm', 'vm'],
      ])
        assert.equal((await git(args)).code, 0);
      await runProgram('chown', ['-R', `${user1.uid}:${user1.uid}`, repo], {});
      const gitops = await asUser(user1, ['gitops', '--once', `file://${repo}`], env);
      assert.equal(gitops.code, 0, gitops.stderr);
      assert.match(gitops.stdout, new RegExp(`${name}-git\\s+created`));
      const listed = (await asUser(user1, ['ps', '-a'], env)).stdout;
      for (const vm of [`${name}-cfg`, `${name}-git`]) assert.match(listed, new RegExp(vm));
      const cleared = await asUser(user1, ['rm', '-f', `${name}-cfg`, `${name}-git`], env);
      assert.equal(cleared.code, 0, cleared.stderr);
      assert.deepEqual(await processesOnceIdle(user1.name), []);
      assert.deepEqual(await readdir(join(dataDir1, 'vm')), []);
      await rm(repo, { recursive: true, force: true });
    } finally {
      await asUser(user1, ['rm', '-f', name, `${name}-cfg`, `${name}-git`], env).catch(
        () => undefined,
      );
      await ignite(['rm', '-f', `${name}-root`], { env: t.env }).catch(() => undefined);
      await rm(work, { recursive: true, force: true });
      await rm(runtime1, { recursive: true, force: true });
      await rm(join(user1.home, '.local/share/ignite'), { recursive: true, force: true });
      await rm(join(user2.home, '.local/share/ignite'), { recursive: true, force: true });
    }
  },
);
