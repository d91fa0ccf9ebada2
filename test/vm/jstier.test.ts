// The JavaScript tier against the interpreter: the interpreter's whole unit suite re-run on the JS tier, the
// benchmark programs, budget exhaustion at every point, and differential property tests over random
// programs (every instruction form; kernel-style straight-line and branching code; and runnable programs
// with bounded loops, bpf-to-bpf calls, callbacks, tail calls, helpers, hooked/read-only/stack memory and
// deliberately faulting accesses) comparing r0, instruction counts, registers, every byte of memory, helper
// calls and faults (class, pc, message).
//
// Reproduce a property failure with the seed and path fast-check prints.

import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpCases } from '../../bench/interp.js';
import { packageRoot } from '../../bench/lib.js';
import { assemble } from '../../vm/asm.js';
import { BpfExecutionError } from '../../vm/errors.js';
import { BPF_FUNC_tail_call, JS_AUTO_RUNS, Vm, type BoundProgram, type LddwResolver, type Tier } from '../../vm/interpreter.js';
import {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_B, BPF_CALL, BPF_DW, BPF_END, BPF_EXIT, BPF_H, BPF_IND, BPF_JA,
  BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_K, BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_MOV, BPF_NEG, BPF_ST, BPF_STX,
  BPF_TO_BE, BPF_TO_LE, BPF_W, BPF_X, LDDW, encode, renumber, type Insn,
} from '../../vm/isa.js';
import { REGION_HI_BASE, type Region } from '../../vm/memory.js';
import { ATOMIC_VARIANTS } from '../../vm/program.js';
import { FELL_OFF, jsSource, jsTierConfig } from '../../vm/jstier.js';
import { BINARY_ALU_OPS, DIVMOD_OPS, JMP_COND_OPS, arbAnyProgram, arbKernelProgram, arbS32, arbU64, lddwInsn, mkInsn } from './gen.js';

// ---------------------------------------------------------------------------------------------------------
// The interpreter's unit suite, every case on the JS tier (VMs created without a tier use Vm.defaultTier).

Vm.defaultTier = 'js';
describe('the interpreter suite on the JS tier', async () => {
  await import('./interpreter.test.js');
});

// ---------------------------------------------------------------------------------------------------------
// A differential harness: the same setup on two VMs, one per tier.

const BUF_LEN = 64;
const CTX_LEN = 16;
const RO_LEN = 16;
/** Region ids in every harness VM: 8 stacks (0-7), the code object (8), then these, in mapping order. */
const ID = { buf: 9, ctx: 10, ro: 11, progArray: 12 } as const;
const PACKET = new Uint8Array(40).map((_, i) => (i * 37 + 11) & 0xff);

interface Outcome {
  r0?: bigint;
  insns?: number;
  ldAbsAbort?: boolean;
  budgetLeft?: number;
  error?: { name: string; pc?: number; message: string };
  regs: number[];
  memory: number[];
  calls: string[];
  compiled: boolean;
}

interface Setup {
  code: Uint8Array;
  /** Program a tail call through the prog array's slot 0 lands in (slot 1 is empty). */
  tailTarget?: Uint8Array;
  budget: number;
  args?: bigint[];
}

