import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatExposition, parseExposition } from './exposition.js';
import { mergeExpositions } from './merge-expositions.js';

const vm = (uid: string): string => `# HELP process_cpu_seconds_total CPU time.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total{vm_uid="${uid}"} 1.5
# HELP nodejs_gc_duration_seconds GC.
# TYPE nodejs_gc_duration_seconds histogram
nodejs_gc_duration_seconds_bucket{le="1",kind="major"} 1
nodejs_gc_duration_seconds_bucket{le="+Inf",kind="major"} 2
nodejs_gc_duration_seconds_sum{kind="major"} 0.3
nodejs_gc_duration_seconds_count{kind="major"} 2
`;

test('one HELP/TYPE per family; samples of every source under it; labels keep them apart', () => {
  const manager = parseExposition(
    '# HELP process_cpu_seconds_total CPU time.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 9\n# TYPE ignite_vms gauge\nignite_vms{state="Running"} 2\n',
  );
  const { families, problems } = mergeExpositions([
    { families: manager },
    { families: parseExposition(vm('a')), labels: { vm_uid: 'a', vm_name: 'one' } },
    { families: parseExposition(vm('b')), labels: { vm_uid: 'b', vm_name: 'two' } },
  ]);
  assert.deepEqual(problems, []);
  const text = formatExposition(families);
  assert.equal(text.match(/^# TYPE process_cpu_seconds_total counter$/gm)?.length, 1);
  assert.equal(text.match(/^# HELP nodejs_gc_duration_seconds /gm)?.length, 1);
  assert.deepEqual(
    families.map((f) => f.name),
    ['process_cpu_seconds_total', 'ignite_vms', 'nodejs_gc_duration_seconds'],
  );
  const cpu = families[0]?.samples.map((s) => [s.labels, s.value]);
  assert.deepEqual(cpu, [
    [[], 9],
    [
      [
        ['vm_uid', 'a'],
        ['vm_name', 'one'],
      ],
      1.5,
    ],
    [
      [
        ['vm_uid', 'b'],
        ['vm_name', 'two'],
      ],
      1.5,
    ],
  ]);
  // A histogram's series stay whole and in order per source.
  const gc = families[2]?.samples.map((s) => `${s.name}:${s.labels.at(-2)?.[1] ?? ''}`);
  assert.deepEqual(gc, [
    'nodejs_gc_duration_seconds_bucket:a',
    'nodejs_gc_duration_seconds_bucket:a',
    'nodejs_gc_duration_seconds_sum:a',
    'nodejs_gc_duration_seconds_count:a',
    'nodejs_gc_duration_seconds_bucket:b',
    'nodejs_gc_duration_seconds_bucket:b',
    'nodejs_gc_duration_seconds_sum:b',
    'nodejs_gc_duration_seconds_count:b',
  ]);
  // The merged text is itself valid and round-trips.
  assert.deepEqual(parseExposition(text), families);
});

test('conflicting types, duplicate series and suffix collisions are dropped and reported', () => {
  const first = parseExposition('# TYPE m counter\nm{x="1"} 1\n# TYPE h histogram\nh_count 1\n');
  const second = parseExposition(
    '# TYPE m gauge\nm{x="2"} 2\n# TYPE n gauge\nn 1\n# TYPE h_count gauge\nh_count 5\n',
  );
  const third = parseExposition('# TYPE m counter\nm{x="1"} 7\nm{x="3"} 3\n');
  const { families, problems } = mergeExpositions([
    { families: first },
    { families: second, origin: 'vm "two"' },
    { families: third, origin: 'vm "three"' },
  ]);
  assert.deepEqual(problems, [
    'vm "two": metric m: type gauge conflicts with counter; dropped',
    'vm "two": sample h_count also belongs to h; dropped',
    'vm "three": duplicate series m{x="1"}; dropped',
  ]);
  assert.deepEqual(
    families.map((f) => [f.name, f.samples.map((s) => s.value)]),
    [
      ['m', [1, 3]],
      ['h', [1]],
      ['n', [1]],
      ['h_count', []],
    ],
  );
});

test('labels already on a sample are kept, not overwritten', () => {
  const { families } = mergeExpositions([
    { families: parseExposition('m{vm_uid="own"} 1\n'), labels: { vm_uid: 'x', vm_name: 'n' } },
  ]);
  assert.deepEqual(families[0]?.samples[0]?.labels, [
    ['vm_uid', 'own'],
    ['vm_name', 'n'],
  ]);
});

test('the first HELP wins; a family without HELP takes a later one', () => {
  const { families } = mergeExpositions([
    { families: parseExposition('# TYPE m gauge\nm 1\n') },
    { families: parseExposition('# HELP m later\n# TYPE m gauge\nm{a="b"} 1\n') },
    { families: parseExposition('# HELP m ignored\n# TYPE m gauge\nm{a="c"} 1\n') },
  ]);
  assert.equal(families[0]?.help, 'later');
});
