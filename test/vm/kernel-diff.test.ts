// Differential tests: the same programs run in bpfvm and in the host kernel (BPF_PROG_TEST_RUN).
// The kernel reports r0 truncated to u32, so every program runs twice: as generated (low half) and with
// `r0 >>= 32` before the exit (high half). Everything skips, with the reason in the suite name, where the
// kernel oracle is unavailable (not Linux, not root, no C compiler, BPFVM_NO_KERNEL=1).
//
// Every batch has a fixed seed so CI is reproducible. The 'search' batch takes another with
// BPFVM_DIFF_SEED=<n> (or BPFVM_FC_SEED=<n>), or a fresh one with BPFVM_DIFF_SEED=random; its seed is in its test name.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import { disassemble } from '../../vm/disasm.js';
import { Vm } from '../../vm/interpreter.js';
import { kernelAvailability, kernelRunBatch, type KernelProgResult } from '../kernel/oracle.js';
import { propertySeed } from '../fc-seed.js';
import { arbKernelSpec, kernelVariants, type KernelGenOptions } from './gen.js';

const avail = kernelAvailability();
const skipReason = avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`;

const PROG_SOCKET_FILTER = 1;
const PROG_XDP = 6;
const ETH_HLEN = 14;
const BATCH = 100;

/** Packet for the runs: distinct, non-zero bytes so LD_ABS results identify the offset they read. */
const PACKET = new Uint8Array(64).map((_, i) => (i * 37 + 11) & 0xff);
/** For socket filters BPF_PROG_TEST_RUN pulls the Ethernet header: skb->data and the network header are 14 bytes in. */
const SOCKET_FILTER_PACKET = { buf: PACKET, dataOff: ETH_HLEN, netOff: ETH_HLEN };

interface Case {
  name: string;
  /** Low-half and high-half variants. */
  lo: Uint8Array;
  hi: Uint8Array;
  progType: number;
  /** LD_ABS packet for bpfvm; null where the program type has none. */
  ldAbs: LdAbs | null;
}

interface Outcome {
  kernel?: bigint;
  bpfvm?: bigint;
  rejected?: string;
  error?: string;
}

/** The packet as LD_ABS sees it: `buf` from the MAC header, skb->data and the network header offsets. */
interface LdAbs {
  buf: Uint8Array;
  dataOff: number;
  netOff: number;
}

function runBpfvm(code: Uint8Array, ldAbs: LdAbs | null): bigint {
  const vm = new Vm();
  if (ldAbs) vm.setLdAbsPacket(ldAbs.buf, ldAbs.dataOff, ldAbs.netOff);
  return vm.run(vm.load(code)).r0;
}

function rejection(r: KernelProgResult): string | undefined {
  if (!r.loaded) return `${r.stage} errno ${r.errno}: ${r.log.trim().split('\n').slice(-3).join(' | ')}`;
  if (!r.run || r.run.errno !== 0) return `test_run errno ${r.run?.errno}`;
  return undefined;
}

/** Runs every case in the kernel (batches of ≤ 100 programs) and in bpfvm; 64-bit r0 from each side. */
function runCases(cases: Case[]): Outcome[] {
  const reqs = cases.flatMap((c) =>
    [c.lo, c.hi].map((insns) => ({ progType: c.progType, insns, logLevel: 1, run: { dataIn: PACKET } })),
  );
  const res: KernelProgResult[] = [];
  for (let b = 0; b < reqs.length; b += BATCH) res.push(...kernelRunBatch(reqs.slice(b, b + BATCH)));
  return cases.map((c, k) => {
    const rl = res[2 * k]!;
    const rh = res[2 * k + 1]!;
    const why = rejection(rl) ?? rejection(rh);
    if (why !== undefined) return { rejected: why };
    const out: Outcome = { kernel: (BigInt(rh.run!.retval) << 32n) | BigInt(rl.run!.retval) };
    try {
      const lo = runBpfvm(c.lo, c.ldAbs);
      const hi = runBpfvm(c.hi, c.ldAbs);
      if (hi !== lo >> 32n) out.error = `bpfvm inconsistent: r0 ${lo} but r0 >> 32 gave ${hi}`;
      out.bpfvm = lo;
    } catch (e) {
      out.error = `bpfvm threw: ${(e as Error).message}`;
    }
    return out;
  });
}

const hex64 = (v: bigint | undefined): string => (v === undefined ? '-' : '0x' + v.toString(16).padStart(16, '0'));

function report(c: Case, o: Outcome): string {
  return [
    `--- ${c.name} (progType ${c.progType}): kernel r0 ${hex64(o.kernel)}, bpfvm r0 ${hex64(o.bpfvm)}${o.error ? `, ${o.error}` : ''}`,
    ...disassemble(c.lo),
  ].join('\n');
}

/** Generates `n` programs from `seed`, runs them, and checks there are no rejections and no disagreements. */
function randomBatch(seed: number, n: number, progType: number, opts: KernelGenOptions): { cases: number; agreed: number } {
  const specs = fc.sample(arbKernelSpec(opts), { seed, numRuns: n });
  const cases: Case[] = specs.map((s, k) => {
    const v = kernelVariants(s, opts);
    return { name: `seed ${seed} #${k}`, lo: v.lo.code, hi: v.hi.code, progType, ldAbs: progType === PROG_SOCKET_FILTER ? SOCKET_FILTER_PACKET : null };
  });
  const outcomes = runCases(cases);
  const rejected = outcomes.flatMap((o, k) => (o.rejected ? [`${cases[k]!.name}: ${o.rejected}\n${disassemble(cases[k]!.lo).join('\n')}`] : []));
  const bad = outcomes.flatMap((o, k) => (o.rejected === undefined && (o.error !== undefined || o.kernel !== o.bpfvm) ? [report(cases[k]!, o)] : []));
  // A rejection is a generator bug: the generator must only make programs the verifier accepts.
  expect(rejected.length, `kernel rejected generated programs:\n${rejected.slice(0, 5).join('\n')}`).toBe(0);
  expect(bad.length, `bpfvm disagrees with the kernel:\n${bad.slice(0, 5).join('\n')}`).toBe(0);
  const agreed = outcomes.length - bad.length - rejected.length;
  console.log(`kernel-diff seed ${seed}, progType ${progType}${opts.ldAbs ? ', LD_ABS' : ''}: ${cases.length} programs (${2 * cases.length} kernel runs), ${agreed} agree`);
  return { cases: cases.length, agreed };
}

