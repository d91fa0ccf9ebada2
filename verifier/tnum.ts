// tnum ("tracked number"): what the verifier knows about the bits of a 64-bit value.
//
// A tnum is a pair (value, mask) of u64 bit patterns: a bit set in `mask` is unknown; a bit clear in `mask` is
// known and its value is the corresponding bit of `value`. Invariant: value & mask == 0. Every operation here
// returns a tnum that contains every concrete result obtainable from concrete members of the operands, and is
// bit-for-bit what the Linux kernel's kernel/bpf/tnum.c computes (the verifier's decisions depend on the exact
// over-approximation, not only on soundness).
//
// Representation: two bigint fields holding unsigned 64-bit patterns (always in [0, 2^64)). Tnums are treated
// as immutable values; operations allocate a new one.

export const U64_MASK = 0xffff_ffff_ffff_ffffn;
export const U32_MASK = 0xffff_ffffn;

export class Tnum {
  constructor(
    readonly value: bigint,
    readonly mask: bigint,
  ) {}

  toString(): string {
    return `(0x${this.value.toString(16)}; 0x${this.mask.toString(16)})`;
  }
}

/** Completely unknown 64-bit value. */
export const TNUM_UNKNOWN = new Tnum(0n, U64_MASK);
const TNUM_ZERO = new Tnum(0n, 0n);

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);

const LOW = new BigUint64Array(1);
const LOW32 = new Uint32Array(LOW.buffer);

/** The low 32 bits of a 64-bit bigint (signed or unsigned) as a uint32 number, without allocating. */
export function low32(v: bigint): number {
  LOW[0] = v;
  return LOW32[0]!;
}

/** Index of the most significant set bit, 1-based; 0 for 0 (the kernel's fls64). */
export function fls64(x: bigint): number {
  if (x === 0n) return 0;
  LOW[0] = x;
  const hi = LOW32[1]!;
  if (hi !== 0) return 64 - Math.clz32(hi);
  return 32 - Math.clz32(LOW32[0]!);
}

/** Constant tnums of 0 .. 1023, made on first use (counters and small immediates recur). */
const SMALL_CONSTS: (Tnum | undefined)[] = new Array(1024).fill(undefined);

export function tnumConst(value: bigint): Tnum {
  if (value >= 0n && value < 1024n) {
    const k = Number(value);
    return SMALL_CONSTS[k] ?? (SMALL_CONSTS[k] = k === 0 ? TNUM_ZERO : new Tnum(value, 0n));
  }
  return new Tnum(value > 0n && value <= U64_MASK ? value : u64(value), 0n);
}

/** Smallest tnum covering [min, max] (unsigned): the common high prefix is known, the rest unknown. */
export function tnumRange(min: bigint, max: bigint): Tnum {
  if (min < 0n || min > U64_MASK) min = u64(min);
  if (max < 0n || max > U64_MASK) max = u64(max);
  const bits = fls64(min ^ max);
  if (bits > 63) return TNUM_UNKNOWN;
  return new Tnum(min & HIGH_MASKS[bits]!, LOW_MASKS[bits]!);
}

/** LOW_MASKS[n] = 2^n - 1 and HIGH_MASKS[n] its complement in 64 bits (bigint constants built once). */
const LOW_MASKS: bigint[] = Array.from({ length: 65 }, (_, n) => (1n << BigInt(n)) - 1n);
const HIGH_MASKS: bigint[] = LOW_MASKS.map((m) => U64_MASK ^ m);

export function tnumLshift(a: Tnum, shift: number): Tnum {
  const s = BigInt(shift & 0xff);
  // The kernel shifts u64 values; a shift >= 64 is never requested by the verifier.
  return new Tnum(u64(a.value << s), u64(a.mask << s));
}

export function tnumRshift(a: Tnum, shift: number): Tnum {
  const s = BigInt(shift & 0xff);
  return new Tnum(a.value >> s, a.mask >> s);
}

/** Arithmetic right shift of the low `bitness` (32 or 64) bits; a 32-bit result is zero-extended. */
export function tnumArshift(a: Tnum, minShift: number, bitness: 32 | 64): Tnum {
  const s = BigInt(minShift & 0xff);
  if (bitness === 32) {
    return new Tnum(
      BigInt.asUintN(32, BigInt.asIntN(32, a.value) >> s),
      BigInt.asUintN(32, BigInt.asIntN(32, a.mask) >> s),
    );
  }
  return new Tnum(u64(BigInt.asIntN(64, a.value) >> s), u64(BigInt.asIntN(64, a.mask) >> s));
}

