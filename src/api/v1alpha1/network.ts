import { z } from 'zod';
import { ObjectMetaSchema } from '../meta/schema.js';
import { typeMeta } from './group.js';

const IPV4 = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export const IPv4AddressSchema = z
  .string()
  .regex(IPV4, 'expected an IPv4 address such as 10.70.0.10')
  .meta({ description: 'An IPv4 address.' });

export const IPv4SubnetSchema = z
  .string()
  .refine((s) => {
    const [address = '', prefix = '', ...rest] = s.split('/');
    return rest.length === 0 && IPV4.test(address) && /^\d{1,2}$/.test(prefix);
  }, 'expected an IPv4 subnet such as 10.70.0.0/24')
  .meta({ description: 'An IPv4 subnet in CIDR notation.' });

/**
 * Extension: kind Network, a named bridge network of its own (docs/networking.md). Its CNI
 * configuration is written to `<dataDir>/cni/<name>.conflist`; its bridge, its isolation rules
 * and that file exist from `network create` to `network rm`.
 */
export const NetworkSpecSchema = z
  .strictObject({
    subnet: IPv4SubnetSchema.meta({
      description: 'The IPv4 subnet the VMs of the network take their addresses from.',
    }),
    gateway: IPv4AddressSchema.optional().meta({
      description: "The bridge's address in the subnet, the VMs' gateway (default its first).",
    }),
    nat: z.boolean().optional().meta({
      description: 'Masquerade what the VMs send outside the subnet (default true).',
    }),
    isolated: z.boolean().optional().meta({
      description:
        'The VMs reach only the gateway, not each other (default false). The host reaches them all the same.',
    }),
  })
  .meta({ id: 'NetworkSpec', description: 'A bridge network: its subnet, gateway and policy.' });

export const NetworkStatusSchema = z
  .strictObject({
    bridge: z
      .string()
      .optional()
      .meta({ description: "The host bridge's name (at most 15 characters, `ignite…`)." }),
    conflist: z
      .string()
      .optional()
      .meta({ description: 'The CNI configuration list written for it, an absolute path.' }),
  })
  .meta({ id: 'NetworkStatus' });

export const NetworkSchema = z
  .strictObject({
    ...typeMeta('Network'),
    metadata: ObjectMetaSchema,
    spec: NetworkSpecSchema,
    status: NetworkStatusSchema.optional(),
  })
  .meta({
    id: 'Network',
    description:
      'Extension: a named network (`ignite network create`): a bridge with a subnet of its own, which VMs join with `--network NAME`.',
  });

export const MACAddressSchema = z
  .string()
  .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i, 'expected a MAC address such as 02:42:0a:46:00:0a')
  .refine((mac) => (parseInt(mac.slice(0, 2), 16) & 1) === 0, 'expected a unicast MAC address')
  .meta({ description: 'An Ethernet MAC address.' });

export const VMNetworkAttachmentSchema = z
  .strictObject({
    name: z.string().min(1).meta({ description: 'The Network the interface joins.' }),
    ip: IPv4AddressSchema.optional().meta({
      description:
        "A static address in the network's subnet, reserved for the VM and handed to it by DHCP.",
    }),
    mac: MACAddressSchema.optional().meta({ description: "The interface's MAC address." }),
  })
  .meta({ id: 'VMNetworkAttachment', description: 'Extension: one interface of a VM.' });

export type VMNetworkAttachment = z.output<typeof VMNetworkAttachmentSchema>;
export type Network = z.output<typeof NetworkSchema>;
export type NetworkSpec = z.output<typeof NetworkSpecSchema>;
export type NetworkStatus = z.output<typeof NetworkStatusSchema>;