function harnessVm(tier: Tier, budget: number, calls: string[]): { vm: Vm; buf: Region; ctx: Region; ro: Region; progArray: Region; resolver: LddwResolver } {
  const vm = new Vm({ tier, budget });
  const buf = vm.space.map('buf', 'memory', new Uint8Array(BUF_LEN).map((_, i) => (i * 29 + 3) & 0xff), true);
  const ctxBytes = new Uint8Array(CTX_LEN).map((_, i) => i + 0x40);
  const ctx = vm.space.map('ctx', 'ctx', ctxBytes, true);
  // A context whose u32 loads are synthesised (like a rewritten ctx->data) and whose stores at 8 and above
  // are consumed; other accesses fall through to its bytes.
  ctx.load = (off, size, out) => {
    if (size !== 4) return false;
    out[0] = Math.imul(off + 1, 0x1000193) ^ 0x5a5a5a5a;
    out[1] = off & 1 ? -1 : 0;
    return true;
  };
  ctx.store = (off, size, lo) => {
    if (off < 8) return false;
    ctxBytes[12] = (ctxBytes[12]! + size + lo) & 0xff;
    return true;
  };
  const ro = vm.space.map('ro', 'rodata', new Uint8Array(RO_LEN).map((_, i) => 0xa0 + i), false);
  const progArray = vm.space.mapObject('prog_array', { kind: 'prog_array' });
  expect([buf.id, ctx.id, ro.id, progArray.id]).toEqual([ID.buf, ID.ctx, ID.ro, ID.progArray]);
  vm.setLdAbsPacket(PACKET, 14, 14);
  const log = (id: number, pc: number): void => {
    calls.push(`${id}@${pc}(${[1, 2, 3, 4, 5].map((r) => vm.reg(r).toString(16)).join(',')}) left=${vm.budgetLeft}`);
  };
  vm.helpers[1] = (v, pc) => {
    log(1, pc);
    v.setR0Big(v.reg(1) + v.reg(2));
  };
  vm.helpers[2] = (v, pc) => {
    log(2, pc);
    const b = v.space.read(pc, v.lo[1]!, v.hi[1]!, 4); // faults like a load
    v.setR0Int(b[0]! | (b[3]! << 8));
  };
  vm.helpers[3] = (v, pc) => {
    log(3, pc);
    v.setR0Int(7);
    if ((v.lo[1]! & 1) !== 0) v.stop();
  };
  vm.helpers[4] = (v, pc) => {
    // bpf_loop-like: calls the function at r1 (r2 & 3) times with the index in r1; r0 = sum of results.
    log(4, pc);
    const fn = { lo: v.lo[1]!, hi: v.hi[1]! };
    const n = v.lo[2]! & 3;
    let sum = 0n;
    for (let i = 0; i < n; i++) sum += v.callback(pc, fn, [BigInt(i), v.reg(3)]);
    v.setR0Big(BigInt.asUintN(64, sum));
  };
  vm.helpers[5] = (v, pc) => {
    // Clobbers r1-r5 like the kernel's calling convention allows.
    log(5, pc);
    for (let r = 1; r <= 5; r++) v.setReg(r, BigInt(pc * 0x1000193 + r) * 0x9e3779b97f4a7c15n);
    v.setR0Int(pc);
  };
  vm.helpers[6] = (v, pc) => {
    // Misbehaves: moves r10 (the JS tier must notice that r10 is no longer the frame pointer).
    log(6, pc);
    v.lo[10] = (v.lo[10]! - 8) | 0;
    v.setR0Int(6);
  };
  vm.helpers[7] = (v, pc) => {
    log(7, pc);
    v.setR0Int(v.budgetLeft);
  };
  vm.helpers[8] = (v, pc) => {
    log(8, pc);
    if ((v.lo[1]! & 3) === 0) throw new BpfExecutionError(pc, 'helper 8 failed');
    v.setR0Int(8);
  };
  const resolver: LddwResolver = {
    mapObject: () => progArray,
    mapValue: (_src, _imm, off) => ({ region: buf, offset: off & 63 }),
  };
  return { vm, buf, ctx, ro, progArray, resolver };
}

function runOn(tier: Tier, s: Setup): Outcome | 'load-error' {
  const calls: string[] = [];
  const { vm, buf, ctx, ro, progArray, resolver } = harnessVm(tier, s.budget, calls);
  let prog: BoundProgram;
  let target: BoundProgram | null = null;
  try {
    prog = vm.load(s.code, resolver, 'main');
    if (s.tailTarget) target = vm.load(s.tailTarget, resolver, 'target');
  } catch {
    return 'load-error';
  }
  vm.tailCallTarget = (m, idx) => (m === progArray.object && idx === 0 ? target : null);
  const out: Outcome = { regs: [], memory: [], calls, compiled: false };
  try {
    const r = vm.run(prog, s.args ?? [buf.address(0), ctx.address(0), ro.address(0)]);
    out.r0 = r.r0;
    out.insns = r.insns;
    out.ldAbsAbort = r.ldAbsAbort;
    out.budgetLeft = vm.budgetLeft;
  } catch (e) {
    const err = e as Error & { pc?: number };
    out.error = { name: err.name, pc: err.pc, message: err.message };
  }
  out.regs = [...vm.lo, ...vm.hi];
  for (const r of [buf, ctx, ro, ...vm.stacks]) out.memory.push(...r.bytes);
  out.compiled = prog.js !== null && prog.js !== false;
  return out;
}

/** Runs both tiers and expects identical outcomes; returns the JS tier's. */
function same(s: Setup): Outcome | null {
  const a = runOn('interp', s);
  const b = runOn('js', s);
  if (a === 'load-error' || b === 'load-error') {
    expect(b).toEqual(a);
    return null;
  }
  expect(b.compiled).toBe(true);
  b.compiled = false;
  expect(b).toEqual(a);
  return b;
}

// ---------------------------------------------------------------------------------------------------------
// A generator of runnable programs.

type Item = { insn: Insn; to?: string; field?: 'off' | 'imm'; label?: string };

/** Raw random choices; laid out by `layout` into instructions. */
type Op =
  | { k: 'alu'; c: number; op: number; x: boolean; d: number; s: number; imm: number; v: number }
  | { k: 'lddw'; d: number; v: bigint }
  | { k: 'mem'; kind: 'ld' | 'st' | 'stx' | 'atomic'; d: number; base: number; region: number; roff: number; sz: number; sx: boolean; off: number; s: number; imm: number; a: number }
  | { k: 'ldabs'; ind: boolean; sz: number; s: number; imm: number }
  | { k: 'helper'; id: number; r1: number; fn: number; r2: number }
  | { k: 'jcc'; c: number; op: number; x: boolean; d: number; s: number; imm: number; pick: number }
  | { k: 'exitIf'; d: number; imm: number }
  | { k: 'loop'; n: number; body: Op[] }
  | { k: 'maygoto'; body: Op[] }
  | { k: 'call'; fn: number }
  | { k: 'tail'; idx: number }
  | { k: 'r10write' };

