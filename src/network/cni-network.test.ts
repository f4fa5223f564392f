import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { RecordingExec, type RecordedRun } from '../../test/helpers/recording-exec.js';
import { CNINetwork } from './cni-network.js';
import type { ProcessPort } from './exec-port.js';

const UID = '0123456789abcdef';
const NS = `ignite-${UID}`;
const MAC = '0a:58:0a:09:00:05';

/** What the fake plugins answer to ADD: host-local and bridge the address asked for, else .5. */
function pluginResult(run: RecordedRun): string {
  const type = basename(run.file);
  const conf = JSON.parse(run.input ?? '{}') as { prevResult?: unknown };
  if (type === 'portmap') return JSON.stringify(conf.prevResult);
  const ip = /IP=([0-9.]+)/.exec(run.cni?.['CNI_ARGS'] ?? '')?.[1] ?? '10.9.0.5';
  return JSON.stringify({
    cniVersion: '1.0.0',
    ips: [{ address: `${ip}/24`, gateway: '10.9.0.1' }],
  });
}

/**
 * A CNINetwork on a host that runs nothing: plugins that are never executed, `ip` and `tc`
 * recorded (a namespace is a file in a temporary netns dir), DHCP servers in a table.
 */
async function fakeHost(t: TestContext, fails: (run: RecordedRun) => boolean = () => false) {
  const root = await mkdtemp(join(tmpdir(), 'ignite-cninet-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const plugins = join(root, 'plugins');
  const confDir = join(root, 'net.d');
  const netnsDir = join(root, 'netns');
  const hostLocal = join(root, 'host-local');
  for (const d of [plugins, confDir, netnsDir]) await mkdir(d);
  for (const p of ['bridge', 'host-local', 'portmap'])
    await writeFile(join(plugins, p), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  await writeFile(
    join(confDir, '10-unit.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'unit-net',
      plugins: [
        { type: 'bridge', bridge: 'unitbr0', ipam: { type: 'host-local' } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }),
  );
  const exec = new RecordingExec((run) => {
    const [a0, a1, a2 = ''] = run.args;
    const netns = run.file === 'ip' && a0 === 'netns';
    if (netns && a1 === 'add') writeFileSync(join(netnsDir, a2), '');
    if (netns && a1 === 'del') rmSync(join(netnsDir, a2));
    if (fails(run)) return { exitCode: 1 };
    if (netns && a1 === 'list') return { stdout: readdirSync(netnsDir).join('\n') };
    if (run.args.includes('-json'))
      return { stdout: JSON.stringify([{ address: MAC, mtu: 1500 }]) };
    if (run.cni?.['CNI_COMMAND'] === 'ADD') return { stdout: pluginResult(run) };
    return {};
  });
  const servers = new Map<number, string>();
  let nextPid = 7000;
  const processes: ProcessPort = {
    start: (file, args) => {
      const pid = nextPid++;
      servers.set(pid, [file, ...args].join(' '));
      return pid;
    },
    isAlive: (pid, marker) => servers.get(pid)?.includes(marker) ?? false,
    hasEnded: (pid, marker) => !(servers.get(pid)?.includes(marker) ?? false),
    signal: (pid) => void servers.delete(pid),
    waitForExit: (pid) => Promise.resolve(!servers.has(pid)),
    listensUDP: (pid) => Promise.resolve(servers.has(pid)),
    sleep: () => Promise.resolve(),
  };
  const network = new CNINetwork({
    dataDir: join(root, 'data'),
    confDir,
    pluginPaths: [plugins],
    netnsDir,
    hostLocalDir: hostLocal,
    exec,
    processes,
  });
  return {
    network,
    exec,
    servers,
    hostLocal,
    netnsDir,
    plugin: (type: string) => join(plugins, type),
    /**
     * The runs since the last call, as lines with the netns dir shown as /run/netns, and without
     * the sweep's iptables listing, whose turn among the others varies.
     */
    taken: () => {
      const lines = exec
        .lines()
        .filter((l) => !l.startsWith('iptables'))
        .map((l) => l.replaceAll(`${netnsDir}/`, '/run/netns/'));
      exec.runs.length = 0;
      return lines;
    },
  };
}

/** A CNI plugin run's line: its command and runtime, then the plugin. */
function cniLine(cmd: 'ADD' | 'DEL', ifName: string, plugin: string, args?: string): string {
  const netns = ifName === 'reserve0' ? '/proc/self/ns/net' : `/run/netns/${NS}`;
  return [
    `CNI_COMMAND=${cmd} CNI_CONTAINERID=${NS} CNI_NETNS=${netns} CNI_IFNAME=${ifName}`,
    ...(args !== undefined ? [`CNI_ARGS=${args}`] : []),
    plugin,
  ].join(' ');
}

test('reserve, attach and detach run exactly these programs, in this order', async (t) => {
  const { network, servers, plugin, taken } = await fakeHost(t);
  const vm = { uid: UID, name: 'web', mode: 'cni' as const };
  const asked = 'IgnoreUnknown=1;IP=10.9.0.5';

  assert.equal(await network.reserve(vm), '10.9.0.5');
  assert.deepEqual(taken(), [cniLine('ADD', 'reserve0', plugin('host-local'))]);

  const att = await network.attach({ ...vm, ports: [{ hostPort: 8080, vmPort: 80 }] });
  assert.deepEqual(att, {
    netns: NS,
    tapName: 'tap0',
    mac: MAC,
    nics: [{ tapName: 'tap0', mac: MAC }],
    ipAddresses: ['10.9.0.5'],
    gateway: '10.9.0.1',
    prefixLength: 24,
  });
  assert.deepEqual(taken(), [
    `ip netns add ${NS}`,
    cniLine('DEL', 'reserve0', plugin('host-local')),
    cniLine('ADD', 'eth0', plugin('bridge'), asked),
    cniLine('ADD', 'eth0', plugin('portmap'), asked),
    `ip -n ${NS} -json link show dev eth0`,
    `ip -n ${NS} -batch -`,
    `tc -n ${NS} -batch -`,
  ]);
  assert.match(
    [...servers.values()].join('\n'),
    new RegExp(`^ip netns exec ${NS} busybox udhcpd -f \\S+/network/${UID}\\.udhcpd\\.conf$`),
  );
  assert.equal(await network.reserve(vm), '10.9.0.5', 'an attached VM keeps its address');
  taken();

  await network.detach(vm);
  assert.equal(servers.size, 0, 'the DHCP server was stopped');
  assert.deepEqual(taken(), [
    `ip -n ${NS} addr add 10.9.0.5/24 dev eth0`,
    cniLine('DEL', 'eth0', plugin('portmap'), asked),
    cniLine('DEL', 'eth0', plugin('bridge'), asked),
    `ip netns del ${NS}`,
  ]);
  await network.detach(vm);
  await network.release(vm);
  assert.deepEqual(taken(), [], 'nothing is left to undo');
});

test('the portmap plugin gets the VM ports and the bridge result', async (t) => {
  const { network, exec } = await fakeHost(t);
  await network.attach({
    uid: UID,
    name: 'web',
    mode: 'cni',
    ports: [{ hostPort: 8080, vmPort: 80, protocol: 'udp' }],
  });
  const portmap = exec.runs.find((r) => r.file.endsWith('/portmap'));
  const conf = JSON.parse(portmap?.input ?? '{}') as Record<string, unknown>;
  assert.deepEqual(conf['runtimeConfig'], {
    portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'udp' }],
  });
  assert.deepEqual(conf['prevResult'], JSON.parse(pluginResult({ file: 'bridge', args: [] })));
  assert.equal(conf['name'], 'unit-net');
});

test('a failed attach undoes what it did; none runs nothing', async (t) => {
  const { network, exec, servers, plugin, taken } = await fakeHost(t, (run) => run.file === 'tc');
  await network.attach({ uid: UID, name: 'web', mode: 'none', ports: [] });
  assert.deepEqual(exec.runs, []);
  await assert.rejects(
    network.attach({ uid: UID, name: 'web', mode: 'cni', ports: [] }),
    /tc: failed/,
  );
  const lines = taken();
  assert.deepEqual(lines.slice(lines.indexOf(`tc -n ${NS} -batch -`) + 1), [
    `ip -n ${NS} addr add 10.9.0.5/24 dev eth0`,
    cniLine('DEL', 'eth0', plugin('portmap')),
    cniLine('DEL', 'eth0', plugin('bridge')),
    `ip netns del ${NS}`,
  ]);
  assert.equal(servers.size, 0, 'no DHCP server was started');
});

test('release of a VM that never started gives its reservation back', async (t) => {
  const { network, plugin, taken } = await fakeHost(t);
  await network.reserve({ uid: UID, name: 'web', mode: 'cni' });
  taken();
  await network.release({ uid: UID });
  assert.deepEqual(taken(), [cniLine('DEL', 'reserve0', plugin('host-local'))]);
});

test('sweep rebuilds and tears down the attachment of a VM whose namespace vanished, and only that', async (t) => {
  const { network, plugin, taken, hostLocal, netnsDir } = await fakeHost(t);
  const [gone, live, created] = ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb', 'cccccccccccccccc'];
  await mkdir(join(hostLocal, 'unit-net'), { recursive: true });
  await writeFile(join(hostLocal, 'unit-net', '10.9.0.7'), `ignite-${gone}\neth0`);
  await writeFile(join(hostLocal, 'unit-net', '10.9.0.8'), `ignite-${live}\neth0`);
  await writeFile(join(hostLocal, 'unit-net', '10.9.0.9'), `ignite-${created}\nreserve0`);
  await writeFile(join(netnsDir, `ignite-${live}`), '');
  assert.deepEqual(await network.sweep(), [gone]);
  const ns = `ignite-${gone}`;
  const del = (p: string) =>
    `CNI_COMMAND=DEL CNI_CONTAINERID=${ns} CNI_NETNS=/run/netns/${ns} CNI_IFNAME=eth0 ${p}`;
  assert.deepEqual(taken(), [
    'ip netns list',
    `ip netns add ${ns}`,
    `ip -n ${ns} link add eth0 type veth peer name eth0p`,
    `ip -n ${ns} addr add 10.9.0.7/32 dev eth0`,
    del(plugin('portmap')),
    del(plugin('bridge')),
    `ip netns del ${ns}`,
  ]);
});

test('two named networks: eth0 and eth1 in one namespace, each port on its network, a lease with no route on eth1; all undone', async (t) => {
  const { network, exec, servers, taken } = await fakeHost(t);
  const list = (name: string) => ({
    cniVersion: '1.0.0',
    name,
    plugins: [
      { type: 'bridge', bridge: `br-${name}`, ipam: { type: 'host-local' } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });
  const networks = [
    { name: 'front', list: list('front'), isolated: false },
    { name: 'back', list: list('back'), isolated: false, ip: '10.9.0.20' },
  ];
  const vm = { uid: UID, name: 'web', mode: 'cni' as const, networks };
  assert.equal(await network.reserve(vm), '10.9.0.5');
  taken();
  const att = await network.attach({
    ...vm,
    ports: [
      { hostPort: 8080, vmPort: 80 },
      { hostPort: 8443, vmPort: 443, network: 'back' },
    ],
  });
  assert.deepEqual(att.nics, [
    { tapName: 'tap0', mac: MAC },
    { tapName: 'tap1', mac: MAC },
  ]);
  assert.deepEqual(att.ipAddresses, ['10.9.0.5', '10.9.0.20']);
  const mapped = exec.runs
    .filter((r) => r.file.endsWith('/portmap'))
    .map((r) => (JSON.parse(r.input ?? '{}') as { runtimeConfig?: unknown }).runtimeConfig);
  assert.deepEqual(mapped, [
    { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
    { portMappings: [{ hostPort: 8443, containerPort: 443, protocol: 'tcp' }] },
  ]);
  const lines = taken();
  assert.deepEqual(
    lines.filter((l) => l.startsWith('ip netns add')),
    [`ip netns add ${NS}`],
    'one namespace for both',
  );
  const adds = lines.filter((l) => l.includes('CNI_COMMAND=ADD') && l.endsWith('/portmap'));
  assert.equal(adds.length, 2);
  assert.match(adds[0] ?? '', new RegExp(`CNI_CONTAINERID=${NS} .*CNI_IFNAME=eth0 `));
  assert.match(adds[1] ?? '', new RegExp(`CNI_CONTAINERID=${NS}\\.1 .*CNI_IFNAME=eth1 `));
  const confs = [...servers.values()];
  assert.equal(confs.length, 2, 'a DHCP server per interface');
  assert.match(confs[1] ?? '', new RegExp(`/network/${UID}\\.1\\.udhcpd\\.conf$`));
  const conf = (i: number) => readFile(confs[i]?.split(' ').pop() ?? '', 'utf8');
  assert.match(await conf(0), /^opt router 10\.9\.0\.1$/m);
  assert.match(await conf(1), /^interface tap1$/m);
  assert.doesNotMatch(await conf(1), /^opt (router|dns|hostname)/m, 'eth1 gives no route');

  await network.release(vm);
  assert.equal(servers.size, 0, 'both DHCP servers were stopped');
  const undone = taken();
  assert.ok(undone.some((l) => /CNI_COMMAND=DEL .*CNI_IFNAME=eth1 .*bridge$/.test(l)));
  assert.ok(undone.includes(`ip netns del ${NS}`));
  await network.release(vm);
  assert.deepEqual(taken(), [], 'nothing is left to undo');
});

test("with its links made ahead, other VMs' leftovers are swept only once the hypervisor told of them has started", async (t) => {
  const { network, exec } = await fakeHost(t);
  const vm = { uid: UID, name: 'web', mode: 'cni' as const };
  await network.reserve(vm);
  exec.runs.length = 0;
  const sweeps = () => exec.lines().filter((l) => l.startsWith('iptables'));
  let told = (): void => undefined;
  const linksTold = new Promise<void>((resolve) => (told = resolve));
  let started = (): void => undefined;
  const attach = network.attach({
    ...vm,
    ports: [],
    onLinksReady: () => {
      told();
      return new Promise<void>((resolve) => (started = resolve));
    },
  });
  await linksTold;
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(sweeps(), [], 'nothing swept while the hypervisor starts');
  started();
  await attach;
  assert.notDeepEqual(sweeps(), [], 'swept once it started');
});
