// Scalar register bounds: the numeric core of the verifier's SCALAR_VALUE tracking.
//
// A ScalarBounds holds the kernel's nine facts about a scalar (struct bpf_reg_state): var_off (a tnum),
// smin/smax (s64), umin/umax (u64), s32_min/s32_max, u32_min/u32_max. The functions below reproduce, bit for
// bit, the kernel's (Linux 6.18) transfer functions: reg_bounds_sync and its parts, the zero/sign-extension
// helpers, the scalar ALU transfer (adjust_scalar_min_max_vals and the scalar{32,}_min_max_* helpers,
// scalar_byte_swap, BPF_NEG), and the branch logic (is_scalar_branch_taken, regs_refine_cond_op,
// reg_set_min_max).
//
// Representation: 64-bit bounds are bigints (smin/smax signed in [-2^63, 2^63), umin/umax in [0, 2^64)),
// 32-bit bounds are JS numbers (s32 in int32 range, u32 in uint32 range). Functions mutate their first
// argument, like the kernel's; use `clone()` to keep a copy.

import {
  TNUM_UNKNOWN, Tnum, U32_MASK, U64_MASK, fls64, tnumAdd, tnumAnd, tnumArshift, tnumBswap16, tnumBswap32,
  tnumBswap64, tnumCast, tnumConst, tnumConstSubreg, tnumIntersect, tnumIsConst, tnumLshift,
  tnumMul, tnumNeg, tnumOr, tnumOverlap, tnumRange, tnumRshift, tnumSub, tnumSubreg, tnumSubregIsConst,
  tnumWithSubreg, tnumXor, low32,
} from './tnum.js';
import { loadBounds, storeBounds, syncW, update32W, update64W } from './halves.js';

export const S64_MIN = -(1n << 63n);
export const S64_MAX = (1n << 63n) - 1n;
export const U64_MAX = U64_MASK;
export const S32_MIN = -0x8000_0000;
export const S32_MAX = 0x7fff_ffff;
export const U32_MAX = 0xffff_ffff;

// BPF_OP() values (ALU and JMP share the encoding space).
export const BPF_ADD = 0x00, BPF_SUB = 0x10, BPF_MUL = 0x20, BPF_DIV = 0x30, BPF_OR = 0x40, BPF_AND = 0x50;
export const BPF_LSH = 0x60, BPF_RSH = 0x70, BPF_NEG = 0x80, BPF_MOD = 0x90, BPF_XOR = 0xa0, BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0, BPF_END = 0xd0;
export const BPF_JEQ = 0x10, BPF_JGT = 0x20, BPF_JGE = 0x30, BPF_JSET = 0x40, BPF_JNE = 0x50, BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70, BPF_JLT = 0xa0, BPF_JLE = 0xb0, BPF_JSLT = 0xc0, BPF_JSLE = 0xd0;
/** rev_opcode(BPF_JSET): "no bit of the constant is set" (the kernel's BPF_JSET | BPF_X). */
export const BPF_JSET_NOT = 0x48;

const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s32 = (x: number): number => x | 0;
const u32 = (x: number): number => x >>> 0;
const bmax = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const bmin = (a: bigint, b: bigint): bigint => (a < b ? a : b);
/** (u32)(64-bit bigint, signed or unsigned) */
const lo32u = (x: bigint): number => low32(x);
/** (s32)(64-bit bigint, signed or unsigned) */
const lo32s = (x: bigint): number => low32(x) | 0;

export class ScalarBounds {
  // set in the constructor (not by field initialisers, which a copy would run only to overwrite them)
  declare varOff: Tnum;
  declare smin: bigint;
  declare smax: bigint;
  declare umin: bigint;
  declare umax: bigint;
  declare s32min: number;
  declare s32max: number;
  declare u32min: number;
  declare u32max: number;

  /** Unbounded, or a copy of `src`'s nine facts. */
  constructor(src?: ScalarBounds) {
    if (src === undefined) {
      this.varOff = TNUM_UNKNOWN;
      this.smin = S64_MIN;
      this.smax = S64_MAX;
      this.umin = 0n;
      this.umax = U64_MAX;
      this.s32min = S32_MIN;
      this.s32max = S32_MAX;
      this.u32min = 0;
      this.u32max = U32_MAX;
    } else {
      this.varOff = src.varOff;
      this.smin = src.smin;
      this.smax = src.smax;
      this.umin = src.umin;
      this.umax = src.umax;
      this.s32min = src.s32min;
      this.s32max = src.s32max;
      this.u32min = src.u32min;
      this.u32max = src.u32max;
    }
  }

  /** A copy of the bounds (a subclass such as RegState overrides this to copy everything it holds). */
  clone(): ScalarBounds {
    return new ScalarBounds(this);
  }

  /** A plain ScalarBounds with this object's bounds (never overridden: only the nine facts). */
  cloneBounds(): ScalarBounds {
    return new ScalarBounds(this);
  }

  /** Set the nine facts from `o` (never overridden: a RegState keeps its type, ids and the rest). */
  setBounds(o: ScalarBounds): this {
    this.varOff = o.varOff;
    this.smin = o.smin;
    this.smax = o.smax;
    this.umin = o.umin;
    this.umax = o.umax;
    this.s32min = o.s32min;
    this.s32max = o.s32max;
    this.u32min = o.u32min;
    this.u32max = o.u32max;
    return this;
  }

  equals(o: ScalarBounds): boolean {
    return (
      this.varOff.value === o.varOff.value && this.varOff.mask === o.varOff.mask &&
      this.smin === o.smin && this.smax === o.smax && this.umin === o.umin && this.umax === o.umax &&
      this.s32min === o.s32min && this.s32max === o.s32max && this.u32min === o.u32min && this.u32max === o.u32max
    );
  }


  /** var_off is a constant (RegState overrides this: a register must also be a scalar). */
  isConst(): boolean {
    return this.varOff.mask === 0n;
  }

  /** Debug text (not the kernel format; see format.ts for that). */
  toString(): string {
    return `var_off=${this.varOff} s64=[${this.smin}, ${this.smax}] u64=[${this.umin}, ${this.umax}] ` +
      `s32=[${this.s32min}, ${this.s32max}] u32=[${this.u32min}, ${this.u32max}]`;
  }

  static unknown(): ScalarBounds {
    return new ScalarBounds();
  }

  static known(v: bigint): ScalarBounds {
    const r = new ScalarBounds();
    markKnown(r, v);
    return r;
  }

  /** Build from explicit facts (unspecified ones unbounded), then reg_bounds_sync. */
  static from(f: Partial<Pick<ScalarBounds, 'varOff' | 'smin' | 'smax' | 'umin' | 'umax' | 's32min' | 's32max' |
    'u32min' | 'u32max'>>, sync = true): ScalarBounds {
    const r = new ScalarBounds();
    Object.assign(r, f);
    if (sync) regBoundsSync(r);
    return r;
  }
}

