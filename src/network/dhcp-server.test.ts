import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  countLeases,
  DHCPServer,
  prefixToMask,
  udhcpdConfig,
  type DHCPLease,
} from './dhcp-server.js';
import type { ProcessPort } from './exec-port.js';
import { NetworkFiles } from './network-state.js';

const lease: DHCPLease = {
  iface: 'tap0',
  mac: '0a:58:0a:3d:00:07',
  address: '10.61.0.7',
  prefixLength: 16,
  gateway: '10.61.0.1',
  nameservers: ['192.0.2.53', '192.0.2.54'],
  hostname: 'web',
};

test('prefixToMask', () => {
  for (const [prefix, mask] of [
    [0, '0.0.0.0'],
    [8, '255.0.0.0'],
    [16, '255.255.0.0'],
    [23, '255.255.254.0'],
    [29, '255.255.255.248'],
    [32, '255.255.255.255'],
  ] as const)
    assert.equal(prefixToMask(prefix), mask, String(prefix));
});

test('the udhcpd configuration hands the guest MAC exactly its address, router, DNS and name', () => {
  assert.equal(
    udhcpdConfig(lease, '/d/network/u.leases'),
    [
      'interface tap0',
      'start 10.61.0.7',
      'end 10.61.0.7',
      'max_leases 1',
      'lease_file /d/network/u.leases',
      'static_lease 0a:58:0a:3d:00:07 10.61.0.7',
      'opt subnet 255.255.0.0',
      'opt router 10.61.0.1',
      'opt dns 192.0.2.53 192.0.2.54',
      'opt hostname web',
      'opt lease 315360000',
      '',
    ].join('\n'),
  );
  const bare = udhcpdConfig({ ...lease, gateway: undefined, nameservers: [] }, '/l');
  assert.doesNotMatch(bare, /opt router|opt dns/);
  assert.throws(
    () => udhcpdConfig({ ...lease, hostname: 'web\ninterface eth0' }, '/l'),
    /bad DHCP value/,
  );
});

test('countLeases counts the ACKs in the server log', () => {
  assert.equal(countLeases(''), 0);
  assert.equal(
    countLeases(
      'udhcpd: started\nudhcpd: sending OFFER to 10.0.0.2\nudhcpd: sending ACK to 10.0.0.2\nudhcpd: sending ACK to 10.0.0.2\n',
    ),
    2,
  );
});

/**
 * A process port over a table of fake processes: PID → command line. A server listens on the
 * `listensAfter`-th look (the first by default; never with Infinity).
 */
function fakeProcesses(
  opts: { dies?: boolean; ignoresTERM?: boolean; listensAfter?: number } = {},
) {
  let looks = 0;
  const procs = new Map<number, string>();
  const calls: string[] = [];
  let next = 4000;
  const port: ProcessPort = {
    start: (file, args, logFile) => {
      calls.push(`start ${[file, ...args].join(' ')} > ${logFile}`);
      const pid = next++;
      if (!opts.dies) procs.set(pid, [file, ...args].join(' '));
      return pid;
    },
    isAlive: (pid, marker) => procs.get(pid)?.includes(marker) ?? false,
    hasEnded: (pid, marker) => !(procs.get(pid)?.includes(marker) ?? false),
    signal: (pid, signal) => {
      calls.push(`${signal} ${pid}`);
      if (signal === 'SIGKILL' || !opts.ignoresTERM) procs.delete(pid);
    },
    waitForExit: (pid) => Promise.resolve(!procs.has(pid)),
    listensUDP: (pid, port, netnsPath) => {
      calls.push(`listens? ${pid} udp ${port} in ${netnsPath}`);
      return Promise.resolve(procs.has(pid) && ++looks >= (opts.listensAfter ?? 1));
    },
    sleep: (ms) => {
      calls.push(`sleep ${ms}`);
      return Promise.resolve();
    },
  };
  return { port, procs, calls };
}

async function tempFiles(t: TestContext): Promise<NetworkFiles> {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-dhcp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return new NetworkFiles(dir);
}

const UID = '0123456789abcdef';

