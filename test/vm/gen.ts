// Random program generators (fast-check arbitraries) for bpfvm's tests.
//
//  - `arbAnyProgram()`: programs that are structurally valid per `prepare()` (vm/program.ts) and use every
//    instruction form of the ISA with random registers, offsets and immediates. Jump targets (off, gotol's imm,
//    pseudo-call imm, BPF_PSEUDO_FUNC lddw imm) always land on an instruction start inside the program, never
//    on the second slot of an lddw. They are not meant to run (or to pass the kernel's verifier).
//
//  - `arbKernelProgram(opts)`: programs the host kernel's verifier accepts (root, socket filter or XDP) and
//    whose result is deterministic, for differential testing: r0..r9 are initialised first, a few 8-byte stack
//    slots are initialised next (the kernel's stack is not zeroed, bpfvm's is), then straight-line ALU/ALU64
//    code, stack loads/stores/atomics at aligned offsets inside those slots, forward conditional jumps and
//    if/else diamonds (ja/gotol over the else block), and an epilogue that (optionally) folds every register and
//    stack slot into r0 before `exit`. With `highHalf`, `r0 >>= 32` is inserted before the exit so the upper
//    32 bits can be compared through BPF_PROG_TEST_RUN's u32 retval.

import fc from 'fast-check';
import {
  BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_B, BPF_CALL, BPF_DW, BPF_END, BPF_EXIT, BPF_H, BPF_IND,
  BPF_JA, BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_K, BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_MOV, BPF_NEG,
  BPF_MUL, BPF_RSH, BPF_ST, BPF_STX, BPF_TO_BE, BPF_TO_LE, BPF_W, BPF_X, BPF_XOR, LDDW, encode, renumber, type Insn,
} from '../../vm/isa.js';
import { ATOMIC_VARIANTS } from '../../vm/program.js';

// ---------------------------------------------------------------------------------------------------------
// Shared pieces

export const BINARY_ALU_OPS = [0x00, 0x10, 0x20, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xc0] as const; // no div/mod/mov/neg/end
export const DIVMOD_OPS = [0x30, 0x90] as const;
export const JMP_COND_OPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0] as const;
export const LDST_SIZES = [BPF_W, BPF_H, BPF_B, BPF_DW] as const;
export const SX_SIZES = [BPF_W, BPF_H, BPF_B] as const;

const S32_EDGES = [
  0, 1, -1, 2, -2, 7, 8, 15, 16, 31, 32, 33, 63, 64, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
  0x7fffffff, -0x80000000, -0x7fffffff, -0x80, -0x8000, 0x12345678, -0x12345678,
];
const U64_EDGES = [
  0n, 1n, 0xffffffffffffffffn, 0x8000000000000000n, 0x7fffffffffffffffn, 0xffffffffn, 0x80000000n,
  0x7fffffffn, 0x100000000n, 0xffffffff00000000n, 0xffffffff80000000n, 0x00000000ffff8000n, 0xff80n,
  0x8000000080000000n, 0x0123456789abcdefn, 0xfedcba9876543210n, 0x00000001ffffffffn,
];

/** A signed 32-bit immediate, biased towards edge values. */
export const arbS32: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -0x80000000, max: 0x7fffffff }) },
  { weight: 3, arbitrary: fc.constantFrom(...S32_EDGES) },
  { weight: 2, arbitrary: fc.integer({ min: -20, max: 20 }) },
);

/** A 64-bit value (unsigned bigint), biased towards edge values. */
export const arbU64: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }) },
  { weight: 2, arbitrary: fc.constantFrom(...U64_EDGES) },
  { weight: 1, arbitrary: fc.bigInt({ min: -40n, max: 40n }).map((v) => BigInt.asUintN(64, v)) },
  { weight: 1, arbitrary: arbS32.map((v) => BigInt.asUintN(64, BigInt(v))) },
);

