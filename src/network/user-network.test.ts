import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import { createLogger } from '../system/logger.js';
import type { ProcessPort } from './exec-port.js';
import { ModeNetwork } from './mode-network.js';
import { UserNetwork } from './user-network.js';
import { checkUnprivilegedPorts, type UserNetHost } from './user-ports.js';
import type { VMNetwork } from './vm-network.js';

const host = (passt: string | undefined): UserNetHost => ({
  passt: () => Promise.resolve(passt),
  freeLoopbackPort: () => Promise.resolve(40022),
  unprivilegedPortStart: () => Promise.resolve(1024),
});

test('checkUnprivilegedPorts: a port below the start is refused, naming it and the setting', () => {
  checkUnprivilegedPorts([{ hostPort: 1024, vmPort: 80 }], 1024, 'vm "a"');
  checkUnprivilegedPorts([{ hostPort: 80, vmPort: 80 }], 0, 'vm "a"');
  assert.throws(
    () =>
      checkUnprivilegedPorts(
        [
          { hostPort: 8080, vmPort: 80 },
          { hostPort: 53, vmPort: 53, protocol: 'udp' },
        ],
        1024,
        'vm "a"',
      ),
    (err: unknown) =>
      AppError.is(err, 'PermissionDenied') &&
      /^vm "a": host port 53\/udp is below 1024/.test(err.message) &&
      /ip_unprivileged_port_start/.test(err.message),
  );
});

test('UserNetwork: without passt, slirp forwards SSH from loopback and the ports', async () => {
  const net = new UserNetwork({
    runtimeDir: '/nonexistent/rt',
    isRoot: false,
    host: host(undefined),
  });
  const a = await net.attach({
    uid: 'u1',
    name: 'a',
    mode: 'user',
    ports: [{ hostPort: 8080, vmPort: 80 }],
  });
  assert.equal(a.user?.backend, 'slirp');
  assert.equal(a.user.sshPort, 40022);
  assert.deepEqual(a.user.backend === 'slirp' ? a.user.forwards : [], [
    { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 40022, vmPort: 22 },
    { protocol: 'tcp', hostPort: 8080, vmPort: 80 },
  ]);
  await assert.rejects(
    net.attach({ uid: 'u1', name: 'a', mode: 'user', ports: [{ hostPort: 80, vmPort: 80 }] }),
    /host port 80\/tcp is below 1024/,
  );
  const asRoot = new UserNetwork({
    runtimeDir: '/nonexistent/rt',
    isRoot: true,
    host: host(undefined),
  });
  await asRoot.check([{ hostPort: 80, vmPort: 80 }], 'vm "a"');
});

