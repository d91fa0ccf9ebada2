// Bounds-checked little-endian reads over a byte range. Every length and offset that comes from a file
// goes through here, so a hostile object produces a BpfLoadError instead of a RangeError or garbage.

import { BpfLoadError } from '../errors.js';

export class Bytes {
  readonly dv: DataView;
  constructor(
    readonly u8: Uint8Array,
    /** Used in error messages ("BTF", "section .BTF.ext", ...). */
    readonly what: string,
  ) {
    this.dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  }

  get length(): number {
    return this.u8.byteLength;
  }

  check(off: number, len: number): void {
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > this.u8.byteLength) {
      throw new BpfLoadError(`${this.what}: ${len} bytes at offset ${off} are outside its ${this.u8.byteLength} bytes`, {
        offset: off,
      });
    }
  }

  u8at(off: number): number {
    this.check(off, 1);
    return this.u8[off]!;
  }
  u16(off: number): number {
    this.check(off, 2);
    return this.dv.getUint16(off, true);
  }
  u32(off: number): number {
    this.check(off, 4);
    return this.dv.getUint32(off, true);
  }
  i32(off: number): number {
    this.check(off, 4);
    return this.dv.getInt32(off, true);
  }
  /** u64 as a JS number; fails if it does not fit exactly (no real object needs offsets ≥ 2^53). */
  u64n(off: number): number {
    this.check(off, 8);
    const v = this.dv.getBigUint64(off, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new BpfLoadError(`${this.what}: 64-bit value ${v} at offset ${off} is too large`, { offset: off });
    return Number(v);
  }
  u64(off: number): bigint {
    this.check(off, 8);
    return this.dv.getBigUint64(off, true);
  }
  slice(off: number, len: number): Uint8Array {
    this.check(off, len);
    return this.u8.subarray(off, off + len);
  }
  /** NUL-terminated string starting at `off`; a missing terminator is an error. */
  cstr(off: number): string {
    if (!Number.isSafeInteger(off) || off < 0 || off >= this.u8.byteLength) {
      throw new BpfLoadError(`${this.what}: string offset ${off} is outside its ${this.u8.byteLength} bytes`, { offset: off });
    }
    const end = this.u8.indexOf(0, off);
    if (end < 0) throw new BpfLoadError(`${this.what}: string at offset ${off} is not NUL-terminated`, { offset: off });
    return latin1OrUtf8(this.u8.subarray(off, end));
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
function latin1OrUtf8(b: Uint8Array): string {
  return utf8.decode(b);
}
