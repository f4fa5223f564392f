import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import {
  collect,
  parseCopyFile,
  parseDuration,
  parseLabel,
  parseNetworks,
  parsePortMapping,
  parseSize,
} from './options.js';

test('parsePortMapping reads [network:]hostPort:vmPort with an optional protocol', () => {
  const cases: [string, unknown][] = [
    ['8080:80', { hostPort: 8080, vmPort: 80 }],
    ['lab:8080:80', { hostPort: 8080, vmPort: 80, network: 'lab' }],
    ['back-2:53:53/udp', { hostPort: 53, vmPort: 53, protocol: 'udp', network: 'back-2' }],
    ['53:53/udp', { hostPort: 53, vmPort: 53, protocol: 'udp' }],
    ['443:6443/TCP', { hostPort: 443, vmPort: 6443 }],
  ];
  for (const [input, want] of cases) assert.deepEqual(parsePortMapping(input), want, input);
  for (const bad of ['80', '0:80', '70000:80', 'a:b', '80:80/sctp', '1:2:3', '-x:1:2', 'a b:1:2']) {
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

test('parseNetworks reads NAME[,ip=][,mac=] in order, with --ip and --mac for the first', () => {
  assert.deepEqual(parseNetworks(['a', 'b,ip=10.71.0.9,mac=02:00:00:00:00:0B']), [
    { name: 'a' },
    { name: 'b', ip: '10.71.0.9', mac: '02:00:00:00:00:0b' },
  ]);
  assert.deepEqual(parseNetworks(['a', 'b'], '10.70.0.10', '02:00:00:00:00:0a'), [
    { name: 'a', ip: '10.70.0.10', mac: '02:00:00:00:00:0a' },
    { name: 'b' },
  ]);
  assert.deepEqual(parseNetworks([]), []);
});

test('parseNetworks refuses bad values with the flag named', () => {
  const cases: [string[], string | undefined, string | undefined, RegExp][] = [
    [['A!'], undefined, undefined, /--network "A!": expected NAME/],
    [['a,ip=10.70.0.300'], undefined, undefined, /--network a,ip "10.70.0.300"/],
    [['a,mac=01:00:00:00:00:01'], undefined, undefined, /unicast MAC/],
    [['a,port=3'], undefined, undefined, /unknown or repeated "port"/],
    [['a,ip=10.0.0.1,ip=10.0.0.2'], undefined, undefined, /repeated "ip"/],
    [[], '10.70.0.10', undefined, /--ip: give the network with --network NAME/],
    [[], undefined, '02:00:00:00:00:01', /--mac: give the network/],
    [['a,ip=10.70.0.9'], '10.70.0.10', undefined, /--ip 10.70.0.10: network "a" has ip= already/],
    [['a'], 'x', undefined, /--ip "x"/],
  ];
  for (const [values, ip, mac, message] of cases)
    assert.throws(() => parseNetworks(values, ip, mac), message, values.join(' '));
});
