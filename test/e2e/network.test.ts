import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isProcessAlive } from '../../src/system/linux-processes.js';
import { ignite } from '../helpers/cli.js';
import { vmTestEnv } from '../helpers/vm-env.js';
import { typeOnConsole, waitForText } from '../helpers/console.js';
import { freePort } from '../helpers/registry.js';
import { leftovers, reservationsOf } from '../helpers/host-leftovers.js';

const pexec = promisify(execFile);

interface VMJSON {
  metadata: { uid: string };
  status: { state: string; ipAddresses?: string[]; runtime?: { spawnPid: number; pid: number } };
}

// As root, under TCG: two busybox VMs on the default network, a port mapping, and clean teardown.
test(
  'two VMs get distinct addresses, reach each other and the host; ports map; nothing leaks',
  { timeout: 600_000 },
  async () => {
    assert.equal(
      process.getuid?.(),
      0,
      'networking needs root: network namespaces, bridges and iptables (CI runs as root)',
    );
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    const reg = { host: t.registry };
    const dir = { path: t.dataDir };
    const port = await freePort();
    const a = `neta-${process.pid}`;
    const b = `netb-${process.pid}`;
    const inspect = async (n: string) =>
      JSON.parse((await ignite(['inspect', 'vm', n], { env })).stdout) as VMJSON;
    try {
      for (const [n, extra] of [
        [a, ['-p', `${port}:80`]],
        [b, []],
      ] as const) {
        const r = await ignite(['run', `${reg.host}/ignite-busybox`, '--name', n, ...extra], {
          env,
        });
        assert.equal(r.code, 0, r.stderr);
      }
      const va = await inspect(a);
      const vb = await inspect(b);
      const ipA = va.status.ipAddresses?.[0] ?? '';
      const ipB = vb.status.ipAddresses?.[0] ?? '';
      assert.match(ipA, /^10\.61\.\d+\.\d+$/);
      assert.match(ipB, /^10\.61\.\d+\.\d+$/);
      assert.notEqual(ipA, ipB);
      const logA = join(dir.path, 'vm', va.metadata.uid, 'console.log');
      const logB = join(dir.path, 'vm', vb.metadata.uid, 'console.log');
      // The guests took their addresses over DHCP.
      await waitForText(logA, `ignite-busybox: lease ${ipA}`, 90_000);
      await waitForText(logB, `ignite-busybox: lease ${ipB}`, 90_000);
      const ps = (await ignite(['ps'], { env })).stdout;
      assert.match(
        ps,
        new RegExp(`${ipA.replaceAll('.', '\\.')}\\s+0\\.0\\.0\\.0:${port}->80\\s+${a}`),
      );

      // The host reaches both; each reaches the other.
      for (const ip of [ipA, ipB]) await pexec('busybox', ['ping', '-c', '1', '-W', '5', ip]);
      await typeOnConsole(
        join(dir.path, 'vm', va.metadata.uid, 'console.sock'),
        `ping -c 1 -W 5 ${ipB} && echo PING-$((1+1))-OK`,
      );
      await waitForText(logA, 'PING-2-OK', 30_000);
      await typeOnConsole(
        join(dir.path, 'vm', vb.metadata.uid, 'console.sock'),
        `ping -c 1 -W 5 ${ipA} && echo PING-$((2+1))-OK`,
      );
      await waitForText(logB, 'PING-3-OK', 30_000);

      // A port mapping from 127.0.0.1 to busybox httpd in the guest.
      await typeOnConsole(
        join(dir.path, 'vm', va.metadata.uid, 'console.sock'),
        'echo known-$((6*7)) > /www/known.txt; httpd -p 80 -h /www',
      );
      let body = '';
      for (let i = 0; i < 50 && !body.includes('known-42'); i++) {
        body = await fetch(`http://127.0.0.1:${port}/known.txt`).then(
          (r) => r.text(),
          () => '',
        );
        if (!body.includes('known-42')) await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(body.trim(), 'known-42');

      // rm -f tears everything down.
      assert.equal((await ignite(['rm', '-f', a], { env })).code, 0);
      assert.deepEqual(await leftovers(va.metadata.uid), []);

      // kill -9 of a supervisor, then one ps: the leftovers are collected.
      const spawnPid = vb.status.runtime?.spawnPid ?? 0;
      process.kill(spawnPid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      assert.match(
        (await ignite(['ps', '-a'], { env })).stdout,
        new RegExp(`^${vb.metadata.uid}\\s.*\\sStopped\\s`, 'm'),
      );
      assert.equal(
        isProcessAlive(vb.status.runtime?.pid, vb.metadata.uid),
        false,
        'the orphaned hypervisor was ended',
      );
      assert.deepEqual(await leftovers(vb.metadata.uid), []);
    } finally {
      await ignite(['rm', '-f', a], { env });
      await ignite(['rm', '-f', b], { env });
    }
  },
);

test(
  'ten parallel creates get ten names and ten address reservations; start uses it, stop and rm release it',
  { timeout: 600_000 },
  async () => {
    assert.equal(
      process.getuid?.(),
      0,
      'networking needs root: network namespaces, bridges and iptables (CI runs as root)',
    );
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    // Import once, so the ten creates race on names and addresses rather than on the pull.
    assert.equal(
      (await ignite(['image', 'import', `${t.registry}/ignite-busybox`], { env })).code,
      0,
    );
    const results = await Promise.all(
      Array.from({ length: 10 }, () => ignite(['create', `${t.registry}/ignite-busybox`], { env })),
    );
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const uids = results.map((r) => r.stdout.trim().split('\n').pop() ?? '');
    const vms = JSON.parse((await ignite(['ps', '-a', '-o', 'json'], { env })).stdout) as {
      metadata: { uid: string; name: string };
    }[];
    assert.equal(vms.length, 10, 'no create was lost');
    assert.equal(new Set(vms.map((v) => v.metadata.name)).size, 10, 'ten distinct names');
    const addresses = new Set<string>();
    for (const uid of uids) {
      const r = await reservationsOf(uid);
      assert.equal(r.size, 1, `one reservation for ${uid}`);
      for (const ip of r.keys()) addresses.add(ip);
    }
    assert.equal(addresses.size, 10, 'ten distinct addresses');

    // The reserved address is the one the VM gets, and keeps while stopped.
    const first = uids[0] ?? '';
    const reserved = [...(await reservationsOf(first)).keys()][0];
    assert.equal((await ignite(['start', first], { env })).code, 0);
    const running = JSON.parse((await ignite(['inspect', 'vm', first], { env })).stdout) as {
      status: { ipAddresses: string[] };
    };
    assert.deepEqual(running.status.ipAddresses, [reserved]);
    assert.deepEqual([...(await reservationsOf(first)).entries()], [[reserved, 'eth0']]);
    assert.equal((await ignite(['stop', first], { env })).code, 0);
    assert.deepEqual([...(await reservationsOf(first)).entries()], [], 'stop releases the address');

    const rm = await ignite(['rm', '-f', ...uids], { env });
    assert.equal(rm.code, 0, rm.stderr);
    for (const uid of uids) assert.deepEqual(await leftovers(uid), [], uid);
  },
);