const DST = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const nat = fc.nat();
const arbDst = fc.constantFrom(...DST);
const arbSrc = fc.integer({ min: 0, max: 10 });

const arbAlu: fc.Arbitrary<Op> = fc.record({
  k: fc.constant('alu' as const),
  c: fc.constantFrom(BPF_ALU, BPF_ALU64),
  op: fc.constantFrom(...BINARY_ALU_OPS, ...DIVMOD_OPS, BPF_MOV, BPF_NEG, BPF_END),
  x: fc.boolean(),
  d: arbDst,
  s: arbSrc,
  imm: arbS32,
  v: nat,
});

/** Region offsets for pointers: inside, at the edges, just outside, far outside. */
const arbRoff = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 20 }) },
  { weight: 2, arbitrary: fc.integer({ min: 40, max: 72 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, -8, 0x7fffffff, 0xfffffff8 | 0, 512, 504, 511, 513) },
);

const arbMem: fc.Arbitrary<Op> = fc.record({
  k: fc.constant('mem' as const),
  kind: fc.constantFrom('ld' as const, 'st' as const, 'stx' as const, 'atomic' as const),
  d: arbDst,
  // base: 10 = r10 directly; otherwise a pointer made by lddw into register 0..8
  base: fc.oneof({ weight: 3, arbitrary: fc.constant(10) }, { weight: 4, arbitrary: arbDst }),
  // region for lddw pointers: buf, ctx, ro, stack 0, stack 1, the code object, none (0), unmapped id
  region: fc.constantFrom(ID.buf, ID.buf, ID.ctx, ID.ro, 0, 1, 8, -1, 40),
  roff: arbRoff,
  sz: fc.constantFrom(BPF_W, BPF_H, BPF_B, BPF_DW),
  sx: fc.boolean(),
  off: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: -64, max: 16 }) },
    { weight: 1, arbitrary: fc.constantFrom(-512, -513, -520, -8, 0, 1, 8, 504, -32768, 32767) },
  ),
  s: arbSrc,
  imm: arbS32,
  a: fc.constantFrom(...ATOMIC_VARIANTS),
});

const arbSimple: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: arbAlu },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('lddw' as const), d: arbDst, v: arbU64 }) },
  { weight: 6, arbitrary: arbMem },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('ldabs' as const),
      ind: fc.boolean(),
      sz: fc.constantFrom(BPF_W, BPF_H, BPF_B),
      s: arbDst,
      imm: fc.oneof(fc.integer({ min: -2, max: 40 }), fc.constantFrom(-0x100000, -0x100000 + 3, -0x200000, -0x200000 + 30, -0x200001)),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('helper' as const), id: fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 8, 99), r1: arbS32, fn: nat, r2: arbS32 }),
  },
);

function arbOps(depth: number): fc.Arbitrary<Op[]> {
  const parts: fc.WeightedArbitrary<Op>[] = [
    { weight: 140, arbitrary: arbSimple },
    {
      weight: 30,
      arbitrary: fc.record({
        k: fc.constant('jcc' as const),
        c: fc.constantFrom(BPF_JMP, BPF_JMP32),
        op: fc.constantFrom(...JMP_COND_OPS),
        x: fc.boolean(),
        d: arbDst,
        s: arbSrc,
        imm: arbS32,
        pick: nat,
      }),
    },
    { weight: 10, arbitrary: fc.record({ k: fc.constant('exitIf' as const), d: arbDst, imm: fc.integer({ min: -2, max: 2 }) }) },
    { weight: 20, arbitrary: fc.record({ k: fc.constant('call' as const), fn: nat }) },
    { weight: 10, arbitrary: fc.record({ k: fc.constant('tail' as const), idx: fc.constantFrom(0, 0, 1) }) },
    { weight: 2, arbitrary: fc.constant({ k: 'r10write' as const }) },
  ];
  if (depth > 0) {
    parts.push({ weight: 20, arbitrary: fc.record({ k: fc.constant('loop' as const), n: fc.integer({ min: 1, max: 6 }), body: arbOps(depth - 1) }) });
    parts.push({ weight: 3, arbitrary: fc.record({ k: fc.constant('maygoto' as const), body: fc.array(arbSimple, { maxLength: 3 }) }) });
  }
  return fc.array(fc.oneof(...parts), { maxLength: depth > 0 ? 24 : 6 });
}

interface RunnableSpec {
  init: bigint[];
  main: Op[];
  subs: Op[][];
}

const arbRunnableSpec: fc.Arbitrary<RunnableSpec> = fc.record({
  init: fc.array(arbU64, { minLength: 9, maxLength: 9 }),
  main: arbOps(1),
  subs: fc.array(arbOps(0), { maxLength: 3 }),
});

