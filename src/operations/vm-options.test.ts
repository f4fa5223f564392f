import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import { checkPortConflicts, parseCopyFile, parseLabel, parsePortMapping } from './vm-options.js';

test('parsePortMapping reads hostPort:vmPort with an optional protocol', () => {
  const cases: [string, unknown][] = [
    ['8080:80', { hostPort: 8080, vmPort: 80 }],
    ['53:53/udp', { hostPort: 53, vmPort: 53, protocol: 'udp' }],
    ['443:6443/TCP', { hostPort: 443, vmPort: 6443 }],
  ];
  for (const [input, want] of cases) assert.deepEqual(parsePortMapping(input), want, input);
  for (const bad of ['80', '0:80', '70000:80', 'a:b', '80:80/sctp', '1:2:3']) {
    assert.throws(
      () => parsePortMapping(bad),
      (e: unknown) => AppError.is(e, 'InvalidArgument') && e.message.includes(bad),
      bad,
    );
  }
});

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

test('parseCopyFile needs two absolute paths', () => {
  assert.deepEqual(parseCopyFile('/etc/a:/root/a'), { hostPath: '/etc/a', vmPath: '/root/a' });
  for (const bad of ['/etc/a', 'rel:/x', '/x:rel', ':'])
    assert.throws(() => parseCopyFile(bad), AppError, bad);
});

test('parseLabel splits key=value and checks the key', () => {
  assert.deepEqual(parseLabel('env=prod'), ['env', 'prod']);
  assert.deepEqual(parseLabel('a.b/c=x=y'), ['a.b/c', 'x=y']);
  assert.deepEqual(parseLabel('flag'), ['flag', '']);
  for (const bad of ['=x', 'a b=c', '$(rm)=1']) assert.throws(() => parseLabel(bad), AppError, bad);
});
