import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatPercent, formatUptime } from './format.js';

test('formatUptime', () => {
  const now = Date.parse('2026-01-02T00:00:00Z');
  const cases: [since: string | undefined, want: string][] = [
    [undefined, ''],
    ['not a time', ''],
    ['2026-01-02T00:00:05Z', '0s'],
    ['2026-01-01T23:59:15Z', '45s'],
    ['2026-01-01T23:47:50Z', '12m 10s'],
    ['2026-01-01T20:55:00Z', '3h 5m'],
    ['2025-12-30T20:00:00Z', '2d 4h'],
  ];
  for (const [since, want] of cases) assert.equal(formatUptime(since, now), want, String(since));
});

test('formatBytes', () => {
  const cases: [bytes: number | undefined, want: string][] = [
    [undefined, ''],
    [0, '0 B'],
    [512, '512 B'],
    [1536, '1.5 KiB'],
    [134217728, '128 MiB'],
    [5.5 * 1024 ** 3, '5.5 GiB'],
    [3 * 1024 ** 5, '3072 TiB'],
  ];
  for (const [bytes, want] of cases) assert.equal(formatBytes(bytes), want, String(bytes));
});

test('formatPercent', () => {
  const cases: [p: number | undefined, want: string][] = [
    [undefined, ''],
    [0, '0.0%'],
    [0.42, '0.4%'],
    [37.4, '37%'],
    [200, '200%'],
  ];
  for (const [p, want] of cases) assert.equal(formatPercent(p), want, String(p));
});
