// Disassembler printing the kernel's instruction syntax (kernel/bpf/disasm.c print_bpf_insn), as seen in
// verifier logs and `bpftool prog dump xlated`: `r1 = *(u32 *)(r2 +8)`, `if w1 s< w2 goto pc-2`,
// `call bpf_msg_pull_data#63`. `formatInsn` gives the text after the kernel's `(op) ` prefix;
// `formatLine` gives the whole `pc: (op) text` line.
//
// Where the kernel prints something that cannot be read back (a map's kernel address), bpfvm prints the
// symbolic form bpftool uses for xlated dumps, with the index flavour for objects not loaded in a kernel:
//   src 1 (map by fd)        r1 = map[fd:N]            src 5 (map by index)        r1 = map[idx:N]
//   src 2 (map value by fd)  r1 = map[fd:N][0]+OFF     src 6 (map value by index)  r1 = map[idx:N][0]+OFF
//   src 3 (kernel BTF id)    r1 = btf_id[N]            src 4 (function address)     r1 = func[pc+N]
// and kfunc calls as `call kfunc#ID` (the kernel prints the kfunc's name, which needs kernel BTF).

import { helperName } from '../helpers/ids.js';
import {
  BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_DW, BPF_END, BPF_EXIT, BPF_FETCH,
  BPF_IND, BPF_JA, BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_MOV, BPF_NEG,
  BPF_ST, BPF_STX, BPF_TO_BE, BPF_X, BPF_XCHG, LDDW, aluOp, cls, decode, mode, size, srcBit, type Insn, type InsnCode,
} from './isa.js';

export const ALU_STRING: Record<number, string> = {
  0x00: '+=', 0x10: '-=', 0x20: '*=', 0x30: '/=', 0x40: '|=', 0x50: '&=', 0x60: '<<=', 0x70: '>>=',
  0x80: 'neg', 0x90: '%=', 0xa0: '^=', 0xb0: '=', 0xc0: 's>>=', 0xd0: 'endian',
};
export const ALU_SIGN_STRING: Record<number, string> = { 0x30: 's/=', 0x90: 's%=' };
export const MOVSX_STRING: Record<number, string> = { 8: '(s8)', 16: '(s16)', 32: '(s32)' };
export const ATOMIC_ALU_STRING: Record<number, string> = { 0x00: 'add', 0x50: 'and', 0x40: 'or', 0xa0: 'xor' };
export const LDST_STRING: Record<number, string> = { 0x00: 'u32', 0x08: 'u16', 0x10: 'u8', 0x18: 'u64' };
export const LDSX_STRING: Record<number, string> = { 0x00: 's32', 0x08: 's16', 0x10: 's8' };
export const JMP_STRING: Record<number, string> = {
  0x00: 'jmp', 0x10: '==', 0x20: '>', 0xa0: '<', 0x30: '>=', 0xb0: '<=', 0x40: '&', 0x50: '!=',
  0x60: 's>', 0xc0: 's<', 0x70: 's>=', 0xd0: 's<=', 0x80: 'call', 0x90: 'exit',
};
const CLASS_STRING = ['ld', 'ldx', 'st', 'stx', 'alu', 'jmp', 'jmp32', 'alu64'];

/** `I`: the records being printed (the verifier prints position-free InsnCode records). */
export interface DisasmOptions<I extends InsnCode = Insn> {
  /** Text for an lddw immediate (the kernel's cb_imm). Return undefined for the default. */
  imm?: (insn: I, full: bigint) => string | undefined;
  /** Name for a call (the kernel's cb_call), e.g. a kfunc's name. Return undefined for the default. */
  call?: (insn: I) => string | undefined;
}

const sgn = (v: number): string => (v >= 0 ? `+${v}` : `${v}`);
const hex32 = (v: number): string => '0x' + (v >>> 0).toString(16);

function lddwText<I extends InsnCode>(i: I, opts: DisasmOptions<I>): string {
  const full = (BigInt.asUintN(32, BigInt(i.imm64hi ?? 0)) << 32n) | BigInt(i.imm >>> 0);
  const custom = opts.imm?.(i, full);
  if (custom !== undefined) return custom;
  switch (i.src) {
    case 1: return `map[fd:${i.imm}]`;
    case 5: return `map[idx:${i.imm}]`;
    case 2: return `map[fd:${i.imm}][0]+${(i.imm64hi ?? 0) >>> 0}`;
    case 6: return `map[idx:${i.imm}][0]+${(i.imm64hi ?? 0) >>> 0}`;
    case 3: return `btf_id[${i.imm}]`;
    case 4: return `func[pc${sgn(i.imm)}]`;
    default: return '0x' + full.toString(16);
  }
}

