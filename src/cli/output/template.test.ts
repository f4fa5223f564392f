import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Size } from '../../api/index.js';
import { renderTemplate } from './template.js';

test('templates print sizes as Ignite did, and their wire form under json', () => {
  const vm = {
    metadata: { name: 'web' },
    spec: { memory: Size.parse('1GB'), diskSize: Size.parse('4GB'), cpus: 2 },
  };
  assert.equal(renderTemplate('{{.Spec.Memory}} {{.Spec.DiskSize}}', vm), '1024.0 MB 4.0 GB');
  assert.equal(renderTemplate('{{json .Spec.Memory}} {{.Name}}', vm), '"1GB" web');
  assert.equal(renderTemplate('{{.Spec}}', vm), 'map[cpus:2 diskSize:4.0 GB memory:1024.0 MB]');
});
