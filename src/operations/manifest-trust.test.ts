import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VM } from '../api/index.js';
import {
  checkManifestTrust,
  parseHostPortRange,
  resolveManifestTrust,
  sortByTrust,
  type ManifestTrust,
} from './manifest-trust.js';
import { nodeHostFiles } from '../system/node-host-files.js';

const HOST = { hostFiles: nodeHostFiles };

const vm = (spec: Partial<VM['spec']>): VM => ({
  apiVersion: 'ignite.weave.works/v1alpha1',
  kind: 'VM',
  metadata: { name: 'web' },
  spec: { image: { ociClaim: { ref: 'busybox' } }, ...spec },
});

test('host port ranges: LOW-HIGH or one port, within 1-65535', () => {
  const table: [string, [number, number] | RegExp][] = [
    ['30000-32767', [30000, 32767]],
    [' 8000 - 8100 ', [8000, 8100]],
    ['8080', [8080, 8080]],
    ['1-65535', [1, 65535]],
    ['0-10', /--host-port-range "0-10": expected LOW-HIGH/],
    ['10-65536', /expected LOW-HIGH/],
    ['200-100', /expected LOW-HIGH/],
    ['80-', /expected LOW-HIGH/],
    ['http', /expected LOW-HIGH/],
    ['', /expected LOW-HIGH/],
  ];
  for (const [input, want] of table) {
    if (Array.isArray(want)) assert.deepEqual(parseHostPortRange(input), want, input);
    else assert.throws(() => parseHostPortRange(input), want, input);
  }
});

test('host ports outside the range are refused, each with its field path', async () => {
  const trust: ManifestTrust = { allowHostPaths: [], hostPortRange: [30000, 32767] };
  const problems = await checkManifestTrust(
    HOST,
    vm({
      network: {
        ports: [
          { hostPort: 22, vmPort: 22 },
          { hostPort: 30000, vmPort: 80 },
          { hostPort: 32767, vmPort: 80, protocol: 'udp' },
          { hostPort: 32768, vmPort: 80 },
        ],
      },
    }),
    trust,
  );
  assert.deepEqual(
    problems.map((p) => p.path),
    ['.spec.network.ports[0].hostPort', '.spec.network.ports[3].hostPort'],
  );
  assert.match(problems[0]?.message ?? '', /host port 22 is outside the allowed range 30000-32767/);
});

