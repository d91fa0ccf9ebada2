// Validation of raw bytecode and its translation into the flat arrays the interpreter runs.
// The checks are the structural ones the kernel makes before (or while) verifying: known opcode, registers in
// range, reserved fields zero, complete `lddw`, jump targets inside the program and not into an `lddw`'s
// second slot. Each failure is a BpfDecodeError naming the pc, worded like the kernel's message.

import {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_ATOMIC, BPF_B, BPF_CALL, BPF_CMPXCHG,
  BPF_DIV, BPF_DW, BPF_END, BPF_EXIT, BPF_FETCH, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JCOND, BPF_JMP,
  BPF_JMP32, BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MEM, BPF_MEMSX, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG,
  BPF_OR, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_W, BPF_X, BPF_XCHG, BPF_XOR, BpfDecodeError, INSN_SIZE,
  LDDW, aluOp, cls, mode, readSlot, size, srcBit,
} from './isa.js';

/** Variants of one raw opcode, decided once here so the interpreter's switch stays on the raw opcode byte. */
export const V_SIGNED = 1; // sdiv / smod
export const V_MOVSX8 = 1;
export const V_MOVSX16 = 2;
export const V_MOVSX32 = 3;
export const ATOMIC_VARIANTS = [
  BPF_ADD, BPF_OR, BPF_AND, BPF_XOR,
  BPF_ADD | BPF_FETCH, BPF_OR | BPF_FETCH, BPF_AND | BPF_FETCH, BPF_XOR | BPF_FETCH,
  BPF_XCHG, BPF_CMPXCHG,
] as const;

/** A program in the form the interpreter executes: one entry per slot (the 2nd slot of `lddw` is unused). */
export interface ExecutableProgram {
  readonly slots: number;
  /** Raw opcode per slot (0 for the second slot of lddw). */
  readonly op: Uint8Array;
  /** Variant of the opcode: V_SIGNED, V_MOVSX*, atomic index, call kind (src), lddw pseudo kind (src). */
  readonly variant: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  /** Raw off field. */
  readonly off: Int16Array;
  /** Jump target slot for jumps (pc + off + 1, or pc + imm + 1 for gotol / pseudo calls). */
  readonly target: Int32Array;
  readonly imm: Int32Array;
  /** For lddw: imm of the second slot (high half). */
  readonly imm2: Int32Array;
  readonly code: Uint8Array;
}

const ALU_OPS = new Set([BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH, BPF_END]);
const JMP_COND_OPS = new Set([0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]);
const CLASS_NAMES = ['LD', 'LDX', 'ST', 'STX', 'ALU', 'JMP', 'JMP32', 'ALU64'];

function hex2(v: number): string {
  return '0x' + (v & 0xff).toString(16).padStart(2, '0');
}

/**
 * Validates `code` and builds the executable arrays. `isJumpTarget` checks are made on every jump and pseudo
 * call. Helper ids are not checked here (that is the helper table's business, at load time).
 */
