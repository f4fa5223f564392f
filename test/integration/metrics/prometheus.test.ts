import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveHostMetrics } from '../../../src/metrics/index.js';
import { waitForExit } from '../../../src/system/linux-processes.js';
import { fakeManager, freePort, startFakeVM, tempDir } from './fixture.js';

interface TargetsResponse {
  // Prometheus's own field names.
  data: { activeTargets: { health: string; lastError: string; scrapeUrl: string }[] };
}
interface QueryResponse {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function getJSON<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Polls `check` until it returns a value, or fails after `timeoutMs`; a throw fails at once. */
async function eventually<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('a real Prometheus scrapes the host endpoint and can query a VM', async () => {
  await using dir = await tempDir();
  await using vm = await startFakeVM(dir.path, '9e8d7c6b5a493827', 'scraped');
  await using host = await serveHostMetrics({
    listen: '127.0.0.1:0',
    manager: fakeManager().registry,
    vmSockets: () => Promise.resolve([vm]),
  });
  const port = await freePort();
  const config = join(dir.path, 'prometheus.yml');
  await writeFile(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: ignite',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${host.port}']`,
      '',
    ].join('\n'),
  );
  const stderr: Buffer[] = [];
  const prometheus = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir.path, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  prometheus.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const api = `http://127.0.0.1:${port}/api/v1`;
  try {
    const target = await eventually('a successful scrape', 20_000, async () => {
      if (prometheus.exitCode !== null) {
        throw new Error(`prometheus exited: ${Buffer.concat(stderr).toString().slice(-2000)}`);
      }
      // Until Prometheus listens, connecting fails: keep waiting.
      const targets = await getJSON<TargetsResponse>(`${api}/targets`).catch(() => undefined);
      const t = targets?.data.activeTargets[0];
      // A target that is "down" says why: a scrape error is a failure, not something to wait out.
      if (t?.health === 'down') throw new Error(`scrape failed: ${t.lastError}`);
      return t?.health === 'up' ? t : undefined;
    });
    assert.equal(target.scrapeUrl, `${host.url}/metrics`);
    assert.equal(target.lastError, '');

    const info = await getJSON<QueryResponse>(`${api}/query?query=ignite_vm_info`);
    assert.equal(info.status, 'success');
    const series = info.data.result.map((r) => r.metric);
    assert.equal(series.length, 1);
    assert.equal(series[0]?.vm_uid, vm.uid);
    assert.equal(series[0]?.vm_name, 'scraped');
    assert.equal(series[0]?.vmm, 'qemu');

    // The merged process metrics: the manager's series and the VM's, told apart by vm_uid.
    const cpu = await getJSON<QueryResponse>(`${api}/query?query=process_cpu_seconds_total`);
    const uids = cpu.data.result.map((r) => r.metric.vm_uid ?? '(manager)').sort();
    assert.deepEqual(uids, ['(manager)', vm.uid]);
  } finally {
    prometheus.kill('SIGTERM');
    const pid = prometheus.pid;
    if (pid !== undefined && !(await waitForExit(pid, 5_000))) prometheus.kill('SIGKILL');
  }
});