export function tnumAdd(a: Tnum, b: Tnum): Tnum {
  const sm = a.mask + b.mask;
  const sv = u64(a.value + b.value);
  const sigma = u64(sm + sv);
  const chi = sigma ^ sv;
  const mu = chi | a.mask | b.mask;
  return new Tnum(sv & ~mu, mu);
}

export function tnumSub(a: Tnum, b: Tnum): Tnum {
  const dv = u64(a.value - b.value);
  const alpha = u64(dv + a.mask);
  const beta = u64(dv - b.mask);
  const chi = alpha ^ beta;
  const mu = chi | a.mask | b.mask;
  return new Tnum(dv & ~mu, mu);
}

/** 0 - a (the kernel's tnum_neg). */
export function tnumNeg(a: Tnum): Tnum {
  return tnumSub(TNUM_ZERO, a);
}

export function tnumAnd(a: Tnum, b: Tnum): Tnum {
  const alpha = a.value | a.mask;
  const beta = b.value | b.mask;
  const v = a.value & b.value;
  return new Tnum(v, alpha & beta & ~v);
}

export function tnumOr(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask | b.mask;
  return new Tnum(v, mu & ~v);
}

export function tnumXor(a: Tnum, b: Tnum): Tnum {
  const v = a.value ^ b.value;
  const mu = a.mask | b.mask;
  return new Tnum(v & ~mu, mu);
}

/**
 * Multiplication as in Linux <= 6.16 (Vishwanathan et al., arXiv:2105.05398): the known product of the values
 * plus a tnum sum of the "uncertain" partial products.
 */
export function tnumMulLegacy(a: Tnum, b: Tnum): Tnum {
  const accV = u64(a.value * b.value);
  let accM = TNUM_ZERO;
  let av = a.value;
  let am = a.mask;
  let bv = b.value;
  let bm = b.mask;
  while (av !== 0n || am !== 0n) {
    if (av & 1n) accM = tnumAdd(accM, new Tnum(0n, bm));
    else if (am & 1n) accM = tnumAdd(accM, new Tnum(0n, bv | bm));
    av >>= 1n;
    am >>= 1n;
    bv = u64(bv << 1n);
    bm = u64(bm << 1n);
  }
  return tnumAdd(new Tnum(accV, 0n), accM);
}

/**
 * Multiplication as in Linux >= 6.17 ("improve the general precision of tnum_mul"): shift-and-add where an
 * uncertain multiplier bit contributes the union of "added" and "not added".
 */
export function tnumMulUnion(a: Tnum, b: Tnum): Tnum {
  let acc = TNUM_ZERO;
  let av = a.value;
  let am = a.mask;
  let bt = b;
  while (av !== 0n || am !== 0n) {
    if (av & 1n) acc = tnumAdd(acc, bt);
    else if (am & 1n) acc = tnumUnion(acc, tnumAdd(acc, bt));
    av >>= 1n;
    am >>= 1n;
    bt = new Tnum(u64(bt.value << 1n), u64(bt.mask << 1n));
  }
  return acc;
}

/** The multiplication the host kernel (6.18) uses. */
export let tnumMul: (a: Tnum, b: Tnum) => Tnum = tnumMulUnion;

/** Select the tnum_mul algorithm (for comparing against other kernel versions). */
export function setTnumMulVariant(v: 'legacy' | 'union'): void {
  tnumMul = v === 'legacy' ? tnumMulLegacy : tnumMulUnion;
}

/** True if the known bits of a and b agree wherever both are known (the sets may intersect). */
export function tnumOverlap(a: Tnum, b: Tnum): boolean {
  const mu = ~a.mask & ~b.mask;
  return (a.value & mu) === (b.value & mu);
}

/**
 * Tnum of numbers satisfying both a and b. Where a and b disagree on a known bit the result has that bit
 * known 1 (kernel behaviour; callers only intersect compatible tnums).
 */
export function tnumIntersect(a: Tnum, b: Tnum): Tnum {
  if (a === b || b.mask === U64_MASK) return a;
  if (a.mask === U64_MASK) return b;
  const v = a.value | b.value;
  const mu = a.mask & b.mask;
  return new Tnum(v & ~mu, mu);
}

