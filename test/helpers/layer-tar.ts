/**
 * Layer tarballs for tests, written by hand so every header field can be set, and PAX xattrs kept
 * as raw bytes. Also the hostile layers that every layer consumer must refuse.
 */
export interface LayerEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  body?: string | Buffer;
  xattrs?: Record<string, Buffer>;
}

const FLAGS = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
} as const;

function header(name: string, flag: string, size: number, e: Partial<LayerEntry>): Buffer {
  const h = Buffer.alloc(512);
  const octal = (v: number, off: number, len: number) =>
    h.write(`${v.toString(8).padStart(len - 1, '0')}\0`, off, len, 'latin1');
  h.write(name, 0, 100, 'utf8');
  octal(e.mode ?? (flag === '5' ? 0o755 : 0o644), 100, 8);
  octal(e.uid ?? 0, 108, 8);
  octal(e.gid ?? 0, 116, 8);
  octal(size, 124, 12);
  octal(Math.floor((e.mtime?.getTime() ?? 1_700_000_000_000) / 1000), 136, 12);
  h.write(flag, 156, 1, 'latin1');
  h.write(e.linkname ?? '', 157, 100, 'utf8');
  h.write('ustar\0' + '00', 257, 8, 'latin1');
  octal(e.devmajor ?? 0, 329, 8);
  octal(e.devminor ?? 0, 337, 8);
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len++;
  return Buffer.concat([Buffer.from(String(len)), rest]);
}

/** An uncompressed tar of `entries`, with PAX records for long names and xattrs. */
export function tarOf(entries: LayerEntry[]): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = Buffer.from(e.body ?? '');
    const records: Buffer[] = [];
    if (Buffer.byteLength(e.name) > 99) records.push(paxRecord('path', Buffer.from(e.name)));
    if (Buffer.byteLength(e.linkname ?? '') > 99)
      records.push(paxRecord('linkpath', Buffer.from(e.linkname ?? '')));
    for (const [k, v] of Object.entries(e.xattrs ?? {}))
      records.push(paxRecord(`SCHILY.xattr.${k}`, v));
    if (records.length > 0) {
      const pax = Buffer.concat(records);
      out.push(header('PaxHeader', 'x', pax.length, {}), pax, pad(pax.length));
    }
    const size = type === 'file' ? body.length : 0;
    out.push(header(e.name.slice(0, 99), FLAGS[type], size, e));
    if (size > 0) out.push(body, pad(size));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

/** Layers that any consumer must reject, whole, writing nothing outside its root. */
export const HOSTILE_LAYERS: [string, LayerEntry[]][] = [
  ['../x', [{ name: '../x', body: 'escaped' }]],
  ['/etc/x', [{ name: '/etc/x', body: 'escaped' }]],
  [
    'a symlink to / then a write through it',
    [
      { name: 'evil', type: 'symlink', linkname: '/' },
      { name: 'evil/escaped', body: 'escaped' },
    ],
  ],
  [
    'a symlink to .. then a write through it',
    [
      { name: 'up', type: 'symlink', linkname: '..' },
      { name: 'up/escaped', body: 'escaped' },
    ],
  ],
  [
    'a chain of symlinks to outside',
    [
      { name: 'd', type: 'directory', mode: 0o755 },
      { name: 'd/l', type: 'symlink', linkname: '../..' },
      { name: 'd/l/escaped', body: 'x' },
    ],
  ],
  ['a hardlink to /etc/passwd', [{ name: 'pw', type: 'link', linkname: '/etc/passwd' }]],
  ['a hardlink to ../../etc/passwd', [{ name: 'pw', type: 'link', linkname: '../../etc/passwd' }]],
  [
    'a hardlink through a symlink',
    [
      { name: 'etc', type: 'symlink', linkname: '/etc' },
      { name: 'pw', type: 'link', linkname: 'etc/passwd' },
    ],
  ],
  [
    'a hardlink to a directory',
    [
      { name: 'd/', type: 'directory' },
      { name: 'l', type: 'link', linkname: 'd' },
    ],
  ],
  ['a whiteout of ../', [{ name: '../.wh.rootfs' }]],
  ['a whiteout named ..', [{ name: 'a/.wh...' }]],
];

/** Where a host file and directory are, for layers that aim at them through a replaced directory. */
export interface HostVictims {
  file: string;
  dir: string;
}

const old = new Date('2001-01-01T00:00:00Z');

/**
 * A directory's mode, owner or times followed by a symlink in its place, in the same layer: the
 * shape of the attack on the host-tree unpacker. Both paths reject these.
 */
export function symlinkAfterDirectory(v: HostVictims): [string, LayerEntry[]][] {
  return [
    [
      'x/ (04777) then x -> a host file',
      [
        { name: 'x/', type: 'directory', mode: 0o4777, mtime: old },
        { name: 'x', type: 'symlink', linkname: v.file },
      ],
    ],
    [
      'd/, d/shadow/ (uid 1234) then d -> a host directory',
      [
        { name: 'd/', type: 'directory', mode: 0o777, mtime: old },
        { name: 'd/shadow/', type: 'directory', mode: 0o777, uid: 1234, gid: 1234, mtime: old },
        { name: 'd', type: 'symlink', linkname: v.dir },
      ],
    ],
    [
      'x/ then a file x',
      [
        { name: 'x/', type: 'directory', mode: 0o4777, mtime: old },
        { name: 'x', body: 'not a directory' },
      ],
    ],
  ];
}
