// Kernel-format text of scalar register state (kernel/bpf/log.c: print_reg_state for SCALAR_VALUE,
// print_scalar_ranges, tnum_strn, verbose_snum/verbose_unum), as the Linux 6.18 verifier log prints it, and a
// parser for the same text (used by kernel-differential tests and handy for reading logs).
//
// Number rules (checked against the host kernel):
//  - unsigned values u <= 65535 print in decimal, others as %#llx (`0x10000`);
//  - signed values -32768 <= s <= 32767 print in decimal (`-1`), others as %#llx of the u64 bit pattern
//    (`0xffffffff00000001`);
//  - the 32-bit signed bounds are widened to s64 when they print in decimal, and printed as their u32 bit
//    pattern when in hex (smin32=-2147483647 prints `smin32=0x80000001`);
//  - a constant scalar prints as the bare signed number (`R1=42`, `R1=-1`, `R1=0xffffffff`).
// Layout: `scalar(` [id=N[+off],] then smin, smax, umin, umax, smin32, smax32, umin32, umax32 (each omitted when
// unbounded: S64_MIN, S64_MAX, 0, U64_MAX, S32_MIN, S32_MAX, 0, U32_MAX), where a bound is merged into the
// first earlier bound of the same kind (min/max) with the same printed value and the same sign
// (`smin=smin32=0`, `smax=umax=smax32=umax32=255`), then `var_off=(%#llx; %#llx)` unless var_off is unknown,
// then `)`. A precise scalar is prefixed with `P`.

import { Tnum, tnumIsUnknown } from './tnum.js';
import { S32_MAX, S32_MIN, S64_MAX, S64_MIN, ScalarBounds, U32_MAX, U64_MAX, regBoundsSync } from './scalar.js';

const UNUM_MAX_DECIMAL = 0xffffn;
const SNUM_MAX_DECIMAL = 0x7fffn;
const SNUM_MIN_DECIMAL = -0x8000n;

/** `%#llx` as the kernel's vsnprintf prints it (0 prints as `0x0`). */
export function hex64(v: bigint): string {
  return '0x' + BigInt.asUintN(64, v).toString(16);
}

export function isUnumDecimal(v: bigint): boolean {
  return BigInt.asUintN(64, v) <= UNUM_MAX_DECIMAL;
}

export function isSnumDecimal(v: bigint): boolean {
  const s = BigInt.asIntN(64, v);
  return s >= SNUM_MIN_DECIMAL && s <= SNUM_MAX_DECIMAL;
}

/** verbose_unum */
export function formatUnum(v: bigint): string {
  const u = BigInt.asUintN(64, v);
  return u <= UNUM_MAX_DECIMAL ? u.toString() : hex64(u);
}

/** verbose_snum */
export function formatSnum(v: bigint): string {
  const s = BigInt.asIntN(64, v);
  return s >= SNUM_MIN_DECIMAL && s <= SNUM_MAX_DECIMAL ? s.toString() : hex64(s);
}

/** tnum_strn: a constant as a number (decimal up to 65535, else hex), otherwise `(value; mask)` in hex. */
export function tnumStrn(a: Tnum): string {
  if (a.mask === 0n) return formatUnum(a.value);
  return `(${hex64(a.value)}; ${hex64(a.mask)})`;
}

/** print_scalar_ranges: the comma-separated `name=value` list (without var_off), '' if all unbounded. */
export function formatScalarRanges(r: ScalarBounds): string {
  const s32v = (x: number): bigint => (isSnumDecimal(BigInt(x)) ? BigInt(x) : BigInt(x >>> 0));
  const names = ['smin', 'smax', 'umin', 'umax', 'smin32', 'smax32', 'umin32', 'umax32'];
  const vals: bigint[] = [
    BigInt.asUintN(64, r.smin), BigInt.asUintN(64, r.smax), r.umin, r.umax,
    BigInt.asUintN(64, s32v(r.s32min)), BigInt.asUintN(64, s32v(r.s32max)), BigInt(r.u32min), BigInt(r.u32max),
  ];
  const omit = [
    r.smin === S64_MIN, r.smax === S64_MAX, r.umin === 0n, r.umax === U64_MAX,
    r.s32min === S32_MIN, r.s32max === S32_MAX, r.u32min === 0, r.u32max === U32_MAX,
  ];
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) {
    if (omit[i]) continue;
    const signed1 = names[i]![0] === 's';
    const neg1 = signed1 && BigInt.asIntN(64, vals[i]!) < 0n;
    let text = names[i] + '=';
    for (let j = i + 2; j < 8; j += 2) {
      if (omit[j] || vals[j] !== vals[i]) continue;
      const neg2 = names[j]![0] === 's' && BigInt.asIntN(64, vals[j]!) < 0n;
      if (neg2 !== neg1) continue;
      omit[j] = true;
      text += names[j] + '=';
    }
    text += signed1 ? formatSnum(vals[i]!) : formatUnum(vals[i]!);
    parts.push(text);
  }
  return parts.join(',');
}

export interface ScalarFormatOptions {
  /** Scalar id (0 = none). */
  id?: number;
  /** For a BPF_ADD_CONST-linked scalar: the constant delta printed right after the id (`id=1+4`). */
  addConstOff?: number;
  /** Precise scalars print with a `P` prefix. */
  precise?: boolean;
}

