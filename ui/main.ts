import { ConsoleView } from './console-view.js';
import {
  API,
  APIError,
  AuthRequired,
  DaemonClient,
  type VMList,
  type VMView,
  type WatchEvent,
  WatchUnsupported,
} from './daemon-client.js';
import { usageFrom, type CPUSample, type VMUsage } from './prometheus-text.js';
import { maySendToken, TokenStore } from './token.js';
import { VMTable, type VMAction } from './vm-table.js';

/** How often the running VMs' metrics are read, and the list's uptimes redrawn. */
const METRICS_EVERY_MS = 3000;
const TICK_MS = 1000;
const RECONNECT_MS = 2000;

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
}

const tokens = new TokenStore(sessionStorage, maySendToken(location));
const client = new DaemonClient(tokens);
const vms = new Map<string, VMView>();
const usage = new Map<string, VMUsage>();
const cpuSamples = new Map<string, CPUSample>();

const errorBanner = byId('error');
const watchStatus = byId('watch-status');
const table = new VMTable(byId<HTMLTableSectionElement>('vm-rows'), byId('vm-empty'), (vm, a) => {
  void act(vm, a);
});
const consoleView = new ConsoleView(
  client,
  byId('console'),
  byId('console-title'),
  byId('console-screen'),
  byId('console-status'),
);
byId('console-close').addEventListener('click', () => consoleView.close());
byId('error-close').addEventListener('click', () => (errorBanner.hidden = true));

const render = () => table.render([...vms.values()], usage, Date.now());

function showError(message: string): void {
  byId('error-text').textContent = message;
  errorBanner.hidden = false;
}

function setWatchStatus(text: string): void {
  watchStatus.textContent = text;
  watchStatus.dataset['state'] = text.split(':')[0] ?? text;
}

/** Waits for the user to give a token; a page that may not send one says why and waits forever. */
function askForToken(reason: string): Promise<void> {
  const form = byId<HTMLFormElement>('token-form');
  const insecure = byId('token-insecure');
  setWatchStatus('token required');
  if (!tokens.allowed) {
    insecure.hidden = false;
    return new Promise(() => undefined);
  }
  tokens.clear();
  byId('token-reason').textContent = reason;
  form.hidden = false;
  const input = byId<HTMLInputElement>('token-input');
  input.focus();
  return new Promise((resolve) => {
    form.onsubmit = (e) => {
      e.preventDefault();
      if (input.value.trim() === '') return;
      tokens.set(input.value);
      input.value = '';
      form.hidden = true;
      resolve();
    };
  });
}

function apply(e: WatchEvent<VMView>): void {
  const uid = e.object.metadata.uid;
  if (e.type === 'DELETED') {
    vms.delete(uid);
    usage.delete(uid);
    cpuSamples.delete(uid);
    if (consoleView.vm === e.object.metadata.name) consoleView.close();
  } else vms.set(uid, e.object);
  render();
}

/**
 * Lists the VMs, then watches from the list's version; starts over whenever the watch ends. A
 * daemon that cannot watch is listed again every few seconds instead.
 */
async function syncVMs(): Promise<never> {
  for (;;) {
    try {
      const list = await client.json<VMList>('GET', `${API}/vms`);
      vms.clear();
      for (const vm of list.items) vms.set(vm.metadata.uid, vm);
      render();
      const rv = list.metadata?.resourceVersion;
      const from = rv === undefined ? '' : `&resourceVersion=${encodeURIComponent(rv)}`;
      setWatchStatus('live');
      await client.watch(`${API}/vms?watch=true${from}`, apply);
      setWatchStatus('reconnecting');
    } catch (err) {
      if (err instanceof AuthRequired) {
        await askForToken(err.message);
        continue;
      }
      if (err instanceof WatchUnsupported) setWatchStatus('polling');
      else setWatchStatus(`disconnected: ${(err as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, RECONNECT_MS));
  }
}

/** Reads the metrics of every running VM; a VM without them shows blank usage. */
async function pollMetrics(): Promise<void> {
  for (const vm of [...vms.values()]) {
    const uid = vm.metadata.uid;
    if (vm.status?.state !== 'Running') {
      usage.delete(uid);
      cpuSamples.delete(uid);
      continue;
    }
    try {
      const text = await client.text(`${API}/vms/${encodeURIComponent(vm.metadata.name)}/metrics`);
      const next = usageFrom(text, Date.now(), cpuSamples.get(uid));
      usage.set(uid, next.usage);
      if (next.sample === undefined) cpuSamples.delete(uid);
      else cpuSamples.set(uid, next.sample);
    } catch {
      usage.delete(uid);
      cpuSamples.delete(uid);
    }
  }
  render();
}

async function act(vm: VMView, action: VMAction): Promise<void> {
  const name = vm.metadata.name;
  const path = `${API}/vms/${encodeURIComponent(name)}`;
  if (action === 'console') {
    consoleView.open(name);
    return;
  }
  const running = vm.status?.state === 'Running';
  if (
    action === 'remove' &&
    !confirm(`Remove VM "${name}"${running ? ' (it is running: it will be stopped)' : ''}?`)
  )
    return;
  table.busy.add(vm.metadata.uid);
  render();
  try {
    if (action === 'remove') await client.json('DELETE', running ? `${path}?force=true` : path);
    else await client.json('POST', `${path}/${action}`);
  } catch (err) {
    if (err instanceof AuthRequired) void askForToken(err.message);
    else showError(`${action} ${name}: ${err instanceof APIError ? err.message : String(err)}`);
  } finally {
    table.busy.delete(vm.metadata.uid);
    render();
  }
}

void syncVMs();
let polling = false;
setInterval(() => {
  if (polling) return;
  polling = true;
  void pollMetrics().finally(() => (polling = false));
}, METRICS_EVERY_MS);
setInterval(render, TICK_MS);
