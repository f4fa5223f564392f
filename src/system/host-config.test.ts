import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_DATA_DIR,
  defaultDirs,
  parseHostConfig,
  storeSettingsOf,
  type HostFlags,
} from './host-config.js';
import { hostVMDefaults } from './vm-defaults.js';

const RESOLV = 'nameserver 127.0.0.53\nnameserver 10.0.0.2\n# nameserver 8.8.8.8\nnameserver ::1\n';

test('parseHostConfig: flags, then the environment, then the defaults', () => {
  const cases: {
    name: string;
    flags: HostFlags;
    env: NodeJS.ProcessEnv;
    want: Partial<ReturnType<typeof parseHostConfig>>;
  }[] = [
    {
      name: 'nothing set',
      flags: {},
      env: {},
      want: {
        dataDir: DEFAULT_DATA_DIR,
        logLevel: 'info',
        vmm: 'auto',
        accel: 'auto',
        insecureRegistries: [],
        importLimits: {},
      },
    },
    {
      name: 'environment',
      flags: {},
      env: {
        IGNITE_DATA_DIR: '/srv/ignite',
        IGNITE_VMM: 'qemu',
        IGNITE_ACCEL: 'tcg',
        IGNITE_KERNEL_IMAGE: 'k:1',
        IGNITE_INSECURE_REGISTRIES: ' a:5000, ,b ',
        IGNITE_IMPORT_MAX_SIZE: '1GiB',
        IGNITE_IMPORT_MAX_ENTRIES: '10',
        DOCKER_CONFIG: '/etc/docker',
      },
      want: {
        dataDir: '/srv/ignite',
        vmm: 'qemu',
        accel: 'tcg',
        kernelImage: 'k:1',
        insecureRegistries: ['a:5000', 'b'],
        importLimits: { maxSize: '1GiB', maxEntries: '10' },
        dockerConfigDir: '/etc/docker',
      },
    },
    {
      name: 'flags win over the environment; registries add up',
      flags: {
        dataDir: '/d',
        logLevel: 'debug',
        insecureRegistries: ['c'],
        importMaxSize: '2GB',
        importMaxEntries: '5',
      },
      env: {
        IGNITE_DATA_DIR: '/srv/ignite',
        IGNITE_INSECURE_REGISTRIES: 'a',
        IGNITE_IMPORT_MAX_SIZE: '1GiB',
      },
      want: {
        dataDir: '/d',
        logLevel: 'debug',
        insecureRegistries: ['a', 'c'],
        importLimits: { maxSize: '2GB', maxEntries: '5' },
      },
    },
    {
      name: 'empty values count as unset, except an empty IGNITE_VMM (an error when used)',
      flags: {},
      env: {
        IGNITE_DATA_DIR: '',
        IGNITE_KERNEL_IMAGE: '',
        IGNITE_IMPORT_MAX_SIZE: '',
        DOCKER_CONFIG: '',
        IGNITE_VMM: '',
        IGNITE_ACCEL: 'fast',
      },
      want: { dataDir: DEFAULT_DATA_DIR, importLimits: {}, vmm: '', accel: 'auto' },
    },
  ];
  for (const c of cases) {
    const got = parseHostConfig(c.flags, c.env, '');
    for (const [key, value] of Object.entries(c.want))
      assert.deepEqual(got[key as keyof typeof got], value, `${c.name}: ${key}`);
    if (!('kernelImage' in c.want)) assert.equal(got.kernelImage, undefined, c.name);
    if (!('dockerConfigDir' in c.want)) assert.equal(got.dockerConfigDir, undefined, c.name);
    assert.equal(got.env, c.env, `${c.name}: the environment is passed on as it is`);
  }
});

test('parseHostConfig: the store from its flags, else IGNITE_STORE*, and passed on in the environment', () => {
  const env = {
    IGNITE_STORE: 'etcd://e1',
    IGNITE_STORE_CA: '/env/ca.pem',
    IGNITE_STORE_KEY: '',
  };
  const fromEnv = parseHostConfig({}, env, '');
  assert.deepEqual(fromEnv.store, { url: 'etcd://e1', ca: '/env/ca.pem' });
  assert.equal(fromEnv.env, env);

  const fromFlags = parseHostConfig(
    { store: { url: 'etcd://f1,f2', cert: '/f/c.pem', key: '/f/c.key' } },
    env,
    '',
  );
  assert.deepEqual(fromFlags.store, {
    url: 'etcd://f1,f2',
    ca: '/env/ca.pem',
    cert: '/f/c.pem',
    key: '/f/c.key',
  });
  assert.equal(fromFlags.env['IGNITE_STORE'], 'etcd://f1,f2', 'a supervisor uses the same store');
  assert.equal(fromFlags.env['IGNITE_STORE_CERT'], '/f/c.pem');
  assert.equal(env.IGNITE_STORE, 'etcd://e1', 'the given environment is not changed');

  assert.deepEqual(parseHostConfig({}, {}, '').store, {}, 'the data dir by default');
});

