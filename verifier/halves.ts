// reg_bounds_sync on 32-bit halves: the kernel's bounds synchronisation (__update_reg_bounds,
// __reg_deduce_bounds, __reg_bound_offset) computed without allocating.
//
// ScalarBounds keeps its 64-bit facts as bigints (the API of the whole verifier), but every bigint operation
// allocates, and reg_bounds_sync runs after nearly every ALU instruction and branch with ~150 of them. Here the
// nine facts are copied into one preallocated buffer (writing a bigint into a BigUint64Array allocates
// nothing), read back as 32-bit halves through a Uint32Array view of the same memory, computed on with plain
// numbers, and only the facts that changed are written back as bigints (one allocation each).
//
// Layout of W (Uint32Array; a 64-bit fact k is W[2k] = low half, W[2k + 1] = high half, little-endian as every
// host Node runs on): var_off value, var_off mask, smin, smax, umin, umax, then s32min, s32max (as uint32 bit
// patterns), u32min, u32max. W[16..31] is the copy taken at load (to see what changed), W[32..35] scratch,
// W[40..55] the state before a deduction round.

import type { ScalarBounds } from './scalar.js';
import { TNUM_UNKNOWN, Tnum } from './tnum.js';

const BUF = new ArrayBuffer(64 * 4);
const X = new BigUint64Array(BUF);
const I = new BigInt64Array(BUF);
const W = new Uint32Array(BUF);
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('bpfvm verifier: big-endian hosts are not supported');

const VL = 0, VH = 1, ML = 2, MH = 3, SNL = 4, SNH = 5, SXL = 6, SXH = 7, UNL = 8, UNH = 9, UXL = 10, UXH = 11;
const S32N = 12, S32X = 13, U32N = 14, U32X = 15;
const ORIG = 16, TL = 32, TH = 33, ROUND = 40;

/** Copy r's nine facts into W (no allocation). */
export function loadBounds(r: ScalarBounds): void {
  X[0] = r.varOff.value;
  X[1] = r.varOff.mask;
  I[2] = r.smin;
  I[3] = r.smax;
  X[4] = r.umin;
  X[5] = r.umax;
  W[S32N] = r.s32min;
  W[S32X] = r.s32max;
  W[U32N] = r.u32min;
  W[U32X] = r.u32max;
  for (let k = 0; k < 16; k++) W[ORIG + k] = W[k]!;
}

const changed = (k: number): boolean => W[k] !== W[ORIG + k] || W[k + 1] !== W[ORIG + k + 1];

/** Write the facts that changed since loadBounds back to r. */
export function storeBounds(r: ScalarBounds): void {
  if (changed(VL) || changed(ML)) {
    r.varOff = W[VL] === 0 && W[VH] === 0 && W[ML] === 0xffff_ffff && W[MH] === 0xffff_ffff ? TNUM_UNKNOWN : new Tnum(X[0]!, X[1]!);
  }
  if (changed(SNL)) r.smin = I[2]!;
  if (changed(SXL)) r.smax = I[3]!;
  if (changed(UNL)) r.umin = X[4]!;
  if (changed(UXL)) r.umax = X[5]!;
  r.s32min = W[S32N]! | 0;
  r.s32max = W[S32X]! | 0;
  r.u32min = W[U32N]!;
  r.u32max = W[U32X]!;
}

// 64-bit comparisons of (high, low) pairs of uint32 numbers.
const ltU = (ah: number, al: number, bh: number, bl: number): boolean => ah < bh || (ah === bh && al < bl);
const ltS = (ah: number, al: number, bh: number, bl: number): boolean => (ah | 0) < (bh | 0) || (ah === bh && al < bl);

// fact k := max/min(fact k, (h, l)), unsigned or signed
function maxU(k: number, h: number, l: number): void {
  if (ltU(W[k + 1]!, W[k]!, h, l)) { W[k] = l; W[k + 1] = h; }
}
function minU(k: number, h: number, l: number): void {
  if (ltU(h, l, W[k + 1]!, W[k]!)) { W[k] = l; W[k + 1] = h; }
}
function maxS(k: number, h: number, l: number): void {
  if (ltS(W[k + 1]!, W[k]!, h, l)) { W[k] = l; W[k + 1] = h; }
}
function minS(k: number, h: number, l: number): void {
  if (ltS(h, l, W[k + 1]!, W[k]!)) { W[k] = l; W[k + 1] = h; }
}
function set64(k: number, h: number, l: number): void {
  W[k] = l;
  W[k + 1] = h;
}