// ---- constructors / markers ------------------------------------------------------------------------------

/** ___mark_reg_known: the register holds exactly `imm` (taken mod 2^64). */
export function markKnown(r: ScalarBounds, imm: bigint): void {
  const v = imm >= 0n && imm <= U64_MAX ? imm : u64(imm);
  r.varOff = tnumConst(v);
  r.smin = r.smax = v <= S64_MAX ? v : s64(v);
  r.umin = r.umax = v;
  r.s32min = r.s32max = lo32s(v);
  r.u32min = r.u32max = lo32u(v);
}

/** __mark_reg32_known: the low 32 bits are exactly `imm`; the upper half of var_off is kept. */
export function mark32Known(r: ScalarBounds, imm: bigint): void {
  r.varOff = tnumConstSubreg(r.varOff, imm);
  r.s32min = r.s32max = lo32s(imm);
  r.u32min = r.u32max = lo32u(imm);
}

/** __mark_reg_unknown (for a scalar): var_off unknown, all bounds unbounded. */
export function markUnknown(r: ScalarBounds): void {
  r.varOff = TNUM_UNKNOWN;
  markUnbounded(r);
}

export function markUnbounded(r: ScalarBounds): void {
  mark64Unbounded(r);
  mark32Unbounded(r);
}

export function mark64Unbounded(r: ScalarBounds): void {
  r.smin = S64_MIN;
  r.smax = S64_MAX;
  r.umin = 0n;
  r.umax = U64_MAX;
}

export function mark32Unbounded(r: ScalarBounds): void {
  r.s32min = S32_MIN;
  r.s32max = S32_MAX;
  r.u32min = 0;
  r.u32max = U32_MAX;
}

// ---- reg_bounds_sync -------------------------------------------------------------------------------------

// The bounds synchronisation runs on 32-bit halves without allocating (halves.ts); these wrap it for a
// ScalarBounds.

/** __update_reg32_bounds: tighten the 32-bit bounds from var_off. */
export function update32Bounds(r: ScalarBounds): void {
  loadBounds(r);
  update32W();
  storeBounds(r);
}

/** __update_reg_bounds: tighten all bounds from var_off. */
export function updateRegBounds(r: ScalarBounds): void {
  loadBounds(r);
  update32W();
  update64W();
  storeBounds(r);
}

/** reg_bounds_sync: make var_off and the eight bounds mutually consistent. */
export function regBoundsSync(r: ScalarBounds): void {
  loadBounds(r);
  syncW();
  storeBounds(r);
}

/**
 * reg_bounds_sanity_check: null if the state is well-formed, else the kernel's reason. The kernel then logs
 * "REG INVARIANTS VIOLATION (<ctx>): <reason> ..." and marks the bounds (not var_off) unbounded; pass
 * `fix = true` to do the latter here.
 */
export function boundsSanityCheck(r: ScalarBounds, fix = false): string | null {
  let msg: string | null = null;
  if (r.umin > r.umax || r.smin > r.smax || r.u32min > r.u32max || r.s32min > r.s32max) {
    msg = 'range bounds violation';
  } else if (tnumIsConst(r.varOff)) {
    const uv = r.varOff.value;
    const sv = uv <= S64_MAX ? uv : s64(uv);
    if (r.umin !== uv || r.umax !== uv || r.smin !== sv || r.smax !== sv) msg = 'const tnum out of sync with range bounds';
  }
  if (msg === null && tnumSubregIsConst(r.varOff)) {
    const uv = low32(r.varOff.value);
    const sv = s32(uv);
    if (r.u32min !== uv || r.u32max !== uv || r.s32min !== sv || r.s32max !== sv) {
      msg = 'const subreg tnum out of sync with range bounds';
    }
  }
  if (msg !== null && fix) markUnbounded(r);
  return msg;
}

/** The kernel's REG INVARIANTS VIOLATION line (without the trailing newline). */
export function invariantsViolationText(r: ScalarBounds, ctx: string, msg: string): string {
  const h = (x: bigint | number) => (x === 0 || x === 0n ? '0' : '0x' + x.toString(16));
  return `REG INVARIANTS VIOLATION (${ctx}): ${msg} u64=[${h(r.umin)}, ${h(r.umax)}] ` +
    `s64=[${h(u64(r.smin))}, ${h(u64(r.smax))}] u32=[${h(r.u32min)}, ${h(r.u32max)}] ` +
    `s32=[${h(u32(r.s32min))}, ${h(u32(r.s32max))}] var_off=(${h(r.varOff.value)}, ${h(r.varOff.mask)})`;
}

// ---- width changes ---------------------------------------------------------------------------------------

/** __reg_assign_32_into_64 */
export function assign32Into64(r: ScalarBounds): void {
  r.umin = BigInt(r.u32min);
  r.umax = BigInt(r.u32max);
  if (r.s32min >= 0 && r.s32max >= 0) {
    r.smin = BigInt(r.s32min);
    r.smax = BigInt(r.s32max);
  } else {
    r.smin = 0n;
    r.smax = BigInt(U32_MAX);
  }
}

/** zext_32_to_64: the result of an ALU32 operation. */
export function zext32To64(r: ScalarBounds): void {
  r.varOff = tnumSubreg(r.varOff);
  assign32Into64(r);
}

/** coerce_reg_to_size: zero-extend the low `size` bytes (1, 2 or 4), as after a narrow load. */
export function coerceRegToSize(r: ScalarBounds, size: number): void {
  r.varOff = tnumCast(r.varOff, size);
  const mask = (1n << BigInt(size * 8)) - 1n;
  if ((r.umin & ~mask) === (r.umax & ~mask)) {
    r.umin &= mask;
    r.umax &= mask;
  } else {
    r.umin = 0n;
    r.umax = mask;
  }
  r.smin = r.umin;
  r.smax = r.umax;
  if (size < 4) mark32Unbounded(r);
  regBoundsSync(r);
}

function sextBits(v: bigint, size: number): bigint {
  return BigInt.asIntN(size * 8, v);
}

function setSext64DefaultVal(r: ScalarBounds, size: number): void {
  const min = size === 1 ? -128 : size === 2 ? -32768 : S32_MIN;
  const max = size === 1 ? 127 : size === 2 ? 32767 : S32_MAX;
  r.smin = BigInt(min);
  r.s32min = min;
  r.smax = BigInt(max);
  r.s32max = max;
  r.umin = 0n;
  r.u32min = 0;
  r.umax = U64_MAX;
  r.u32max = U32_MAX;
  r.varOff = TNUM_UNKNOWN;
}