export function prepare(code: Uint8Array): ExecutableProgram {
  if (code.byteLength % INSN_SIZE !== 0) {
    throw new BpfDecodeError(Math.floor(code.byteLength / INSN_SIZE), `program size ${code.byteLength} is not a multiple of ${INSN_SIZE}`);
  }
  const n = code.byteLength / INSN_SIZE;
  if (n === 0) throw new BpfDecodeError(0, 'program is empty');
  const p = {
    slots: n,
    op: new Uint8Array(n),
    variant: new Uint8Array(n),
    dst: new Uint8Array(n),
    src: new Uint8Array(n),
    off: new Int16Array(n),
    target: new Int32Array(n),
    imm: new Int32Array(n),
    imm2: new Int32Array(n),
    code: code.slice(),
  };
  const secondSlot = new Uint8Array(n);
  for (let pc = 0; pc < n; pc++) {
    const i = readSlot(code, pc);
    p.dst[pc] = i.dst;
    p.src[pc] = i.src;
    p.off[pc] = i.off;
    p.imm[pc] = i.imm;
    p.op[pc] = i.op;
    if (i.dst > 10 || i.src > 10) {
      // lddw pseudo sources and call pseudo sources are small numbers; anything above r10 is never valid.
      throw new BpfDecodeError(pc, `R${i.dst > 10 ? i.dst : i.src} is invalid`);
    }
    const c = cls(i.op);
    const reserved = (): never => {
      throw new BpfDecodeError(pc, `BPF_${CLASS_NAMES[c]} uses reserved fields`);
    };
    const unknown = (): never => {
      throw new BpfDecodeError(pc, `unknown opcode ${hex2(i.op)}`);
    };
    switch (c) {
      case BPF_ALU:
      case BPF_ALU64: {
        const op = aluOp(i.op);
        if (!ALU_OPS.has(op)) unknown();
        if (op === BPF_END) {
          if (c === BPF_ALU64 && srcBit(i.op) !== 0) unknown();
          if (i.src !== 0 || i.off !== 0 || (i.imm !== 16 && i.imm !== 32 && i.imm !== 64)) {
            throw new BpfDecodeError(pc, 'BPF_END uses reserved fields');
          }
        } else if (op === BPF_NEG) {
          if (srcBit(i.op) !== BPF_K || i.src !== 0 || i.off !== 0 || i.imm !== 0) throw new BpfDecodeError(pc, 'BPF_NEG uses reserved fields');
        } else if (op === BPF_MOV) {
          if (srcBit(i.op) === BPF_X) {
            if (i.imm !== 0) throw new BpfDecodeError(pc, 'BPF_MOV uses reserved fields');
            if (c === BPF_ALU64) {
              if (i.off === 8) p.variant[pc] = V_MOVSX8;
              else if (i.off === 16) p.variant[pc] = V_MOVSX16;
              else if (i.off === 32) p.variant[pc] = V_MOVSX32;
              else if (i.off !== 0) throw new BpfDecodeError(pc, 'BPF_MOV uses reserved fields');
            } else {
              if (i.off === 8) p.variant[pc] = V_MOVSX8;
              else if (i.off === 16) p.variant[pc] = V_MOVSX16;
              else if (i.off !== 0) throw new BpfDecodeError(pc, 'BPF_MOV uses reserved fields');
            }
          } else if (i.src !== 0 || i.off !== 0) {
            throw new BpfDecodeError(pc, 'BPF_MOV uses reserved fields');
          }
        } else {
          if (srcBit(i.op) === BPF_K ? i.src !== 0 : i.imm !== 0) reserved();
          if (op === BPF_DIV || op === BPF_MOD) {
            if (i.off === 1) p.variant[pc] = V_SIGNED;
            else if (i.off !== 0) reserved();
          } else if (i.off !== 0) reserved();
        }
        break;
      }
      case BPF_LDX: {
        const m = mode(i.op);
        if (m === BPF_MEM) {
          // all four sizes
        } else if (m === BPF_MEMSX) {
          if (size(i.op) === BPF_DW) unknown();
        } else unknown();
        if (i.imm !== 0) throw new BpfDecodeError(pc, 'BPF_LDX uses reserved fields');
        break;
      }
      case BPF_ST: {
        if (mode(i.op) !== BPF_MEM) unknown();
        if (i.src !== 0) throw new BpfDecodeError(pc, 'BPF_ST uses reserved fields');
        break;
      }
      case BPF_STX: {
        const m = mode(i.op);
        if (m === BPF_MEM) {
          if (i.imm !== 0) throw new BpfDecodeError(pc, 'BPF_STX uses reserved fields');
        } else if (m === BPF_ATOMIC) {
          const sz = size(i.op);
          if (sz !== BPF_W && sz !== BPF_DW) throw new BpfDecodeError(pc, `invalid atomic operand size`);
          const v = (ATOMIC_VARIANTS as readonly number[]).indexOf(i.imm);
          if (v < 0) throw new BpfDecodeError(pc, `BPF_ATOMIC uses invalid atomic opcode ${hex2(i.imm)}`);
          p.variant[pc] = v;
        } else unknown();
        break;
      }
      case BPF_LD: {
        const m = mode(i.op);
        if (i.op === LDDW) {
          if (pc + 1 >= n) throw new BpfDecodeError(pc, 'invalid bpf_ld_imm64 insn');
          const hi = readSlot(code, pc + 1);
          if (hi.op !== 0 || hi.dst !== 0 || hi.src !== 0 || hi.off !== 0) throw new BpfDecodeError(pc, 'invalid bpf_ld_imm64 insn');
          if (i.off !== 0) throw new BpfDecodeError(pc, 'invalid bpf_ld_imm64 insn');
          if (i.src > 6) throw new BpfDecodeError(pc, 'unrecognized bpf_ld_imm64 insn');
          p.imm2[pc] = hi.imm;
          p.variant[pc] = i.src;
          secondSlot[pc + 1] = 1;
          pc++;
          p.op[pc] = 0;
          break;
        }
        if (m === BPF_ABS || m === BPF_IND) {
          if (size(i.op) === BPF_DW || i.dst !== 0 || i.off !== 0 || (m === BPF_ABS && i.src !== 0)) {
            throw new BpfDecodeError(pc, 'BPF_LD_[ABS|IND] uses reserved fields');
          }
          break;
        }
        if (m === BPF_IMM) throw new BpfDecodeError(pc, 'invalid BPF_LD_IMM insn');
        unknown();
        break;
      }
      case BPF_JMP:
      case BPF_JMP32: {
        const op = aluOp(i.op);
        if (op === BPF_JA) {
          if (srcBit(i.op) !== BPF_K) unknown();
          if (c === BPF_JMP ? i.imm !== 0 || i.src !== 0 || i.dst !== 0 : i.off !== 0 || i.src !== 0 || i.dst !== 0) {
            throw new BpfDecodeError(pc, 'BPF_JA uses reserved fields');
          }
          p.target[pc] = pc + 1 + (c === BPF_JMP ? i.off : i.imm);
        } else if (op === BPF_CALL) {
          if (c !== BPF_JMP || srcBit(i.op) !== BPF_K) unknown();
          if (i.off !== 0 || i.dst !== 0 || i.src > 2) throw new BpfDecodeError(pc, 'BPF_CALL uses reserved fields');
          p.variant[pc] = i.src;
          if (i.src === 1) p.target[pc] = pc + 1 + i.imm;
        } else if (op === BPF_EXIT) {
          if (c !== BPF_JMP || srcBit(i.op) !== BPF_K) unknown();
          if (i.imm !== 0 || i.src !== 0 || i.dst !== 0 || i.off !== 0) throw new BpfDecodeError(pc, 'BPF_EXIT uses reserved fields');
        } else if (op === BPF_JCOND) {
          if (c !== BPF_JMP || srcBit(i.op) !== BPF_K) unknown();
          if (i.src !== 0 || i.dst !== 0 || i.imm !== 0) throw new BpfDecodeError(pc, 'conditional jump uses reserved fields');
          p.target[pc] = pc + 1 + i.off;
        } else if (JMP_COND_OPS.has(op)) {
          if (srcBit(i.op) === BPF_K ? i.src !== 0 : i.imm !== 0) throw new BpfDecodeError(pc, 'BPF_JMP/JMP32 uses reserved fields');
          p.target[pc] = pc + 1 + i.off;
        } else unknown();
        break;
      }
    }
  }
  // Jump targets: inside the program and not into the second slot of an lddw.
  for (let pc = 0; pc < n; pc++) {
    if (secondSlot[pc]) continue;
    const op = p.op[pc]!;
    const c = cls(op);
    if (c !== BPF_JMP && c !== BPF_JMP32) continue;
    const o = aluOp(op);
    const isPseudoCall = o === BPF_CALL && p.src[pc] === 1;
    if (o === BPF_EXIT || (o === BPF_CALL && !isPseudoCall)) continue;
    const t = p.target[pc]!;
    if (t < 0 || t >= n) {
      throw new BpfDecodeError(pc, isPseudoCall ? `function call to pc ${t} is out of range` : `jump out of range from insn ${pc} to ${t}`);
    }
    if (secondSlot[t]) throw new BpfDecodeError(pc, `jump from insn ${pc} into the middle of ldimm64 insn ${t - 1}`);
  }
  // BPF_PSEUDO_FUNC lddw (function address) must point at a real instruction too.
  for (let pc = 0; pc < n; pc++) {
    if (p.op[pc] === LDDW && p.variant[pc] === 4) {
      const t = pc + 1 + p.imm[pc]!;
      if (t < 0 || t >= n || secondSlot[t]) throw new BpfDecodeError(pc, `function address to pc ${t} is out of range`);
      p.target[pc] = t;
    }
  }
  return p;
}

