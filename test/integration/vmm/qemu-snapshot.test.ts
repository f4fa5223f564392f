import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  appendFile,
  copyFile,
  mkdir,
  mkdtemp,
  open,
  readFile,
  rm,
  stat,
  truncate,
} from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../../../src/errors.js';
import { createOverlay } from '../../../src/vmm/disk/create-root-disk.js';
import { createCloneOverlay } from '../../../src/vmm/disk/overlay-snapshot.js';
import { digestFile } from '../../../src/vmm/saved-state.js';
import { QemuDriver } from '../../../src/vmm/qemu/qemu-driver.js';
import type { RunningVM, VMConfig } from '../../../src/vmm/vmm-driver.js';
import { bootFixture, bootFixtureUnavailable, fixtureVMConfig } from '../../helpers/vm-fixture.js';
import { hypervisorPids } from '../../suites/vmm-driver.suite.js';

// A real busybox guest under QEMU microvm + TCG: a counter runs in its shell, the VM is
// snapshotted (disk frozen, state saved), and a new QEMU process restored from the snapshot
// goes on counting from where it was. Then damaged and mismatching states fail cleanly.

const COUNTER =
  'echo on-disk-before-save > /root/mark; sync; i=0; while :; do i=$((i+1)); echo CNT$i; sleep 0.2; done &';

/** A connection to the VM's console that keeps everything it has seen. */
async function consoleOf(config: VMConfig): Promise<{ socket: Socket; seen: () => string }> {
  const socket = connect(config.paths.consoleSocket);
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, seen: () => text };
}

async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const counters = (text: string) => [...text.matchAll(/CNT(\d+)\r?\n/g)].map((m) => Number(m[1]));

/** Sends `echo` of a fresh token and waits for the guest's answer: the console round trip. */
async function echoRoundTrip(
  con: { socket: Socket; seen: () => string },
  token: string,
  ms: number,
) {
  con.socket.write(`echo ${token}-$((6*7))\n`);
  await until(`${token}-42 on the console`, ms, () =>
    Promise.resolve(con.seen().includes(`${token}-42`) ? true : undefined),
  );
}

