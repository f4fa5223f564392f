import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTable } from './format.js';

test('formatTable: left-aligned columns three spaces apart, the last column unpadded, no trailing spaces', () => {
  const table = [
    [['A', 'BB'], [], 'A   BB\n'],
    [
      ['ID', 'NAME', 'IPS'],
      [
        ['1', 'web', ''],
        ['22', 'database', '10.0.0.2, 10.0.0.3'],
      ],
      'ID   NAME       IPS\n1    web\n22   database   10.0.0.2, 10.0.0.3\n',
    ],
    [['ID', 'IPS', 'NAME'], [['1', '', 'web']], 'ID   IPS   NAME\n1          web\n'],
    [
      ['A', 'B', 'C'],
      [
        ['x', '', ''],
        ['', '', ''],
        ['x', ' ', ''],
        ['x', 'y ', ''],
      ],
      'A   B    C\nx\n\nx\nx   y\n',
    ],
  ] as const;
  for (const [header, rows, want] of table) assert.equal(formatTable(header, rows), want);
});
