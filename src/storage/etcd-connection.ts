import { readFileSync } from 'node:fs';
import type { Etcd3, IOptions } from 'etcd3';
import { AppError, invalidArgument, unavailable } from '../errors.js';

/** How to reach an etcd cluster: its members' client addresses, and TLS client files. */
export interface EtcdConfig {
  /** `host:port` of each member (`127.0.0.1:2379`). */
  endpoints: string[];
  /** PEM files: the CA that signed the members' certificates, and this client's pair. */
  tls?: { ca: string; cert?: string; key?: string };
  /** The longest one call may take before it fails as Unavailable (default 5 s). */
  callTimeoutMs?: number;
}

const DEFAULT_CALL_TIMEOUT_MS = 5000;

/**
 * One etcd client with bounded calls: every call fails within `callTimeoutMs`, as an AppError
 * `Unavailable` naming the cluster, when etcd cannot answer (no quorum, members down, TLS refused).
 */
export class EtcdConnection {
  readonly timeoutMs: number;
  /** `etcd at 127.0.0.1:2379,…`: how errors name the cluster. */
  readonly label: string;

  constructor(config: EtcdConfig) {
    if (config.endpoints.length === 0) throw invalidArgument('etcd store: no endpoints given');
    this.timeoutMs = config.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.label = `etcd at ${config.endpoints.join(',')}`;
    const scheme = config.tls ? 'https' : 'http';
    const options: IOptions = {
      hosts: config.endpoints.map((e) => `${scheme}://${e}`),
      dialTimeout: this.timeoutMs,
      defaultCallOptions: (ctx) =>
        ctx.isStream ? {} : { deadline: Date.now() + Math.max(500, this.timeoutMs - 500) },
    };
    if (config.tls) options.credentials = readCredentials(config.tls);
    this.options = options;
  }

  private readonly options: IOptions;
  private loaded: Promise<Etcd3> | undefined;

  /**
   * The etcd client, loaded on first use: the library and its gRPC stack take longer to load
   * than a whole command on the filesystem store, and most processes that link this never call it.
   */
  private etcd(): Promise<Etcd3> {
    this.loaded ??= import('etcd3').then((m) => new m.Etcd3(this.options));
    return this.loaded;
  }

  /**
   * Runs one etcd call (or a short sequence) within the time bound; AppErrors from `fn` pass
   * through, anything else becomes Unavailable. A timed-out write may still be applied later:
   * etcd's own outcome is unknown then, as with any request that got no answer.
   */
  async call<T>(what: string, fn: (etcd: Etcd3) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          unavailable(
            `${this.label}: ${what}: no answer within ${this.timeoutMs / 1000} s (no quorum, or the members are unreachable)`,
            { hint: 'check that a majority of the etcd members are up: etcdctl endpoint health' },
          ),
        );
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([this.etcd().then(fn), timeout]);
    } catch (err) {
      throw this.mapError(what, err);
    } finally {
      clearTimeout(timer);
    }
  }

  /** An error of the etcd client as an AppError that names the cluster. */
  mapError(what: string, err: unknown): AppError {
    if (err instanceof AppError) return err;
    const msg = err instanceof Error ? err.message : String(err);
    const quorum = /no leader|timed out|deadline/i.test(msg);
    return unavailable(`${this.label}: ${what}: ${quorum ? `no quorum (${msg})` : msg}`, {
      cause: err,
      hint: 'check that a majority of the etcd members are up: etcdctl endpoint health',
    });
  }

  async close(): Promise<void> {
    const loaded = this.loaded;
    this.loaded = undefined;
    (await loaded?.catch(() => undefined))?.close();
  }
}

function readCredentials(
  tls: NonNullable<EtcdConfig['tls']>,
): NonNullable<IOptions['credentials']> {
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw invalidArgument(`etcd store: ${flag} ${file}: cannot be read`, { cause: err });
    }
  };
  if ((tls.cert === undefined) !== (tls.key === undefined))
    throw invalidArgument(
      'etcd store: a client certificate needs its key, and a key its certificate',
    );
  return {
    rootCertificate: read('CA', tls.ca),
    ...(tls.cert !== undefined ? { certChain: read('certificate', tls.cert) } : {}),
    ...(tls.key !== undefined ? { privateKey: read('key', tls.key) } : {}),
  };
}
