// Assembler for the kernel's instruction syntax (the text `formatInsn` prints), so programs can be written
// as text and disassembly can be read back. Accepts, per line:
//   - an optional `N:` slot number and `(xx)` opcode prefix, as in verifier logs and bpftool dumps (ignored,
//     but a given opcode must match the assembled one);
//   - comments after `;` or `//`; blank lines;
//   - labels (`out:`) usable in place of `pc+N` in jumps and pseudo calls (a bpfvm extension).
// Immediates: ALU/ST immediates are decimal or hex; `rN = 0x...` (hex) is the 64-bit `lddw`, `rN = 5`
// (decimal) is a 64-bit mov, exactly as the kernel prints them. `rN = 0x5 ll` also forces lddw.

import { helperId } from '../helpers/ids.js';
import {
  BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_B, BPF_CALL, BPF_CMPXCHG, BPF_DW, BPF_END, BPF_EXIT,
  BPF_FETCH, BPF_H, BPF_IND, BPF_JA, BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_K, BPF_LD, BPF_LDX, BPF_MEM,
  BPF_MEMSX, BPF_MOV, BPF_NEG, BPF_ST, BPF_STX, BPF_TO_BE, BPF_TO_LE, BPF_W, BPF_X, BPF_XCHG, LDDW,
  encode, renumber, type Insn,
} from './isa.js';

export class BpfAsmError extends Error {
  override name = 'BpfAsmError';
  constructor(
    readonly line: number,
    readonly text: string,
    readonly detail: string,
  ) {
    super(`line ${line}: ${detail}: ${text.trim()}`);
  }
}

const ALU_OPS: Record<string, number> = {
  '+=': 0x00, '-=': 0x10, '*=': 0x20, '/=': 0x30, '|=': 0x40, '&=': 0x50, '<<=': 0x60, '>>=': 0x70,
  '%=': 0x90, '^=': 0xa0, '=': 0xb0, 's>>=': 0xc0, 's/=': 0x30, 's%=': 0x90,
};
const JMP_OPS: Record<string, number> = {
  '==': 0x10, '>': 0x20, '>=': 0x30, '&': 0x40, '!=': 0x50, 's>': 0x60, 's>=': 0x70, '<': 0xa0,
  '<=': 0xb0, 's<': 0xc0, 's<=': 0xd0,
};
const SIZES: Record<string, number> = { u8: BPF_B, u16: BPF_H, u32: BPF_W, u64: BPF_DW };
const SX_SIZES: Record<string, number> = { s8: BPF_B, s16: BPF_H, s32: BPF_W };
const ATOMIC_OPS: Record<string, number> = { add: 0x00, and: 0x50, or: 0x40, xor: 0xa0 };

const REG = String.raw`([rw])(\d+)`;
const NUM = String.raw`([-+]?(?:0x[0-9a-fA-F]+|\d+))`;
const MEM = String.raw`\(\s*r(\d+)\s*(?:([-+])\s*(\d+))?\s*\)`;
const TARGET = String.raw`(pc\s*[-+]\s*\d+|[A-Za-z_.$][\w.$]*)`;

function parseNum(s: string): bigint {
  const neg = s.startsWith('-');
  const body = s.replace(/^[-+]/, '');
  const v = BigInt(body);
  return neg ? -v : v;
}

interface Pending {
  insn: Insn;
  line: number;
  text: string;
  /** Label to resolve into off (jumps) or imm (gotol, pseudo call, func address). */
  label?: string;
  labelField?: 'off' | 'imm';
  expectOp?: number;
}

