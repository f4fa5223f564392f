/** How many objects a listing reads at once: enough to overlap I/O, few enough for small hosts. */
const CONCURRENCY = 32;

/**
 * Reads every listed object, several at a time, in the listing's order. An object deleted
 * between the listing and its read is left out: that is not an error for a listing.
 */
export async function readAll<T>(
  uids: readonly string[],
  get: (uid: string) => Promise<T>,
): Promise<T[]> {
  const out: (T | undefined)[] = new Array<T | undefined>(uids.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < uids.length; i = next++) {
      try {
        out[i] = await get(uids[i] ?? '');
      } catch (err) {
        if ((err as { code?: string }).code !== 'NotFound') throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, uids.length) }, worker));
  return out.filter((o): o is T => o !== undefined);
}
