/**
 * A byte size as Ignite wrote it: parsed from `512MB`, `1GB`, `4G`, `1.5GiB` or a plain number of
 * bytes, held as bytes, and printed as the largest 1024-based unit that divides it exactly
 * (`4GB`, `512MB`, `250213604B`). Units are 1024-based and case-insensitive, as in Ignite, so `MB`
 * and `MiB` mean the same. A lone lower-case `b` after a prefix (`Gb`) would mean bits and is refused.
 */
export class Size {
  readonly bytes: number;

  private constructor(bytes: number) {
    this.bytes = bytes;
  }

  static fromBytes(bytes: number): Size {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new RangeError(`size: ${bytes} is not a whole, non-negative number of bytes`);
    }
    return new Size(bytes);
  }

  /**
   * Parses a size string. Throws RangeError with a message a user can act on.
   * @example Size.parse('1.5GiB').bytes === 1610612736
   */
  static parse(input: string | number): Size {
    if (typeof input === 'number') return Size.fromBytes(input);
    const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
    if (!match) throw new RangeError(`"${input}" is not a size such as 512MB or 4GB`);
    const [, num = '', unit = ''] = match;
    if (/^[KMGTPE]i?b$/.test(unit)) {
      throw new RangeError(
        `"${input}": "${unit}" means bits; write ${unit.slice(0, -1)}B for bytes`,
      );
    }
    const exp = UNIT_EXPONENTS.get(unit.toLowerCase());
    if (exp === undefined)
      throw new RangeError(`"${input}": unknown unit "${unit}" (use B, KB, MB, GB, TB)`);
    const bytes = Math.floor(Number(num) * 1024 ** exp);
    if (!Number.isSafeInteger(bytes)) throw new RangeError(`"${input}" is too large`);
    return new Size(bytes);
  }

  /** Ignite's wire form: the largest unit that divides the value exactly. */
  toString(): string {
    if (this.bytes === 0) return '0B';
    for (let exp = UNITS.length - 1; exp > 0; exp--) {
      const div = 1024 ** exp;
      if (this.bytes % div === 0) return `${this.bytes / div}${UNITS[exp]}`;
    }
    return `${this.bytes}B`;
  }

  toJSON(): string {
    return this.toString();
  }

  /**
   * Human-readable as Ignite printed sizes (datasize's `HR()`): one decimal in the largest unit
   * the value is strictly greater than, so exact powers print in the unit below (`1GB` is
   * `1024.0 MB`, `512MB` is `512.0 MB`), and up to 1 KB in whole bytes (`1024 B`).
   */
  toHuman(): string {
    let exp = UNITS.length - 1;
    while (exp > 0 && this.bytes <= 1024 ** exp) exp--;
    if (exp === 0) return `${this.bytes} B`;
    return `${(this.bytes / 1024 ** exp).toFixed(1)} ${UNITS[exp]}`;
  }

  /** Whole MiB, rounded up: what hypervisors take for memory. */
  toMiB(): number {
    return Math.ceil(this.bytes / 1024 ** 2);
  }

  equals(other: Size): boolean {
    return this.bytes === other.bytes;
  }
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'] as const;

const UNIT_EXPONENTS = new Map<string, number>([
  ['', 0],
  ['b', 0],
  ['k', 1],
  ['kb', 1],
  ['kib', 1],
  ['m', 2],
  ['mb', 2],
  ['mib', 2],
  ['g', 3],
  ['gb', 3],
  ['gib', 3],
  ['t', 4],
  ['tb', 4],
  ['tib', 4],
  ['p', 5],
  ['pb', 5],
  ['pib', 5],
]);
