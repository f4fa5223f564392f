import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { backgroundIgnite, type BackgroundCli } from '../helpers/background-cli.js';
import { ignite } from '../helpers/cli.js';
import { BUSYBOX_INIT, waitForBusyboxInit } from '../helpers/console.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { vmTestEnv, type VMTestEnv } from '../helpers/vm-env.js';

/** Debian's chromium, the browser the console is tested in (scripts/apt-packages.txt). */
const CHROMIUM = '/usr/bin/chromium';

let env: VMTestEnv | undefined;
let daemon: TestDaemon | undefined;
let dashboard: BackgroundCli | undefined;
let browser: Browser | undefined;

after(async () => {
  await browser?.close();
  await dashboard?.[Symbol.asyncDispose]();
  await daemon?.stop();
  await env?.[Symbol.asyncDispose]();
});

/** What the test reads of an element (the project is typed without the DOM's types). */
interface Shown {
  textContent: string | null;
}

/** The text of the first element `selector` finds. */
function textOf(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (e: Shown) => e.textContent ?? '');
}

/** The text on the terminal's screen, one line per row (xterm.js draws rows as elements). */
async function screen(page: Page): Promise<string> {
  const rows = await page.$$eval('[data-testid=console-screen] .xterm-rows > div', (es: Shown[]) =>
    es.map((e) => e.textContent ?? ''),
  );
  return rows.map((r) => r.replace(/\u00a0/g, ' ')).join('\n');
}

async function waitForScreen(page: Page, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = await screen(page).catch(() => '');
    if (last.includes(text)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`the console never showed ${JSON.stringify(text)}; it shows:\n${last}`);
}

// A real boot under TCG, seen in a real browser: the daemon on a socket of its own, reached
// through `ignite dashboard` as a user on the host would.
test(
  'web console: the list shows a running VM, its console shows init and runs a command, Stop stops it',
  { timeout: 600_000 },
  async () => {
    env = await vmTestEnv(['busybox', 'kernel']);
    const name = `web-${process.pid}`;
    daemon = await startTestDaemon(env.env, { dir: env.dataDir });
    const run = await ignite(
      ['run', `${env.registry}/ignite-busybox`, '--name', name, '--net', 'none'],
      {
        env: env.env,
        timeoutMs: 300_000,
      },
    );
    assert.equal(run.code, 0, run.stderr);
    await waitForBusyboxInit(env.dataDir, run.stdout);

    dashboard = backgroundIgnite(['dashboard', '--host', daemon.host], env.env);
    const at = await dashboard.waitFor(/Forwarding http:\/\/127\.0\.0\.1:\d+\//, 30_000);
    const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(dashboard.log().slice(0, at))?.[0] ?? '';

    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      // As root, chromium runs only without its sandbox; the page is the test's own.
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(url);

    const row = `tr[data-testid=vm-row][data-vm="${name}"]`;
    await page.waitForSelector(`${row}[data-state=Running]`, { timeout: 30_000 });
    assert.equal(await textOf(page, `${row} [data-testid=vm-state]`), 'Running');
    assert.match(await textOf(page, `${row} [data-testid=vm-uptime]`), /^\d+[smhd]/);
    // Memory comes from the VM's metrics, read every few seconds.
    const memory = `${row} [data-testid=vm-memory]`;
    for (let i = 0; i < 120 && !(await textOf(page, memory)).endsWith('iB'); i++)
      await new Promise((r) => setTimeout(r, 250));
    assert.match(await textOf(page, memory), /^\d+(\.\d)? [KMG]iB$/);

    await page.click(`${row} [data-testid=vm-console]`);
    await page.waitForSelector('[data-testid=console][data-status=connected]', { timeout: 30_000 });
    await waitForScreen(page, BUSYBOX_INIT, 30_000);

    const marker = randomBytes(4).toString('hex');
    await page.click('[data-testid=console-screen]');
    await page.keyboard.type(`echo web-$((6*7))-${marker}`);
    await page.keyboard.press('Enter');
    // The shell's answer, not the typed line: only the guest computes 42.
    await waitForScreen(page, `web-42-${marker}`, 60_000);

    await page.click(`${row} [data-testid=vm-stop]`);
    await page.waitForSelector(`${row}[data-state=Stopped]`, { timeout: 120_000 });
    assert.equal(await textOf(page, `${row} [data-testid=vm-state]`), 'Stopped');
    await page.waitForSelector('[data-testid=console][data-status=closed]', { timeout: 30_000 });
    const ps = await ignite(['ps', '-a'], { env: env.env });
    assert.match(ps.stdout, new RegExp(`\\sStopped\\s.*\\s${name}$`, 'm'), ps.stdout);
    assert.deepEqual(pageErrors, []);
  },
);
