// Unit tests per instruction family, with the edge cases the kernel defines. Expected values are computed
// by hand from the kernel's semantics (kernel/bpf/core.c and the verifier's rewrites); the differential
// tests in kernel-diff.test.ts check the same against the host kernel.

import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import { BpfBudgetExceeded, BpfDecodeError, BpfExecutionError, BpfMemoryFault } from '../../vm/errors.js';
import { BPF_FUNC_tail_call, Vm, type BoundProgram } from '../../vm/interpreter.js';
import { encode, insn } from '../../vm/isa.js';

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

function run(src: string, opts: { mem?: Uint8Array; budget?: number } = {}): { r0: bigint; insns: number; mem: Uint8Array } {
  const vm = new Vm({ budget: opts.budget });
  const p = vm.load(assemble(src));
  const mem = opts.mem ?? new Uint8Array(0);
  const region = vm.space.map('memory', 'memory', mem, true);
  const r = vm.run(p, [mem.length ? region.address(0) : 0n, BigInt(mem.length)]);
  return { r0: r.r0, insns: r.insns, mem };
}
const r0 = (src: string, mem?: Uint8Array): bigint => run(src, { mem }).r0;

describe('ALU64', () => {
  it('add/sub carry and borrow across the 32-bit halves', () => {
    expect(r0('r0 = 0xffffffff\nr0 += 1\nexit')).toBe(0x100000000n);
    expect(r0('r0 = 0x100000000\nr0 -= 1\nexit')).toBe(0xffffffffn);
    expect(r0('r0 = 0\nr0 -= 1\nexit')).toBe(U64(-1n));
    expect(r0('r0 = 0xffffffffffffffff\nr1 = 0xffffffffffffffff\nr0 += r1\nexit')).toBe(U64(-2n));
  });
  it('immediates are sign-extended to 64 bits', () => {
    expect(r0('r0 = -1\nexit')).toBe(U64(-1n));
    expect(r0('r0 = 0\nr0 += -2\nexit')).toBe(U64(-2n));
    expect(r0('r0 = 0xffffffff\nr0 &= -1\nexit')).toBe(0xffffffffn);
    expect(r0('r0 = 0x123456789\nr0 |= -16\nexit')).toBe(U64(-7n));
  });
  it('mul keeps the low 64 bits', () => {
    expect(r0('r0 = 0x123456789abcdef0\nr1 = 0xfedcba9876543210\nr0 *= r1\nexit')).toBe(U64(0x123456789abcdef0n * 0xfedcba9876543210n));
    expect(r0('r0 = 0x100000001b3\nr1 = 0x100000001b3\nr0 *= r1\nexit')).toBe(U64(0x100000001b3n * 0x100000001b3n));
    expect(r0('r0 = 0x80000000\nr0 *= -3\nexit')).toBe(U64(0x80000000n * -3n));
  });
  it('unsigned div/mod, by zero', () => {
    expect(r0('r0 = 0xffffffffffffffff\nr0 /= 3\nexit')).toBe(0x5555555555555555n);
    expect(r0('r0 = 0xffffffffffffffff\nr0 %= 10\nexit')).toBe(5n);
    expect(r0('r0 = 77\nr1 = 0\nr0 /= r1\nexit')).toBe(0n);
    expect(r0('r0 = 0x1234567890\nr1 = 0\nr0 %= r1\nexit')).toBe(0x1234567890n);
  });
  it('signed div/mod: truncation, by zero, INT64_MIN / -1', () => {
    expect(r0('r0 = -7\nr0 s/= 2\nexit')).toBe(U64(-3n));
    expect(r0('r0 = -7\nr0 s%= 2\nexit')).toBe(U64(-1n));
    expect(r0('r0 = 7\nr1 = -2\nr0 s%= r1\nexit')).toBe(1n);
    expect(r0('r0 = -7\nr1 = 0\nr0 s/= r1\nexit')).toBe(0n);
    expect(r0('r0 = -7\nr1 = 0\nr0 s%= r1\nexit')).toBe(U64(-7n));
    expect(r0('r0 = 0x8000000000000000\nr0 s/= -1\nexit')).toBe(0x8000000000000000n);
    expect(r0('r0 = 0x8000000000000000\nr0 s%= -1\nexit')).toBe(0n);
  });
  it('shifts mask the amount to 6 bits', () => {
    expect(r0('r0 = 1\nr1 = 65\nr0 <<= r1\nexit')).toBe(2n);
    expect(r0('r0 = 1\nr0 <<= 63\nexit')).toBe(0x8000000000000000n);
    expect(r0('r0 = 0x8000000000000000\nr0 >>= 63\nexit')).toBe(1n);
    expect(r0('r0 = 0x8000000000000000\nr0 s>>= 63\nexit')).toBe(U64(-1n));
    expect(r0('r0 = 0x8000000000000000\nr1 = 68\nr0 s>>= r1\nexit')).toBe(U64(-(1n << 59n)));
    expect(r0('r0 = 0x123456789abcdef0\nr0 >>= 32\nexit')).toBe(0x12345678n);
    expect(r0('r0 = 0x123456789abcdef0\nr0 <<= 36\nexit')).toBe((0x123456789abcdef0n << 36n) & 0xffffffffffffffffn);
  });
  it('neg, mov, movsx', () => {
    expect(r0('r0 = 5\nr0 = -r0\nexit')).toBe(U64(-5n));
    expect(r0('r0 = 0\nr0 = -r0\nexit')).toBe(0n);
    expect(r0('r0 = 0x100000000\nr0 = -r0\nexit')).toBe(U64(-0x100000000n));
    expect(r0('r1 = 0x80\nr0 = (s8)r1\nexit')).toBe(U64(-128n));
    expect(r0('r1 = 0x17fff\nr0 = (s16)r1\nexit')).toBe(0x7fffn);
    expect(r0('r1 = 0x180000000\nr0 = (s32)r1\nexit')).toBe(U64(-0x80000000n));
  });
  it('bswap and be/le', () => {
    expect(r0('r0 = 0x1122334455667788\nr0 = bswap16 r0\nexit')).toBe(0x8877n);
    expect(r0('r0 = 0x1122334455667788\nr0 = bswap32 r0\nexit')).toBe(0x88776655n);
    expect(r0('r0 = 0x1122334455667788\nr0 = bswap64 r0\nexit')).toBe(0x8877665544332211n);
    expect(r0('r0 = 0x1122334455667788\nr0 = be16 r0\nexit')).toBe(0x8877n);
    expect(r0('r0 = 0x1122334455667788\nr0 = be64 r0\nexit')).toBe(0x8877665544332211n);
    expect(r0('r0 = 0x1122334455667788\nr0 = le16 r0\nexit')).toBe(0x7788n);
    expect(r0('r0 = 0x1122334455667788\nr0 = le32 r0\nexit')).toBe(0x55667788n);
    expect(r0('r0 = 0x1122334455667788\nr0 = le64 r0\nexit')).toBe(0x1122334455667788n);
  });
});

