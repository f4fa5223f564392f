import { failedPrecondition, notFound } from '../errors.js';
import type { Services } from './services.js';
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
  s: Pick<Services, 'client' | 'runtimeFiles'>,
  query: string,
  out: NodeJS.WritableStream,
  options: LogsOptions = {},
): Promise<void> {
  const vm = await s.client.vms.find(query);
  const copied = await s.runtimeFiles.copyLog(
    vm.metadata.uid,
    options.spawn ? 'spawn' : 'console',
    out,
  );
  if (!copied)
    throw notFound(`${vmLabel(vm)}: no ${options.spawn ? 'supervisor' : 'console'} log yet`, {
      hint: 'the VM has not been started',
    });
}

/** Ctrl-P Ctrl-Q, Docker's detach sequence. */
const DETACH = Buffer.from([0x10, 0x11]);

/**
 * Connects the terminal to a running VM's console until the VM stops or the user detaches with
 * Ctrl-P Ctrl-Q. Returns when detached or the console closes.
 */
export async function attachConsole(
  s: Pick<Services, 'client' | 'layout' | 'processes' | 'consoles'>,
  query: string,
  io: {
    stdin: NodeJS.ReadableStream & { setRawMode?: (raw: boolean) => unknown; isTTY?: boolean };
    stdout: NodeJS.WritableStream;
  },
): Promise<void> {
  const vm = await s.client.vms.find(query);
  if (!isVMRunning(s, vm)) throw failedPrecondition(`${vmLabel(vm)}: is not running`);
  const sock = await s.consoles.connect(vmPaths(s, vm).consoleSocket).catch((err: Error) => {
    throw failedPrecondition(`${vmLabel(vm)}: console not available: ${err.message}`, {
      cause: err,
    });
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