test(
  'qemu: a snapshot of a running VM restores in a new process and its counter goes on',
  { timeout: 300_000 },
  async (t) => {
    const driver = new QemuDriver({ accel: 'tcg' });
    const missing = await bootFixtureUnavailable();
    if (missing !== undefined) assert.fail(`cannot run here: ${missing}`);
    const fixture = await bootFixture();
    const dir = await mkdtemp(join(tmpdir(), 'ignite-qemu-snap-'));
    const vms: RunningVM[] = [];
    const configs: VMConfig[] = [];
    try {
      const disk = join(dir, 'rootfs.qcow2');
      await createOverlay(fixture.rootfsPath, disk);
      const source = fixtureVMConfig(fixture, join(dir, 'source'), 'snap-source', disk);
      configs.push(source);

      const booted = Date.now();
      const vm = await driver.start(source);
      vms.push(vm);
      const con = await consoleOf(source);
      await until('the init marker', 60_000, async () =>
        (await readFile(source.paths.consoleLog, 'utf8').catch(() => '')).includes(
          fixture.initMarker,
        )
          ? true
          : undefined,
      );
      await echoRoundTrip(con, 'cold', 30_000);
      const coldMs = Date.now() - booted;
      t.diagnostic(`cold boot to a console echo round trip: ${coldMs} ms`);

      con.socket.write(`${COUNTER}\n`);
      await until('CNT5', 30_000, () =>
        Promise.resolve(counters(con.seen()).includes(5) ? true : undefined),
      );

      // The snapshot: paused, disk frozen, state saved; then the source goes on.
      const snapDir = join(dir, 'snap');
      const state = join(snapDir, 'state');
      const frozen = join(snapDir, 'disk.qcow2');
      const newOverlay = join(dir, 'rootfs-1.qcow2');
      const t0 = Date.now();
      await vm.pause();
      await vm.freezeRootDisk(frozen, newOverlay);
      const saved = await vm.saveState(state);
      const frozenDigest = await digestFile(frozen);
      const snapshotMs = Date.now() - t0;
      const last = Math.max(...counters(con.seen()));
      t.diagnostic(
        `snapshot (pause + freeze + save): ${snapshotMs} ms; state ${(saved.bytes / 1e6).toFixed(1)} MB in ${saved.files.length} files; last count ${last}`,
      );
      assert.deepEqual(saved.files, [state, `${state}.json`]);
      assert.equal((await stat(state)).size + (await stat(`${state}.json`)).size, saved.bytes);
      await vm.resume();
      await until(`the source counting past ${last}`, 30_000, () =>
        Promise.resolve(Math.max(...counters(con.seen())) > last ? true : undefined),
      );
      // The frozen disk keeps the VM's writes up to the snapshot; the source writes above it.
      con.socket.write('echo after-snapshot > /root/mark; sync; echo synced-$((2*3))\n');
      await until('the source synced', 30_000, () =>
        Promise.resolve(con.seen().includes('synced-6') ? true : undefined),
      );
      assert.deepEqual(await digestFile(frozen), frozenDigest, 'the frozen disk was written to');
      assert.ok((await stat(newOverlay)).size > 0);

      // A clone: its own overlay over the frozen disk, restored while the source still runs.
      const cloneDisk = join(dir, 'clone.qcow2');
      await createCloneOverlay(frozen, cloneDisk, 'vm "snap-clone"');
      const clone = fixtureVMConfig(fixture, join(dir, 'clone'), 'snap-clone', cloneDisk);
      configs.push(clone);
      const restoring = Date.now();
      const restored = await driver.start(clone, { restoreFrom: state });
      vms.push(restored);
      const ccon = await consoleOf(clone);
      await echoRoundTrip(ccon, 'warm', 30_000);
      const restoreMs = Date.now() - restoring;
      t.diagnostic(
        `restore to a console echo round trip: ${restoreMs} ms (${(restoreMs / coldMs).toFixed(2)} of a cold boot)`,
      );
      const first = await until('a count after the restore', 30_000, () =>
        Promise.resolve(counters(ccon.seen())[0]),
      );
      assert.equal(first, last + 1, `the restored counter goes on from ${last}, not from ${first}`);
      ccon.socket.write('cat /root/mark\n');
      await until('the file written before the save', 30_000, () =>
        Promise.resolve(ccon.seen().includes('on-disk-before-save') ? true : undefined),
      );
      assert.equal(hypervisorPids(clone).length, 1);
      await restored.kill();
      con.socket.destroy();
      ccon.socket.destroy();

      // Timed alone, as a `start` after `stop --save` runs: no other guest on the host's cores.
      await vm.kill();
      const solo = fixtureVMConfig(
        fixture,
        join(dir, 'solo'),
        'solo',
        await cloneOf(frozen, dir, 'solo'),
      );
      configs.push(solo);
      const alone = Date.now();
      const soloVM = await driver.start(solo, { restoreFrom: state });
      vms.push(soloVM);
      const scon = await consoleOf(solo);
      await echoRoundTrip(scon, 'solo', 30_000);
      const soloMs = Date.now() - alone;
      t.diagnostic(
        `restore alone to a console echo round trip: ${soloMs} ms (${(soloMs / coldMs).toFixed(2)} of the cold boot)`,
      );
      scon.socket.destroy();
      await soloVM.kill();

      await t.test('a state cut short by its last bytes fails before QEMU starts', async () => {
        const cut = join(dir, 'cut', 'state');
        await copyState(state, cut);
        await truncate(cut, (await stat(cut)).size - 100);
        const c = fixtureVMConfig(
          fixture,
          join(dir, 'cut-vm'),
          'cut',
          await cloneOf(frozen, dir, 'cut'),
        );
        configs.push(c);
        await assert.rejects(driver.start(c, { restoreFrom: cut }), (e: unknown) => {
          assert.ok(AppError.is(e, 'FailedPrecondition'), String(e));
          assert.match(e.message, /^vm "cut": saved state .*: damaged: .* bytes were saved/);
          return true;
        });
        assert.deepEqual(hypervisorPids(c), []);
      });

      // In the middle the bytes land in guest memory, which QEMU loads without a word; near the
      // start they break the stream's structure and QEMU's load fails. Both say "damaged".
      for (const [where, at] of [
        ['in guest memory', 0.5],
        ['in the stream header', 0],
      ] as const) {
        await t.test(
          `a state damaged ${where}, at its full size, is refused before the guest runs`,
          async () => {
            const bad = join(dir, `bad-${at}`, 'state');
            await copyState(state, bad);
            const f = await open(bad, 'r+');
            await f.write(Buffer.from('damage'), 0, 6, Math.floor((await f.stat()).size * at) + 20);
            await f.close();
            const c = fixtureVMConfig(
              fixture,
              join(dir, `bad-vm-${at}`),
              'bad',
              await cloneOf(frozen, dir, `bad-${at}`),
            );
            configs.push(c);
            await assert.rejects(driver.start(c, { restoreFrom: bad }), (e: unknown) => {
              assert.ok(AppError.is(e, 'FailedPrecondition'), String(e));
              assert.match(
                e.message,
                /^vm "bad": saved state .*: damaged: .* does not match its recorded SHA-256/,
              );
              return true;
            });
            assert.deepEqual(hypervisorPids(c), []);
          },
        );
      }
      // What the state is bound to, each changed alone: refused before QEMU starts.
      const otherKernel = join(dir, 'other-vmlinux');
      await copyFile(fixture.vmlinuxPath, otherKernel);
      await appendFile(otherKernel, Buffer.alloc(1));
      const mismatches: [string, (c: VMConfig) => VMConfig, RegExp][] = [
        [
          'another memory size',
          (c) => ({ ...c, memoryMiB: 128 }),
          /memory: saved with 256 MiB, this VM has 128 MiB/,
        ],
        ['another vCPU count', (c) => ({ ...c, vcpus: 2 }), /vCPUs: saved with 1, this VM has 2/],
        [
          'another kernel',
          (c) => ({ ...c, kernel: { ...c.kernel, vmlinuxPath: otherKernel } }),
          /kernel: saved with a vmlinux of (\d+) bytes, sha256 \w+, this VM has a vmlinux of (?!\1 )\d+ bytes/,
        ],
      ];
      for (const [what, change, says] of mismatches) {
        await t.test(`${what} fails with the mismatch named, before QEMU starts`, async () => {
          const c = change(
            fixtureVMConfig(
              fixture,
              join(dir, 'mm-vm'),
              'mm',
              await cloneOf(frozen, dir, what.replaceAll(' ', '-')),
            ),
          );
          configs.push(c);
          await assert.rejects(driver.start(c, { restoreFrom: state }), (e: unknown) => {
            assert.ok(AppError.is(e, 'FailedPrecondition'), String(e));
            assert.match(e.message, /^vm "mm": saved state .* does not match: /);
            assert.match(e.message, says);
            return true;
          });
          assert.deepEqual(hypervisorPids(c), []);
        });
      }
    } finally {
      await Promise.all(vms.map((v) => v.kill()));
      for (const c of configs) for (const pid of hypervisorPids(c)) process.kill(pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  },
);

async function copyState(from: string, to: string): Promise<void> {
  await rm(to, { force: true });
  await mkdir(join(to, '..'), { recursive: true });
  await copyFile(from, to);
  await copyFile(`${from}.json`, `${to}.json`);
}

async function cloneOf(frozen: string, dir: string, name: string): Promise<string> {
  const path = join(dir, `${name}.qcow2`);
  await createCloneOverlay(frozen, path, `vm "${name}"`);
  return path;
}
