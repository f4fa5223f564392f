import { readFile, rm, stat } from 'node:fs/promises';
import type { Server } from 'node:http';
import { failedPrecondition, invalidArgument, toAppError } from '../errors.js';
import { localEngine } from '../operations/local-engine.js';
import { ChangeFeed } from '../operations/change-feed.js';
import { runManifestDir } from '../operations/manifest-dir.js';
import type { ManifestTrust } from '../operations/manifest-trust.js';
import { runFleetAgent } from '../operations/fleet-agent.js';
import type { FleetHostOptions } from '../operations/fleet-host.js';
import type { Services } from '../operations/services.js';
import { isVMRunning, refreshVMState } from '../operations/vm-state.js';
import { processStartTime } from '../system/linux-processes.js';
import { readBuildInfo, readUIFile } from '../system/packaging.js';
import { createAPIServer } from './api-server.js';
import { VMSockets } from './vm-sockets.js';
import type { DaemonContext } from './daemon-context.js';
import { acquirePidLock } from '../system/pid-lock.js';
import { STATUS_OF_CODE } from './http-error.js';
import { checkTCPSecurity, type ListenAddress } from './listen-address.js';
import { listen } from './listeners.js';
import { keepVMsRunning } from '../operations/keep-vms-running.js';
import { Router } from './router.js';
import { artifactRoutes } from './routes/artifacts.js';
import { systemRoutes } from './routes/system.js';
import { eventRoutes } from './routes/watch.js';
import { snapshotRoutes } from './routes/snapshots.js';
import { vmRoutes } from './routes/vms.js';
import { UIFiles } from './ui-files.js';

export interface DaemonOptions {
  listen: ListenAddress[];
  tlsCert?: string;
  tlsKey?: string;
  tokenFile?: string;
  insecure: boolean;
  trust: ManifestTrust;
  startTimeoutMs: number;
  /** Make the host's VMs match the manifests in this directory, as gitops does a branch. */
  manifestDir?: string;
  /** Join the store's fleet as this host: register it, hold its lease, run its VMs. */
  fleetHost?: FleetHostOptions;
}

/** A running daemon: where it listens, and how to stop it (VMs keep running). */
export interface RunningDaemon {
  urls: string[];
  close(): Promise<void>;
}

/**
 * Starts ignited: takes the data directory's daemon lock, adopts the VMs that already run (their
 * supervisors are in sessions of their own, so they outlive any daemon), and serves the API on
 * every address. Closing stops serving; it never stops a VM.
 */
export async function startDaemon(s: Services, o: DaemonOptions): Promise<RunningDaemon> {
  const tcp = o.listen.filter((a): a is ListenAddress & { kind: 'tcp' } => a.kind === 'tcp');
  const useTLS = tcp.map((a) => checkTCPSecurity(a, o)).some(Boolean);
  const tls =
    useTLS && o.tlsCert !== undefined && o.tlsKey !== undefined
      ? { cert: await readFile(o.tlsCert), key: await readFile(o.tlsKey) }
      : undefined;
  const token = o.tokenFile !== undefined ? await readToken(o.tokenFile) : undefined;

  const startTime = processStartTime(s.host.pid);
  const release = await acquirePidLock(
    s.layout.daemonPidFile,
    s.processes,
    { pid: s.host.pid, ...(startTime !== undefined ? { startTime } : {}) },
    (pid) =>
      failedPrecondition(
        `ignited: another daemon (pid ${pid}) already manages this data directory`,
        {
          hint: 'stop it first, or give this one another --data-dir',
        },
      ),
  );
  const servers: Server[] = [];
  let feed: ChangeFeed | undefined;
  // Only sockets this daemon made are removed when it closes, never another daemon's.
  const listening: ListenAddress[] = [];
  const ui = new UIFiles((name) => readUIFile(name));
  const sockets = new VMSockets(s, { statusOf: (e) => STATUS_OF_CODE[e.code] });
  try {
    feed = await ChangeFeed.open(s, {
      onError: (err) =>
        s.logger.warn({ err }, `ignited: watching the store: ${toAppError(err).message}`),
    });
    const d: DaemonContext = { s, trust: o.trust, startTimeoutMs: o.startTimeoutMs, feed };
    const router = new Router();
    vmRoutes(router, d);
    artifactRoutes(router, d);
    snapshotRoutes(router, d);
    systemRoutes(router, d);
    eventRoutes(router, d);
    await adopt(s, o.fleetHost?.name);
    // TCP first: a client (or a test) that sees the unix socket answer may use TCP at once.
    const ordered = [...tcp, ...o.listen.filter((a) => a.kind !== 'tcp')];
    for (const addr of ordered) {
      const trusted = addr.kind === 'unix';
      const server = createAPIServer({
        router,
        logger: s.logger,
        trusted,
        publicFiles: (req, res) => ui.serve(req, res),
        upgrade: (req, socket, head) => sockets.upgrade(req, socket, head),
        ...(addr.kind === 'tcp' && tls ? { tls } : {}),
        ...(addr.kind === 'tcp' && token !== undefined ? { token } : {}),
      });
      servers.push(server);
      await listen(server, addr);
      listening.push(addr);
      s.logger.info({ listen: addr.url }, `ignited: serving the API on ${addr.url}`);
    }
  } catch (err) {
    sockets.close();
    await closeServers(servers, listening);
    feed?.close();
    await release();
    throw err;
  }
  // Loops that run while the daemon does; closing aborts them and waits for the VM in hand.
  const abort = new AbortController();
  const loops: Promise<void>[] = [
    hostLoop(s, o, abort.signal).catch((err: unknown) => {
      s.logger.error({ err }, `ignited: restarts stopped: ${toAppError(err).message}`);
    }),
  ];
  if (o.manifestDir !== undefined) {
    const dir = o.manifestDir;
    loops.push(
      runManifestDir(
        { ...s, engine: localEngine(s) },
        {
          dir,
          signal: abort.signal,
          trust: o.trust,
          startTimeoutMs: o.startTimeoutMs,
        },
      ).catch((err: unknown) => {
        s.logger.error(
          { err, dir },
          `ignited: manifest directory ${dir}: ${toAppError(err).message}`,
        );
      }),
    );
  }
  let closing: Promise<void> | undefined;
  return {
    urls: o.listen.map((a) => a.url),
    close: () =>
      (closing ??= (async () => {
        abort.abort();
        sockets.close();
        await Promise.all(loops);
        await closeServers(servers, listening);
        feed?.close();
        await release();
      })()),
  };
}

