// Stack-slot liveness for state pruning: which 8-byte slots of the main frame may still be read before being
// overwritten, per instruction. Linux 6.18 forgets dead slots of an explored state before comparing it
// (liveness.c, computed from the accesses seen during verification); bpfvm computes a conservative static
// version: a slot the analysis calls dead is never read again on any path, so ignoring it when comparing states
// is sound, and where the kernel knows more (e.g. the exact address a helper reads) bpfvm keeps the slot live and
// simply prunes a little less.
//
// Only programs without bpf-to-bpf calls are analysed (callees can read their callers' stacks through
// pointers); for the others every slot stays live. Stack pointers are tracked forward (r10 and copies/offsets of
// it, exact offset or unknown); a read through a pointer of unknown offset, or a fill that may produce a spilled
// stack pointer, reads every slot; a helper reading memory through a stack pointer reads every slot from that
// address up to the frame pointer. Only an aligned 8-byte store through a known stack offset kills a slot.

import type { SuccColumns } from './check.js';
import {
  BPF_ADD, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_MOV, BPF_ST,
  BPF_STX, BPF_SUB, BPF_X, LDDW, aluOp, cls, mode, size, sizeBytes, srcBit, type InsnCode,
  isPseudoCall, isPseudoFunc,
} from '../vm/isa.js';

/**
 * A register's value as far as stack pointers go, as an int32: not one (NONE), fp + offset (the offset), or
 * unknown (ANY). Offsets that leave +-2^20 become ANY (a read through it reads every slot: sound).
 */
const NONE = -0x80000000;
const ANY = -0x7fffffff;
const OFF_LIMIT = 1 << 20;
type Val = number;

const join = (a: Val, b: Val): Val => (a === NONE ? b : b === NONE ? a : a === b ? a : ANY);
const isOff = (v: Val): boolean => v !== NONE && v !== ANY;
const offset = (d: Val, delta: number): Val => {
  if (!isOff(d)) return d;
  const r = d + delta;
  return r > -OFF_LIMIT && r < OFF_LIMIT ? r : ANY;
};

/** Sets bits a..b (spi, inclusive) of the two-halves mask of insn pc. */
function setSlots(arr: Uint32Array, pc: number, a: number, b: number): void {
  for (let spi = a; spi <= b; spi++) {
    const k = 2 * pc + (spi >> 5);
    arr[k] = (arr[k]! | (1 << (spi & 31))) >>> 0;
  }
}

/** The slots (spi range) covered by the bytes [off, off + n) below the frame pointer; null: outside the stack. */
function slotRange(off: number, n: number): [number, number] | null {
  const hiSlot = -off - 1;
  const loSlot = -(off + n - 1) - 1;
  if (loSlot < 0 || hiSlot >= 512) return null;
  return [loSlot >> 3, hiSlot >> 3];
}

const SCRATCH_MAX_INSNS = 1 << 16;
let scratchState = new Int32Array(0);
let scratchSeen = new Uint8Array(0);
let scratchUse = new Uint32Array(0);
let scratchDef = new Uint32Array(0);
const scratchOut = new Int32Array(11);

/**
 * Live stack slots before each instruction, two 32-bit words per instruction (word 2*pc: spi 0..31, word
 * 2*pc+1: spi 32..63; slot spi = fp-8*(spi+1); read them with state.ts slotLive), or null when the program is
 * not analysed (every slot live).
 */