const arbS16: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -32768, max: 32767 }),
  fc.constantFrom(0, 1, -1, -8, 8, -512, 32767, -32768),
);
const arbReg = fc.integer({ min: 0, max: 10 });

/** Builds one instruction record; lddw gets its (zero) second-slot fields. */
export function mkInsn(op: number, dst = 0, src = 0, off = 0, imm = 0, imm64hi?: number): Insn {
  const r: Insn = { pc: 0, op, dst, src, off, imm: imm | 0 };
  if (op === LDDW) {
    r.imm64hi = (imm64hi ?? 0) | 0;
    r.next = { op: 0, dst: 0, src: 0, off: 0 };
  }
  return r;
}

export function lddwInsn(dst: number, v: bigint, src = 0): Insn {
  const u = BigInt.asUintN(64, v);
  return mkInsn(LDDW, dst, src, 0, Number(BigInt.asIntN(32, u & 0xffffffffn)), Number(BigInt.asIntN(32, u >> 32n)));
}

export interface GenProgram {
  insns: Insn[];
  code: Uint8Array;
}

// ---------------------------------------------------------------------------------------------------------
// (a) every instruction form, valid per prepare()

/** One generated instruction plus, for jumps, which field holds the target and a raw pick for it. */
interface AnySpec {
  insn: Insn;
  jump?: 'off' | 'imm';
  pick?: number;
  /** Jump to the next instruction (pc+0). */
  next?: boolean;
}

const plain = (insn: Insn): AnySpec => ({ insn });
const jump = (insn: Insn, field: 'off' | 'imm', pick: number): AnySpec => ({ insn, jump: field, pick });

const arbAluCls = fc.constantFrom(BPF_ALU, BPF_ALU64);

