/**
 * One JSON request and one JSON answer over a unix socket: how `ignite` asks a VM's supervisor
 * to act on the hypervisor it owns (save its state, snapshot it). The socket file is mode 0600
 * in the VM's directory (0700), so only its owner (root, or the user who started the VM) and
 * root can connect.
 */
export interface RequestServer {
  /** Stops serving and removes the socket file. */
  close(): Promise<void>;
}

export interface RequestSockets {
  /**
   * Serves `handle` on `path`: each connection sends one request and gets one answer, the value
   * `handle` resolves to, or the AppError it throws (code, message and hint) raised again on the
   * asking side. A stale socket file at `path` is replaced.
   */
  serve(path: string, handle: (request: unknown) => Promise<unknown>): Promise<RequestServer>;
  /**
   * Sends `request` to the server on `path` and resolves to its answer. Fails Unavailable when
   * nothing serves there or no answer comes within `timeoutMs`.
   */
  request(path: string, request: unknown, timeoutMs: number): Promise<unknown>;
}
