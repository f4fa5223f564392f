import { readFileSync } from 'node:fs';
import { IGNITE_V04_DEFAULTS, normalizeImageRef, type VMDefaults } from '../api/index.js';
import type { LogLevel } from './logger.js';

/** Where VMs, images and kernels are kept when neither --data-dir nor IGNITE_DATA_DIR says. */
export const DEFAULT_DATA_DIR = '/var/lib/firecracker';

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

/** Builds the settings from flags, environment and the text of /etc/resolv.conf. */
export function parseHostConfig(
  flags: HostFlags,
  env: NodeJS.ProcessEnv,
  resolvConf: string,
): HostConfig {
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
    dataDir: flags.dataDir ?? set('IGNITE_DATA_DIR') ?? DEFAULT_DATA_DIR,
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
  return parseHostConfig(flags, env, resolvConf);
}

/**
 * Defaults for new VMs: Ignite v0.4.0's, except the kernel image where IGNITE_KERNEL_IMAGE sets
 * one (Ignite's is on Docker Hub, which not every host reaches).
 */
export function hostVMDefaults(config: Pick<HostConfig, 'kernelImage'>): VMDefaults {
  return config.kernelImage === undefined
    ? { ...IGNITE_V04_DEFAULTS }
    : { ...IGNITE_V04_DEFAULTS, kernelImage: normalizeImageRef(config.kernelImage) };
}
