import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { decodeAll } from '../../src/api/index.js';
import { AppError } from '../../src/errors.js';
import { Serializer } from '../../src/storage/serializer.js';
import { prng } from '../helpers/prng.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/manifests/ignite-v0.4');
const CASES = Number(process.env['IGNITE_FUZZ_CASES'] ?? 10_000);
const SEED = Number(process.env['IGNITE_FUZZ_SEED'] ?? 20261124);

const ODD_VALUES: unknown[] = [
  null,
  true,
  -1,
  0,
  1e308,
  -1e308,
  2 ** 53 + 1,
  '',
  ' ',
  '\u0000',
  '../../etc',
  '$(id)',
  '🙂',
  'x'.repeat(10_000),
  [],
  {},
  [[[[]]]],
  { a: { b: { c: {} } } },
  '1GB',
  '-5MB',
  'NaN',
  '0x10',
];
const ODD_TEXT = [
  '{',
  '}',
  '[',
  ']',
  ':',
  '- ',
  '\n',
  '\t',
  '"',
  "'",
  ',',
  '&a',
  '*a',
  '!!binary',
  '%YAML',
  '---',
  '\\u0000',
  '#',
  '? ',
  '|',
  '>',
];

function mutateObject(value: unknown, rnd: () => number, depth = 0): unknown {
  if (Array.isArray(value)) {
    const out = value.map((v) => mutateObject(v, rnd, depth + 1));
    if (rnd() < 0.1) out.push(ODD_VALUES[Math.floor(rnd() * ODD_VALUES.length)]);
    return out;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = rnd();
      if (r < 0.05) continue; // drop a field
      if (r < 0.1) out[k] = ODD_VALUES[Math.floor(rnd() * ODD_VALUES.length)];
      else if (r < 0.12)
        out[`${k}x`] = v; // an unknown field
      else out[k] = mutateObject(v, rnd, depth + 1);
    }
    return out;
  }
  return rnd() < 0.1 ? ODD_VALUES[Math.floor(rnd() * ODD_VALUES.length)] : value;
}

function mutateText(text: string, rnd: () => number): string {
  let s = text;
  const edits = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const r = rnd();
    if (r < 0.3) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 8));
    else if (r < 0.7)
      s = s.slice(0, at) + (ODD_TEXT[Math.floor(rnd() * ODD_TEXT.length)] ?? '') + s.slice(at);
    else if (r < 0.85)
      s = s.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 0xffff)) + s.slice(at);
    else s = s.slice(0, at);
  }
  return s;
}

function randomText(rnd: () => number): string {
  let s = '';
  const n = Math.floor(rnd() * 200);
  for (let i = 0; i < n; i++)
    s +=
      rnd() < 0.5
        ? (ODD_TEXT[Math.floor(rnd() * ODD_TEXT.length)] ?? '')
        : String.fromCharCode(32 + Math.floor(rnd() * 95));
  return s;
}

// The manifest parser, fed random and mutated YAML and JSON: every input either decodes or fails
// with a clean InvalidArgument. Anything else (a TypeError, a RangeError, a hang) is a bug.
test(
  `manifest fuzz: ${CASES} random and mutated manifests (seed ${SEED})`,
  { timeout: 300_000 },
  async () => {
    const seeds = await Promise.all(
      (await readdir(FIXTURES)).map(async (f) => readFile(join(FIXTURES, f), 'utf8')),
    );
    const parsed = seeds.flatMap((t) => {
      try {
        return decodeAll(t, { defaults: false }).map(
          (o) => JSON.parse(JSON.stringify(o)) as unknown,
        );
      } catch {
        return [];
      }
    });
    assert.ok(parsed.length >= 4, 'the v0.4 fixtures decode');
    const rnd = prng(SEED);
    const serializer = new Serializer();
    const counts = { decoded: 0, invalid: 0 };
    for (let i = 0; i < CASES; i++) {
      const base = parsed[Math.floor(rnd() * parsed.length)];
      const kind = rnd();
      let text: string;
      if (kind < 0.35) text = JSON.stringify(mutateObject(base, rnd));
      else if (kind < 0.6) text = stringify(mutateObject(base, rnd));
      else if (kind < 0.8)
        text = mutateText(rnd() < 0.5 ? JSON.stringify(base, null, 2) : stringify(base), rnd);
      else if (kind < 0.9) text = mutateText(seeds[Math.floor(rnd() * seeds.length)] ?? '', rnd);
      else text = randomText(rnd);
      for (const parse of [() => decodeAll(text), () => serializer.decode(text)]) {
        try {
          parse();
          counts.decoded++;
        } catch (err) {
          if (!AppError.is(err, 'InvalidArgument'))
            assert.fail(
              `case ${i} (seed ${SEED}) threw ${String(err)}\n--- input ---\n${text.slice(0, 2000)}`,
            );
          assert.ok(err.message.startsWith('manifest'), `case ${i}: message "${err.message}"`);
          counts.invalid++;
        }
      }
    }
    // Both outcomes must occur, or the fuzzing is not reaching the validator.
    assert.ok(counts.decoded > CASES / 50, `only ${counts.decoded} inputs decoded`);
    assert.ok(counts.invalid > CASES / 2, `only ${counts.invalid} inputs were invalid`);
  },
);