const arbAnySpec: fc.Arbitrary<AnySpec> = fc.oneof(
  // ALU/ALU64 binary ops, K and X
  fc.tuple(arbAluCls, fc.constantFrom(...BINARY_ALU_OPS), arbReg, arbReg, arbS32, fc.boolean()).map(([c, op, d, s, imm, x]) =>
    plain(x ? mkInsn(c | op | BPF_X, d, s) : mkInsn(c | op | BPF_K, d, 0, 0, imm)),
  ),
  // div/mod and sdiv/smod (off 1)
  fc.tuple(arbAluCls, fc.constantFrom(...DIVMOD_OPS), arbReg, arbReg, arbS32, fc.boolean(), fc.constantFrom(0, 1)).map(
    ([c, op, d, s, imm, x, off]) => plain(x ? mkInsn(c | op | BPF_X, d, s, off) : mkInsn(c | op | BPF_K, d, 0, off, imm)),
  ),
  // mov K, mov X, movsx
  fc.tuple(arbAluCls, arbReg, arbReg, arbS32, fc.constantFrom(-1, 0, 8, 16, 32)).map(([c, d, s, imm, off]) => {
    if (off === -1) return plain(mkInsn(c | BPF_MOV | BPF_K, d, 0, 0, imm));
    if (off === 32 && c === BPF_ALU) off = 16;
    return plain(mkInsn(c | BPF_MOV | BPF_X, d, s, off));
  }),
  // neg
  fc.tuple(arbAluCls, arbReg).map(([c, d]) => plain(mkInsn(c | BPF_NEG | BPF_K, d))),
  // le/be (ALU) and bswap (ALU64)
  fc.tuple(fc.constantFrom(BPF_ALU | BPF_TO_LE, BPF_ALU | BPF_TO_BE, BPF_ALU64 | BPF_TO_LE), arbReg, fc.constantFrom(16, 32, 64)).map(
    ([c, d, w]) => plain(mkInsn(c | BPF_END, d, 0, 0, w)),
  ),
  // conditional jumps, JMP and JMP32, K and X
  fc.tuple(fc.constantFrom(BPF_JMP, BPF_JMP32), fc.constantFrom(...JMP_COND_OPS), arbReg, arbReg, arbS32, fc.boolean(), fc.nat()).map(
    ([c, op, d, s, imm, x, pick]) => jump(x ? mkInsn(c | op | BPF_X, d, s) : mkInsn(c | op | BPF_K, d, 0, 0, imm), 'off', pick),
  ),
  // ja, gotol, may_goto
  fc.tuple(fc.constantFrom(0, 1, 2), fc.nat()).map(([k, pick]) =>
    k === 0
      ? jump(mkInsn(BPF_JMP | BPF_JA), 'off', pick)
      : k === 1
        ? jump(mkInsn(BPF_JMP32 | BPF_JA), 'imm', pick)
        : jump(mkInsn(BPF_JMP | BPF_JCOND), 'off', pick),
  ),
  // calls: helper (known and unknown ids), bpf-to-bpf, kfunc; exit
  fc.oneof(
    fc.integer({ min: 0, max: 215 }).map((id) => plain(mkInsn(BPF_JMP | BPF_CALL, 0, 0, 0, id))),
    arbS32.map((id) => plain(mkInsn(BPF_JMP | BPF_CALL, 0, 0, 0, id))),
    fc.nat().map((pick) => jump(mkInsn(BPF_JMP | BPF_CALL, 0, 1), 'imm', pick)),
    arbS32.map((id) => plain(mkInsn(BPF_JMP | BPF_CALL, 0, 2, 0, id))),
    fc.constant(plain(mkInsn(BPF_JMP | BPF_EXIT))),
  ),
  // LDX MEM (4 sizes) and MEMSX (3 sizes)
  fc.tuple(fc.boolean(), fc.nat(3), arbReg, arbReg, arbS16).map(([sx, k, d, s, off]) =>
    plain(sx ? mkInsn(BPF_LDX | BPF_MEMSX | SX_SIZES[k % 3]!, d, s, off) : mkInsn(BPF_LDX | BPF_MEM | LDST_SIZES[k]!, d, s, off)),
  ),
  // ST MEM imm, STX MEM
  fc.tuple(fc.boolean(), fc.constantFrom(...LDST_SIZES), arbReg, arbReg, arbS16, arbS32).map(([x, sz, d, s, off, imm]) =>
    plain(x ? mkInsn(BPF_STX | BPF_MEM | sz, d, s, off) : mkInsn(BPF_ST | BPF_MEM | sz, d, 0, off, imm)),
  ),
  // atomics: add/or/and/xor (± fetch), xchg, cmpxchg; 32 and 64 bit
  fc.tuple(fc.constantFrom(BPF_W, BPF_DW), fc.constantFrom(...ATOMIC_VARIANTS), arbReg, arbReg, arbS16).map(([sz, a, d, s, off]) =>
    plain(mkInsn(BPF_STX | BPF_ATOMIC | sz, d, s, off, a)),
  ),
  // lddw, src 0..6
  fc.tuple(fc.integer({ min: 0, max: 6 }), arbReg, arbU64, arbS32, fc.nat()).map(([src, d, v, imm, pick]) => {
    switch (src) {
      case 0:
        return plain(lddwInsn(d, v));
      case 2:
      case 6:
        return plain(mkInsn(LDDW, d, src, 0, Math.abs(imm % 64), Number(BigInt.asIntN(32, v))));
      case 4:
        return jump(mkInsn(LDDW, d, 4), 'imm', pick);
      default: // 1, 3, 5: the second half carries nothing
        return plain(mkInsn(LDDW, d, src, 0, Math.abs(imm % 64)));
    }
  }),
  // LD_ABS / LD_IND
  fc.tuple(fc.boolean(), fc.constantFrom(BPF_W, BPF_H, BPF_B), arbReg, arbS32).map(([ind, sz, s, imm]) =>
    plain(ind ? mkInsn(BPF_LD | BPF_IND | sz, 0, s, 0, imm) : mkInsn(BPF_LD | BPF_ABS | sz, 0, 0, 0, imm)),
  ),
);

