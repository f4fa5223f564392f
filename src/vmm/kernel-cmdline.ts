/**
 * Kernel command-line words both drivers adjust to the VM they start.
 *
 * `ip=` (the kernel's own IP autoconfiguration, IP_PNP) is dropped from a VM without a NIC: the
 * kernel would otherwise wait 12 s for a network device before giving up and starting init.
 * With several NICs a bare `ip=dhcp` is pinned to eth0: the kernel would take whichever NIC's
 * server answered first, and the default route with it. Kernels built without IP_PNP ignore the
 * word either way.
 */
export function withoutIPAutoconfig(words: readonly string[], nics: number): string[] {
  if (nics === 0) return words.filter((w) => !w.startsWith('ip='));
  return nics === 1 ? [...words] : words.map((w) => (w === 'ip=dhcp' ? 'ip=:::::eth0:dhcp' : w));
}

/** The command line's words, split on any whitespace. */
export function cmdlineWords(cmdline: string): string[] {
  return cmdline.trim() === '' ? [] : cmdline.trim().split(/\s+/);
}

/** Whether `words` has `key` alone or as `key=…`. */
export function hasCmdlineKey(words: readonly string[], key: string): boolean {
  return words.some((w) => w === key || w.startsWith(`${key}=`));
}