/** coerce_reg_to_size_sx: sign-extend the low `size` bytes (1, 2 or 4) to 64 bits (MOVSX64, LDSX). */
export function coerceRegToSizeSx(r: ScalarBounds, size: number): void {
  if (tnumIsConst(r.varOff)) {
    const v = u64(sextBits(r.varOff.value, size));
    r.varOff = tnumConst(v);
    r.smin = r.smax = s64(v);
    r.umin = r.umax = v;
    r.s32min = r.s32max = lo32s(v);
    r.u32min = r.u32max = lo32u(v);
    return;
  }
  const nb = BigInt(size * 8);
  const topMax = (u64(r.smax) >> nb) << nb;
  const topMin = (u64(r.smin) >> nb) << nb;
  if (topMax === topMin) {
    const a = sextBits(r.smax, size);
    const b = sextBits(r.smin, size);
    const mx = bmax(a, b);
    const mn = bmin(a, b);
    if ((mx >= 0n) === (mn >= 0n)) {
      r.smin = mn;
      r.s32min = lo32s(mn);
      r.smax = mx;
      r.s32max = lo32s(mx);
      r.umin = u64(mn);
      r.u32min = lo32u(mn);
      r.umax = u64(mx);
      r.u32max = lo32u(mx);
      r.varOff = tnumRange(u64(mn), u64(mx));
      return;
    }
  }
  // KERNEL vs SPEC: the host kernel (6.18 stable) does not fall back to the default range at once: when the
  // subregister's signed range already lies inside the target's signed range, sign extension is the identity on
  // the low 32 bits, so the result's s64 range is that s32 range and the 32-bit bounds stay; var_off is rebuilt
  // from the bounds (observed against the kernel, see the sign-extension cases in test/verifier/scalar.test.ts).
  const lo = size === 1 ? -128 : size === 2 ? -32768 : S32_MIN;
  const hi = size === 1 ? 127 : size === 2 ? 32767 : S32_MAX;
  if (r.s32min >= lo && r.s32max <= hi) {
    r.smin = BigInt(r.s32min);
    r.smax = BigInt(r.s32max);
    r.umin = 0n;
    r.umax = U64_MAX;
    r.varOff = TNUM_UNKNOWN;
    regBoundsSync(r);
    return;
  }
  setSext64DefaultVal(r, size);
}

function setSext32DefaultVal(r: ScalarBounds, size: number): void {
  if (size === 1) {
    r.s32min = -128;
    r.s32max = 127;
  } else {
    r.s32min = -32768;
    r.s32max = 32767;
  }
  r.u32min = 0;
  r.u32max = U32_MAX;
  r.varOff = tnumSubreg(TNUM_UNKNOWN);
}

/** coerce_subreg_to_size_sx: sign-extend the low `size` bytes (1 or 2) into the 32-bit subregister (MOVSX32). */
export function coerceSubregToSizeSx(r: ScalarBounds, size: number): void {
  if (tnumIsConst(r.varOff)) {
    // The kernel builds a 64-bit sign-extended constant here; the caller's zext_32_to_64 truncates it.
    const v = u64(sextBits(r.varOff.value & U32_MASK, size));
    r.varOff = tnumConst(v);
    r.s32min = r.s32max = lo32s(v);
    r.u32min = r.u32max = lo32u(v);
    return;
  }
  const nb = size * 8;
  const topMax = u32(r.s32max) >>> nb << nb >>> 0;
  const topMin = u32(r.s32min) >>> nb << nb >>> 0;
  if (topMax === topMin) {
    const a = Number(sextBits(BigInt(r.s32max), size));
    const b = Number(sextBits(BigInt(r.s32min), size));
    const mx = Math.max(a, b);
    const mn = Math.min(a, b);
    if ((mn >= 0) === (mx >= 0)) {
      r.s32min = mn;
      r.s32max = mx;
      r.u32min = u32(mn);
      r.u32max = u32(mx);
      r.varOff = tnumSubreg(tnumRange(BigInt(mn), BigInt(mx)));
      return;
    }
  }
  setSext32DefaultVal(r, size);
}

/** fls64(umax): the number of significant bits any value of the register may have (get_reg_width). */
export function regWidth(r: ScalarBounds): number {
  return fls64(r.umax);
}

// ---- MOV -------------------------------------------------------------------------------------------------

/** `r = imm` (ALU64: imm sign-extended) / `w = imm` (zero-extended). */
export function scalarMovImm(dst: ScalarBounds, imm: number, alu64: boolean): void {
  markKnown(dst, alu64 ? BigInt(s32(imm)) : BigInt(u32(imm)));
}

/**
 * `r = r2`, `r = (s8/s16/s32)r2` (alu64, off 0/8/16/32), `w = w2`, `w = (s8/s16)w2` (alu32, off 0/8/16) where
 * src is a scalar. Only the bounds: scalar id linking is the caller's business.
 */
export function scalarMovReg(dst: ScalarBounds, src: ScalarBounds, alu64: boolean, off: number): void {
  dst.setBounds(src);
  if (alu64) {
    if (off !== 0) coerceRegToSizeSx(dst, off >> 3);
    return;
  }
  if (off !== 0) coerceSubregToSizeSx(dst, off >> 3);
  zext32To64(dst);
  regBoundsSync(dst);
}

// ---- ALU -------------------------------------------------------------------------------------------------

/**
 * Kernel-version switches for the arithmetic transfer functions. The defaults are what the host kernel (6.18)
 * does; 'legacy' reproduces the 6.12-era code (add/sub: any unsigned wrap -> unbounded; mul: only
 * non-negative operands below 2^16/2^32 are tracked).
 */
export const arithVariant = { addSub: 'wrap-aware' as 'wrap-aware' | 'legacy', mul: 'signed-corners' as 'signed-corners' | 'legacy' };

function scalar32Add(dst: ScalarBounds, src: ScalarBounds): void {
  const smin = dst.s32min + src.s32min;
  const smax = dst.s32max + src.s32max;
  if (smin < S32_MIN || smin > S32_MAX || smax < S32_MIN || smax > S32_MAX) {
    dst.s32min = S32_MIN;
    dst.s32max = S32_MAX;
  } else {
    dst.s32min = smin;
    dst.s32max = smax;
  }
  const umin = dst.u32min + src.u32min;
  const umax = dst.u32max + src.u32max;
  const minOv = umin > U32_MAX;
  const maxOv = umax > U32_MAX;
  if (arithVariant.addSub === 'legacy' ? minOv || maxOv : !minOv && maxOv) {
    dst.u32min = 0;
    dst.u32max = U32_MAX;
  } else {
    // no wrap, or both ends wrap (then the wrapped interval is still exact)
    dst.u32min = u32(umin);
    dst.u32max = u32(umax);
  }
}

function scalarAdd(dst: ScalarBounds, src: ScalarBounds): void {
  const smin = dst.smin + src.smin;
  const smax = dst.smax + src.smax;
  if (smin < S64_MIN || smin > S64_MAX || smax < S64_MIN || smax > S64_MAX) {
    dst.smin = S64_MIN;
    dst.smax = S64_MAX;
  } else {
    dst.smin = smin;
    dst.smax = smax;
  }
  const umin = dst.umin + src.umin;
  const umax = dst.umax + src.umax;
  const minOv = umin > U64_MAX;
  const maxOv = umax > U64_MAX;
  if (arithVariant.addSub === 'legacy' ? minOv || maxOv : !minOv && maxOv) {
    dst.umin = 0n;
    dst.umax = U64_MAX;
  } else {
    dst.umin = u64(umin);
    dst.umax = u64(umax);
  }
}