const FIXED_SEED = 0x0b9f7e57;
const envSeed = process.env.BPFVM_DIFF_SEED;
const SEARCH_SEED = envSeed === 'random'
  ? (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) >>> 0
  : envSeed !== undefined && envSeed !== '' ? Number(envSeed) : propertySeed(FIXED_SEED + 3);
if (!Number.isSafeInteger(SEARCH_SEED)) throw new Error(`BPFVM_DIFF_SEED must be an integer or "random", got "${envSeed}"`);

describe.skipIf(!avail.ok)(`bpfvm vs kernel on random programs${skipReason}`, () => {
  it('socket filters, fixed seed: 120 programs × (low, high) halves agree', () => {
    const r = randomBatch(FIXED_SEED, 120, PROG_SOCKET_FILTER, {});
    expect(r.agreed).toBe(120);
  });

  it(`socket filters, search seed ${SEARCH_SEED}: 40 programs agree`, () => {
    console.log(`kernel-diff search seed: ${SEARCH_SEED} (rerun with BPFVM_DIFF_SEED=${SEARCH_SEED})`);
    const r = randomBatch(SEARCH_SEED, 40, PROG_SOCKET_FILTER, {});
    expect(r.agreed).toBe(40);
  });

  it('XDP, fixed seed: 30 programs agree', () => {
    const r = randomBatch(FIXED_SEED + 1, 30, PROG_XDP, {});
    expect(r.agreed).toBe(30);
  });

  it('socket filters with LD_ABS/LD_IND, fixed seed: 30 programs agree', () => {
    const r = randomBatch(FIXED_SEED + 2, 30, PROG_SOCKET_FILTER, { ldAbs: true });
    expect(r.agreed).toBe(30);
  });
});

