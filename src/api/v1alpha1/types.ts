import { z } from 'zod';
import { ObjectMetaSchema, OCIImageRefSchema, SizeSchema, TimeSchema } from '../meta/schema.js';
import { VMExitSchema } from './vm-exit.js';
import { typeMeta } from './group.js';
import { VMPlacementSchema, VMPlacementStatusSchema } from './host.js';
import { VMStorageSpecSchema } from './vm-storage.js';
import { VMNetworkAttachmentSchema } from './network.js';

export { API_VERSION, GROUP, KINDS, VERSION, type Kind } from './group.js';

/**
 * The ignite.weave.works/v1alpha1 API: kinds VM, Image and Kernel, field for field as in Weave
 * Ignite v0.4.0, plus a few optional fields this implementation adds (marked "Extension"), and
 * the Snapshot kind (snapshot.ts). Every schema is strict: an unknown field is an error that
 * names it.
 */

export const ImageSourceTypeSchema = z
  .enum(['Docker'])
  .meta({ description: 'Where the image comes from. Only `Docker` (any OCI registry) exists.' });

export const OCIImageClaimSchema = z
  .strictObject({
    type: ImageSourceTypeSchema.optional(),
    ref: OCIImageRefSchema,
  })
  .meta({ id: 'OCIImageClaim', description: 'A request for an OCI image by reference.' });

export const OCIImageSourceSchema = z
  .strictObject({
    id: z
      .string()
      .optional()
      .meta({ description: 'The image ID: the digest of its config blob (`sha256:…`).' }),
    size: SizeSchema.optional().meta({ description: 'Unpacked size of the image.' }),
    repoDigests: z.array(z.string()).optional().meta({
      description: 'Digest references (`name@sha256:…`) of the manifest it was pulled by.',
    }),
  })
  .meta({
    id: 'OCIImageSource',
    description: 'The OCI image an object was made from, as found when it was pulled.',
  });

export const PortMappingSchema = z
  .strictObject({
    hostPort: z.number().int().min(1).max(65535).meta({ description: 'The port on the host.' }),
    vmPort: z.number().int().min(1).max(65535).meta({ description: 'The port in the VM.' }),
    protocol: z
      .enum(['tcp', 'udp'])
      .optional()
      .meta({ description: 'Extension: `tcp` (default) or `udp`.' }),
    network: z.string().min(1).optional().meta({
      description:
        "Extension: the named network (one of `spec.network.networks`) whose interface the port maps to; the VM's first interface when absent.",
    }),
  })
  .meta({ id: 'PortMapping', description: 'Forwards a port of the host to a port of the VM.' });

export const NetworkModeSchema = z.enum(['docker-bridge', 'cni', 'user', 'none']).meta({
  description:
    "How the VM is networked. `docker-bridge` (Ignite's default as root) needs no Docker here: it is served by ignite's default bridge network, a private address with NAT. `cni` uses the CNI configuration in /etc/cni/net.d. `user` (extension; the default without root) needs no privilege: the hypervisor's traffic goes through passt (or QEMU's own user networking where passt is missing), with host ports forwarded by it. `none` (extension) gives the VM no network.",
});

export const VMNetworkSpecSchema = z
  .strictObject({
    mode: NetworkModeSchema.optional(),
    ports: z
      .array(PortMappingSchema)
      .optional()
      .meta({ description: 'Host ports forwarded to the VM.' }),
    networks: z.array(VMNetworkAttachmentSchema).optional().meta({
      description:
        'Extension: the named networks the VM joins (`--network`), one interface each in order (eth0, eth1, …). Absent: the network of `mode`.',
    }),
  })
  .meta({ id: 'VMNetworkSpec' });

export const FileMappingSchema = z
  .strictObject({
    hostPath: z
      .string()
      .startsWith('/', 'expected an absolute path')
      .meta({ description: 'Absolute path of the file on the host.' }),
    vmPath: z
      .string()
      .startsWith('/', 'expected an absolute path')
      .meta({ description: 'Absolute path to write it to in the VM.' }),
  })
  .meta({
    id: 'FileMapping',
    description: "A host file copied into the VM's root disk before it boots.",
  });

