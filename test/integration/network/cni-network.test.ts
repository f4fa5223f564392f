import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { writeBridgeNetwork } from '../../helpers/cni-conf.js';
import { CNINetwork } from '../../../src/network/cni-network.js';
import type { NetworkAttachment } from '../../../src/network/vm-network.js';
import { hasProgram } from '../../../src/system/exec.js';
import { signalProcess, sleep } from '../../../src/system/linux-processes.js';
import { vmNetworkSuite } from '../../suites/vm-network.suite.js';

const pexec = promisify(execFile);
const PLUGINS = ['bridge', 'host-local', 'portmap', 'firewall'];
let harnesses = 0;

/**
 * The VMNetwork suite on CNINetwork, as root: each test gets a data dir, a CNI configuration
 * directory and a `cni` network of its own (bridge, host-local, portmap, firewall, as the
 * default network) on a bridge and a /29 that nothing else uses, all removed afterwards.
 */
vmNetworkSuite('CNINetwork', async () => {
  assert.equal(
    process.getuid?.(),
    0,
    'CNINetwork needs root: network namespaces, bridges and iptables (CI runs as root)',
  );
  assert.ok(
    hasProgram('socat'),
    'socat plays the guest on the tap: install it (scripts/apt-packages.txt)',
  );
  for (const p of PLUGINS)
    await access(join('/usr/lib/cni', p)).catch(() =>
      assert.fail(`CNI plugin ${p} is not in /usr/lib/cni: install containernetworking-plugins`),
    );
  // A /29 in 10.198.0.0/16 per test, from the PID: parallel runs on one host do not meet.
  const slot = ((process.pid % 512) * 16 + (harnesses++ % 16)) % 8192;
  const subnet = `10.198.${slot >> 5}.${(slot & 31) * 8}/29`;
  const name = `ignite-suite-${slot}`;
  const bridge = `igs${slot}`;
  const root = await mkdtemp(join(tmpdir(), 'ignite-vmnet-'));
  const confDir = join(root, 'net.d');
  const dataDir = join(root, 'data');
  await mkdir(confDir);
  await writeBridgeNetwork(confDir, { name, bridge, subnet });
  const network = new CNINetwork({ dataDir, confDir });
  const uids: string[] = [];
  let count = 0;
  return {
    network,
    mode: 'cni',
    subnet,
    held: async (uid) => {
      const found: string[] = [];
      const dir = `/var/lib/cni/networks/${name}`;
      for (const f of await readdir(dir).catch(() => [] as string[]))
        if ((await readFile(join(dir, f), 'utf8').catch(() => '')).includes(uid))
          found.push(`host-local ${f}`);
      for (const r of (await pexec('iptables-save', [])).stdout.split('\n'))
        if (r.includes(uid)) found.push(r);
      if ((await pexec('ip', ['netns', 'list'])).stdout.includes(`ignite-${uid}`))
        found.push('netns');
      const procs = await pexec('pgrep', ['-f', uid]).then(
        (r) => r.stdout.trim(),
        () => '',
      );
      if (procs !== '') found.push(`processes ${procs}`);
      return found;
    },
    guestLease: (_uid, att) => guestLease(att),
    vanish: async (uid) => {
      const state = JSON.parse(await readFile(join(dataDir, 'network', `${uid}.json`), 'utf8')) as {
        dhcpPid?: number;
      };
      if (state.dhcpPid !== undefined) signalProcess(state.dhcpPid, 'SIGKILL');
      await pexec('ip', ['netns', 'del', `ignite-${uid}`]);
    },
    uid: () => {
      const uid = `${slot.toString(36).padStart(4, '0')}${(count++).toString(36)}`.padEnd(16, 'x');
      uids.push(uid);
      return uid;
    },
    cleanup: async () => {
      for (const uid of uids) await network.release({ uid }).catch(() => undefined);
      const pids = await pexec('pgrep', ['-f', root]).then(
        (r) => r.stdout,
        () => '',
      );
      for (const pid of pids.split('\n').filter(Boolean)) signalProcess(Number(pid), 'SIGKILL');
      for (const uid of uids)
        await pexec('ip', ['netns', 'del', `ignite-${uid}`]).catch(() => undefined);
      await network.sweep();
      await pexec('ip', ['link', 'del', bridge]).catch(() => undefined);
      await rm(`/var/lib/cni/networks/${name}`, { recursive: true, force: true });
      await rm(root, { recursive: true, force: true });
    },
  };
});

/**
 * The guest's side of the tap, without a VM: socat joins the VM's tap to a second one, on which
 * busybox udhcpc asks for an address with the VM's MAC, as the guest's kernel would.
 */
async function guestLease(att: NetworkAttachment): Promise<string> {
  const { netns = '', tapName = '', mac = '' } = att;
  const guest = 'guest0';
  const socat = spawn(
    'ip',
    [
      'netns',
      'exec',
      netns,
      'socat',
      `TUN,tun-name=${tapName},tun-type=tap,iff-no-pi`,
      `TUN,tun-name=${guest},tun-type=tap,iff-no-pi,iff-up`,
    ],
    { stdio: 'ignore' },
  );
  const exited = once(socat, 'exit');
  try {
    const linked = () =>
      pexec('ip', ['-n', netns, 'link', 'show', guest]).then(
        () => true,
        () => false,
      );
    for (let i = 0; i < 100 && !(await linked()); i++) await sleep(50);
    await pexec('ip', ['-n', netns, 'link', 'set', guest, 'address', mac]);
    const r = await pexec(
      'ip',
      [
        'netns',
        'exec',
        netns,
        'busybox',
        'udhcpc',
        '-i',
        guest,
        '-n',
        '-q',
        '-f',
        '-s',
        '/bin/true',
        '-t',
        '5',
        '-T',
        '2',
      ],
      { timeout: 30_000 },
    );
    return /lease of (\S+) obtained/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? `no lease: ${r.stderr}`;
  } finally {
    socat.kill('SIGTERM');
    await exited;
  }
}
