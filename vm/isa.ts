// eBPF instruction set: constants, the canonical instruction record, decode and encode.
// Only this file knows the wire layout of an instruction (8 bytes, little endian):
//   byte 0: opcode, byte 1: dst (low nibble) | src (high nibble), bytes 2-3: off (s16), bytes 4-7: imm (s32).
// `lddw` occupies two slots; the second slot carries the upper 32 bits of the immediate.

export const INSN_SIZE = 8;

// Instruction classes.
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// Load/store sizes.
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

// Load/store modes.
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

// ALU operations.
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

// Source operand.
export const BPF_K = 0x00;
export const BPF_X = 0x08;
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

// Jump operations.
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;
export const BPF_JCOND = 0xe0;

// Atomic operations (carried in imm).
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;

// Pseudo source registers.
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

export const MAX_BPF_REG = 11; // r0..r10
export const BPF_REG_FP = 10;
export const MAX_BPF_STACK = 512;
export const MAX_CALL_FRAMES = 8;
export const MAX_TAIL_CALL_CNT = 33;

export const cls = (op: number): number => op & 0x07;
export const size = (op: number): number => op & 0x18;
export const mode = (op: number): number => op & 0xe0;
export const aluOp = (op: number): number => op & 0xf0;
export const srcBit = (op: number): number => op & 0x08;

export function sizeBytes(sz: number): number {
  return sz === BPF_W ? 4 : sz === BPF_H ? 2 : sz === BPF_B ? 1 : 8;
}

/**
 * The fields of one instruction, without its position. `imm` is the low 32 bits (signed); for `lddw` `imm64hi`
 * holds the high half.
 */
export interface InsnCode {
  op: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** Only for `lddw`: the second slot's imm (high 32 bits, signed). */
  imm64hi?: number;
  /** Second-slot fields of `lddw` that must be zero (kept to report them). */
  next?: { op: number; dst: number; src: number; off: number };
}

/** One decoded instruction at slot `pc`. */
export interface Insn extends InsnCode {
  /** Instruction slot index (the kernel's `pc`). */
  pc: number;
}

export const LDDW = BPF_LD | BPF_IMM | BPF_DW; // 0x18

export function isLddw(op: number): boolean {
  return op === LDDW;
}

/** A bpf-to-bpf call (`call pc+N`, src BPF_PSEUDO_CALL). */
export function isPseudoCall(i: InsnCode | undefined): boolean {
  return i !== undefined && i.op === (BPF_JMP | BPF_CALL) && i.src === BPF_PSEUDO_CALL;
}

/** A callback's address (`lddw` with src BPF_PSEUDO_FUNC). */
export function isPseudoFunc(i: InsnCode): boolean {
  return i.op === LDDW && i.src === BPF_PSEUDO_FUNC;
}

/** Reads slot `pc` of raw bytecode without validating it. */
export function readSlot(code: Uint8Array, pc: number): Insn {
  const o = pc * INSN_SIZE;
  const regs = code[o + 1]!;
  // little-endian fields read byte by byte (a DataView per slot was most of the cost of decoding)
  return {
    pc,
    op: code[o]!,
    dst: regs & 0x0f,
    src: regs >> 4,
    off: ((code[o + 2]! | (code[o + 3]! << 8)) << 16) >> 16,
    imm: code[o + 4]! | (code[o + 5]! << 8) | (code[o + 6]! << 16) | (code[o + 7]! << 24),
  };
}

/**
 * One record per 8-byte slot, for the verifier's passes (which index instructions by slot; the second slot
 * of an `lddw` keeps a raw record of its own, and the `lddw`'s record also carries that slot's fields in
 * `imm64hi` and `next`). Records carry no position: slots with the same 8 bytes share one record (a program
 * has few distinct encodings: 27.5% of the fixtures' and kernel selftests' instructions are distinct within
 * their program, so sharing saves most of the objects of a large program). Records are not to be modified.
 * Every record has the same shape, so code reading them stays monomorphic. No validation.
 */
export function decodeSlots(code: Uint8Array): InsnCode[] {
  const n = Math.floor(code.byteLength / INSN_SIZE);
  const out: InsnCode[] = new Array<InsnCode>(n);
  // records by their first word (opcode, registers, offset), then by imm
  const byWord = new Map<number, InsnCode | InsnCode[]>();
  for (let pc = 0; pc < n; pc++) {
    const o = pc * INSN_SIZE;
    const op = code[o]!;
    const word = op | (code[o + 1]! << 8) | (code[o + 2]! << 16) | (code[o + 3]! << 24);
    const imm = code[o + 4]! | (code[o + 5]! << 8) | (code[o + 6]! << 16) | (code[o + 7]! << 24);
    if (op === LDDW && pc + 1 < n) {
      out[pc] = makeRecord(code, o, imm, true);
      continue;
    }
    const prev = byWord.get(word);
    if (prev === undefined) {
      const r = makeRecord(code, o, imm, false);
      byWord.set(word, r);
      out[pc] = r;
    } else if (!Array.isArray(prev)) {
      if (prev.imm === imm) {
        out[pc] = prev;
      } else {
        const r = makeRecord(code, o, imm, false);
        byWord.set(word, [prev, r]);
        out[pc] = r;
      }
    } else {
      let r: InsnCode | undefined;
      for (let k = 0; k < prev.length; k++) if (prev[k]!.imm === imm) r = prev[k];
      if (r === undefined) {
        r = makeRecord(code, o, imm, false);
        prev.push(r);
      }
      out[pc] = r;
    }
  }
  return out;
}

