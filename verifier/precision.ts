// Precision back-tracking (the kernel's mark_chain_precision / backtrack_insn / propagate_precision, Linux 6.18).
//
// The executor assumes exact scalar knowledge at every instruction, but an explored state only needs a scalar to
// be *precise* when some later decision depended on its value: a branch decided by the scalar, a pointer moved by
// it, a helper size/constant argument, a return-value check, a zero written to the stack, a constant map key.
// At such a point the executor asks `markReg(regno)`: the instructions of the current state are walked backwards
// through its jump history (which instruction came before which, and which stack slot a spill/fill touched),
// narrowing the set of registers and stack slots that carry the dependency, then the same is done in the parent
// (checkpoint) state, marking those registers/slots `precise` there, and so on until the set is empty.
// States comparison (regsafe in state.ts) ignores imprecise scalars; a pruned path hands the precise marks of the
// state it matched to its own parents (`propagate`).
//
// Level-2 log lines, in the kernel's format:
//   mark_precise: frame0: last_idx 11 first_idx 9 subseq_idx -1
//   mark_precise: frame0: regs=r0 stack= before 10: (b4) w0 = 0
//   mark_precise: frame0: parent state regs=r0 stack=:  R0=P1 R10=fp0
//   frame 0: propagating r6,fp-8
//   mark_precise: frame0: falling back to forcing all scalars precise / force_precise: frame0: forcing r1 to be precise

import {
  BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_END, BPF_EXIT, BPF_FETCH, BPF_IMM, BPF_IND, BPF_JMP,
  BPF_JMP32, BPF_LD, BPF_LDX, BPF_MOV, BPF_NEG, BPF_ST, BPF_STX, BPF_X, MAX_CALL_FRAMES, aluOp, cls, mode, srcBit,
  type InsnCode, isPseudoCall,
} from '../vm/isa.js';
import { BPF_LOG_LEVEL2, type VLog } from './log.js';
import { RegType, Slot, formatState, slotLive, type FuncState, type VerifierState } from './state.js';

/** Instruction history flags (INSN_F_*): a stack spill/fill (frame and slot), a jump comparing stack pointers. */
export const INSN_F_FRAMENO_MASK = 0x7;
export const INSN_F_SPI_SHIFT = 3;
export const INSN_F_SPI_MASK = 0x3f;
export const INSN_F_STACK_ACCESS = 1 << 9;
export const INSN_F_DST_REG_STACK = 1 << 10;
export const INSN_F_SRC_REG_STACK = 1 << 11;

export function stackAccessFlags(frameno: number, spi: number): number {
  return INSN_F_STACK_ACCESS | (spi << INSN_F_SPI_SHIFT) | frameno;
}

/** A register or spilled stack slot linked to others through a shared scalar id at a conditional jump. */
export interface LinkedReg {
  frameno: number;
  /** Register number, or stack slot index (spi) when !isReg. */
  index: number;
  isReg: boolean;
}

/** The kernel keeps at most LINKED_REGS_MAX linked registers per jump; others lose their id. */
export const LINKED_REGS_MAX = 6;

/** struct bpf_insn_hist_entry: a non-sequential step (jump, call, return) or a stack access of the state's path. */
export interface HistEntry {
  idx: number;
  prevIdx: number;
  flags: number;
  linked: LinkedReg[] | null;
  /**
   * The entry before this one in the same path segment (null: the segment's first). A state holds only its
   * newest entry; a copied state shares the older entries, as the kernel's branches share their history up
   * to the fork.
   */
  prev: HistEntry | null;
}

/** What the back-tracker needs from the executor. */
export interface PrecisionHost {
  readonly slots: InsnCode[];
  readonly log: VLog;
  /** bpf_capable: without it every scalar is precise and no back-tracking happens. */
  readonly priv: boolean;
  readonly cur: VerifierState;
  readonly insnIdx: number;
  /** Sync callback calls (bpf_calls_callback). */
  readonly callsCallback: Uint8Array;
  /** The instruction as the log prints it (`(b4) w0 = 0`, lddw operands as in the main log). */
  insnText(pc: number): string;
}

const REGMASK_ARGS = 0x3e;

class BacktrackError extends Error {}

/**
 * struct backtrack_state: per frame, the registers and stack slots still looking for their origin. A frame has
 * at most 64 stack slots (512 bytes); their mask is kept as two 32-bit halves (no bigint work on the hot path).
 */
class Backtrack {
  frame = 0;
  regs = new Int32Array(MAX_CALL_FRAMES);
  /** Slots 0..31 and 32..63 of each frame. */
  stackLo = new Int32Array(MAX_CALL_FRAMES);
  stackHi = new Int32Array(MAX_CALL_FRAMES);

