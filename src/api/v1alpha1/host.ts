import { z } from 'zod';
import { ObjectMetaSchema, SizeSchema, TimeSchema } from '../meta/schema.js';
import { typeMeta } from './group.js';

/**
 * Extension: kind Host, one `ignited` agent of a fleet that shares an etcd store
 * (docs/fleet.md). Its name is the agent's `--host-name`, its labels are `--host-label`s. The
 * object outlives the agent; whether the host is Ready is not stored here but read from the
 * agent's lease in etcd, which lapses within the lease TTL of the agent's last renewal.
 */
export const HostCapacitySchema = z
  .strictObject({
    cpus: z.number().int().min(1).meta({ description: 'vCPUs the host offers to VMs.' }),
    memory: SizeSchema.meta({ description: 'Guest memory the host offers to VMs.' }),
  })
  .meta({ id: 'HostCapacity', description: 'What a host offers to the VMs placed on it.' });

export const HostSpecSchema = z
  .strictObject({
    address: z.string().min(1).meta({
      description:
        "Where the host's daemon answers, as `--host` takes it (`unix:///run/ignite/ignited.sock`, `https://h2:7450`). Commands about its VMs are forwarded there.",
    }),
    capacity: HostCapacitySchema,
    leaseTTLSeconds: z.number().int().min(1).max(60).meta({
      description:
        'The TTL of the lease the agent keeps alive; the host is NotReady once it lapses.',
    }),
    unschedulable: z.boolean().optional().meta({
      description:
        'Set by `ignite host drain`: no VM is placed here, and the replaceable ones are moved off.',
    }),
  })
  .meta({ id: 'HostSpec', description: 'A host of the fleet as its agent registered it.' });

export const HostStatusSchema = z
  .strictObject({
    version: z.string().optional().meta({ description: "The agent's ignite version." }),
    registeredTime: TimeSchema.optional().meta({
      description: 'When the agent last registered (each start of `ignited`).',
    }),
  })
  .meta({ id: 'HostStatus' });

export const HostSchema = z
  .strictObject({
    ...typeMeta('Host'),
    metadata: ObjectMetaSchema,
    spec: HostSpecSchema,
    status: HostStatusSchema.optional(),
  })
  .meta({
    id: 'Host',
    description:
      'Extension: a host of a fleet, registered by its `ignited` agent in the shared etcd store.',
  });

/**
 * Where in a fleet a VM may run: `spec.placement` of a VM.
 */
export const VMPlacementSchema = z
  .strictObject({
    host: z.string().min(1).optional().meta({
      description: 'The host (its `--host-name`) the VM must run on (`--on-host`).',
    }),
    hostSelector: z.record(z.string(), z.string()).optional().meta({
      description: 'Labels a host must have for the VM to be placed on it (`--host-selector`).',
    }),
    reschedule: z.boolean().optional().meta({
      description:
        'The VM may be moved to another host when its host is lost or drained (`--reschedule`). Its disk is local, so a moved VM starts from a fresh disk made from its image.',
    }),
  })
  .meta({
    id: 'VMPlacement',
    description:
      'Extension: where in a fleet the VM may run (docs/fleet.md). Ignored on a single host.',
  });

export type Host = z.output<typeof HostSchema>;
export type HostSpec = z.output<typeof HostSpecSchema>;
export type HostCapacity = z.output<typeof HostCapacitySchema>;

export const VMPlacementStatusSchema = z
  .strictObject({
    generation: z.number().int().min(1).meta({
      description:
        'Counts placements of this VM; a host acts on the VM only under the generation it was given.',
    }),
    time: TimeSchema.meta({ description: 'When the VM was placed on `host`.' }),
    message: z.string().optional().meta({
      description: 'Why the VM is not placed or not made on its host yet.',
    }),
  })
  .meta({ id: 'VMPlacementStatus', description: 'Extension: how the VM was placed in a fleet.' });

export type VMPlacement = z.output<typeof VMPlacementSchema>;

/** A host's readiness as `host ls` shows it: from its lease and its drain mark. */
export type HostReadiness = 'Ready' | 'NotReady';