test('UserNetwork: passt gets its forwards, its socket in a 0700 dir; detach ends it and removes the dir', async () => {
  const rt = join(await mkdtemp(join(tmpdir(), 'ignite-usernet-')), 'rt');
  const started: { file: string; args: readonly string[] }[] = [];
  const alive = new Set<number>();
  let server: ReturnType<typeof createServer> | undefined;
  const processes: ProcessPort = {
    start: (file, args) => {
      started.push({ file, args });
      // Stands in for passt: listens on the socket it is given and writes its pid file.
      const socket = args[args.indexOf('--socket') + 1] ?? '';
      server = createServer().listen(socket);
      void writeFile(args[args.indexOf('--pid') + 1] ?? '', '4242\n');
      alive.add(4242);
      return 4242;
    },
    isAlive: (pid) => alive.has(pid),
    hasEnded: (pid) => !alive.has(pid),
    signal: (pid) => void alive.delete(pid),
    waitForExit: (pid) => Promise.resolve(!alive.has(pid)),
    listensUDP: () => Promise.resolve(false),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
  try {
    const net = new UserNetwork({
      runtimeDir: rt,
      isRoot: false,
      host: host('/usr/bin/passt'),
      processes,
    });
    const a = await net.attach({
      uid: 'u2',
      name: 'b',
      mode: 'user',
      ports: [
        { hostPort: 8080, vmPort: 80 },
        { hostPort: 5353, vmPort: 53, protocol: 'udp' },
      ],
    });
    assert.equal(a.user?.backend, 'passt');
    assert.equal(a.user.backend === 'passt' ? a.user.socket : '', join(rt, 'u2', 'passt.sock'));
    const args = started[0]?.args ?? [];
    assert.ok(args.includes('--one-off'), 'passt ends with its hypervisor');
    assert.deepEqual(
      args.flatMap((x, i) => (x === '-t' || x === '-u' ? [`${x} ${args[i + 1] ?? ''}`] : [])),
      ['-t 127.0.0.1/40022:22', '-t 8080:80', '-u 5353:53'],
    );
    // The VM's other run files share the dir (storage/layout.ts): detach leaves them.
    await writeFile(join(rt, 'u2', 'run.json'), '{}');
    server?.close();
    await net.detach({ uid: 'u2' });
    assert.equal(alive.size, 0, 'passt was signalled');
    assert.deepEqual(await readdir(join(rt, 'u2')), ['run.json'], "only passt's files went");
    await rm(join(rt, 'u2', 'run.json'));
    await net.detach({ uid: 'u2' });
    assert.deepEqual(await readdir(join(rt, '..')), [], 'the runtime dir went with the last VM');
  } finally {
    server?.close();
    await rm(join(rt, '..'), { recursive: true, force: true });
  }
});

test('UserNetwork: a runtime dir another user could enter is refused', async () => {
  const base = await mkdtemp(join(tmpdir(), 'ignite-usernet-'));
  const rt = join(base, 'rt');
  try {
    // Not empty, so that it is not removed as a runtime dir left by the last VM.
    await mkdir(rt, { mode: 0o777 });
    await chmod(rt, 0o777);
    await writeFile(join(rt, 'planted'), '');
    const net = new UserNetwork({
      runtimeDir: rt,
      isRoot: false,
      host: host('/usr/bin/passt'),
      processes: {
        start: () => assert.fail('passt must not start in a shared dir'),
        isAlive: () => false,
        hasEnded: () => true,
        signal: () => undefined,
        waitForExit: () => Promise.resolve(true),
        listensUDP: () => Promise.resolve(false),
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      },
    });
    // Each try is refused; slirp, inside the hypervisor, needs no file there.
    const a = await net.attach({ uid: 'u4', name: 'd', mode: 'user', ports: [] });
    assert.equal(a.user?.backend, 'slirp');
    assert.deepEqual(await readdir(rt), ['planted'], 'nothing was put in it');
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('UserNetwork: a passt that ends at once is tried twice, with its exit told, then slirp serves', async () => {
  const rt = join(await mkdtemp(join(tmpdir(), 'ignite-usernet-')), 'rt');
  const lines: string[] = [];
  const logger = createLogger({
    level: 'warn',
    stream: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }),
  });
  try {
    // A real process that exits at once without a word, as the passt seen failing did.
    const net = new UserNetwork({
      runtimeDir: rt,
      isRoot: false,
      host: host('/bin/false'),
      logger,
    });
    const a = await net.attach({
      uid: 'u3',
      name: 'c',
      mode: 'user',
      ports: [{ hostPort: 8080, vmPort: 80 }],
    });
    assert.equal(a.user?.backend, 'slirp');
    assert.deepEqual(a.ipAddresses, ['10.0.2.15']);
    const said = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    assert.deepEqual(said, [
      'vm "c": passt did not start: passt exit code 1',
      'vm "c": passt did not start: passt exit code 1',
      'vm "c": using QEMU\'s user networking instead',
    ]);
    assert.deepEqual(await readdir(join(rt, '..')), [], 'no passt files are left');
  } finally {
    await rm(join(rt, '..'), { recursive: true, force: true });
  }
});

test('ModeNetwork: user VMs to the user network, others to the bridged one; detach to both', async () => {
  const calls: string[] = [];
  const bridged: VMNetwork = {
    reserve: () => (calls.push('bridged.reserve'), Promise.resolve('10.0.0.2')),
    attach: () => (calls.push('bridged.attach'), Promise.resolve({ ipAddresses: ['10.0.0.2'] })),
    detach: () => (calls.push('bridged.detach'), Promise.resolve()),
    release: () => (calls.push('bridged.release'), Promise.resolve()),
    leases: () => Promise.resolve(0),
    sweep: () => Promise.resolve([]),
  };
  const user = {
    check: () => (calls.push('user.check'), Promise.resolve()),
    attach: () => (calls.push('user.attach'), Promise.resolve({ ipAddresses: [] })),
    detach: () => (calls.push('user.detach'), Promise.resolve()),
  };
  const net = new ModeNetwork(bridged, user);
  assert.equal(await net.reserve({ uid: 'u', name: 'a', mode: 'user' }), undefined);
  assert.equal(await net.reserve({ uid: 'u', name: 'a', mode: 'cni' }), '10.0.0.2');
  await net.attach({ uid: 'u', name: 'a', mode: 'user', ports: [] });
  await net.attach({ uid: 'u', name: 'a', mode: 'docker-bridge', ports: [] });
  await net.detach({ uid: 'u' });
  await net.release({ uid: 'u' });
  assert.deepEqual(calls, [
    'user.check',
    'bridged.reserve',
    'user.attach',
    'bridged.attach',
    'user.detach',
    'bridged.detach',
    'user.detach',
    'bridged.release',
  ]);
});
