import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import type { LogLevel } from './logger.js';

/** Where root keeps VMs, images and kernels when neither --data-dir nor IGNITE_DATA_DIR says. */
export const DEFAULT_DATA_DIR = '/var/lib/firecracker';

/** Where root keeps the sockets and pid files of its VMs' helpers (passt). */
export const ROOT_RUNTIME_DIR = '/run/ignite';

/** Who runs ignite: root keeps the host-wide directories, anyone else their own. */
export interface HostUser {
  uid: number;
  /** The home directory, for the default data dir of an ordinary user. */
  home: string;
}

const ROOT: HostUser = { uid: 0, home: '/root' };

/**
 * The default data and runtime directories of `user`: root's host-wide ones, or, for anyone
 * else, `${XDG_DATA_HOME:-~/.local/share}/ignite` and `$XDG_RUNTIME_DIR/ignite` (a private
 * `/tmp/ignite-<uid>` where the session has no runtime dir), so two users never share files.
 */
export function defaultDirs(
  user: HostUser,
  env: NodeJS.ProcessEnv,
): { dataDir: string; runtimeDir: string } {
  if (user.uid === 0) return { dataDir: DEFAULT_DATA_DIR, runtimeDir: ROOT_RUNTIME_DIR };
  const absolute = (v: string | undefined) => (v?.startsWith('/') === true ? v : undefined);
  const dataHome = absolute(env['XDG_DATA_HOME']) ?? `${user.home}/.local/share`;
  const runtime = absolute(env['XDG_RUNTIME_DIR']);
  return {
    dataDir: `${dataHome}/ignite`,
    runtimeDir: runtime !== undefined ? `${runtime}/ignite` : `/tmp/ignite-${user.uid}`,
  };
}

/** The global flags that are host settings too (the flag wins over the environment). */
export interface HostFlags {
  dataDir?: string | undefined;
  logLevel?: LogLevel | undefined;
  insecureRegistries?: readonly string[] | undefined;
  importMaxSize?: string | undefined;
  importMaxEntries?: string | undefined;
  /** `--store` and its TLS files (`--store-ca`, `--store-cert`, `--store-key`). */
  store?: StoreSettings | undefined;
  /** `--host-name` of ignited: this host's name in a fleet. */
  hostName?: string | undefined;
}

/**
 * Where objects are stored, as written: no `url` (the data dir, the default) or
 * `etcd://host:port,…` with optional `?ca=&cert=&key=` (PEM files). `ca`, `cert` and `key` come
 * from the flags or IGNITE_STORE_CA, _CERT and _KEY, and win over the URL's query. Parsed and
 * checked by src/storage/store-url.ts when the store is opened.
 */
