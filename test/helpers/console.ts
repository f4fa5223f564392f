import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';

/** Types a line on a running VM's console (its attach socket), as a user at the console would. */
export async function typeOnConsole(socketPath: string, line: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = connect(socketPath);
    s.once('error', reject);
    s.once('connect', () => {
      s.write(`${line}\n`, () => {
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 300);
      });
    });
  });
}

/** Waits until `file` contains `text` (or matches it); returns the file's content. */
export async function waitForText(
  file: string,
  text: string | RegExp,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const content = await readFile(file, 'utf8').catch(() => '');
    if (typeof text === 'string' ? content.includes(text) : text.test(content)) return content;
    if (Date.now() > deadline)
      throw new Error(
        `${file}: no ${String(text)} within ${timeoutMs} ms; it ends with:\n${content.slice(-1500)}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What the project's busybox image prints on its console once its init runs. */
export const BUSYBOX_INIT = 'ignite-busybox: init started';

/** Takes the UID `ignite run` printed last and waits for that VM's busybox init; returns the UID. */
export async function waitForBusyboxInit(
  dataDir: string,
  runStdout: string,
  timeoutMs = 120_000,
): Promise<string> {
  const uid = runStdout.trim().split('\n').pop() ?? '';
  await waitForText(join(dataDir, 'vm', uid, 'console.log'), BUSYBOX_INIT, timeoutMs);
  return uid;
}
