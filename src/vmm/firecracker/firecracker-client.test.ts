import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../errors.js';
import {
  loadFirecrackerSpec,
  type FirecrackerSpec,
  type SpecVersion,
} from '../../../test/fixtures/vmm/firecracker-spec.js';
import {
  apiForVersion,
  FirecrackerClient,
  type ActionType,
  type FirecrackerApi,
  type FirecrackerTransport,
} from './firecracker-client.js';
import { blockStatsFromMetrics } from './firecracker-driver.js';

interface Sent {
  method: string;
  path: string;
  body: unknown;
  problems: string[];
}

/** A transport that checks each request against the spec and answers as Firecracker would. */
function specTransport(spec: FirecrackerSpec, sent: Sent[]): FirecrackerTransport {
  return {
    request: (method, path, body) => {
      const problems = spec.check(method, path, body);
      sent.push({ method, path, body, problems });
      if (problems.length > 0) {
        return Promise.resolve({ status: 400, body: { fault_message: problems.join('; ') } });
      }
      if (method === 'GET') {
        return Promise.resolve({
          status: 200,
          body: { id: 'anonymous-instance', state: 'Not started', vmm_version: spec.version },
        });
      }
      return Promise.resolve({ status: 204, body: undefined });
    },
  };
}

/** Every request the client can make, as the driver makes them. */
async function everyRequest(client: FirecrackerClient, api: FirecrackerApi): Promise<void> {
  await client.describeInstance();
  await client.putLogger({ logPath: '/vm/fc.log', metricsPath: '/vm/fc-metrics.json' });
  await client.putMachineConfig({ vcpuCount: 2, memSizeMib: 512 });
  await client.putBootSource({
    kernelImagePath: '/k/vmlinux',
    bootArgs: 'console=ttyS0 reboot=k panic=1 pci=off',
    ...(api === 'v1' ? { initrdPath: '/k/initrd.gz' } : {}),
  });
  await client.putDrive('rootfs', {
    pathOnHost: '/vm/rootfs.ext4',
    isRootDevice: true,
    isReadOnly: false,
  });
  await client.putNetworkInterface('eth0', {
    hostDevName: 'vm_eth0',
    guestMac: '02:00:00:00:00:01',
  });
  for (const a of ['InstanceStart', 'FlushMetrics', 'SendCtrlAltDel'] as ActionType[]) {
    await client.action(a);
  }
}

const pairs: [FirecrackerApi, SpecVersion][] = [
  ['v0', '0.17.0'],
  ['v1', '1.16.1'],
];

for (const [api, version] of pairs) {
  test(`FirecrackerClient (${api}): every request matches Firecracker's v${version} spec`, async () => {
    const spec = loadFirecrackerSpec(version);
    assert.equal(spec.version, version);
    const sent: Sent[] = [];
    await everyRequest(new FirecrackerClient(specTransport(spec, sent), api, 'vm "t"'), api);
    assert.deepEqual(
      sent.flatMap((s) => s.problems),
      [],
    );
    const paths = new Set(sent.map((s) => `${s.method} ${s.path}`));
    for (const want of [
      'GET /',
      'PUT /logger',
      'PUT /machine-config',
      'PUT /boot-source',
      'PUT /drives/rootfs',
      'PUT /network-interfaces/eth0',
      'PUT /actions',
      ...(api === 'v1' ? ['PUT /metrics'] : []),
    ]) {
      assert.ok(paths.has(want), `${want} was not exercised`);
    }
  });
}

test("FirecrackerClient (v1): the snapshot requests match Firecracker's v1.16.1 spec; v0.17 has none", async () => {
  const spec = loadFirecrackerSpec('1.16.1');
  const sent: Sent[] = [];
  const client = new FirecrackerClient(specTransport(spec, sent), 'v1', 'vm "t"');
  await client.patchVm('Paused');
  await client.createSnapshot({ snapshotPath: '/s/state', memFilePath: '/s/state.mem' });
  await client.patchVm('Resumed');
  await client.loadSnapshot({
    snapshotPath: '/s/state',
    memFilePath: '/s/state.mem',
    networkOverrides: [],
  });
  await client.loadSnapshot({
    snapshotPath: '/s/state',
    memFilePath: '/s/state.mem',
    networkOverrides: [{ ifaceId: 'eth0', hostDevName: 'vm_eth0' }],
  });
  await client.patchDrive('rootfs', '/vm/rootfs.ext4');
  assert.deepEqual(
    sent.flatMap((s) => s.problems),
    [],
  );
  assert.deepEqual(
    sent.map((s) => `${s.method} ${s.path}`),
    [
      'PATCH /vm',
      'PUT /snapshot/create',
      'PATCH /vm',
      'PUT /snapshot/load',
      'PUT /snapshot/load',
      'PATCH /drives/rootfs',
    ],
  );
  // Loaded paused: the driver moves the drive and NICs before it resumes.
  assert.equal((sent[3]?.body as { resume_vm?: boolean }).resume_vm, false);
  // v0.17 can patch a drive, but has neither /vm nor /snapshot: the driver refuses it up front.
  const v0 = loadFirecrackerSpec('0.17.0');
  for (const s of sent.filter((s) => !s.path.startsWith('/drives/'))) {
    assert.match(v0.check(s.method, s.path, s.body).join(), /no such path/, `${s.path} in v0.17`);
  }
});