export interface StoreSettings {
  url?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/** The store flags as commander parses them (`--store`, `--store-ca`, …). */
export interface StoreFlags {
  store?: string | undefined;
  storeCa?: string | undefined;
  storeCert?: string | undefined;
  storeKey?: string | undefined;
}

/** The store settings that the flags give, leaving out those not given. */
export function storeSettingsOf(f: StoreFlags): StoreSettings {
  return {
    ...(f.store !== undefined ? { url: f.store } : {}),
    ...(f.storeCa !== undefined ? { ca: f.storeCa } : {}),
    ...(f.storeCert !== undefined ? { cert: f.storeCert } : {}),
    ...(f.storeKey !== undefined ? { key: f.storeKey } : {}),
  };
}

/** The help of the store flags, shared by the programs that take them. */
export const STORE_FLAG_HELP = {
  store:
    'keep VMs, images and kernels in etcd: etcd://host:port,host:port,… (env IGNITE_STORE; default: the data dir). Their files stay in the data dir',
  storeCa: "the CA (PEM) of the etcd members' certificates: TLS (env IGNITE_STORE_CA)",
  storeCert: 'the client certificate (PEM) for etcd (env IGNITE_STORE_CERT)',
  storeKey: "the client certificate's key (PEM) for etcd (env IGNITE_STORE_KEY)",
} as const;

/** The environment variables of the store settings, each after its flag. */
const STORE_ENV = {
  url: 'IGNITE_STORE',
  ca: 'IGNITE_STORE_CA',
  cert: 'IGNITE_STORE_CERT',
  key: 'IGNITE_STORE_KEY',
} as const;

/**
 * The host's settings, from the global flags, the environment and resolv.conf, read once per
 * process. Values that can be invalid (a kernel reference, a size) are kept as written and
 * checked by the code that uses them, so a command that does not is not failed by them.
 */
export interface HostConfig {
  dataDir: string;
  /**
   * Sockets and pid files of the VMs' helper processes (passt): `/run/ignite` for root, the
   * user's own runtime dir otherwise (see defaultDirs). Made 0700 when first used.
   */
  runtimeDir: string;
  /**
   * Where each VM's sockets (QMP, console, supervisor, metrics) and run record go, as
   * `<dir>/<uid>/`: the runtime dir for an ordinary user, so that every socket and pid file of
   * the user's VMs is in the user's session dir. Unset for root, whose VMs keep them in their
   * directory under the data dir: root's data dirs are many on one host (a fleet's hosts in
   * tests, `--data-dir`), and a VM copied between two of them keeps its UID.
   */
  vmRunDir?: string;
  /** ignite runs as an ordinary user: VMs default to `user` networking. */
  rootless: boolean;
  logLevel: LogLevel;
  /**
   * The environment, passed on to the programs ignite starts (its supervisor, git). The store
   * settings are in it as IGNITE_STORE*, so a supervisor uses the store its starter did.
   */
  env: NodeJS.ProcessEnv;
  /** `--store` or IGNITE_STORE, and its TLS files. */
  store: StoreSettings;
  /** IGNITE_VMM: `qemu`, `firecracker`, or `auto` (the default) to use what is installed. */
  vmm: string;
  /** IGNITE_ACCEL: QEMU's accelerator (anything but kvm or tcg is auto). */
  accel: 'kvm' | 'tcg' | 'auto';
  /** IGNITE_KERNEL_IMAGE: the default kernel of new VMs, when set. */
  kernelImage?: string;
  /** Registries reached over plain HTTP: IGNITE_INSECURE_REGISTRIES, then --insecure-registry. */
  insecureRegistries: string[];
  /** Unpack limits as written: the flags, else IGNITE_IMPORT_MAX_SIZE and _ENTRIES. */
  importLimits: { maxSize?: string; maxEntries?: string };
  /** DOCKER_CONFIG: where registry credentials are read from, when set. */
  dockerConfigDir?: string;
  /** The host's resolvers for guests, minus loopback stubs (127.0.0.53 and the like). */
  nameservers: string[];
  /**
   * This host's name in a fleet (`--host-name`, else IGNITE_HOST_NAME); in the environment of
   * the supervisors it starts, so they write only the VMs placed here.
   */
  hostName?: string;
}

/** Builds the settings from flags, environment and the text of /etc/resolv.conf, for `user`. */
export function parseHostConfig(
  flags: HostFlags,
  env: NodeJS.ProcessEnv,
  resolvConf: string,
  user: HostUser = ROOT,
): HostConfig {
  const dirs = defaultDirs(user, env);
  const set = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const accel = env['IGNITE_ACCEL'];
  const kernelImage = set('IGNITE_KERNEL_IMAGE');
  const dockerConfigDir = set('DOCKER_CONFIG');
  const maxSize = flags.importMaxSize ?? env['IGNITE_IMPORT_MAX_SIZE'];
  const maxEntries = flags.importMaxEntries ?? env['IGNITE_IMPORT_MAX_ENTRIES'];
  const store: StoreSettings = {};
  const hostName = flags.hostName ?? set('IGNITE_HOST_NAME');
  const passOn: NodeJS.ProcessEnv = {};
  for (const field of ['url', 'ca', 'cert', 'key'] as const) {
    const flag = flags.store?.[field];
    const value = flag !== undefined && flag !== '' ? flag : set(STORE_ENV[field]);
    if (value !== undefined) store[field] = value;
    if (value !== undefined && value !== env[STORE_ENV[field]]) passOn[STORE_ENV[field]] = value;
  }
  if (hostName !== undefined && hostName !== env['IGNITE_HOST_NAME'])
    passOn['IGNITE_HOST_NAME'] = hostName;
  return {
    dataDir: flags.dataDir ?? set('IGNITE_DATA_DIR') ?? dirs.dataDir,
    runtimeDir: dirs.runtimeDir,
    ...(user.uid !== 0 ? { vmRunDir: dirs.runtimeDir } : {}),
    rootless: user.uid !== 0,
    logLevel: flags.logLevel ?? 'info',
    env: Object.keys(passOn).length === 0 ? env : { ...env, ...passOn },
    store,
    vmm: env['IGNITE_VMM'] ?? 'auto',
    accel: accel === 'kvm' || accel === 'tcg' ? accel : 'auto',
    ...(kernelImage !== undefined ? { kernelImage } : {}),
    insecureRegistries: [
      ...(env['IGNITE_INSECURE_REGISTRIES'] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      ...(flags.insecureRegistries ?? []),
    ],
    importLimits: {
      ...(maxSize !== undefined && maxSize !== '' ? { maxSize } : {}),
      ...(maxEntries !== undefined && maxEntries !== '' ? { maxEntries } : {}),
    },
    ...(dockerConfigDir !== undefined ? { dockerConfigDir } : {}),
    nameservers: parseNameservers(resolvConf),
    ...(hostName !== undefined ? { hostName } : {}),
  };
}

/** The `nameserver` lines of resolv.conf, minus loopback stubs, which a VM cannot reach. */
export function parseNameservers(resolvConf: string): string[] {
  return [...resolvConf.matchAll(/^nameserver\s+(\S+)/gm)]
    .map((m) => m[1] ?? '')
    .filter((ip) => ip !== '' && !ip.startsWith('127.') && ip !== '::1');
}

/** The settings of this host: parseHostConfig over /etc/resolv.conf (empty when unreadable). */
export function loadHostConfig(flags: HostFlags, env: NodeJS.ProcessEnv): HostConfig {
  let resolvConf = '';
  try {
    resolvConf = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    // No resolvers: guests get none either.
  }
  const uid = process.getuid?.() ?? 0;
  return parseHostConfig(flags, env, resolvConf, { uid, home: env['HOME'] ?? homedir() });
}
