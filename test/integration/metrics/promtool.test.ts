import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExposition, serveHostMetrics } from '../../../src/metrics/index.js';
import { curl, curlUnix, fakeManager, promtoolCheck, startFakeVM, tempDir } from './fixture.js';

test('a VM socket, fetched with curl --unix-socket, passes promtool check metrics', async () => {
  await using dir = await tempDir();
  await using vm = await startFakeVM(dir.path, '3f2a9c1b7d4e5f60', 'web');
  const text = await curlUnix(vm.socketPath);
  // promtool accepts an empty input; make sure there is something to check.
  assert.match(text, /^ignite_vm_info\{.*vm_uid="3f2a9c1b7d4e5f60"/m);
  assert.match(text, /^ignite_vm_network_receive_bytes_total\{device="lo",/m);
  assert.match(text, /^process_cpu_seconds_total\{/m);
  // Any path answers, as in Ignite (curl sends `http:/metrics` as host "metrics", path "/").
  const other = await curlUnix(vm.socketPath, 'http://localhost/anything');
  assert.match(other, /^# TYPE ignite_vm_state gauge$/m);
  const check = await promtoolCheck(text);
  assert.equal(check.exitCode, 0, check.stdout + check.stderr);
  assert.equal(check.stdout + check.stderr, '', 'promtool printed warnings');
});

test('the host endpoint merges two VMs and the manager into one valid exposition', async () => {
  await using dir = await tempDir();
  await using one = await startFakeVM(dir.path, 'aaaa000000000001', 'one');
  await using two = await startFakeVM(dir.path, 'bbbb000000000002', 'two');
  const manager = fakeManager();
  manager.gitops.reconciled();
  await using host = await serveHostMetrics({
    listen: '127.0.0.1:0',
    manager: manager.registry,
    vmSockets: () => Promise.resolve([one, two]),
  });
  const text = await curl(`${host.url}/metrics`);

  // Without merging, process_cpu_seconds_total would have three HELP/TYPE blocks.
  assert.equal(text.match(/^# TYPE process_cpu_seconds_total counter$/gm)?.length, 1);
  assert.equal(text.match(/^# TYPE nodejs_gc_duration_seconds histogram$/gm)?.length, 1);
  const families = new Map(parseExposition(text).map((f) => [f.name, f]));
  const uids = (name: string): (string | undefined)[] =>
    (families.get(name)?.samples ?? []).map((s) => s.labels.find(([k]) => k === 'vm_uid')?.[1]);
  assert.deepEqual(uids('process_cpu_seconds_total'), [
    undefined,
    'aaaa000000000001',
    'bbbb000000000002',
  ]);
  assert.deepEqual(uids('ignite_vm_info').sort(), ['aaaa000000000001', 'bbbb000000000002']);
  assert.deepEqual(
    families.get('ignite_vm_scrape_up')?.samples.map((s) => s.value),
    [1, 1],
  );
  assert.match(text, /^ignite_vms\{state="Running"\} 2$/m);
  assert.match(text, /^ignite_gitops_reconciles_total 1$/m);
  assert.match(text, /^ignite_scrape_errors_total\{reason="unreachable"\} 0$/m);

  const check = await promtoolCheck(text);
  assert.equal(check.exitCode, 0, check.stdout + check.stderr);
  assert.equal(check.stdout + check.stderr, '', 'promtool printed warnings');
});
