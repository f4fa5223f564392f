import type { VMView } from './daemon-client.js';
import { formatBytes, formatPercent, formatUptime } from './format.js';
import type { VMUsage } from './prometheus-text.js';

export type VMAction = 'console' | 'start' | 'stop' | 'remove';

const ACTIONS: { action: VMAction; label: string; when: (running: boolean) => boolean }[] = [
  { action: 'console', label: 'Console', when: (running) => running },
  { action: 'start', label: 'Start', when: (running) => !running },
  { action: 'stop', label: 'Stop', when: (running) => running },
  { action: 'remove', label: 'Remove', when: () => true },
];

const CELLS = ['name', 'state', 'address', 'uptime', 'cpu', 'memory'] as const;
type Cell = (typeof CELLS)[number];

/**
 * The VM list: one row per VM, kept by UID and updated in place (a focused button stays
 * focused while the watch changes its row). Rows and cells carry `data-testid`s, and each row its
 * VM's name as `data-vm`.
 */
export class VMTable {
  private readonly rows = new Map<string, HTMLTableRowElement>();
  /** Actions under way, by UID: their buttons stay disabled until the call returns. */
  readonly busy = new Set<string>();

  constructor(
    private readonly body: HTMLTableSectionElement,
    private readonly empty: HTMLElement,
    private readonly onAction: (vm: VMView, action: VMAction) => void,
  ) {}

  render(vms: readonly VMView[], usage: ReadonlyMap<string, VMUsage>, nowMs: number): void {
    const sorted = [...vms].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const seen = new Set<string>();
    let previous: HTMLTableRowElement | undefined;
    for (const vm of sorted) {
      const uid = vm.metadata.uid;
      seen.add(uid);
      const row = this.rows.get(uid) ?? this.newRow(uid);
      this.fill(row, vm, usage.get(uid), nowMs);
      const expected = previous === undefined ? this.body.firstElementChild : previous.nextSibling;
      if (expected !== row) this.body.insertBefore(row, expected);
      previous = row;
    }
    for (const [uid, row] of this.rows) {
      if (seen.has(uid)) continue;
      row.remove();
      this.rows.delete(uid);
    }
    this.empty.hidden = sorted.length > 0;
  }

  private newRow(uid: string): HTMLTableRowElement {
    const row = document.createElement('tr');
    row.dataset['testid'] = 'vm-row';
    row.dataset['uid'] = uid;
    for (const cell of CELLS) {
      const td = row.insertCell();
      td.dataset['testid'] = `vm-${cell}`;
      td.className = cell;
    }
    const actions = row.insertCell();
    actions.className = 'actions';
    for (const a of ACTIONS) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = a.label;
      b.dataset['testid'] = `vm-${a.action}`;
      b.dataset['action'] = a.action;
      actions.append(b);
    }
    this.rows.set(uid, row);
    return row;
  }

  private fill(row: HTMLTableRowElement, vm: VMView, usage: VMUsage | undefined, nowMs: number) {
    const state = vm.status?.state ?? 'Created';
    const running = state === 'Running';
    row.dataset['vm'] = vm.metadata.name;
    row.dataset['state'] = state;
    const text: Record<Cell, string> = {
      name: vm.metadata.name,
      state: restarts(state, vm.status?.restartCount),
      address: running ? (vm.status?.ipAddresses ?? []).join(', ') : '',
      uptime: running ? formatUptime(vm.status?.startTime, nowMs) : '',
      cpu: running ? formatPercent(usage?.cpuPercent) : '',
      memory: running ? formatBytes(usage?.memoryBytes) : '',
    };
    for (const cell of CELLS) {
      const td = row.querySelector<HTMLTableCellElement>(`td.${cell}`);
      if (td !== null && td.textContent !== text[cell]) td.textContent = text[cell];
    }
    const busy = this.busy.has(vm.metadata.uid);
    for (const b of row.querySelectorAll<HTMLButtonElement>('button[data-action]')) {
      const a = ACTIONS.find((x) => x.action === b.dataset['action']);
      b.hidden = a === undefined || !a.when(running);
      b.disabled = busy;
      b.onclick = a === undefined ? null : () => this.onAction(vm, a.action);
    }
  }
}

function restarts(state: string, count: number | undefined): string {
  return count === undefined || count === 0 ? state : `${state} (restarted ${count}×)`;
}
