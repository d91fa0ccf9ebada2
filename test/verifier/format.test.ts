/**
 * Kernel-format scalar text (verifier/format.ts): unit tests of the printing rules, a parse/format round-trip
 * property, and a check against text printed by the host kernel.
 */
import fc from 'fast-check';
import './seed.js';
import { describe, expect, it } from 'vitest';
import { kernelAvailability, kernelRunBatch } from '../kernel/oracle.js';
import { assemble } from '../../vm/asm.js';
import {
  formatScalar, formatScalarRanges, formatSnum, formatUnum, parseScalar, splitRegState, tnumStrn,
} from '../../verifier/format.js';
import { S32_MIN, S64_MAX, S64_MIN, ScalarBounds, U64_MAX, regBoundsSync } from '../../verifier/scalar.js';
import { Tnum, tnumConst } from '../../verifier/tnum.js';

const u64 = (x: bigint) => BigInt.asUintN(64, x);

describe('format: numbers', () => {
  it('unsigned: decimal up to 65535, else %#llx', () => {
    expect(formatUnum(0n)).toBe('0');
    expect(formatUnum(65535n)).toBe('65535');
    expect(formatUnum(65536n)).toBe('0x10000');
    expect(formatUnum(U64_MAX)).toBe('0xffffffffffffffff');
  });
  it('signed: decimal in [-32768, 32767], else %#llx of the bit pattern', () => {
    expect(formatSnum(-1n)).toBe('-1');
    expect(formatSnum(-32768n)).toBe('-32768');
    expect(formatSnum(32767n)).toBe('32767');
    expect(formatSnum(32768n)).toBe('0x8000');
    expect(formatSnum(-32769n)).toBe('0xffffffffffff7fff');
    expect(formatSnum(S64_MIN)).toBe('0x8000000000000000');
  });
  it('tnum_strn', () => {
    expect(tnumStrn(new Tnum(0n, 0xffn))).toBe('(0x0; 0xff)');
    expect(tnumStrn(tnumConst(5n))).toBe('5');
    expect(tnumStrn(tnumConst(0x10000n))).toBe('0x10000');
  });
});

describe('format: scalars', () => {
  it('constants print as signed numbers', () => {
    expect(formatScalar(ScalarBounds.known(42n))).toBe('42');
    expect(formatScalar(ScalarBounds.known(u64(-1n)))).toBe('-1');
    expect(formatScalar(ScalarBounds.known(0xffff_ffffn))).toBe('0xffffffff');
    expect(formatScalar(ScalarBounds.known(u64(-100000n)))).toBe('0xfffffffffffe7960');
    expect(formatScalar(ScalarBounds.known(7n), { precise: true })).toBe('P7');
  });
  it('unknown and merged names', () => {
    expect(formatScalar(ScalarBounds.unknown())).toBe('scalar()');
    expect(formatScalar(ScalarBounds.unknown(), { id: 3 })).toBe('scalar(id=3)');
    expect(formatScalar(ScalarBounds.from({ umin: 0n, umax: 255n }), { id: 2, precise: true })).toBe(
      'Pscalar(id=2,smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))');
    expect(formatScalar(ScalarBounds.from({ umax: 0xffff_ffffn }))).toBe(
      'scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))');
    expect(formatScalar(ScalarBounds.unknown(), { id: 1, addConstOff: 4 })).toBe('scalar(id=1+4)');
  });
  it('negatives are not merged with positives; 32-bit hex uses the u32 pattern', () => {
    const r = ScalarBounds.from({ smin: -5n, smax: 5n });
    expect(formatScalar(r)).toBe('scalar(smin=smin32=-5,smax=smax32=5)');
    const h = new ScalarBounds();
    h.s32min = S32_MIN + 1;
    h.smin = 0x8000_0001n;
    expect(formatScalarRanges(h)).toBe('smin=smin32=0x80000001');
    const k = new ScalarBounds();
    k.smin = -1n;
    k.umin = U64_MAX; // same bit pattern, but umin is unsigned: not merged with a negative
    expect(formatScalarRanges(k)).toBe('smin=-1,umin=0xffffffffffffffff');
  });
  it('the NEG example from the kernel log', () => {
    const r = new ScalarBounds();
    r.smin = -0xffff_ffffn;
    r.smax = 0n;
    expect(formatScalar(r)).toBe('scalar(smin=0xffffffff00000001,smax=0)');
  });
});

