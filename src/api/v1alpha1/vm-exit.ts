import { z } from 'zod';
import { TimeSchema } from '../meta/schema.js';

/**
 * How a VM's run ended (`status.lastExit`), written by its supervisor when the hypervisor ends,
 * or by whoever finds the VM recorded Running with its supervisor gone. A restart policy decides
 * on it (operations/restart-policy.ts).
 */
export const VMExitReasonSchema = z
  .enum(['Stopped', 'Killed', 'PoweredOff', 'Crashed', 'Fenced'])
  .meta({
    description:
      "Why the hypervisor ended: `Stopped` (asked to stop), `Killed` (asked to kill), `PoweredOff` (the guest powered off, exit 0), `Crashed` (anything else), `Fenced` (in a fleet, its host's agent stopped renewing the host's lease, so the supervisor stopped the replaceable VM before it could be placed elsewhere).",
  });

export const VMExitSchema = z
  .strictObject({
    time: TimeSchema.meta({ description: 'When the end was recorded.' }),
    reason: VMExitReasonSchema,
    exitCode: z.number().int().optional().meta({ description: "The hypervisor's exit code." }),
    signal: z.string().optional().meta({ description: 'The signal that ended the hypervisor.' }),
    message: z
      .string()
      .optional()
      .meta({ description: 'What else is known, such as `supervisor gone`.' }),
  })
  .meta({ id: 'VMExit', description: "Extension: how the VM's last run ended." });

export type VMExit = z.output<typeof VMExitSchema>;
export type VMExitReason = z.output<typeof VMExitReasonSchema>;
