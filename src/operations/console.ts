import type { Duplex } from 'node:stream';
import type { StoredVM } from '../api/index.js';
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

/** A running VM's console, connected: bytes from it are what the guest prints. */
export interface OpenedConsole {
  vm: StoredVM;
  stream: Duplex;
}

/**
 * Connects to a running VM's console through its supervisor's console socket (what `attach` and
 * the daemon's console WebSocket both use).
 */
export async function openConsole(
  s: Pick<Services, 'client' | 'layout' | 'processes' | 'consoles' | 'runtimeFiles'>,
  query: string,
): Promise<OpenedConsole> {
  const vm = await s.client.vms.find(query);
  if (!isVMRunning(s, vm)) throw failedPrecondition(`${vmLabel(vm)}: is not running`);
  const stream = await s.consoles.connect(vmPaths(s, vm).consoleSocket).catch((err: Error) => {
    throw failedPrecondition(`${vmLabel(vm)}: console not available: ${err.message}`, {
      cause: err,
    });
  });
  return { vm, stream };
}

/** A console opened with what the guest printed just before: `history`, then `stream`. */
export interface ConsoleWithHistory extends OpenedConsole {
  history: Buffer;
}

/**
 * Opens a VM's console and reads the last `historyBytes` of its log, so a viewer that arrives
 * after boot still sees the screen it missed. The socket is connected first and the log read
 * after, so nothing printed in between is lost; bytes both in the log and already received are
 * given once (see `joinAtOverlap`). `stream` is returned paused, holding what came after: the
 * caller resumes it once it listens.
 */
export async function openConsoleWithHistory(
  s: Pick<Services, 'client' | 'layout' | 'processes' | 'consoles' | 'runtimeFiles'>,
  query: string,
  historyBytes: number,
): Promise<ConsoleWithHistory> {
  const opened = await openConsole(s, query);
  const early: Buffer[] = [];
  const collect = (d: Buffer) => early.push(d);
  opened.stream.on('data', collect);
  let tail: string | undefined;
  try {
    tail = await s.runtimeFiles.readConsoleTail(opened.vm.metadata.uid, historyBytes);
  } finally {
    opened.stream.pause();
    opened.stream.removeListener('data', collect);
  }
  const history = joinAtOverlap(Buffer.from(tail ?? '', 'utf8'), Buffer.concat(early));
  return { ...opened, history };
}

/** The most of a log's end compared with the start of live output (what a log read overlaps). */
const MAX_OVERLAP = 16 * 1024;

/**
 * `log` followed by what of `live` it does not already end with: `live` began arriving before
 * `log` was read, so the log's end may repeat the start of `live`. The longest such overlap (up
 * to MAX_OVERLAP) is taken once.
 */
export function joinAtOverlap(log: Buffer, live: Buffer): Buffer {
  for (let k = Math.min(log.length, live.length, MAX_OVERLAP); k > 0; k--) {
    if (log.subarray(log.length - k).equals(live.subarray(0, k)))
      return Buffer.concat([log, live.subarray(k)]);
  }
  return Buffer.concat([log, live]);
}

/**
 * Connects the terminal to a running VM's console until the VM stops or the user detaches with
 * Ctrl-P Ctrl-Q. Returns when detached or the console closes.
 */
export async function attachConsole(
  s: Pick<Services, 'client' | 'layout' | 'processes' | 'consoles' | 'runtimeFiles'>,
  query: string,
  io: {
    stdin: NodeJS.ReadableStream & { setRawMode?: (raw: boolean) => unknown; isTTY?: boolean };
    stdout: NodeJS.WritableStream;
  },
): Promise<void> {
  const { stream: sock } = await openConsole(s, query);
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