describe('assembler immediates', () => {
  it('a decimal ALU immediate above INT32_MAX is refused instead of silently sign-extended', () => {
    expect(() => assemble('r1 = 4294967295\nexit')).toThrow(/does not fit in a signed 32-bit immediate/);
    expect(r0('r0 = 0\nr0 |= 0xffffffff\nexit')).toBe(U64(-1n));
  });
});

describe('ALU (32-bit)', () => {
  it('zero-extends every result', () => {
    expect(r0('r0 = 0xffffffffffffffff\nw0 += 1\nexit')).toBe(0n);
    expect(r0('r0 = 0xffffffff00000005\nw0 = w0\nexit')).toBe(5n);
    expect(r0('r0 = -1\nw0 -= 1\nexit')).toBe(0xfffffffen);
    expect(r0('w0 = -1\nexit')).toBe(0xffffffffn);
    expect(r0('r0 = 0x1ffffffff\nw0 *= w0\nexit')).toBe(1n);
  });
  it('div/mod by zero: quotient 0, remainder the zero-extended dividend', () => {
    expect(r0('r0 = 0xffffffff00000009\nw1 = 0\nw0 /= w1\nexit')).toBe(0n);
    expect(r0('r0 = 0xffffffff00000009\nw1 = 0\nw0 %= w1\nexit')).toBe(9n);
    expect(r0('r0 = 0xffffffff00000009\nw0 s%= 0\nexit')).toBe(9n);
  });
  it('signed 32-bit div/mod and INT_MIN / -1', () => {
    expect(r0('w0 = -9\nw0 s/= 2\nexit')).toBe(0xfffffffcn);
    expect(r0('w0 = -9\nw0 s%= 2\nexit')).toBe(0xffffffffn);
    expect(r0('w0 = 0x80000000\nw0 s/= -1\nexit')).toBe(0x80000000n);
    expect(r0('w0 = 0x80000000\nw1 = -1\nw0 s%= w1\nexit')).toBe(0n);
    expect(r0('w0 = -9\nw0 /= 2\nexit')).toBe(0x7ffffffbn);
  });
  it('32-bit shifts mask to 5 bits; arsh is on the low word', () => {
    expect(r0('w0 = 1\nw1 = 33\nw0 <<= w1\nexit')).toBe(2n);
    expect(r0('r0 = 0x80000000\nw0 s>>= 31\nexit')).toBe(0xffffffffn);
    expect(r0('r0 = 0x180000000\nw0 >>= 31\nexit')).toBe(1n);
  });
  it('neg and movsx', () => {
    expect(r0('w0 = 1\nw0 = -w0\nexit')).toBe(0xffffffffn);
    expect(r0('r1 = 0xff\nw0 = (s8)w1\nexit')).toBe(0xffffffffn);
    expect(r0('r1 = 0x8000\nw0 = (s16)w1\nexit')).toBe(0xffff8000n);
  });
});