// ---- directed edge cases ---------------------------------------------------------------------------------

interface Directed {
  name: string;
  src: string;
  /** Expected full r0 where the kernel's answer is a documented fact worth pinning. */
  expect?: bigint;
  progType?: number;
}

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

const DIRECTED: Directed[] = [
  // Division and modulo by zero.
  { name: 'div64 by zero reg', src: 'r0 = 7\nr1 = 0\nr0 /= r1', expect: 0n },
  { name: 'mod64 by zero reg keeps dividend', src: 'r0 = 0xffffffff00000007\nr1 = 0\nr0 %= r1', expect: 0xffffffff00000007n },
  { name: 'div32 by zero reg', src: 'r0 = 0xffffffff00000007\nw1 = 0\nw0 /= w1', expect: 0n },
  { name: 'mod32 by zero reg zero-extends dividend', src: 'r0 = 0xffffffff00000007\nr1 = 0x500000000\nw0 %= w1', expect: 7n },
  { name: 'div32 by reg whose low half is zero', src: 'r0 = 9\nr1 = 0x100000000\nw0 /= w1', expect: 0n },
  { name: 'sdiv64 by zero reg', src: 'r0 = -7\nr1 = 0\nr0 s/= r1', expect: 0n },
  { name: 'smod64 by zero reg', src: 'r0 = -7\nr1 = 0\nr0 s%= r1', expect: U64(-7n) },
  { name: 'sdiv32 by zero reg', src: 'r0 = -7\nw1 = 0\nw0 s/= w1', expect: 0n },
  { name: 'smod32 by zero reg', src: 'r0 = -7\nw1 = 0\nw0 s%= w1', expect: 0xfffffff9n },
  // INT_MIN / -1.
  { name: 'sdiv64 INT64_MIN / -1 (reg)', src: 'r0 = 0x8000000000000000\nr1 = -1\nr0 s/= r1', expect: 0x8000000000000000n },
  { name: 'smod64 INT64_MIN % -1 (reg)', src: 'r0 = 0x8000000000000000\nr1 = -1\nr0 s%= r1', expect: 0n },
  { name: 'sdiv64 INT64_MIN / -1 (imm)', src: 'r0 = 0x8000000000000000\nr0 s/= -1', expect: 0x8000000000000000n },
  { name: 'smod64 INT64_MIN % -1 (imm)', src: 'r0 = 0x8000000000000000\nr0 s%= -1', expect: 0n },
  { name: 'sdiv32 INT_MIN / -1 (reg)', src: 'r0 = -1\nw0 = -2147483648\nw1 = -1\nw0 s/= w1', expect: 0x80000000n },
  { name: 'smod32 INT_MIN % -1 (reg)', src: 'r0 = -1\nw0 = -2147483648\nw1 = -1\nw0 s%= w1', expect: 0n },
  { name: 'sdiv32 INT_MIN / -1 (imm)', src: 'w0 = -2147483648\nw0 s/= -1', expect: 0x80000000n },
  { name: 'smod32 INT_MIN % -1 (imm)', src: 'w0 = -2147483648\nw0 s%= -1', expect: 0n },
  { name: 'sdiv64 truncates toward zero', src: 'r0 = -7\nr0 s/= 2', expect: U64(-3n) },
  { name: 'smod64 takes the dividend sign', src: 'r0 = -7\nr1 = -2\nr0 s%= r1', expect: U64(-1n) },
  { name: 'smod32 negative, zero-extended', src: 'w0 = -7\nw0 s%= 2', expect: 0xffffffffn },
  { name: 'udiv64 by sign-extended imm', src: 'r0 = -1\nr0 /= -1', expect: 1n },
  { name: 'umod64 by sign-extended imm', src: 'r0 = 0x7fffffffffffffff\nr0 %= -2', expect: 0x7fffffffffffffffn },
  { name: 'udiv32 by imm -1 (u32)', src: 'w0 = -2\nw0 /= -1', expect: 0n },
  // Shifts by register amounts ≥ width are masked.
  { name: 'lsh64 by 65', src: 'r0 = 1\nr1 = 65\nr0 <<= r1', expect: 2n },
  { name: 'rsh64 by 64', src: 'r0 = -1\nr1 = 64\nr0 >>= r1', expect: U64(-1n) },
  { name: 'arsh64 by -1 (63)', src: 'r0 = 0x8000000000000000\nr1 = -1\nr0 s>>= r1', expect: U64(-1n) },
  { name: 'lsh32 by 33', src: 'w0 = 1\nw1 = 33\nw0 <<= w1', expect: 2n },
  { name: 'rsh32 by 32 (0)', src: 'r0 = -1\nw1 = 32\nw0 >>= w1', expect: 0xffffffffn },
  { name: 'arsh32 by 63 (31)', src: 'w0 = -2147483648\nr1 = 63\nw0 s>>= w1', expect: 0xffffffffn },
  { name: 'shift amount from the high half is ignored', src: 'r0 = 1\nr1 = 0x100000003\nr0 <<= r1', expect: 8n },
  { name: 'lsh32 by imm 31', src: 'r0 = -1\nw0 <<= 31', expect: 0x80000000n },
  // movsx.
  { name: 'movsx64 s8', src: 'r1 = 0x1234567800000080\nr0 = (s8)r1', expect: U64(-128n) },
  { name: 'movsx64 s16', src: 'r1 = 0x1234567800008000\nr0 = (s16)r1', expect: U64(-32768n) },
  { name: 'movsx64 s32', src: 'r1 = 0x1234567880000000\nr0 = (s32)r1', expect: 0xffffffff80000000n },
  { name: 'movsx64 s8 positive', src: 'r1 = 0xff7f\nr0 = (s8)r1', expect: 0x7fn },
  { name: 'movsx32 s8 zero-extends', src: 'r1 = 0x80\nw0 = (s8)w1', expect: 0xffffff80n },
  { name: 'movsx32 s16 zero-extends', src: 'r1 = -1\nr1 = 0xffff8000\nw0 = (s16)w1', expect: 0xffff8000n },
  // bswap and le/be.
  { name: 'bswap16', src: 'r0 = 0x0123456789abcdef\nr0 = bswap16 r0', expect: 0xefcdn },
  { name: 'bswap32', src: 'r0 = 0x0123456789abcdef\nr0 = bswap32 r0', expect: 0xefcdab89n },
  { name: 'bswap64', src: 'r0 = 0x0123456789abcdef\nr0 = bswap64 r0', expect: 0xefcdab8967452301n },
  { name: 'le16 truncates', src: 'r0 = 0x0123456789abcdef\nr0 = le16 r0', expect: 0xcdefn },
  { name: 'le32 truncates', src: 'r0 = 0x0123456789abcdef\nr0 = le32 r0', expect: 0x89abcdefn },
  { name: 'le64 is a no-op', src: 'r0 = 0x0123456789abcdef\nr0 = le64 r0', expect: 0x0123456789abcdefn },
  { name: 'be16', src: 'r0 = 0x0123456789abcdef\nr0 = be16 r0', expect: 0xefcdn },
  { name: 'be32', src: 'r0 = 0x0123456789abcdef\nr0 = be32 r0', expect: 0xefcdab89n },
  { name: 'be64', src: 'r0 = 0x0123456789abcdef\nr0 = be64 r0', expect: 0xefcdab8967452301n },
  // Sign-extending loads.
  {
    name: 'ldsx s8/s16/s32 from the stack',
    src: `r1 = 0x8081828384858687
      *(u64 *)(r10 -8) = r1
      r2 = *(s8 *)(r10 -1)
      r3 = *(s16 *)(r10 -4)
      r4 = *(s32 *)(r10 -8)
      r5 = *(s8 *)(r10 -8)
      r0 = r2
      r0 ^= r3
      r0 <<= 8
      r0 ^= r4
      r0 += r5`,
  },
  { name: 'ldsx s32 positive', src: 'r1 = 0x7fffffff\n*(u32 *)(r10 -4) = r1\nr0 = *(s32 *)(r10 -4)', expect: 0x7fffffffn },
  { name: 'ldsx s16 negative', src: '*(u16 *)(r10 -2) = -2\nr0 = *(s16 *)(r10 -2)', expect: U64(-2n) },
  { name: 'ldx u8 zero-extends', src: '*(u64 *)(r10 -8) = -1\nr0 = *(u8 *)(r10 -3)', expect: 0xffn },
  // Atomics.
  {
    name: 'cmpxchg64 success',
    src: 'r1 = 0x1122334455667788\n*(u64 *)(r10 -8) = r1\nr0 = r1\nr2 = 5\nr0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r2)\nr3 = *(u64 *)(r10 -8)\nr0 ^= r3',
    expect: 0x1122334455667788n ^ 5n,
  },
  {
    name: 'cmpxchg64 failure',
    src: 'r1 = 0x1122334455667788\n*(u64 *)(r10 -8) = r1\nr0 = 1\nr2 = 5\nr0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r2)\nr3 = *(u64 *)(r10 -8)\nr0 ^= r3',
    expect: 0n,
  },
  {
    name: 'cmpxchg32 compares only the low half of r0',
    src: 'r1 = 0x55667788\n*(u64 *)(r10 -8) = r1\nr0 = 0xabcdef0055667788\nr2 = 0x1234567800000009\nr0 = atomic_cmpxchg((u32 *)(r10 -8), r0, r2)\nr3 = *(u64 *)(r10 -8)\nr3 <<= 32\nr0 |= r3',
    expect: (9n << 32n) | 0x55667788n,
  },
  {
    name: 'cmpxchg32 failure zero-extends old value into r0',
    src: 'r1 = 0xf5667788\n*(u32 *)(r10 -4) = r1\nr0 = -1\nr2 = 9\nr0 = atomic_cmpxchg((u32 *)(r10 -4), r0, r2)\nr3 = *(u32 *)(r10 -4)\nr3 <<= 32\nr0 |= r3',
    expect: (0xf5667788n << 32n) | 0xf5667788n,
  },
  {
    name: 'fetch_add64 returns old, stores sum',
    src: 'r1 = -1\n*(u64 *)(r10 -8) = r1\nr2 = 2\nr2 = atomic64_fetch_add((u64 *)(r10 -8), r2)\nr0 = *(u64 *)(r10 -8)\nr0 <<= 8\nr0 ^= r2',
  },
  {
    name: 'fetch_add32 wraps and zero-extends',
    src: 'r1 = -1\n*(u64 *)(r10 -8) = r1\nr2 = 0x1234567800000002\nr2 = atomic_fetch_add((u32 *)(r10 -8), r2)\nr0 = *(u64 *)(r10 -8)\nr0 ^= r2',
    expect: 0xffffffff00000001n ^ 0xffffffffn,
  },
  {
    name: 'fetch_or/and/xor 32 and 64',
    src: `r1 = 0x0f0f0f0ff0f0f0f0
      *(u64 *)(r10 -8) = r1
      *(u64 *)(r10 -16) = r1
      r2 = 0xff00ff00ff00ff00
      r3 = r2
      r4 = r2
      r2 = atomic64_fetch_or((u64 *)(r10 -8), r2)
      r3 = atomic_fetch_and((u32 *)(r10 -16), r3)
      r4 = atomic64_fetch_xor((u64 *)(r10 -8), r4)
      r0 = *(u64 *)(r10 -8)
      r5 = *(u64 *)(r10 -16)
      r0 ^= r2
      r0 *= 3
      r0 ^= r3
      r0 *= 3
      r0 ^= r4
      r0 *= 3
      r0 ^= r5`,
  },
  {
    name: 'lock add/or/and/xor 32 and 64',
    src: `*(u64 *)(r10 -8) = -2
      r1 = 0x100000001
      lock *(u64 *)(r10 -8) += r1
      lock *(u32 *)(r10 -4) |= r1
      lock *(u32 *)(r10 -8) ^= r1
      r2 = 0xff
      lock *(u64 *)(r10 -8) &= r2
      r0 = *(u64 *)(r10 -8)`,
  },
  {
    name: 'xchg 32 and 64',
    src: `r1 = 0x1111111122222222
      *(u64 *)(r10 -8) = r1
      r2 = 0x3333333344444444
      r2 = atomic_xchg((u32 *)(r10 -8), r2)
      r3 = 0x5555555566666666
      r3 = atomic64_xchg((u64 *)(r10 -8), r3)
      r0 = r3
      r0 ^= r2`,
    expect: 0x1111111144444444n ^ 0x22222222n,
  },
  // 32-bit results are zero-extended.
  { name: 'w0 += 0 zero-extends', src: 'r0 = -1\nw0 += 0', expect: 0xffffffffn },
  { name: 'w0 = w0 zero-extends', src: 'r0 = -1\nw0 = w0', expect: 0xffffffffn },
  { name: 'w0 = -w0 zero-extends', src: 'r0 = -1\nw0 = -w0', expect: 1n },
  { name: 'w0 *= w1 zero-extends', src: 'r0 = -1\nr1 = -1\nw0 *= w1', expect: 1n },
  { name: 'w0 -= 1 from 0 zero-extends', src: 'r0 = 0x500000000\nw0 -= 1', expect: 0xffffffffn },
  { name: 'w0 s>>= 1 zero-extends', src: 'r0 = -2\nw0 s>>= 1', expect: 0xffffffffn },
  { name: 'w mov imm zero-extends', src: 'r0 = -1\nw0 = -1', expect: 0xffffffffn },
  { name: 'mov64 imm sign-extends', src: 'r0 = -1', expect: U64(-1n) },
  { name: 'and64 imm sign-extends', src: 'r0 = -1\nr0 &= -2147483648', expect: 0xffffffff80000000n },
  { name: 'jset64 imm is sign-extended', src: 'r0 = 0\nr1 = 0x100000000\nif r1 & 0x80000000 goto out\nr0 = 1\nout:\nexit' },
  { name: 'jgt64 imm 0xffffffff means -1', src: 'r0 = 0\nr1 = 0xffffffff\nif r1 > 0xffffffff goto out\nr0 = 1\nout:\nexit', expect: 1n },
  { name: 'jmp32 compares the low half', src: 'r0 = 0\nr1 = 0x100000005\nif w1 == 5 goto out\nr0 = 1\nout:\nexit', expect: 0n },
  { name: 'jslt32 signed', src: 'r0 = 0\nw1 = -1\nif w1 s< 0 goto out\nr0 = 1\nout:\nexit', expect: 0n },
  { name: 'gotol forward', src: 'r0 = 1\nr1 = 1\nif r1 == 1 goto a\ngotol b\na:\nr0 = 2\ngotol out\nb:\nr0 = 3\nout:\nexit', expect: 2n },
  // LD_ABS / LD_IND: socket filter test_run data starts after the Ethernet header.
  { name: 'LD_ABS u8 at 0 reads data_in[14]', src: 'r6 = r1\nr0 = *(u8 *)skb[0]', expect: BigInt(PACKET[ETH_HLEN]!) },
  { name: 'LD_ABS u16 big-endian', src: 'r6 = r1\nr0 = *(u16 *)skb[3]', expect: BigInt((PACKET[17]! << 8) | PACKET[18]!) },
  { name: 'LD_ABS u32 big-endian', src: 'r6 = r1\nr0 = *(u32 *)skb[10]', expect: BigInt(new DataView(PACKET.buffer).getUint32(24, false)) },
  { name: 'LD_ABS last byte', src: `r6 = r1\nr0 = *(u8 *)skb[${PACKET.length - ETH_HLEN - 1}]`, expect: BigInt(PACKET[PACKET.length - 1]!) },
  { name: 'LD_ABS out of range ends the program with 0', src: `r6 = r1\nr0 = *(u16 *)skb[${PACKET.length - ETH_HLEN - 1}]\nr0 = 77`, expect: 0n },
  { name: 'LD_ABS negative offset ends the program with 0', src: 'r6 = r1\nr0 = *(u8 *)skb[-1]\nr0 = 77', expect: 0n },
  { name: 'LD_IND', src: 'r6 = r1\nr7 = 5\nr0 = *(u16 *)skb[r7 + 2]', expect: BigInt((PACKET[21]! << 8) | PACKET[22]!) },
  { name: 'LD_IND negative index', src: 'r6 = r1\nr7 = -4\nr0 = *(u8 *)skb[r7 + 10]', expect: BigInt(PACKET[20]!) },
  { name: 'LD_IND out of range', src: 'r6 = r1\nr7 = 0x7fffffff\nr0 = *(u8 *)skb[r7 + 2]\nr0 = 5', expect: 0n },
  { name: 'LD_IND uses the low 32 bits of the index', src: 'r6 = r1\nr7 = 0x100000001\nr0 = *(u8 *)skb[r7 + 0]', expect: BigInt(PACKET[15]!) },
  { name: 'LD_ABS clobbers nothing the program keeps (r6-r9)', src: 'r6 = r1\nr7 = 0x123456789\nr0 = *(u8 *)skb[1]\nr0 += r7' },
  // bpf-to-bpf call: r6-r9 survive, each frame has its own stack. The high-half variant is spelled out
  // because the last exit belongs to the subprogram.
  {
    name: 'bpf-to-bpf call keeps r6-r9 and the caller stack',
    src: `r6 = 0x700000007
      *(u64 *)(r10 -8) = r6
      r1 = 5
      call fn
      r1 = *(u64 *)(r10 -8)
      r0 += r1
      r0 += r6
      exit
      fn:
      r6 = 100
      *(u64 *)(r10 -8) = r6
      r0 = r1
      r0 *= 0x30000003
      r2 = *(u64 *)(r10 -8)
      r0 += r2
      exit`,
    expect: 5n * 0x30000003n + 100n + 2n * 0x700000007n,
  },
];

