import { z } from 'zod';
import { TimeSchema } from '../meta/schema.js';

export const VMExitReasonSchema = z.enum(['Stopped', 'Killed', 'PoweredOff', 'Crashed']).meta({
  description:
    'Why the hypervisor ended: `Stopped` (asked to stop), `Killed` (asked to kill), `PoweredOff` (the guest powered off, exit 0), `Crashed` (anything else, also a supervisor found gone).',
});

export const VMLastExitSchema = z
  .strictObject({
    time: TimeSchema.meta({ description: 'When the hypervisor ended, or was found gone.' }),
    reason: VMExitReasonSchema,
    exitCode: z
      .number()
      .int()
      .optional()
      .meta({ description: "The hypervisor's exit status, when it exited." }),
    signal: z
      .string()
      .optional()
      .meta({ description: 'The signal that ended the hypervisor (`SIGKILL`), when one did.' }),
    message: z
      .string()
      .optional()
      .meta({ description: 'More about the exit, for people (`supervisor gone`).' }),
  })
  .meta({
    id: 'VMLastExit',
    description:
      "Extension: how the VM's hypervisor last ended, written by its supervisor when it ends.",
  });

export type VMExitReason = z.output<typeof VMExitReasonSchema>;
export type VMLastExit = z.output<typeof VMLastExitSchema>;