/** Lays out a runnable program: main, then each subprogram. Subprogram k may only call k+1 or itself. */
function layoutRunnable(spec: RunnableSpec): Uint8Array {
  const items: Item[] = [];
  let labels = 0;
  const fresh = (): string => `L${labels++}`;
  /** Labels wait for the next instruction. */
  const pending: string[] = [];
  const label = (name: string): void => {
    pending.push(name);
  };
  const push = (insn: Insn, extra: Omit<Item, 'insn'> = {}): void => {
    const it: Item = { insn, ...extra };
    if (pending.length > 0) it.label = pending.splice(0).join(',');
    items.push(it);
  };
  const nSubs = spec.subs.length;

  const simple = (o: Op, fnIndex: number, end: string): void => {
    switch (o.k) {
      case 'alu': {
        if (o.op === BPF_NEG) return push(mkInsn(o.c | BPF_NEG, o.d));
        if (o.op === BPF_END) {
          const width = [16, 32, 64][o.v % 3]!;
          if (o.c === BPF_ALU64) return push(mkInsn(BPF_ALU64 | BPF_END | BPF_TO_LE, o.d, 0, 0, width));
          return push(mkInsn(BPF_ALU | BPF_END | (o.x ? BPF_TO_BE : BPF_TO_LE), o.d, 0, 0, width));
        }
        if (o.op === BPF_MOV) {
          if (!o.x) return push(mkInsn(o.c | BPF_MOV | BPF_K, o.d, 0, 0, o.imm));
          const offs = o.c === BPF_ALU64 ? [0, 8, 16, 32] : [0, 8, 16];
          return push(mkInsn(o.c | BPF_MOV | BPF_X, o.d, o.s, offs[o.v % offs.length]!));
        }
        const off = o.op === 0x30 || o.op === 0x90 ? o.v % 2 : 0;
        // Constant shifts at or above the width are kept: both tiers mask them the same way.
        if (o.x) return push(mkInsn(o.c | o.op | BPF_X, o.d, o.s, off));
        return push(mkInsn(o.c | o.op | BPF_K, o.d, 0, off, o.imm));
      }
      case 'lddw':
        return push(lddwInsn(o.d, o.v));
      case 'mem': {
        const base = o.base;
        if (base !== 10) {
          const hiWord = o.region < 0 ? 0 : REGION_HI_BASE + o.region;
          push(lddwInsn(base, (BigInt(hiWord) << 32n) | BigInt(o.roff >>> 0)));
        }
        const size = { [BPF_W]: 4, [BPF_H]: 2, [BPF_B]: 1, [BPF_DW]: 8 }[o.sz]!;
        // Mostly aligned offsets that stay inside the frame for r10, so the stack fast path is exercised.
        const off = base === 10 && o.off > -512 && o.off < 0 ? -size * Math.ceil(-o.off / size) : o.off;
        switch (o.kind) {
          case 'ld':
            return push(mkInsn(BPF_LDX | (o.sx && o.sz !== BPF_DW ? BPF_MEMSX : BPF_MEM) | o.sz, o.d, base, off));
          case 'st':
            return push(mkInsn(BPF_ST | BPF_MEM | o.sz, base, 0, off, o.imm));
          case 'stx':
            return push(mkInsn(BPF_STX | BPF_MEM | o.sz, base, o.s, off));
          case 'atomic':
            return push(mkInsn(BPF_STX | BPF_ATOMIC | (o.sz === BPF_DW ? BPF_DW : BPF_W), base, o.s === 10 ? 0 : o.s, off, o.a));
        }
        return;
      }
      case 'ldabs':
        if (o.ind) return push(mkInsn(BPF_LD | BPF_IND | o.sz, 0, o.s, 0, o.imm));
        return push(mkInsn(BPF_LD | BPF_ABS | o.sz, 0, 0, 0, o.imm));
      case 'helper': {
        if (o.id === 4) {
          // r1 = address of a subprogram, r2 = count, r3 = anything
          if (nSubs === 0) return;
          push(mkInsn(LDDW, 1, 4, 0, 0, 0), { to: `F${o.fn % nSubs}`, field: 'imm' });
          push(mkInsn(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, o.r2));
        } else push(mkInsn(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, o.r1));
        return push(mkInsn(BPF_JMP | BPF_CALL, 0, 0, 0, o.id));
      }
      case 'r10write':
        return push(mkInsn(BPF_ALU64 | BPF_ADD | BPF_K, 10, 0, 0, -8));
      case 'jcc': {
        const insn = o.x ? mkInsn(o.c | o.op | BPF_X, o.d, o.s) : mkInsn(o.c | o.op | BPF_K, o.d, 0, 0, o.imm);
        return push(insn, { to: `pick:${o.pick}:${end}`, field: 'off' });
      }
      case 'exitIf':
        return push(mkInsn(BPF_JMP | 0x10 | BPF_K, o.d, 0, 0, o.imm), { to: end, field: 'off' });
      case 'call': {
        // main calls any subprogram; subprogram k calls k+1 (deeper) or itself (runs out of frames).
        if (nSubs === 0) return;
        const t = fnIndex < 0 ? o.fn % nSubs : o.fn % 2 === 0 ? fnIndex : fnIndex + 1;
        if (t >= nSubs) return;
        return push(mkInsn(BPF_JMP | BPF_CALL, 0, 1, 0, 0), { to: `F${t}`, field: 'imm' });
      }
      case 'tail':
        push(mkInsn(LDDW, 2, 5, 0, 0, 0));
        push(mkInsn(BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, o.idx));
        return push(mkInsn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call));
      case 'loop': {
        // r9 = n; top: body; r9 -= 1; if r9 != 0 goto top
        const top = fresh();
        push(mkInsn(BPF_ALU64 | BPF_MOV | BPF_K, 9, 0, 0, o.n));
        label(top);
        for (const b of o.body) {
          if (b.k === 'loop' || b.k === 'maygoto') continue;
          simple(b, fnIndex, end);
        }
        push(mkInsn(BPF_ALU64 | 0x10 | BPF_K, 9, 0, 0, 1));
        return push(mkInsn(BPF_JMP | 0x50 | BPF_K, 9, 0, 0, 0), { to: top, field: 'off' });
      }
      case 'maygoto': {
        // top: may_goto out; body; goto top; out:   (runs until the budget or BPF_MAX_LOOPS)
        const top = fresh();
        const out = fresh();
        label(top);
        push(mkInsn(BPF_JMP | BPF_JCOND), { to: out, field: 'off' });
        for (const b of o.body) simple(b, fnIndex, end);
        push(mkInsn(BPF_JMP | BPF_JA), { to: top, field: 'off' });
        return label(out);
      }
    }
  };

  const fn = (ops: Op[], fnIndex: number): void => {
    const end = fresh();
    for (const o of ops) simple(o, fnIndex, end);
    label(end);
    push(mkInsn(BPF_JMP | BPF_EXIT));
  };

  // main: initialise r0-r8 (r9 is the loop counter, r1 keeps the buffer argument half the time)
  spec.init.forEach((v, r) => {
    if (r === 1 && (v & 1n) === 0n) return;
    push(lddwInsn(r, r === 9 ? 0n : v));
  });
  fn(spec.main, -1);
  spec.subs.forEach((ops, k) => {
    pending.push(`F${k}`);
    fn(ops, k);
  });

  const insns = renumber(items.map((it) => it.insn));
  const at = new Map<string, number>();
  items.forEach((it, i) => {
    for (const l of (it.label ?? '').split(',')) if (l) at.set(l, i);
  });
  items.forEach((it, i) => {
    if (it.to === undefined) return;
    let to: number;
    if (it.to.startsWith('pick:')) {
      const [, pick, end] = it.to.split(':');
      const limit = at.get(end!)!;
      const span = Math.max(1, limit - i);
      to = i + 1 + (Number(pick) % span);
    } else to = at.get(it.to)!;
    const rel = insns[to]!.pc - it.insn.pc - 1;
    if (it.field === 'imm') it.insn.imm = rel;
    else it.insn.off = rel;
  });
  return encode(insns);
}

