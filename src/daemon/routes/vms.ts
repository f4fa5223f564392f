import { Writable } from 'node:stream';
import {
  API_VERSION,
  fromPlainAs,
  parseLabelSelector,
  toPlain,
  type ActionOptions,
  type VM,
} from '../../api/index.js';
import { ActionOptionsSchema } from '../../api/v1alpha1/http.js';
import { invalidArgument, permissionDenied } from '../../errors.js';
import { streamLogs } from '../../operations/console.js';
import { createVM } from '../../operations/create-vm.js';
import { listVMs } from '../../operations/list-vms.js';
import { checkManifestTrust } from '../../operations/manifest-trust.js';
import { vmMetrics } from '../../operations/metrics.js';
import { removeVM } from '../../operations/remove-vm.js';
import { replaceVM } from '../../operations/replace-vm.js';
import { runVM } from '../../operations/run-vm.js';
import { startVM } from '../../operations/start-vm.js';
import { stopVM } from '../../operations/stop-vm.js';
import { refreshVMState } from '../../operations/vm-state.js';
import type { DaemonContext } from '../daemon-context.js';
import { bodyAs, readDocument, sendJSON, sendList, sendText } from '../http-io.js';
import { watchKind } from './watch.js';
import { API_BASE, type RouteContext, type Router } from '../router.js';

const VMS = `${API_BASE}/vms`;
const VM_PATH = `${VMS}/{name}`;

/** The VM routes: list, get, create (and run), replace, delete, start, stop, kill, logs, metrics. */
export function vmRoutes(router: Router, d: DaemonContext): void {
  const { s } = d;
  router.add('GET', VMS, async (c) => {
    if (flag(c, 'watch')) return watchKind(c, d, 'VM');
    const version = d.feed.version('VM');
    const select = parseLabelSelector(c.url.searchParams.get('labelSelector') ?? '');
    const vms = (await listVMs(s, { all: true, filters: [] })).filter((v) =>
      select(v.metadata.labels),
    );
    sendList(c.res, 'VM', version, vms);
  });
  router.add('POST', VMS, async (c) => {
    const vm = await manifestFrom(c, d);
    const created = flag(c, 'start')
      ? await runVM(
          s,
          { manifest: vm },
          { startTimeoutMs: d.startTimeoutMs, sshTimeoutMs: d.startTimeoutMs },
        )
      : await createVM(s, { manifest: vm });
    sendJSON(c.res, 201, toPlain(created));
  });
  router.add('GET', VM_PATH, async (c) => {
    sendJSON(c.res, 200, toPlain(await refreshVMState(s, await s.client.vms.find(name(c)))));
  });
  router.add('PUT', VM_PATH, async (c) => {
    const vm = await manifestFrom(c, d);
    sendJSON(c.res, 200, toPlain(await replaceVM(s, name(c), vm)));
  });
  router.add('DELETE', VM_PATH, async (c) => {
    const vm = await s.client.vms.find(name(c));
    await removeVM(s, vm.metadata.uid, { force: flag(c, 'force') });
    sendJSON(c.res, 200, deleted('VM', vm));
  });
  router.add('POST', `${VM_PATH}/start`, async (c) => {
    await optionalBody(c);
    sendJSON(c.res, 200, toPlain(await startVM(s, name(c), { timeoutMs: d.startTimeoutMs })));
  });
  router.add('POST', `${VM_PATH}/stop`, async (c) => {
    const body = await optionalBody(c);
    const timeoutMs = body.timeoutSeconds !== undefined ? body.timeoutSeconds * 1000 : undefined;
    const options = {
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(body.save === true ? { save: true } : {}),
    };
    sendJSON(c.res, 200, toPlain(await stopVM(s, name(c), options)));
  });
  router.add('POST', `${VM_PATH}/kill`, async (c) => {
    await optionalBody(c);
    sendJSON(c.res, 200, toPlain(await stopVM(s, name(c), { kill: true })));
  });
  router.add('GET', `${VM_PATH}/logs`, async (c) => {
    const vm = await s.client.vms.find(name(c));
    if (!flag(c, 'follow')) {
      // Buffered, so that a missing log is a clean 404 and not a broken stream.
      const chunks: Buffer[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          chunks.push(chunk);
          done();
        },
      });
      await streamLogs(s, vm.metadata.uid, sink);
      sendText(c.res, 200, Buffer.concat(chunks).toString('utf8'));
      return;
    }
    c.res.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
    });
    await s.runtimeFiles.followLog(vm.metadata.uid, 'console', c.res, c.signal);
    c.res.end();
  });
  router.add('GET', `${VM_PATH}/metrics`, async (c) => {
    sendText(c.res, 200, await vmMetrics(s, name(c)), 'text/plain; version=0.0.4');
  });
}

function name(c: RouteContext): string {
  const n = c.params['name'];
  if (n === undefined || n === '') throw invalidArgument('a VM name is required');
  return n;
}

/** A query flag: `?force=true` or `?force`. */
export function flag(c: RouteContext, key: string): boolean {
  const v = c.url.searchParams.get(key);
  if (v === null || v === 'false' || v === '0') return false;
  if (v === '' || v === 'true' || v === '1') return true;
  throw invalidArgument(`?${key}=${v}: expected true or false`);
}

/** What a DELETE answers: Kubernetes' Status of success, naming the object. */
export function deleted(kind: string, obj: { metadata: { name: string; uid: string } }) {
  return {
    apiVersion: API_VERSION,
    kind: 'Status',
    status: 'Success',
    details: { kind, name: obj.metadata.name, uid: obj.metadata.uid },
  };
}

/** The VM manifest of a request body, checked against the trust of a TCP client. */
export async function manifestFrom(c: RouteContext, d: DaemonContext): Promise<VM> {
  const doc = await readDocument(c.req);
  if (doc === undefined) throw invalidArgument('request body: a VM manifest is required');
  const vm = fromPlainAs('VM', doc, { source: 'request body', defaults: false });
  if (!c.trusted) {
    const problems = await checkManifestTrust(d.s, vm, d.trust);
    if (problems.length > 0)
      throw permissionDenied(
        `vm "${vm.metadata.name ?? ''}": not allowed over TCP: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
        { problems },
      );
  }
  return vm;
}

/** The optional `{ "timeoutSeconds": N }` body of an action. */
async function optionalBody(c: RouteContext): Promise<ActionOptions> {
  const doc = await readDocument(c.req);
  return doc === undefined ? {} : bodyAs(ActionOptionsSchema, doc, 'action options');
}