export const SSHSchema = z.union([z.boolean(), z.string().min(1)]).meta({
  description:
    '`true` generates a key pair for the VM (`<dataDir>/vm/<uid>/id_<uid>`); a string is the path of a public key to authorize, or the public key itself (`ssh-ed25519 AAAA…`).',
});

/** Whether `spec.ssh` holds a public key itself rather than the path of one. */
export function isSSHPublicKeyText(ssh: string): boolean {
  return /^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/]+=*( |$)/.test(ssh);
}

export const VMImageSpecSchema = z
  .strictObject({ ociClaim: OCIImageClaimSchema })
  .meta({ id: 'VMImageSpec' });

export const VMKernelSpecSchema = z
  .strictObject({
    ociClaim: OCIImageClaimSchema,
    cmdLine: z.string().optional().meta({ description: 'The kernel command line.' }),
  })
  .meta({ id: 'VMKernelSpec' });

export const VMSpecSchema = z
  .strictObject({
    image: VMImageSpecSchema.meta({ description: 'The base image the root disk is made from.' }),
    kernel: VMKernelSpecSchema.optional().meta({
      description: 'The kernel to boot and its command line.',
    }),
    cpus: z
      .number()
      .int()
      .min(1)
      .max(240)
      .optional()
      .meta({ description: 'Number of virtual CPUs (default 1).' }),
    memory: SizeSchema.optional().meta({ description: 'Guest memory (default 512MB).' }),
    diskSize: SizeSchema.optional().meta({
      description: 'Size of the root disk (default 4GB); it is grown to this size.',
    }),
    network: VMNetworkSpecSchema.optional().meta({
      description: 'Network mode and port mappings.',
    }),
    logMaxSize: SizeSchema.optional().meta({
      description:
        'Extension: cap of the console log (`<dataDir>/vm/<uid>/console.log`, default 10MB); past it the log is rotated to `console.log.1`.',
    }),
    copyFiles: z
      .array(FileMappingSchema)
      .optional()
      .meta({ description: 'Host files written into the root disk before boot.' }),
    ssh: SSHSchema.optional(),
    placement: VMPlacementSchema.optional(),
    storage: VMStorageSpecSchema.optional(),
  })
  .meta({ id: 'VMSpec', description: 'The desired VM.' });

export const VMStateSchema = z.enum(['Created', 'Running', 'Stopped', 'Pending', 'Unknown']).meta({
  description:
    "The VM's state. Read from a manifest, it is the desired state (gitops). In a fleet, `Pending` (extension) is a VM not yet made on a host, and `Unknown` (extension, never stored) is shown for a VM whose host's lease has lapsed.",
});

export const VMRuntimeStatusSchema = z
  .strictObject({
    vmm: z
      .enum(['qemu', 'firecracker'])
      .optional()
      .meta({ description: 'The hypervisor running the VM.' }),
    accel: z
      .enum(['kvm', 'tcg'])
      .optional()
      .meta({ description: 'How QEMU runs the guest: KVM, or TCG emulation.' }),
    spawnPid: z
      .number()
      .int()
      .positive()
      .optional()
      .meta({ description: "PID of the VM's ignite-spawn supervisor." }),
    pid: z
      .number()
      .int()
      .positive()
      .optional()
      .meta({ description: 'PID of the hypervisor process.' }),
    restored: z.boolean().optional().meta({
      description: 'This run resumed a saved state (`stop --save`, `snapshot create --stop`).',
    }),
    restoreSeconds: z.number().nonnegative().optional().meta({
      description: 'How long the hypervisor took to load the saved state, checks included.',
    }),
  })
  .meta({
    id: 'VMRuntimeStatus',
    description: 'Extension: the processes running the VM (while it runs).',
  });

export const VMNetworkStatusSchema = z
  .strictObject({
    mode: NetworkModeSchema,
    netns: z
      .string()
      .optional()
      .meta({ description: "The network namespace the VM's hypervisor runs in." }),
    sshPort: z.number().int().min(1).max(65535).optional().meta({
      description:
        "`user` mode: the port on the host's 127.0.0.1 forwarded to the guest's port 22, which `exec`, `ssh` and `cp` use.",
    }),
  })
  .meta({ id: 'VMNetworkStatus', description: 'Extension: how the VM is networked.' });

