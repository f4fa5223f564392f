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