  reset(): void {
    this.frame = 0;
    this.regs.fill(0);
    this.stackLo.fill(0);
    this.stackHi.fill(0);
  }

  empty(): boolean {
    for (let i = 0; i <= this.frame; i++) if (this.regs[i] || this.stackLo[i] || this.stackHi[i]) return false;
    return true;
  }

  isReg(r: number, fr = this.frame): boolean {
    return (this.regs[fr]! & (1 << r)) !== 0;
  }

  setReg(r: number, fr = this.frame): void {
    this.regs[fr]! |= 1 << r;
  }

  clearReg(r: number, fr = this.frame): void {
    this.regs[fr]! &= ~(1 << r);
  }

  /** Any stack slot of frame `fr` wanted. */
  hasSlots(fr: number): boolean {
    return (this.stackLo[fr]! | this.stackHi[fr]!) !== 0;
  }

  /** One past the highest wanted slot of frame `fr` (0: none). */
  slotEnd(fr: number): number {
    const hi = this.stackHi[fr]!;
    if (hi) return 64 - Math.clz32(hi);
    const lo = this.stackLo[fr]!;
    return lo ? 32 - Math.clz32(lo) : 0;
  }

  /** The stack mask of frame `fr` as the kernel prints it. */
  stackMask(fr: number): bigint {
    return (BigInt(this.stackHi[fr]! >>> 0) << 32n) | BigInt(this.stackLo[fr]! >>> 0);
  }

  isSlot(spi: number, fr: number): boolean {
    return ((spi < 32 ? this.stackLo[fr]! : this.stackHi[fr]!) & (1 << (spi & 31))) !== 0;
  }

  setSlot(spi: number, fr: number): void {
    if (spi < 32) this.stackLo[fr]! |= 1 << spi;
    else this.stackHi[fr]! |= 1 << (spi & 31);
  }

  clearSlot(spi: number, fr: number): void {
    if (spi < 32) this.stackLo[fr]! &= ~(1 << spi);
    else this.stackHi[fr]! &= ~(1 << (spi & 31));
  }

  subprogEnter(): void {
    if (this.frame === MAX_CALL_FRAMES - 1) throw new BacktrackError(`BUG subprog enter from frame ${this.frame}`);
    this.frame++;
  }

  subprogExit(): void {
    if (this.frame === 0) throw new BacktrackError('BUG subprog exit from frame 0');
    this.frame--;
  }
}

/** fmt_reg_mask: `r0,r2,r4`. */
function fmtRegMask(mask: number): string {
  const out: string[] = [];
  for (let i = 0; i < 32; i++) if (mask & (1 << i)) out.push(`r${i}`);
  return out.join(',');
}

/** fmt_stack_mask: `-8,-24`. */
function fmtStackMask(mask: bigint): string {
  const out: string[] = [];
  for (let i = 0; mask >> BigInt(i); i++) if ((mask >> BigInt(i)) & 1n) out.push(String(-(i + 1) * 8));
  return out.join(',');
}

function isSpilledScalar(st: { types: number[]; spilled: { type: RegType } }): boolean {
  return st.types[7] === Slot.SPILL && st.spilled.type === RegType.SCALAR_VALUE;
}

/**
 * Marks register `i` of an explored state's frame precise. Explored states share unchanged registers with each
 * other: a shared one is replaced by a marked private copy.
 */
function markRegPrecise(f: FuncState, i: number): void {
  const r = f.regs[i]!;
  if (r.aliased) {
    const c = r.clone();
    c.precise = true;
    f.regs[i] = c;
  } else {
    r.precise = true;
  }
}

/** markRegPrecise for the scalar spilled in stack slot `spi`. */
function markSlotPrecise(f: FuncState, spi: number): void {
  const s = f.stack[spi]!;
  if (s.aliased) {
    const c = s.clone();
    c.spilled.precise = true;
    f.stack[spi] = c;
  } else {
    s.spilled.precise = true;
  }
}

const isAtomicFetch = (i: InsnCode): boolean => cls(i.op) === BPF_STX && mode(i.op) === BPF_ATOMIC && (i.imm & BPF_FETCH) !== 0;

export class Precision {
  private bt = new Backtrack();

  constructor(private readonly host: PrecisionHost) {}

  private get level2(): boolean {
    return (this.host.log.level & BPF_LOG_LEVEL2) !== 0;
  }