/** Tnum containing every member of a and of b. */
export function tnumUnion(a: Tnum, b: Tnum): Tnum {
  const v = a.value & b.value;
  const mu = (a.value ^ b.value) | a.mask | b.mask;
  return new Tnum(v & ~mu, mu);
}

/** Keep only the low `size` bytes (size 1, 2, 4 or 8). */
export function tnumCast(a: Tnum, size: number): Tnum {
  if (size >= 8) return a;
  const m = (1n << BigInt(size * 8)) - 1n;
  return new Tnum(a.value & m, a.mask & m);
}

export function tnumIsConst(a: Tnum): boolean {
  return a.mask === 0n;
}

export function tnumEqualsConst(a: Tnum, b: bigint): boolean {
  return a.mask === 0n && a.value === u64(b);
}

export function tnumIsUnknown(a: Tnum): boolean {
  return a.mask === U64_MASK;
}

/** True if every member of a is a multiple of `size` (a power of two; 0 means "no constraint"). */
export function tnumIsAligned(a: Tnum, size: bigint): boolean {
  if (size === 0n) return true;
  return ((a.value | a.mask) & (size - 1n)) === 0n;
}

/** True if every member of b is a member of a. */
export function tnumIn(a: Tnum, b: Tnum): boolean {
  if (b.mask & ~a.mask) return false;
  return a.value === (b.value & ~a.mask);
}

/** True if the concrete value x is a member of a. */
export function tnumContains(a: Tnum, x: bigint): boolean {
  return (u64(x) & ~a.mask) === a.value;
}

/** 64-character tristate binary text, most significant bit first ('0', '1', 'x'), as tnum_sbin. */
export function tnumSbin(a: Tnum): string {
  let s = '';
  for (let i = 63; i >= 0; i--) {
    const bit = 1n << BigInt(i);
    s += a.mask & bit ? 'x' : a.value & bit ? '1' : '0';
  }
  return s;
}

/** Low 32 bits (zero-extended). */
export function tnumSubreg(a: Tnum): Tnum {
  if (a.value <= U32_MASK && a.mask <= U32_MASK) return a;
  return new Tnum(a.value & U32_MASK, a.mask & U32_MASK);
}

/** The tnum with its low 32 bits known zero. */
export function tnumClearSubreg(a: Tnum): Tnum {
  return new Tnum(a.value & ~U32_MASK & U64_MASK, a.mask & ~U32_MASK & U64_MASK);
}

/** High 32 bits from reg, low 32 bits from subreg. */
export function tnumWithSubreg(reg: Tnum, subreg: Tnum): Tnum {
  return tnumOr(tnumClearSubreg(reg), tnumSubreg(subreg));
}

export function tnumConstSubreg(a: Tnum, value: bigint): Tnum {
  return tnumWithSubreg(a, tnumConst(BigInt.asUintN(32, value)));
}

export function tnumSubregIsConst(a: Tnum): boolean {
  return low32(a.mask) === 0;
}

function swab(x: bigint, bytes: number): bigint {
  let r = 0n;
  for (let i = 0; i < bytes; i++) {
    r = (r << 8n) | ((x >> BigInt(8 * i)) & 0xffn);
  }
  return r;
}

/** Byte swap of the low 16 bits; the result has the upper 48 bits known zero. */
export function tnumBswap16(a: Tnum): Tnum {
  return new Tnum(swab(a.value & 0xffffn, 2), swab(a.mask & 0xffffn, 2));
}

export function tnumBswap32(a: Tnum): Tnum {
  return new Tnum(swab(a.value & U32_MASK, 4), swab(a.mask & U32_MASK, 4));
}

export function tnumBswap64(a: Tnum): Tnum {
  return new Tnum(swab(a.value, 8), swab(a.mask, 8));
}

/**
 * Smallest member of t that is greater than z, clamped to [min member, max member] (the kernel's tnum_step,
 * newer kernels only; provided for completeness).
 */
export function tnumStep(t: Tnum, z: bigint): bigint {
  z = u64(z);
  const tmax = t.value | t.mask;
  if (z >= tmax) return tmax;
  if (z < t.value) return t.value;
  const d = z - t.value;
  const carryMask = u64((1n << BigInt(fls64(d & ~t.mask))) - 1n);
  const filled = d | carryMask | (~t.mask & U64_MASK);
  const inc = u64(filled + 1n) & t.mask;
  return t.value | inc;
}