function scalar32Sub(dst: ScalarBounds, src: ScalarBounds): void {
  const smin = dst.s32min - src.s32max;
  const smax = dst.s32max - src.s32min;
  if (smin < S32_MIN || smin > S32_MAX || smax < S32_MIN || smax > S32_MAX) {
    dst.s32min = S32_MIN;
    dst.s32max = S32_MAX;
  } else {
    dst.s32min = smin;
    dst.s32max = smax;
  }
  const umin = dst.u32min - src.u32max;
  const umax = dst.u32max - src.u32min;
  const minUf = umin < 0;
  const maxUf = umax < 0;
  if (arithVariant.addSub === 'legacy' ? minUf : minUf && !maxUf) {
    dst.u32min = 0;
    dst.u32max = U32_MAX;
  } else {
    dst.u32min = u32(umin);
    dst.u32max = u32(umax);
  }
}

function scalarSub(dst: ScalarBounds, src: ScalarBounds): void {
  const smin = dst.smin - src.smax;
  const smax = dst.smax - src.smin;
  if (smin < S64_MIN || smin > S64_MAX || smax < S64_MIN || smax > S64_MAX) {
    dst.smin = S64_MIN;
    dst.smax = S64_MAX;
  } else {
    dst.smin = smin;
    dst.smax = smax;
  }
  const umin = dst.umin - src.umax;
  const umax = dst.umax - src.umin;
  const minUf = umin < 0n;
  const maxUf = umax < 0n;
  if (arithVariant.addSub === 'legacy' ? minUf : minUf && !maxUf) {
    dst.umin = 0n;
    dst.umax = U64_MAX;
  } else {
    dst.umin = u64(umin);
    dst.umax = u64(umax);
  }
}

function scalar32Mul(dst: ScalarBounds, src: ScalarBounds): void {
  if (arithVariant.mul === 'legacy') {
    if (src.s32min < 0 || dst.s32min < 0 || src.u32max > 0xffff || dst.u32max > 0xffff) {
      mark32Unbounded(dst);
      return;
    }
    dst.u32min = dst.u32min * src.u32min;
    dst.u32max = dst.u32max * src.u32max;
    if (dst.u32max > S32_MAX) {
      dst.s32min = S32_MIN;
      dst.s32max = S32_MAX;
    } else {
      dst.s32min = dst.u32min;
      dst.s32max = dst.u32max;
    }
    return;
  }
  // Products of 32-bit values are exact in BigInt; Numbers could lose precision above 2^53.
  const umax = BigInt(dst.u32max) * BigInt(src.u32max);
  const umin = BigInt(dst.u32min) * BigInt(src.u32min);
  if (umax > 0xffff_ffffn || umin > 0xffff_ffffn) {
    dst.u32min = 0;
    dst.u32max = U32_MAX;
  } else {
    dst.u32min = Number(umin);
    dst.u32max = Number(umax);
  }
  const a = BigInt(dst.s32min), b = BigInt(dst.s32max), c = BigInt(src.s32min), d = BigInt(src.s32max);
  const p = [a * c, a * d, b * c, b * d];
  if (p.some((x) => x < BigInt(S32_MIN) || x > BigInt(S32_MAX))) {
    dst.s32min = S32_MIN;
    dst.s32max = S32_MAX;
  } else {
    dst.s32min = Number(p.reduce(bmin));
    dst.s32max = Number(p.reduce(bmax));
  }
}

function scalarMul(dst: ScalarBounds, src: ScalarBounds): void {
  if (arithVariant.mul === 'legacy') {
    if (src.smin < 0n || dst.smin < 0n || src.umax > U32_MASK || dst.umax > U32_MASK) {
      mark64Unbounded(dst);
      return;
    }
    dst.umin = dst.umin * src.umin;
    dst.umax = dst.umax * src.umax;
    if (dst.umax > S64_MAX) {
      dst.smin = S64_MIN;
      dst.smax = S64_MAX;
    } else {
      dst.smin = dst.umin;
      dst.smax = dst.umax;
    }
    return;
  }
  const umax = dst.umax * src.umax;
  const umin = dst.umin * src.umin;
  if (umax > U64_MAX || umin > U64_MAX) {
    dst.umin = 0n;
    dst.umax = U64_MAX;
  } else {
    dst.umin = umin;
    dst.umax = umax;
  }
  const p = [dst.smin * src.smin, dst.smin * src.smax, dst.smax * src.smin, dst.smax * src.smax];
  if (p.some((x) => x < S64_MIN || x > S64_MAX)) {
    dst.smin = S64_MIN;
    dst.smax = S64_MAX;
  } else {
    dst.smin = p.reduce(bmin);
    dst.smax = p.reduce(bmax);
  }
}

function scalar32And(dst: ScalarBounds, src: ScalarBounds): void {
  const t = tnumSubreg(dst.varOff);
  if (tnumSubregIsConst(src.varOff) && tnumSubregIsConst(dst.varOff)) {
    mark32Known(dst, t.value);
    return;
  }
  dst.u32min = Number(t.value);
  dst.u32max = Math.min(dst.u32max, src.u32max);
  set32SignedFromUnsigned(dst);
}

function set32SignedFromUnsigned(dst: ScalarBounds): void {
  if (s32(dst.u32min) <= s32(dst.u32max)) {
    dst.s32min = s32(dst.u32min);
    dst.s32max = s32(dst.u32max);
  } else {
    dst.s32min = S32_MIN;
    dst.s32max = S32_MAX;
  }
}

function set64SignedFromUnsigned(dst: ScalarBounds): void {
  if (s64(dst.umin) <= s64(dst.umax)) {
    dst.smin = s64(dst.umin);
    dst.smax = s64(dst.umax);
  } else {
    dst.smin = S64_MIN;
    dst.smax = S64_MAX;
  }
}

function scalarAnd(dst: ScalarBounds, src: ScalarBounds): void {
  if (tnumIsConst(src.varOff) && tnumIsConst(dst.varOff)) {
    markKnown(dst, dst.varOff.value);
    return;
  }
  dst.umin = dst.varOff.value;
  dst.umax = bmin(dst.umax, src.umax);
  set64SignedFromUnsigned(dst);
  updateRegBounds(dst);
}

function scalar32Or(dst: ScalarBounds, src: ScalarBounds): void {
  const t = tnumSubreg(dst.varOff);
  if (tnumSubregIsConst(src.varOff) && tnumSubregIsConst(dst.varOff)) {
    mark32Known(dst, t.value);
    return;
  }
  dst.u32min = Math.max(dst.u32min, src.u32min);
  dst.u32max = Number(t.value | t.mask);
  set32SignedFromUnsigned(dst);
}