function layoutAny(specs: AnySpec[]): GenProgram {
  const insns = renumber(specs.map((s) => ({ ...s.insn, next: s.insn.next ? { ...s.insn.next } : undefined })));
  const starts = insns.map((i) => i.pc);
  specs.forEach((s, k) => {
    if (s.jump === undefined) return;
    const i = insns[k]!;
    const target = s.next ? i.pc + 1 + (i.op === LDDW ? 1 : 0) : starts[(s.pick ?? 0) % starts.length]!;
    const rel = target - i.pc - 1;
    if (s.jump === 'off') i.off = rel;
    else i.imm = rel;
  });
  for (const i of insns) if (i.next === undefined) delete i.next;
  return { insns, code: encode(insns) };
}

/** Programs valid per prepare(), using every instruction form (not meant to run). */
export function arbAnyProgram(maxLength = 24): fc.Arbitrary<GenProgram> {
  return fc.array(arbAnySpec, { minLength: 1, maxLength }).map((specs) => layoutAny([...specs, plain(mkInsn(BPF_JMP | BPF_EXIT))]));
}

/**
 * Programs the kernel's verifier reads all the way to its "Live regs before insn" table (printed at log level
 * 2 before do_check, so also for programs do_check then rejects): every instruction form except those that
 * need objects resolved first (bpf-to-bpf calls, kfuncs, lddw with a pseudo source), no exit but the last, and
 * ja/gotol only to the next instruction so every instruction stays reachable. Conditional jumps and may_goto
 * go anywhere (root may have back-edges). For comparing disassembly text with the kernel's, not for running.
 */
export function arbKernelTextProgram(maxLength = 40): fc.Arbitrary<GenProgram> {
  const safe = arbAnySpec
    .filter((s) => s.insn.op !== (BPF_JMP | BPF_EXIT))
    .map((s): AnySpec => {
      const i = s.insn;
      if (i.op === (BPF_JMP | BPF_CALL) && i.src !== 0) return plain(mkInsn(BPF_JMP | BPF_CALL, 0, 0, 0, Math.abs(i.imm) % 215));
      if (i.op === LDDW && i.src !== 0) return plain(lddwInsn(i.dst, BigInt(i.imm)));
      if (i.op === (BPF_JMP | BPF_JA) || i.op === (BPF_JMP32 | BPF_JA)) return { ...s, next: true };
      return s;
    });
  return fc.array(safe, { minLength: Math.min(10, maxLength), maxLength }).map((specs) => layoutAny([...specs, plain(mkInsn(BPF_JMP | BPF_EXIT))]));
}

// ---------------------------------------------------------------------------------------------------------
// (b) kernel-verifiable, deterministic programs

export interface KernelGenOptions {
  /** Insert `r0 >>= 32` before the final exit. */
  highHalf?: boolean;
  /** Maximum number of body operations. */
  maxBody?: number;
  /** Allow LD_ABS/LD_IND (socket filters): r6 keeps the ctx pointer and is never touched otherwise. */
  ldAbs?: boolean;
  /** Allow helper calls (non-deterministic: only for comparing disassembly text, never for results). */
  calls?: boolean;
  /** Allow may_goto (forward). Off by default. */
  mayGoto?: boolean;
}

/** Raw choices; resolved against the program's register set and stack slots when laid out. */
type BodyOp =
  | { k: 'alu'; c: number; op: number; x: boolean; d: number; s: number; imm: number; v: number }
  | { k: 'lddw'; d: number; v: bigint }
  | { k: 'st'; sz: number; slot: number; sub: number; s: number; imm: number; x: boolean }
  | { k: 'ld'; sz: number; sx: boolean; slot: number; sub: number; d: number }
  | { k: 'atomic'; dw: boolean; a: number; slot: number; sub: number; s: number }
  | { k: 'jcc'; c: number; op: number; x: boolean; d: number; s: number; imm: number; pick: number }
  | { k: 'diamond'; c: number; op: number; x: boolean; d: number; s: number; imm: number; gotol: boolean; then: BodyOp[]; els: BodyOp[] }
  | { k: 'ldabs'; ind: boolean; sz: number; imm: number; s: number; idx: number; re: number[] }
  | { k: 'call'; id: number; re: number[] }
  | { k: 'maygoto'; pick: number };

