import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import type { DaemonClient } from './daemon-client.js';

/**
 * A VM's serial console in xterm.js over the daemon's console WebSocket: what the guest printed
 * (the daemon sends the log's tail first, then live output) goes to the terminal, what the user
 * types goes to the guest. One console is open at a time.
 */
export class ConsoleView {
  private term: Terminal | undefined;
  private socket: WebSocket | undefined;
  private resize: ResizeObserver | undefined;

  constructor(
    private readonly client: DaemonClient,
    private readonly panel: HTMLElement,
    private readonly title: HTMLElement,
    private readonly screen: HTMLElement,
    private readonly status: HTMLElement,
  ) {}

  /** The name of the VM whose console is open, if any. */
  get vm(): string | undefined {
    return this.panel.hidden ? undefined : this.panel.dataset['vm'];
  }

  open(name: string): void {
    this.close();
    this.panel.hidden = false;
    this.panel.dataset['vm'] = name;
    this.title.textContent = name;
    this.setStatus('connecting');

    const term = new Terminal({
      convertEol: false,
      cursorBlink: true,
      scrollback: 5000,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace',
      fontSize: 14,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(this.screen);
    fit.fit();
    this.resize = new ResizeObserver(() => fit.fit());
    this.resize.observe(this.screen);
    this.term = term;

    let socket: WebSocket;
    try {
      socket = this.client.console(name);
    } catch (err) {
      this.setStatus(`cannot connect: ${(err as Error).message}`);
      return;
    }
    this.socket = socket;
    const encoder = new TextEncoder();
    socket.onopen = () => {
      this.setStatus('connected');
      term.focus();
    };
    socket.onmessage = (e: MessageEvent<ArrayBuffer | string>) => {
      term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
    };
    socket.onclose = (e) => {
      if (this.socket !== socket) return;
      this.setStatus(`closed${e.reason === '' ? '' : `: ${e.reason}`}`);
      term.write('\r\n\x1b[2m[console closed]\x1b[0m\r\n');
    };
    const send = (data: string | Uint8Array) => {
      if (socket.readyState === WebSocket.OPEN)
        socket.send(typeof data === 'string' ? encoder.encode(data) : data);
    };
    term.onData((d) => send(d));
    // Bytes that are not UTF-8 text (some key sequences) come as a binary string.
    term.onBinary((d) => send(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff)));
  }

  close(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.close(1000);
    this.resize?.disconnect();
    this.resize = undefined;
    this.term?.dispose();
    this.term = undefined;
    this.screen.replaceChildren();
    this.panel.hidden = true;
    delete this.panel.dataset['vm'];
  }

  private setStatus(text: string): void {
    this.status.textContent = text;
    this.panel.dataset['status'] = text.split(':')[0] ?? text;
  }
}
