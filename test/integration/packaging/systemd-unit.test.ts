import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SOCKET, parseListenAddress } from '../../../src/daemon/listen-address.js';

const UNIT = join(import.meta.dirname, '../../../packaging/ignited.service');

/** The unit's keys by section (`Service.KillMode`), the last value of a key winning. */
async function readUnit(): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  let section = '';
  for (const raw of (await readFile(UNIT, 'utf8')).split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const head = /^\[(\w+)\]$/.exec(line);
    if (head?.[1]) section = head[1];
    else {
      const i = line.indexOf('=');
      assert.ok(i > 0, `packaging/ignited.service: not a key=value line: ${line}`);
      keys.set(`${section}.${line.slice(0, i)}`, line.slice(i + 1));
    }
  }
  return keys;
}

test('ignited.service leaves VM supervisors alone on stop and restarts the daemon on failure', async () => {
  const unit = await readUnit();
  assert.equal(unit.get('Service.Type'), 'simple');
  assert.equal(unit.get('Service.KillMode'), 'process');
  assert.equal(unit.get('Service.Restart'), 'on-failure');
  assert.equal(unit.get('Install.WantedBy'), 'multi-user.target');
});

test("ignited.service serves the daemon's default socket, in the runtime directory systemd makes", async () => {
  const unit = await readUnit();
  const argv = (unit.get('Service.ExecStart') ?? '').split(/\s+/);
  assert.match(argv[0] ?? '', /\/ignited$/);
  assert.equal(argv[1], 'daemon');
  const listen = argv[argv.indexOf('--listen') + 1] ?? '';
  const addr = parseListenAddress(listen);
  assert.ok(addr.kind === 'unix');
  assert.equal(addr.path, DEFAULT_SOCKET);
  assert.equal(dirname(addr.path), `/run/${unit.get('Service.RuntimeDirectory') ?? ''}`);
});