test('host files: refused without --allow-host-path; allowed inside; symlinks and .. judged by where they lead', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'ignite-trust-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const allowed = join(root, 'allowed');
  const outside = join(root, 'outside');
  await mkdir(join(allowed, 'keys'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(allowed, 'motd'), 'hi\n');
  await writeFile(join(allowed, 'keys', 'id.pub'), 'ssh-ed25519 AAAA x\n');
  await writeFile(join(outside, 'secret'), 'no\n');
  await symlink(join(outside, 'secret'), join(allowed, 'link-out'));
  await symlink(join(allowed, 'motd'), join(outside, 'link-in'));
  // An allowed directory given through a symlink is compared by its real path.
  await symlink(allowed, join(root, 'allowed-link'));

  const none = await resolveManifestTrust(HOST, {
    allowHostPaths: [],
    hostPortRange: '30000-32767',
  });
  const refusedAll = await checkManifestTrust(
    HOST,
    vm({ copyFiles: [{ hostPath: join(allowed, 'motd'), vmPath: '/etc/motd' }] }),
    none,
  );
  assert.equal(refusedAll[0]?.path, '.spec.copyFiles[0].hostPath');
  assert.match(refusedAll[0]?.message ?? '', /host files are not allowed from this source/);
  assert.deepEqual(
    await checkManifestTrust(HOST, vm({ ssh: true }), none),
    [],
    'ssh: true needs no host file',
  );
  assert.deepEqual(
    await checkManifestTrust(HOST, vm({ ssh: 'ssh-ed25519 AAAAC3Nz u@client' }), none),
    [],
    'a public key given itself needs no host file',
  );

  const trust = await resolveManifestTrust(HOST, {
    allowHostPaths: [join(root, 'allowed-link')],
    hostPortRange: '30000-32767',
  });
  const check = async (hostPath: string) =>
    (await checkManifestTrust(HOST, vm({ copyFiles: [{ hostPath, vmPath: '/x' }] }), trust))[0]
      ?.message;
  assert.equal(await check(join(allowed, 'motd')), undefined);
  assert.equal(await check(join(outside, 'link-in')), undefined, 'a symlink into DIR leads inside');
  assert.match(
    (await check(join(allowed, 'link-out'))) ?? '',
    /really .*outside\/secret.*not under an allowed/,
  );
  assert.match((await check(`${allowed}/../outside/secret`)) ?? '', /not under an allowed/);
  assert.match((await check('/etc/shadow')) ?? '', /"\/etc\/shadow": it is not under an allowed/);
  assert.match((await check(join(allowed, 'missing'))) ?? '', /not found on the host/);
  assert.match((await check('relative/file')) ?? '', /not an absolute path/);
  assert.match(
    (await check(`${allowed}-evil/motd`)) ?? '',
    /not found|not under/,
    'a prefix is not a parent',
  );

  // ssh: a path is the key pair's, whose .pub is read.
  assert.deepEqual(
    await checkManifestTrust(HOST, vm({ ssh: join(allowed, 'keys', 'id') }), trust),
    [],
  );
  assert.equal(
    (await checkManifestTrust(HOST, vm({ ssh: join(outside, 'secret') }), trust))[0]?.path,
    '.spec.ssh',
  );

  const { trusted, refused } = await sortByTrust(
    HOST,
    [
      { vm: vm({ copyFiles: [{ hostPath: '/etc/shadow', vmPath: '/x' }] }), file: 'a.yaml' },
      { vm: vm({ ssh: true }), file: 'b.yaml' },
    ],
    trust,
  );
  assert.deepEqual(
    trusted.map((m) => m.file),
    ['b.yaml'],
  );
  assert.match(
    refused[0]?.message ?? '',
    /^manifest a\.yaml: refused: \.spec\.copyFiles\[0\]\.hostPath: /,
  );

  await assert.rejects(
    resolveManifestTrust(HOST, { allowHostPaths: [join(root, 'nope')], hostPortRange: '1-2' }),
    /--allow-host-path ".*nope": not a directory on the host/,
  );
  await assert.rejects(
    resolveManifestTrust(HOST, { allowHostPaths: ['rel'], hostPortRange: '1-2' }),
    /use an absolute path/,
  );
});

test('volumes: host block devices, image files and directories are host paths; named volumes are not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-trust-vol-'));
  try {
    await writeFile(join(dir, 'disk.img'), '');
    const storage: VM['spec']['storage'] = {
      volumes: [
        { name: 'data', volume: { name: 'data' } },
        { name: 'dev', blockDevice: { path: '/dev/loop0' } },
        { name: 'img', file: { path: join(dir, 'disk.img') } },
        { name: 'www', directory: { path: dir } },
      ],
    };
    const closed: ManifestTrust = { allowHostPaths: [], hostPortRange: [30000, 32767] };
    const refused = await checkManifestTrust(HOST, vm({ storage }), closed);
    assert.deepEqual(
      refused.map((p) => p.path),
      [
        '.spec.storage.volumes[1].blockDevice.path',
        '.spec.storage.volumes[2].file.path',
        '.spec.storage.volumes[3].directory.path',
      ],
    );
    const open = await resolveManifestTrust(HOST, {
      allowHostPaths: [dir],
      hostPortRange: '30000-32767',
    });
    const left = await checkManifestTrust(HOST, vm({ storage }), open);
    assert.deepEqual(
      left.map((p) => p.path),
      ['.spec.storage.volumes[1].blockDevice.path'],
    );
    const named = await checkManifestTrust(
      HOST,
      vm({ storage: { volumes: [{ name: 'data', volume: { name: 'data' } }] } }),
      closed,
    );
    assert.deepEqual(named, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
