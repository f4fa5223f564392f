import { chmod, chown, mkdir, readFile, unlink } from 'node:fs/promises';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { failedPrecondition, toAppError } from '../errors.js';
import type { ListenAddress } from './listen-address.js';

/** The group whose members may use the daemon's socket, as docker's group does for dockerd. */
export const SOCKET_GROUP = 'ignite';

/**
 * Listens on a unix socket, mode 0660, owned by group `ignite` when that group exists (else root
 * only). A socket file left by a daemon that died is replaced; one that answers means another
 * daemon serves it, and this one refuses to start.
 */
export async function listenUnix(server: Server, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  if (await answers(path))
    throw failedPrecondition(`ignited: another daemon already serves unix://${path}`, {
      hint: 'stop it first, or give this one another --listen',
    });
  await unlink(path).catch(() => undefined);
  await listenOn(server, { path }, `unix://${path}`);
  await chmod(path, 0o660);
  const gid = await groupID(SOCKET_GROUP);
  if (gid !== undefined) await chown(path, 0, gid).catch(() => undefined);
}

export async function listenTCP(server: Server, host: string, port: number): Promise<void> {
  await listenOn(server, { host, port }, `tcp://${host}:${port}`);
}

export function listen(server: Server, addr: ListenAddress): Promise<void> {
  return addr.kind === 'unix'
    ? listenUnix(server, addr.path)
    : listenTCP(server, addr.host, addr.port);
}

function listenOn(
  server: Server,
  where: { path: string } | { host: string; port: number },
  url: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? failedPrecondition(`ignited: ${url}: address already in use`, { cause: err })
          : toAppError(err, `ignited: ${url}`),
      );
    };
    server.once('error', onError);
    server.listen(where, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Whether something accepts connections on the unix socket at `path`. */
export function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ path });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** The numeric ID of a group by name, from /etc/group; undefined when there is none. */
async function groupID(name: string): Promise<number | undefined> {
  const text = await readFile('/etc/group', 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}