const nat = fc.nat();
const arbAluOpB = fc.record({
  k: fc.constant('alu' as const),
  c: arbAluCls,
  // 0x80 neg, 0xd0 end; 0xb0 mov; 0x30/0x90 div/mod; the rest binary
  op: fc.constantFrom(0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0),
  x: fc.boolean(),
  d: nat,
  s: nat,
  imm: arbS32,
  v: nat,
});
const arbJcc = fc.record({
  c: fc.constantFrom(BPF_JMP, BPF_JMP32),
  op: fc.constantFrom(...JMP_COND_OPS),
  x: fc.boolean(),
  d: nat,
  s: nat,
  imm: arbS32,
});
const arbMemB = fc.oneof(
  fc.record({ k: fc.constant('st' as const), sz: fc.constantFrom(...LDST_SIZES), slot: nat, sub: nat, s: nat, imm: arbS32, x: fc.boolean() }),
  fc.record({ k: fc.constant('ld' as const), sz: fc.constantFrom(...LDST_SIZES), sx: fc.boolean(), slot: nat, sub: nat, d: nat }),
  fc.record({ k: fc.constant('atomic' as const), dw: fc.boolean(), a: fc.constantFrom(...ATOMIC_VARIANTS), slot: nat, sub: nat, s: nat }),
);
const arbLddwB = fc.record({ k: fc.constant('lddw' as const), d: nat, v: arbU64 });
const arbReinit = fc.array(arbS32, { minLength: 5, maxLength: 5 });

function arbSimple(opts: KernelGenOptions): fc.Arbitrary<BodyOp> {
  const parts: fc.WeightedArbitrary<BodyOp>[] = [
    { weight: 10, arbitrary: arbAluOpB },
    { weight: 1, arbitrary: arbLddwB },
    { weight: 4, arbitrary: arbMemB },
  ];
  if (opts.ldAbs) {
    parts.push({
      weight: 3,
      arbitrary: fc.record({
        k: fc.constant('ldabs' as const),
        ind: fc.boolean(),
        sz: fc.constantFrom(BPF_W, BPF_H, BPF_B),
        // Offsets stay clear of the kernel's special negative ranges SKF_NET_OFF (-0x100000) and SKF_LL_OFF
        // (-0x200000), also for LD_IND's 32-bit sum, so every read is either in the packet or plainly outside.
        imm: fc.oneof(
          { weight: 6, arbitrary: fc.integer({ min: 0, max: 46 }) },
          { weight: 1, arbitrary: fc.integer({ min: -2, max: 60 }) },
          { weight: 1, arbitrary: fc.integer({ min: 0x100, max: 0x7fd00000 }) },
          { weight: 1, arbitrary: fc.constantFrom(-1, -64, 0x7fffffff) },
        ),
        s: nat,
        idx: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: -4, max: 30 }) }, { weight: 1, arbitrary: fc.constantFrom(-100, 0x40000000, 0x7fffffff) }),
        re: arbReinit,
      }),
    });
  }
  if (opts.calls) {
    parts.push({ weight: 1, arbitrary: fc.record({ k: fc.constant('call' as const), id: fc.constantFrom(5, 7, 8), re: arbReinit }) });
  }
  if (opts.mayGoto) parts.push({ weight: 1, arbitrary: fc.record({ k: fc.constant('maygoto' as const), pick: nat }) });
  return fc.oneof(...parts);
}

