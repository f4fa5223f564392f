import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { IGNITE_BIN, ignite, runProgram, type CliResult } from '../helpers/cli.js';
import { freePort } from '../helpers/registry.js';
import { diffTrees, snapshotTree, type TreeSnapshot } from '../helpers/tree-snapshot.js';
import { TEST_KERNEL, vmTestEnv } from '../helpers/vm-env.js';

const pexec = promisify(execFile);

/** Two ordinary users, made if missing: no sudo, no groups beyond their own. */
const USERS = ['ignite-rootless1', 'ignite-rootless2'] as const;

async function ensureUser(name: string): Promise<{ uid: number; home: string }> {
  const have = await pexec('id', ['-u', name]).catch(() => undefined);
  if (have === undefined) await pexec('useradd', ['-m', '-s', '/bin/sh', name]);
  const [, , uid, , , home] = (await pexec('getent', ['passwd', name])).stdout.trim().split(':');
  return { uid: Number(uid), home: home ?? `/home/${name}` };
}

/** The built CLI as `user`, with only the environment a login would give plus `env`. */
function asUser(
  user: { name: string; home: string },
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 180_000,
): Promise<CliResult> {
  const vars = Object.entries({ HOME: user.home, USER: user.name, ...env }).map(
    ([k, v]) => `${k}=${v}`,
  );
  return runProgram(
    'runuser',
    ['-u', user.name, '--', 'env', '-i', `PATH=${process.env['PATH'] ?? ''}`, ...vars].concat([
      process.execPath,
      IGNITE_BIN,
      ...args,
    ]),
    {},
    timeoutMs,
  );
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

async function processesOf(user: string): Promise<string[]> {
  const r = await pexec('ps', ['-u', user, '-o', 'pid=,stat=,args=']).catch(() => ({
    stdout: '',
  }));
  // Zombies hold nothing and end with their parent (runuser's, here).
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^\d+\s+Z/.test(l));
}

test(
  'rootless: an ordinary user imports, runs with user networking and port forwards, exec/cp over the forwarded SSH, and rm leaves nothing',
  { timeout: 600_000 },
  async (ctx) => {
    assert.equal(process.getuid?.(), 0, 'the test makes users and switches to them: run as root');
    await using t = await vmTestEnv(['busybox', 'debian-slim', 'kernel-micro']);
    const [u1, u2] = await Promise.all(USERS.map(ensureUser));
    const user1 = { name: USERS[0], ...(u1 ?? { uid: 0, home: '' }) };
    const user2 = { name: USERS[1], ...(u2 ?? { uid: 0, home: '' }) };
    for (const u of [user1, user2])
      await rm(join(u.home, '.local/share/ignite'), { recursive: true, force: true });
    const runtime1 = await mkdtemp(join(tmpdir(), 'ignite-rootless-rt-'));
    await pexec('chown', [`${user1.uid}:${user1.uid}`, runtime1]);
    await chmod(runtime1, 0o700);
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

      // 4. The user's VM: user networking by default, SSH and a host port forwarded.
      const sshFwd = await freePort();
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
        spec: { network: { mode: string } };
        status: { network: { mode: string; sshPort?: number } };
      };
      assert.equal(inspect.spec.network.mode, 'user', 'the default without root, recorded');
      assert.ok(inspect.status.network.sshPort, 'the forwarded SSH port is in the status');

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

      // 7. rm: no process, socket or file of the VM is left.
      const removed = await asUser(user1, ['rm', '-f', name], env);
      assert.equal(removed.code, 0, removed.stderr);
      assert.deepEqual(await processesOf(user1.name), []);
      assert.deepEqual(await readdir(join(dataDir1, 'vm')), []);
      assert.deepEqual(await readdir(runtime1), []);
    } finally {
      await asUser(user1, ['rm', '-f', name], env).catch(() => undefined);
      await ignite(['rm', '-f', `${name}-root`], { env: t.env }).catch(() => undefined);
      await rm(work, { recursive: true, force: true });
      await rm(runtime1, { recursive: true, force: true });
      await rm(join(user1.home, '.local/share/ignite'), { recursive: true, force: true });
      await rm(join(user2.home, '.local/share/ignite'), { recursive: true, force: true });
    }
  },
);