const arbBudget = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 400 }) },
  { weight: 3, arbitrary: fc.constant(100_000) },
);

// ---------------------------------------------------------------------------------------------------------

describe('JS tier: the benchmark programs', () => {
  const root = packageRoot();
  for (const c of interpCases()) {
    const code = assemble(readFileSync(join(root, 'bench', 'programs', c.program), 'utf8'));
    const args = (buf: Region): bigint[] => [buf.address(0), BigInt(c.input.length)];
    const runTier = (tier: Tier, budget?: number): { r0?: bigint; insns?: number; err?: string; pc?: number } => {
      const vm = new Vm({ tier, budget });
      const buf = vm.space.map('input', 'memory', c.input.slice(), true);
      const p = vm.load(code, undefined, c.name);
      try {
        const r = vm.run(p, args(buf));
        return { r0: r.r0, insns: r.insns };
      } catch (e) {
        return { err: `${(e as Error).name}: ${(e as Error).message}`, pc: (e as { pc?: number }).pc };
      }
    };
    it(`${c.name}: same r0 and instruction count on both tiers`, () => {
      const a = runTier('interp');
      const b = runTier('js');
      expect(a.err).toBeUndefined();
      expect(b).toEqual(a);
    });
    it(`${c.name}: budget exhaustion at the same pc and count for every budget near the end and a sample before`, () => {
      const full = runTier('interp').insns!;
      const budgets = new Set<number>();
      for (let b = 1; b <= Math.min(full, 80); b++) budgets.add(b);
      for (let b = full - 40; b <= full + 2; b++) if (b > 0) budgets.add(b);
      for (let k = 1; k < 40; k++) budgets.add(Math.floor((full * k) / 40));
      for (const b of budgets) {
        const x = runTier('interp', b);
        const y = runTier('js', b);
        expect(y, `budget ${b}`).toEqual(x);
        if (b < full) expect(x.err).toBe(`BpfBudgetExceeded: pc ${x.pc}: instruction budget of ${b} exhausted`);
      }
    });
  }
});

