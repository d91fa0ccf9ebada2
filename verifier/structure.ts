// The verifier's structural passes, in the kernel's order (bpf_check in kernel/bpf/verifier.c), before any
// symbolic execution:
//   1. add_subprog_and_kfunc   subprogram starts: insn 0, every pseudo-call target, every BPF_PSEUDO_FUNC
//                              lddw target ("call to invalid destination", "too many subprograms");
//   2. check_subprogs          every jump stays inside its subprogram ("jump out of range from insn %d to
//                              %d"), every subprogram ends in exit / ja / gotol ("last insn is not an exit
//                              or jmp");
//   3. resolve_pseudo_ldimm64  LDX reserved fields, complete ld_imm64, pseudo-source rules, opcode table
//                              ("unknown opcode %02x");
//   4. check_cfg               depth-first walk from insn 0: every insn reachable ("unreachable insn %d"), no
//                              jump into the second half of an ld_imm64, back-edges allowed only with CAP_BPF.
// Checks the kernel makes lazily while simulating (reserved fields of other classes, register numbers) are
// left to the symbolic executor, so that the log shows them where the kernel does.
// Messages and their order were checked against Linux 6.18 (test/verifier/structure.test.ts).

import { helperChangesPktData } from '../helpers/protos.js';
import {
  BPF_ABS, BPF_ALU, BPF_ALU64, BPF_CALL, BPF_EXIT, BPF_IND, BPF_JA, BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX,
  BPF_MEM, BPF_MEMSX, LDDW, aluOp, cls, mode, decodeSlots, type InsnCode,
  isPseudoCall, isPseudoFunc,
} from '../vm/isa.js';

/** The kernel's table of opcodes it knows (kernel/bpf/core.c bpf_opcode_in_insntable). */
export const KNOWN_OPCODES: ReadonlySet<number> = (() => {
  const s = new Set<number>();
  const aluOps = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0];
  for (const c of [BPF_ALU, BPF_ALU64]) {
    for (const op of aluOps) {
      s.add(c | op); // K
      s.add(c | op | 0x08); // X
    }
    s.add(c | 0x80); // NEG (K form only)
  }
  s.add(BPF_ALU | 0xd0); // END to_le
  s.add(BPF_ALU | 0xd8); // END to_be
  s.add(BPF_ALU64 | 0xd0); // bswap
  const jmpOps = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];
  for (const c of [BPF_JMP, BPF_JMP32]) {
    for (const op of jmpOps) {
      s.add(c | op);
      s.add(c | op | 0x08);
    }
    s.add(c | BPF_JA);
  }
  s.add(BPF_JMP | BPF_CALL);
  s.add(BPF_JMP | BPF_EXIT);
  s.add(BPF_JMP | BPF_JCOND);
  for (const sz of [0x00, 0x08, 0x10, 0x18]) {
    s.add(0x03 | 0x60 | sz); // STX MEM
    s.add(0x02 | 0x60 | sz); // ST MEM
    s.add(0x01 | 0x60 | sz); // LDX MEM
  }
  for (const sz of [0x00, 0x08, 0x10]) {
    s.add(0x01 | 0x80 | sz); // LDX MEMSX
    s.add(BPF_LD | BPF_ABS | sz);
    s.add(BPF_LD | BPF_IND | sz);
  }
  s.add(0x03 | 0xc0 | 0x00); // STX ATOMIC W
  s.add(0x03 | 0xc0 | 0x18); // STX ATOMIC DW
  s.add(LDDW);
  return s;
})();

export const BPF_MAX_SUBPROGS = 256;
export const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;

export interface Subprog {
  start: number;
  /** One past the last slot. */
  end: number;
  hasTailCall: boolean;
  hasLdAbs: boolean;
  /** Calls a helper that changes packet data, directly (callees are propagated by the caller of this pass). */
  changesPktData: boolean;
}

export interface StructureError {
  pc: number;
  message: string;
  errno: number;
}

export interface StructureResult {
  subprogs: Subprog[];
  /** Slots that start an instruction (false for the second half of an ld_imm64). */
  isInsn: Uint8Array;
  /** Prune points and jump targets, as check_cfg marks them (used by state pruning). */
  prunePoint: Uint8Array;
  jumpTarget: Uint8Array;
  /** Helper calls whose callback the helper calls synchronously, any number of times (bpf_calls_callback). */
  callsCallback: Uint8Array;
  /** Instructions before which a checkpoint is always made (is_force_checkpoint: sync callback calls). */
  forceCheckpoint: Uint8Array;
  error: StructureError | null;
}

/** Helpers that call a callback synchronously (is_sync_callback_calling_function): for_each_map_elem, find_vma, loop, user_ringbuf_drain. */
export const SYNC_CALLBACK_HELPERS: ReadonlySet<number> = new Set([164, 180, 181, 209]);
/** Helpers that register a callback run later (is_async_callback_calling_function): timer_set_callback. */
export const ASYNC_CALLBACK_HELPERS: ReadonlySet<number> = new Set([170]);

const EINVAL = 22;
const E2BIG = 7;

