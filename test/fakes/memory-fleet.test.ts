import { fleetSuite } from '../suites/fleet.suite.js';
import { MemoryFleet } from './memory-fleet.js';

fleetSuite('MemoryFleet', () => {
  const fleet = new MemoryFleet();
  return Promise.resolve({
    fleet,
    another: () => fleet,
    revoke: (host: string) => {
      fleet.expire(host);
      return Promise.resolve();
    },
    cleanup: () => fleet.close(),
  });
});