/** The kernel's text for one instruction, without the `(op) ` prefix. */
export function formatInsn<I extends InsnCode>(i: I, opts: DisasmOptions<I> = {}): string {
  const c = cls(i.op);
  const w = (k: number): string => (c === BPF_ALU || c === BPF_JMP32 ? 'w' : 'r') + k;
  const hexop = i.op.toString(16).padStart(2, '0');
  if (c === BPF_ALU || c === BPF_ALU64) {
    const op = aluOp(i.op);
    if (op === BPF_END) {
      if (c === BPF_ALU64) return `r${i.dst} = bswap${i.imm} r${i.dst}`;
      return `r${i.dst} = ${srcBit(i.op) === BPF_TO_BE ? 'be' : 'le'}${i.imm} r${i.dst}`;
    }
    if (op === BPF_NEG) return `${w(i.dst)} = -${w(i.dst)}`;
    const sdiv = (op === 0x30 || op === 0x90) && i.off === 1;
    const opStr = sdiv ? ALU_SIGN_STRING[op]! : ALU_STRING[op]!;
    if (srcBit(i.op) === BPF_X) {
      const movsx = op === BPF_MOV && (i.off === 8 || i.off === 16 || i.off === 32) ? MOVSX_STRING[i.off]! : '';
      return `${w(i.dst)} ${opStr} ${movsx}${w(i.src)}`;
    }
    return `${w(i.dst)} ${opStr} ${i.imm}`;
  }
  if (c === BPF_STX) {
    const sz = LDST_STRING[size(i.op)]!;
    const m = mode(i.op);
    if (m === BPF_MEM) return `*(${sz} *)(r${i.dst} ${sgn(i.off)}) = r${i.src}`;
    if (m === BPF_ATOMIC) {
      const a = i.imm;
      const b64 = size(i.op) === BPF_DW ? '64' : '';
      if (a === 0x00 || a === 0x50 || a === 0x40 || a === 0xa0) {
        return `lock *(${sz} *)(r${i.dst} ${sgn(i.off)}) ${ALU_STRING[a]} r${i.src}`;
      }
      if (a === (0x00 | BPF_FETCH) || a === (0x50 | BPF_FETCH) || a === (0x40 | BPF_FETCH) || a === (0xa0 | BPF_FETCH)) {
        return `r${i.src} = atomic${b64}_fetch_${ATOMIC_ALU_STRING[a & 0xf0]}((${sz} *)(r${i.dst} ${sgn(i.off)}), r${i.src})`;
      }
      if (a === BPF_CMPXCHG) return `r0 = atomic${b64}_cmpxchg((${sz} *)(r${i.dst} ${sgn(i.off)}), r0, r${i.src})`;
      if (a === BPF_XCHG) return `r${i.src} = atomic${b64}_xchg((${sz} *)(r${i.dst} ${sgn(i.off)}), r${i.src})`;
    }
    return `BUG_${hexop}`;
  }
  if (c === BPF_ST) {
    if (mode(i.op) === BPF_MEM) return `*(${LDST_STRING[size(i.op)]} *)(r${i.dst} ${sgn(i.off)}) = ${i.imm}`;
    if (mode(i.op) === 0xc0) return 'nospec';
    return `BUG_st_${hexop}`;
  }
  if (c === BPF_LDX) {
    const m = mode(i.op);
    if (m !== BPF_MEM && m !== BPF_MEMSX) return `BUG_ldx_${hexop}`;
    const sz = m === BPF_MEM ? LDST_STRING[size(i.op)] : LDSX_STRING[size(i.op)];
    return `r${i.dst} = *(${sz} *)(r${i.src} ${sgn(i.off)})`;
  }
  if (c === BPF_LD) {
    const m = mode(i.op);
    if (m === BPF_ABS) return `r0 = *(${LDST_STRING[size(i.op)]} *)skb[${i.imm}]`;
    if (m === BPF_IND) return `r0 = *(${LDST_STRING[size(i.op)]} *)skb[r${i.src} + ${i.imm}]`;
    if (i.op === LDDW) return `r${i.dst} = ${lddwText(i, opts)}`;
    return `BUG_ld_${hexop}`;
  }
  // JMP / JMP32
  const op = aluOp(i.op);
  if (op === BPF_CALL) {
    const custom = opts.call?.(i);
    if (i.src === 1) return `call pc${custom ?? sgn(i.imm)}`;
    if (i.src === 2) return `call ${custom ?? 'kfunc'}#${i.imm}`;
    return `call ${custom ?? helperName(i.imm)}#${i.imm}`;
  }
  if (i.op === (BPF_JMP | BPF_JA)) return `goto pc${sgn(i.off)}`;
  if (i.op === (BPF_JMP | BPF_JCOND) && i.src === 0) return `may_goto pc${sgn(i.off)}`;
  if (i.op === (BPF_JMP32 | BPF_JA)) return `gotol pc${sgn(i.imm)}`;
  if (i.op === (BPF_JMP | BPF_EXIT)) return 'exit';
  const js = JMP_STRING[op];
  if (js === undefined || op === BPF_JA || op === BPF_EXIT || op === BPF_CALL) return CLASS_STRING[c]!;
  if (srcBit(i.op) === BPF_X) return `if ${w(i.dst)} ${js} ${w(i.src)} goto pc${sgn(i.off)}`;
  return `if ${w(i.dst)} ${js} ${hex32(i.imm)} goto pc${sgn(i.off)}`;
}

/** `pc: (op) text`, as in verifier logs and bpftool's xlated dump. */
export function formatLine(i: Insn, opts: DisasmOptions = {}): string {
  return formatLineAt(i.pc, i, opts);
}

/** formatLine for a record that does not carry its position. */
export function formatLineAt<I extends InsnCode>(pc: number, i: I, opts: DisasmOptions<I> = {}): string {
  return `${pc}: (${i.op.toString(16).padStart(2, '0')}) ${formatInsn(i, opts)}`;
}

/** Disassembles raw bytecode to one `pc: (op) text` line per instruction. */
export function disassemble(code: Uint8Array, opts: DisasmOptions = {}): string[] {
  return decode(code).map((i) => formatLine(i, opts));
}