describe('jumps', () => {
  const cmp = (cond: string, a: string, b: string): bigint => r0(`r1 = ${a}\nr2 = ${b}\nr0 = 0\nif ${cond} goto pc+1\nexit\nr0 = 1\nexit`);
  it('unsigned and signed 64-bit comparisons', () => {
    expect(cmp('r1 > r2', '0xffffffffffffffff', '1')).toBe(1n);
    expect(cmp('r1 s> r2', '0xffffffffffffffff', '1')).toBe(0n);
    expect(cmp('r1 s< r2', '0x8000000000000000', '0')).toBe(1n);
    expect(cmp('r1 < r2', '0x100000000', '0xffffffff')).toBe(0n);
    expect(cmp('r1 >= r2', '5', '5')).toBe(1n);
    expect(cmp('r1 <= r2', '6', '5')).toBe(0n);
    expect(cmp('r1 s>= r2', '0xfffffffffffffffe', '0xffffffffffffffff')).toBe(0n);
    expect(cmp('r1 s<= r2', '0xfffffffffffffffe', '0xffffffffffffffff')).toBe(1n);
    expect(cmp('r1 == r2', '0x100000005', '5')).toBe(0n);
    expect(cmp('r1 != r2', '0x100000005', '5')).toBe(1n);
    expect(cmp('r1 & r2', '0x100000000', '0x100000000')).toBe(1n);
  });
  it('32-bit comparisons look at the low word only', () => {
    expect(cmp('w1 == w2', '0x100000005', '5')).toBe(1n);
    expect(cmp('w1 s< w2', '0xffffffff', '0')).toBe(1n);
    expect(cmp('w1 < w2', '0xffffffff', '0')).toBe(0n);
    expect(cmp('w1 & w2', '0x100000000', '0x100000000')).toBe(0n);
  });
  it('immediates are sign-extended for 64-bit comparisons', () => {
    expect(r0('r1 = -1\nr0 = 0\nif r1 == -1 goto pc+1\nexit\nr0 = 1\nexit')).toBe(1n);
    expect(r0('r1 = 0xffffffff\nr0 = 0\nif r1 == -1 goto pc+1\nexit\nr0 = 1\nexit')).toBe(0n);
    expect(r0('r1 = 0xffffffff\nr0 = 0\nif w1 == -1 goto pc+1\nexit\nr0 = 1\nexit')).toBe(1n);
  });
  it('goto and gotol', () => {
    expect(r0('r0 = 1\ngoto pc+1\nr0 = 2\nexit')).toBe(1n);
    expect(r0('r0 = 1\ngotol pc+1\nr0 = 2\nexit')).toBe(1n);
  });
  it('may_goto falls through until its per-frame counter of BPF_MAX_LOOPS runs out', () => {
    expect(r0('r0 = 1\nmay_goto pc+1\nr0 = 2\nexit')).toBe(2n);
    const r = run('r0 = 0\nloop:\nmay_goto out\nr0 += 1\ngoto loop\nout:\nexit', { budget: 30_000_000 });
    expect(r.r0).toBe(8n * 1024n * 1024n);
  });
  it('LD_ABS / LD_IND understand SKF_NET_OFF and SKF_LL_OFF', () => {
    const vm = new Vm();
    const pkt = new Uint8Array(32).map((_, i) => i);
    vm.setLdAbsPacket(pkt, 14, 14);
    expect(vm.run(vm.load(assemble('r0 = *(u8 *)skb[0]\nexit'))).r0).toBe(14n);
    expect(vm.run(vm.load(assemble('r0 = *(u8 *)skb[-1048575]\nexit'))).r0).toBe(15n);
    expect(vm.run(vm.load(assemble('r0 = *(u16 *)skb[-2097152]\nexit'))).r0).toBe(0x0001n);
    expect(vm.run(vm.load(assemble('r0 = 9\nr0 = *(u8 *)skb[-2097153]\nexit'))).r0).toBe(0n);
  });
});