/** Assembles kernel-syntax text into instruction records. */
export function assembleInsns(source: string): Insn[] {
  const lines = source.split(/\r?\n/);
  const out: Pending[] = [];
  const labels = new Map<string, number>();
  let slot = 0;
  for (let ln = 0; ln < lines.length; ln++) {
    const raw = lines[ln]!;
    let t = raw.replace(/\/\/.*$/, '').replace(/;.*$/, '').trim();
    if (t === '') continue;
    // Labels: `name:` alone on a line (a number followed by ':' is a slot prefix instead).
    const lab = /^([A-Za-z_.$][\w.$]*):\s*(.*)$/.exec(t);
    if (lab && !/^\d/.test(lab[1]!)) {
      if (labels.has(lab[1]!)) throw new BpfAsmError(ln + 1, raw, `label "${lab[1]}" defined twice`);
      labels.set(lab[1]!, slot);
      t = lab[2]!.trim();
      if (t === '') continue;
    }
    let expectOp: number | undefined;
    const pre = /^(\d+)\s*:\s*(?:\(([0-9a-fA-F]{2})\)\s*)?(.*)$/.exec(t);
    if (pre) {
      if (pre[2] !== undefined) expectOp = parseInt(pre[2], 16);
      t = pre[3]!.trim();
    } else {
      const op = /^\(([0-9a-fA-F]{2})\)\s*(.*)$/.exec(t);
      if (op) {
        expectOp = parseInt(op[1]!, 16);
        t = op[2]!.trim();
      }
    }
    const p = parseLine(t, ln + 1, raw);
    if (expectOp !== undefined) p.expectOp = expectOp;
    if (p.expectOp !== undefined && p.expectOp !== p.insn.op) {
      throw new BpfAsmError(ln + 1, raw, `opcode prefix (${p.expectOp.toString(16).padStart(2, '0')}) does not match the instruction (${p.insn.op.toString(16).padStart(2, '0')})`);
    }
    p.insn.pc = slot;
    slot += p.insn.op === LDDW ? 2 : 1;
    out.push(p);
  }
  for (const p of out) {
    if (p.label === undefined) continue;
    const target = labels.get(p.label);
    if (target === undefined) throw new BpfAsmError(p.line, p.text, `unknown label "${p.label}"`);
    const rel = target - p.insn.pc - 1;
    if (p.labelField === 'off') {
      if (rel < -32768 || rel > 32767) throw new BpfAsmError(p.line, p.text, `jump to "${p.label}" does not fit in 16 bits`);
      p.insn.off = rel;
    } else p.insn.imm = rel;
  }
  return renumber(out.map((p) => p.insn));
}

/** Assembles kernel-syntax text into raw bytecode. */
export function assemble(source: string): Uint8Array {
  return encode(assembleInsns(source));
}

function reg(line: number, text: string, kind: string, n: string): number {
  const r = Number(n);
  if (r > 10) throw new BpfAsmError(line, text, `register ${kind}${n} does not exist`);
  return r;
}

function s32(line: number, text: string, v: bigint): number {
  if (v < -(2n ** 31n) || v > 2n ** 32n - 1n) throw new BpfAsmError(line, text, `immediate ${v} does not fit in 32 bits`);
  return Number(BigInt.asIntN(32, v));
}

function s16(line: number, text: string, v: number): number {
  if (v < -32768 || v > 32767) throw new BpfAsmError(line, text, `offset ${v} does not fit in 16 bits`);
  return v;
}

function memOff(line: number, text: string, sign: string | undefined, n: string | undefined): number {
  if (n === undefined) return 0;
  return s16(line, text, (sign === '-' ? -1 : 1) * Number(n));
}

function target(line: number, text: string, t: string, p: Pending, field: 'off' | 'imm'): number {
  const m = /^pc\s*([-+])\s*(\d+)$/.exec(t);
  if (m) {
    const v = (m[1] === '-' ? -1 : 1) * Number(m[2]);
    return field === 'off' ? s16(line, text, v) : s32(line, text, BigInt(v));
  }
  p.label = t;
  p.labelField = field;
  return 0;
}

function mk(op: number, dst = 0, src = 0, off = 0, imm = 0): Insn {
  return { pc: 0, op, dst, src, off, imm };
}

