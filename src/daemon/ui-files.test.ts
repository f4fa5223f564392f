import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { isUIPath, UIFiles } from './ui-files.js';

const FILES: Record<string, string> = {
  'index.html': '<!doctype html><title>ignite</title>',
  'app.js': 'console.log(1)',
  'app.css': 'body{}',
  'xterm.css': '.xterm{}',
};
const reads: string[] = [];
let server: Server;
let base: string;

before(async () => {
  const ui = new UIFiles((name) => {
    reads.push(name);
    return name in FILES ? Buffer.from(FILES[name] ?? '') : undefined;
  });
  server = createServer((req, res) => ui.handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('isUIPath: / and /ui/…, not the API', () => {
  for (const p of ['/', '/ui', '/ui/', '/ui/app.js', '/ui/../etc'])
    assert.equal(isUIPath(p), true, p);
  for (const p of ['/apis/ignite.weave.works/v1alpha1/vms', '/healthz', '/uix', '/index.html'])
    assert.equal(isUIPath(p), false, p);
});

test('UIFiles: each file with its type, caching headers, and the page its policy', async () => {
  const cases: [path: string, type: string, body: string][] = [
    ['/', 'text/html; charset=utf-8', FILES['index.html'] ?? ''],
    ['/?x=1', 'text/html; charset=utf-8', FILES['index.html'] ?? ''],
    ['/ui/', 'text/html; charset=utf-8', FILES['index.html'] ?? ''],
    ['/ui/app.js', 'text/javascript; charset=utf-8', FILES['app.js'] ?? ''],
    ['/ui/app.css', 'text/css; charset=utf-8', FILES['app.css'] ?? ''],
    ['/ui/xterm.css', 'text/css; charset=utf-8', FILES['xterm.css'] ?? ''],
  ];
  for (const [path, type, body] of cases) {
    const res = await fetch(base + path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('content-type'), type, path);
    assert.equal(res.headers.get('cache-control'), 'no-cache', path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    assert.match(res.headers.get('etag') ?? '', /^"[A-Za-z0-9_-]{27}"$/, path);
    assert.equal(await res.text(), body, path);
    const csp = res.headers.get('content-security-policy');
    if (type.startsWith('text/html')) assert.match(csp ?? '', /frame-ancestors 'none'/, path);
    else assert.equal(csp, null, path);
  }
  // Read once each, then served from memory.
  assert.deepEqual([...new Set(reads)].sort(), ['app.css', 'app.js', 'index.html', 'xterm.css']);
  assert.equal(reads.length, 4);
});

test('UIFiles: a matching If-None-Match gets 304 without a body; HEAD gets no body', async () => {
  const first = await fetch(`${base}/ui/app.js`);
  const etag = first.headers.get('etag') ?? '';
  const again = await fetch(`${base}/ui/app.js`, {
    headers: { 'If-None-Match': `W/"x", ${etag}` },
  });
  assert.equal(again.status, 304);
  assert.equal(await again.text(), '');
  const stale = await fetch(`${base}/ui/app.js`, { headers: { 'If-None-Match': '"other"' } });
  assert.equal(stale.status, 200);
  const head = await fetch(`${base}/ui/app.js`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(FILES['app.js']?.length));
  assert.equal(await head.text(), '');
});

test('UIFiles: only the listed files; other methods refused; /ui redirects', async () => {
  for (const path of ['/ui/nope.js', '/ui/../package.json', '/ui/%2e%2e/x', '/ui/app.js/']) {
    const res = await fetch(base + path);
    assert.equal(res.status, 404, path);
    assert.equal(res.headers.get('content-type'), 'application/problem+json', path);
  }
  const post = await fetch(`${base}/ui/app.js`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  const redirect = await fetch(`${base}/ui`, { redirect: 'manual' });
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.get('location'), '/ui/');
});

test('UIFiles: a page that was not built is a clear 404, found once it is', async () => {
  let built = false;
  const ui = new UIFiles((name) => (built ? Buffer.from(name) : undefined));
  const s = createServer((req, res) => ui.handle(req, res));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/`;
    const missing = await fetch(url);
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { detail: string }).detail, /index.html is not built/);
    built = true;
    assert.equal(await (await fetch(url)).text(), 'index.html');
  } finally {
    await new Promise<void>((r) => s.close(() => r()));
  }
});
