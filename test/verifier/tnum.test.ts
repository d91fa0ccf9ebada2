/**
 * tnum (verifier/tnum.ts): unit tests with values worked out from the kernel's tnum.c, and fast-check soundness
 * properties: for random concrete members of random tnums, the concrete result of each operation is a member
 * of the abstract result.
 */
import fc from 'fast-check';
import './seed.js';
import { describe, expect, it } from 'vitest';
import {
  TNUM_UNKNOWN, Tnum, U64_MASK, fls64, tnumAdd, tnumAnd, tnumArshift, tnumBswap16, tnumBswap32, tnumBswap64,
  tnumCast, tnumClearSubreg, tnumConst, tnumConstSubreg, tnumContains, tnumIn, tnumIntersect, tnumIsAligned,
  tnumIsConst, tnumIsUnknown, tnumLshift, tnumMulLegacy, tnumMulUnion, tnumNeg, tnumOr, tnumOverlap, tnumRange,
  tnumRshift, tnumSbin, tnumStep, tnumSub, tnumSubreg, tnumUnion, tnumWithSubreg, tnumXor,
} from '../../verifier/tnum.js';

const u64 = (x: bigint) => BigInt.asUintN(64, x);
const NUM_RUNS = 3000;

/** A tnum plus one of its members: random value, random mask, member = value | (random & mask). */
const arbMember = fc
  .tuple(
    fc.oneof(fc.bigInt({ min: 0n, max: U64_MASK }), fc.bigInt({ min: 0n, max: 0xffffn })),
    fc.oneof(
      fc.constant(0n),
      fc.bigInt({ min: 0n, max: 0xffn }),
      fc.bigInt({ min: 0n, max: 0xffff_ffffn }),
      fc.bigInt({ min: 0n, max: U64_MASK }),
      fc.integer({ min: 0, max: 64 }).map((n) => (1n << BigInt(n)) - 1n),
    ),
    fc.bigInt({ min: 0n, max: U64_MASK }),
  )
  .map(([v, m, r]) => {
    const t = new Tnum(v & ~m & U64_MASK, m);
    return { t, x: t.value | (r & m) };
  });

function sound2(op: (a: Tnum, b: Tnum) => Tnum, conc: (a: bigint, b: bigint) => bigint) {
  fc.assert(
    fc.property(arbMember, arbMember, (a, b) => {
      const r = op(a.t, b.t);
      if ((r.value & r.mask) !== 0n) return false;
      return tnumContains(r, conc(a.x, b.x));
    }),
    { numRuns: NUM_RUNS },
  );
}