function scalarOr(dst: ScalarBounds, src: ScalarBounds): void {
  if (tnumIsConst(src.varOff) && tnumIsConst(dst.varOff)) {
    markKnown(dst, dst.varOff.value);
    return;
  }
  dst.umin = bmax(dst.umin, src.umin);
  dst.umax = dst.varOff.value | dst.varOff.mask;
  set64SignedFromUnsigned(dst);
  updateRegBounds(dst);
}

function scalar32Xor(dst: ScalarBounds, src: ScalarBounds): void {
  const t = tnumSubreg(dst.varOff);
  if (tnumSubregIsConst(src.varOff) && tnumSubregIsConst(dst.varOff)) {
    mark32Known(dst, t.value);
    return;
  }
  dst.u32min = Number(t.value);
  dst.u32max = Number(t.value | t.mask);
  set32SignedFromUnsigned(dst);
}

function scalarXor(dst: ScalarBounds, src: ScalarBounds): void {
  if (tnumIsConst(src.varOff) && tnumIsConst(dst.varOff)) {
    markKnown(dst, dst.varOff.value);
    return;
  }
  dst.umin = dst.varOff.value;
  dst.umax = dst.varOff.value | dst.varOff.mask;
  set64SignedFromUnsigned(dst);
  updateRegBounds(dst);
}

function scalar32LshBounds(dst: ScalarBounds, uminVal: bigint, umaxVal: bigint): void {
  dst.s32min = S32_MIN;
  dst.s32max = S32_MAX;
  if (umaxVal > 31n || BigInt(dst.u32max) > 1n << (31n - umaxVal)) {
    dst.u32min = 0;
    dst.u32max = U32_MAX;
  } else {
    dst.u32min = u32(Number(BigInt.asUintN(32, BigInt(dst.u32min) << uminVal)));
    dst.u32max = u32(Number(BigInt.asUintN(32, BigInt(dst.u32max) << umaxVal)));
  }
}

function scalar32Lsh(dst: ScalarBounds, src: ScalarBounds): void {
  const sub = tnumSubreg(dst.varOff);
  scalar32LshBounds(dst, BigInt(src.u32min), BigInt(src.u32max));
  dst.varOff = tnumSubreg(tnumLshift(sub, src.u32min));
  mark64Unbounded(dst);
  update32Bounds(dst);
}

function scalar64LshBounds(dst: ScalarBounds, uminVal: bigint, umaxVal: bigint): void {
  if (uminVal === 32n && umaxVal === 32n) {
    dst.smax = BigInt(dst.s32max) << 32n;
    dst.smin = BigInt(dst.s32min) << 32n;
  } else {
    dst.smax = S64_MAX;
    dst.smin = S64_MIN;
  }
  if (dst.umax > 1n << (63n - umaxVal)) {
    dst.umin = 0n;
    dst.umax = U64_MAX;
  } else {
    dst.umin = u64(dst.umin << uminVal);
    dst.umax = u64(dst.umax << umaxVal);
  }
}

function scalarLsh(dst: ScalarBounds, src: ScalarBounds): void {
  scalar64LshBounds(dst, src.umin, src.umax);
  scalar32LshBounds(dst, src.umin, src.umax);
  dst.varOff = tnumLshift(dst.varOff, Number(src.umin));
  updateRegBounds(dst);
}

function scalar32Rsh(dst: ScalarBounds, src: ScalarBounds): void {
  const sub = tnumSubreg(dst.varOff);
  dst.s32min = S32_MIN;
  dst.s32max = S32_MAX;
  dst.varOff = tnumRshift(sub, src.u32min);
  dst.u32min = dst.u32min >>> src.u32max;
  dst.u32max = dst.u32max >>> src.u32min;
  mark64Unbounded(dst);
  update32Bounds(dst);
}

function scalarRsh(dst: ScalarBounds, src: ScalarBounds): void {
  dst.smin = S64_MIN;
  dst.smax = S64_MAX;
  dst.varOff = tnumRshift(dst.varOff, Number(src.umin));
  dst.umin = dst.umin >> src.umax;
  dst.umax = dst.umax >> src.umin;
  mark32Unbounded(dst);
  updateRegBounds(dst);
}

function scalar32Arsh(dst: ScalarBounds, src: ScalarBounds): void {
  const sh = src.u32min;
  dst.s32min = dst.s32min >> sh;
  dst.s32max = dst.s32max >> sh;
  dst.varOff = tnumArshift(tnumSubreg(dst.varOff), sh, 32);
  dst.u32min = 0;
  dst.u32max = U32_MAX;
  mark64Unbounded(dst);
  update32Bounds(dst);
}

function scalarArsh(dst: ScalarBounds, src: ScalarBounds): void {
  const sh = src.umin;
  dst.smin = dst.smin >> sh;
  dst.smax = dst.smax >> sh;
  dst.varOff = tnumArshift(dst.varOff, Number(sh), 64);
  dst.umin = 0n;
  dst.umax = U64_MAX;
  mark32Unbounded(dst);
  updateRegBounds(dst);
}

/**
 * is_safe_to_compute_dst_reg_range: whether the kernel computes bounds for `op` at all (otherwise the result is
 * an unknown scalar). ADD/SUB/MUL/AND/OR/XOR always; shifts only by a constant smaller than the width;
 * DIV/MOD never (6.18). NEG is handled before this check (see adjustScalarMinMaxVals).
 */
export function isSafeToComputeDstRegRange(op: number, alu64: boolean, src: ScalarBounds): boolean {
  switch (op) {
    case BPF_ADD:
    case BPF_SUB:
    case BPF_AND:
    case BPF_XOR:
    case BPF_OR:
    case BPF_MUL:
    case BPF_NEG:
    case BPF_END:
      return true;
    case BPF_LSH:
    case BPF_RSH:
    case BPF_ARSH: {
      let srcConst: boolean;
      if (!alu64) {
        srcConst = tnumSubregIsConst(src.varOff) && src.s32min === src.s32max && src.u32min === src.u32max;
      } else {
        srcConst = tnumIsConst(src.varOff) && src.smin === src.smax && src.umin === src.umax;
      }
      return srcConst && src.umax < (alu64 ? 64n : 32n);
    }
    default:
      return false;
  }
}

/**
 * maybe_fork_scalars: for AND/OR with a constant when dst is exactly [-1, 0] (64-bit, else 32-bit), the kernel
 * splits the path: it pushes a branch that re-executes the same instruction with dst = 0 (returned here, as the
 * state *before* the instruction) and continues with dst = -1 (applied to `dst`). Returns null if no fork.
 */
export function maybeForkScalars(dst: ScalarBounds): ScalarBounds | null {
  let alu32: boolean;
  if (dst.smin === -1n && dst.smax === 0n) alu32 = false;
  else if (dst.s32min === -1 && dst.s32max === 0) alu32 = true;
  else return null;
  const other = dst.cloneBounds();
  if (alu32) {
    mark32Known(other, 0n);
    mark32Known(dst, U64_MAX);
  } else {
    markKnown(other, 0n);
    markKnown(dst, U64_MAX);
  }
  return other;
}

