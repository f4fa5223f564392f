/**
 * Kernel command-line words both drivers adjust to the VM they start.
 *
 * `ip=` (the kernel's own IP autoconfiguration, IP_PNP) is dropped from a VM without a NIC: the
 * kernel would otherwise wait 12 s for a network device before giving up and starting init.
 * Kernels built without IP_PNP ignore the word either way.
 */
export function withoutIPAutoconfig(words: readonly string[], nics: number): string[] {
  return nics > 0 ? [...words] : words.filter((w) => !w.startsWith('ip='));
}

/** The command line's words, split on any whitespace. */
export function cmdlineWords(cmdline: string): string[] {
  return cmdline.trim() === '' ? [] : cmdline.trim().split(/\s+/);
}

/** Whether `words` has `key` alone or as `key=…`. */
export function hasCmdlineKey(words: readonly string[], key: string): boolean {
  return words.some((w) => w === key || w.startsWith(`${key}=`));
}
