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

import {
  BPF_ADD, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_EXIT, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_MOV, BPF_PSEUDO_CALL, BPF_ST,
  BPF_STX, BPF_SUB, BPF_X, LDDW, aluOp, cls, mode, size, sizeBytes, srcBit, type Insn,
} from '../vm/isa.js';

export const ALL_SLOTS = (1n << 64n) - 1n;

/** A register's value as far as stack pointers go: not one (NONE), fp + offset (a number), or unknown (ANY). */
const NONE = 'none';
const ANY = 'any';
type Val = typeof NONE | typeof ANY | number;

const join = (a: Val, b: Val): Val => (a === NONE ? b : b === NONE ? a : a === b ? a : ANY);

/** Slots covered by the bytes [off, off + n) below the frame pointer (off < 0), as a mask. */
function slotsOf(off: number, n: number): bigint {
  let m = 0n;
  for (let b = off; b < off + n; b++) {
    const slot = -b - 1;
    if (slot < 0 || slot >= 512) return ALL_SLOTS;
    m |= 1n << BigInt(Math.floor(slot / 8));
  }
  return m;
}

/** Every slot from the one holding `off` up to the frame pointer. */
function slotsAbove(off: number): bigint {
  const slot = -off - 1;
  if (slot < 0 || slot >= 512) return ALL_SLOTS;
  const spi = Math.floor(slot / 8);
  return (1n << BigInt(spi + 1)) - 1n;
}

/**
 * Live stack slots (bit spi = fp-8*(spi+1)) before each instruction, or null when the program is not analysed
 * (every slot live).
 */
export function computeStackLive(slots: Insn[], isInsn: Uint8Array, succ: readonly (readonly number[])[]): bigint[] | null {
  const n = slots.length;
  for (let pc = 0; pc < n; pc++) {
    const i = slots[pc]!;
    if (isInsn[pc] && ((i.op === (BPF_JMP | BPF_CALL) && i.src === BPF_PSEUDO_CALL) || (i.op === LDDW && i.src === 4))) return null;
  }
  // forward: stack-pointer values of the registers before each instruction
  const state: (Val[] | null)[] = new Array<Val[] | null>(n).fill(null);
  let fillsMayBePtr = false;
  for (let round = 0; round < 2; round++) {
    state.fill(null);
    const entry: Val[] = new Array<Val>(11).fill(NONE);
    entry[10] = 0;
    state[0] = entry;
    const work: number[] = [0];
    let spilledPtr = false;
    while (work.length) {
      const pc = work.pop()!;
      const cur = state[pc]!;
      const out = cur.slice();
      const i = slots[pc]!;
      const c = cls(i.op);
      const op = aluOp(i.op);
      if (c === BPF_ALU64) {
        if (op === BPF_MOV) out[i.dst] = srcBit(i.op) === BPF_X && i.off === 0 ? cur[i.src]! : NONE;
        else if ((op === BPF_ADD || op === BPF_SUB) && srcBit(i.op) !== BPF_X) {
          const d = cur[i.dst]!;
          out[i.dst] = typeof d === 'number' ? d + (op === BPF_ADD ? i.imm : -i.imm) : d;
        } else if (srcBit(i.op) === BPF_X && (cur[i.dst] !== NONE || cur[i.src] !== NONE)) out[i.dst] = ANY;
        else if (cur[i.dst] !== NONE) out[i.dst] = ANY;
      } else if (c === BPF_LDX) {
        out[i.dst] = fillsMayBePtr ? ANY : NONE;
      } else if (c === BPF_STX) {
        if (cur[i.src] !== NONE) spilledPtr = true;
        if (mode(i.op) === BPF_ATOMIC && (i.imm & 1)) {
          if (i.imm === 0xf1) out[0] = fillsMayBePtr ? ANY : NONE;
          else out[i.src] = fillsMayBePtr ? ANY : NONE;
        }
      } else if (c === BPF_LD) {
        if (i.op === LDDW) out[i.dst] = NONE;
        else for (let r = 0; r <= 5; r++) out[r] = NONE;
      } else if ((c === BPF_JMP || c === BPF_JMP32) && op === BPF_CALL) {
        for (let r = 0; r <= 5; r++) out[r] = NONE;
      } else if (c !== BPF_JMP && c !== BPF_JMP32 && c !== BPF_ST) {
        out[i.dst] = NONE; // 32-bit ALU: never a pointer
      }
      for (const t of succ[pc]!) {
        if (t < 0 || t >= n) continue;
        const prev = state[t];
        if (!prev) {
          state[t] = out.slice();
          work.push(t);
          continue;
        }
        let changed = false;
        for (let r = 0; r < 11; r++) {
          const j = join(prev[r]!, out[r]!);
          if (j !== prev[r]) {
            prev[r] = j;
            changed = true;
          }
        }
        if (changed) work.push(t);
      }
    }
    if (!spilledPtr || fillsMayBePtr) break;
    fillsMayBePtr = true;
  }
  // uses and kills per instruction
  const use: bigint[] = new Array<bigint>(n).fill(0n);
  const def: bigint[] = new Array<bigint>(n).fill(0n);
  const through = (v: Val, off: number, bytes: number): bigint => (v === NONE ? 0n : v === ANY ? ALL_SLOTS : slotsOf(v + off, bytes));
  for (let pc = 0; pc < n; pc++) {
    const st = state[pc];
    if (!isInsn[pc] || !st) continue;
    const i = slots[pc]!;
    const c = cls(i.op);
    const bytes = sizeBytes(size(i.op));
    if (c === BPF_LDX) {
      use[pc] = through(st[i.src]!, i.off, bytes);
    } else if (c === BPF_STX && mode(i.op) === BPF_ATOMIC) {
      use[pc] = through(st[i.dst]!, i.off, bytes);
    } else if (c === BPF_STX || c === BPF_ST) {
      const d = st[i.dst]!;
      if (typeof d === 'number' && bytes === 8 && (d + i.off) % 8 === 0) def[pc] = slotsOf(d + i.off, 8);
    } else if ((c === BPF_JMP || c === BPF_JMP32) && aluOp(i.op) === BPF_CALL) {
      let m = 0n;
      for (let r = 1; r <= 5; r++) {
        const v = st[r]!;
        if (v === ANY) m = ALL_SLOTS;
        else if (typeof v === 'number') m |= slotsAbove(v);
      }
      use[pc] = m;
    } else if ((c === BPF_JMP || c === BPF_JMP32) && aluOp(i.op) === BPF_EXIT) {
      use[pc] = 0n;
    }
  }
  // backward: live before each instruction
  const live: bigint[] = new Array<bigint>(n).fill(0n);
  let changed = true;
  while (changed) {
    changed = false;
    for (let pc = n - 1; pc >= 0; pc--) {
      if (!isInsn[pc]) continue;
      let out = 0n;
      for (const t of succ[pc]!) if (t >= 0 && t < n) out |= live[t]!;
      const v = use[pc]! | (out & ~def[pc]!);
      if (v !== live[pc]) {
        live[pc] = v;
        changed = true;
      }
    }
  }
  return live;
}