/** Whether the host kernel forks AND/OR on [-1, 0] registers (maybe_fork_scalars). */
export let forkScalarsEnabled = true;
export function setForkScalars(on: boolean): void {
  forkScalarsEnabled = on;
}

export interface AluResult {
  /** State (before the instruction) of the branch the kernel pushed for maybe_fork_scalars, if any. */
  readonly fork: ScalarBounds | null;
  /** Set by scalarAluInsn when the final reg_bounds_sanity_check("alu") failed (bounds were reset). */
  readonly violation?: string;
}

/** The result of almost every ALU instruction (one shared object: the verifier runs many of them). */
const NO_FORK: AluResult = Object.freeze({ fork: null });

/**
 * scalar_byte_swap (BPF_END): `bswap16/32/64` (ALU64, always swaps), `be16/32/64` and `le16/32/64` (ALU; on a
 * little-endian host only `be` swaps). 16/32-bit variants truncate. No zero-extension step afterwards.
 */
export function scalarByteSwap(dst: ScalarBounds, alu64: boolean, toLe: boolean, imm: number): void {
  const needBswap = alu64 || !toLe; // little-endian host
  if (needBswap) {
    if (imm === 16) dst.varOff = tnumBswap16(dst.varOff);
    else if (imm === 32) dst.varOff = tnumBswap32(dst.varOff);
    else if (imm === 64) dst.varOff = tnumBswap64(dst.varOff);
    markUnbounded(dst);
  }
  if (imm === 16 || imm === 32) coerceRegToSize(dst, imm / 8);
}

/**
 * adjust_scalar_min_max_vals for scalar dst and scalar src (for K-form, src = ScalarBounds.known(imm) with imm
 * sign-extended to 64 bits). `op` is BPF_OP(code) (BPF_ADD … BPF_END, not BPF_MOV). For BPF_END pass the
 * instruction's imm (16/32/64) and `toLe` = BPF_SRC(code) == BPF_TO_LE; src is ignored for NEG and END.
 * Mutates dst and returns fork information (see maybeForkScalars).
 */
export function adjustScalarMinMaxVals(
  dst: ScalarBounds, src: ScalarBounds, op: number, alu64: boolean, endImm = 0, toLe = false,
): AluResult {
  let fork: ScalarBounds | null = null;
  if (!isSafeToComputeDstRegRange(op, alu64, src)) {
    markUnknown(dst);
    return NO_FORK;
  }
  if (op === BPF_ADD || op === BPF_SUB || op === BPF_AND || op === BPF_OR || op === BPF_XOR) {
    // Two constants give a constant: the transfer functions keep the (exact) result in every range and the
    // tnum, and reg_bounds_sync then narrows all nine facts to it, so compute it directly.
    const a = syncedConst(dst);
    const b = a === null ? null : syncedConst(src);
    if (a !== null && b !== null) {
      const v = op === BPF_ADD ? a + b : op === BPF_SUB ? a - b : op === BPF_AND ? a & b : op === BPF_OR ? a | b : a ^ b;
      markKnown(dst, alu64 ? v : v & U32_MASK);
      return NO_FORK;
    }
  }
  switch (op) {
    case BPF_ADD:
      scalar32Add(dst, src);
      scalarAdd(dst, src);
      dst.varOff = tnumAdd(dst.varOff, src.varOff);
      break;
    case BPF_SUB:
      scalar32Sub(dst, src);
      scalarSub(dst, src);
      dst.varOff = tnumSub(dst.varOff, src.varOff);
      break;
    case BPF_NEG: {
      const orig = dst.cloneBounds();
      markKnown(dst, 0n);
      scalar32Sub(dst, orig);
      scalarSub(dst, orig);
      dst.varOff = tnumNeg(orig.varOff);
      break;
    }
    case BPF_MUL:
      dst.varOff = tnumMul(dst.varOff, src.varOff);
      scalar32Mul(dst, src);
      scalarMul(dst, src);
      break;
    case BPF_AND:
      if (forkScalarsEnabled && tnumIsConst(src.varOff)) fork = maybeForkScalars(dst);
      dst.varOff = tnumAnd(dst.varOff, src.varOff);
      scalar32And(dst, src);
      scalarAnd(dst, src);
      break;
    case BPF_OR:
      if (forkScalarsEnabled && tnumIsConst(src.varOff)) fork = maybeForkScalars(dst);
      dst.varOff = tnumOr(dst.varOff, src.varOff);
      scalar32Or(dst, src);
      scalarOr(dst, src);
      break;
    case BPF_XOR:
      dst.varOff = tnumXor(dst.varOff, src.varOff);
      scalar32Xor(dst, src);
      scalarXor(dst, src);
      break;
    case BPF_LSH:
      if (alu64) scalarLsh(dst, src);
      else scalar32Lsh(dst, src);
      break;
    case BPF_RSH:
      if (alu64) scalarRsh(dst, src);
      else scalar32Rsh(dst, src);
      break;
    case BPF_ARSH:
      if (alu64) scalarArsh(dst, src);
      else scalar32Arsh(dst, src);
      break;
    case BPF_END:
      scalarByteSwap(dst, alu64, toLe, endImm);
      break;
    default:
      break;
  }
  if (!alu64 && op !== BPF_END) zext32To64(dst);
  regBoundsSync(dst);
  return fork === null ? NO_FORK : { fork };
}

/** The value of a scalar whose nine facts all agree on one constant (a fixpoint of reg_bounds_sync), else null. */
function syncedConst(r: ScalarBounds): bigint | null {
  const v = r.varOff.value;
  if (r.varOff.mask !== 0n || r.umin !== v || r.umax !== v || r.smin !== r.smax) return null;
  if (v <= S64_MAX ? r.smin !== v : r.smin !== s64(v)) return null;
  const lo = low32(v);
  if (r.u32min !== lo || r.u32max !== lo || r.s32min !== (lo | 0) || r.s32max !== (lo | 0)) return null;
  return v;
}

/**
 * One scalar ALU instruction the way check_alu_op applies it to bounds: MOV (K: `imm`; X: `src`, with `off` for
 * movsx), NEG, END (`imm` = 16/32/64, `toLe`), and the binary ops (K form: pass `src = null` and `imm`).
 * Returns the fork information of adjustScalarMinMaxVals.
 */
export function scalarAluInsn(
  dst: ScalarBounds, src: ScalarBounds | null, op: number, alu64: boolean, imm = 0, off = 0, toLe = false,
): AluResult {
  let res: AluResult;
  if (op === BPF_MOV) {
    if (src === null) scalarMovImm(dst, imm, alu64);
    else scalarMovReg(dst, src, alu64, off);
    res = NO_FORK;
  } else if (op === BPF_NEG || op === BPF_END) {
    res = adjustScalarMinMaxVals(dst, dst, op, alu64, imm, toLe);
  } else {
    res = adjustScalarMinMaxVals(dst, src ?? ScalarBounds.known(BigInt(s32(imm))), op, alu64);
  }
  const v = boundsSanityCheck(dst, true);
  return v === null ? res : { fork: res.fork, violation: v };
}