/** Appends `r0 >>= 32` before the final `exit` (adding an `exit` if the source has none). */
function withExit(src: string, high: boolean): string {
  const lines = src.trim().split('\n').map((l) => l.trim());
  if (lines[lines.length - 1] !== 'exit') lines.push('exit');
  if (high) {
    // Before the main program's exit: the first exit followed by a subprogram label, else the last one.
    const sub = lines.findIndex((l, k) => l === 'exit' && k + 1 < lines.length && /^\w+:$/.test(lines[k + 1]!));
    lines.splice(sub >= 0 ? sub : lines.length - 1, 0, 'r0 >>= 32');
  }
  return lines.join('\n');
}

describe.skipIf(!avail.ok)(`bpfvm vs kernel on directed edge cases${skipReason}`, () => {
  const cases: Case[] = DIRECTED.map((d) => ({
    name: d.name,
    lo: assemble(withExit(d.src, false)),
    hi: assemble(withExit(d.src, true)),
    progType: d.progType ?? PROG_SOCKET_FILTER,
    ldAbs: SOCKET_FILTER_PACKET,
  }));
  let outcomes: Outcome[] | undefined;
  const outcome = (k: number): Outcome => {
    outcomes ??= runCases(cases);
    return outcomes[k]!;
  };

  it.each(DIRECTED.map((d, k) => [d.name, k] as const))('%s', (_name, k) => {
    const o = outcome(k);
    const c = cases[k]!;
    expect(o.rejected, `kernel rejected: ${o.rejected}`).toBeUndefined();
    if (DIRECTED[k]!.expect !== undefined) expect(hex64(o.kernel), 'the kernel itself').toBe(hex64(DIRECTED[k]!.expect));
    expect(o.error).toBeUndefined();
    expect(hex64(o.bpfvm), report(c, o)).toBe(hex64(o.kernel));
  });

  // may_goto falls through while its hidden loop counter (BPF_MAX_LOOPS = 8M) is non-zero, i.e. in any
  // program that does not loop 8M times. (Regression test: bpfvm once always jumped.)
  it('may_goto falls through while the loop budget lasts', () => {
    const c: Case = {
      name: 'may_goto',
      lo: assemble('r0 = 1\nmay_goto pc+1\nr0 = 2\nexit'),
      hi: assemble('r0 = 1\nmay_goto pc+1\nr0 = 2\nr0 >>= 32\nexit'),
      progType: PROG_SOCKET_FILTER,
      ldAbs: null,
    };
    const [o] = runCases([c]);
    expect(o!.kernel).toBe(2n);
    expect(hex64(o!.bpfvm), report(c, o!)).toBe(hex64(o!.kernel));
  });
});