/** fls64 of (h, l). */
const fls = (h: number, l: number): number => (h !== 0 ? 64 - Math.clz32(h) : l !== 0 ? 32 - Math.clz32(l) : 0);
/** Halves of 2^n - 1 (0 <= n <= 64). */
const lowMaskLo = (n: number): number => (n >= 32 ? 0xffff_ffff : n === 0 ? 0 : 0xffff_ffff >>> (32 - n));
const lowMaskHi = (n: number): number => (n <= 32 ? 0 : 0xffff_ffff >>> (64 - n));

/** ___mark_reg_known on W. */
function markKnownW(h: number, l: number): void {
  set64(VL, h, l);
  set64(ML, 0, 0);
  set64(SNL, h, l);
  set64(SXL, h, l);
  set64(UNL, h, l);
  set64(UXL, h, l);
  W[S32N] = W[S32X] = W[U32N] = W[U32X] = l;
}

/** tnum_step(var_off, (zh, zl)) into W[TL], W[TH]. */
function tnumStepW(zh: number, zl: number): void {
  const vh = W[VH]!, vl = W[VL]!, mh = W[MH]!, ml = W[ML]!;
  const th = (vh | mh) >>> 0, tl = (vl | ml) >>> 0;
  if (!ltU(zh, zl, th, tl)) {
    W[TL] = tl;
    W[TH] = th;
    return;
  }
  if (ltU(zh, zl, vh, vl)) {
    W[TL] = vl;
    W[TH] = vh;
    return;
  }
  let dl = zl - vl;
  let dh = zh - vh;
  if (dl < 0) {
    dl += 0x1_0000_0000;
    dh -= 1;
  }
  dh >>>= 0;
  const bits = fls((dh & ~mh) >>> 0, (dl & ~ml) >>> 0);
  const fh = (dh | lowMaskHi(bits) | ~mh) >>> 0;
  let il = ((dl | lowMaskLo(bits) | ~ml) >>> 0) + 1;
  let ih = fh;
  if (il > 0xffff_ffff) {
    il = 0;
    ih = (ih + 1) >>> 0;
  }
  W[TL] = (vl | (il & ml)) >>> 0;
  W[TH] = (vh | (ih & mh)) >>> 0;
}

/** __update_reg32_bounds */
export function update32W(): void {
  const v = W[VL]!, m = W[ML]!;
  const a = (v | (m & 0x8000_0000)) | 0;
  if (a > (W[S32N]! | 0)) W[S32N] = a;
  const b = (v | (m & 0x7fff_ffff)) | 0;
  if (b < (W[S32X]! | 0)) W[S32X] = b;
  if (v > W[U32N]!) W[U32N] = v;
  const c = (v | m) >>> 0;
  if (c < W[U32X]!) W[U32X] = c;
}

/** __update_reg64_bounds, with "a tnum and a range sharing one member make a constant". */
export function update64W(): void {
  const vh = W[VH]!, vl = W[VL]!, mh = W[MH]!, ml = W[ML]!;
  const th = (vh | mh) >>> 0, tl = (vl | ml) >>> 0;
  maxS(SNL, (vh | (mh & 0x8000_0000)) >>> 0, vl);
  minS(SXL, (vh | (mh & 0x7fff_ffff)) >>> 0, tl);
  maxU(UNL, vh, vl);
  minU(UXL, th, tl);
  const unh = W[UNH]!, unl = W[UNL]!;
  tnumStepW(unh, unl);
  const nh = W[TH]!, nl = W[TL]!;
  const uminIn = ((unh & ~mh) >>> 0) === vh && ((unl & ~ml) >>> 0) === vl;
  if (uminIn) {
    if (ltU(W[UXH]!, W[UXL]!, nh, nl)) markKnownW(unh, unl);
  } else if (nh === th && nl === tl) {
    markKnownW(th, tl);
  } else if (!ltU(W[UXH]!, W[UXL]!, nh, nl)) {
    tnumStepW(nh, nl);
    if (ltU(W[UXH]!, W[UXL]!, W[TH]!, W[TL]!)) markKnownW(nh, nl);
  }
}