// ---- branches --------------------------------------------------------------------------------------------

function isConstFor(r: ScalarBounds, is32: boolean): boolean {
  return is32 ? tnumSubregIsConst(r.varOff) : tnumIsConst(r.varOff);
}

function constValueFor(r: ScalarBounds, is32: boolean): bigint {
  return is32 ? r.varOff.value & U32_MASK : r.varOff.value;
}

/**
 * is_scalar_branch_taken: 1 if `dst <op> src` is always true, 0 if always false, -1 if unknown. `opcode` is
 * BPF_OP of a conditional jump (BPF_JEQ … BPF_JSLE).
 */
export function isBranchTaken(reg1: ScalarBounds, reg2: ScalarBounds, opcode: number, is32: boolean): -1 | 0 | 1 {
  let t1 = is32 ? tnumSubreg(reg1.varOff) : reg1.varOff;
  let t2 = is32 ? tnumSubreg(reg2.varOff) : reg2.varOff;
  const umin1 = is32 ? BigInt(reg1.u32min) : reg1.umin;
  const umax1 = is32 ? BigInt(reg1.u32max) : reg1.umax;
  const smin1 = is32 ? BigInt(reg1.s32min) : reg1.smin;
  const smax1 = is32 ? BigInt(reg1.s32max) : reg1.smax;
  const umin2 = is32 ? BigInt(reg2.u32min) : reg2.umin;
  const umax2 = is32 ? BigInt(reg2.u32max) : reg2.umax;
  const smin2 = is32 ? BigInt(reg2.s32min) : reg2.smin;
  const smax2 = is32 ? BigInt(reg2.s32max) : reg2.smax;

  switch (opcode) {
    case BPF_JEQ:
    case BPF_JNE: {
      const eq = opcode === BPF_JEQ;
      if (tnumIsConst(t1) && tnumIsConst(t2)) return (t1.value === t2.value) === eq ? 1 : 0;
      const ne: 0 | 1 = eq ? 0 : 1;
      if (!tnumOverlap(t1, t2)) return ne;
      if (umin1 > umax2 || umax1 < umin2) return ne;
      if (smin1 > smax2 || smax1 < smin2) return ne;
      if (!is32) {
        if (reg1.u32min > reg2.u32max || reg1.u32max < reg2.u32min) return ne;
        if (reg1.s32min > reg2.s32max || reg1.s32max < reg2.s32min) return ne;
      }
      break;
    }
    case BPF_JSET: {
      if (!isConstFor(reg2, is32)) {
        const tmp = t1;
        t1 = t2;
        t2 = tmp;
        if (!isConstFor(reg1, is32)) return -1;
      }
      if (~t1.mask & t1.value & t2.value) return 1;
      if (!((t1.mask | t1.value) & t2.value)) return 0;
      break;
    }
    case BPF_JGT:
      if (umin1 > umax2) return 1;
      if (umax1 <= umin2) return 0;
      break;
    case BPF_JSGT:
      if (smin1 > smax2) return 1;
      if (smax1 <= smin2) return 0;
      break;
    case BPF_JLT:
      if (umax1 < umin2) return 1;
      if (umin1 >= umax2) return 0;
      break;
    case BPF_JSLT:
      if (smax1 < smin2) return 1;
      if (smin1 >= smax2) return 0;
      break;
    case BPF_JGE:
      if (umin1 >= umax2) return 1;
      if (umax1 < umin2) return 0;
      break;
    case BPF_JSGE:
      if (smin1 >= smax2) return 1;
      if (smax1 < smin2) return 0;
      break;
    case BPF_JLE:
      if (umax1 <= umin2) return 1;
      if (umin1 > umax2) return 0;
      break;
    case BPF_JSLE:
      if (smax1 <= smin2) return 1;
      if (smin1 > smax2) return 0;
      break;
  }
  return -1;
}

/** flip_opcode: the opcode for "b <op> a". */
export function flipOpcode(opcode: number): number {
  switch (opcode) {
    case BPF_JGE: return BPF_JLE;
    case BPF_JGT: return BPF_JLT;
    case BPF_JLE: return BPF_JGE;
    case BPF_JLT: return BPF_JGT;
    case BPF_JSGE: return BPF_JSLE;
    case BPF_JSGT: return BPF_JSLT;
    case BPF_JSLE: return BPF_JSGE;
    case BPF_JSLT: return BPF_JSGT;
    default: return opcode;
  }
}

/** rev_opcode: the opcode of the negated condition (JSET's negation is BPF_JSET_NOT). */
export function revOpcode(opcode: number): number {
  switch (opcode) {
    case BPF_JEQ: return BPF_JNE;
    case BPF_JNE: return BPF_JEQ;
    case BPF_JSET: return BPF_JSET_NOT;
    case BPF_JSET_NOT: return BPF_JSET;
    case BPF_JGE: return BPF_JLT;
    case BPF_JGT: return BPF_JLE;
    case BPF_JLE: return BPF_JGT;
    case BPF_JLT: return BPF_JGE;
    case BPF_JSGE: return BPF_JSLT;
    case BPF_JSGT: return BPF_JSLE;
    case BPF_JSLE: return BPF_JSGT;
    case BPF_JSLT: return BPF_JSGE;
    default: return 0;
  }
}

const isPow2 = (v: bigint): boolean => v !== 0n && (v & (v - 1n)) === 0n;

