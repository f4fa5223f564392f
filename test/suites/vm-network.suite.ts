import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkMode } from '../../src/api/index.js';
import { AppError } from '../../src/errors.js';
import { subnetHosts } from '../../src/network/memory-vm-network.js';
import type { NetworkAttachment, NetworkLinks, VMNetwork } from '../../src/network/vm-network.js';

/** What the suite needs from each implementation's test file: a network of its own, and a host. */
export interface VMNetworkHarness {
  network: VMNetwork;
  /** The mode that joins VMs to the harness's network. */
  mode: Exclude<NetworkMode, 'none'>;
  /** The network's IPv4 subnet; its first address is the gateway. */
  subnet: string;
  /** What the host still holds for the VM (addresses, attachment, namespace); empty for nothing. */
  held(uid: string): Promise<string[]>;
  /** What a host reboot does to an attached VM: its namespace is gone, nothing is torn down. */
  vanish(uid: string): Promise<void>;
  /** Plays the attached VM's guest asking for its address by DHCP; returns the address it got. */
  guestLease(uid: string, attachment: NetworkAttachment): Promise<string>;
  /** A VM UID no other test uses. */
  uid(): string;
  /** Removes whatever the test left, also after a failure. */
  cleanup(): Promise<void>;
}

/** The contract of VMNetwork (src/network/vm-network.ts), run against every implementation. */
export function vmNetworkSuite(name: string, make: () => Promise<VMNetworkHarness>): void {
  const withNet = (fn: (h: VMNetworkHarness) => Promise<void>) => async () => {
    const h = await make();
    try {
      await fn(h);
    } finally {
      await h.cleanup();
    }
  };
  const vm = (h: VMNetworkHarness, label: string) => ({ uid: h.uid(), name: label, mode: h.mode });
  const capacity = (h: VMNetworkHarness) => subnetHosts(h.subnet).hosts.length;
  const inSubnet = (h: VMNetworkHarness, ip: string | undefined) =>
    assert.ok(subnetHosts(h.subnet).hosts.includes(ip ?? ''), `${ip} is an address of ${h.subnet}`);
  const exhausted = (err: unknown) =>
    AppError.is(err, 'Unavailable') && err.message.startsWith('vm "extra":');
  /** Reserves every address still free, so that the next reserve fails. */
  const fill = async (h: VMNetworkHarness, count: number) => {
    const vms = Array.from({ length: count }, (_, i) => vm(h, `fill${i}`));
    const ips = await Promise.all(vms.map((v) => h.network.reserve(v)));
    await assert.rejects(h.network.reserve(vm(h, 'extra')), exhausted);
    return { vms, ips };
  };

  test(
    `${name}: concurrent reserves get distinct addresses of the subnet, and an exhausted network is Unavailable`,
    withNet(async (h) => {
      const { ips } = await fill(h, capacity(h));
      assert.equal(new Set(ips).size, ips.length, `distinct: ${ips.join(' ')}`);
      for (const ip of ips) inSubnet(h, ip);
    }),
  );

  test(
    `${name}: reserve is idempotent, before and after attach, and holds one address`,
    withNet(async (h) => {
      const a = vm(h, 'a');
      const ip = await h.network.reserve(a);
      inSubnet(h, ip);
      assert.equal(await h.network.reserve(a), ip);
      await h.network.attach({ ...a, ports: [] });
      assert.equal(await h.network.reserve(a), ip);
      await fill(h, capacity(h) - 1);
    }),
  );

  test(
    `${name}: attach keeps the reserved address and gives the hypervisor a namespace, tap and MAC`,
    withNet(async (h) => {
      const a = vm(h, 'a');
      const ip = await h.network.reserve(a);
      const att = await h.network.attach({ ...a, ports: [{ hostPort: 40000, vmPort: 80 }] });
      assert.deepEqual(att.ipAddresses, [ip]);
      assert.ok(att.netns !== undefined && att.netns !== '', 'a namespace');
      assert.ok(att.tapName !== undefined && att.tapName !== '', 'a tap');
      assert.match(att.mac ?? '', /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      assert.equal(att.prefixLength, subnetHosts(h.subnet).prefix);
      assert.equal(att.gateway, subnetHosts(h.subnet).gateway);
      assert.ok((await h.held(a.uid)).length > 0, 'the attachment is on the host');
    }),
  );

  test(
    `${name}: detach before attach keeps the reservation; detach after attach lets go; attach again works`,
    withNet(async (h) => {
      const a = vm(h, 'a');
      const ip = await h.network.reserve(a);
      await h.network.detach(a);
      assert.deepEqual((await h.network.attach({ ...a, ports: [] })).ipAddresses, [ip]);
      await h.network.detach(a);
      assert.deepEqual(await h.held(a.uid), [], 'a detached VM holds nothing, as a container');
      const again = await h.network.attach({ ...a, ports: [] });
      inSubnet(h, again.ipAddresses[0]);
      assert.ok(again.netns !== undefined);
      await h.network.detach(a);
      assert.deepEqual(await h.held(a.uid), []);
    }),
  );

  test(
    `${name}: detach with keepAddress keeps the address for the next attach, and nobody else gets it`,
    withNet(async (h) => {
      const a = vm(h, 'a');
      const first = await h.network.attach({ ...a, ports: [] });
      await h.network.detach({ uid: a.uid, keepAddress: true });
      const other = vm(h, 'other');
      const otherIP = await h.network.reserve(other);
      assert.notEqual(otherIP, first.ipAddresses[0]);
      const again = await h.network.attach({ ...a, ports: [] });
      assert.deepEqual(again.ipAddresses, first.ipAddresses);
      await h.network.release(a);
      await h.network.release(other);
      assert.deepEqual(await h.held(a.uid), []);
    }),
  );

  test(
    `${name}: release frees the address for reuse; attach after release reserves again`,
    withNet(async (h) => {
      const { vms, ips } = await fill(h, capacity(h));
      const [first, second] = vms;
      assert.ok(first && second);
      await h.network.attach({ ...first, ports: [] });
      await h.network.release(first);
      assert.deepEqual(await h.held(first.uid), []);
      // The released address is the only one free: the next VM gets it.
      const next = vm(h, 'next');
      assert.equal(await h.network.reserve(next), ips[0]);
      await h.network.release(next);
      // The released VM attached again takes an address again, the one free address.
      assert.deepEqual((await h.network.attach({ ...first, ports: [] })).ipAddresses, [ips[0]]);
      await h.network.release(second);
      assert.equal(await h.network.reserve(vm(h, 'last')), ips[1]);
    }),
  );

  test(
    `${name}: every step repeated is a no-op, and so are detach and release of an unknown VM`,
    withNet(async (h) => {
      const a = vm(h, 'a');
      const ip = await h.network.reserve(a);
      assert.equal(await h.network.reserve(a), ip);
      await h.network.attach({ ...a, ports: [] });
      const att = await h.network.attach({ ...a, ports: [] });
      inSubnet(h, att.ipAddresses[0]);
      // The repeated attach left one address held: all the others can still be reserved.
      await fill(h, capacity(h) - 1);
      await h.network.detach(a);
      await h.network.detach(a);
      await h.network.release(a);
      await h.network.release(a);
      assert.deepEqual(await h.held(a.uid), []);
      const unknown = h.uid();
      await h.network.detach({ uid: unknown });
      await h.network.release({ uid: unknown });
      assert.deepEqual(await h.held(unknown), []);
    }),
  );

  test(
    `${name}: none gives no address and no namespace`,
    withNet(async (h) => {
      const a = { ...vm(h, 'a'), mode: 'none' as const };
      assert.equal(await h.network.reserve(a), undefined);
      assert.deepEqual(await h.network.attach({ ...a, ports: [] }), { ipAddresses: [] });
      assert.equal(await h.network.leases(a.uid), 0);
      assert.deepEqual(await h.held(a.uid), []);
      await h.network.detach(a);
      await h.network.release(a);
      // It took nothing from the network.
      await fill(h, capacity(h));
    }),
  );

  test(
    `${name}: leases count what the VM's DHCP server handed its guest, from attach to detach`,
    withNet(async (h) => {
      const a = vm(h, 'a');
      const att = await h.network.attach({ ...a, ports: [] });
      assert.equal(await h.network.leases(a.uid), 0, 'none before the guest asks');
      assert.equal(
        await h.guestLease(a.uid, att),
        att.ipAddresses[0],
        'the guest gets its address',
      );
      assert.equal(await h.network.leases(a.uid), 1);
      assert.equal(await h.network.leases(h.uid()), 0, 'none for an unknown VM');
      await h.network.detach(a);
      assert.equal(await h.network.leases(a.uid), 0, 'none after detach');
    }),
  );

  test(
    `${name}: attach tells onLinksReady the namespace and taps the attachment then has, with stable guest MACs; never for a clone`,
    withNet(async (h) => {
      const a = vm(h, 'a');
      const told: NetworkLinks[] = [];
      const early = { ...a, ports: [], onLinksReady: (l: NetworkLinks) => void told.push(l) };
      const att = await h.network.attach(early);
      assert.equal(told.length, 1);
      assert.deepEqual(told[0], { netns: att.netns, nics: att.nics });
      // The guest asks with the MAC it was started with, before the attach had an address.
      assert.equal(await h.guestLease(a.uid, att), att.ipAddresses[0]);
      const again = await h.network.attach(early);
      assert.deepEqual(told[1]?.nics, told[0]?.nics, 'the same MACs for the same VM');
      assert.deepEqual(again.nics, att.nics);
      const b = vm(h, 'b');
      const other = await h.network.attach({ ...b, ports: [], onLinksReady: early.onLinksReady });
      assert.notEqual(other.mac, att.mac, 'another VM, another MAC');
      // A clone's guest keeps the MAC and address it was saved with.
      const c = vm(h, 'c');
      const guestAddress = { address: '10.254.0.9', prefixLength: 24 };
      await h.network.attach({ ...c, ports: [], guestAddress, onLinksReady: early.onLinksReady });
      assert.equal(told.length, 3, 'not told for the clone');
      for (const v of [a, b, c]) await h.network.detach(v);
      for (const v of [a, b, c]) assert.deepEqual(await h.held(v.uid), []);
    }),
  );

  test(
    `${name}: the attach goes on only once what onLinksReady returns has settled, even when it fails`,
    withNet(async (h) => {
      for (const fails of [false, true]) {
        const a = vm(h, fails ? 'f' : 'g');
        let release = (): void => undefined;
        const gate = new Promise<void>((resolve, reject) => {
          release = () => (fails ? reject(new Error('the hypervisor did not start')) : resolve());
        });
        let told = false;
        let done = false;
        const attaching = h.network
          .attach({ ...a, ports: [], onLinksReady: () => ((told = true), gate) })
          .finally(() => (done = true));
        while (!told) await new Promise((r) => setTimeout(r, 5));
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(done, false, 'the attach waited');
        release();
        const att = await attaching;
        assert.ok(att.ipAddresses.length > 0, 'and then completed');
        await h.network.detach(a);
        assert.deepEqual(await h.held(a.uid), []);
      }
    }),
  );

  test(
    `${name}: sweep collects what a vanished VM left, and leaves live VMs and reservations alone`,
    withNet(async (h) => {
      const [live, gone, created] = [vm(h, 'live'), vm(h, 'gone'), vm(h, 'created')];
      await h.network.attach({ ...live, ports: [] });
      await h.network.attach({ ...gone, ports: [{ hostPort: 40001, vmPort: 80 }] });
      await h.network.reserve(created);
      await h.vanish(gone.uid);
      assert.ok((await h.held(gone.uid)).length > 0, 'the vanished VM left something behind');
      const ours = [live.uid, gone.uid, created.uid];
      const swept = (await h.network.sweep()).filter((u) => ours.includes(u));
      assert.deepEqual(swept, [gone.uid]);
      assert.deepEqual(await h.held(gone.uid), []);
      assert.ok((await h.held(live.uid)).length > 0, 'the live VM keeps its attachment');
      assert.ok((await h.held(created.uid)).length > 0, 'the created VM keeps its address');
      assert.deepEqual(
        (await h.network.sweep()).filter((u) => ours.includes(u)),
        [],
      );
      // What the vanished VM held is free again: three VMs hold addresses, no more.
      await fill(h, capacity(h) - 2);
    }),
  );
}