test('the server runs as busybox udhcpd in the namespace, with its own conf and log', async (t) => {
  const files = await tempFiles(t);
  const { port, calls } = fakeProcesses();
  const pid = await new DHCPServer(files, port).start(
    UID,
    'ignite-x',
    '/run/netns/ignite-x',
    lease,
    'vm "web"',
  );
  const conf = files.file(UID, '.udhcpd.conf');
  assert.deepEqual(calls, [
    `start ip netns exec ignite-x busybox udhcpd -f ${conf} > ${files.file(UID, '.dhcp.log')}`,
    'listens? 4000 udp 67 in /run/netns/ignite-x',
  ]);
  assert.equal(await readFile(conf, 'utf8'), udhcpdConfig(lease, files.file(UID, '.leases')));
  assert.equal(await readFile(files.file(UID, '.leases'), 'utf8'), '');
  assert.equal(pid, 4000);
});

test('a server that exits at once fails the start with its last log line', async (t) => {
  const files = await tempFiles(t);
  await files.ensureDir();
  await writeFile(files.file(UID, '.dhcp.log'), 'udhcpd: started\nudhcpd: bad interface tap0\n');
  const { port } = fakeProcesses({ dies: true });
  await assert.rejects(
    new DHCPServer(files, port).start(UID, 'ignite-x', '/run/netns/ignite-x', lease, 'vm "web"'),
    (e: Error) => e.message === 'vm "web": the DHCP server exited: udhcpd: bad interface tap0',
  );
});

test('start returns once the server listens, looking every 2 ms', async (t) => {
  const files = await tempFiles(t);
  const { port, calls } = fakeProcesses({ listensAfter: 3 });
  await new DHCPServer(files, port).start(
    UID,
    'ignite-x',
    '/run/netns/ignite-x',
    lease,
    'vm "web"',
  );
  assert.deepEqual(calls.slice(1), [
    'listens? 4000 udp 67 in /run/netns/ignite-x',
    'sleep 2',
    'listens? 4000 udp 67 in /run/netns/ignite-x',
    'sleep 2',
    'listens? 4000 udp 67 in /run/netns/ignite-x',
  ]);
});

test('a server that never listens is killed and fails the start', async (t) => {
  const files = await tempFiles(t);
  const { port, calls, procs } = fakeProcesses({ listensAfter: Infinity });
  await assert.rejects(
    new DHCPServer(files, port).start(UID, 'ignite-x', '/run/netns/ignite-x', lease, 'vm "web"'),
    (e: Error) => e.message === 'vm "web": the DHCP server did not listen within 2000 ms',
  );
  assert.equal(calls.filter((c) => c.startsWith('sleep')).length, 1000);
  assert.equal(calls.at(-1), 'SIGKILL 4000');
  assert.equal(procs.has(4000), false);
});

test('stop signals the stored PID only while it is still this VM server, and kills a stubborn one', async (t) => {
  const files = await tempFiles(t);
  const { port, procs, calls } = fakeProcesses({ ignoresTERM: true });
  const server = new DHCPServer(files, port);
  // After a crash the PID went to an unrelated process, or to another VM's server.
  procs.set(10, 'sleep 1000');
  procs.set(11, `busybox udhcpd -f ${files.file('fedcba9876543210', '.udhcpd.conf')}`);
  await server.stop(UID, 10);
  await server.stop(UID, 11);
  await server.stop(UID, undefined);
  assert.deepEqual(calls, []);
  procs.set(12, `busybox udhcpd -f ${files.file(UID, '.udhcpd.conf')}`);
  await server.stop(UID, 12);
  assert.deepEqual(calls, ['SIGTERM 12', 'SIGKILL 12']);
  assert.equal(procs.has(12), false);
});

test('leases reads the count from the server log, 0 without one', async (t) => {
  const files = await tempFiles(t);
  const server = new DHCPServer(files, fakeProcesses().port);
  assert.equal(await server.leases(UID), 0);
  await files.ensureDir();
  await writeFile(files.file(UID, '.dhcp.log'), 'udhcpd: sending ACK to 10.61.0.7\n');
  assert.equal(await server.leases(UID), 1);
});