/** regs_refine_cond_op: learn from "reg1 <opcode> reg2 holds" (bounds only; reg_bounds_sync not applied). */
export function refineCondOp(reg1: ScalarBounds, reg2: ScalarBounds, opcode: number, is32: boolean): void {
  switch (opcode) {
    case BPF_JGE:
    case BPF_JGT:
    case BPF_JSGE:
    case BPF_JSGT: {
      opcode = flipOpcode(opcode);
      const tmp = reg1;
      reg1 = reg2;
      reg2 = tmp;
      break;
    }
  }
  switch (opcode) {
    case BPF_JEQ:
      if (is32) {
        reg1.u32min = Math.max(reg1.u32min, reg2.u32min);
        reg1.u32max = Math.min(reg1.u32max, reg2.u32max);
        reg1.s32min = Math.max(reg1.s32min, reg2.s32min);
        reg1.s32max = Math.min(reg1.s32max, reg2.s32max);
        reg2.u32min = reg1.u32min;
        reg2.u32max = reg1.u32max;
        reg2.s32min = reg1.s32min;
        reg2.s32max = reg1.s32max;
        const t = tnumIntersect(tnumSubreg(reg1.varOff), tnumSubreg(reg2.varOff));
        reg1.varOff = tnumWithSubreg(reg1.varOff, t);
        reg2.varOff = tnumWithSubreg(reg2.varOff, t);
      } else {
        reg1.umin = bmax(reg1.umin, reg2.umin);
        reg1.umax = bmin(reg1.umax, reg2.umax);
        reg1.smin = bmax(reg1.smin, reg2.smin);
        reg1.smax = bmin(reg1.smax, reg2.smax);
        reg2.umin = reg1.umin;
        reg2.umax = reg1.umax;
        reg2.smin = reg1.smin;
        reg2.smax = reg1.smax;
        reg1.varOff = tnumIntersect(reg1.varOff, reg2.varOff);
        reg2.varOff = reg1.varOff;
      }
      break;
    case BPF_JNE: {
      if (!isConstFor(reg2, is32)) {
        const tmp = reg1;
        reg1 = reg2;
        reg2 = tmp;
      }
      if (!isConstFor(reg2, is32)) break;
      const val = constValueFor(reg2, is32);
      if (is32) {
        const uv = Number(val);
        const sv = s32(uv);
        if (reg1.u32min === uv) reg1.u32min = u32(reg1.u32min + 1);
        if (reg1.u32max === uv) reg1.u32max = u32(reg1.u32max - 1);
        if (reg1.s32min === sv) reg1.s32min = s32(reg1.s32min + 1);
        if (reg1.s32max === sv) reg1.s32max = s32(reg1.s32max - 1);
      } else {
        if (reg1.umin === val) reg1.umin = u64(reg1.umin + 1n);
        if (reg1.umax === val) reg1.umax = u64(reg1.umax - 1n);
        if (reg1.smin === s64(val)) reg1.smin = s64(reg1.smin + 1n);
        if (reg1.smax === s64(val)) reg1.smax = s64(reg1.smax - 1n);
      }
      break;
    }
    case BPF_JSET: {
      if (!isConstFor(reg2, is32)) {
        const tmp = reg1;
        reg1 = reg2;
        reg2 = tmp;
      }
      if (!isConstFor(reg2, is32)) break;
      const val = constValueFor(reg2, is32);
      if (!isPow2(val)) break;
      if (is32) {
        const t = tnumOr(tnumSubreg(reg1.varOff), tnumConst(val));
        reg1.varOff = tnumWithSubreg(reg1.varOff, t);
      } else {
        reg1.varOff = tnumOr(reg1.varOff, tnumConst(val));
      }
      break;
    }
    case BPF_JSET_NOT: {
      if (!isConstFor(reg2, is32)) {
        const tmp = reg1;
        reg1 = reg2;
        reg2 = tmp;
      }
      if (!isConstFor(reg2, is32)) break;
      const val = constValueFor(reg2, is32);
      markUnbounded(reg1);
      if (is32) {
        const t = tnumAnd(tnumSubreg(reg1.varOff), tnumConst(~val & U64_MASK));
        reg1.varOff = tnumWithSubreg(reg1.varOff, t);
      } else {
        reg1.varOff = tnumAnd(reg1.varOff, tnumConst(~val & U64_MASK));
      }
      break;
    }
    case BPF_JLE:
      if (is32) {
        reg1.u32max = Math.min(reg1.u32max, reg2.u32max);
        reg2.u32min = Math.max(reg1.u32min, reg2.u32min);
      } else {
        reg1.umax = bmin(reg1.umax, reg2.umax);
        reg2.umin = bmax(reg1.umin, reg2.umin);
      }
      break;
    case BPF_JLT:
      if (is32) {
        reg1.u32max = Math.min(reg1.u32max, u32(reg2.u32max - 1));
        reg2.u32min = Math.max(u32(reg1.u32min + 1), reg2.u32min);
      } else {
        reg1.umax = bmin(reg1.umax, u64(reg2.umax - 1n));
        reg2.umin = bmax(u64(reg1.umin + 1n), reg2.umin);
      }
      break;
    case BPF_JSLE:
      if (is32) {
        reg1.s32max = Math.min(reg1.s32max, reg2.s32max);
        reg2.s32min = Math.max(reg1.s32min, reg2.s32min);
      } else {
        reg1.smax = bmin(reg1.smax, reg2.smax);
        reg2.smin = bmax(reg1.smin, reg2.smin);
      }
      break;
    case BPF_JSLT:
      if (is32) {
        reg1.s32max = Math.min(reg1.s32max, s32(reg2.s32max - 1));
        reg2.s32min = Math.max(s32(reg1.s32min + 1), reg2.s32min);
      } else {
        reg1.smax = bmin(reg1.smax, s64(reg2.smax - 1n));
        reg2.smin = bmax(s64(reg1.smin + 1n), reg2.smin);
      }
      break;
    default:
      break;
  }
}

/**
 * reg_set_min_max for two scalars: refine the fall-through copies (falseDst/falseSrc) with the negated
 * condition and the jump-target copies (trueDst/trueSrc) with the condition, then reg_bounds_sync each and run
 * the kernel's sanity check (which, on violation, leaves var_off alone and marks the bounds unbounded).
 * For the K form pass separate known-constant ScalarBounds as trueSrc and falseSrc. Returns the violations, in
 * the kernel's check order, as [ctx, message] pairs (empty when all four states are well-formed).
 */
export function regSetMinMax(
  trueDst: ScalarBounds, trueSrc: ScalarBounds, falseDst: ScalarBounds, falseSrc: ScalarBounds,
  opcode: number, is32: boolean,
): [string, string][] {
  refineCondOp(falseDst, falseSrc, revOpcode(opcode), is32);
  regBoundsSync(falseDst);
  regBoundsSync(falseSrc);
  refineCondOp(trueDst, trueSrc, opcode, is32);
  regBoundsSync(trueDst);
  regBoundsSync(trueSrc);
  const out: [string, string][] = [];
  let m = boundsSanityCheck(trueDst, true);
  if (m !== null) out.push(['true_reg1', m]);
  m = boundsSanityCheck(trueSrc, true);
  if (m !== null) out.push(['true_reg2', m]);
  m = boundsSanityCheck(falseDst, true);
  if (m !== null) out.push(['false_reg1', m]);
  m = boundsSanityCheck(falseSrc, true);
  if (m !== null) out.push(['false_reg2', m]);
  return out;
}

// ---- concrete semantics (for tests and for checking soundness) -------------------------------------------

/** True if the concrete u64 `x` is allowed by every fact of r. */
export function scalarContains(r: ScalarBounds, x: bigint): boolean {
  x = u64(x);
  if ((x & ~r.varOff.mask) !== r.varOff.value) return false;
  const sx = s64(x);
  if (x < r.umin || x > r.umax || sx < r.smin || sx > r.smax) return false;
  const lo = Number(x & U32_MASK);
  const slo = s32(lo);
  return lo >= r.u32min && lo <= r.u32max && slo >= r.s32min && slo <= r.s32max;
}
