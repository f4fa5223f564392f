import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPortConflicts } from './vm-options.js';

test('checkPortConflicts refuses a host port mapped twice, per protocol', () => {
  checkPortConflicts([
    { hostPort: 53, vmPort: 53 },
    { hostPort: 53, vmPort: 53, protocol: 'udp' },
  ]);
  assert.throws(
    () =>
      checkPortConflicts([
        { hostPort: 80, vmPort: 80 },
        { hostPort: 80, vmPort: 8080 },
      ]),
    /80\/tcp is mapped twice/,
  );
});
