import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import { KINDS } from './index.js';

const SPEC = join(import.meta.dirname, '../../api/openapi.json');

test('api/openapi.json is a valid OpenAPI 3 document with every kind', async () => {
  const doc = JSON.parse(readFileSync(SPEC, 'utf8')) as {
    openapi: string;
    components: { schemas: Record<string, unknown> };
  };
  assert.match(doc.openapi, /^3\./);
  await SwaggerParser.validate(structuredClone(doc) as never);
  for (const k of KINDS) assert.ok(doc.components.schemas[k], k);
});

test('api/openapi.json describes every operation of the daemon', () => {
  const doc = JSON.parse(readFileSync(SPEC, 'utf8')) as {
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  };
  const base = '/apis/ignite.weave.works/v1alpha1';
  const want: [string, string][] = [
    ['get', `${base}/vms`],
    ['post', `${base}/vms`],
    ['get', `${base}/vms/{name}`],
    ['put', `${base}/vms/{name}`],
    ['delete', `${base}/vms/{name}`],
    ['post', `${base}/vms/{name}/start`],
    ['post', `${base}/vms/{name}/stop`],
    ['post', `${base}/vms/{name}/kill`],
    ['get', `${base}/vms/{name}/logs`],
    ['get', `${base}/vms/{name}/metrics`],
    ['get', `${base}/vms/{name}/console`],
    ['get', `${base}/vms/{name}/exec`],
    ['get', `${base}/snapshots`],
    ['post', `${base}/snapshots`],
    ['get', `${base}/snapshots/{name}`],
    ['delete', `${base}/snapshots/{name}`],
    ['post', `${base}/snapshots/{name}/clone`],
    ['get', `${base}/events`],
    ['get', '/version'],
    ['get', '/healthz'],
    ['get', '/metrics'],
    ['get', '/'],
  ];
  for (const plural of ['images', 'kernels'])
    want.push(
      ['get', `${base}/${plural}`],
      ['post', `${base}/${plural}`],
      ['get', `${base}/${plural}/{name}`],
      ['delete', `${base}/${plural}/{name}`],
    );
  for (const [method, path] of want) {
    const o = doc.paths[path]?.[method];
    assert.ok(o, `${method.toUpperCase()} ${path}`);
    assert.ok(
      Object.keys(o.responses).some((s) => s < '400'),
      `${method} ${path}: a success`,
    );
  }
  assert.ok(doc.paths[`${base}/vms/{name}/console`]?.['get']?.responses['101']);
});
