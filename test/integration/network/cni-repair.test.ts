import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeBridgeNetwork } from '../../helpers/cni-conf.js';
import { CNINetwork } from '../../../src/network/cni-network.js';
import { stableBridgeMac } from '../../../src/network/cni/bridge-repair.js';
import { signalProcess } from '../../../src/system/linux-processes.js';
import { freePort } from '../../helpers/registry.js';

const pexec = promisify(execFile);

/**
 * A CNI network of its own (bridge, host-local, portmap, firewall: the default network's
 * plugins) on a bridge and subnet no other test uses, so its bridge can be broken on purpose.
 */
async function testNetwork(t: { after: (fn: () => Promise<void>) => void }) {
  assert.equal(process.getuid?.(), 0, 'CNI plugins need root (CI runs as root)');
  const n = process.pid % 10_000;
  const name = `ignite-test-${n}`;
  const bridge = `igt${n}`;
  const root = await mkdtemp(join(tmpdir(), 'ignite-cni-'));
  const confDir = join(root, 'net.d');
  await pexec('mkdir', ['-p', confDir]);
  await writeBridgeNetwork(confDir, {
    name,
    bridge,
    subnet: `10.${200 + (n % 50)}.${n % 250}.0/24`,
  });
  const net = (dataDir = join(root, 'data')) => new CNINetwork({ dataDir, confDir });
  const uid = (i: number) =>
    `${String(n).padStart(4, '0')}000000000${i}`.slice(0, 16).padEnd(16, '0');
  t.after(async () => {
    // Whatever a failed assertion left: this test's DHCP servers and namespaces, then a sweep.
    const pids = await pexec('pgrep', ['-f', root]).then(
      (r) => r.stdout,
      () => '',
    );
    for (const pid of pids.split('\n').filter(Boolean)) signalProcess(Number(pid), 'SIGKILL');
    for (let i = 1; i <= 5; i++)
      await pexec('ip', ['netns', 'del', `ignite-${uid(i)}`]).catch(() => undefined);
    await net(join(root, 'cleanup')).sweep();
    await pexec('ip', ['link', 'del', bridge]).catch(() => undefined);
    await rm(`/var/lib/cni/networks/${name}`, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  });
  return { name, bridge, root, net, uid };
}

const mac = async (dev: string) => (await readFile(`/sys/class/net/${dev}/address`, 'utf8')).trim();

/** What the plugins hold for `uid`: host-local files, and iptables rules naming it or its address. */
async function held(network: string, uid: string, ip?: string): Promise<string[]> {
  const found: string[] = [];
  const dir = `/var/lib/cni/networks/${network}`;
  for (const f of await readdir(dir).catch(() => [] as string[]))
    if ((await readFile(join(dir, f), 'utf8').catch(() => '')).includes(uid))
      found.push(`host-local ${f}`);
  const rules = (await pexec('iptables-save', [])).stdout.split('\n');
  for (const r of rules)
    if (r.includes(uid) || (ip !== undefined && r.includes(`${ip}/32`))) found.push(r);
  return found;
}

test('a bridge left with an all-zero MAC by a failed first ADD is repaired before the next ADD', async (t) => {
  const { bridge, net, uid, name } = await testNetwork(t);
  // What a failed ADD leaves: the bridge made, its only port gone, so the kernel zeroes its MAC.
  await pexec('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await pexec('ip', ['link', 'add', `${bridge}a`, 'type', 'veth', 'peer', 'name', `${bridge}b`]);
  await pexec('ip', ['link', 'set', `${bridge}a`, 'master', bridge]);
  await pexec('ip', ['link', 'del', `${bridge}a`]);
  assert.equal(await mac(bridge), '00:00:00:00:00:00', 'the broken state is reproduced');

  const vm = uid(1);
  const a = await net().attach({
    uid: vm,
    name: 'mac',
    mode: 'cni',
    ports: [],
  });
  try {
    assert.match(a.ipAddresses[0] ?? '', /^10\./);
    assert.equal(await mac(bridge), stableBridgeMac(bridge));
    assert.match(stableBridgeMac(bridge), /^[0-9a-f][26ae]:/, 'locally administered, unicast');
  } finally {
    await net().detach({ uid: vm });
  }
  assert.deepEqual(await held(name, vm), []);
  // Set once, the address stays when the bridge has no port again.
  assert.equal(await mac(bridge), stableBridgeMac(bridge));
});

test('what a VM held when its namespace vanished is swept by its container ID, and nothing live is', async (t) => {
  const { name, net, root, uid } = await testNetwork(t);
  const dataDir = join(root, 'data');
  const [gone, reset, live, created] = [uid(2), uid(3), uid(4), uid(5)];
  const port = await freePort();
  const ips = new Map<string, string>();
  for (const [i, u] of [gone, reset, live].entries()) {
    const a = await net().attach({
      uid: u,
      name: `v${i}`,
      mode: 'cni',
      ports: [{ hostPort: port + i, vmPort: 80 }],
    });
    ips.set(u, a.ipAddresses[0] ?? '');
  }
  await net().reserve({ uid: created, name: 'created', mode: 'cni' });
  for (const u of [gone, reset]) {
    // The host reboots under the VM: its namespace and DHCP server are gone, not torn down.
    const state = JSON.parse(await readFile(join(dataDir, 'network', `${u}.json`), 'utf8')) as {
      dhcpPid: number;
    };
    signalProcess(state.dhcpPid, 'SIGKILL');
    await pexec('ip', ['netns', 'del', `ignite-${u}`]);
  }
  // For one, the data dir's record is gone too; the other's is torn down as `ps` would, which
  // releases its address but cannot un-masquerade without the namespace's eth0.
  await rm(join(dataDir, 'network', `${gone}.json`));
  await net().detach({ uid: reset });
  assert.ok((await held(name, gone, ips.get(gone))).length > 0, 'gone left state behind');
  const resetLeft = await held(name, reset, ips.get(reset));
  assert.ok(
    resetLeft.some((r) => r.includes('POSTROUTING')),
    `reset's masquerade stays:\n${resetLeft.join('\n')}`,
  );

  // Any network command sweeps; from another data dir too, since nothing there names these VMs.
  const swept = await net(join(root, 'other')).sweep();
  assert.deepEqual(
    swept.filter((u) => [gone, reset, live, created].includes(u)).sort(),
    [gone, reset].sort(),
  );
  for (const u of [gone, reset])
    assert.deepEqual(await held(name, u, ips.get(u)), [], `${u} swept`);
  assert.ok(!(await pexec('ip', ['netns', 'list'])).stdout.includes(gone));
  assert.ok((await held(name, live, ips.get(live))).length > 0, 'the live VM keeps its network');
  assert.equal((await held(name, created)).length, 1, "the created VM's reservation stays");

  await net().detach({ uid: live });
  await net().release({ uid: created });
  for (const u of [live, created]) assert.deepEqual(await held(name, u, ips.get(u)), []);
});

test("an address reserved by a create killed before recording it is released with the VM's removal", async (t) => {
  const { name, net, root, uid } = await testNetwork(t);
  const dataDir = join(root, 'data');
  const [killed, other] = [uid(1), uid(2)];
  await net().reserve({ uid: killed, name: 'killed', mode: 'cni' });
  await net().reserve({ uid: other, name: 'other', mode: 'cni' });
  // As a kill between host-local's ADD and the record leaves it: the address held under the
  // VM's container ID, and no record of it in the data dir.
  await rm(join(dataDir, 'network', `${killed}.reservation.json`));
  assert.equal((await held(name, killed)).length, 1);
  // The sweep cannot tell whose such an address is (another data dir's VM may hold it)...
  await net(join(root, 'other')).sweep();
  assert.equal((await held(name, killed)).length, 1, 'the sweep leaves it');
  // ...but the VM's own removal can.
  await net().release({ uid: killed });
  assert.deepEqual(await held(name, killed), [], 'released by its container ID');
  assert.equal((await held(name, other)).length, 1, "another VM's reservation stays");
  await net().release({ uid: killed });
  await net().release({ uid: other });
  assert.deepEqual(await held(name, other), []);
});