describe('memory', () => {
  it('loads and stores of every size, little endian, and sign-extending loads', () => {
    const mem = new Uint8Array(16);
    expect(r0('r2 = 0x8899aabbccddeeff\n*(u64 *)(r1 +0) = r2\nr0 = *(u32 *)(r1 +4)\nexit', mem)).toBe(0x8899aabbn);
    expect(Array.from(mem.slice(0, 8))).toEqual([0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88]);
    expect(r0('*(u16 *)(r1 +2) = 0x8001\nr0 = *(s16 *)(r1 +2)\nexit', new Uint8Array(4))).toBe(U64(-0x7fffn));
    expect(r0('*(u8 *)(r1 +0) = 0xff\nr0 = *(s8 *)(r1 +0)\nexit', new Uint8Array(4))).toBe(U64(-1n));
    expect(r0('*(u32 *)(r1 +0) = -1\nr0 = *(s32 *)(r1 +0)\nexit', new Uint8Array(4))).toBe(U64(-1n));
    expect(r0('*(u64 *)(r1 +0) = -2\nr0 = *(u64 *)(r1 +0)\nexit', new Uint8Array(8))).toBe(U64(-2n));
    expect(r0('*(u32 *)(r1 +0) = -2\nr0 = *(u64 *)(r1 +0)\nexit', new Uint8Array(8))).toBe(0xfffffffen);
  });
  it('the stack is 512 bytes below r10', () => {
    expect(r0('r1 = 42\n*(u64 *)(r10 -512) = r1\nr0 = *(u64 *)(r10 -512)\nexit')).toBe(42n);
  });
  it('an access outside every region is a typed fault naming pc, address, size and region', () => {
    const mem = new Uint8Array(8);
    let err: unknown;
    try {
      run('r0 = *(u32 *)(r1 +6)\nexit', { mem });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfMemoryFault);
    const f = err as BpfMemoryFault;
    expect(f.pc).toBe(0);
    expect(f.size).toBe(4);
    expect(f.access).toBe('load');
    expect(f.region?.name).toBe('memory');
    expect(f.message).toMatch(/^pc 0: invalid load of 4 bytes at 0x[0-9a-f]+: offset 6 \+ 4 is outside the region's 8 bytes \(region memory/);
  });
  it('stack overflow below r10-512 and above r10 fault', () => {
    expect(() => run('*(u64 *)(r10 -520) = 1\nexit')).toThrow(BpfMemoryFault);
    expect(() => run('r0 = *(u8 *)(r10 +0)\nexit')).toThrow(BpfMemoryFault);
  });
  it('reg + off is a 64-bit sum: a pointer one byte below the stack plus 1 is the stack again (kernel selftest verifier_stack_ptr "check low 2")', () => {
    expect(r0('r1 = r10\nr1 += -513\nr0 = 42\n*(u8 *)(r1 +1) = r0\nr0 = *(u8 *)(r1 +1)\nexit')).toBe(42n);
    expect(r0('r1 = r10\nr1 += -513\nr0 = 7\n*(u64 *)(r1 +1) = r0\nr2 = 5\nlock *(u64 *)(r1 +1) += r2\nr0 = *(u64 *)(r10 -512)\nexit')).toBe(12n);
    // and the same carry upwards: a pointer 2^32 - 8 below a region's start still faults outside it
    expect(() => run('r1 = r10\nr1 += -513\nr0 = *(u8 *)(r1 +0)\nexit')).toThrow(/address is not in any region/);
    const mem = new Uint8Array(8);
    expect(r0('r1 += -8\nr0 = 9\n*(u32 *)(r1 +12) = r0\nr0 = *(u32 *)(r1 +12)\nexit', mem)).toBe(9n);
    expect(mem[4]).toBe(9);
  });
  it('a null pointer faults with a clear reason', () => {
    expect(() => run('r1 = 0\nr0 = *(u8 *)(r1 +0)\nexit')).toThrow(/null pointer/);
  });
  it('stores to a read-only region fault', () => {
    const vm = new Vm();
    const ro = vm.space.map('rodata', 'rodata', new Uint8Array(8), false);
    const p = vm.load(assemble('*(u8 *)(r1 +0) = 1\nexit'));
    expect(() => vm.run(p, [ro.address(0)])).toThrow(/read-only/);
  });
  it('atomics: add/or/and/xor with and without fetch, xchg, cmpxchg, 32 and 64 bit', () => {
    const m = (): Uint8Array => new Uint8Array(8);
    expect(r0('*(u64 *)(r1 +0) = 5\nr2 = 3\nlock *(u64 *)(r1 +0) += r2\nr0 = *(u64 *)(r1 +0)\nexit', m())).toBe(8n);
    expect(r0('*(u64 *)(r1 +0) = 5\nr2 = 3\nr2 = atomic64_fetch_add((u64 *)(r1 +0), r2)\nr0 = r2\nexit', m())).toBe(5n);
    expect(r0('*(u32 *)(r1 +0) = -1\nr2 = 1\nlock *(u32 *)(r1 +0) += r2\nr0 = *(u64 *)(r1 +0)\nexit', m())).toBe(0n);
    expect(r0('*(u64 *)(r1 +0) = 12\nr2 = 10\nr2 = atomic64_fetch_and((u64 *)(r1 +0), r2)\nr0 = *(u64 *)(r1 +0)\nr0 <<= 8\nr0 |= r2\nexit', m())).toBe((8n << 8n) | 12n);
    expect(r0('*(u64 *)(r1 +0) = 12\nr2 = 10\nr2 = atomic64_fetch_or((u64 *)(r1 +0), r2)\nr0 = *(u64 *)(r1 +0)\nexit', m())).toBe(14n);
    expect(r0('*(u64 *)(r1 +0) = 12\nr2 = 10\nlock *(u64 *)(r1 +0) ^= r2\nr0 = *(u64 *)(r1 +0)\nexit', m())).toBe(6n);
    expect(r0('*(u32 *)(r1 +0) = 7\nr2 = 0xffffffff00000009\nr2 = atomic_xchg((u32 *)(r1 +0), r2)\nr0 = *(u32 *)(r1 +0)\nr0 <<= 32\nr0 |= r2\nexit', m())).toBe((9n << 32n) | 7n);
    // cmpxchg success: r0 == mem, mem = src, r0 = old.
    expect(r0('*(u64 *)(r1 +0) = 7\nr0 = 7\nr2 = 9\nr0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)\nr3 = *(u64 *)(r1 +0)\nr3 <<= 8\nr0 |= r3\nexit', m())).toBe((9n << 8n) | 7n);
    // cmpxchg failure: mem unchanged, r0 = old.
    expect(r0('*(u64 *)(r1 +0) = 7\nr0 = 6\nr2 = 9\nr0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)\nr3 = *(u64 *)(r1 +0)\nr3 <<= 8\nr0 |= r3\nexit', m())).toBe((7n << 8n) | 7n);
    // 32-bit cmpxchg compares the low word of r0 and zero-extends the old value into r0.
    expect(r0('*(u32 *)(r1 +0) = -1\nr0 = -1\nr2 = 1\nr0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r2)\nexit', m())).toBe(0xffffffffn);
  });
});

describe('lddw', () => {
  it('loads a full 64-bit immediate and counts as one instruction', () => {
    const r = run('r0 = 0xfedcba9876543210\nexit');
    expect(r.r0).toBe(0xfedcba9876543210n);
    expect(r.insns).toBe(2);
  });
  it('map pseudo forms resolve through the resolver', () => {
    const vm = new Vm();
    const value = vm.space.map('map[0] value', 'map_value', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), true);
    const obj = vm.space.mapObject('map[0]', { name: 'm' });
    const p = vm.load(assemble('r1 = map[idx:0]\nr0 = map[idx:0][0]+4\nr0 = *(u32 *)(r0 +0)\nexit'), {
      mapObject: () => obj,
      mapValue: (_src, _imm, off) => ({ region: value, offset: off }),
    });
    expect(vm.run(p).r0).toBe(0x08070605n);
  });
  it('a map reference without a resolver is a typed error', () => {
    const vm = new Vm();
    expect(() => vm.load(assemble('r1 = map[idx:0]\nr0 = 0\nexit'))).toThrow(BpfExecutionError);
  });
});