function makeRecord(code: Uint8Array, o: number, imm: number, wide: boolean): InsnCode {
  const regs = code[o + 1]!;
  const o2 = o + INSN_SIZE;
  return {
    op: code[o]!,
    dst: regs & 0x0f,
    src: regs >> 4,
    off: ((code[o + 2]! | (code[o + 3]! << 8)) << 16) >> 16,
    imm,
    imm64hi: wide ? code[o2 + 4]! | (code[o2 + 5]! << 8) | (code[o2 + 6]! << 16) | (code[o2 + 7]! << 24) : undefined,
    next: wide
      ? { op: code[o2]!, dst: code[o2 + 1]! & 0x0f, src: code[o2 + 1]! >> 4, off: ((code[o2 + 2]! | (code[o2 + 3]! << 8)) << 16) >> 16 }
      : undefined,
  };
}

/**
 * Decodes raw bytecode into instruction records, one per instruction (an `lddw` is one record covering two
 * slots). Structural problems are reported through `BpfDecodeError`; semantic validity is `validate`'s job.
 */
export function decode(code: Uint8Array): Insn[] {
  if (code.byteLength % INSN_SIZE !== 0) {
    throw new BpfDecodeError(
      Math.floor(code.byteLength / INSN_SIZE),
      `program length ${code.byteLength} is not a multiple of ${INSN_SIZE} bytes`,
    );
  }
  const n = code.byteLength / INSN_SIZE;
  const out: Insn[] = [];
  for (let pc = 0; pc < n; pc++) {
    const insn = readSlot(code, pc);
    if (insn.op === LDDW) {
      if (pc + 1 >= n) throw new BpfDecodeError(pc, 'invalid bpf_ld_imm64 insn: truncated (second slot missing)');
      const hi = readSlot(code, pc + 1);
      insn.imm64hi = hi.imm;
      insn.next = { op: hi.op, dst: hi.dst, src: hi.src, off: hi.off };
      pc++;
    }
    out.push(insn);
  }
  return out;
}

/** Encodes instruction records back to bytes. Records must be in slot order. */
export function encode(insns: readonly Insn[]): Uint8Array {
  let slots = 0;
  for (const i of insns) slots += i.op === LDDW ? 2 : 1;
  const out = new Uint8Array(slots * INSN_SIZE);
  const dv = new DataView(out.buffer);
  let s = 0;
  for (const i of insns) {
    writeSlot(dv, s, i.op, i.dst, i.src, i.off, i.imm);
    s++;
    if (i.op === LDDW) {
      const nx = i.next ?? { op: 0, dst: 0, src: 0, off: 0 };
      writeSlot(dv, s, nx.op, nx.dst, nx.src, nx.off, i.imm64hi ?? 0);
      s++;
    }
  }
  return out;
}

function writeSlot(dv: DataView, s: number, op: number, dst: number, src: number, off: number, imm: number): void {
  const o = s * INSN_SIZE;
  dv.setUint8(o, op & 0xff);
  dv.setUint8(o + 1, ((src & 0x0f) << 4) | (dst & 0x0f));
  dv.setInt16(o + 2, off, true);
  dv.setInt32(o + 4, imm | 0, true);
}

/** Builds one instruction record (for tests and the assembler). */
export function insn(op: number, dst = 0, src = 0, off = 0, imm = 0, imm64hi?: number): Insn {
  const r: Insn = { pc: 0, op, dst, src, off, imm: imm | 0 };
  if (op === LDDW) {
    r.imm64hi = (imm64hi ?? 0) | 0;
    r.next = { op: 0, dst: 0, src: 0, off: 0 };
  }
  return r;
}

/** Sets `pc` on each record from the slot widths, in place. */
export function renumber(insns: Insn[]): Insn[] {
  let pc = 0;
  for (const i of insns) {
    i.pc = pc;
    pc += i.op === LDDW ? 2 : 1;
  }
  return insns;
}

/** Typed error for bytecode that cannot be decoded or is not a valid instruction. */
export class BpfDecodeError extends Error {
  override name = 'BpfDecodeError';
  constructor(
    readonly pc: number,
    readonly detail: string,
  ) {
    super(`pc ${pc}: ${detail}`);
  }
}
