import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AppError } from '../../src/errors.js';
import type { VMConfig } from '../../src/vmm/vmm-driver.js';
import { attach, hypervisorPids, waitFor, type VMCase } from './vmm-driver.suite.js';

/**
 * The snapshot part of the VMMDriver contract: a driver whose capabilities() say it can save
 * state must restore it in a new process with the guest going on where it was (the same boot
 * id: Linux draws a new one at every boot), and must refuse a damaged or mismatching state
 * before any process is left. A driver that says it cannot must refuse the calls, saying why.
 */
export function snapshotCases(
  name: string,
  withVM: (fn: VMCase) => (t: TestContext) => Promise<void>,
): void {
  test(
    `${name}: saveState, then start({ restoreFrom }) in a new process: the same guest goes on`,
    { timeout: 180_000 },
    withVM(async (h, config, t, track) => {
      const caps = await h.driver.capabilities();
      const vm = track(await h.driver.start(config));
      await booted(h.initMarker, config, h.bootTimeoutMs);
      if (!caps.saveState.available) {
        t.diagnostic(`no snapshots: ${caps.saveState.reason}`);
        await refuses(
          vm.saveState(join(config.paths.workDir, 'state')),
          config,
          caps.saveState.reason,
        );
        await refuses(vm.pause(), config, caps.saveState.reason);
        await refuses(
          h.driver.start(config, { restoreFrom: join(config.paths.workDir, 'state') }),
          config,
        );
        return;
      }
      const bootId = await guestBootId(config);
      let restoreConfig = config;
      await vm.pause();
      if ((await h.driver.capabilities()).freezeRootDisk.available) {
        // The disk of the saved state is frozen; the VM writes to, and restores on, a new overlay.
        const next = join(config.paths.workDir, 'rootfs-next.qcow2');
        await vm.freezeRootDisk(join(config.paths.workDir, 'frozen', 'disk.qcow2'), next);
        restoreConfig = { ...config, rootDisk: { ...config.rootDisk, path: next } };
      } else {
        await refuses(vm.freezeRootDisk('/nonexistent/frozen', '/nonexistent/next'), config);
      }
      const file = join(config.paths.workDir, 'saved', 'state');
      const saved = await vm.saveState(file);
      t.diagnostic(
        `saveState: ${saved.saveMs} ms, ${saved.bytes} bytes in ${saved.files.length} files`,
      );
      assert.ok(saved.files.includes(file) && saved.files.includes(`${file}.json`));
      const sizes = await Promise.all(saved.files.map(async (f) => (await stat(f)).size));
      assert.equal(
        saved.bytes,
        sizes.reduce((a, b) => a + b, 0),
      );
      assert.deepEqual(
        (await readdir(dirname(file))).filter((f) => f.includes('partial')),
        [],
        'no partial file is left',
      );
      // The source goes on after a save, as after `snapshot create`.
      await vm.resume();
      assert.equal(await guestBootId(config), bootId);
      await vm.kill();

      const restoring = Date.now();
      const restored = track(await h.driver.start(restoreConfig, { restoreFrom: file }));
      assert.notEqual(restored.pid, vm.pid);
      assert.deepEqual(hypervisorPids(config), [restored.pid]);
      assert.equal(await guestBootId(config), bootId, 'a restored guest is the saved one');
      t.diagnostic(`restore to the guest answering: ${Date.now() - restoring} ms`);
      await restored.kill();
    }),
  );

  test(
    `${name}: a truncated state and another memory size each fail cleanly, leaving no process`,
    { timeout: 120_000 },
    withVM(async (h, config, _t, track) => {
      if (!(await h.driver.capabilities()).saveState.available) return;
      const vm = track(await h.driver.start(config));
      await booted(h.initMarker, config, h.bootTimeoutMs);
      const file = join(config.paths.workDir, 'saved', 'state');
      await vm.saveState(file);
      await vm.kill();

      const bigger = { ...config, memoryMiB: config.memoryMiB * 2 };
      await refuses(
        h.driver.start(bigger, { restoreFrom: file }),
        config,
        `memory: saved with ${config.memoryMiB} MiB, this VM has ${bigger.memoryMiB} MiB`,
      );
      assert.deepEqual(hypervisorPids(config), []);

      await truncate(file, (await stat(file)).size - 1);
      await refuses(h.driver.start(config, { restoreFrom: file }), config, 'damaged');
      assert.deepEqual(hypervisorPids(config), []);
    }),
  );
}

async function booted(marker: string, config: VMConfig, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => (await readFile(config.paths.consoleLog, 'utf8').catch(() => '')).includes(marker),
    timeoutMs,
    `${marker} in ${config.paths.consoleLog}`,
  );
}

/** Asks the guest's shell for its boot id, on a fresh console connection. */
async function guestBootId(config: VMConfig): Promise<string> {
  const console = await attach(config.paths.consoleSocket);
  try {
    console.socket.write('cat /proc/sys/kernel/random/boot_id\n');
    let id: string | undefined;
    await waitFor(
      () => {
        id = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\r?$/m.exec(
          console.received(),
        )?.[1];
        return Promise.resolve(id !== undefined);
      },
      30_000,
      'the boot id on the console',
    );
    return id ?? '';
  } finally {
    console.socket.destroy();
  }
}

async function refuses(p: Promise<unknown>, config: VMConfig, says?: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(AppError.is(e, 'FailedPrecondition'), String(e));
    assert.ok(e.message.startsWith(`vm "${config.name}": `), e.message);
    if (says !== undefined) assert.ok(e.message.includes(says), `${e.message} should say ${says}`);
    return true;
  });
}
