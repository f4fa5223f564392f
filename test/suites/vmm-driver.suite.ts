import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { AppError } from '../../src/errors.js';
import type { RunningVM, VMConfig, VMMDriver } from '../../src/vmm/vmm-driver.js';
import { snapshotCases } from './vmm-snapshot.cases.js';

/**
 * What the suite needs from each driver's test file: the driver, and fresh VM configs whose
 * guest prints `initMarker` on its console, runs a shell there, mounts its root disk, and reboots
 * (ending the hypervisor) on Ctrl-Alt-Del.
 */
export interface VMMDriverHarness {
  driver: VMMDriver;
  /** A config in a fresh directory; `cleanup` removes it. */
  makeConfig(name: string): Promise<{ config: VMConfig; cleanup: () => Promise<void> }>;
  initMarker: string;
  /** From start to `initMarker` on the console. */
  bootTimeoutMs: number;
  /** From shutdown() to the hypervisor's exit. */
  shutdownTimeoutMs: number;
}

/** A suite case: a fresh config, and `track` to have the VMs it starts ended afterwards. */
export type VMCase = (
  h: VMMDriverHarness,
  config: VMConfig,
  t: TestContext,
  track: (vm: RunningVM) => RunningVM,
) => Promise<void>;

/** The contract of VMMDriver (src/vmm/vmm-driver.ts), run against every driver. */
export function vmmDriverSuite(
  name: string,
  setup: () => Promise<VMMDriverHarness | { skip: string }>,
): void {
  let harness: Promise<VMMDriverHarness | { skip: string }> | undefined;
  const withVM =
    (fn: VMCase): ((t: TestContext) => Promise<void>) =>
    async (t) => {
      harness ??= setup();
      const h = await harness;
      // Never a skip: a driver the host cannot run is a failure that says why.
      if ('skip' in h) assert.fail(`${name}: cannot run here: ${h.skip}`);
      const { config, cleanup } = await h.makeConfig(`suite-${process.pid}-${Date.now()}`);
      const started: RunningVM[] = [];
      try {
        await fn(h, config, t, (vm) => (started.push(vm), vm));
      } finally {
        await Promise.all(started.map((vm) => vm.kill()));
        for (const pid of hypervisorPids(config)) process.kill(pid, 'SIGKILL');
        await cleanup();
      }
    };

  test(
    `${name}: boots; console output reaches the log and the console socket; blockStats; shutdown() ends it`,
    { timeout: 90_000 },
    withVM(async (h, config, t, track) => {
      const started = Date.now();
      const vm = track(await h.driver.start(config));
      assert.ok(vm.pid > 0);
      assert.deepEqual(hypervisorPids(config), [vm.pid]);

      await waitFor(
        async () =>
          (await readFile(config.paths.consoleLog, 'utf8').catch(() => '')).includes(h.initMarker),
        h.bootTimeoutMs,
        `${h.initMarker} in ${config.paths.consoleLog}`,
      );
      t.diagnostic(`boot to the first init line: ${Date.now() - started} ms`);

      // The console works both ways: the guest's shell evaluates what we send.
      const console = await attach(config.paths.consoleSocket);
      try {
        console.socket.write('echo ignite-$((6*7))\n');
        await waitFor(
          () => Promise.resolve(console.received().includes('ignite-42')),
          15_000,
          'ignite-42 on the console socket',
        );
      } finally {
        console.socket.destroy();
      }
      await waitFor(
        async () => (await readFile(config.paths.consoleLog, 'utf8')).includes('ignite-42'),
        5_000,
        'ignite-42 in the console log',
      );

      const stats = await vm.blockStats();
      for (const [k, v] of Object.entries(stats)) {
        assert.ok(Number.isInteger(v) && v >= 0, `${k} = ${String(v)}`);
      }
      assert.ok(stats.readBytes > 0 && stats.readOps > 0, 'the guest read its root disk');

      const asked = Date.now();
      await vm.shutdown();
      const exit = await within(vm.exited, h.shutdownTimeoutMs, 'exit after shutdown()');
      t.diagnostic(`shutdown() to exit: ${Date.now() - asked} ms`);
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.deepEqual(hypervisorPids(config), []);
      // Both are safe once the VM is gone.
      await vm.kill();
      await vm.shutdown();
    }),
  );

  test(
    `${name}: kill() ends the hypervisor at once and exited resolves`,
    { timeout: 60_000 },
    withVM(async (h, config, _t, track) => {
      const vm = track(await h.driver.start(config));
      const asked = Date.now();
      await vm.kill();
      const exit = await within(vm.exited, 1_000, 'exited after kill()');
      assert.ok(Date.now() - asked < 10_000, 'kill() took too long');
      assert.ok(exit.code !== null || exit.signal !== null);
      assert.deepEqual(hypervisorPids(config), []);
    }),
  );

  test(
    `${name}: a missing kernel fails with NotFound before anything starts`,
    withVM(async (_h, config) => {
      const bad = {
        ...config,
        kernel: { ...config.kernel, vmlinuxPath: `${config.paths.workDir}/no-such-vmlinux` },
      };
      await assert.rejects(_h.driver.start(bad), (e: unknown) => {
        assert.ok(e instanceof AppError, String(e));
        assert.equal(e.code, 'NotFound');
        assert.match(e.message, new RegExp(`^vm "${config.name}": kernel .*no-such-vmlinux`));
        return true;
      });
      assert.deepEqual(hypervisorPids(config), []);
    }),
  );

  test(
    `${name}: a kernel the hypervisor cannot boot fails with its reason and leaves no process`,
    { timeout: 60_000 },
    withVM(async (h, config) => {
      const junk = `${config.paths.workDir}/junk-vmlinux`;
      await writeFile(junk, Buffer.alloc(64 * 1024, 0x5a));
      const bad = { ...config, kernel: { ...config.kernel, vmlinuxPath: junk } };
      await assert.rejects(h.driver.start(bad), (e: unknown) => {
        assert.ok(e instanceof AppError, String(e));
        assert.match(e.message, new RegExp(`^vm "${config.name}": .*kernel`, 'i'));
        return true;
      });
      assert.deepEqual(hypervisorPids(config), []);
    }),
  );

  test(
    `${name}: bootsKernel takes the kernel the driver boots`,
    withVM(async (h, config) => {
      assert.deepEqual(await h.driver.bootsKernel(config.kernel.vmlinuxPath), { available: true });
    }),
  );

  snapshotCases(name, withVM);
}

/** Live processes whose command line names this VM's control socket: its hypervisor. */
export function hypervisorPids(config: VMConfig): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline.some((a) => a.includes(config.paths.controlSocket))) pids.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}

export async function attach(path: string): Promise<{ socket: Socket; received: () => string }> {
  const socket = connect(path);
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => text };
}

export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