test('firecracker spec check: catches what each generation rejects', () => {
  const v0 = loadFirecrackerSpec('0.17.0');
  const v1 = loadFirecrackerSpec('1.16.1');
  // v1's machine-config lacks v0's required ht_enabled; v0's logger names v1 does not know.
  assert.match(
    v0.check('PUT', '/machine-config', { vcpu_count: 1, mem_size_mib: 128, smt: false }).join(),
    /ht_enabled/,
  );
  assert.match(
    v1.check('PUT', '/logger', { log_fifo: '/a', metrics_fifo: '/b' }).join(),
    /log_fifo/,
  );
  assert.match(v0.check('PUT', '/metrics', { metrics_path: '/m' }).join(), /no such path/);
  assert.match(v1.check('PUT', '/actions', { action_type: 'Reboot' }).join(), /allowed values/);
  assert.match(
    v1.check('PUT', '/machine-config', { vcpu_count: '2', mem_size_mib: 128 }).join(),
    /must be integer/,
  );
  assert.match(v1.check('DELETE', '/drives/x', undefined).join(), /method not in spec/);
  assert.match(v1.check('PUT', '/drives/x', undefined).join(), /body required/);
  assert.deepEqual(v1.check('PUT', '/drives/x', { drive_id: 'x', is_root_device: true }), []);
  assert.ok(v1.operations().includes('PUT /drives/{drive_id}'));
});

test('FirecrackerClient: a fault_message becomes an AppError naming the VM and request', async () => {
  const transport: FirecrackerTransport = {
    request: () =>
      Promise.resolve({ status: 400, body: { fault_message: 'Cannot start microvm: bad kernel' } }),
  };
  const client = new FirecrackerClient(transport, 'v1', 'vm "web"');
  await assert.rejects(client.action('InstanceStart'), (e: unknown) => {
    assert.ok(e instanceof AppError);
    assert.equal(e.code, 'InvalidArgument');
    assert.equal(
      e.message,
      'vm "web": firecracker PUT /actions (InstanceStart): Cannot start microvm: bad kernel',
    );
    return true;
  });
  const broken: FirecrackerTransport = {
    request: () => Promise.reject(new Error('connect ENOENT')),
  };
  await assert.rejects(
    new FirecrackerClient(broken, 'v1', 'vm "web"').describeInstance(),
    (e: unknown) => AppError.is(e, 'Unavailable') && /GET \/: connect ENOENT/.test(e.message),
  );
  const serverError: FirecrackerTransport = {
    request: () => Promise.resolve({ status: 500, body: undefined }),
  };
  await assert.rejects(
    new FirecrackerClient(serverError, 'v1', 'vm "web"').describeInstance(),
    (e: unknown) => AppError.is(e, 'Internal') && /HTTP 500/.test(e.message),
  );
});

test('FirecrackerClient: v0 cannot take an initrd', async () => {
  const sent: Sent[] = [];
  const client = new FirecrackerClient(
    specTransport(loadFirecrackerSpec('0.17.0'), sent),
    'v0',
    'vm "web"',
  );
  await assert.rejects(
    client.putBootSource({ kernelImagePath: '/k', bootArgs: '', initrdPath: '/i' }),
    (e: unknown) => AppError.is(e, 'InvalidArgument'),
  );
  assert.equal(sent.length, 0);
});

test('apiForVersion: the binary version picks the API generation', () => {
  const table: [string, FirecrackerApi, string | undefined][] = [
    ['Firecracker v0.17.0\n', 'v0', '0.17.0'],
    ['Firecracker v1.16.1\n\nSupported snapshot data format versions: v8.0.0', 'v1', '1.16.1'],
    ['firecracker 2.0.0', 'v1', '2.0.0'],
    ['something else', 'v1', undefined],
  ];
  for (const [out, api, version] of table) {
    const got = apiForVersion(out);
    assert.equal(got.api, api, out);
    assert.equal(got.version, version, out);
  }
});

test('blockStatsFromMetrics: the last complete line, the root drive before the total', () => {
  const v0 = '{"block":{"read_bytes":10,"write_bytes":20,"read_count":1,"write_count":2}}\n';
  const v1 =
    '{"block":{"read_bytes":99,"write_bytes":99,"read_count":9,"write_count":9},"block_rootfs":{"read_bytes":4096,"write_bytes":0,"read_count":3,"write_count":0}}\n';
  assert.deepEqual(blockStatsFromMetrics(v0, 'vm "t"'), {
    readBytes: 10,
    writeBytes: 20,
    readOps: 1,
    writeOps: 2,
  });
  assert.deepEqual(blockStatsFromMetrics(`${v0}${v1}{"block":{"rea`, 'vm "t"'), {
    readBytes: 4096,
    writeBytes: 0,
    readOps: 3,
    writeOps: 0,
  });
  assert.throws(
    () => blockStatsFromMetrics('', 'vm "t"'),
    (e: unknown) => AppError.is(e, 'Internal'),
  );
});
