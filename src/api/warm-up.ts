import { API_VERSION } from './v1alpha1/group.js';
import { fromPlain } from './scheme.js';

const ref = (name: string) => ({ type: 'Docker', ref: `registry.example/${name}:latest` });
const source = { id: `sha256:${'0'.repeat(64)}`, size: '1MB', repoDigests: [] };

/**
 * A kernel as a supervisor reads it. The first decode of a kind compiles its schema's code (zod
 * builds an object's parser when it is first used), which a VM's start would otherwise spend
 * after its supervisor was told to go. Every start reads its kernel; the VM itself mostly comes
 * decoded with the start (HostSupervisorRequest's `known`), and its schema, the costliest to
 * compile (ten milliseconds and more), is left to its first use: compiled ahead, it would hold up
 * the answer to a starter that came meanwhile.
 */
const SAMPLES = [
  {
    apiVersion: API_VERSION,
    kind: 'Kernel',
    metadata: { name: 'warm-up', uid: '0000000000000001', created: '2000-01-01T00:00:00Z' },
    spec: { ociClaim: ref('kernel') },
    status: { ociSource: source },
  },
];

/**
 * Decodes the samples in a turn of the event loop of its own, unless `stop()` then says something
 * came meanwhile (a starter's ping): that is answered first, and its start does its own first
 * decode. Resolves whether the samples were decoded; rejects when the schema refuses one.
 */
export async function warmUpDecodingWhileIdle(stop: () => boolean): Promise<boolean> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  if (stop()) return false;
  for (const sample of SAMPLES) fromPlain(structuredClone(sample));
  return true;
}
