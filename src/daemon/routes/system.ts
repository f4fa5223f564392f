import { allMetricsCollector } from '../../operations/metrics.js';
import { getVersionDetails } from '../../operations/version.js';
import { readBuildInfo } from '../../system/packaging.js';
import type { DaemonContext } from '../daemon-context.js';
import { sendJSON, sendText } from '../http-io.js';
import type { Router } from '../router.js';

/** `/version`, `/healthz` and `/metrics` (every running VM's and the manager's, merged). */
export function systemRoutes(router: Router, d: DaemonContext): void {
  const collect = allMetricsCollector(d.s);
  router.add('GET', '/version', async (c) => {
    sendJSON(c.res, 200, await getVersionDetails(d.s, readBuildInfo()));
  });
  router.add('GET', '/healthz', (c) => {
    sendText(c.res, 200, 'ok\n');
    return Promise.resolve();
  });
  router.add('GET', '/metrics', async (c) => {
    sendText(c.res, 200, await collect(), 'text/plain; version=0.0.4');
  });
}