export function computeStackLive(slots: InsnCode[], isInsn: Uint8Array, succ: SuccColumns): Uint32Array | null {
  const n = slots.length;
  let usesFp = false;
  for (let pc = 0; pc < n; pc++) {
    const i = slots[pc]!;
    if (!isInsn[pc]) continue;
    if (isPseudoCall(i) || isPseudoFunc(i)) return null;
    if (i.dst === 10 || i.src === 10) usesFp = true;
  }
  // r10 is the only way to the stack: without it no slot is ever written or read
  if (!usesFp) return new Uint32Array(2 * n);
  // forward: stack-pointer values of the registers before each instruction (11 per insn; seen[pc]: reached)
  const { s0, s1 } = succ;
  // scratch arrays kept from one call to the next (the verifier calls this once per program; programs beyond
  // SCRATCH_MAX_INSNS get arrays of their own, so a huge one does not leave megabytes behind)
  let state: Int32Array;
  let seen: Uint8Array;
  if (n <= SCRATCH_MAX_INSNS) {
    if (scratchState.length < 11 * n) scratchState = new Int32Array(11 * n);
    if (scratchSeen.length < n) scratchSeen = new Uint8Array(n);
    state = scratchState;
    seen = scratchSeen;
  } else {
    state = new Int32Array(11 * n);
    seen = new Uint8Array(n);
  }
  const out = scratchOut;
  let fillsMayBePtr = false;
  for (let round = 0; round < 2; round++) {
    state.fill(NONE, 0, 11 * n);
    seen.fill(0, 0, n);
    state[10] = 0;
    seen[0] = 1;
    const work: number[] = [0];
    let spilledPtr = false;
    while (work.length) {
      const pc = work.pop()!;
      const base = 11 * pc;
      for (let r = 0; r < 11; r++) out[r] = state[base + r]!;
      const i = slots[pc]!;
      const c = cls(i.op);
      const op = aluOp(i.op);
      const fill = fillsMayBePtr ? ANY : NONE;
      if (c === BPF_ALU64) {
        const d = out[i.dst]!;
        if (op === BPF_MOV) out[i.dst] = srcBit(i.op) === BPF_X && i.off === 0 ? state[base + i.src]! : NONE;
        else if ((op === BPF_ADD || op === BPF_SUB) && srcBit(i.op) !== BPF_X) out[i.dst] = offset(d, op === BPF_ADD ? i.imm : -i.imm);
        else if (srcBit(i.op) === BPF_X && (d !== NONE || state[base + i.src] !== NONE)) out[i.dst] = ANY;
        else if (d !== NONE) out[i.dst] = ANY;
      } else if (c === BPF_LDX) {
        out[i.dst] = fill;
      } else if (c === BPF_STX) {
        if (state[base + i.src] !== NONE) spilledPtr = true;
        if (mode(i.op) === BPF_ATOMIC && (i.imm & 1)) {
          if (i.imm === 0xf1) out[0] = fill;
          else out[i.src] = fill;
        }
      } else if (c === BPF_LD) {
        if (i.op === LDDW) out[i.dst] = NONE;
        else for (let r = 0; r <= 5; r++) out[r] = NONE;
      } else if ((c === BPF_JMP || c === BPF_JMP32) && op === BPF_CALL) {
        for (let r = 0; r <= 5; r++) out[r] = NONE;
      } else if (c !== BPF_JMP && c !== BPF_JMP32 && c !== BPF_ST) {
        out[i.dst] = NONE; // 32-bit ALU: never a pointer
      }
      for (let k = 0; k < 2; k++) {
        const t = k === 0 ? s0[pc]! : s1[pc]!;
        if (t < 0 || t >= n) continue;
        const tb = 11 * t;
        if (!seen[t]) {
          seen[t] = 1;
          for (let r = 0; r < 11; r++) state[tb + r] = out[r]!;
          work.push(t);
          continue;
        }
        let changed = false;
        for (let r = 0; r < 11; r++) {
          const p = state[tb + r]!;
          const j = join(p, out[r]!);
          if (j !== p) {
            state[tb + r] = j;
            changed = true;
          }
        }
        if (changed) work.push(t);
      }
    }
    if (!spilledPtr || fillsMayBePtr) break;
    fillsMayBePtr = true;
  }
  // uses and kills per instruction, as two 32-bit halves (lo: spi 0..31, hi: spi 32..63) to keep bigints out
  // of the loops
  let use: Uint32Array;
  let def: Uint32Array;
  if (n <= SCRATCH_MAX_INSNS) {
    if (scratchUse.length < 2 * n) {
      scratchUse = new Uint32Array(2 * n);
      scratchDef = new Uint32Array(2 * n);
    }
    use = scratchUse.fill(0, 0, 2 * n);
    def = scratchDef.fill(0, 0, 2 * n);
  } else {
    use = new Uint32Array(2 * n);
    def = new Uint32Array(2 * n);
  }
  const read = (pc: number, v: Val, off: number, bytes: number) => {
    if (v === NONE) return;
    const r = v === ANY ? null : slotRange(v + off, bytes);
    if (r) setSlots(use, pc, r[0], r[1]);
    else setSlots(use, pc, 0, 63);
  };
  for (let pc = 0; pc < n; pc++) {
    if (!isInsn[pc] || !seen[pc]) continue;
    const base = 11 * pc;
    const i = slots[pc]!;
    const c = cls(i.op);
    const bytes = sizeBytes(size(i.op));
    if (c === BPF_LDX) {
      read(pc, state[base + i.src]!, i.off, bytes);
    } else if (c === BPF_STX && mode(i.op) === BPF_ATOMIC) {
      read(pc, state[base + i.dst]!, i.off, bytes);
    } else if (c === BPF_STX || c === BPF_ST) {
      const d = state[base + i.dst]!;
      const r = isOff(d) && bytes === 8 && (d + i.off) % 8 === 0 ? slotRange(d + i.off, 8) : null;
      if (r) setSlots(def, pc, r[0], r[1]);
    } else if ((c === BPF_JMP || c === BPF_JMP32) && aluOp(i.op) === BPF_CALL) {
      // a helper reading memory through a stack pointer: every slot from there up to the frame pointer
      for (let r = 1; r <= 5; r++) {
        const v = state[base + r]!;
        const top = isOff(v) ? slotRange(v, 1) : null;
        if (v === ANY || (isOff(v) && !top)) setSlots(use, pc, 0, 63);
        else if (top) setSlots(use, pc, 0, top[1]);
      }
    }
  }
  // backward: live before each instruction
  const live = new Uint32Array(2 * n);
  let changed = true;
  while (changed) {
    changed = false;
    for (let pc = n - 1; pc >= 0; pc--) {
      if (!isInsn[pc]) continue;
      let lo = 0;
      let hi = 0;
      const t0 = s0[pc]!;
      const t1 = s1[pc]!;
      if (t0 >= 0 && t0 < n) {
        lo |= live[2 * t0]!;
        hi |= live[2 * t0 + 1]!;
      }
      if (t1 >= 0 && t1 < n) {
        lo |= live[2 * t1]!;
        hi |= live[2 * t1 + 1]!;
      }
      const vlo = (use[2 * pc]! | (lo & ~def[2 * pc]!)) >>> 0;
      const vhi = (use[2 * pc + 1]! | (hi & ~def[2 * pc + 1]!)) >>> 0;
      if (vlo !== live[2 * pc] || vhi !== live[2 * pc + 1]) {
        live[2 * pc] = vlo;
        live[2 * pc + 1] = vhi;
        changed = true;
      }
    }
  }
  return live;
}
