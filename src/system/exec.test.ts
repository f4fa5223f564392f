import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withAdminDirs } from './exec.js';

test('withAdminDirs: the sbin directories follow a user PATH that lacks them, once each', () => {
  assert.equal(
    withAdminDirs('/usr/local/bin:/usr/bin:/bin'),
    '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin',
  );
  assert.equal(withAdminDirs('/usr/sbin:/usr/bin'), '/usr/sbin:/usr/bin:/usr/local/sbin:/sbin');
  assert.equal(withAdminDirs(undefined), '/usr/local/sbin:/usr/sbin:/sbin');
  assert.equal(withAdminDirs(withAdminDirs('/bin')), withAdminDirs('/bin'));
});