/** print_reg_state for a SCALAR_VALUE: `42`, `scalar()`, `scalar(id=2,smin=…,var_off=(…))`, `P…`. */
export function formatScalar(r: ScalarBounds, opts: ScalarFormatOptions = {}): string {
  const p = opts.precise ? 'P' : '';
  if (r.varOff.mask === 0n) return p + formatSnum(r.varOff.value);
  const parts: string[] = [];
  if (opts.id) {
    parts.push(`id=${opts.id}` + (opts.addConstOff !== undefined ? (opts.addConstOff >= 0 ? '+' : '') + opts.addConstOff : ''));
  }
  const ranges = formatScalarRanges(r);
  if (ranges) parts.push(ranges);
  if (!tnumIsUnknown(r.varOff)) parts.push(`var_off=${tnumStrn(r.varOff)}`);
  return `${p}scalar(${parts.join(',')})`;
}

// ---- parsing ---------------------------------------------------------------------------------------------

export interface ParsedScalar {
  bounds: ScalarBounds;
  id: number;
  addConstOff?: number;
  precise: boolean;
}

function parseNum(text: string): bigint {
  const neg = text.startsWith('-');
  const v = BigInt(neg ? text.slice(1) : text);
  return neg ? -v : v;
}

/**
 * Parse the kernel's text of a scalar (`42`, `P-1`, `scalar(...)`) back into bounds. Omitted bounds take their
 * unbounded defaults; nothing is re-synchronised, so the result is exactly what was printed. Returns null if
 * the text is not a scalar.
 */
export function parseScalar(text: string): ParsedScalar | null {
  let t = text.trim();
  let precise = false;
  if (t.startsWith('P')) {
    precise = true;
    t = t.slice(1);
  }
  if (/^-?(?:0x[0-9a-f]+|\d+)$/.test(t)) {
    const v = BigInt.asUintN(64, parseNum(t));
    return { bounds: ScalarBounds.known(v), id: 0, precise };
  }
  const m = /^scalar\((.*)\)$/.exec(t);
  if (!m) return null;
  const b = new ScalarBounds();
  let id = 0;
  let addConstOff: number | undefined;
  // var_off contains "; " and a comma-free body, so split it off first.
  let body = m[1]!;
  const vo = /(?:^|,)var_off=\((0x[0-9a-f]+); (0x[0-9a-f]+)\)$/.exec(body);
  if (vo) {
    b.varOff = new Tnum(BigInt(vo[1]!), BigInt(vo[2]!));
    body = body.slice(0, vo.index);
  }
  for (const item of body.split(',')) {
    if (!item) continue;
    const names = item.split('=');
    const valText = names.pop()!;
    if (names.length === 1 && names[0] === 'id') {
      const im = /^(\d+)([-+]\d+)?$/.exec(valText);
      if (!im) return null;
      id = Number(im[1]);
      if (im[2] !== undefined) addConstOff = Number(im[2]);
      continue;
    }
    const v = parseNum(valText);
    for (const n of names) {
      switch (n) {
        case 'smin': b.smin = BigInt.asIntN(64, v); break;
        case 'smax': b.smax = BigInt.asIntN(64, v); break;
        case 'umin': b.umin = BigInt.asUintN(64, v); break;
        case 'umax': b.umax = BigInt.asUintN(64, v); break;
        // 32-bit values: decimal (sign-extended) or the u32 bit pattern in hex; when merged with a 64-bit
        // name the value is the 64-bit one, whose low 32 bits are the 32-bit bound.
        case 'smin32': b.s32min = Number(BigInt.asIntN(32, v)); break;
        case 'smax32': b.s32max = Number(BigInt.asIntN(32, v)); break;
        case 'umin32': b.u32min = Number(BigInt.asUintN(32, v)); break;
        case 'umax32': b.u32max = Number(BigInt.asUintN(32, v)); break;
        default: return null;
      }
    }
  }
  return { bounds: b, id, addConstOff, precise };
}

/**
 * Split a state dump (` R0=1 R1=ctx() R2=scalar(smin=0,var_off=(0x0; 0xff))`) into `R<n>` → text, honouring
 * parentheses (var_off contains a space). Liveness suffixes (`R1_w`) of older kernels are dropped.
 */
export function splitRegState(text: string): Map<number, string> {
  const out = new Map<number, string>();
  const re = /(?:^|\s)R(\d+)(?:_[rwD]+)?=/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    let i = re.lastIndex;
    let depth = 0;
    const start = i;
    for (; i < text.length; i++) {
      const c = text[i];
      if (c === '(') depth++;
      else if (c === ')') depth--;
      else if (c === ' ' && depth === 0) break;
    }
    out.set(Number(m[1]), text.slice(start, i));
    re.lastIndex = i;
  }
  return out;
}

/** Re-derive a full state from parsed text (reg_bounds_sync of what was printed); handy in tests. */
export function parsedToSynced(p: ParsedScalar): ScalarBounds {
  const b = p.bounds.clone();
  regBoundsSync(b);
  return b;
}


