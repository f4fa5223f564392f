import { open } from 'node:fs/promises';
import type { Capability } from './vmm-driver.js';

/** One ELF note: its owner (`Xen`, `GNU`, `Linux`) and type. */
export interface ELFNote {
  owner: string;
  type: number;
}

/** What a vmlinux's ELF headers say about how it can be entered. */
export interface KernelELF {
  /** 64 or 32. */
  bits: 64 | 32;
  /** The notes of its PT_NOTE segments, which is where boot loaders look for them. */
  notes: ELFNote[];
}

/** XEN_ELFNOTE_PHYS32_ENTRY: the 32-bit PVH entry point, the one QEMU's microvm boots through. */
export const PVH_NOTE: Readonly<ELFNote> = Object.freeze({ owner: 'Xen', type: 18 });

const PT_NOTE = 4;
/** Notes of a kernel are a few hundred bytes; a segment past this is not read whole. */
const MAX_NOTES_BYTES = 64 * 1024;
const MAX_PROGRAM_HEADERS = 256;

/** Whether the vmlinux announces a PVH entry point. */
export function hasPVHEntry(elf: KernelELF): boolean {
  return elf.notes.some((n) => n.owner === PVH_NOTE.owner && n.type === PVH_NOTE.type);
}

/**
 * Parses the notes of one PT_NOTE segment: each is a header (name size, descriptor size, type),
 * the name, then the descriptor, both padded to `align` bytes. A truncated note ends the list.
 */
export function parseNotes(data: Buffer, align: number): ELFNote[] {
  const pad = (n: number) => Math.ceil(n / align) * align;
  const notes: ELFNote[] = [];
  let at = 0;
  while (at + 12 <= data.length) {
    const namesz = data.readUInt32LE(at);
    const descsz = data.readUInt32LE(at + 4);
    const type = data.readUInt32LE(at + 8);
    const nameAt = at + 12;
    const next = nameAt + pad(namesz) + pad(descsz);
    if (nameAt + pad(namesz) + descsz > data.length) break;
    const owner = data
      .subarray(nameAt, nameAt + namesz)
      .toString('latin1')
      .replace(/\0+$/, '');
    notes.push({ owner, type });
    at = next;
  }
  return notes;
}

/**
 * Reads a little-endian ELF's program headers and the notes of its PT_NOTE segments, as QEMU's
 * and Firecracker's loaders do; a section table is not consulted. Only headers and notes are
 * read, never the whole file. Undefined for a file that is not a little-endian ELF.
 */
export async function readKernelELF(path: string): Promise<KernelELF | undefined> {
  const fh = await open(path, 'r');
  try {
    const read = async (position: number, length: number): Promise<Buffer> => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, position);
      return buf.subarray(0, bytesRead);
    };
    const ident = await read(0, 64);
    if (ident.length < 52 || ident.readUInt32BE(0) !== 0x7f454c46 || ident[5] !== 1)
      return undefined;
    const bits = ident[4] === 2 ? 64 : ident[4] === 1 ? 32 : undefined;
    if (bits === undefined || (bits === 64 && ident.length < 64)) return undefined;
    const phoff = bits === 64 ? Number(ident.readBigUInt64LE(32)) : ident.readUInt32LE(28);
    const phentsize = ident.readUInt16LE(bits === 64 ? 54 : 42);
    const phnum = Math.min(ident.readUInt16LE(bits === 64 ? 56 : 44), MAX_PROGRAM_HEADERS);
    const notes: ELFNote[] = [];
    if (phentsize < (bits === 64 ? 56 : 32)) return { bits, notes };
    const table = await read(phoff, phentsize * phnum);
    for (let i = 0; (i + 1) * phentsize <= table.length; i++) {
      const ph = table.subarray(i * phentsize);
      if (ph.readUInt32LE(0) !== PT_NOTE) continue;
      const [offset, size, align] =
        bits === 64
          ? [Number(ph.readBigUInt64LE(8)), Number(ph.readBigUInt64LE(32)), ph.readBigUInt64LE(48)]
          : [ph.readUInt32LE(4), ph.readUInt32LE(16), BigInt(ph.readUInt32LE(28))];
      if (size === 0) continue;
      const data = await read(offset, Math.min(size, MAX_NOTES_BYTES));
      notes.push(...parseNotes(data, align === 8n ? 8 : 4));
    }
    return { bits, notes };
  } finally {
    await fh.close();
  }
}

/**
 * Whether QEMU's `microvm` can boot the vmlinux: it enters an ELF kernel only through the PVH
 * entry point (without the note QEMU stops with "Error loading uncompressed kernel without PVH
 * ELF Note").
 */
export async function pvhBootable(vmlinuxPath: string): Promise<Capability> {
  const elf = await readKernelELF(vmlinuxPath);
  if (elf === undefined) return { available: false, reason: 'its vmlinux is not an ELF file' };
  if (hasPVHEntry(elf)) return { available: true };
  return {
    available: false,
    reason:
      'its vmlinux has no PVH entry point (no "Xen" ELF note of type 18, XEN_ELFNOTE_PHYS32_ENTRY), which QEMU\'s microvm needs; such a kernel boots only on Firecracker',
  };
}