test('parseHostConfig: the host name from --host-name, else IGNITE_HOST_NAME, passed on to supervisors', () => {
  assert.equal(parseHostConfig({}, {}, '').hostName, undefined);
  const env = { IGNITE_HOST_NAME: 'h-env' };
  const fromEnv = parseHostConfig({}, env, '');
  assert.equal(fromEnv.hostName, 'h-env');
  assert.equal(fromEnv.env, env);
  const fromFlag = parseHostConfig({ hostName: 'h1' }, env, '');
  assert.equal(fromFlag.hostName, 'h1');
  assert.equal(fromFlag.env['IGNITE_HOST_NAME'], 'h1', 'its supervisors know the host');
  assert.equal(env.IGNITE_HOST_NAME, 'h-env');
});

test('storeSettingsOf: the store flags given, and only those', () => {
  assert.deepEqual(storeSettingsOf({}), {});
  assert.deepEqual(
    storeSettingsOf({ store: 'etcd://h', storeCa: 'a', storeCert: 'c', storeKey: 'k' }),
    {
      url: 'etcd://h',
      ca: 'a',
      cert: 'c',
      key: 'k',
    },
  );
});

test('parseHostConfig: resolvers without loopback stubs or comments', () => {
  assert.deepEqual(parseHostConfig({}, {}, RESOLV).nameservers, ['10.0.0.2']);
  assert.deepEqual(parseHostConfig({}, {}, '').nameservers, []);
});

test('hostVMDefaults: IGNITE_KERNEL_IMAGE replaces the kernel image, normalized', () => {
  assert.match(hostVMDefaults({}).kernelImage, /weaveworks\/ignite-kernel/);
  assert.equal(
    hostVMDefaults({ kernelImage: '127.0.0.1:5000/k' }).kernelImage,
    '127.0.0.1:5000/k:latest',
  );
  assert.throws(() => hostVMDefaults({ kernelImage: 'UPPER case' }));
});

test('defaultDirs: root keeps the host-wide directories; a user gets private ones', () => {
  const user = { uid: 1000, home: '/home/ann' };
  const cases: {
    name: string;
    user: { uid: number; home: string };
    env: NodeJS.ProcessEnv;
    want: { dataDir: string; runtimeDir: string };
  }[] = [
    {
      name: 'root, whatever XDG says',
      user: { uid: 0, home: '/root' },
      env: { XDG_DATA_HOME: '/x', XDG_RUNTIME_DIR: '/run/user/0' },
      want: { dataDir: DEFAULT_DATA_DIR, runtimeDir: '/run/ignite' },
    },
    {
      name: 'a user with a session',
      user,
      env: { XDG_RUNTIME_DIR: '/run/user/1000' },
      want: { dataDir: '/home/ann/.local/share/ignite', runtimeDir: '/run/user/1000/ignite' },
    },
    {
      name: 'a user with XDG_DATA_HOME and no runtime dir',
      user,
      env: { XDG_DATA_HOME: '/data/ann' },
      want: { dataDir: '/data/ann/ignite', runtimeDir: '/tmp/ignite-1000' },
    },
    {
      name: 'relative XDG values are ignored, as the spec says',
      user,
      env: { XDG_DATA_HOME: 'rel', XDG_RUNTIME_DIR: '' },
      want: { dataDir: '/home/ann/.local/share/ignite', runtimeDir: '/tmp/ignite-1000' },
    },
  ];
  for (const c of cases) assert.deepEqual(defaultDirs(c.user, c.env), c.want, c.name);
  const cfg = parseHostConfig({}, { XDG_RUNTIME_DIR: '/run/user/1000' }, '', user);
  assert.equal(cfg.dataDir, '/home/ann/.local/share/ignite');
  assert.equal(cfg.rootless, true);
  assert.equal(cfg.vmRunDir, '/run/user/1000/ignite', "a user's VM sockets in the session dir");
  assert.equal(parseHostConfig({}, {}, '').rootless, false);
  assert.equal(parseHostConfig({}, {}, '').vmRunDir, undefined, "root's in the VMs' dirs");
  assert.equal(parseHostConfig({ dataDir: '/d' }, {}, '', user).dataDir, '/d', 'the flag wins');
});

test('hostVMDefaults: user networking without root, docker-bridge as root', () => {
  assert.equal(hostVMDefaults({ rootless: true }).networkMode, 'user');
  assert.equal(hostVMDefaults({ rootless: false }).networkMode, 'docker-bridge');
  assert.equal(hostVMDefaults({}).networkMode, 'docker-bridge');
});
