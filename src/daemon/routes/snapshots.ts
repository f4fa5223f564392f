import { toPlain } from '../../api/index.js';
import { SnapshotRequestSchema } from '../../api/v1alpha1/http.js';
import { invalidArgument } from '../../errors.js';
import { localSnapshotEngine } from '../../operations/local-engine.js';
import type { DaemonContext } from '../daemon-context.js';
import { bodyAs, readDocument, sendJSON, sendList } from '../http-io.js';
import { API_BASE, type RouteContext, type Router } from '../router.js';
import { deleted, flag, manifestFrom } from './vms.js';

const SNAPSHOTS = `${API_BASE}/snapshots`;
const SNAPSHOT_PATH = `${SNAPSHOTS}/{name}`;

/**
 * Snapshots (docs/snapshots.md): list, get, create of a running VM, delete, and a clone made and
 * started from one. The VM, its snapshots and their clones stay on this host.
 */
export function snapshotRoutes(router: Router, d: DaemonContext): void {
  const snaps = localSnapshotEngine(d.s);
  router.add('GET', SNAPSHOTS, async (c) => {
    const version = d.feed.version('Snapshot');
    const items = await snaps.listSnapshots();
    sendList(c.res, 'Snapshot', version, items);
  });
  router.add('POST', SNAPSHOTS, async (c) => {
    const doc = await readDocument(c.req);
    if (doc === undefined) throw invalidArgument('request body: a snapshot request is required');
    const body = bodyAs(SnapshotRequestSchema, doc, 'snapshot request');
    const snap = await snaps.createSnapshot(body.vm, {
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.stop !== undefined ? { stop: body.stop } : {}),
      ...(body.timeoutSeconds !== undefined ? { timeoutMs: body.timeoutSeconds * 1000 } : {}),
    });
    sendJSON(c.res, 201, toPlain(snap));
  });
  router.add('GET', SNAPSHOT_PATH, async (c) => {
    sendJSON(c.res, 200, toPlain(await snaps.findSnapshot(name(c))));
  });
  router.add('DELETE', SNAPSHOT_PATH, async (c) => {
    const snap = await snaps.findSnapshot(name(c));
    await snaps.removeSnapshot(snap.metadata.uid, { force: flag(c, 'force') });
    sendJSON(c.res, 200, deleted('Snapshot', snap));
  });
  router.add('POST', `${SNAPSHOT_PATH}/clone`, async (c) => {
    const manifest = await manifestFrom(c, d);
    const start = flag(c, 'start')
      ? { start: { timeoutMs: d.startTimeoutMs, sshTimeoutMs: d.startTimeoutMs } }
      : {};
    sendJSON(c.res, 201, toPlain(await snaps.cloneSnapshot(name(c), manifest, start)));
  });
}

function name(c: RouteContext): string {
  const n = c.params['name'];
  if (n === undefined || n === '') throw invalidArgument('a snapshot name is required');
  return n;
}