function arbBodyOp(opts: KernelGenOptions): fc.Arbitrary<BodyOp> {
  const simple = arbSimple(opts);
  return fc.oneof(
    { weight: 12, arbitrary: simple },
    { weight: 2, arbitrary: arbJcc.chain((j) => nat.map((pick) => ({ k: 'jcc' as const, ...j, pick }))) },
    {
      weight: 1,
      arbitrary: fc
        .record({ j: arbJcc, gotol: fc.boolean(), then: fc.array(simple, { maxLength: 4 }), els: fc.array(simple, { maxLength: 4 }) })
        .map(({ j, gotol, then, els }) => ({ k: 'diamond' as const, ...j, gotol, then, els })),
    },
  );
}

type RegInit = { kind: 'mov64' | 'mov32'; imm: number } | { kind: 'lddw'; v: bigint };
const arbRegInit: fc.Arbitrary<RegInit> = fc.oneof(
  fc.record({ kind: fc.constant('mov64' as const), imm: arbS32 }),
  fc.record({ kind: fc.constant('mov32' as const), imm: arbS32 }),
  fc.record({ kind: fc.constant('lddw' as const), v: arbU64 }),
);

export interface KernelProgramSpec {
  init: RegInit[];
  /** Stack slots as positive multiples of 8 (slot k is r10 - 8k .. r10 - 8k + 7). */
  slots: number[];
  slotInit: { fromReg: boolean; r: number; imm: number }[];
  body: BodyOp[];
  fold: boolean;
}

export function arbKernelSpec(opts: KernelGenOptions = {}): fc.Arbitrary<KernelProgramSpec> {
  return fc.record({
    init: fc.array(arbRegInit, { minLength: 10, maxLength: 10 }),
    slots: fc.uniqueArray(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 6 }),
    slotInit: fc.array(fc.record({ fromReg: fc.boolean(), r: nat, imm: arbS32 }), { minLength: 6, maxLength: 6 }),
    body: fc.array(arbBodyOp(opts), { minLength: 1, maxLength: opts.maxBody ?? 30 }),
    fold: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  });
}

/** An item of the laid-out program: one instruction, maybe a jump whose target is an item index. */
interface Item {
  insn: Insn;
  field?: 'off' | 'imm';
  /** Target item index (resolved: absolute). */
  to?: number;
  /** Unresolved random forward jump: pick among the following items up to the epilogue. */
  pick?: number;
}

const WIDTH_SIZES: Record<number, number> = { [BPF_B]: 1, [BPF_H]: 2, [BPF_W]: 4, [BPF_DW]: 8 };