describe('JS tier: unit cases', () => {
  it('the generated code has one commented line per instruction', () => {
    const vm = new Vm({ tier: 'js' });
    const p = vm.load(assemble('r0 = 1\nr1 = 0x123456789\nif r0 > r1 goto out\nr0 += 2\nout:\nexit'));
    const src = jsSource(p);
    expect(src).toContain('/* 0: r0 = 1 */');
    expect(src).toContain('/* 1: r1 = 0x123456789 */');
    expect(src).toContain('/* 3: if r0 > r1 goto pc+1 */');
    expect(src).toContain('/* 5: exit */');
    expect(vm.run(p).r0).toBe(3n);
  });
  it('a large program is split into chunks that V8 can optimise, with the same results', () => {
    let src = 'r0 = 0\nr4 = 0\nloop:\nif r4 >= r2 goto out\n';
    for (let k = 0; k < 120; k++) src += `r5 = r1\nr5 += r4\nr6 = *(u8 *)(r5 +0)\nr0 ^= r6\nr0 *= 31\nif r6 > ${k} goto s${k}\nr0 += ${k}\ns${k}:\nr4 += 1\nif r4 >= r2 goto out\n`;
    src += 'goto loop\nout:\nexit\n';
    const input = new Uint8Array(1000).map((_, i) => (i * 7919) & 0xff);
    const out = (['interp', 'js'] as const).map((tier) => {
      const vm = new Vm({ tier });
      const p = vm.load(assemble(src));
      const mem = vm.space.map('input', 'memory', input, true);
      const r = vm.run(p, [mem.address(0), BigInt(input.length)]);
      return { r0: r.r0, insns: r.insns, chunks: p.js ? p.js.chunks.length : 0 };
    });
    expect(out[1]!.chunks).toBeGreaterThan(2);
    expect({ ...out[1], chunks: 0 }).toEqual(out[0]);
  });
  it('long straight-line code is cut into blocks; budgets ending anywhere in it agree', () => {
    const ops = ['w1 += w2', 'r2 ^= r3', 'w3 = w1', 'r0 += r1', 'w2 ^= 5', 'r3 |= r0', 'r0 *= 7', 'r0 -= 3', 'r1 = 0x123456789'];
    let src = 'r1 = 1\nr2 = 2\nr3 = 3\n';
    for (let k = 0; k < 400; k++) src += ops[k % ops.length] + '\n';
    src += '*(u64 *)(r10 -8) = r0\nr0 = *(u32 *)(r10 -4)\nexit\n';
    const code = assemble(src);
    const budgets = [1, 2, 3, 4, 127, 128, 129, 130, 131, 132, 255, 256, 257, 258, 259, 260, 384, 385, 386, 387, 388, 400, 403, 404, 405, 406, 407, 500];
    for (let b = 5; b < 410; b += 11) budgets.push(b);
    for (const budget of budgets) {
      const r = (['interp', 'js'] as const).map((tier) => {
        const vm = new Vm({ tier, budget });
        try {
          const x = vm.run(vm.load(code));
          return `${x.r0} ${x.insns}`;
        } catch (e) {
          return (e as Error).message;
        }
      });
      expect(r[1], `budget ${budget}`).toBe(r[0]);
    }
  });
  it("'auto' compiles a program once it has run JS_AUTO_RUNS times", () => {
    const vm = new Vm({ tier: 'auto' });
    const p = vm.load(assemble('r0 = r1\nr0 *= 3\nexit'));
    for (let k = 0; k < JS_AUTO_RUNS; k++) expect(vm.run(p, [BigInt(k)]).r0).toBe(BigInt(3 * k));
    expect(p.js).toBe(null);
    expect(vm.run(p, [5n]).r0).toBe(15n);
    expect(p.js).not.toBe(null);
    expect(vm.run(p, [6n]).r0).toBe(18n);
    expect(new Vm().tier).toBe('js'); // this file sets Vm.defaultTier for the interpreter suite above
  });
  it("'auto' compiles a program early when it runs many instructions", () => {
    const vm = new Vm({ tier: 'auto' });
    const p = vm.load(assemble('r0 = 0\nr1 = 300000\nloop:\nr0 += 1\nr1 -= 1\nif r1 != 0 goto loop\nexit'));
    expect(vm.run(p).r0).toBe(300000n);
    expect(vm.run(p).r0).toBe(300000n);
    expect(p.js).not.toBe(null);
  });
  it('running past the last instruction is a typed error on both tiers', () => {
    for (const tier of ['interp', 'js'] as const) {
      const vm = new Vm({ tier });
      expect(() => vm.run(vm.load(assemble('r0 = 1')))).toThrow(FELL_OFF);
      expect(() => vm.run(vm.load(assemble('r0 = 1\ngoto m\nf:\nexit\nm:\ncall f')))).toThrow(/pc 4: fell off the end/);
    }
  });
  it('a subprogram that tail-calls returns into its caller in the first program', () => {
    const res = ['interp', 'js'].map((tier) => {
      const vm = new Vm({ tier: tier as Tier });
      const progArray = vm.space.mapObject('prog_array', {});
      const resolver = { mapObject: () => progArray, mapValue: () => { throw new Error('no'); } };
      const b = vm.load(assemble('r0 = *(u64 *)(r10 -8)\nr0 += 1000\nexit'), resolver, 'b');
      vm.tailCallTarget = () => b;
      const a = vm.load(
        assemble(`
          *(u64 *)(r10 -8) = 5
          r6 = 7
          call f
          r0 += r6
          r1 = *(u64 *)(r10 -8)
          r0 += r1
          exit
        f:
          *(u64 *)(r10 -8) = 40
          r6 = 99
          r2 = map[idx:0]
          r3 = 0
          call ${BPF_FUNC_tail_call}
          r0 = 1
          exit`),
        resolver,
        'a',
      );
      const r = vm.run(a);
      return { r0: r.r0, insns: r.insns, bCompiled: b.js !== null };
    });
    expect(res[0]!.r0).toBe(1040n + 7n + 5n);
    expect(res[1]).toEqual({ ...res[0], bCompiled: true });
  });
  it('callbacks (bpf_loop-style) run compiled and see their own frame', () => {
    const out = ['interp', 'js'].map((tier) => {
      const vm = new Vm({ tier: tier as Tier });
      vm.helpers[181] = (v, pc) => {
        let s = 0n;
        for (let i = 0; i < 4; i++) s += v.callback(pc, { lo: v.lo[1]!, hi: v.hi[1]! }, [BigInt(i)]);
        v.setR0Big(s);
      };
      const p = vm.load(
        assemble(`
          *(u64 *)(r10 -8) = 100
          r1 = func[pc+7]
          r6 = 3
          call 181
          r1 = *(u64 *)(r10 -8)
          r0 += r1
          r0 += r6
          exit
          *(u64 *)(r10 -8) = r1
          r0 = *(u64 *)(r10 -8)
          r0 *= 10
          r6 = 50
          exit`),
      );
      const r = vm.run(p);
      return [r.r0, r.insns];
    });
    expect(out[0]![0]).toBe(60n + 100n + 3n);
    expect(out[1]).toEqual(out[0]);
  });
  it('a helper that moves r10 makes the JS tier hand over to the interpreter, with the same result', () => {
    const src = '*(u64 *)(r10 -8) = 11\n*(u64 *)(r10 -16) = 22\ncall 6\nr0 = *(u64 *)(r10 -8)\nexit';
    const out = (['interp', 'js'] as const).map((tier) => {
      const vm = new Vm({ tier });
      vm.helpers[6] = (v) => {
        v.lo[10] = (v.lo[10]! - 8) | 0;
      };
      return vm.run(vm.load(assemble(src))).r0;
    });
    expect(out).toEqual([22n, 22n]);
  });
  it('may_goto counters are per frame on both tiers', () => {
    const src = `
      r6 = 0
    a:
      may_goto a_out
      r6 += 1
      goto a
    a_out:
      call f
      r0 += r6
      exit
    f:
      r0 = 0
    b:
      may_goto b_out
      r0 += 1
      goto b
    b_out:
      r0 <<= 32
      exit`;
    const out = (['interp', 'js'] as const).map((tier) => {
      const vm = new Vm({ tier, budget: 60_000_000 });
      const r = vm.run(vm.load(assemble(src)));
      return [r.r0, r.insns];
    });
    const loops = 8n * 1024n * 1024n;
    expect(out[0]![0]).toBe((loops << 32n) + loops);
    expect(out[1]).toEqual(out[0]);
  });
  it('faults carry the same class, pc, address, size and message, and leave the same registers', () => {
    const s = same({ code: assemble('r0 = 5\nr6 = 0x100000000\nr1 = *(u32 *)(r6 +3)\nexit'), budget: 100 });
    expect(s!.error!.name).toBe('BpfMemoryFault');
    expect(s!.error!.message).toMatch(/^pc 3: invalid load of 4 bytes at 0x100000003/);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('JS tier: differential properties against the interpreter', () => {
  it('every instruction form (random, mostly faulting or looping programs), small budgets', () => {
    fc.assert(
      fc.property(arbAnyProgram(32), fc.integer({ min: 1, max: 300 }), (p, budget) => {
        same({ code: p.code, budget });
      }),
      { numRuns: 500 },
    );
  });
  it('kernel-style straight-line and branching programs', () => {
    fc.assert(
      fc.property(arbKernelProgram({ maxBody: 40 }), (p) => {
        const o = same({ code: p.code, budget: 100_000 });
        expect(o?.error).toBeUndefined();
      }),
      { numRuns: 400 },
    );
  });
  it('kernel-style programs with LD_ABS/LD_IND and may_goto', () => {
    fc.assert(
      fc.property(arbKernelProgram({ maxBody: 30, ldAbs: true, mayGoto: true }), arbBudget, (p, budget) => {
        same({ code: p.code, budget });
      }),
      { numRuns: 300 },
    );
  });
  it('ALU chains with sign observers after every result (catches halves that are not normalised to int32)', () => {
    const observe = (d: number): Insn[] => [
      mkInsn(BPF_ALU64 | 0x60 | BPF_K, 9, 0, 0, 2), // r9 <<= 2
      mkInsn(BPF_JMP32 | 0xc0 | BPF_K, d, 0, 1, 0), // if wD s< 0 goto +1
      mkInsn(BPF_ALU64 | BPF_ADD | BPF_K, 9, 0, 0, 1),
      mkInsn(BPF_JMP | 0xc0 | BPF_K, d, 0, 1, 0), // if rD s< 0 goto +1
      mkInsn(BPF_ALU64 | BPF_ADD | BPF_K, 9, 0, 0, 2),
      mkInsn(BPF_JMP | 0x10 | BPF_K, d, 0, 1, -1), // if rD == -1 goto +1
      mkInsn(BPF_ALU64 | 0xa0 | BPF_X, 9, d, 0, 0), // r9 ^= rD
    ];
    fc.assert(
      fc.property(fc.array(arbU64, { minLength: 9, maxLength: 9 }), fc.array(arbAlu, { minLength: 1, maxLength: 12 }), (init, ops) => {
        const insns: Insn[] = init.map((v, r) => lddwInsn(r, v));
        insns.push(mkInsn(BPF_ALU64 | BPF_MOV | BPF_K, 9, 0, 0, 0));
        for (const o of ops) {
          if (o.k !== 'alu') continue;
          const d = o.d;
          const s = o.s === 9 || o.s === 10 ? 1 : o.s;
          if (o.op === BPF_NEG) insns.push(mkInsn(o.c | BPF_NEG, d));
          else if (o.op === BPF_END) {
            const width = [16, 32, 64][o.v % 3]!;
            insns.push(o.c === BPF_ALU64 ? mkInsn(BPF_ALU64 | BPF_END | BPF_TO_LE, d, 0, 0, width) : mkInsn(BPF_ALU | BPF_END | (o.x ? BPF_TO_BE : BPF_TO_LE), d, 0, 0, width));
          } else if (o.op === BPF_MOV) {
            const offs = o.c === BPF_ALU64 ? [0, 8, 16, 32] : [0, 8, 16];
            insns.push(o.x ? mkInsn(o.c | BPF_MOV | BPF_X, d, s, offs[o.v % offs.length]!) : mkInsn(o.c | BPF_MOV | BPF_K, d, 0, 0, o.imm));
          } else {
            const off = o.op === 0x30 || o.op === 0x90 ? o.v % 2 : 0;
            // constant shift amounts: 0, the width-1 edges, or anything (masked)
            const imm = o.op === 0x60 || o.op === 0x70 || o.op === 0xc0 ? [0, 1, 31, 32, 63, o.imm][o.v % 6]! : o.imm;
            insns.push(o.x ? mkInsn(o.c | o.op | BPF_X, d, s, off) : mkInsn(o.c | o.op | BPF_K, d, 0, off, imm));
          }
          insns.push(...observe(d));
        }
        insns.push(mkInsn(BPF_ALU64 | BPF_MOV | BPF_X, 0, 9), mkInsn(BPF_JMP | BPF_EXIT));
        const o = same({ code: encode(renumber(insns)), budget: 100_000 });
        expect(o?.error).toBeUndefined();
      }),
      { numRuns: 400 },
    );
  });
  it('the same with tiny chunks (nearly every block its own function): control crossing chunks', () => {
    const saved = jsTierConfig.chunkChars;
    jsTierConfig.chunkChars = 300;
    try {
      fc.assert(
        fc.property(arbRunnableSpec, arbRunnableSpec, arbBudget, (spec, target, b) => {
          same({ code: layoutRunnable(spec), tailTarget: layoutRunnable(target), budget: b });
        }),
        { numRuns: 300 },
      );
      fc.assert(
        fc.property(arbKernelProgram({ maxBody: 30, ldAbs: true, mayGoto: true }), arbBudget, (p, budget) => {
          same({ code: p.code, budget });
        }),
        { numRuns: 200 },
      );
    } finally {
      jsTierConfig.chunkChars = saved;
    }
  });
  it('runnable programs: loops, calls, callbacks, tail calls, helpers, hooked/read-only/stack memory, faults', () => {
    let faults = 0;
    let ok = 0;
    let budget = 0;
    fc.assert(
      fc.property(arbRunnableSpec, arbRunnableSpec, arbBudget, (spec, target, b) => {
        const o = same({ code: layoutRunnable(spec), tailTarget: layoutRunnable(target), budget: b });
        if (o?.error?.name === 'BpfMemoryFault') faults++;
        else if (o?.error?.name === 'BpfBudgetExceeded') budget++;
        else if (o && !o.error) ok++;
      }),
      { numRuns: 1000 },
    );
    // The generator reaches all three outcomes often.
    expect(faults).toBeGreaterThan(50);
    expect(ok).toBeGreaterThan(50);
    expect(budget).toBeGreaterThan(50);
  });
});