function parseLine(t: string, line: number, raw: string): Pending {
  const p: Pending = { insn: mk(0), line, text: raw };
  const fail = (why: string): never => {
    throw new BpfAsmError(line, raw, why);
  };
  let m: RegExpExecArray | null;
  t = t.replace(/\s+/g, ' ');

  if (t === 'exit') return { ...p, insn: mk(BPF_JMP | BPF_EXIT) };
  if ((m = /^call (.+)$/.exec(t))) {
    const arg = m[1]!.trim();
    let mm: RegExpExecArray | null;
    if ((mm = /^pc(.+)$/.exec(arg)) && /^\s*[-+]\s*\d+$/.test(mm[1]!)) {
      p.insn = mk(BPF_JMP | BPF_CALL, 0, 1, 0, target(line, raw, arg, p, 'imm'));
      return p;
    }
    if ((mm = /^kfunc#(-?\d+)$/.exec(arg))) {
      p.insn = mk(BPF_JMP | BPF_CALL, 0, 2, 0, s32(line, raw, BigInt(mm[1]!)));
      return p;
    }
    if ((mm = /^([\w.]+)#(-?\d+)$/.exec(arg))) {
      p.insn = mk(BPF_JMP | BPF_CALL, 0, 0, 0, s32(line, raw, BigInt(mm[2]!)));
      return p;
    }
    if (/^-?\d+$/.test(arg)) {
      p.insn = mk(BPF_JMP | BPF_CALL, 0, 0, 0, s32(line, raw, BigInt(arg)));
      return p;
    }
    const id = helperId(arg);
    if (id !== undefined) {
      p.insn = mk(BPF_JMP | BPF_CALL, 0, 0, 0, id);
      return p;
    }
    // A label: bpf-to-bpf call.
    if (/^[A-Za-z_.$][\w.$]*$/.test(arg)) {
      p.insn = mk(BPF_JMP | BPF_CALL, 0, 1, 0, target(line, raw, arg, p, 'imm'));
      return p;
    }
    return fail('cannot parse call target');
  }
  if ((m = new RegExp(`^goto ${TARGET}$`).exec(t))) {
    p.insn = mk(BPF_JMP | BPF_JA, 0, 0, target(line, raw, m[1]!, p, 'off'), 0);
    return p;
  }
  if ((m = new RegExp(`^gotol ${TARGET}$`).exec(t))) {
    p.insn = mk(BPF_JMP32 | BPF_JA, 0, 0, 0, target(line, raw, m[1]!, p, 'imm'));
    return p;
  }
  if ((m = new RegExp(`^may_goto ${TARGET}$`).exec(t))) {
    p.insn = mk(BPF_JMP | BPF_JCOND, 0, 0, target(line, raw, m[1]!, p, 'off'), 0);
    return p;
  }
  if ((m = new RegExp(`^if ${REG} (s?[<>]=?|==|!=|&) (?:${REG}|${NUM}) goto ${TARGET}$`).exec(t))) {
    const cls = m[1] === 'w' ? BPF_JMP32 : BPF_JMP;
    const op = JMP_OPS[m[3]!];
    if (op === undefined) return fail(`unknown comparison ${m[3]}`);
    const dst = reg(line, raw, m[1]!, m[2]!);
    if (m[4] !== undefined) {
      if (m[4] !== m[1]) fail('both operands of a comparison must be r or both w');
      p.insn = mk(cls | op | BPF_X, dst, reg(line, raw, m[4], m[5]!), 0, 0);
    } else {
      p.insn = mk(cls | op | BPF_K, dst, 0, 0, s32(line, raw, parseNum(m[6]!)));
    }
    p.insn.off = target(line, raw, m[7]!, p, 'off');
    return p;
  }
  if ((m = new RegExp(`^lock \\*\\((u32|u64) \\*\\)${MEM} (\\+=|&=|\\|=|\\^=) r(\\d+)$`).exec(t))) {
    const aop = ALU_OPS[m[5]!]!;
    p.insn = mk(BPF_STX | BPF_ATOMIC | SIZES[m[1]!]!, reg(line, raw, 'r', m[2]!), reg(line, raw, 'r', m[6]!), memOff(line, raw, m[3], m[4]), aop);
    return p;
  }
  if ((m = new RegExp(`^r(\\d+) = atomic(64)?_(fetch_(add|and|or|xor)|xchg|cmpxchg)\\(\\((u32|u64) \\*\\)${MEM},(?: r0,)? r(\\d+)\\)$`).exec(t))) {
    const sz = SIZES[m[5]!]!;
    if ((m[2] === '64') !== (sz === BPF_DW)) fail('atomic64 goes with u64 and atomic with u32');
    let imm: number;
    if (m[3] === 'xchg') imm = BPF_XCHG;
    else if (m[3] === 'cmpxchg') imm = BPF_CMPXCHG;
    else imm = ATOMIC_OPS[m[4]!]! | BPF_FETCH;
    const srcReg = reg(line, raw, 'r', m[9]!);
    // cmpxchg names r0 as its comparand (`..., r0, rS)`); the other atomics must not.
    if (/\), r0, r\d+\)$/.test(t) !== (m[3] === 'cmpxchg')) fail(m[3] === 'cmpxchg' ? 'cmpxchg takes `r0, rS`' : 'only cmpxchg takes an r0 comparand');
    const lhs = Number(m[1]);
    if (m[3] === 'cmpxchg' ? lhs !== 0 : lhs !== srcReg) fail('the result register of an atomic must be its source register (r0 for cmpxchg)');
    p.insn = mk(BPF_STX | BPF_ATOMIC | sz, reg(line, raw, 'r', m[6]!), srcReg, memOff(line, raw, m[7], m[8]), imm);
    return p;
  }
  if ((m = new RegExp(`^\\*\\((u8|u16|u32|u64) \\*\\)${MEM} = (?:r(\\d+)|${NUM})$`).exec(t))) {
    const sz = SIZES[m[1]!]!;
    const dst = reg(line, raw, 'r', m[2]!);
    const off = memOff(line, raw, m[3], m[4]);
    if (m[5] !== undefined) p.insn = mk(BPF_STX | BPF_MEM | sz, dst, reg(line, raw, 'r', m[5]), off, 0);
    else p.insn = mk(BPF_ST | BPF_MEM | sz, dst, 0, off, s32(line, raw, parseNum(m[6]!)));
    return p;
  }
  if ((m = new RegExp(`^r(\\d+) = \\*\\((u8|u16|u32|u64|s8|s16|s32) \\*\\)${MEM}$`).exec(t))) {
    const sx = m[2]!.startsWith('s');
    const sz = sx ? SX_SIZES[m[2]!]! : SIZES[m[2]!]!;
    p.insn = mk(BPF_LDX | (sx ? BPF_MEMSX : BPF_MEM) | sz, reg(line, raw, 'r', m[1]!), reg(line, raw, 'r', m[3]!), memOff(line, raw, m[4], m[5]), 0);
    return p;
  }
  if ((m = new RegExp(`^r0 = \\*\\((u8|u16|u32) \\*\\)skb\\[(?:r(\\d+) \\+ )?${NUM}\\]$`).exec(t))) {
    const sz = SIZES[m[1]!]!;
    const imm = s32(line, raw, parseNum(m[3]!));
    if (m[2] !== undefined) p.insn = mk(BPF_LD | BPF_IND | sz, 0, reg(line, raw, 'r', m[2]), 0, imm);
    else p.insn = mk(BPF_LD | BPF_ABS | sz, 0, 0, 0, imm);
    return p;
  }
  if ((m = /^r(\d+) = (be|le|bswap)(16|32|64) r(\d+)$/.exec(t))) {
    if (m[1] !== m[4]) fail('byte swap operates on one register');
    const d = reg(line, raw, 'r', m[1]!);
    const op = m[2] === 'bswap' ? BPF_ALU64 | BPF_END | BPF_TO_LE : BPF_ALU | BPF_END | (m[2] === 'be' ? BPF_TO_BE : BPF_TO_LE);
    p.insn = mk(op, d, 0, 0, Number(m[3]));
    return p;
  }
  if ((m = new RegExp(`^${REG} = -${REG}$`).exec(t))) {
    if (m[1] !== m[3] || m[2] !== m[4]) fail('negation operates on one register');
    p.insn = mk((m[1] === 'w' ? BPF_ALU : BPF_ALU64) | BPF_NEG, reg(line, raw, m[1]!, m[2]!));
    return p;
  }
  // lddw forms.
  if ((m = /^r(\d+) = map\[(fd|idx):(-?\d+)\](?:\[0\]\+(\d+))?$/.exec(t))) {
    const isValue = m[4] !== undefined;
    const src = m[2] === 'fd' ? (isValue ? 2 : 1) : isValue ? 6 : 5;
    p.insn = { pc: 0, op: LDDW, dst: reg(line, raw, 'r', m[1]!), src, off: 0, imm: s32(line, raw, BigInt(m[3]!)), imm64hi: isValue ? s32(line, raw, BigInt(m[4]!)) : 0, next: { op: 0, dst: 0, src: 0, off: 0 } };
    return p;
  }
  if ((m = /^r(\d+) = btf_id\[(-?\d+)\]$/.exec(t))) {
    p.insn = { pc: 0, op: LDDW, dst: reg(line, raw, 'r', m[1]!), src: 3, off: 0, imm: s32(line, raw, BigInt(m[2]!)), imm64hi: 0, next: { op: 0, dst: 0, src: 0, off: 0 } };
    return p;
  }
  if ((m = new RegExp(`^r(\\d+) = func\\[${TARGET}\\]$`).exec(t))) {
    p.insn = { pc: 0, op: LDDW, dst: reg(line, raw, 'r', m[1]!), src: 4, off: 0, imm: 0, imm64hi: 0, next: { op: 0, dst: 0, src: 0, off: 0 } };
    p.insn.imm = target(line, raw, m[2]!, p, 'imm');
    return p;
  }
  if ((m = /^r(\d+) = (-?0x[0-9a-fA-F]+|-?\d+)( ll)?$/.exec(t)) && (m[2]!.includes('0x') || m[3] !== undefined)) {
    let v = parseNum(m[2]!);
    if (v < -(2n ** 63n) || v > 2n ** 64n - 1n) fail('immediate does not fit in 64 bits');
    v = BigInt.asUintN(64, v);
    p.insn = {
      pc: 0, op: LDDW, dst: reg(line, raw, 'r', m[1]!), src: 0, off: 0,
      imm: Number(BigInt.asIntN(32, v & 0xffffffffn)), imm64hi: Number(BigInt.asIntN(32, v >> 32n)),
      next: { op: 0, dst: 0, src: 0, off: 0 },
    };
    return p;
  }
  // ALU: `rD op rS`, `rD = (s8)rS`, `rD op imm`.
  if ((m = new RegExp(`^${REG} (\\+=|-=|\\*=|/=|\\|=|&=|<<=|>>=|%=|\\^=|=|s>>=|s/=|s%=) (?:(\\(s8\\)|\\(s16\\)|\\(s32\\))?${REG}|${NUM})$`).exec(t))) {
    const is32 = m[1] === 'w';
    const cls = is32 ? BPF_ALU : BPF_ALU64;
    const opStr = m[3]!;
    const op = ALU_OPS[opStr]!;
    const dst = reg(line, raw, m[1]!, m[2]!);
    const signedDiv = opStr === 's/=' || opStr === 's%=' ? 1 : 0;
    if (m[5] !== undefined) {
      if (m[5] !== m[1]) fail('both operands must be r or both w');
      let off = signedDiv;
      if (m[4] !== undefined) {
        if (op !== BPF_MOV) fail('sign-extension casts go with =');
        off = Number(m[4].slice(2, -1));
        if (is32 && off === 32) fail('w registers take (s8) or (s16)');
      }
      p.insn = mk(cls | op | BPF_X, dst, reg(line, raw, m[5], m[6]!), off, 0);
    } else {
      if (m[4] !== undefined) fail('a sign-extension cast needs a register');
      const v = parseNum(m[7]!);
      // The kernel prints ALU immediates as signed decimals. A decimal above INT32_MAX would silently become a
      // negative (sign-extended) immediate, so only hex may spell the bit pattern.
      if (!/0x/i.test(m[7]!) && v > 2n ** 31n - 1n) fail(`immediate ${v} does not fit in a signed 32-bit immediate (write it in hex for the bit pattern, or use a 64-bit \`rN = 0x... ll\`)`);
      p.insn = mk(cls | op | BPF_K, dst, 0, signedDiv, s32(line, raw, v));
    }
    return p;
  }
  return fail('cannot parse instruction');
}

