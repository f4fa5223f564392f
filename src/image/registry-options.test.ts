import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registryOptions } from './registry-options.js';

test('registryOptions: insecure registries always, the Docker config directory when set', () => {
  assert.deepEqual(registryOptions({ insecureRegistries: ['a:5000'] }), {
    insecureRegistries: ['a:5000'],
  });
  assert.deepEqual(registryOptions({ insecureRegistries: [], dockerConfigDir: '/etc/docker' }), {
    insecureRegistries: [],
    dockerConfigDir: '/etc/docker',
  });
});
