import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeServices } from '../../test/fakes/fake-services.js';
import { createAPIServer } from './api-server.js';
import { sendJSON } from './http-io.js';
import { API_BASE, Router } from './router.js';

const TOKEN = 'a-token-of-sixteen-chars';
let server: Server;
let base: string;
let host: string;

before(async () => {
  const router = new Router().add('POST', `${API_BASE}/vms/{name}/stop`, (c) => {
    sendJSON(c.res, 200, { stopped: c.params['name'] });
    return Promise.resolve();
  });
  server = createAPIServer({
    router,
    logger: fakeServices().logger,
    trusted: false,
    token: TOKEN,
    publicFiles: (req, res) => {
      if (req.url !== '/') return Promise.resolve(false);
      res.end('page');
      return Promise.resolve(true);
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  base = `http://${host}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('api server: the page is public, the API asks for the token', async () => {
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.equal(await page.text(), 'page');
  const cases: [path: string, headers: Record<string, string>, status: number][] = [
    [`${API_BASE}/vms/web/stop`, {}, 401],
    [`${API_BASE}/vms/web/stop`, { Authorization: 'Bearer wrong-token-of-16-chars' }, 401],
    [`${API_BASE}/vms/web/stop`, { Authorization: `Bearer ${TOKEN}` }, 200],
    // Not a public file: the token is asked for before anything else is said.
    ['/other', {}, 401],
  ];
  for (const [path, headers, status] of cases) {
    const res = await fetch(base + path, { method: 'POST', headers });
    assert.equal(res.status, status, `${path} ${JSON.stringify(headers)}`);
  }
});

test('api server: a request a page of another origin sent is refused', async () => {
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const cases: [origin: string | undefined, status: number][] = [
    [undefined, 200],
    [`http://${host}`, 200],
    ['http://evil.example', 403],
    ['null', 403],
  ];
  for (const [origin, status] of cases) {
    const res = await fetch(`${base}${API_BASE}/vms/web/stop`, {
      method: 'POST',
      headers: { ...auth, ...(origin === undefined ? {} : { Origin: origin }) },
    });
    assert.equal(res.status, status, String(origin));
    if (status === 403)
      assert.match(((await res.json()) as { detail: string }).detail, /not allowed/);
  }
});
