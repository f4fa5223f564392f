import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../errors.js';
import { formatEvent, parseEventFilters, parseSince } from './events.js';

test('parseEventFilters: vm and type filters, repeatable, Docker names accepted', () => {
  assert.deepEqual(parseEventFilters([]), {});
  assert.deepEqual(parseEventFilters(['vm=web', 'type=start', 'event=die,stop', 'name=db']), {
    vms: ['web', 'db'],
    types: ['start', 'die', 'stop'],
  });
  for (const bad of ['type=boot', 'image=busybox', 'vm'])
    assert.throws(
      () => parseEventFilters([bad]),
      (e) => AppError.is(e, 'InvalidArgument') && e.message.includes(bad),
    );
});

test('parseSince: RFC 3339 as given, durations back from now', () => {
  const now = new Date('2026-05-01T12:00:00Z');
  assert.equal(parseSince('2026-05-01T10:00:00+02:00', now), '2026-05-01T08:00:00.000Z');
  assert.equal(parseSince('10m', now), '2026-05-01T11:50:00.000Z');
  assert.equal(parseSince('2h', now), '2026-05-01T10:00:00.000Z');
  for (const bad of ['yesterday', '10', '2026-13-45'])
    assert.throws(
      () => parseSince(bad, now),
      (e) => AppError.is(e, 'InvalidArgument'),
      bad,
    );
});

test('formatEvent: time, kind, type, name, then uid, reason and exit code', () => {
  const object = { kind: 'VM' as const, name: 'web', uid: '0123456789abcdef' };
  assert.equal(
    formatEvent({ time: '2026-05-01T12:00:00.000Z', type: 'start', object }),
    '2026-05-01T12:00:00.000Z vm start web (uid=0123456789abcdef)\n',
  );
  assert.equal(
    formatEvent({
      time: '2026-05-01T12:00:01.000Z',
      type: 'die',
      object,
      reason: 'Crashed',
      exitCode: 1,
    }),
    '2026-05-01T12:00:01.000Z vm die web (uid=0123456789abcdef, reason=Crashed, exitCode=1)\n',
  );
});
