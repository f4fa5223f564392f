import { newKeyArgs, selfSignedCert } from './tls.js';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './registry.js';

const pexec = promisify(execFile);

/** Client certificates of a TLS cluster: the CA that signed the servers, and a client's pair. */
export interface EtcdTLSFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface EtcdMember {
  name: string;
  /** `http://127.0.0.1:<port>` (https with TLS) */
  clientURL: string;
  peerURL: string;
  dataDir: string;
}

/** A running etcd cluster on loopback, stopped and removed by `await using`. */
export interface EtcdCluster extends AsyncDisposable {
  members: readonly EtcdMember[];
  /** Every member's client URL, comma-separated: `127.0.0.1:p1,127.0.0.1:p2,…` without scheme. */
  endpoints: string;
  /** `etcd://…` naming every member, as `--store` takes it (TLS certificates go beside it). */
  storeURL: string;
  /** Set when the cluster was started with `tls: true`. */
  tls?: EtcdTLSFiles;
  /** Kills one member with SIGKILL and waits for it to exit. */
  kill(name: string): Promise<void>;
  /** Starts a killed member again on its data dir and ports, and waits until it is healthy. */
  restart(name: string): Promise<void>;
  /** Resolves once every running member reports healthy (fails after `timeoutMs`). */
  waitHealthy(timeoutMs?: number): Promise<void>;
}

export interface EtcdClusterOptions {
  /** Members (default 3). */
  size?: number;
  /** Serve clients over TLS with client-certificate auth; certificates are made with openssl. */
  tls?: boolean;
}

/**
 * Starts a real etcd cluster (Debian's `etcd` from etcd-server) of `size` members on loopback,
 * each on free ports with its own temp data dir, and waits until it is healthy.
 *
 * @example
 * await using etcd = await startEtcdCluster();
 * await etcd.kill('m2'); // quorum holds with two of three
 */
export async function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const size = options.size ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'ignite-etcd-'));
  const tls = options.tls === true ? await makeCertificates(join(dir, 'pki')) : undefined;
  const scheme = tls ? 'https' : 'http';
  const members: EtcdMember[] = [];
  for (let i = 1; i <= size; i++) {
    members.push({
      name: `m${i}`,
      clientURL: `${scheme}://127.0.0.1:${await freePort()}`,
      peerURL: `http://127.0.0.1:${await freePort()}`,
      dataDir: join(dir, `m${i}`),
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerURL}`).join(',');
  const token = `ignite-test-${randomBytes(6).toString('hex')}`;
  const procs = new Map<string, ChildProcess>();

  const argv = (m: EtcdMember): string[] => [
    '--name',
    m.name,
    '--data-dir',
    m.dataDir,
    '--listen-client-urls',
    m.clientURL,
    '--advertise-client-urls',
    m.clientURL,
    '--listen-peer-urls',
    m.peerURL,
    '--initial-advertise-peer-urls',
    m.peerURL,
    '--initial-cluster',
    initialCluster,
    '--initial-cluster-state',
    'new',
    '--initial-cluster-token',
    token,
    '--logger',
    'zap',
    '--log-level',
    'error',
    ...(tls
      ? [
          '--cert-file',
          tls.serverCert,
          '--key-file',
          tls.serverKey,
          '--trusted-ca-file',
          tls.ca,
          '--client-cert-auth',
        ]
      : []),
  ];

  const launch = async (m: EtcdMember): Promise<void> => {
    await mkdir(m.dataDir, { recursive: true, mode: 0o700 });
    const child = spawn('etcd', argv(m), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.on('exit', (code, signal) => {
      if (procs.get(m.name) === child && signal === null && code !== 0)
        process.stderr.write(`etcd ${m.name} exited with ${code}: ${stderr}\n`);
    });
    procs.set(m.name, child);
  };

  const member = (name: string): EtcdMember => {
    const m = members.find((x) => x.name === name);
    if (!m) throw new Error(`etcd member ${name}: no such member`);
    return m;
  };

  const stop = async (name: string): Promise<void> => {
    const child = procs.get(name);
    procs.delete(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };

  const waitHealthy = async (timeoutMs = 20_000): Promise<void> => {
    const running = members.filter((m) => procs.has(m.name));
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        await pexec(
          'etcdctl',
          [
            '--endpoints',
            running.map((m) => m.clientURL).join(','),
            '--command-timeout',
            '2s',
            ...(tls ? ['--cacert', tls.ca, '--cert', tls.cert, '--key', tls.key] : []),
            'endpoint',
            'health',
          ],
          { env: { ...process.env, ETCDCTL_API: '3' } },
        );
        return;
      } catch (err) {
        last = String((err as { stderr?: string }).stderr ?? err);
      }
      if (Date.now() > deadline) throw new Error(`etcd cluster: not healthy: ${last}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const dispose = async (): Promise<void> => {
    await Promise.all([...procs.keys()].map((n) => stop(n)));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all(members.map((m) => launch(m)));
    await waitHealthy();
  } catch (err) {
    await dispose();
    throw err;
  }
  const hosts = members.map((m) => new URL(m.clientURL).host).join(',');
  return {
    members,
    endpoints: hosts,
    storeURL: `etcd://${hosts}`,
    ...(tls ? { tls: { ca: tls.ca, cert: tls.cert, key: tls.key } } : {}),
    kill: (name) => stop(member(name).name),
    restart: async (name) => {
      const m = member(name);
      await stop(name);
      await launch(m);
      await waitHealthy();
    },
    waitHealthy,
    [Symbol.asyncDispose]: dispose,
  };
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all made with openssl. */
async function makeCertificates(
  dir: string,
): Promise<EtcdTLSFiles & { serverCert: string; serverKey: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const p = (f: string): string => join(dir, f);
  const openssl = (...args: string[]) => pexec('openssl', args);
  await selfSignedCert({
    cert: p('ca.crt'),
    key: p('ca.key'),
    subject: '/CN=ignite test etcd CA',
    days: 2,
  });
  const issue = async (name: string, subject: string, ext: string): Promise<void> => {
    await writeFile(p(`${name}.ext`), ext);
    await openssl(
      'req',
      ...newKeyArgs(p(`${name}.key`)),
      '-out',
      p(`${name}.csr`),
      '-subj',
      subject,
    );
    await openssl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      p(`${name}.ext`),
    );
  };
  await issue(
    'server',
    '/CN=127.0.0.1',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  await issue('client', '/CN=ignite', 'extendedKeyUsage=clientAuth\n');
  return {
    ca: p('ca.crt'),
    cert: p('client.crt'),
    key: p('client.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
  };
}
