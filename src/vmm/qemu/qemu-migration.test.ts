import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { AppError } from '../../errors.js';
import { duplexPair, fakeQemu, type QMPCommand } from '../../../test/fixtures/vmm/fake-qmp.js';
import { digestFile } from '../saved-state.js';
import { awaitIncoming, migrateToFile } from './qemu-migration.js';
import { QMPClient } from './qmp-client.js';
import { withTempDir } from '../../../test/helpers/temp-dir.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const socketOf = (cmd: QMPCommand) => String(cmd.arguments?.uri).replace(/^unix:/, '');

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir('ignite-migration-test-', fn);

/** A stand-in QEMU whose `migrate` connects to the URI's socket and writes `stream`. */
function savingQemu(stream: Buffer, finalStatus: 'completed' | 'failed') {
  const [c, s] = duplexPair();
  let status = 'setup';
  const args: Record<string, unknown> = {};
  const seen = fakeQemu(s, (cmd) => {
    args[cmd.execute] = cmd.arguments;
    if (cmd.execute === 'migrate') {
      status = 'active';
      const sock = connect(socketOf(cmd), () => {
        sock.end(finalStatus === 'completed' ? stream : stream.subarray(0, 10), () => {
          status = finalStatus;
        });
      });
    }
    if (cmd.execute === 'query-migrate') {
      return {
        return: { status, ...(status === 'failed' ? { 'error-desc': 'Unable to write' } : {}) },
      };
    }
    return { return: {} };
  });
  return { client: c, seen, args };
}

test('migrateToFile: lifts the bandwidth cap, migrates to a private socket, polls to completion, writes and hashes every byte', async () => {
  await withDir(async (dir) => {
    const stream = randomBytes(3 * 1024 * 1024 + 17);
    const qemu = savingQemu(stream, 'completed');
    const { client } = await QMPClient.open(qemu.client, 'vm "t"');
    const dest = join(dir, 'state.partial');
    const digest = await migrateToFile(client, dest, { label: 'vm "t"' });
    assert.deepEqual(digest, { size: stream.length, sha256: sha256(stream) });
    assert.ok((await readFile(dest)).equals(stream));
    const order = qemu.seen.filter((c) => c !== 'query-migrate');
    assert.deepEqual(order, ['qmp_capabilities', 'migrate-set-parameters', 'migrate']);
    assert.equal(qemu.seen.at(-1), 'query-migrate');
    assert.ok(
      (qemu.args['migrate-set-parameters'] as { 'max-bandwidth': number })['max-bandwidth'] >
        1024 ** 3,
    );
    // The socket was in a private directory, which is gone.
    const uri = String((qemu.args.migrate as { uri: string }).uri);
    assert.match(uri, /^unix:.*ignite-state-.*\/migration\.sock$/);
    await assert.rejects(readFile(uri.slice('unix:'.length)), { code: 'ENOENT' });
    client.close();
  });
});

test('migrateToFile with a socket dir: the socket is made there and removed, the dir kept', async () => {
  await withDir(async (dir) => {
    const stream = randomBytes(4096);
    const qemu = savingQemu(stream, 'completed');
    const { client } = await QMPClient.open(qemu.client, 'vm "t"');
    const runDir = join(dir, 'run');
    await mkdir(runDir, { mode: 0o700 });
    await writeFile(join(runDir, 'control.sock'), '');
    const digest = await migrateToFile(client, join(dir, 'state.partial'), {
      label: 'vm "t"',
      socketDir: runDir,
    });
    assert.equal(digest.size, stream.length);
    assert.equal(
      String((qemu.args.migrate as { uri: string }).uri),
      `unix:${join(runDir, 'migrate.sock')}`,
    );
    assert.deepEqual(await readdir(runDir), ['control.sock'], 'only the migration socket went');
    client.close();
  });
});

test("migrateToFile: a failed migration rejects with QEMU's reason, naming the VM", async () => {
  await withDir(async (dir) => {
    const qemu = savingQemu(randomBytes(1024), 'failed');
    const { client } = await QMPClient.open(qemu.client, 'vm "web"');
    await assert.rejects(
      migrateToFile(client, join(dir, 'state.partial'), { label: 'vm "web"' }),
      (e: unknown) =>
        AppError.is(e, 'Internal') &&
        /^vm "web": qemu save failed: Unable to write/.test(e.message),
    );
    client.close();
  });
});

/**
 * A stand-in QEMU started with `-incoming fd:3`: it loads on its own, so QMP only sees its
 * status polled, `active` a few times, then `completed` or `failed`.
 */
function loadingQemu(loads: 'ok' | 'fails') {
  const [c, s] = duplexPair();
  let polls = 0;
  const seen = fakeQemu(s, (cmd) => {
    if (cmd.execute === 'query-migrate') {
      polls++;
      const status = polls < 3 ? 'active' : loads === 'ok' ? 'completed' : 'failed';
      return {
        return: {
          status,
          ...(status === 'failed' ? { 'error-desc': 'load of migration failed' } : {}),
        },
      };
    }
    return { return: {} };
  });
  return { client: c, seen };
}

test('awaitIncoming: waits for the load to complete and checks the file hashed meanwhile against the sidecar', async () => {
  await withDir(async (dir) => {
    const stream = randomBytes(2 * 1024 * 1024 + 5);
    const file = join(dir, 'state');
    await writeFile(file, stream);
    const qemu = loadingQemu('ok');
    const { client } = await QMPClient.open(qemu.client, 'vm "t"');
    const part = { suffix: '', size: stream.length, sha256: sha256(stream) };
    await awaitIncoming(client, file, part, digestFile(file), { label: 'vm "t"' });
    assert.deepEqual([...new Set(qemu.seen)], ['qmp_capabilities', 'query-migrate']);
    assert.ok(qemu.seen.filter((c) => c === 'query-migrate').length >= 3, 'polled to completion');
    client.close();
  });
});

test('awaitIncoming: bytes that differ from the sidecar are damage, whether or not QEMU loaded them', async () => {
  for (const loads of ['ok', 'fails'] as const) {
    await withDir(async (dir) => {
      const stream = randomBytes(64 * 1024);
      const file = join(dir, 'state');
      await writeFile(file, stream);
      const qemu = loadingQemu(loads);
      const { client } = await QMPClient.open(qemu.client, 'vm "t"');
      const part = { suffix: '', size: stream.length, sha256: sha256(Buffer.from('other')) };
      await assert.rejects(
        awaitIncoming(client, file, part, digestFile(file), { label: 'vm "t"' }),
        (e: unknown) =>
          AppError.is(e, 'FailedPrecondition') &&
          /^vm "t": saved state .*: damaged: .* does not match its recorded SHA-256/.test(
            e.message,
          ),
        loads,
      );
      client.close();
    });
  }
});

test('awaitIncoming: an intact file QEMU fails to load reports the load failure', async () => {
  await withDir(async (dir) => {
    const stream = randomBytes(1024);
    const file = join(dir, 'state');
    await writeFile(file, stream);
    const qemu = loadingQemu('fails');
    const { client } = await QMPClient.open(qemu.client, 'vm "t"');
    const part = { suffix: '', size: stream.length, sha256: sha256(stream) };
    await assert.rejects(
      awaitIncoming(client, file, part, digestFile(file), { label: 'vm "t"' }),
      /^AppError: vm "t": qemu restore failed: load of migration failed/,
    );
    client.close();
  });
});