  /** mark_chain_precision(regno): `regno` of the current frame must be precise in every parent state. */
  markReg(regno: number): void {
    if (regno < 0) return;
    this.bt.reset();
    this.bt.frame = this.host.cur.frames.length - 1;
    const r = this.host.cur.cur.regs[regno]!;
    if (r.type !== RegType.SCALAR_VALUE) return;
    this.bt.setReg(regno);
    this.run();
  }

  /** A constant map key spilled on the stack (get_constant_map_key): that slot must be precise. */
  markSlot(frameno: number, spi: number): void {
    this.bt.reset();
    this.bt.setSlot(spi, frameno);
    this.run();
  }

  /**
   * propagate_precision: the current state was found equivalent to `old`; whatever `old` needed precise, the
   * current path needs precise too (in its parents). `live(frame)`: the registers live at this point (the kernel
   * has cleared the dead ones of `old` before comparing).
   */
  propagate(old: VerifierState, live: (frame: number) => number, liveLo0 = -1, liveHi0 = -1): void {
    this.bt.reset();
    const log = this.host.log;
    for (let fr = old.frames.length - 1; fr >= 0; fr--) {
      const f = old.frames[fr]!;
      let first = true;
      const liveRegs = live(fr);
      for (let i = 0; i < 10; i++) {
        const r = f.regs[i]!;
        if (r.type !== RegType.SCALAR_VALUE || !r.precise || !(liveRegs & (1 << i))) continue;
        if (this.level2) log.verbose(first ? `frame ${fr}: propagating r${i}` : `,r${i}`);
        this.bt.setReg(i, fr);
        first = false;
      }
      for (let i = 0; i < f.stack.length; i++) {
        const s = f.stack[i]!;
        if (!isSpilledScalar(s) || !s.spilled.precise) continue;
        if (fr === 0 && !slotLive(liveLo0, liveHi0, i)) continue;
        if (this.level2) log.verbose(first ? `frame ${fr}: propagating fp${(-i - 1) * 8}` : `,fp${(-i - 1) * 8}`);
        this.bt.setSlot(i, fr);
        first = false;
      }
      if (!first && this.level2) log.verbose('\n');
    }
    this.run();
  }

  /** mark_all_scalars_imprecise: a new checkpoint forgets the marks it inherited (children re-mark what they need). */
  static markAllImprecise(st: VerifierState): void {
    for (const f of st.frames) {
      for (let j = 0; j < 10; j++) {
        const r = f.regs[j]!;
        if (r.type === RegType.SCALAR_VALUE) r.precise = false;
      }
      for (const s of f.stack) if (isSpilledScalar(s)) s.spilled.precise = false;
    }
  }

  /** __mark_chain_precision with the masks in this.bt (bt.frame = the current frame). */
  private run(): void {
    const host = this.host;
    const bt = this.bt;
    if (!host.priv) {
      bt.reset();
      return;
    }
    bt.frame = host.cur.frames.length - 1;
    if (bt.empty()) return;
    let st: VerifierState | null = host.cur;
    let firstIdx = st.firstInsnIdx;
    let lastIdx = host.insnIdx;
    let subseqIdx = -1;
    let skipFirst = true;
    const log = host.log;
    try {
      for (;;) {
        if (this.level2) log.verbose(`mark_precise: frame${bt.frame}: last_idx ${lastIdx} first_idx ${firstIdx} subseq_idx ${subseqIdx} \n`);
        if (lastIdx < 0) {
          throw new BacktrackError(`BUG backtracking func entry subprog ${st.frames[0]!.subprog} reg_mask ${bt.regs[bt.frame]!.toString(16)} stack_mask ${bt.stackMask(bt.frame).toString(16)}`);
        }
        // the newest history entry not yet walked past
        let top = st.histTop;
        for (let i = lastIdx; ;) {
          if (skipFirst) {
            skipFirst = false;
          } else {
            const h = top !== null && top.idx === i ? top : null;
            if (!this.backtrackInsn(i, subseqIdx, h)) {
              this.markAllScalarsPrecise(host.cur);
              bt.reset();
              return;
            }
          }
          if (bt.empty()) return;
          subseqIdx = i;
          // get_prev_insn_idx
          if (i === st.firstInsnIdx && (top === null || (top.prev === null && top.idx === i))) break;
          if (top !== null && top.idx === i) {
            i = top.prevIdx;
            top = top.prev;
          } else {
            i = i - 1;
          }
          if (i < 0 || i >= host.slots.length) throw new BacktrackError(`BUG backtracking idx ${i}`);
        }
        st = st.parent;
        if (!st) break;
        for (let fr = bt.frame; fr >= 0; fr--) {
          const func = st.frames[fr]!;
          for (let i = 0; i < 32; i++) {
            if (!bt.isReg(i, fr)) continue;
            const r = func.regs[i]!;
            if (r.type !== RegType.SCALAR_VALUE || r.precise) {
              bt.clearReg(i, fr);
              continue;
            }
            markRegPrecise(func, i);
          }
          for (let i = 0, end = bt.slotEnd(fr); i < end; i++) {
            if (!bt.isSlot(i, fr)) continue;
            if (i >= func.stack.length) {
              throw new BacktrackError(`BUG backtracking (stack slot ${i}, total slots ${func.stack.length})`);
            }
            const s = func.stack[i]!;
            if (!isSpilledScalar(s) || s.spilled.precise) {
              bt.clearSlot(i, fr);
              continue;
            }
            markSlotPrecise(func, i);
          }
          if (this.level2) {
            log.verbose(`mark_precise: frame${fr}: parent state regs=${fmtRegMask(bt.regs[fr]!)} stack=${fmtStackMask(bt.stackMask(fr))}: ` +
              formatState(st, fr, null) + '\n');
          }
        }
        if (bt.empty()) return;
        subseqIdx = firstIdx;
        lastIdx = st.lastInsnIdx;
        firstIdx = st.firstInsnIdx;
      }
    } catch (e) {
      if (!(e instanceof BacktrackError)) throw e;
      // the kernel reports a verifier bug here (-EFAULT); bpfvm stays sound by forcing everything precise
      log.verbose(e.message + '\n');
      this.markAllScalarsPrecise(host.cur);
      bt.reset();
      return;
    }
    // registers or slots still wanted and no parent left (e.g. stack access through a non-r10 register)
    if (!bt.empty()) {
      this.markAllScalarsPrecise(host.cur);
      bt.reset();
    }
  }

