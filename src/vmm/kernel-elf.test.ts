import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasPVHEntry, parseNotes, readKernelELF } from './kernel-elf.js';

/** One note as a linker lays it out: header, NUL-ended name, descriptor, each padded. */
function note(owner: string, type: number, desc: Buffer, align = 4): Buffer {
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((align - (b.length % align)) % align)]);
  const name = Buffer.from(`${owner}\0`, 'latin1');
  const head = Buffer.alloc(12);
  head.writeUInt32LE(name.length, 0);
  head.writeUInt32LE(desc.length, 4);
  head.writeUInt32LE(type, 8);
  return Buffer.concat([head, pad(name), pad(desc)]);
}

interface Segment {
  type: number;
  data: Buffer;
  align?: number;
}

/** A little-endian ELF64 (or ELF32) with the given segments after its headers. */
function elf(segments: Segment[], bits: 64 | 32 = 64): Buffer {
  const ehsize = bits === 64 ? 64 : 52;
  const phentsize = bits === 64 ? 56 : 32;
  const header = Buffer.alloc(ehsize);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = bits === 64 ? 2 : 1;
  header[5] = 1;
  header[6] = 1;
  const phoff = ehsize;
  if (bits === 64) header.writeBigUInt64LE(BigInt(phoff), 32);
  else header.writeUInt32LE(phoff, 28);
  header.writeUInt16LE(phentsize, bits === 64 ? 54 : 42);
  header.writeUInt16LE(segments.length, bits === 64 ? 56 : 44);
  let offset = phoff + phentsize * segments.length;
  const table = segments.map((s) => {
    const ph = Buffer.alloc(phentsize);
    ph.writeUInt32LE(s.type, 0);
    if (bits === 64) {
      ph.writeBigUInt64LE(BigInt(offset), 8);
      ph.writeBigUInt64LE(BigInt(s.data.length), 32);
      ph.writeBigUInt64LE(BigInt(s.align ?? 4), 48);
    } else {
      ph.writeUInt32LE(offset, 4);
      ph.writeUInt32LE(s.data.length, 16);
      ph.writeUInt32LE(s.align ?? 4, 28);
    }
    offset += s.data.length;
    return ph;
  });
  return Buffer.concat([header, ...table, ...segments.map((s) => s.data)]);
}

const PT_LOAD = 1;
const PT_NOTE = 4;
const entry = Buffer.from([0, 5, 0, 1, 0, 0, 0, 0]);
const buildID = note('GNU', 3, Buffer.alloc(20, 0xab));
const pvh = note('Xen', 18, entry);

async function withFile<T>(bytes: Buffer, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-elf-'));
  try {
    await writeFile(join(dir, 'vmlinux'), bytes);
    return await fn(join(dir, 'vmlinux'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const cases: { name: string; file: Buffer; pvh: boolean; notes?: string[] }[] = [
  {
    name: 'a kernel with the Xen PHYS32_ENTRY note (as CONFIG_PVH builds it)',
    file: elf([
      { type: PT_LOAD, data: Buffer.alloc(32) },
      { type: PT_NOTE, data: Buffer.concat([buildID, note('Linux', 1, Buffer.alloc(1)), pvh]) },
    ]),
    pvh: true,
    notes: ['GNU/3', 'Linux/1', 'Xen/18'],
  },
  {
    name: 'a kernel without it (Firecracker only)',
    file: elf([{ type: PT_NOTE, data: Buffer.concat([buildID, note('Linux', 1, entry)]) }]),
    pvh: false,
    notes: ['GNU/3', 'Linux/1'],
  },
  {
    name: 'a note segment objcopy emptied (--remove-section .notes)',
    file: elf([{ type: PT_NOTE, data: Buffer.alloc(0), align: 8 }]),
    pvh: false,
    notes: [],
  },
  {
    name: 'a Xen note of another type is not the PVH entry',
    file: elf([{ type: PT_NOTE, data: note('Xen', 17, entry) }]),
    pvh: false,
  },
  {
    name: 'the note in a segment other than PT_NOTE does not count',
    file: elf([{ type: PT_LOAD, data: pvh }]),
    pvh: false,
    notes: [],
  },
  {
    name: 'notes padded to 8 bytes (p_align 8)',
    file: elf([
      {
        type: PT_NOTE,
        data: Buffer.concat([note('GNUX', 3, entry, 8), note('Xen', 18, entry, 8)]),
        align: 8,
      },
    ]),
    pvh: true,
  },
  {
    name: 'a 32-bit ELF',
    file: elf([{ type: PT_NOTE, data: pvh }], 32),
    pvh: true,
  },
  {
    name: 'a truncated note ends the list without failing',
    file: elf([{ type: PT_NOTE, data: Buffer.concat([buildID, pvh.subarray(0, 14)]) }]),
    pvh: false,
    notes: ['GNU/3'],
  },
];

for (const c of cases) {
  test(`readKernelELF: ${c.name}`, async () => {
    const read = await withFile(c.file, readKernelELF);
    assert.ok(read);
    assert.equal(hasPVHEntry(read), c.pvh);
    if (c.notes)
      assert.deepEqual(
        read.notes.map((n) => `${n.owner}/${n.type}`),
        c.notes,
      );
  });
}

test('readKernelELF: not an ELF, or a big-endian one, is undefined', async () => {
  assert.equal(await withFile(Buffer.from('MZ not a kernel at all'), readKernelELF), undefined);
  const big = elf([{ type: PT_NOTE, data: pvh }]);
  big[5] = 2;
  assert.equal(await withFile(big, readKernelELF), undefined);
});

test('parseNotes: the name loses its NUL; padding is skipped', () => {
  const notes = parseNotes(Buffer.concat([note('Xen', 18, Buffer.alloc(3)), buildID]), 4);
  assert.deepEqual(notes, [
    { owner: 'Xen', type: 18 },
    { owner: 'GNU', type: 3 },
  ]);
});
