import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../helpers/cli.js';
import { typeOnConsole, waitForText } from '../helpers/console.js';
import { leftovers } from '../helpers/host-leftovers.js';
import { freePort } from '../helpers/registry.js';
import { vmTestEnv } from '../helpers/vm-env.js';

const pexec = promisify(execFile);

interface VMJSON {
  metadata: { uid: string; name: string };
  status: { ipAddresses?: string[]; runtime?: { spawnPid?: number } };
}

/** host-local's files of a named network, other than its bookkeeping. */
async function addressesHeld(network: string): Promise<string[]> {
  const dir = `/var/lib/cni/networks/ignite-net-${network}`;
  return (await readdir(dir).catch(() => [] as string[])).filter((f) => /^\d/.test(f));
}

// As root, under TCG with the micro kernel: networks A and B, two busybox VMs on A (one with a
// static address) and one on B; what reaches what, refused static addresses, and teardown.
test(
  'named networks: VMs on one network reach each other, not another; --ip; nothing leaks',
  { timeout: 600_000 },
  async () => {
    assert.equal(process.getuid?.(), 0, 'networks need root: bridges, namespaces and iptables');
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    const id = process.pid;
    const octet = 150 + (id % 50);
    const netA = `a-${id}`;
    const netB = `b-${id}`;
    const netI = `i-${id}`;
    const static1 = `10.${octet}.1.10`;
    const image = `${t.registry}/ignite-busybox`;
    const cli = async (args: string[]) => {
      const r = await ignite(args, { env });
      assert.equal(r.code, 0, `ignite ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const inspect = async (n: string) => JSON.parse(await cli(['inspect', 'vm', n])) as VMJSON;
    const consoleOf = (uid: string) => ({
      log: join(t.dataDir, 'vm', uid, 'console.log'),
      sock: join(t.dataDir, 'vm', uid, 'console.sock'),
    });
    let mark = 0;
    /** Runs `ping` in a guest; true when it got an answer. */
    const pings = async (uid: string, ip: string): Promise<boolean> => {
      const n = ++mark;
      const c = consoleOf(uid);
      await typeOnConsole(
        c.sock,
        `ping -c 1 -W 3 ${ip} >/dev/null && echo PING-$((${n}*7))-YES || echo PING-$((${n}*7))-NO`,
      );
      const seen = await Promise.race([
        waitForText(c.log, `PING-${n * 7}-YES`, 30_000).then(() => true),
        waitForText(c.log, `PING-${n * 7}-NO`, 30_000).then(() => false),
      ]);
      return seen;
    };

    const vms = [
      [`a1-${id}`, ['--network', netA, '--ip', static1]],
      [`a2-${id}`, ['--network', netA]],
      [`b1-${id}`, ['--network', netB]],
    ] as const;
    const both = `ab-${id}`;
    const lonely = [`i1-${id}`, `i2-${id}`];
    // Whatever fails, the host keeps no bridge, rule or CNI file of these networks.
    try {
      await cli(['network', 'create', netA, '--subnet', `10.${octet}.1.0/24`]);
      await cli(['network', 'create', netB, '--subnet', `10.${octet}.2.0/24`]);
      const overlap = await ignite(
        ['network', 'create', `c-${id}`, '--subnet', `10.${octet}.1.128/25`],
        { env },
      );
      assert.notEqual(overlap.code, 0);
      assert.match(overlap.stderr, /overlaps network/);

      try {
        for (const [n, flags] of vms)
          await cli(['run', image, '--name', n, '--memory', '128MB', ...flags]);
        const [a1, a2, b1] = await Promise.all(vms.map(([n]) => inspect(n)));
        assert.ok(a1 && a2 && b1);
        const ip = (vm: VMJSON) => vm.status.ipAddresses?.[0] ?? '';
        assert.equal(ip(a1), static1);
        assert.match(ip(a2), new RegExp(`^10\\.${octet}\\.1\\.\\d+$`));
        assert.match(ip(b1), new RegExp(`^10\\.${octet}\\.2\\.\\d+$`));
        for (const vm of [a1, a2, b1])
          await waitForText(
            consoleOf(vm.metadata.uid).log,
            `ignite-busybox: lease ${ip(vm)}`,
            90_000,
          );
        assert.match(
          await cli(['ps']),
          new RegExp(`${static1.replaceAll('.', '\\.')}\\s.*a1-${id}`),
        );
        const view = JSON.parse(await cli(['network', 'inspect', netA])) as {
          vms: { name: string; ip?: string }[];
        };
        assert.deepEqual(
          view.vms.map((v) => [v.name, v.ip]).sort(),
          [
            [`a1-${id}`, static1],
            [`a2-${id}`, ip(a2)],
          ].sort(),
        );

        // The host reaches every VM; the A VMs reach each other; nothing crosses A and B.
        for (const vm of [a1, a2, b1])
          await pexec('busybox', ['ping', '-c', '1', '-W', '5', ip(vm)]);
        assert.equal(await pings(a1.metadata.uid, ip(a2)), true, 'a1 reaches a2');
        assert.equal(await pings(a2.metadata.uid, ip(a1)), true, 'a2 reaches a1');
        assert.equal(await pings(a1.metadata.uid, ip(b1)), false, 'a1 must not reach b1');
        assert.equal(await pings(b1.metadata.uid, ip(a1)), false, 'b1 must not reach a1');

        // One VM on both: eth0 on A, eth1 on B with a static address and a host port of its own.
        const staticB = `10.${octet}.2.20`;
        const port = await freePort();
        await cli([
          'run',
          image,
          '--name',
          both,
          '--memory',
          '128MB',
          '--network',
          netA,
          '--network',
          `${netB},ip=${staticB}`,
          '-p',
          `${netB}:${port}:80`,
        ]);
        const ab = await inspect(both);
        const [abA, abB] = ab.status.ipAddresses ?? [];
        assert.match(abA ?? '', new RegExp(`^10\\.${octet}\\.1\\.\\d+$`));
        assert.equal(abB, staticB);
        const abLog = consoleOf(ab.metadata.uid).log;
        for (const a of [abA, abB]) await waitForText(abLog, `ignite-busybox: lease ${a}`, 90_000);
        assert.match(await cli(['ps']), new RegExp(`${abA}, ${staticB}\\s.*${both}`));
        await typeOnConsole(
          consoleOf(ab.metadata.uid).sock,
          `ip -4 -o addr show dev eth1 | grep -q ' ${staticB}/' && echo ETH1-$((6*11))-${staticB}`,
        );
        await waitForText(abLog, `ETH1-66-${staticB}`, 30_000);
        assert.equal(await pings(ab.metadata.uid, ip(a2)), true, 'ab reaches a2 over eth0');
        assert.equal(await pings(ab.metadata.uid, ip(b1)), true, 'ab reaches b1 over eth1');
        const nat = (await pexec('iptables-save', ['-t', 'nat'])).stdout;
        assert.match(nat, new RegExp(`--dport ${port} .*--to-destination ${staticB}:80`));
        await typeOnConsole(consoleOf(ab.metadata.uid).sock, 'httpd -p 80 -h /www');
        let page = '';
        for (let i = 0; i < 50 && page === ''; i++) {
          page = await fetch(`http://127.0.0.1:${port}/`).then(
            (r) => (r.ok ? r.text() : ''),
            () => '',
          );
          if (page === '') await new Promise((r) => setTimeout(r, 200));
        }
        assert.notEqual(page, '', `the host port ${port} reaches eth1's httpd`);
        // A crashed supervisor (the host's, so every VM it ran ends with it): the next command
        // collects both interfaces.
        process.kill(ab.status.runtime?.spawnPid ?? 0, 'SIGKILL');
        await new Promise((r) => setTimeout(r, 300));
        const afterCrash = await cli(['ps', '-a']);
        for (const n of [both, ...vms.map(([n]) => n)])
          assert.match(afterCrash, new RegExp(`\\sStopped\\s.*${n}`));
        assert.deepEqual(await leftovers(ab.metadata.uid), []);
        assert.equal((await addressesHeld(netB)).includes(staticB), false, 'eth1 released');
        // The others come back with their addresses; a new host supervisor runs them.
        for (const [n] of vms) await cli(['start', n]);
        assert.equal(ip(await inspect(vms[0]?.[0] ?? '')), static1);

        // On an --isolated network each VM reaches the gateway (the host) and nothing else.
        await cli(['network', 'create', netI, '--subnet', `10.${octet}.3.0/24`, '--isolated']);
        for (const n of lonely)
          await cli(['run', image, '--name', n, '--memory', '64MB', '--network', netI]);
        const [i1, i2] = await Promise.all(lonely.map((n) => inspect(n)));
        assert.ok(i1 && i2);
        for (const vm of [i1, i2]) {
          await waitForText(
            consoleOf(vm.metadata.uid).log,
            `ignite-busybox: lease ${ip(vm)}`,
            90_000,
          );
          await pexec('busybox', ['ping', '-c', '1', '-W', '5', ip(vm)]);
        }
        assert.equal(
          await pings(i1.metadata.uid, `10.${octet}.3.1`),
          true,
          'i1 reaches its gateway',
        );
        assert.equal(await pings(i1.metadata.uid, ip(i2)), false, 'i1 must not reach i2');
        assert.equal(await pings(i2.metadata.uid, ip(i1)), false, 'i2 must not reach i1');
        await cli(['rm', '-f', ...lonely]);
        await cli(['network', 'rm', netI]);

        // A taken or out-of-subnet address is refused at create, and leaves nothing.
        const held = await addressesHeld(netA);
        for (const [ipAsked, message] of [
          [static1, /not free in network/],
          [`10.${octet}.2.10`, /outside network/],
        ] as const) {
          const r = await ignite(
            ['create', image, '--name', `x-${id}`, '--network', netA, '--ip', ipAsked],
            { env },
          );
          assert.notEqual(r.code, 0);
          assert.match(r.stderr, message);
          assert.doesNotMatch(await cli(['ps', '-a']), new RegExp(`x-${id}`));
          assert.deepEqual((await addressesHeld(netA)).sort(), held.sort());
        }
        const busy = await ignite(['network', 'rm', netA], { env });
        assert.notEqual(busy.code, 0);
        assert.match(busy.stderr, /in use by vm/);

        await cli(['rm', '-f', both, ...vms.map(([n]) => n)]);
        for (const vm of [a1, a2, b1]) assert.deepEqual(await leftovers(vm.metadata.uid), []);
        assert.deepEqual(await addressesHeld(netB), []);
        assert.deepEqual(await addressesHeld(netA), []);
      } finally {
        await ignite(['rm', '-f', both, ...vms.map(([n]) => n)], { env });
      }
      const bridges = JSON.parse(await cli(['network', 'ls', '-o', 'json'])) as {
        metadata: { name: string };
        status: { bridge: string; conflist: string };
      }[];
      await cli(['network', 'rm', netA, netB]);
      const rules = (await pexec('iptables-save', [])).stdout;
      for (const net of bridges) {
        assert.equal(existsSync(`/sys/class/net/${net.status.bridge}`), false, net.status.bridge);
        assert.equal(existsSync(net.status.conflist), false, net.status.conflist);
        assert.equal(rules.includes(net.status.bridge), false, `rules of ${net.status.bridge}`);
        assert.equal(existsSync(`/var/lib/cni/networks/ignite-net-${net.metadata.name}`), false);
      }
    } finally {
      await ignite(['rm', '-f', both, ...lonely, ...vms.map(([n]) => n)], { env });
      await ignite(['network', 'rm', netA, netB, netI], { env });
    }
  },
);