  /** mark_all_scalars_precise: the big hammer, for every parent of `st` (not `st` itself). */
  private markAllScalarsPrecise(cur: VerifierState): void {
    const log = this.host.log;
    if (this.level2) log.verbose(`mark_precise: frame${cur.frames.length - 1}: falling back to forcing all scalars precise\n`);
    for (let st = cur.parent; st; st = st.parent) {
      for (let i = 0; i < st.frames.length; i++) {
        const f = st.frames[i]!;
        for (let j = 0; j < 10; j++) {
          const r = f.regs[j]!;
          if (r.type !== RegType.SCALAR_VALUE || r.precise) continue;
          markRegPrecise(f, j);
          if (this.level2) log.verbose(`force_precise: frame${i}: forcing r${j} to be precise\n`);
        }
        for (let j = 0; j < f.stack.length; j++) {
          const s = f.stack[j]!;
          if (!isSpilledScalar(s) || s.spilled.precise) continue;
          markSlotPrecise(f, j);
          if (this.level2) log.verbose(`force_precise: frame${i}: forcing fp${-(j + 1) * 8} to be precise\n`);
        }
      }
    }
  }

  /** bt_sync_linked_regs: one linked register wanted means all of them are. */
  private syncLinked(h: HistEntry | null): void {
    if (!h || !h.linked) return;
    const bt = this.bt;
    let some = false;
    for (const e of h.linked) {
      if (e.isReg ? bt.isReg(e.index, e.frameno) : bt.isSlot(e.index, e.frameno)) {
        some = true;
        break;
      }
    }
    if (!some) return;
    for (const e of h.linked) {
      if (e.isReg) bt.setReg(e.index, e.frameno);
      else bt.setSlot(e.index, e.frameno);
    }
  }

