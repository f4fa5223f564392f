import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { CNIResult, CNIRuntime, NetworkConfigList } from './cni/cni-runner.js';
import { IPAMReservations, RESERVE_IF, type IPAMRunner } from './ipam-reservations.js';
import { NetworkFiles } from './network-state.js';

const list: NetworkConfigList = {
  cniVersion: '1.0.0',
  name: 'test-net',
  plugins: [{ type: 'bridge', ipam: { type: 'host-local' } }],
};

/**
 * An IPAM that, like a plugin run by two processes at once, reads its next address, yields, and
 * only then writes it back: without the reservation lock, concurrent reserves would share one.
 */
class FakeIPAM implements IPAMRunner {
  next = 2;
  readonly calls: string[] = [];
  gives: 'ipv4' | 'ipv6' = 'ipv4';

  async ipam(command: 'ADD' | 'DEL', l: NetworkConfigList, rt: CNIRuntime): Promise<CNIResult> {
    this.calls.push(`${command} ${l.name} ${rt.containerId} ${rt.ifName} ${rt.args ?? ''}`.trim());
    if (command === 'DEL') return {};
    const n = this.next;
    await tick();
    this.next = n + 1;
    return { ips: [{ address: this.gives === 'ipv4' ? `10.9.0.${n}/24` : `fd00::${n}/64` }] };
  }
}

async function setup(t: TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-ipam-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const files = new NetworkFiles(dir);
  const ipam = new FakeIPAM();
  return { dir, files, ipam, reservations: new IPAMReservations(files, ipam) };
}

const A = '00000000000000aa';

test('a reservation is held under the placeholder interface and kept in <uid>.reservation.json', async (t) => {
  const { files, ipam, reservations } = await setup(t);
  assert.equal(await reservations.reserve(A, list, 'vm "a"'), '10.9.0.2');
  assert.deepEqual(ipam.calls, [`ADD test-net ignite-${A} ${RESERVE_IF}`]);
  assert.deepEqual(JSON.parse(await readFile(files.file(A, '.reservation.json'), 'utf8')), {
    ip: '10.9.0.2',
    list,
  });
  assert.equal(await reservations.reserve(A, list, 'vm "a"'), '10.9.0.2');
  assert.equal(ipam.calls.length, 1, 'a repeated reserve asks IPAM nothing');
  assert.equal(await reservations.get(A), '10.9.0.2');
  assert.equal((await readdir(files.dir)).includes(`${A}.reservation.json.tmp`), false);
});

test('concurrent reserves, through separate instances as separate processes, get distinct addresses', async (t) => {
  const { files, ipam } = await setup(t);
  const uids = Array.from({ length: 8 }, (_, i) => `00000000000000${i}${i}`);
  const ips = await Promise.all(
    uids.map((u) => new IPAMReservations(files, ipam).reserve(u, list, `vm ${u}`)),
  );
  assert.equal(new Set(ips).size, 8, ips.join(' '));
});

test('a reserve that gets no IPv4 address gives back what it got and keeps no file', async (t) => {
  const { files, ipam, reservations } = await setup(t);
  ipam.gives = 'ipv6';
  await assert.rejects(
    reservations.reserve(A, list, 'vm "a"'),
    (e: Error) => e.message === 'vm "a": network "test-net" gave no IPv4 address',
  );
  assert.deepEqual(ipam.calls, [
    `ADD test-net ignite-${A} ${RESERVE_IF}`,
    `DEL test-net ignite-${A} ${RESERVE_IF}`,
  ]);
  assert.equal(await files.readReservation(A), undefined);
});

test('hand-over: the placeholder lets go, attach asks for that address, the reservation ends', async (t) => {
  const { files, ipam, reservations } = await setup(t);
  await reservations.reserve(A, list, 'vm "a"');
  const seen = await reservations.handOver(A, 'vm "a"', (r) => Promise.resolve(r?.ip));
  assert.equal(seen, '10.9.0.2');
  assert.equal(ipam.calls[1], `DEL test-net ignite-${A} ${RESERVE_IF}`);
  assert.equal(await files.readReservation(A), undefined);
  assert.equal(await reservations.handOver(A, 'vm "a"', (r) => Promise.resolve(r)), undefined);
  assert.equal(ipam.calls.length, 2, 'nothing to hand over: no IPAM call');
});

test('a failed hand-over holds the reserved address again and keeps the reservation', async (t) => {
  const { files, ipam, reservations } = await setup(t);
  await reservations.reserve(A, list, 'vm "a"');
  await assert.rejects(
    reservations.handOver(A, 'vm "a"', () => Promise.reject(new Error('bridge failed'))),
    /bridge failed/,
  );
  assert.deepEqual(ipam.calls.slice(1), [
    `DEL test-net ignite-${A} ${RESERVE_IF}`,
    `ADD test-net ignite-${A} ${RESERVE_IF} IgnoreUnknown=1;IP=10.9.0.2`,
  ]);
  assert.equal((await files.readReservation(A))?.ip, '10.9.0.2');
});

test('release removes what a reserve killed while recording it left: its temp file', async (t) => {
  const { dir, files, ipam, reservations } = await setup(t);
  await files.ensureDir();
  await writeFile(`${files.file(A, '.reservation.json')}.tmp`, '{"ip":');
  await reservations.release(A, 'vm "a"');
  assert.deepEqual(ipam.calls, [], 'no address recorded, none given back here');
  assert.deepEqual(await readdir(join(dir, 'network')), []);
});

test('release gives the address back once; releasing again or an unknown VM asks nothing', async (t) => {
  const { files, ipam, reservations } = await setup(t);
  await reservations.reserve(A, list, 'vm "a"');
  await reservations.release(A, 'vm "a"');
  await reservations.release(A, 'vm "a"');
  await reservations.release('00000000000000bb', 'vm "b"');
  assert.deepEqual(ipam.calls.slice(1), [`DEL test-net ignite-${A} ${RESERVE_IF}`]);
  assert.equal(await files.readReservation(A), undefined);
});