/**
 * What keeps this host's VMs running: the restart loop, or on a fleet host its agent, which runs
 * that loop for the VMs placed here once its lease is held and its stale copies are gone.
 */
function hostLoop(s: Services, o: DaemonOptions, signal: AbortSignal): Promise<void> {
  const fleet = s.fleet;
  if (o.fleetHost === undefined || fleet === undefined)
    return keepVMsRunning(s, signal, { startTimeoutMs: o.startTimeoutMs });
  const agent = {
    ...o.fleetHost,
    version: readBuildInfo().version,
    startTimeoutMs: o.startTimeoutMs,
  };
  return runFleetAgent({ ...s, fleet }, agent, signal);
}

/**
 * Brings the stored states in line with what runs: VMs whose supervisor died are Stopped. A fleet
 * host looks only at the VMs placed on it: the others' supervisors run elsewhere.
 */
async function adopt(s: Services, hostName: string | undefined): Promise<void> {
  const all = await s.client.vms.list();
  const vms = hostName === undefined ? all : all.filter((vm) => vm.status.host === hostName);
  let running = 0;
  for (const vm of vms) {
    try {
      if (isVMRunning(s, await refreshVMState(s, vm))) running++;
    } catch (err) {
      s.logger.warn({ err, uid: vm.metadata.uid }, `ignited: ${toAppError(err).message}`);
    }
  }
  s.logger.info(
    { vms: vms.length, running },
    `ignited: found ${running} running VMs of ${vms.length}`,
  );
}

async function closeServers(servers: Server[], addrs: ListenAddress[]): Promise<void> {
  await Promise.all(
    servers.map(
      (srv) =>
        new Promise<void>((resolve) => {
          srv.close(() => resolve());
          srv.closeAllConnections();
        }),
    ),
  );
  for (const a of addrs) if (a.kind === 'unix') await rm(a.path, { force: true });
}

/** The bearer token: non-empty, and readable by its owner only (it grants what root can do). */
async function readToken(file: string): Promise<string> {
  const st = await stat(file).catch((err: unknown) => {
    throw invalidArgument(`--token-file ${file}: ${toAppError(err).message}`);
  });
  if ((st.mode & 0o077) !== 0)
    throw invalidArgument(
      `--token-file ${file}: readable by others (mode ${(st.mode & 0o777).toString(8)})`,
      {
        hint: `chmod 600 ${file}`,
      },
    );
  const token = (await readFile(file, 'utf8')).trim();
  if (token.length < 16)
    throw invalidArgument(`--token-file ${file}: the token must be at least 16 characters`);
  return token;
}