  /**
   * backtrack_insn: turn "wanted after insn idx" into "wanted before insn idx". Returns false where the kernel
   * gives up (-ENOTSUPP) and forces all scalars precise.
   */
  private backtrackInsn(idx: number, subseqIdx: number, h: HistEntry | null): boolean {
    const host = this.host;
    const bt = this.bt;
    const insn = host.slots[idx]!;
    if (insn.op === 0) return true;
    if (this.level2) {
      host.log.verbose(`mark_precise: frame${bt.frame}: regs=${fmtRegMask(bt.regs[bt.frame]!)} stack=${fmtStackMask(bt.stackMask(bt.frame))} before ${host.insnText(idx)}\n`);
    }
    this.syncLinked(h);
    const c = cls(insn.op);
    const op = aluOp(insn.op);
    const dreg = insn.dst;
    const sreg = insn.src;
    if (c === BPF_ALU || c === BPF_ALU64) {
      if (!bt.isReg(dreg)) return true;
      if (op === BPF_END || op === BPF_NEG) return true;
      if (op === BPF_MOV) {
        bt.clearReg(dreg);
        if (srcBit(insn.op) === BPF_X && sreg !== 10) bt.setReg(sreg);
      } else if (srcBit(insn.op) === BPF_X && sreg !== 10) {
        bt.setReg(sreg);
      }
    } else if (c === BPF_LDX || isAtomicFetch(insn)) {
      const loadReg = c === BPF_LDX ? dreg : insn.imm === BPF_CMPXCHG ? 0 : sreg;
      if (!bt.isReg(loadReg)) return true;
      bt.clearReg(loadReg);
      // only a fill from the stack keeps the value's history
      if (!h || !(h.flags & INSN_F_STACK_ACCESS)) return true;
      bt.setSlot((h.flags >> INSN_F_SPI_SHIFT) & INSN_F_SPI_MASK, h.flags & INSN_F_FRAMENO_MASK);
    } else if (c === BPF_STX || c === BPF_ST) {
      // a scalar used as the address of a store: pointer subtraction somewhere, give up
      if (bt.isReg(dreg)) return false;
      if (!h || !(h.flags & INSN_F_STACK_ACCESS)) return true;
      const spi = (h.flags >> INSN_F_SPI_SHIFT) & INSN_F_SPI_MASK;
      const fr = h.flags & INSN_F_FRAMENO_MASK;
      if (!bt.isSlot(spi, fr)) return true;
      bt.clearSlot(spi, fr);
      if (c === BPF_STX) bt.setReg(sreg);
    } else if (c === BPF_JMP || c === BPF_JMP32) {
      if (isPseudoCall(insn)) {
        // static subprog call: we are leaving the callee, only r1-r5 can still be wanted
        if (bt.regs[bt.frame]! & ~REGMASK_ARGS) throw new BacktrackError(`BUG regs ${bt.regs[bt.frame]!.toString(16)}`);
        if (bt.hasSlots(bt.frame)) throw new BacktrackError(`BUG stack slots ${bt.stackMask(bt.frame).toString(16)}`);
        for (let i = 1; i <= 5; i++) {
          if (bt.isReg(i)) {
            bt.clearReg(i);
            bt.setReg(i, bt.frame - 1);
          }
        }
        bt.subprogExit();
        return true;
      }
      if (op === BPF_CALL && host.callsCallback[idx] && idx !== subseqIdx - 1) {
        // going back out of a callback's body to the helper that called it: r1-r5 were set by the helper
        if (bt.regs[bt.frame]! & ~REGMASK_ARGS) throw new BacktrackError(`BUG regs ${bt.regs[bt.frame]!.toString(16)}`);
        if (bt.hasSlots(bt.frame)) return false;
        for (let i = 1; i <= 5; i++) bt.clearReg(i);
        bt.subprogExit();
        return true;
      }
      if (op === BPF_CALL) {
        bt.clearReg(0);
        if (bt.regs[bt.frame]! & REGMASK_ARGS) throw new BacktrackError(`BUG regs ${bt.regs[bt.frame]!.toString(16)}`);
      } else if (op === BPF_EXIT) {
        const fromSubprogCall = subseqIdx - 1 >= 0 && isPseudoCall(host.slots[subseqIdx - 1]);
        const r0 = fromSubprogCall && bt.isReg(0);
        if (fromSubprogCall && bt.regs[bt.frame]! & REGMASK_ARGS) throw new BacktrackError(`BUG regs ${bt.regs[bt.frame]!.toString(16)}`);
        bt.clearReg(0);
        bt.subprogEnter();
        // an exit back to a callback-calling helper: the helper sets r1-r5 of the callback (the caller's r1-r5
        // stay wanted, as the host kernel's trace shows: it walks the callback body on to the call)
        if (subseqIdx >= 0 && host.callsCallback[subseqIdx]) for (let i = 1; i <= 5; i++) bt.clearReg(i);
        if (r0) bt.setReg(0);
        return true;
      } else if (srcBit(insn.op) === BPF_X) {
        if (!bt.isReg(dreg) && !bt.isReg(sreg)) return true;
        if (!h || !(h.flags & INSN_F_SRC_REG_STACK)) bt.setReg(sreg);
        if (!h || !(h.flags & INSN_F_DST_REG_STACK)) bt.setReg(dreg);
      }
    } else if (c === BPF_LD) {
      const m = mode(insn.op);
      if (m === BPF_IMM) {
        bt.clearReg(dreg);
        return true;
      }
      if (m === BPF_IND || m === BPF_ABS) {
        if (bt.isReg(dreg)) return false;
        if (subseqIdx !== idx + 1) bt.subprogEnter();
        return true;
      }
    }
    this.syncLinked(h);
    return true;
  }
}
