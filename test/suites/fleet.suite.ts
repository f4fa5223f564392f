import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Fleet, HostLeaseEvents } from '../../src/storage/fleet.js';

/** One fleet under test; `another` is a second client of it, as another agent's would be. */
export interface FleetUnderTest {
  fleet: Fleet;
  another: () => Fleet;
  /** Revokes `host`'s lease behind its holder's back, as etcd does when it expires it. */
  revoke: (host: string) => Promise<void>;
  cleanup: () => Promise<void>;
}

/** Polls `check` every 50 ms until it holds; fails after `ms`. Returns the time it took. */
async function eventually(
  what: string,
  ms: number,
  check: () => Promise<boolean>,
): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - start;
}

class LeaseRecorder implements HostLeaseEvents {
  renewals: Date[] = [];
  lostWith: unknown;
  renewed(sentAt: Date): void {
    this.renewals.push(sentAt);
  }
  lost(err: unknown): void {
    this.lostWith = err ?? new Error('lost');
  }
}

/** The contract of Fleet (src/storage/fleet.ts), run against every implementation. */
export function fleetSuite(name: string, make: () => Promise<FleetUnderTest>): void {
  const withFleet = (fn: (f: FleetUnderTest) => Promise<void>) => async () => {
    const f = await make();
    try {
      await fn(f);
    } finally {
      await f.cleanup();
    }
  };

  test(
    `${name}: a lease key lives while held and goes at once on release`,
    withFleet(async ({ fleet, another }) => {
      const events = new LeaseRecorder();
      const held = await fleet.hostLease('h1', 2, events);
      const other = another();
      assert.deepEqual([...(await other.liveHosts())], ['h1']);
      // Held past its TTL: renewals keep it.
      await new Promise((r) => setTimeout(r, 2500));
      assert.deepEqual([...(await other.liveHosts())], ['h1']);
      assert.ok(events.renewals.length >= 2, `renewals: ${events.renewals.length}`);
      assert.equal(events.lostWith, undefined);
      await held.release();
      assert.deepEqual([...(await other.liveHosts())], []);
    }),
  );

  test(
    `${name}: an abandoned lease's key is gone within TTL + 1 s`,
    withFleet(async ({ fleet, another }) => {
      const held = await fleet.hostLease('h2', 2, new LeaseRecorder());
      held.abandon();
      const took = await eventually(
        'key gone',
        3000,
        async () => (await another().liveHosts()).has('h2') === false,
      );
      assert.ok(took >= 500, `gone after ${took} ms, before its TTL`);
    }),
  );

  test(
    `${name}: a lease revoked behind its holder's back is reported lost`,
    withFleet(async ({ fleet, revoke }) => {
      const events = new LeaseRecorder();
      await fleet.hostLease('h3', 2, events);
      await revoke('h3');
      await eventually('lost', 3000, () => Promise.resolve(events.lostWith !== undefined));
      assert.equal((await fleet.liveHosts()).has('h3'), false);
    }),
  );

  test(
    `${name}: one of two candidates leads; the other leads once the first closes`,
    withFleet(async ({ fleet, another }) => {
      const elected: string[] = [];
      const events = (who: string) => ({
        elected: () => elected.push(who),
        lost: () => elected.push(`${who} lost`),
      });
      const a = fleet.campaign('a', events('a'));
      await eventually('a leads', 3000, () => Promise.resolve(a.isLeader()));
      const b = another().campaign('b', events('b'));
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(b.isLeader(), false);
      assert.equal(await fleet.leader(), 'a');
      await a.close();
      await eventually('b leads', 3000, () => Promise.resolve(b.isLeader()));
      assert.equal(await fleet.leader(), 'b');
      assert.deepEqual(elected, ['a', 'b']);
      await b.close();
    }),
  );

  test(
    `${name}: watchLiveHosts reports hosts appearing and vanishing`,
    withFleet(async ({ fleet, another }) => {
      const seen: string[] = [];
      await fleet.hostLease('old', 2, new LeaseRecorder());
      const w = another().watchLiveHosts((host, live) => seen.push(`${host} ${live}`), {
        initial: true,
      });
      try {
        await w.ready;
        const held = await fleet.hostLease('new', 2, new LeaseRecorder());
        await eventually('new seen', 3000, () => Promise.resolve(seen.includes('new true')));
        await held.release();
        await eventually('new gone', 3000, () => Promise.resolve(seen.includes('new false')));
        assert.deepEqual(seen, ['old true', 'new true', 'new false']);
      } finally {
        w.close();
      }
    }),
  );
}