describe('tnum: unit', () => {
  it('const, range, unknown', () => {
    expect(tnumConst(5n)).toEqual(new Tnum(5n, 0n));
    expect(tnumConst(-1n)).toEqual(new Tnum(U64_MASK, 0n));
    expect(tnumRange(0n, 2n)).toEqual(new Tnum(0n, 3n));
    expect(tnumRange(16n, 31n)).toEqual(new Tnum(16n, 15n));
    expect(tnumRange(7n, 7n)).toEqual(new Tnum(7n, 0n));
    expect(tnumRange(0n, U64_MASK)).toBe(TNUM_UNKNOWN);
    expect(tnumRange(1n << 63n, U64_MASK)).toEqual(new Tnum(1n << 63n, (1n << 63n) - 1n));
    expect(tnumIsUnknown(TNUM_UNKNOWN)).toBe(true);
    expect(tnumIsConst(tnumConst(3n))).toBe(true);
    expect(fls64(0n)).toBe(0);
    expect(fls64(1n)).toBe(1);
    expect(fls64(U64_MASK)).toBe(64);
  });

  it('add/sub/neg propagate carries into unknown bits', () => {
    // x1 + 1 = (0; 0x3): 0b01 or 0b11 plus 1 -> 0b10 or 0b100
    expect(tnumAdd(new Tnum(1n, 2n), tnumConst(1n))).toEqual(new Tnum(0n, 6n));
    expect(tnumAdd(tnumConst(3n), tnumConst(4n))).toEqual(tnumConst(7n));
    expect(tnumSub(tnumConst(3n), tnumConst(4n))).toEqual(tnumConst(U64_MASK));
    expect(tnumNeg(tnumConst(1n))).toEqual(tnumConst(U64_MASK));
    expect(tnumNeg(new Tnum(0n, 0xffff_ffffn))).toEqual(TNUM_UNKNOWN);
  });

  it('bitwise ops', () => {
    const a = new Tnum(0b1000n, 0b0011n); // 10xx
    const b = new Tnum(0b0001n, 0b0100n); // 0x01
    expect(tnumAnd(a, b)).toEqual(new Tnum(0n, 0b0001n));
    expect(tnumOr(a, b)).toEqual(new Tnum(0b1001n, 0b0110n));
    expect(tnumXor(a, b)).toEqual(new Tnum(0b1000n, 0b0111n));
  });

  it('shifts', () => {
    expect(tnumLshift(new Tnum(1n, 2n), 4)).toEqual(new Tnum(0x10n, 0x20n));
    expect(tnumLshift(tnumConst(1n << 63n), 1)).toEqual(tnumConst(0n));
    expect(tnumRshift(new Tnum(0x10n, 0x20n), 4)).toEqual(new Tnum(1n, 2n));
    expect(tnumArshift(tnumConst(1n << 63n), 4, 64)).toEqual(tnumConst(0xf8n << 56n));
    expect(tnumArshift(tnumConst(0x8000_0000n), 4, 32)).toEqual(tnumConst(0xf800_0000n));
    expect(tnumArshift(new Tnum(0n, 0x8000_0000n), 1, 32)).toEqual(new Tnum(0n, 0xc000_0000n));
  });

  it('mul: both algorithms on known inputs give the product', () => {
    for (const mul of [tnumMulLegacy, tnumMulUnion]) {
      expect(mul(tnumConst(6n), tnumConst(7n))).toEqual(tnumConst(42n));
      expect(mul(tnumConst(u64(-3n)), tnumConst(5n))).toEqual(tnumConst(u64(-15n)));
    }
    // x * 2 with x in {0, 1}: union algorithm keeps bit 0 known zero
    expect(tnumMulUnion(new Tnum(0n, 1n), tnumConst(2n))).toEqual(new Tnum(0n, 2n));
    // the union algorithm is at least as precise here
    const a = new Tnum(0b101n, 0b010n), b = new Tnum(0b11n, 0n);
    expect(tnumIn(tnumMulLegacy(a, b), tnumMulUnion(a, b))).toBe(true);
  });

  it('intersect, union, overlap, in', () => {
    expect(tnumIntersect(new Tnum(0n, 0xffn), tnumRange(0n, 16n))).toEqual(new Tnum(0n, 0x1fn));
    expect(tnumUnion(tnumConst(4n), tnumConst(6n))).toEqual(new Tnum(4n, 2n));
    expect(tnumOverlap(new Tnum(0n, 0xfen), tnumConst(3n))).toBe(false);
    expect(tnumOverlap(new Tnum(0n, 0xfen), tnumConst(2n))).toBe(true);
    expect(tnumIn(tnumRange(0n, 2n), tnumConst(3n))).toBe(true); // the documented quirk
    expect(tnumIn(tnumConst(3n), new Tnum(2n, 1n))).toBe(false);
  });

  it('cast and subregister helpers', () => {
    const t = new Tnum(0x1234_5678_0000_0000n, 0xffffn);
    expect(tnumCast(t, 4)).toEqual(new Tnum(0n, 0xffffn));
    expect(tnumCast(TNUM_UNKNOWN, 1)).toEqual(new Tnum(0n, 0xffn));
    expect(tnumSubreg(t)).toEqual(new Tnum(0n, 0xffffn));
    expect(tnumClearSubreg(t)).toEqual(new Tnum(0x1234_5678_0000_0000n, 0n));
    expect(tnumWithSubreg(t, tnumConst(0xdead_beefn))).toEqual(tnumConst(0x1234_5678_dead_beefn));
    expect(tnumConstSubreg(TNUM_UNKNOWN, -1n)).toEqual(new Tnum(0xffff_ffffn, U64_MASK ^ 0xffff_ffffn));
  });

  it('alignment', () => {
    expect(tnumIsAligned(new Tnum(8n, 0xf0n), 8n)).toBe(true);
    expect(tnumIsAligned(new Tnum(8n, 0xf4n), 8n)).toBe(false);
    expect(tnumIsAligned(new Tnum(3n, 0n), 0n)).toBe(true);
  });

  it('bswap', () => {
    expect(tnumBswap16(new Tnum(0x1234n, 0xff_0000n))).toEqual(tnumConst(0x3412n));
    expect(tnumBswap16(new Tnum(0n, 0xffn))).toEqual(new Tnum(0n, 0xff00n));
    expect(tnumBswap32(new Tnum(0x1122_3344n, 0n))).toEqual(tnumConst(0x4433_2211n));
    expect(tnumBswap64(tnumConst(0x0102_0304_0506_0708n))).toEqual(tnumConst(0x0807_0605_0403_0201n));
  });

  it('step: smallest member greater than z', () => {
    // t = x11100x0 (value 0b01110000, mask 0b10000010); z = 241 -> 242
    const t = new Tnum(0b0111_0000n, 0b1000_0010n);
    expect(tnumStep(t, 241n)).toBe(242n);
    expect(tnumStep(t, 0n)).toBe(0b0111_0000n); // z below the smallest member: the smallest member
    expect(tnumStep(t, 112n)).toBe(114n);
    expect(tnumStep(t, 1000n)).toBe(0b1111_0010n);
    expect(tnumStep(new Tnum(0n, 0x400n), 69n)).toBe(0x400n);
  });

  it('sbin', () => {
    const s = tnumSbin(new Tnum(0b100n, 0b011n));
    expect(s.length).toBe(64);
    expect(s.endsWith('1xx')).toBe(true);
    expect(s.startsWith('000')).toBe(true);
  });
});

