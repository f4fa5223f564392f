import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdFleet } from '../../src/storage/index.js';
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd-cluster.js';
import { fleetSuite } from '../suites/fleet.suite.js';

let cluster: EtcdCluster | undefined;
before(async () => {
  cluster = await startEtcdCluster();
});
after(async () => {
  await cluster?.[Symbol.asyncDispose]();
});

fleetSuite('EtcdFleet', () => {
  if (!cluster) throw new Error('no etcd cluster');
  const endpoints = cluster.endpoints.split(',');
  const root = `/ignite-test-${randomBytes(4).toString('hex')}/`;
  const opened: EtcdFleet[] = [];
  const open = (): EtcdFleet => {
    const f = new EtcdFleet({ endpoints, root, callTimeoutMs: 3000, electionTTLSeconds: 2 });
    opened.push(f);
    return f;
  };
  const raw = new Etcd3({ hosts: endpoints.map((e) => `http://${e}`) });
  return Promise.resolve({
    fleet: open(),
    another: open,
    revoke: async (host: string) => {
      const res = await raw.get(`${root}hostleases/${host}`).exec();
      const lease = res.kvs[0]?.lease;
      if (lease === undefined) throw new Error(`host "${host}": no lease key`);
      await raw.leaseClient.leaseRevoke({ ID: lease });
    },
    cleanup: async () => {
      await Promise.all(opened.map((f) => f.close()));
      raw.close();
    },
  });
});
