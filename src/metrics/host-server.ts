import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { failedPrecondition, invalidArgument, toAppError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import { formatExposition, parseExposition, type MetricFamily } from './exposition.js';
import { fetchFromSocket } from './fetch-socket.js';
import { mergeExpositions, type ExpositionSource } from './merge-expositions.js';
import { closeServer, type MetricsServer } from './socket-server.js';

/** Where a running VM's supervisor serves its metrics. */
export interface VMSocket {
  uid: string;
  name: string;
  /** `prometheus.sock` in the VM's run dir (storage/layout.ts) */
  socketPath: string;
}

export interface HostMetricsOptions {
  /** `host:port` to listen on, e.g. `127.0.0.1:9090` or `[::1]:9090`; port 0 picks a free one. */
  listen: string;
  /** The VMs to scrape, asked at every scrape (the running ones). */
  vmSockets: () => Promise<readonly VMSocket[]>;
  /** The manager's own metrics (see createManagerMetrics). */
  manager: Registry;
  /** How long one VM gets to answer (default 2000 ms); a slower one is skipped. */
  vmTimeoutMs?: number;
  logger?: Logger;
}

/** The host endpoint; `url` is where it listens, e.g. `http://127.0.0.1:9090`. */
export interface HostMetricsServer extends MetricsServer {
  url: string;
  host: string;
  port: number;
}

const SCRAPE_ERROR_REASONS = [
  'discovery',
  'unreachable',
  'timeout',
  'invalid',
  'conflict',
] as const;
type ScrapeErrorReason = (typeof SCRAPE_ERROR_REASONS)[number];

/**
 * The host's merged exposition as one function, for any server that serves it (`ignite metrics
 * serve`, the daemon's `/metrics`). Each collector keeps its own scrape-error counter.
 */
export function hostMetricsCollector(
  options: Omit<HostMetricsOptions, 'listen'>,
): () => Promise<string> {
  const own = new Registry();
  const scrapeErrors = new Counter({
    name: 'ignite_scrape_errors_total',
    help: 'VM metrics the host endpoint could not include, by reason.',
    labelNames: ['reason'],
    registers: [own],
  });
  // Every reason shows from the start, so rate() sees the first error.
  for (const reason of SCRAPE_ERROR_REASONS) scrapeErrors.inc({ reason }, 0);
  const countError = (reason: ScrapeErrorReason, n = 1): void => {
    scrapeErrors.inc({ reason }, n);
  };

  const collect = async (): Promise<string> => {
    const [vms, managerText] = await Promise.all([
      scrapeVMs(options, countError),
      options.manager.metrics(),
    ]);
    const { families, problems } = mergeExpositions([
      { families: parseExposition(managerText), origin: 'manager' },
      { families: [...parseExposition(await own.metrics()), ...vms.families], origin: 'host' },
      ...vms.sources,
    ]);
    if (problems.length > 0) {
      countError('conflict', problems.length);
      options.logger?.debug({ problems }, 'metrics: dropped conflicting samples');
    }
    return formatExposition(families);
  };
  return collect;
}

/**
 * Serves one `/metrics` for the whole host: the manager's registry, then every running VM's
 * exposition fetched over its unix socket, merged so that each metric family appears once
 * (several VMs all export `process_cpu_seconds_total`; their samples differ by `vm_uid`). A VM
 * that does not answer in time is left out, shows `ignite_vm_scrape_up 0` and counts in
 * `ignite_scrape_errors_total`. `/-/healthy` answers 200 while the server runs.
 *
 * @example
 * const server = await serveHostMetrics({
 *   listen: '127.0.0.1:9090',
 *   manager: createManagerMetrics(sources).registry,
 *   vmSockets: async () => runningVMs.map((vm) => ({ uid, name, socketPath })),
 * });
 */
export async function serveHostMetrics(options: HostMetricsOptions): Promise<HostMetricsServer> {
  const { host, port } = parseListenAddress(options.listen);
  const collect = hostMetricsCollector(options);
  const server = createServer((req, res) => {
    void route(req, res, collect, options.logger);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? failedPrecondition(`metrics address ${options.listen}: already in use`, { cause: err })
          : toAppError(err, `metrics address ${options.listen}`),
      );
    });
    server.listen(host === undefined ? { port } : { host, port }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= closeServer(server));
  return {
    url: `http://${shownHost}:${address.port}`,
    host: address.address,
    port: address.port,
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  collect: () => Promise<string>,
  logger: Logger | undefined,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://host').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end();
    return;
  }
  if (path === '/-/healthy') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ignite metrics is healthy\n');
    return;
  }
  if (path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
    return;
  }
  try {
    const body = await collect();
    res.writeHead(200, { 'content-type': Registry.PROMETHEUS_CONTENT_TYPE });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    logger?.warn({ err }, `metrics: collecting failed: ${toAppError(err).message}`);
    res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
  }
}

/** Fetches every VM at once; returns their expositions and the per-VM scrape families. */
async function scrapeVMs(
  options: Omit<HostMetricsOptions, 'listen'>,
  countError: (reason: ScrapeErrorReason) => void,
): Promise<{ sources: ExpositionSource[]; families: MetricFamily[] }> {
  let vms: readonly VMSocket[];
  try {
    vms = await options.vmSockets();
  } catch (err) {
    countError('discovery');
    options.logger?.debug({ err }, 'metrics: listing the running VMs failed');
    vms = [];
  }
  const up: MetricFamily = {
    name: 'ignite_vm_scrape_up',
    help: "1 if the VM's supervisor answered this scrape of its metrics socket, 0 if not.",
    type: 'gauge',
    samples: [],
  };
  const duration: MetricFamily = {
    name: 'ignite_vm_scrape_duration_seconds',
    help: "How long fetching the VM's metrics took in this scrape, in seconds.",
    type: 'gauge',
    samples: [],
  };
  const timeoutMs = options.vmTimeoutMs ?? 2_000;
  const results = await Promise.all(
    vms.map(async (vm): Promise<ExpositionSource | undefined> => {
      const started = performance.now();
      const result = await fetchFromSocket(vm.socketPath, { timeoutMs });
      const labels: [string, string][] = [
        ['vm_uid', vm.uid],
        ['vm_name', vm.name],
      ];
      duration.samples.push({ name: duration.name, labels, value: seconds(started) });
      let source: ExpositionSource | undefined;
      if (result.ok) {
        try {
          source = {
            families: parseExposition(result.text),
            labels: { vm_uid: vm.uid, vm_name: vm.name },
            origin: `vm "${vm.name}"`,
          };
        } catch (err) {
          countError('invalid');
          options.logger?.debug({ err, uid: vm.uid }, `metrics: vm "${vm.name}": bad exposition`);
        }
      } else {
        countError(result.reason);
        options.logger?.debug(
          { uid: vm.uid, socket: vm.socketPath },
          `metrics: vm "${vm.name}": ${result.reason}: ${result.message}`,
        );
      }
      up.samples.push({ name: up.name, labels, value: source ? 1 : 0 });
      return source;
    }),
  );
  return {
    sources: results.filter((s): s is ExpositionSource => s !== undefined),
    families: [up, duration],
  };
}

function seconds(since: number): number {
  return Math.round(performance.now() - since) / 1000;
}

/** Splits `host:port` (`[v6]:port` for IPv6); an empty host means every interface. */
export function parseListenAddress(listen: string): { host: string | undefined; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw invalidArgument(`metrics address "${listen}": expected host:port, e.g. 127.0.0.1:9090`);
  }
  const host = match[1] ?? match[2];
  return { host: host === '' ? undefined : host, port };
}
