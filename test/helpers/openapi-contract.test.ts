import { AssertionError } from 'node:assert';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { API_VERSION, fromPlain, toPlain } from '../../src/api/index.js';
import { OpenAPIContract, type Exchange } from './openapi-contract.js';

const BASE = '/apis/ignite.weave.works/v1alpha1';
const contract = new OpenAPIContract();

const vm = toPlain(
  fromPlain({
    apiVersion: API_VERSION,
    kind: 'VM',
    metadata: { name: 'web', uid: '0123456789abcdef', labels: { app: 'web' } },
    spec: { image: { ociClaim: { ref: 'busybox' } } },
  }),
);
const problem = {
  type: 'about:blank',
  title: 'Not Found',
  status: 404,
  detail: 'vm "x": not found',
  code: 'NotFound',
};
const json = 'application/json';

function ok(x: Exchange): void {
  assert.deepEqual(contract.problems(x), []);
}
function bad(x: Exchange, pattern: RegExp): void {
  const problems = contract.problems(x);
  assert.ok(
    problems.some((p) => pattern.test(p)),
    `expected a problem matching ${String(pattern)}, got ${JSON.stringify(problems)}`,
  );
}

test('answers that keep the contract pass', () => {
  ok({
    method: 'GET',
    url: `${BASE}/vms/web`,
    status: 200,
    contentType: json,
    body: JSON.stringify(vm),
  });
  ok({
    method: 'GET',
    url: `${BASE}/vms?labelSelector=app=web`,
    status: 200,
    contentType: json,
    body: JSON.stringify({
      apiVersion: API_VERSION,
      kind: 'VMList',
      metadata: { resourceVersion: '7' },
      items: [vm],
    }),
  });
  ok({
    method: 'GET',
    url: `${BASE}/vms/x`,
    status: 404,
    contentType: 'application/problem+json',
    body: JSON.stringify(problem),
  });
  ok({
    method: 'GET',
    url: `${BASE}/vms?watch=true`,
    status: 200,
    contentType: 'application/x-ndjson',
    body: `${JSON.stringify({ type: 'ADDED', resourceVersion: '8', object: vm })}\n${JSON.stringify({ type: 'DELETED', resourceVersion: '9', object: vm })}\n`,
  });
  ok({
    method: 'GET',
    url: '/healthz',
    status: 200,
    contentType: 'text/plain; charset=utf-8',
    body: 'ok\n',
  });
  ok({
    method: 'PATCH',
    url: `${BASE}/vms/web`,
    status: 405,
    contentType: 'application/problem+json',
    body: JSON.stringify({ ...problem, status: 405, title: 'Method Not Allowed', code: 'HTTP' }),
  });
});

test('a deliberately wrong body is caught, with the field that is wrong', () => {
  const noSpec: Record<string, unknown> = { ...vm };
  delete noSpec['spec'];
  bad(
    {
      method: 'GET',
      url: `${BASE}/vms/web`,
      status: 200,
      contentType: json,
      body: JSON.stringify(noSpec),
    },
    /must have required property 'spec'/,
  );
  bad(
    {
      method: 'GET',
      url: `${BASE}/vms/web`,
      status: 200,
      contentType: json,
      body: JSON.stringify({ ...vm, extra: 1 }),
    },
    /must NOT have additional properties.*extra/,
  );
  bad(
    {
      method: 'GET',
      url: `${BASE}/vms`,
      status: 200,
      contentType: json,
      body: JSON.stringify({
        apiVersion: API_VERSION,
        kind: 'ImageList',
        metadata: { resourceVersion: '7' },
        items: [],
      }),
    },
    /\/kind must be equal to one of the allowed values/,
  );
  bad(
    {
      method: 'GET',
      url: `${BASE}/vms/x`,
      status: 404,
      contentType: 'application/problem+json',
      body: JSON.stringify({ ...problem, code: 'Missing' }),
    },
    /\/code must be equal to one of the allowed values/,
  );
  bad(
    {
      method: 'GET',
      url: `${BASE}/vms/web`,
      status: 200,
      contentType: json,
      body: '{"apiVersion":',
    },
    /not JSON/,
  );
});

test('each line of a stream is checked', () => {
  bad(
    {
      method: 'GET',
      url: `${BASE}/vms?watch=true`,
      status: 200,
      contentType: 'application/x-ndjson',
      body: `${JSON.stringify({ type: 'ADDED', resourceVersion: '8', object: vm })}\n${JSON.stringify({ type: 'CHANGED', resourceVersion: '9', object: vm })}\n`,
    },
    /line 2: \/type must be equal to one of the allowed values/,
  );
});

test('a status, content type, query parameter, method or path not in the spec is caught', () => {
  const get = {
    method: 'GET',
    url: `${BASE}/vms/web`,
    contentType: json,
    body: JSON.stringify(vm),
  };
  bad({ ...get, status: 418 }, /status 418 is not one the spec gives/);
  bad({ ...get, status: 200, contentType: 'text/html' }, /content type text\/html is not one of/);
  bad({ ...get, url: `${BASE}/vms/web?pretty=1`, status: 200 }, /query parameter "pretty"/);
  bad({ ...get, method: 'PATCH', status: 200 }, /has no PATCH/);
  bad({ ...get, url: `${BASE}/vmz`, status: 200 }, /no path of the spec matches/);
  bad(
    { ...get, method: 'PATCH', status: 405, contentType: 'text/plain' },
    /a 405 must be application\/problem\+json/,
  );
});

test('check throws an AssertionError that names the problems', () => {
  assert.throws(
    () =>
      contract.check({
        method: 'DELETE',
        url: `${BASE}/vms/web`,
        status: 200,
        contentType: json,
        body: JSON.stringify({
          apiVersion: API_VERSION,
          kind: 'Status',
          status: 'Failure',
          details: {},
        }),
      }),
    (err: unknown) =>
      err instanceof AssertionError && /breaks api\/openapi.json[\s\S]*\/status/.test(err.message),
  );
});