describe('tnum: soundness (fast-check)', () => {
  it('add', () => sound2(tnumAdd, (a, b) => u64(a + b)));
  it('sub', () => sound2(tnumSub, (a, b) => u64(a - b)));
  it('mul (union, 6.17+)', () => sound2(tnumMulUnion, (a, b) => u64(a * b)));
  it('mul (legacy)', () => sound2(tnumMulLegacy, (a, b) => u64(a * b)));
  it('and', () => sound2(tnumAnd, (a, b) => a & b));
  it('or', () => sound2(tnumOr, (a, b) => a | b));
  it('xor', () => sound2(tnumXor, (a, b) => a ^ b));
  it('union contains members of both', () => {
    fc.assert(
      fc.property(arbMember, arbMember, (a, b) => {
        const u = tnumUnion(a.t, b.t);
        return tnumContains(u, a.x) && tnumContains(u, b.x) && tnumIn(u, a.t) && tnumIn(u, b.t);
      }),
      { numRuns: NUM_RUNS },
    );
  });
  it('intersect keeps common members; overlap is implied by a common member', () => {
    fc.assert(
      fc.property(arbMember, arbMember, (a, b) => {
        if (!tnumContains(b.t, a.x)) return true;
        return tnumContains(tnumIntersect(a.t, b.t), a.x) && tnumOverlap(a.t, b.t);
      }),
      { numRuns: NUM_RUNS },
    );
  });
  it('neg', () => {
    fc.assert(fc.property(arbMember, (a) => tnumContains(tnumNeg(a.t), u64(-a.x))), { numRuns: NUM_RUNS });
  });
  it('shifts by every amount', () => {
    fc.assert(
      fc.property(arbMember, fc.integer({ min: 0, max: 63 }), (a, s) => {
        const S = BigInt(s);
        if (!tnumContains(tnumLshift(a.t, s), u64(a.x << S))) return false;
        if (!tnumContains(tnumRshift(a.t, s), a.x >> S)) return false;
        if (!tnumContains(tnumArshift(a.t, s, 64), u64(BigInt.asIntN(64, a.x) >> S))) return false;
        const s32 = s & 31;
        const sub = tnumSubreg(a.t);
        const x32 = a.x & 0xffff_ffffn;
        return tnumContains(tnumArshift(sub, s32, 32), BigInt.asUintN(32, BigInt.asIntN(32, x32) >> BigInt(s32)));
      }),
      { numRuns: NUM_RUNS },
    );
  });
  it('cast / subreg / bswap', () => {
    fc.assert(
      fc.property(arbMember, fc.constantFrom(1, 2, 4, 8), (a, size) => {
        const m = size === 8 ? U64_MASK : (1n << BigInt(size * 8)) - 1n;
        if (!tnumContains(tnumCast(a.t, size), a.x & m)) return false;
        const sw = (v: bigint, n: number) => {
          let r = 0n;
          for (let i = 0; i < n; i++) r = (r << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
          return r;
        };
        return tnumContains(tnumBswap16(a.t), sw(a.x & 0xffffn, 2)) &&
          tnumContains(tnumBswap32(a.t), sw(a.x & 0xffff_ffffn, 4)) &&
          tnumContains(tnumBswap64(a.t), sw(a.x, 8));
      }),
      { numRuns: NUM_RUNS },
    );
  });
  it('range contains its interval ends and every point between (sampled)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64_MASK }), fc.bigInt({ min: 0n, max: U64_MASK }),
        fc.bigInt({ min: 0n, max: U64_MASK }), (a, b, r) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const t = tnumRange(lo, hi);
          const mid = lo + (r % (hi - lo + 1n));
          return tnumContains(t, lo) && tnumContains(t, hi) && tnumContains(t, mid);
        }),
      { numRuns: NUM_RUNS },
    );
  });
  it('step returns the next member (checked against brute force on 8-bit tnums)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 300 }),
        (v, m, z) => {
          const t = new Tnum(BigInt(v & ~m), BigInt(m));
          const tmax = t.value | t.mask;
          let want: bigint;
          if (BigInt(z) >= tmax) want = tmax;
          else if (BigInt(z) < t.value) want = t.value;
          else {
            want = tmax;
            for (let y = z + 1; y <= Number(tmax); y++) {
              if (tnumContains(t, BigInt(y))) {
                want = BigInt(y);
                break;
              }
            }
          }
          return tnumStep(t, BigInt(z)) === want;
        }),
      { numRuns: NUM_RUNS },
    );
  });
});
