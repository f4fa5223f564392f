import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { AppError } from '../errors.js';
import { formatExposition, parseExposition, type MetricFamily } from './exposition.js';

const FIXTURE = join(import.meta.dirname, '../../test/fixtures/metrics/exposition.txt');

test('parses the format: HELP/TYPE, labels, escapes, special values, timestamps, suffixes', async () => {
  const families = parseExposition(await readFile(FIXTURE, 'utf8'));
  const byName = new Map(families.map((f) => [f.name, f]));
  assert.deepEqual(
    families.map((f) => [f.name, f.type, f.samples.length]),
    [
      ['http_requests_total', 'counter', 2],
      ['msdos_file_access_time_seconds', 'gauge', 1],
      ['metric_without_timestamp_and_labels', 'untyped', 1],
      ['something_weird', 'gauge', 3],
      ['http_request_duration_seconds', 'histogram', 5],
      ['rpc_duration_seconds', 'summary', 4],
      ['spaced_out', 'untyped', 1],
    ],
  );
  assert.deepEqual(byName.get('http_requests_total')?.samples[1], {
    name: 'http_requests_total',
    labels: [
      ['method', 'post'],
      ['code', '400'],
    ],
    value: 3,
    timestampMs: 1395066363000,
  });
  const msdos = byName.get('msdos_file_access_time_seconds');
  assert.equal(msdos?.help, 'Escapes in HELP: a backslash \\ and a\nnewline.');
  assert.deepEqual(msdos?.samples[0]?.labels, [
    ['path', 'C:\\DIR\\FILE.TXT'],
    ['error', 'Cannot find file:\n"FILE.TXT"'],
  ]);
  assert.equal(msdos?.samples[0]?.value, 1458255915);
  assert.deepEqual(
    byName.get('something_weird')?.samples.map((s) => [s.value, s.timestampMs]),
    [
      [Infinity, -3982045],
      [-Infinity, undefined],
      [NaN, undefined],
    ],
  );
  assert.deepEqual(
    byName.get('http_request_duration_seconds')?.samples.map((s) => s.name),
    [
      'http_request_duration_seconds_bucket',
      'http_request_duration_seconds_bucket',
      'http_request_duration_seconds_bucket',
      'http_request_duration_seconds_sum',
      'http_request_duration_seconds_count',
    ],
  );
  assert.equal(byName.get('rpc_duration_seconds')?.samples[2]?.value, 17560473);
  assert.deepEqual(byName.get('spaced_out')?.samples[0]?.labels, [
    ['a', '1'],
    ['b', '2'],
  ]);
});

test('format then parse gives back the same families', async () => {
  const families = parseExposition(await readFile(FIXTURE, 'utf8'));
  const printed = formatExposition(families);
  assert.deepEqual(parseExposition(printed), families);
  assert.match(
    printed,
    /^# HELP msdos_file_access_time_seconds .*backslash \\\\ and a\\nnewline\.$/m,
  );
  assert.match(printed, /error="Cannot find file:\\n\\"FILE.TXT\\""/);
  assert.match(printed, /^something_weird\{problem="division by zero"\} \+Inf -3982045$/m);
  assert.equal(formatExposition([]), '');
});

test('reads what prom-client writes, label values with quotes and backslashes included', async () => {
  const registry = new Registry();
  const counter = new Counter({
    name: 'odd_total',
    help: 'Help with \\ and\nnewline.',
    labelNames: ['v'],
    registers: [registry],
  });
  const odd = 'a "quoted" \\ back\nslash';
  counter.inc({ v: odd }, 2.5);
  const hist = new Histogram({
    name: 'dur_seconds',
    help: 'h',
    buckets: [0.1, 1],
    registers: [registry],
  });
  hist.observe(0.5);
  const families = parseExposition(await registry.metrics());
  const expected: MetricFamily[] = [
    {
      name: 'odd_total',
      help: 'Help with \\ and\nnewline.',
      type: 'counter',
      samples: [{ name: 'odd_total', labels: [['v', odd]], value: 2.5 }],
    },
    {
      name: 'dur_seconds',
      help: 'h',
      type: 'histogram',
      samples: [
        { name: 'dur_seconds_bucket', labels: [['le', '0.1']], value: 0 },
        { name: 'dur_seconds_bucket', labels: [['le', '1']], value: 1 },
        { name: 'dur_seconds_bucket', labels: [['le', '+Inf']], value: 1 },
        { name: 'dur_seconds_sum', labels: [], value: 0.5 },
        { name: 'dur_seconds_count', labels: [], value: 1 },
      ],
    },
  ];
  assert.deepEqual(families, expected);
});

test('a sample with a suffix but no histogram or summary family is a family of its own', () => {
  const families = parseExposition('# TYPE a gauge\na 1\na_count 2\n');
  assert.deepEqual(
    families.map((f) => [f.name, f.type]),
    [
      ['a', 'gauge'],
      ['a_count', 'untyped'],
    ],
  );
});

test('rejects malformed expositions, naming the line', () => {
  const cases: [string, RegExp][] = [
    ['ok 1\n1bad 2', /line 2: expected a metric name/],
    ['m{a="1" 2', /line 1: m: expected "," or "}"/],
    ['m{a="1} 2', /unterminated label value/],
    ['m{a="\\t"} 2', /invalid escape/],
    ['m{a="1",a="2"} 3', /label a repeated/],
    ['m{1a="1"} 2', /expected a label name/],
    ['m{a:"1"} 2', /expected "="/],
    ['m one', /invalid value "one"/],
    ['m', /invalid value ""/],
    ['m 1 2 3', /unexpected text after the value/],
    ['m 1 1.5', /unexpected text after the value/],
    [
      '# TYPE m gauge\n# TYPE m gauge',
      /line 2: TYPE line for m after its samples or a second time/,
    ],
    ['m 1\n# TYPE m gauge', /line 2: TYPE line for m after its samples/],
    ['# TYPE m nonsense', /unknown type "nonsense"/],
    ['# HELP m a\n# HELP m b', /second HELP line/],
    ['# HELP m bad \\t escape', /invalid escape "\\t" in HELP/],
    ['# HELP 9m x', /invalid metric name/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseExposition(text),
      (err: unknown) => AppError.is(err, 'InvalidArgument') && message.test(err.message),
      text,
    );
  }
});
