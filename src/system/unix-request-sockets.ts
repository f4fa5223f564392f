import { chmod, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { AppError, ERROR_CODES, toAppError, unavailable, type ErrorCode } from '../errors.js';
import type { RequestServer, RequestSockets } from './request-sockets.js';

/** A request or an answer: one line of JSON. Requests are small; a longer line is refused. */
const MAX_LINE = 64 * 1024;

type Answer =
  { ok: true; result: unknown } | { ok: false; code: ErrorCode; message: string; hint?: string };

/** RequestSockets over unix sockets, one JSON line each way. */
export const unixRequestSockets: RequestSockets = {
  async serve(path, handle) {
    await rm(path, { force: true });
    const server = createServer((socket) => {
      void readLine(socket).then(
        async (line) => {
          const answer = await answerOf(handle, line);
          socket.end(`${JSON.stringify(answer)}\n`);
        },
        () => socket.destroy(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Created with the umask's permissions, narrowed at once; the directory keeps others out
    // meanwhile.
    await chmod(path, 0o600);
    return serverHandle(server, path);
  },

  async request(path, request, timeoutMs) {
    const socket = connect(path);
    const timer = setTimeout(
      () => socket.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.once('connect', () => {
          socket.off('error', reject);
          resolve();
        });
      });
      socket.write(`${JSON.stringify(request)}\n`);
      const answer = JSON.parse(await readLine(socket)) as Answer;
      if (answer.ok) return answer.result;
      const code = ERROR_CODES.includes(answer.code) ? answer.code : 'Internal';
      throw new AppError(
        code,
        answer.message,
        answer.hint !== undefined ? { hint: answer.hint } : {},
      );
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw unavailable(`${path}: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
      socket.destroy();
    }
  },
};

async function answerOf(
  handle: (request: unknown) => Promise<unknown>,
  line: string,
): Promise<Answer> {
  try {
    return { ok: true, result: await handle(JSON.parse(line)) };
  } catch (err) {
    const e = toAppError(err);
    return {
      ok: false,
      code: e.code,
      message: e.message,
      ...(e.hint !== undefined ? { hint: e.hint } : {}),
    };
  }
}

/** The first line the peer sends, without its newline. */
function readLine(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        done();
        resolve(buf.slice(0, nl));
      } else if (buf.length > MAX_LINE) {
        done();
        reject(new Error('request too long'));
      }
    };
    const onEnd = () => {
      done();
      reject(new Error('connection closed before a full line'));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const done = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
  });
}

function serverHandle(server: Server, path: string): RequestServer {
  let closing: Promise<void> | undefined;
  return {
    close: () =>
      (closing ??= new Promise<void>((resolve) => server.close(() => resolve())).finally(() =>
        rm(path, { force: true }),
      )),
  };
}
