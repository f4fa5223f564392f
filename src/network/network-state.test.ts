import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkFiles, type NetworkState } from './network-state.js';

const UID = '0123456789abcdef';
const list = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge' }] };
const state: NetworkState = {
  uid: UID,
  netns: `ignite-${UID}`,
  list,
  runtime: {
    containerId: `ignite-${UID}`,
    netns: `/run/netns/ignite-${UID}`,
    ifName: 'eth0',
    portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
  },
  result: { cniVersion: '1.0.0', ips: [{ address: '10.61.0.7/16', gateway: '10.61.0.1' }] },
  dhcpPid: 4242,
};

async function files(t: TestContext): Promise<NetworkFiles> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ignite-netstate-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  return new NetworkFiles(dataDir);
}

test('the state lives in <dataDir>/network/<uid>.json, written whole, readable only by root', async (t) => {
  const f = await files(t);
  assert.equal(f.file(UID, '.json'), join(f.dir, `${UID}.json`));
  assert.equal(await f.readState(UID), undefined);
  await f.saveState(state);
  assert.deepEqual(await f.readState(UID), state);
  await f.saveState({ ...state, dhcpPid: 4343 });
  assert.equal((await f.readState(UID))?.dhcpPid, 4343);
  assert.deepEqual(await readdir(f.dir), [`${UID}.json`], 'no temporary file stays');
  assert.equal((await stat(f.dir)).mode & 0o777, 0o700);
  assert.equal((await stat(f.file(UID, '.json'))).mode & 0o777, 0o600);
});

test('an unreadable state file reads as no state', async (t) => {
  const f = await files(t);
  await f.ensureDir();
  await writeFile(f.file(UID, '.json'), '{"uid": "01');
  assert.equal(await f.readState(UID), undefined);
});

test('reservations round-trip, and removing an attachment leaves the reservation', async (t) => {
  const f = await files(t);
  await f.saveReservation(UID, { ip: '10.61.0.9', list });
  assert.deepEqual(await f.readReservation(UID), { ip: '10.61.0.9', list });
  await f.saveState(state);
  // With the temp files of writes killed before their rename: removed with their files.
  for (const suffix of ['.udhcpd.conf', '.leases', '.dhcp.log', '.json.tmp'])
    await writeFile(f.file(UID, suffix), 'x');
  await writeFile(f.file('fedcba9876543210', '.json'), '{}');
  await f.removeAttachment(UID);
  assert.deepEqual((await readdir(f.dir)).sort(), [
    `${UID}.reservation.json`,
    'fedcba9876543210.json',
  ]);
  await writeFile(f.file(UID, '.reservation.json.tmp'), 'x');
  await f.removeReservation(UID);
  await f.removeReservation(UID);
  assert.equal(await f.readReservation(UID), undefined);
  assert.deepEqual(await readdir(f.dir), ['fedcba9876543210.json']);
});

test('the directory is absolute whatever the data dir is given as', () => {
  assert.equal(new NetworkFiles('data').dir, join(process.cwd(), 'data', 'network'));
});
