import { toPlain } from '../../api/index.js';
import { ImportRequestSchema } from '../../api/v1alpha1/http.js';
import { invalidArgument } from '../../errors.js';
import type { PullProgress } from '../../image/index.js';
import { importImage, importKernel, isLocalSource } from '../../operations/import-image.js';
import { removeImageOrKernel } from '../../operations/remove-artifact.js';
import { removeVM } from '../../operations/remove-vm.js';
import type { DaemonContext } from '../daemon-context.js';
import { toProblem } from '../http-error.js';
import { bodyAs, readDocument, sendJSON, sendList, startJSONLines } from '../http-io.js';
import { API_BASE, type RouteContext, type Router } from '../router.js';
import { deleted, flag } from './vms.js';
import { watchKind } from './watch.js';

/** Images and kernels: list, get, import (by reference, with progress as a stream), delete. */
export function artifactRoutes(router: Router, d: DaemonContext): void {
  const { s } = d;
  for (const kind of ['Image', 'Kernel'] as const) {
    const base = `${API_BASE}/${kind.toLowerCase()}s`;
    const kc = kind === 'Image' ? s.client.images : s.client.kernels;
    router.add('GET', base, async (c) => {
      if (flag(c, 'watch')) return watchKind(c, d, kind);
      const version = d.feed.version(kind);
      const items = await kc.list();
      sendList(c.res, kind, version, items);
    });
    router.add('GET', `${base}/{name}`, async (c) => {
      sendJSON(c.res, 200, toPlain(await kc.find(c.params['name'] ?? '')));
    });
    router.add('DELETE', `${base}/{name}`, async (c) => {
      const obj = await kc.find(c.params['name'] ?? '');
      await removeImageOrKernel(s, kind, obj.metadata.uid, {
        force: flag(c, 'force'),
        removeVM: (vm) => removeVM(s, vm, { force: true }),
      });
      sendJSON(c.res, 200, deleted(kind, obj));
    });
    router.add('POST', base, async (c) => {
      const ref = await refOf(c, kind);
      if (kind === 'Image' && (await isLocalSource(s, ref)))
        throw invalidArgument(`image "${ref}": importing files is done with the CLI on the host`, {
          hint: 'give a registry reference',
        });
      const run = (progress?: PullProgress) =>
        kind === 'Image'
          ? importImage(s, ref, progress ? { progress } : {})
          : importKernel(s, ref, progress ? { progress } : {});
      const accept = String(c.req.headers.accept ?? '');
      if (!accept.includes('application/x-ndjson')) {
        sendJSON(c.res, 201, toPlain(await run()));
        return;
      }
      const lines = startJSONLines(c.res, 201);
      try {
        const obj = await run({
          layer: (digest, total) => lines.write({ type: 'progress', layer: digest, total }),
          bytes: (digest, n) => lines.write({ type: 'progress', layer: digest, bytes: n }),
          phase: (phase) => lines.write({ type: 'progress', phase }),
        });
        lines.write({ type: 'result', object: toPlain(obj) });
      } catch (err) {
        lines.write({ type: 'error', error: toProblem(err).problem });
      }
      lines.end();
    });
  }
}

async function refOf(c: RouteContext, kind: string): Promise<string> {
  const doc = (await readDocument(c.req)) ?? {};
  return bodyAs(ImportRequestSchema, doc, `expected { "ref": "<${kind.toLowerCase()} reference>" }`)
    .ref;
}
