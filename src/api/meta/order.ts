/**
 * Orders strings by code unit, as uids and RFC 3339 timestamps sort. `localeCompare` gives the
 * same order for them but goes through ICU, which made sorting a thousand VMs a visible cost.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