/** Programs up to this size share one scratch array for the walk (larger ones get their own). */
const WALK_SCRATCH_MAX_INSNS = 1 << 16;
let walkScratch = new Int32Array(0);

const isHelperCall = (i: InsnCode): boolean => i.op === (BPF_JMP | BPF_CALL) && i.src === 0;

/**
 * Runs the structural passes over raw bytecode. `bpfCapable` (CAP_BPF; always true for the socket program
 * types, which need it to load) allows back-edges, i.e. bounded loops, which the symbolic executor then checks.
 * `decoded`: the slots of `code` already decoded (readSlot), to save a second decoding pass.
 */
export function checkStructure(code: Uint8Array, opts: { bpfCapable?: boolean; decoded?: InsnCode[] } = {}): StructureResult {
  const bpfCapable = opts.bpfCapable ?? true;
  const insns = opts.decoded ?? decodeSlots(code);
  const n = insns.length;
  // the five per-instruction flag arrays share one buffer (one allocation, not five)
  const flags = new ArrayBuffer(5 * n);
  const isInsn = new Uint8Array(flags, 0, n);
  const prunePoint = new Uint8Array(flags, n, n);
  const jumpTarget = new Uint8Array(flags, 2 * n, n);
  const callsCallback = new Uint8Array(flags, 3 * n, n);
  const forceCheckpoint = new Uint8Array(flags, 4 * n, n);
  const result: StructureResult = { subprogs: [], isInsn, prunePoint, jumpTarget, callsCallback, forceCheckpoint, error: null };
  const fail = (pc: number, message: string, errno = EINVAL): StructureResult => {
    result.error = { pc, message, errno };
    return result;
  };
  if (n === 0 || n > BPF_COMPLEXITY_LIMIT_INSNS) return fail(0, '', E2BIG); // the syscall refuses: no log text

  // 1. Subprogram starts.
  const starts = new Set<number>([0]);
  for (let pc = 0; pc < n; pc++) {
    const i = insns[pc]!;
    if (isPseudoCall(i) || isPseudoFunc(i)) {
      const t = pc + i.imm + 1;
      if (t < 0 || t >= n) return fail(pc, 'call to invalid destination');
      starts.add(t);
      if (starts.size > BPF_MAX_SUBPROGS) return fail(pc, 'too many subprograms', E2BIG);
    }
  }
  const sorted = [...starts].sort((a, b) => a - b);
  const subprogs: Subprog[] = sorted.map((start, k) => ({
    start,
    end: k + 1 < sorted.length ? sorted[k + 1]! : n,
    hasTailCall: false,
    hasLdAbs: false,
    changesPktData: false,
  }));
  result.subprogs = subprogs;

  // 2. Jumps stay inside their subprogram; each subprogram ends in exit or an unconditional jump.
  for (const sp of subprogs) {
    for (let pc = sp.start; pc < sp.end; pc++) {
      const i = insns[pc]!;
      const c = cls(i.op);
      if (isHelperCall(i) && i.imm === 12) sp.hasTailCall = true;
      if (isHelperCall(i) && helperChangesPktData(i.imm)) sp.changesPktData = true;
      if (c === BPF_LD && (mode(i.op) === BPF_ABS || mode(i.op) === BPF_IND)) sp.hasLdAbs = true;
      if ((c === BPF_JMP || c === BPF_JMP32) && aluOp(i.op) !== BPF_EXIT && aluOp(i.op) !== BPF_CALL) {
        const t = i.op === (BPF_JMP32 | BPF_JA) ? pc + i.imm + 1 : pc + i.off + 1;
        if (t < sp.start || t >= sp.end) return fail(pc, `jump out of range from insn ${pc} to ${t}`);
      }
      if (pc === sp.end - 1 && i.op !== (BPF_JMP | BPF_EXIT) && i.op !== (BPF_JMP32 | BPF_JA) && i.op !== (BPF_JMP | BPF_JA)) {
        return fail(pc, 'last insn is not an exit or jmp');
      }
    }
  }

  // 3. Per-instruction checks of resolve_pseudo_ldimm64.
  for (let pc = 0; pc < n; pc++) {
    const i = insns[pc]!;
    isInsn[pc] = 1;
    if (cls(i.op) === BPF_LDX && ((mode(i.op) !== BPF_MEM && mode(i.op) !== BPF_MEMSX) || i.imm !== 0)) {
      return fail(pc, 'BPF_LDX uses reserved fields');
    }
    if (i.op === LDDW) {
      const hi = pc + 1 < n ? insns[pc + 1]! : null;
      if (hi === null || hi.op !== 0 || hi.dst !== 0 || hi.src !== 0 || hi.off !== 0) return fail(pc, 'invalid bpf_ld_imm64 insn');
      if (i.src === 1 || i.src === 5) {
        if (hi.imm !== 0) return fail(pc, 'unrecognized bpf_ld_imm64 insn');
      } else if (i.src !== 0 && i.src !== 2 && i.src !== 3 && i.src !== 4 && i.src !== 6) {
        return fail(pc, 'unrecognized bpf_ld_imm64 insn');
      }
      // Maps are referenced by index (src 5/6, what the ELF loader writes). A map *fd* (src 1/2) is an lddw
      // the loader did not relocate: bpfvm has no file descriptors, so like the kernel with an fd that is an
      // open file but no map (stdin, stdout), it is refused before the walk.
      if (i.src === 1 || i.src === 2) return fail(pc, `fd ${i.imm} is not pointing to valid bpf_map`);
      pc++;
      continue;
    }
    if (!KNOWN_OPCODES.has(i.op)) return fail(pc, `unknown opcode ${i.op.toString(16).padStart(2, '0')}`);
  }

  // 4. Depth-first walk (check_cfg). insn_state: 0 undiscovered, DISCOVERED (0x10) | edge kind, EXPLORED (0x20).
  const DISCOVERED = 0x10;
  const EXPLORED = 0x20;
  const FALLTHROUGH = 1;
  const BRANCH = 2;
  // insn_state and the walk's stack (every instruction is pushed at most once, when first discovered); one
  // scratch array reused by the next call (typed-array allocation costs more than a small program's walk)
  let walk: Int32Array;
  if (n <= WALK_SCRATCH_MAX_INSNS) {
    if (walkScratch.length < 2 * n) walkScratch = new Int32Array(2 * n);
    walk = walkScratch.fill(0, 0, 2 * n);
  } else {
    walk = new Int32Array(2 * n);
  }
  const state = walk.subarray(0, n);
  const stack = walk.subarray(n);
  let sp = 1;
  state[0] = DISCOVERED;
  const KEEP = 1;
  const DONE = 0;
  let err: StructureResult | null = null;
  const push = (t: number, w: number, e: number): number => {
    if (e === FALLTHROUGH && state[t]! >= (DISCOVERED | FALLTHROUGH)) return DONE;
    if (e === BRANCH && state[t]! >= (DISCOVERED | BRANCH)) return DONE;
    if (w < 0 || w >= n) {
      err = fail(t, `jump out of range from insn ${t} to ${w}`);
      return -1;
    }
    if (e === BRANCH) {
      prunePoint[w] = 1;
      jumpTarget[w] = 1;
    }
    if (state[w] === 0) {
      state[t] = DISCOVERED | e;
      state[w] = DISCOVERED;
      stack[sp++] = w;
      return KEEP;
    }
    if ((state[w]! & 0xf0) === DISCOVERED) {
      if (bpfCapable) return DONE;
      err = fail(t, `back-edge from insn ${t} to ${w}`);
      return -1;
    }
    state[t] = DISCOVERED | e;
    return DONE;
  };
  const visit = (t: number): number => {
    const i = insns[t]!;
    const c = cls(i.op);
    if (isPseudoFunc(i)) {
      // Like a call: fall through past the lddw, and walk the callback's body as a branch.
      const r = push(t, t + 2, FALLTHROUGH);
      if (r !== DONE) return r;
      prunePoint[t + 2] = 1;
      prunePoint[t] = 1;
      return push(t, t + i.imm + 1, BRANCH);
    }
    if (c !== BPF_JMP && c !== BPF_JMP32) return push(t, t + (i.op === LDDW ? 2 : 1), FALLTHROUGH);
    const op = aluOp(i.op);
    if (op === BPF_EXIT) return DONE;
    if (op === BPF_CALL) {
      const r = push(t, t + 1, FALLTHROUGH);
      if (r !== DONE) return r;
      prunePoint[t + 1] = 1;
      if (isPseudoCall(i)) {
        prunePoint[t] = 1;
        return push(t, t + i.imm + 1, BRANCH);
      }
      // a timer callback is queued when the call is processed: prune before that happens
      if (isHelperCall(i) && ASYNC_CALLBACK_HELPERS.has(i.imm)) prunePoint[t] = 1;
      // the verifier returns to a sync callback call after each callback visit until the states converge
      if (isHelperCall(i) && SYNC_CALLBACK_HELPERS.has(i.imm)) {
        callsCallback[t] = 1;
        forceCheckpoint[t] = 1;
        prunePoint[t] = 1;
      }
      return DONE;
    }
    if (op === BPF_JA) {
      const w = c === BPF_JMP ? t + i.off + 1 : t + i.imm + 1;
      const r = push(t, w, FALLTHROUGH);
      if (r !== DONE) return r;
      prunePoint[w] = 1;
      jumpTarget[w] = 1;
      return DONE;
    }
    prunePoint[t] = 1; // conditional jumps, may_goto included
    const r = push(t, t + 1, FALLTHROUGH);
    if (r !== DONE) return r;
    return push(t, t + i.off + 1, BRANCH);
  };
  while (sp > 0) {
    const t = stack[sp - 1]!;
    const r = visit(t);
    if (err) return err;
    if (r === DONE) {
      state[t] = EXPLORED;
      sp--;
    }
  }
  for (let pc = 0; pc < n; pc++) {
    if (state[pc] !== EXPLORED) return fail(pc, `unreachable insn ${pc}`);
    if (insns[pc]!.op === LDDW) {
      if (state[pc + 1] !== 0) return fail(pc, `jump into the middle of ldimm64 insn ${pc}`);
      isInsn[pc + 1] = 0;
      pc++;
    }
  }
  return result;
}
