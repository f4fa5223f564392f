import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Size } from './size.js';

test('Size.parse reads the units Ignite accepted, 1024-based and case-insensitive', () => {
  const cases: [string | number, number][] = [
    ['512MB', 512 * 1024 ** 2],
    ['1GB', 1024 ** 3],
    ['4G', 4 * 1024 ** 3],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['100kb', 100 * 1024],
    ['1 TB', 1024 ** 4],
    ['250213604B', 250213604],
    ['42', 42],
    [4096, 4096],
    ['0', 0],
  ];
  for (const [input, bytes] of cases) assert.equal(Size.parse(input).bytes, bytes, String(input));
});

test('Size.parse refuses bits, unknown units and junk', () => {
  for (const input of ['4Gb', '1Mb', '12 parsecs', 'lots', '', '-1GB', '1e3MB', 'GB']) {
    assert.throws(() => Size.parse(input), RangeError, input);
  }
  assert.throws(() => Size.parse(-5), RangeError);
  assert.throws(() => Size.parse(1.5), RangeError);
});

// The human form is datasize's HumanReadable, which Ignite's tables and templates printed: the
// largest unit the value is strictly greater than.
test('Size prints like Ignite: the largest exact unit, and a human form', () => {
  const cases: [number, string, string][] = [
    [4 * 1024 ** 3, '4GB', '4.0 GB'],
    [1024 ** 3, '1GB', '1024.0 MB'],
    [1024 ** 3 + 1, '1073741825B', '1.0 GB'],
    [512 * 1024 ** 2, '512MB', '512.0 MB'],
    [250213604, '250213604B', '238.6 MB'],
    [1536 * 1024 ** 2, '1536MB', '1.5 GB'],
    [0, '0B', '0 B'],
    [1024, '1KB', '1024 B'],
    [1025, '1025B', '1.0 KB'],
    [1024 ** 5, '1PB', '1024.0 TB'],
    [2 * 1024 ** 5, '2PB', '2.0 PB'],
  ];
  for (const [bytes, wire, human] of cases) {
    const s = Size.fromBytes(bytes);
    assert.equal(s.toString(), wire);
    assert.equal(JSON.stringify(s), JSON.stringify(wire));
    assert.equal(s.toHuman(), human);
    assert.equal(Size.parse(s.toString()).bytes, bytes, 'round trip');
  }
});