/** __reg32_deduce_bounds */
function deduce32W(): void {
  const uminHi = W[UNH]!, umaxHi = W[UXH]!, sminHi = W[SNH]!, smaxHi = W[SXH]!;
  const uminLo = W[UNL]!, umaxLo = W[UXL]!, sminLo = W[SNL]!, smaxLo = W[SXL]!;
  let s32min = W[S32N]! | 0, s32max = W[S32X]! | 0, u32min = W[U32N]!, u32max = W[U32X]!;
  // Low 32 bits of a 64-bit range whose upper halves agree form a range.
  if (uminHi === umaxHi) {
    u32min = Math.max(u32min, uminLo);
    u32max = Math.min(u32max, umaxLo);
    if ((uminLo | 0) <= (umaxLo | 0)) {
      s32min = Math.max(s32min, uminLo | 0);
      s32max = Math.min(s32max, umaxLo | 0);
    }
  }
  if (sminHi === smaxHi) {
    if (sminLo <= smaxLo) {
      u32min = Math.max(u32min, sminLo);
      u32max = Math.min(u32max, smaxLo);
    }
    if ((sminLo | 0) <= (smaxLo | 0)) {
      s32min = Math.max(s32min, sminLo | 0);
      s32max = Math.min(s32max, smaxLo | 0);
    }
  }
  // Upper halves are two consecutive numbers and the low halves cross from negative to non-negative.
  if (((uminHi + 1) >>> 0) === umaxHi && (uminLo | 0) < 0 && (umaxLo | 0) >= 0) {
    s32min = Math.max(s32min, uminLo | 0);
    s32max = Math.min(s32max, umaxLo | 0);
  }
  if (((sminHi + 1) >>> 0) === smaxHi && (sminLo | 0) < 0 && (smaxLo | 0) >= 0) {
    s32min = Math.max(s32min, sminLo | 0);
    s32max = Math.min(s32max, smaxLo | 0);
  }
  // u32 range that does not cross the s32 sign boundary is also an s32 range.
  if ((u32min | 0) <= (u32max | 0)) {
    s32min = Math.max(s32min, u32min | 0);
    s32max = Math.min(s32max, u32max | 0);
  }
  if (s32min >>> 0 <= s32max >>> 0) {
    u32min = Math.max(s32min >>> 0, u32min);
    u32max = Math.min(s32max >>> 0, u32max);
  } else if (u32max < s32min >>> 0) {
    // u32 range overlaps only the non-negative part of the s32 range.
    s32min = u32min | 0;
    u32max = Math.min(u32max, s32max >>> 0);
  } else if (s32max >>> 0 < u32min) {
    // u32 range overlaps only the negative part of the s32 range.
    s32max = u32max | 0;
    u32min = Math.max(u32min, s32min >>> 0);
  }
  W[S32N] = s32min;
  W[S32X] = s32max;
  W[U32N] = u32min;
  W[U32X] = u32max;
}

/** __reg64_deduce_bounds */
function deduce64W(): void {
  if (!ltS(W[UXH]!, W[UXL]!, W[UNH]!, W[UNL]!)) {
    maxS(SNL, W[UNH]!, W[UNL]!);
    minS(SXL, W[UXH]!, W[UXL]!);
  }
  if (!ltU(W[SXH]!, W[SXL]!, W[SNH]!, W[SNL]!)) {
    maxU(UNL, W[SNH]!, W[SNL]!);
    minU(UXL, W[SXH]!, W[SXL]!);
  } else if (ltU(W[UXH]!, W[UXL]!, W[SNH]!, W[SNL]!)) {
    set64(SNL, W[UNH]!, W[UNL]!);
    minU(UXL, W[SXH]!, W[SXL]!);
  } else if (ltU(W[SXH]!, W[SXL]!, W[UNH]!, W[UNL]!)) {
    set64(SXL, W[UXH]!, W[UXL]!);
    maxU(UNL, W[SNH]!, W[SNL]!);
  }
}