describe.skipIf(!avail.ok)(`LD_ABS special negative offsets${skipReason}`, () => {
  // The kernel's LD_ABS/LD_IND accept the classic-BPF offsets SKF_NET_OFF (-0x100000 + k: k bytes into the
  // network header, i.e. data_in[14 + k] here) and SKF_LL_OFF (-0x200000 + k: the MAC header, data_in[k]).
  // (Regression test: bpfvm once treated them as out of range and returned 0.)
  const cases: [string, string, number][] = [
    ['SKF_NET_OFF + 1', 'r6 = r1\nr0 = *(u8 *)skb[-1048575]', PACKET[ETH_HLEN + 1]!],
    ['SKF_LL_OFF + 0', 'r6 = r1\nr0 = *(u8 *)skb[-2097152]', PACKET[0]!],
    ['LD_IND to SKF_NET_OFF + 2', 'r6 = r1\nr7 = -1048576\nr0 = *(u16 *)skb[r7 + 2]', (PACKET[ETH_HLEN + 2]! << 8) | PACKET[ETH_HLEN + 3]!],
  ];
  it.each(cases)('%s', (name, src, want) => {
    const c: Case = { name, lo: assemble(withExit(src, false)), hi: assemble(withExit(src, true)), progType: PROG_SOCKET_FILTER, ldAbs: SOCKET_FILTER_PACKET };
    const [o] = runCases([c]);
    expect(o!.kernel).toBe(BigInt(want));
    expect(hex64(o!.bpfvm), report(c, o!)).toBe(hex64(o!.kernel));
  });
});

describe.skipIf(!avail.ok)(`the differential harness can fail${skipReason}`, () => {
  it('notices a wrong LD_ABS base (data_in instead of data_in + 14)', () => {
    const lo = assemble('r6 = r1\nr0 = *(u8 *)skb[0]\nexit');
    const hi = assemble('r6 = r1\nr0 = *(u8 *)skb[0]\nr0 >>= 32\nexit');
    const [o] = runCases([{ name: 'ld_abs base', lo, hi, progType: PROG_SOCKET_FILTER, ldAbs: { buf: PACKET, dataOff: 0, netOff: ETH_HLEN } }]);
    expect(o!.kernel).not.toBe(o!.bpfvm);
  });
});

