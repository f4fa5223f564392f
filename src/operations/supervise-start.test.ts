import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newUID } from '../api/index.js';
import { newFsClient } from '../storage/index.js';
import { vm } from '../../test/helpers/objects.js';
import { awaitStart } from './supervise-start.js';
import type { VMNetworkAttachment, VMNetworking } from './vm-networking.js';

/** Networking that records what it was asked, and whose set-up ends when the test says. */
function recordingNetwork(fail = false) {
  const calls: string[] = [];
  let finish: () => void = () => undefined;
  const networking: VMNetworking = {
    setup: (req) => {
      calls.push(`setup ${req.name} ${req.mode} ${req.ports.map((p) => p.hostPort).join(',')}`);
      return new Promise<VMNetworkAttachment>((resolve, reject) => {
        finish = () => {
          calls.push('setup done');
          if (fail) reject(new Error('no address left'));
          else resolve({ ipAddresses: ['10.61.0.9'], netns: 'ns' });
        };
      });
    },
    teardown: (req) => {
      calls.push(`teardown ${req.uid}`);
      return Promise.resolve();
    },
  };
  return { networking, calls, finish: () => finish() };
}

async function withVM(
  fn: (
    deps: { dataDir: string; client: ReturnType<typeof newFsClient> },
    uid: string,
  ) => Promise<void>,
) {
  const dataDir = await mkdtemp(join(tmpdir(), 'ignite-start-'));
  try {
    const client = newFsClient(dataDir);
    const v = vm('web');
    v.metadata.uid = newUID();
    v.spec.network = { mode: 'docker-bridge', ports: [{ hostPort: 30080, vmPort: 80 }] };
    await client.vms.set(v);
    await fn({ dataDir, client }, v.metadata.uid);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** A signal the test fires by hand. */
function manual<T>() {
  let fire: (v: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (fire = r));
  return { promise, fire };
}

test('a go before any prepare sets nothing up early', async () => {
  await withVM(async (deps, uid) => {
    const net = recordingNetwork();
    const prepare = manual<void>();
    const started = await awaitStart({ ...deps, ...net }, uid, {
      prepare: prepare.promise,
      go: Promise.resolve(true),
    });
    assert.deepEqual(started, {});
    assert.deepEqual(net.calls, []);
  });
});

test('prepared, the network is set up as the record asks while waiting for the go', async () => {
  await withVM(async (deps, uid) => {
    const net = recordingNetwork();
    const go = manual<boolean>();
    const pending = awaitStart({ ...deps, ...net }, uid, {
      prepare: Promise.resolve(),
      go: go.promise,
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(net.calls, ['setup web docker-bridge 30080'], 'set up before the go');
    go.fire(true);
    const started = await pending;
    assert.ok(started !== false && started.network);
    net.finish();
    assert.deepEqual(await started.network, { ipAddresses: ['10.61.0.9'], netns: 'ns' });
    assert.deepEqual(net.calls, ['setup web docker-bridge 30080', 'setup done']);
  });
});

test('given up after preparing, the set-up is finished and then undone', async () => {
  await withVM(async (deps, uid) => {
    const net = recordingNetwork();
    const go = manual<boolean>();
    const pending = awaitStart({ ...deps, ...net }, uid, {
      prepare: Promise.resolve(),
      go: go.promise,
    });
    await new Promise((r) => setTimeout(r, 20));
    go.fire(false);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(net.calls, ['setup web docker-bridge 30080'], 'no teardown under a set-up');
    net.finish();
    assert.equal(await pending, false);
    assert.deepEqual(net.calls, ['setup web docker-bridge 30080', 'setup done', `teardown ${uid}`]);
  });
});

test('a set-up that fails early fails the start that awaits it, and only then', async () => {
  await withVM(async (deps, uid) => {
    const net = recordingNetwork(true);
    const started = await awaitStart({ ...deps, ...net }, uid, {
      prepare: Promise.resolve(),
      go: new Promise((r) => setTimeout(() => r(true), 10)),
    });
    net.finish();
    assert.ok(started !== false && started.network);
    await assert.rejects(started.network, /no address left/);
  });
});