export const VMStatusSchema = z
  .strictObject({
    state: VMStateSchema.optional(),
    ipAddresses: z
      .array(z.string())
      .optional()
      .meta({ description: 'The addresses the VM was given.' }),
    image: OCIImageSourceSchema.optional().meta({
      description: 'The image the VM was created from.',
    }),
    kernel: OCIImageSourceSchema.optional().meta({
      description: 'The kernel the VM was created with.',
    }),
    startTime: TimeSchema.optional().meta({ description: 'Extension: when the VM last started.' }),
    runtime: VMRuntimeStatusSchema.optional(),
    network: VMNetworkStatusSchema.optional(),
    desiredState: z.enum(['Running', 'Stopped']).optional().meta({
      description:
        'Extension: whether the VM should run, as `run`/`start` (`Running`) and `stop`/`kill` (`Stopped`) last asked; absent when never asked. ignited starts the VMs that should run.',
    }),
    restartCount: z.number().int().nonnegative().optional().meta({
      description: 'Extension: how many times ignited restarted the VM by its restart policy.',
    }),
    lastExit: VMExitSchema.optional(),
    host: z.string().min(1).optional().meta({
      description:
        'Extension: in a fleet, the host the VM is placed on; absent until the scheduler places it.',
    }),
    placement: VMPlacementStatusSchema.optional(),
  })
  .meta({ id: 'VMStatus' });

export const VMSchema = z
  .strictObject({
    ...typeMeta('VM'),
    metadata: ObjectMetaSchema,
    spec: VMSpecSchema,
    status: VMStatusSchema.optional(),
  })
  .meta({
    id: 'VM',
    description: 'A virtual machine: an image and a kernel, booted by a hypervisor.',
  });

export const ImageSpecSchema = z
  .strictObject({ ociClaim: OCIImageClaimSchema })
  .meta({ id: 'ImageSpec' });
export const ImageStatusSchema = z
  .strictObject({
    ociSource: OCIImageSourceSchema.optional(),
    ext4Path: z
      .string()
      .optional()
      .meta({ description: "Extension: the image's ext4 root filesystem on the host." }),
  })
  .meta({ id: 'ImageStatus' });

export const ImageSchema = z
  .strictObject({
    ...typeMeta('Image'),
    metadata: ObjectMetaSchema,
    spec: ImageSpecSchema,
    status: ImageStatusSchema.optional(),
  })
  .meta({
    id: 'Image',
    description:
      'A base image: an OCI image turned into an ext4 root filesystem (`<dataDir>/image/<uid>/image.ext4`).',
  });

export const KernelSpecSchema = z
  .strictObject({ ociClaim: OCIImageClaimSchema })
  .meta({ id: 'KernelSpec' });
export const KernelStatusSchema = z
  .strictObject({
    version: z
      .string()
      .optional()
      .meta({ description: 'The kernel release, read from the vmlinux.' }),
    ociSource: OCIImageSourceSchema.optional(),
  })
  .meta({ id: 'KernelStatus' });

export const KernelSchema = z
  .strictObject({
    ...typeMeta('Kernel'),
    metadata: ObjectMetaSchema,
    spec: KernelSpecSchema,
    status: KernelStatusSchema.optional(),
  })
  .meta({
    id: 'Kernel',
    description:
      'A kernel: an OCI image holding `/boot/vmlinux` (`<dataDir>/kernel/<uid>/vmlinux`).',
  });

export type VM = z.output<typeof VMSchema>;
export type VMSpec = z.output<typeof VMSpecSchema>;
export type VMStatus = z.output<typeof VMStatusSchema>;
export type VMState = z.output<typeof VMStateSchema>;

/** The states a stored VM can have: all but `Unknown`, which is only ever shown. */
export const STORED_VM_STATES = VMStateSchema.options.filter((s) => s !== 'Unknown');
export type NetworkMode = z.output<typeof NetworkModeSchema>;
export type PortMapping = z.output<typeof PortMappingSchema>;
export type FileMapping = z.output<typeof FileMappingSchema>;
export type OCIImageSource = z.output<typeof OCIImageSourceSchema>;
export type Image = z.output<typeof ImageSchema>;
export type Kernel = z.output<typeof KernelSchema>;