describe('format: parsing', () => {
  it('splits a state dump honouring parentheses', () => {
    const m = splitRegState(' R1=ctx() R2=scalar(smin=0,var_off=(0x0; 0xff)) R3_w=5 R10=fp0');
    expect(m.get(1)).toBe('ctx()');
    expect(m.get(2)).toBe('scalar(smin=0,var_off=(0x0; 0xff))');
    expect(m.get(3)).toBe('5');
    expect(m.get(10)).toBe('fp0');
  });
  it('parses ids, P and merged names', () => {
    const p = parseScalar('Pscalar(id=2+8,smin=umin=smin32=umin32=17,smax=umax=smax32=umax32=4095,var_off=(0x0; 0xfff))');
    expect(p).not.toBeNull();
    expect(p!.precise).toBe(true);
    expect(p!.id).toBe(2);
    expect(p!.addConstOff).toBe(8);
    expect(p!.bounds.umin).toBe(17n);
    expect(p!.bounds.s32max).toBe(4095);
    expect(parseScalar('ctx()')).toBeNull();
    expect(parseScalar('-1')!.bounds.umax).toBe(U64_MAX);
  });
  it('format(parse(format(r))) == format(r) for synced states (fast-check)', () => {
    const big = fc.bigInt({ min: 0n, max: U64_MAX });
    fc.assert(
      fc.property(big, big, big, big, fc.boolean(), (a, b, v, m, signed) => {
        const r = new ScalarBounds();
        r.varOff = new Tnum(v & ~m, m);
        if (signed) {
          const [x, y] = [BigInt.asIntN(64, a), BigInt.asIntN(64, b)];
          r.smin = x < y ? x : y;
          r.smax = x < y ? y : x;
        } else {
          r.umin = a < b ? a : b;
          r.umax = a < b ? b : a;
        }
        regBoundsSync(r);
        const text = formatScalar(r);
        const back = parseScalar(text);
        if (!back) return false;
        return formatScalar(back.bounds) === text && (r.isConst() || back.bounds.equals(r));
      }),
      { numRuns: 3000 },
    );
  });
  it('unbounded defaults', () => {
    const p = parseScalar('scalar()')!;
    expect([p.bounds.smin, p.bounds.smax]).toEqual([S64_MIN, S64_MAX]);
  });
});

// ---- against the kernel ------------------------------------------------------------------------------------

const avail = kernelAvailability();
const skipReason = avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`;

describe.skipIf(!avail.ok)(`format: host kernel text${skipReason}`, () => {
  it('every scalar the kernel prints re-formats to the same text', () => {
    const progs = [
      'r2 = *(u32 *)(r1 +0)\nr2 &= 0xff\nr3 = r2\nr3 -= 300\nr4 = -100000\nr5 = 0x7fffffff\nr6 = -1\nr0 = 0\nexit',
      'r2 = *(u32 *)(r1 +0)\nr2 = -r2\nr3 = *(u32 *)(r1 +0)\nr3 <<= 32\nr3 s>>= 32\nw4 = w3\nr0 = 0\nexit',
      'r2 = *(u32 *)(r1 +0)\nr2 |= -2147483648\nr3 = *(u32 *)(r1 +0)\nw3 |= 0x80000000\nr4 = r3\nr4 s>>= 1\nr0 = 0\nexit',
      'r2 = *(u32 *)(r1 +0)\nif w2 s> 5 goto l\nr3 = *(u32 *)(r1 +0)\nr3 = bswap32 r3\nr0 = 0\nexit\nl:\nr0 = 1\nexit',
    ];
    const res = kernelRunBatch(progs.map((p) => ({ progType: 1, insns: assemble(p), logLevel: 2 })));
    let checked = 0;
    for (const r of res) {
      expect(r.loaded, r.log).toBe(true);
      for (const line of r.log.split('\n')) {
        const semi = line.indexOf(';');
        const state = /^from \d+ to \d+:/.test(line) ? line.replace(/^from \d+ to \d+:/, '') : semi >= 0 ? line.slice(semi + 1) : '';
        for (const [, text] of splitRegState(state)) {
          const p = parseScalar(text);
          if (!p) continue;
          checked++;
          expect(formatScalar(p.bounds, { id: p.id, addConstOff: p.addConstOff, precise: p.precise })).toBe(text);
        }
      }
    }
    console.log(`format vs kernel: ${checked} scalar texts re-formatted identically`);
    expect(checked).toBeGreaterThan(20);
  });
});