/** var_off := tnum_intersect(var_off, tnum_range((nh, nl), (xh, xl))) */
function intersectRangeW(nh: number, nl: number, xh: number, xl: number): void {
  const bits = fls((nh ^ xh) >>> 0, (nl ^ xl) >>> 0);
  let rvh = 0, rvl = 0, rmh = 0xffff_ffff, rml = 0xffff_ffff;
  if (bits <= 63) {
    rmh = lowMaskHi(bits);
    rml = lowMaskLo(bits);
    rvh = (nh & ~rmh) >>> 0;
    rvl = (nl & ~rml) >>> 0;
  }
  const muh = W[MH]! & rmh, mul = W[ML]! & rml;
  W[VH] = (W[VH]! | rvh) & ~muh;
  W[VL] = (W[VL]! | rvl) & ~mul;
  W[MH] = muh;
  W[ML] = mul;
}

/** __reg_deduce_mixed_bounds */
function deduceMixedW(): void {
  // u32 -> u64 and u32 -> s64: splice the 32-bit bounds into the low halves of the 64-bit bounds (a no-op
  // when the u32 range is full: the spliced bounds are then never tighter).
  const u32min = W[U32N]!, u32max = W[U32X]!;
  if (u32min !== 0 || u32max !== 0xffff_ffff) {
    maxU(UNL, W[UNH]!, u32min);
    minU(UXL, W[UXH]!, u32max);
    maxS(SNL, W[SNH]!, u32min);
    minS(SXL, W[SXH]!, u32max);
  }
  // s32 -> u64/s64 the same way when the s32 range is a u32 range too (skipped when it is the u32 range just
  // spliced in: splicing it again changes nothing)
  const a = W[S32N]!, b = W[S32X]!;
  if (a <= b && (a !== u32min || b !== u32max)) {
    maxU(UNL, W[UNH]!, a);
    minU(UXL, W[UXH]!, b);
    maxS(SNL, W[SNH]!, a);
    minS(SXL, W[SXH]!, b);
  }
  // After a sign-extending load: [(s64)S32_MIN, S32_MAX] with a non-negative s32 range is that s32 range.
  if ((a | 0) >= 0 && !ltS(W[SNH]!, W[SNL]!, 0xffff_ffff, 0x8000_0000) && !ltS(0, 0x7fff_ffff, W[SXH]!, W[SXL]!)) {
    const bh = (b | 0) < 0 ? 0xffff_ffff : 0;
    set64(SNL, 0, a);
    set64(SXL, bh, b);
    set64(UNL, 0, a);
    set64(UXL, bh, b);
    intersectRangeW(0, a, bh, b);
  }
}

/** __reg_deduce_bounds */
function deduceW(): void {
  deduce32W();
  deduce64W();
  deduceMixedW();
}

/** __reg_bound_offset */
function boundOffsetW(): void {
  intersectRangeW(W[UNH]!, W[UNL]!, W[UXH]!, W[UXL]!);
  // the low half against tnum_range(u32min, u32max)
  const u32min = W[U32N]!, u32max = W[U32X]!;
  const rml = lowMaskLo(fls(0, (u32min ^ u32max) >>> 0));
  const rvl = (u32min & ~rml) >>> 0;
  const mul = W[ML]! & rml;
  W[VL] = (W[VL]! | rvl) & ~mul;
  W[ML] = mul;
  // tnum_or(tnum_clear_subreg(v64), v32): the high mask loses bits known in the value (none, for a valid tnum)
  W[MH] = W[MH]! & ~W[VH]!;
}

/** reg_bounds_sync on W. */
export function syncW(): void {
  // A constant whose nine facts already agree is a fixpoint of the whole sync (the common case for pointer
  // offsets and immediates).
  const vh = W[VH]!, vl = W[VL]!;
  if (W[ML] === 0 && W[MH] === 0 && W[UNL] === vl && W[UNH] === vh && W[UXL] === vl && W[UXH] === vh &&
    W[SNL] === vl && W[SNH] === vh && W[SXL] === vl && W[SXH] === vh &&
    W[S32N] === vl && W[S32X] === vl && W[U32N] === vl && W[U32X] === vl) return;
  update32W();
  update64W();
  // The kernel runs three rounds; a round is a function of the state alone, so once one changes nothing the
  // rest cannot either.
  for (let round = 0; round < 3; round++) {
    for (let k = 0; k < 16; k++) W[ROUND + k] = W[k]!;
    deduceW();
    let same = true;
    for (let k = 0; k < 16; k++) {
      if (W[ROUND + k] !== W[k]) {
        same = false;
        break;
      }
    }
    if (same) break;
  }
  boundOffsetW();
  update32W();
  update64W();
}
