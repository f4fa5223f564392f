import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVersion, probeTools } from './tool-versions.js';

test('versions are read from the first line that has one', () => {
  assert.deepEqual(parseVersion('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\nCopyright'), {
    found: true,
    version: '7.2.22',
    line: 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)',
  });
  assert.equal(parseVersion('mke2fs 1.47.0 (5-Feb-2023)').version, '1.47.0');
  assert.equal(parseVersion('iptables v1.8.9 (nf_tables)').version, '1.8.9');
  assert.equal(parseVersion('OpenSSH_9.2p1 Debian-2+deb12u10').version, '9.2');
  assert.equal(parseVersion('Firecracker v1.7.0\n').version, '1.7.0');
  assert.deepEqual(parseVersion(''), { found: true });
});

test('a missing program is reported as not found, and real ones are probed', async () => {
  const found = await probeTools(
    [
      { name: 'git', command: ['git', '--version'] },
      { name: 'nope', command: ['ignite-no-such-program', '--version'] },
    ],
    process.env,
  );
  assert.equal(found['nope']?.found, false);
  assert.equal(found['git']?.found, true);
  assert.match(found['git']?.version ?? '', /^\d+\.\d+/);
});