/** Lays out a kernel-verifiable program from its spec. */
export function buildKernelProgram(spec: KernelProgramSpec, opts: KernelGenOptions = {}): GenProgram {
  const regs = opts.ldAbs ? [0, 1, 2, 3, 4, 5, 7, 8, 9] : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const R = (n: number): number => regs[n % regs.length]!;
  const slots = spec.slots.map((k) => -8 * k);
  const items: Item[] = [];
  const emit = (insn: Insn, extra: Omit<Item, 'insn'> = {}): number => items.push({ insn, ...extra }) - 1;

  if (opts.ldAbs) emit(mkInsn(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1)); // r6 = ctx
  // Registers.
  spec.init.forEach((ri, r) => {
    if (opts.ldAbs && r === 6) return;
    if (ri.kind === 'lddw') emit(lddwInsn(r, ri.v));
    else emit(mkInsn((ri.kind === 'mov64' ? BPF_ALU64 : BPF_ALU) | BPF_MOV | BPF_K, r, 0, 0, ri.imm));
  });
  // Stack slots.
  slots.forEach((off, k) => {
    const si = spec.slotInit[k % spec.slotInit.length]!;
    if (si.fromReg) emit(mkInsn(BPF_STX | BPF_MEM | BPF_DW, 10, R(si.r), off));
    else emit(mkInsn(BPF_ST | BPF_MEM | BPF_DW, 10, 0, off, si.imm));
  });

  const memOff = (slot: number, sub: number, size: number): number => slots[slot % slots.length]! + size * (sub % (8 / size));

  const reinit = (vals: number[]): void => {
    for (let r = 1; r <= 5; r++) emit(mkInsn(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, vals[r - 1]!));
  };

  const jccInsn = (j: { c: number; op: number; x: boolean; d: number; s: number; imm: number }): Insn =>
    j.x ? mkInsn(j.c | j.op | BPF_X, R(j.d), R(j.s)) : mkInsn(j.c | j.op | BPF_K, R(j.d), 0, 0, j.imm);

  const simple = (o: BodyOp): void => {
    switch (o.k) {
      case 'alu': {
        const d = R(o.d);
        const s = R(o.s);
        const w = o.c === BPF_ALU64 ? 64 : 32;
        switch (o.op) {
          case 0x80:
            emit(mkInsn(o.c | BPF_NEG, d));
            return;
          case 0xd0: {
            const width = [16, 32, 64][o.v % 3]!;
            if (o.c === BPF_ALU64) emit(mkInsn(BPF_ALU64 | BPF_END | BPF_TO_LE, d, 0, 0, width));
            else emit(mkInsn(BPF_ALU | BPF_END | (o.x ? BPF_TO_BE : BPF_TO_LE), d, 0, 0, width));
            return;
          }
          case 0xb0: {
            if (!o.x) {
              emit(mkInsn(o.c | BPF_MOV | BPF_K, d, 0, 0, o.imm));
              return;
            }
            const offs = o.c === BPF_ALU64 ? [0, 8, 16, 32] : [0, 8, 16];
            emit(mkInsn(o.c | BPF_MOV | BPF_X, d, s, offs[o.v % offs.length]!));
            return;
          }
          case 0x30:
          case 0x90: {
            const off = o.v % 2;
            if (o.x) emit(mkInsn(o.c | o.op | BPF_X, d, s, off));
            else emit(mkInsn(o.c | o.op | BPF_K, d, 0, off, o.imm === 0 ? -1 : o.imm));
            return;
          }
          case 0x60:
          case 0x70:
          case 0xc0:
            if (o.x) emit(mkInsn(o.c | o.op | BPF_X, d, s));
            else emit(mkInsn(o.c | o.op | BPF_K, d, 0, 0, (o.imm >>> 0) % w)); // constant shifts must be < width
            return;
          default:
            if (o.x) emit(mkInsn(o.c | o.op | BPF_X, d, s));
            else emit(mkInsn(o.c | o.op | BPF_K, d, 0, 0, o.imm));
            return;
        }
      }
      case 'lddw':
        emit(lddwInsn(R(o.d), o.v));
        return;
      case 'st': {
        const off = memOff(o.slot, o.sub, WIDTH_SIZES[o.sz]!);
        if (o.x) emit(mkInsn(BPF_STX | BPF_MEM | o.sz, 10, R(o.s), off));
        else emit(mkInsn(BPF_ST | BPF_MEM | o.sz, 10, 0, off, o.imm));
        return;
      }
      case 'ld': {
        const sx = o.sx && o.sz !== BPF_DW;
        emit(mkInsn(BPF_LDX | (sx ? BPF_MEMSX : BPF_MEM) | o.sz, R(o.d), 10, memOff(o.slot, o.sub, WIDTH_SIZES[o.sz]!)));
        return;
      }
      case 'atomic': {
        const sz = o.dw ? BPF_DW : BPF_W;
        emit(mkInsn(BPF_STX | BPF_ATOMIC | sz, 10, R(o.s), memOff(o.slot, o.sub, o.dw ? 8 : 4), o.a));
        return;
      }
      case 'ldabs': {
        if (o.ind) {
          const s = R(o.s);
          emit(mkInsn(BPF_ALU64 | BPF_MOV | BPF_K, s, 0, 0, o.idx));
          emit(mkInsn(BPF_LD | BPF_IND | o.sz, 0, s, 0, o.imm));
        } else emit(mkInsn(BPF_LD | BPF_ABS | o.sz, 0, 0, 0, o.imm));
        reinit(o.re); // LD_ABS/LD_IND clobber r1-r5
        return;
      }
      case 'call':
        emit(mkInsn(BPF_JMP | BPF_CALL, 0, 0, 0, o.id));
        reinit(o.re); // calls clobber r1-r5
        return;
      case 'maygoto':
        emit(mkInsn(BPF_JMP | BPF_JCOND), { field: 'off', pick: o.pick });
        return;
      default:
        throw new Error(`not a simple op: ${o.k}`);
    }
  };

  for (const o of spec.body) {
    if (o.k === 'jcc') {
      emit(jccInsn(o), { field: 'off', pick: o.pick });
    } else if (o.k === 'diamond') {
      // if cond goto ELSE; THEN...; goto END; ELSE: ...; END:
      const j = emit(jccInsn(o), { field: 'off' });
      o.then.forEach(simple);
      const g = emit(o.gotol ? mkInsn(BPF_JMP32 | BPF_JA) : mkInsn(BPF_JMP | BPF_JA), { field: o.gotol ? 'imm' : 'off' });
      items[j]!.to = items.length;
      o.els.forEach(simple);
      items[g]!.to = items.length;
    } else simple(o);
  }

  // Epilogue: fold registers and slots into r0, maybe take the high half, exit.
  const epilogue = items.length;
  if (spec.fold) {
    for (const r of regs) {
      if (r === 0) continue;
      emit(mkInsn(BPF_ALU64 | BPF_MUL | BPF_K, 0, 0, 0, 0x01000193));
      emit(mkInsn(BPF_ALU64 | BPF_XOR | BPF_X, 0, r));
    }
    for (const off of slots) {
      emit(mkInsn(BPF_LDX | BPF_MEM | BPF_DW, 1, 10, off));
      emit(mkInsn(BPF_ALU64 | BPF_MUL | BPF_K, 0, 0, 0, 0x01000193));
      emit(mkInsn(BPF_ALU64 | BPF_XOR | BPF_X, 0, 1));
    }
  }
  if (opts.highHalf) emit(mkInsn(BPF_ALU64 | BPF_RSH | BPF_K, 0, 0, 0, 32));
  emit(mkInsn(BPF_JMP | BPF_EXIT));

  // Resolve jumps: random ones go forward to an item in (i, epilogue], diamonds to their labels.
  const insns = renumber(items.map((it) => it.insn));
  items.forEach((it, i) => {
    if (it.field === undefined) return;
    let to = it.to;
    if (to === undefined) {
      const span = Math.max(1, Math.min(10, epilogue - i));
      to = i + 1 + ((it.pick ?? 0) % span);
    }
    const rel = insns[to]!.pc - it.insn.pc - 1;
    if (it.field === 'off') it.insn.off = rel;
    else it.insn.imm = rel;
  });
  return { insns, code: encode(insns) };
}

/** Kernel-verifiable programs with a deterministic result (see the file header). */
export function arbKernelProgram(opts: KernelGenOptions = {}): fc.Arbitrary<GenProgram & { spec: KernelProgramSpec }> {
  return arbKernelSpec(opts).map((spec) => ({ ...buildKernelProgram(spec, opts), spec }));
}

/** Both variants of one spec: `lo` returns r0 (truncated to u32 by the kernel), `hi` returns r0 >> 32. */
export function kernelVariants(spec: KernelProgramSpec, opts: KernelGenOptions = {}): { lo: GenProgram; hi: GenProgram } {
  return { lo: buildKernelProgram(spec, { ...opts, highHalf: false }), hi: buildKernelProgram(spec, { ...opts, highHalf: true }) };
}