describe('legacy packet loads', () => {
  it('LD_ABS / LD_IND read big endian and end the program with r0 = 0 when out of range', () => {
    const vm = new Vm();
    vm.setLdAbsPacket(new Uint8Array([0x12, 0x34, 0x56, 0x78, 0x9a]));
    const p = vm.load(assemble('r0 = *(u32 *)skb[1]\nexit'));
    expect(vm.run(p).r0).toBe(0x3456789an);
    const q = vm.load(assemble('r2 = 3\nr0 = *(u16 *)skb[r2 + 0]\nexit'));
    expect(vm.run(q).r0).toBe(0x789an);
    const oob = vm.load(assemble('r0 = 5\nr0 = *(u16 *)skb[4]\nr0 = 7\nexit'));
    const r = vm.run(oob);
    expect(r.r0).toBe(0n);
    expect(r.ldAbsAbort).toBe(true);
  });
});

describe('calls', () => {
  it('bpf-to-bpf calls preserve r6-r9 and give the callee its own stack', () => {
    const src = `
      r6 = 1
      r7 = 2
      *(u64 *)(r10 -8) = 100
      r1 = 5
      call f
      r0 += r6
      r0 += r7
      r1 = *(u64 *)(r10 -8)
      r0 += r1
      exit
    f:
      r6 = 1000
      r7 = 1000
      *(u64 *)(r10 -8) = 7
      r0 = r1
      r0 *= 10
      exit`;
    expect(r0(src)).toBe(50n + 1n + 2n + 100n);
  });
  it('eight frames are allowed, a ninth is a typed error', () => {
    const chain = (depth: number): string => {
      let s = 'r0 = 0\ncall f1\nexit\n';
      for (let k = 1; k < depth; k++) s += `f${k}:\n${k + 1 < depth ? `call f${k + 1}\n` : ''}r0 += 1\nexit\n`;
      return s;
    };
    expect(r0(chain(8))).toBe(7n);
    expect(() => r0(chain(9))).toThrow(/call stack of 8 frames is too deep/);
  });
  it('helpers are called through the table with r1-r5', () => {
    const vm = new Vm({ helpers: [] });
    vm.helpers[7] = (v) => v.setR0Big(v.reg(1) + v.reg(2) * 2n + v.reg(5));
    const p = vm.load(assemble('r1 = 1\nr2 = 2\nr5 = 100\ncall 7\nexit'));
    expect(vm.run(p).r0).toBe(105n);
  });
  it('an unknown helper is a typed error naming it', () => {
    expect(() => r0('call bpf_msg_pull_data#63\nexit')).toThrow(/pc 0: unknown helper/);
  });
  it('tail calls replace the program, keep r1, and stop after 33', () => {
    const vm = new Vm();
    const progArray = vm.space.mapObject('prog_array', { kind: 'prog_array' });
    let target: BoundProgram | null = null;
    vm.tailCallTarget = (m, idx) => (m === progArray.object && idx === 0 ? target : null);
    // The target counts its own runs in memory at r1 and tail-calls itself until the limit.
    const body = assemble(`
      r6 = r1
      r2 = *(u64 *)(r6 +0)
      r2 += 1
      *(u64 *)(r6 +0) = r2
      r1 = r6
      r2 = map[idx:0]
      r3 = 0
      call ${BPF_FUNC_tail_call}
      r0 = *(u64 *)(r6 +0)
      exit`);
    const resolver = { mapObject: () => progArray, mapValue: () => { throw new Error('no'); } };
    target = vm.load(body, resolver);
    const mem = vm.space.map('memory', 'memory', new Uint8Array(8), true);
    const r = vm.run(target, [mem.address(0)]);
    // The first run plus 33 successful tail calls.
    expect(r.r0).toBe(34n);
  });
});

