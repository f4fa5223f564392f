import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import {
  collect,
  parseCopyFile,
  parseDuration,
  parseLabel,
  parsePortMapping,
  parseSize,
} from './options.js';

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

test('parseDuration takes ms, s, m, h or plain seconds', () => {
  const cases: [string, number][] = [
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5', 1500],
    [' 10s ', 10_000],
  ];
  for (const [input, want] of cases) assert.equal(parseDuration(input), want, input);
  for (const bad of ['', 's', '10d', '-1s', '1 s'])
    assert.throws(() => parseDuration(bad), /duration ".*": expected a number/, bad);
});

test('parseSize names the flag in its error', () => {
  assert.equal(parseSize('--memory', '1GB').toString(), '1GB');
  assert.throws(() => parseSize('--memory', 'lots'), /^AppError: --memory lots: /);
});

test('collect gathers a repeatable option', () => {
  assert.deepEqual(collect('b', collect('a', [])), ['a', 'b']);
});
