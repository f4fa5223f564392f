import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { connect } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { failedPrecondition, notFound } from '../errors.js';
import type { OperationDeps } from './deps.js';
import { vmLabel, vmPaths } from './vm-paths.js';
import { isVMRunning } from './vm-state.js';

export interface LogsOptions {
  /** The supervisor's own log instead of the guest console. */
  spawn?: boolean;
}

/**
 * Copies a VM's console log (what the guest printed since it was created, up to twice its
 * `logMaxSize`: `console.log.1`, then `console.log`), or its supervisor's log, to `out`. Works
 * for stopped VMs too: the log outlives the run.
 */
export async function streamLogs(
  deps: OperationDeps,
  query: string,
  out: NodeJS.WritableStream,
  options: LogsOptions = {},
): Promise<void> {
  const vm = await deps.client.vms.find(query);
  const p = vmPaths(deps, vm);
  const file = options.spawn ? p.spawnLog : p.consoleLog;
  try {
    await access(file);
  } catch {
    throw notFound(`${vmLabel(vm)}: no ${options.spawn ? 'supervisor' : 'console'} log yet`, {
      hint: 'the VM has not been started',
    });
  }
  // The console log rotates: the older generation first, so the output reads in order.
  if (!options.spawn)
    await pipeline(createReadStream(`${file}.1`), out, { end: false }).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    });
  await pipeline(createReadStream(file), out, { end: false });
}

/** Ctrl-P Ctrl-Q, Docker's detach sequence. */
const DETACH = Buffer.from([0x10, 0x11]);

/**
 * Connects the terminal to a running VM's console until the VM stops or the user detaches with
 * Ctrl-P Ctrl-Q. Returns when detached or the console closes.
 */
export async function attachConsole(
  deps: OperationDeps,
  query: string,
  io: {
    stdin: NodeJS.ReadableStream & { setRawMode?: (raw: boolean) => unknown; isTTY?: boolean };
    stdout: NodeJS.WritableStream;
  },
): Promise<void> {
  const vm = await deps.client.vms.find(query);
  if (!isVMRunning(vm)) throw failedPrecondition(`${vmLabel(vm)}: is not running`);
  const sock = connect(vmPaths(deps, vm).consoleSocket);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', (err) =>
      reject(
        failedPrecondition(`${vmLabel(vm)}: console not available: ${err.message}`, { cause: err }),
      ),
    );
  });
  const raw = io.stdin.isTTY === true && typeof io.stdin.setRawMode === 'function';
  if (raw) io.stdin.setRawMode?.(true);
  let prev = -1;
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      for (const byte of chunk) {
        if (prev === DETACH[0] && byte === DETACH[1]) {
          finish();
          return;
        }
        prev = byte;
      }
      sock.write(chunk);
    };
    const finish = () => {
      io.stdin.removeListener('data', onData);
      io.stdin.pause();
      sock.destroy();
      resolve();
    };
    io.stdin.on('data', onData);
    io.stdin.resume();
    sock.on('data', (d: Buffer) => io.stdout.write(d));
    sock.on('close', finish);
    sock.on('error', finish);
  });
  if (raw) io.stdin.setRawMode?.(false);
}
