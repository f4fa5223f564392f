import { AppError, toAppError, unavailable } from '../../src/errors.js';
import type { RequestServer, RequestSockets } from '../../src/system/request-sockets.js';

/** RequestSockets in memory: a request reaches the handler served at its path, through JSON. */
export class FakeRequestSockets implements RequestSockets {
  readonly served = new Map<string, (request: unknown) => Promise<unknown>>();
  readonly sent: { path: string; request: unknown; timeoutMs: number }[] = [];

  serve(path: string, handle: (request: unknown) => Promise<unknown>): Promise<RequestServer> {
    this.served.set(path, handle);
    return Promise.resolve({
      close: () => {
        if (this.served.get(path) === handle) this.served.delete(path);
        return Promise.resolve();
      },
    });
  }

  async request(path: string, request: unknown, timeoutMs: number): Promise<unknown> {
    this.sent.push({ path, request, timeoutMs });
    const handle = this.served.get(path);
    if (handle === undefined) throw unavailable(`${path}: connect ENOENT`);
    try {
      return JSON.parse(
        JSON.stringify(await handle(JSON.parse(JSON.stringify(request)))),
      ) as unknown;
    } catch (err) {
      const e = toAppError(err);
      throw new AppError(e.code, e.message, e.hint !== undefined ? { hint: e.hint } : {});
    }
  }
}