describe('budget', () => {
  it('a runaway program ends with a typed error at the configured budget', () => {
    let err: unknown;
    try {
      run('r0 = 0\nloop:\nr0 += 1\ngoto loop', { budget: 1000 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfBudgetExceeded);
    expect((err as BpfBudgetExceeded).budget).toBe(1000);
  });
  it('the default budget is 1,000,000 instructions', () => {
    expect(() => run('loop:\ngoto loop')).toThrow(/budget of 1000000 exhausted/);
    expect(run('r0 = 0\nr1 = 333000\nloop:\nr0 += 1\nr1 -= 1\nif r1 != 0 goto loop\nexit').insns).toBeLessThanOrEqual(1_000_000);
  });
});

describe('malformed bytecode', () => {
  const load = (bytes: Uint8Array): unknown => {
    try {
      new Vm().load(bytes);
      return null;
    } catch (e) {
      return e;
    }
  };
  const one = (...fields: [number, number?, number?, number?, number?]): Uint8Array =>
    encode([insn(...fields), insn(0x95)]);
  it.each([
    ['unknown opcode', one(0xff), /pc 0: unknown opcode 0xff/],
    ['unknown ALU op', one(0xe7), /unknown opcode 0xe7/],
    ['bad register', one(0xb7, 11), /R11 is invalid/],
    ['reserved src on ALU K', one(0x07, 1, 2, 0, 1), /BPF_ALU64 uses reserved fields/],
    ['reserved off on ALU', one(0x0f, 1, 2, 3, 0), /uses reserved fields/],
    ['reserved imm on exit', encode([insn(0x95, 0, 0, 0, 1)]), /BPF_EXIT uses reserved fields/],
    ['bad END width', one(0xd4, 1, 0, 0, 8), /BPF_END uses reserved fields/],
    ['bad atomic op', one(0xdb, 1, 2, 0, 0x10), /invalid atomic opcode/],
    ['jump out of range', one(0x05, 0, 0, 5), /jump out of range from insn 0 to 6/],
    ['jump into lddw', encode([insn(0x05, 0, 0, 1), insn(0x18, 0, 0, 0, 1, 0), insn(0x95)]), /into the middle of ldimm64/],
    ['pseudo call out of range', one(0x85, 0, 1, 0, 100), /function call to pc 101 is out of range/],
  ])('%s is rejected with a typed error naming the pc', (_name, bytes, msg) => {
    const e = load(bytes);
    expect(e).toBeInstanceOf(BpfDecodeError);
    expect((e as Error).message).toMatch(msg);
  });
  it('a truncated lddw is rejected', () => {
    const b = encode([insn(0x18, 1, 0, 0, 1, 0)]).slice(0, 8);
    expect(load(b)).toBeInstanceOf(BpfDecodeError);
  });
  it('a length that is not a multiple of 8 and an empty program are rejected', () => {
    expect(load(new Uint8Array(12))).toBeInstanceOf(BpfDecodeError);
    expect(load(new Uint8Array(0))).toBeInstanceOf(BpfDecodeError);
  });
  it('non-zero fields in the second lddw slot are rejected', () => {
    const b = encode([insn(0x18, 1, 0, 0, 1, 0), insn(0x95)]);
    b[9] = 0x01;
    expect(load(b)).toBeInstanceOf(BpfDecodeError);
  });
});
