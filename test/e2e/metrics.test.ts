import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IGNITE_BIN, ignite } from '../helpers/cli.js';
import { typeOnConsole, waitForText } from '../helpers/console.js';
import { freePort } from '../helpers/registry.js';
import { vmTestEnv } from '../helpers/vm-env.js';

/** `promtool check metrics` on an exposition; resolves with its complaints (none is success). */
function promtool(text: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? 1, out }));
    p.stdin.on('error', () => undefined);
    p.stdin.end(text);
  });
}

function sample(text: string, name: string): number {
  const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `${name} in the exposition`);
  return Number(m[1]);
}

test(
  'a running VM serves Prometheus metrics that promtool accepts, and its counters grow',
  { timeout: 600_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    const name = `met-${process.pid}`;
    const work = await mkdtemp(join(tmpdir(), 'ignite-metrics-'));
    let serve: ReturnType<typeof spawn> | undefined;
    let prom: ReturnType<typeof spawn> | undefined;
    try {
      const run = await ignite(['run', `${t.registry}/ignite-busybox`, '--name', name], { env });
      assert.equal(run.code, 0, run.stderr);
      const uid = run.stdout.trim().split('\n').pop() ?? '';
      const vmDir = join(t.dataDir, 'vm', uid);
      await waitForText(join(vmDir, 'console.log'), 'ignite-busybox: ready', 90_000);

      const before = (await ignite(['metrics', name], { env })).stdout;
      const check = await promtool(before);
      assert.equal(check.code, 0, check.out);
      assert.equal(check.out.trim(), '', 'no promtool warnings');
      assert.match(before, new RegExp(`^ignite_vm_info\\{[^}]*vm_uid="${uid}"[^}]*\\} 1$`, 'm'));

      const gw =
        (
          JSON.parse((await ignite(['inspect', 'vm', name], { env })).stdout) as {
            status: { ipAddresses: string[] };
          }
        ).status.ipAddresses[0]?.replace(/\.\d+$/, '.1') ?? '';
      await typeOnConsole(
        join(vmDir, 'console.sock'),
        `dd if=/dev/urandom of=/root/blob bs=1M count=4 && sync && ping -c 3 ${gw} >/dev/null; echo METRICS-$((2+3))`,
      );
      await waitForText(join(vmDir, 'console.log'), 'METRICS-5', 60_000);
      const after = (await ignite(['metrics', name], { env })).stdout;
      assert.ok(
        sample(after, 'ignite_vm_block_write_bytes_total') -
          sample(before, 'ignite_vm_block_write_bytes_total') >=
          4 << 20,
        'block writes grew by the 4 MiB written',
      );
      for (const m of [
        'ignite_vm_network_transmit_packets_total',
        'ignite_vm_network_receive_packets_total',
      ]) {
        assert.ok(sample(after, m) >= sample(before, m) + 3, `${m} grew with the pings`);
      }
      assert.ok(sample(after, 'ignite_vm_dhcp_leases_total') >= 1);

      // The host-wide endpoint, scraped by a real Prometheus.
      const port = await freePort();
      serve = spawn(
        process.execPath,
        [IGNITE_BIN, 'metrics', 'serve', '--listen', `127.0.0.1:${port}`],
        { env: { ...process.env, ...env }, stdio: 'ignore' },
      );
      let host = '';
      for (let i = 0; i < 100 && !host.includes('ignite_vm_info'); i++) {
        host = await fetch(`http://127.0.0.1:${port}/metrics`).then(
          (r) => r.text(),
          () => '',
        );
        if (!host.includes('ignite_vm_info')) await new Promise((r) => setTimeout(r, 100));
      }
      const hostCheck = await promtool(host);
      assert.equal(hostCheck.code, 0, hostCheck.out);
      assert.match(host, /^ignite_vms\{state="Running"\} 1$/m);

      const promPort = await freePort();
      await writeFile(
        join(work, 'prometheus.yml'),
        `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ignite\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`,
      );
      prom = spawn(
        'prometheus',
        [
          `--config.file=${join(work, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(work, 'data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        { stdio: 'ignore' },
      );
      let found = false;
      for (let i = 0; i < 120 && !found; i++) {
        const res = await fetch(
          `http://127.0.0.1:${promPort}/api/v1/query?query=ignite_vm_info`,
        ).then(
          (r) => r.json() as Promise<{ data?: { result?: { metric: Record<string, string> }[] } }>,
          () => undefined,
        );
        found = (res?.data?.result ?? []).some((r) => r.metric['vm_uid'] === uid);
        if (!found) await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(found, 'Prometheus scraped the VM through ignite metrics serve');
    } finally {
      prom?.kill('SIGTERM');
      serve?.kill('SIGTERM');
      await ignite(['rm', '-f', name], { env });
      await rm(work, { recursive: true, force: true });
    }
  },
);
