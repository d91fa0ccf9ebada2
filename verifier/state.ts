// Register, stack and frame state of the symbolic executor, in the kernel's vocabulary (struct bpf_reg_state,
// struct bpf_stack_state, struct bpf_func_state, struct bpf_verifier_state). The model is the 6.x one that the
// 6.18 host uses: a pointer is a base type plus a fixed offset `off` (s32) plus a variable part tracked like a
// scalar (`s`: tnum + bounds); packet pointers carry `id` and `range`, maps carry the MapSpec.

import type { MapSpec } from '../src/spec.js';
import { formatScalar, formatScalarRanges, formatSnum, formatUnum, tnumStrn } from './format.js';
import { ScalarBounds, markKnown, markUnknown } from './scalar.js';
import { tnumIn, tnumIsConst, tnumIsUnknown } from './tnum.js';
import type { HistEntry } from './precision.js';

/** enum bpf_reg_type (base types only; PTR_MAYBE_NULL and friends are separate flags). */
export const enum RegType {
  NOT_INIT = 0,
  SCALAR_VALUE,
  PTR_TO_CTX,
  CONST_PTR_TO_MAP,
  PTR_TO_MAP_VALUE,
  PTR_TO_MAP_KEY,
  PTR_TO_STACK,
  PTR_TO_PACKET_META,
  PTR_TO_PACKET,
  PTR_TO_PACKET_END,
  PTR_TO_FLOW_KEYS,
  PTR_TO_SOCKET,
  PTR_TO_SOCK_COMMON,
  PTR_TO_TCP_SOCK,
  PTR_TO_TP_BUFFER,
  PTR_TO_XDP_SOCK,
  PTR_TO_BTF_ID,
  PTR_TO_MEM,
  PTR_TO_BUF,
  PTR_TO_FUNC,
}

/** reg_type_str names. */
export const REG_TYPE_NAMES: Record<number, string> = {
  [RegType.NOT_INIT]: '?',
  [RegType.SCALAR_VALUE]: 'scalar',
  [RegType.PTR_TO_CTX]: 'ctx',
  [RegType.CONST_PTR_TO_MAP]: 'map_ptr',
  [RegType.PTR_TO_MAP_VALUE]: 'map_value',
  [RegType.PTR_TO_MAP_KEY]: 'map_key',
  [RegType.PTR_TO_STACK]: 'fp',
  [RegType.PTR_TO_PACKET_META]: 'pkt_meta',
  [RegType.PTR_TO_PACKET]: 'pkt',
  [RegType.PTR_TO_PACKET_END]: 'pkt_end',
  [RegType.PTR_TO_FLOW_KEYS]: 'flow_keys',
  [RegType.PTR_TO_SOCKET]: 'sock',
  [RegType.PTR_TO_SOCK_COMMON]: 'sock_common',
  [RegType.PTR_TO_TCP_SOCK]: 'tcp_sock',
  [RegType.PTR_TO_TP_BUFFER]: 'tp_buffer',
  [RegType.PTR_TO_XDP_SOCK]: 'xdp_sock',
  [RegType.PTR_TO_BTF_ID]: 'ptr_',
  [RegType.PTR_TO_MEM]: 'mem',
  [RegType.PTR_TO_BUF]: 'buf',
  [RegType.PTR_TO_FUNC]: 'func',
};

/** Special packet ranges (enum bpf_pkt_ranges... negative markers). */
export const AT_PKT_END = -1;
export const BEYOND_PKT_END = -2;

/** RegState's flag bits. */
const B_MAYBE_NULL = 1;
const B_PRECISE = 2;
const B_LINKED = 4;
const B_LINK32 = 8;
const B_ALIASED = 16;

/**
 * A register: its bounds (var_off, smin..u32max) are the inherited ScalarBounds fields, so a register is one
 * object (states are copied at every branch and pruning point; fewer objects means less garbage-collector
 * work). `s` is the register itself seen as its scalar part (the value, or the variable part of a pointer).
 */
export class RegState extends ScalarBounds {
  // set in the constructor (not by field initialisers, which a copy would run only to overwrite them)
  declare type: RegType;
  /**
   * maybeNull, precise, linked, link32 and aliased as bits of one field: registers are copied at every branch
   * and pruning point, and are most of an explored state's memory.
   */
  declare private bits: number;
  /** Fixed offset of a pointer (reg->off). */
  declare off: number;
  declare id: number;
  declare refObjId: number;
  /** Packet range (PTR_TO_PACKET*), or mem_size. */
  declare range: number;
  declare map: MapSpec | null;
  /** PTR_TO_STACK: frame the pointer points into. */
  declare frameno: number;
  /** Scalars: BPF_ADD_CONST link (`r2 = r1; r2 += K` keeps id with delta `linkOff`). */
  declare linkOff: number;

  /** An uninitialised register (NOT_INIT), or a copy of `src` (not aliased, whatever `src` is). */
  constructor(src?: RegState) {
    super(src);
    if (src === undefined) {
      this.type = RegType.NOT_INIT;
      this.bits = 0;
      this.off = 0;
      this.id = 0;
      this.refObjId = 0;
      this.range = 0;
      this.map = null;
      this.frameno = 0;
      this.linkOff = 0;
    } else {
      this.type = src.type;
      this.bits = src.bits & ~B_ALIASED;
      this.off = src.off;
      this.id = src.id;
      this.refObjId = src.refObjId;
      this.range = src.range;
      this.map = src.map;
      this.frameno = src.frameno;
      this.linkOff = src.linkOff;
    }
  }

  private setBit(bit: number, v: boolean): void {
    this.bits = v ? this.bits | bit : this.bits & ~bit;
  }

  /** Scalar value, or the variable part of a pointer (this register's own bounds). */
  get s(): ScalarBounds {
    return this;
  }

  /** PTR_MAYBE_NULL. */
  get maybeNull(): boolean {
    return (this.bits & B_MAYBE_NULL) !== 0;
  }
  set maybeNull(v: boolean) {
    this.setBit(B_MAYBE_NULL, v);
  }

  get precise(): boolean {
    return (this.bits & B_PRECISE) !== 0;
  }
  set precise(v: boolean) {
    this.setBit(B_PRECISE, v);
  }

  /** Scalars: BPF_ADD_CONST link (`r2 = r1; r2 += K` keeps id with delta `linkOff`). */
  get linked(): boolean {
    return (this.bits & B_LINKED) !== 0;
  }
  set linked(v: boolean) {
    this.setBit(B_LINKED, v);
  }

  /** The link came from a 32-bit add/sub (BPF_ADD_CONST32: the delta is applied to the low half, zero-extended). */
  get link32(): boolean {
    return (this.bits & B_LINK32) !== 0;
  }
  set link32(v: boolean) {
    this.setBit(B_LINK32, v);
  }

  /**
   * Held by more than one explored state (snapshot() and share() reuse unchanged registers): such a register
   * is copied before it is marked precise. Not part of the register's value (copyFrom and identical skip it).
   */
  get aliased(): boolean {
    return (this.bits & B_ALIASED) !== 0;
  }
  set aliased(v: boolean) {
    this.setBit(B_ALIASED, v);
  }

  override clone(): RegState {
    return new RegState(this);
  }

  copyFrom(o: RegState): this {
    this.type = o.type;
    this.bits = (o.bits & ~B_ALIASED) | (this.bits & B_ALIASED);
    this.off = o.off;
    this.setBounds(o);
    this.id = o.id;
    this.refObjId = o.refObjId;
    this.range = o.range;
    this.map = o.map;
    this.frameno = o.frameno;
    this.linkOff = o.linkOff;
    return this;
  }

  /** Every field equal to `o`'s (bounds by value; keep in step with copyFrom). */
  identical(o: RegState): boolean {
    return this.type === o.type && ((this.bits ^ o.bits) & ~B_ALIASED) === 0 && this.off === o.off && this.id === o.id &&
      this.refObjId === o.refObjId && this.range === o.range && this.map === o.map && this.frameno === o.frameno &&
      this.linkOff === o.linkOff && this.equals(o);
  }

  isPointer(): boolean {
    return this.type !== RegType.NOT_INIT && this.type !== RegType.SCALAR_VALUE;
  }

  isPkt(): boolean {
    return this.type === RegType.PTR_TO_PACKET || this.type === RegType.PTR_TO_PACKET_META;
  }

  /** True for a scalar known to be exactly `v` (for the bounds alone: tnumIsConst(r.s.varOff)). */
  override isConst(v?: bigint): boolean {
    return this.type === RegType.SCALAR_VALUE && tnumIsConst(this.s.varOff) && (v === undefined || this.s.varOff.value === v);
  }
}

export function markNotInit(r: RegState): void {
  r.type = RegType.NOT_INIT;
  r.maybeNull = false;
  r.off = 0;
  markUnknown(r.s);
  r.id = 0;
  r.refObjId = 0;
  r.range = 0;
  r.map = null;
  r.frameno = 0;
  r.precise = false;
  r.linked = false;
  r.linkOff = 0;
  r.link32 = false;
}

/** __mark_reg_unknown: an unbounded scalar. */
export function markRegUnknown(r: RegState): void {
  markNotInit(r);
  r.type = RegType.SCALAR_VALUE;
}

export function markRegKnown(r: RegState, v: bigint): void {
  markNotInit(r);
  r.type = RegType.SCALAR_VALUE;
  markKnown(r.s, v);
}

/** A pointer with offset 0 and a known-zero variable part. */
export function markPtr(r: RegState, type: RegType): void {
  markNotInit(r);
  r.type = type;
  markKnown(r.s, 0n);
}

/**
 * PTR_TO_MEM | MEM_RINGBUF (bpf_ringbuf_reserve's result) is a PTR_TO_MEM that keeps its ring buffer map in
 * `map` (other PTR_TO_MEM registers have none).
 */
export function isRingbufMem(r: RegState): boolean {
  return r.type === RegType.PTR_TO_MEM && r.map !== null;
}

export function regTypeStr(r: RegState): string {
  const base = isRingbufMem(r) ? 'ringbuf_mem' : REG_TYPE_NAMES[r.type] ?? '?';
  return r.maybeNull ? (r.type === RegType.PTR_TO_BTF_ID ? 'ptr_or_null_' : base + '_or_null') : base;
}

// ---- stack ---------------------------------------------------------------------------------------------

export const enum Slot {
  INVALID = 0,
  SPILL = 1,
  MISC = 2,
  ZERO = 3,
}
export const SLOT_CHARS = ['?', 'r', 'm', '0'];

export class StackSlot {
  /** slot_type[0..7]; index 0 is the highest address of the slot. */
  types: number[];
  spilled: RegState;
  /** Held by more than one explored state (see RegState.aliased). */
  aliased = false;

  /** An invalid slot, or (for copies) the given types and spilled register. */
  constructor(types: number[] = [0, 0, 0, 0, 0, 0, 0, 0], spilled: RegState = new RegState()) {
    this.types = types;
    this.spilled = spilled;
  }

  clone(): StackSlot {
    return new StackSlot(this.types.slice(), new RegState(this.spilled));
  }

  /** Same slot types and spilled register as `o`. */
  identical(o: StackSlot): boolean {
    for (let j = 0; j < 8; j++) if (this.types[j] !== o.types[j]) return false;
    return this.spilled.identical(o.spilled);
  }

  isSpill(): boolean {
    return this.types[7] === Slot.SPILL;
  }

  fullSpill(): boolean {
    for (let i = 0; i < 8; i++) if (this.types[i] !== Slot.SPILL) return false;
    return true;
  }
}

/** The stack of an explored state that has none (never grown: explored states are not modified). */
const EMPTY_STACK: StackSlot[] = Object.freeze([]) as unknown as StackSlot[];
/** Placeholder until a copy sets its registers. */
const NO_REGS: RegState[] = Object.freeze([]) as unknown as RegState[];
/** The reference list of an explored state that holds none. */
const EMPTY_REFS: Ref[] = Object.freeze([]) as unknown as Ref[];

export class FuncState {
  regs: RegState[];
  /** stack[spi] covers fp-8*(spi+1) .. fp-8*spi-1. */
  stack: StackSlot[];
  frameno = 0;
  /** Insn index of the call in the caller (for frames > 0). */
  callsite = -1;
  subprog = 0;
  /** A sync callback's frame (in_callback_fn, printed ` cb`) / an async (timer) callback's frame 0 (` async_cb`). */
  inCallbackFn = false;
  inAsyncCallbackFn = false;
  asyncEntryCnt = 0;
  /** callback_ret_range: the values R0 may hold at the callback's exit. */
  cbRetMin = 0;
  cbRetMax = 0;
  /** callback_depth: callback visits pushed from this frame along the path (bpf_loop's iteration limit). */
  callbackDepth = 0;

  /** `init`: eleven fresh registers and an empty stack; otherwise the caller sets both (copies). */
  constructor(init = true) {
    if (init) {
      const regs: RegState[] = new Array<RegState>(11);
      for (let i = 0; i < 11; i++) regs[i] = new RegState();
      this.regs = regs;
    } else {
      this.regs = NO_REGS;
    }
    this.stack = init ? [] : EMPTY_STACK;
  }

  clone(): FuncState {
    const f = new FuncState(false);
    // map() makes arrays of the exact length (push() would reserve room for 17 elements)
    f.regs = this.regs.map((r) => r.clone());
    f.stack = this.stack.map((s) => s.clone());
    f.copyFrameInfo(this);
    return f;
  }

  /**
   * clone() for a copy that nobody modifies: registers and slots identical to `prev`'s are shared with it, and
   * an empty stack is one shared frozen array (explored states are most of a long verification's memory).
   */
  snapshot(prev: FuncState | undefined): FuncState {
    const f = new FuncState(false);
    const regs = this.regs;
    const pregs = prev?.regs;
    const nr: RegState[] = new Array<RegState>(regs.length);
    for (let i = 0; i < regs.length; i++) {
      const r = regs[i]!;
      const p = pregs?.[i];
      if (p !== undefined && p.identical(r)) {
        p.aliased = true;
        nr[i] = p;
      } else {
        nr[i] = r.clone();
      }
    }
    f.regs = nr;
    if (this.stack.length === 0) {
      f.stack = EMPTY_STACK;
    } else {
      const pstack = prev?.stack;
      f.stack = this.stack.map((s, i) => {
        const p = pstack?.[i];
        if (p !== undefined && p.identical(s)) {
          p.aliased = true;
          return p;
        }
        return s.clone();
      });
    }
    f.copyFrameInfo(this);
    return f;
  }

  /** snapshot(prev) in place: registers and stack slots identical to `prev`'s are replaced by `prev`'s objects. */
  share(prev: FuncState | undefined): void {
    if (prev === undefined) return;
    for (let i = 0; i < this.regs.length; i++) {
      const p = prev.regs[i];
      if (p !== undefined && p.identical(this.regs[i]!)) {
        p.aliased = true;
        this.regs[i] = p;
      }
    }
    for (let i = 0; i < this.stack.length; i++) {
      const p = prev.stack[i];
      if (p !== undefined && p.identical(this.stack[i]!)) {
        p.aliased = true;
        this.stack[i] = p;
      }
    }
  }

  /** Undo share(prev) or snapshot(prev): copy the registers and stack slots shared with `prev` (to modify them). */
  unshare(prev: FuncState | undefined): void {
    if (prev === undefined) return;
    for (let i = 0; i < this.regs.length; i++) if (this.regs[i] === prev.regs[i]) this.regs[i] = this.regs[i]!.clone();
    for (let i = 0; i < this.stack.length; i++) if (this.stack[i] === prev.stack[i]) this.stack[i] = this.stack[i]!.clone();
  }

  /** Everything but the registers and the stack: frame number, call site, subprogram, callback bookkeeping. */
  copyFrameInfo(o: FuncState): void {
    this.frameno = o.frameno;
    this.callsite = o.callsite;
    this.subprog = o.subprog;
    this.inCallbackFn = o.inCallbackFn;
    this.inAsyncCallbackFn = o.inAsyncCallbackFn;
    this.asyncEntryCnt = o.asyncEntryCnt;
    this.cbRetMin = o.cbRetMin;
    this.cbRetMax = o.cbRetMax;
    this.callbackDepth = o.callbackDepth;
  }

  get allocatedStack(): number {
    return this.stack.length * 8;
  }

  growStack(bytes: number): void {
    const slots = Math.ceil(bytes / 8);
    while (this.stack.length < slots) this.stack.push(new StackSlot());
  }
}

export interface Ref {
  id: number;
  insnIdx: number;
  /** A bpf_spin_lock held (REF_TYPE_LOCK): the map whose value holds it (the id is the value pointer's). */
  lock?: MapSpec;
}

export class VerifierState {
  frames: FuncState[];
  refs: Ref[];
  /** Checkpoint this path descends from (kernel: st->parent). */
  parent: VerifierState | null = null;
  /** Unfinished paths descending from this checkpoint (kernel: st->branches). */
  branches = 0;
  insnIdx = 0;
  /** First instruction of this state's path segment (since its parent checkpoint), and the last one (checkpoints). */
  firstInsnIdx = 0;
  lastInsnIdx = -1;
  /** dfs_depth: checkpoints between the entry and this state (find_prev_entry looks for a shallower one). */
  dfsDepth = 0;
  /** callback_unroll_depth: sync callback visits this path went through (a loop across them is no infinite loop). */
  callbackUnrollDepth = 0;
  /** Newest entry of the jump history of the segment (precision back-tracking walks it backwards), and the count. */
  histTop: HistEntry | null = null;
  histLen = 0;
  /** As an explored state: how often it pruned a path, and how often it was compared in vain (eviction). */
  hit = 0;
  miss = 0;

  /** A state with these frames and references (fresh empty arrays by default). */
  constructor(frames: FuncState[] = [], refs: Ref[] = []) {
    this.frames = frames;
    this.refs = refs;
  }

  get cur(): FuncState {
    return this.frames[this.frames.length - 1]!;
  }

  clone(): VerifierState {
    // map() makes arrays of the exact length (push() would reserve room for 17 elements)
    const v = new VerifierState(this.frames.map((f) => f.clone()), this.copyRefs());
    this.copyStateInfo(v);
    // entries are shared, as the kernel's branches share its history array up to the fork
    v.histTop = this.histTop;
    v.histLen = this.histLen;
    return v;
  }

  /**
   * clone() for a copy whose registers and stack are never modified afterwards (an explored state kept for
   * pruning): registers and stack slots identical to those of `prev` (an earlier snapshot, or null) are shared
   * with it, so the many explored states of a long program hold far fewer objects.
   */
  snapshot(prev: VerifierState | null): VerifierState {
    const frames = this.frames;
    const nf: FuncState[] = new Array<FuncState>(frames.length);
    for (let i = 0; i < frames.length; i++) nf[i] = frames[i]!.snapshot(prev?.frames[i]);
    const v = new VerifierState(nf, this.refs.length === 0 ? EMPTY_REFS : this.copyRefs());
    this.copyStateInfo(v);
    // the caller starts a fresh history for the current state: the snapshot keeps this one
    v.histTop = this.histTop;
    v.histLen = this.histLen;
    return v;
  }

  private copyRefs(): Ref[] {
    return this.refs.map((r) => ({ ...r }));
  }

  /** Everything but the frames, the references and the jump history, onto `v`. */
  private copyStateInfo(v: VerifierState): void {
    v.parent = this.parent;
    v.branches = this.branches;
    v.insnIdx = this.insnIdx;
    v.firstInsnIdx = this.firstInsnIdx;
    v.lastInsnIdx = this.lastInsnIdx;
    v.dfsDepth = this.dfsDepth;
    v.callbackUnrollDepth = this.callbackUnrollDepth;
  }

  /**
   * snapshot(prev) in place, for a state nobody modifies until unshare(prev): registers and stack slots identical
   * to `prev`'s are replaced by `prev`'s objects.
   */
  share(prev: VerifierState): this {
    for (let i = 0; i < this.frames.length; i++) this.frames[i]!.share(prev.frames[i]);
    return this;
  }

  /**
   * Undo share(prev) or snapshot(prev) once nothing else refers to this state's own registers: copy only what is
   * shared with `prev`, so the state can be modified again.
   */
  unshare(prev: VerifierState): this {
    for (let i = 0; i < this.frames.length; i++) this.frames[i]!.unshare(prev.frames[i]);
    return this;
  }
}

// ---- printing (print_reg_state / print_verifier_state, kernel/bpf/log.c) --------------------------------

export function formatReg(r: RegState, curFrameno: number): string {
  if (r.type === RegType.SCALAR_VALUE) {
    return formatScalar(r.s, r.linked ? { id: r.id, precise: r.precise, addConstOff: r.linkOff } : { id: r.id, precise: r.precise });
  }
  let out = regTypeStr(r);
  if (r.type === RegType.PTR_TO_STACK) {
    if (r.frameno !== curFrameno) out += `[${r.frameno}]`;
    if (tnumIsConst(r.s.varOff)) return out + formatSnum(BigInt.asIntN(64, r.s.varOff.value + BigInt(r.off)));
  }
  const parts: string[] = [];
  if (r.id) parts.push(`id=${r.id}`);
  if (r.refObjId) parts.push(`ref_obj_id=${r.refObjId}`);
  if ((r.type === RegType.CONST_PTR_TO_MAP || r.type === RegType.PTR_TO_MAP_KEY || r.type === RegType.PTR_TO_MAP_VALUE) && r.map) {
    if (r.map.name) parts.push(`map=${kernelMapName(r.map.name)}`);
    parts.push(`ks=${r.map.keySize},vs=${r.map.valueSize}`);
  }
  if (r.off) parts.push(`off=${formatSnum(BigInt(r.off))}`);
  if (r.type === RegType.PTR_TO_PACKET || r.type === RegType.PTR_TO_PACKET_META) {
    parts.push(`r=${formatUnum(BigInt.asUintN(64, BigInt(r.range)))}`);
  }
  if (r.type === RegType.PTR_TO_MEM) parts.push(`sz=${formatUnum(BigInt(r.range))}`);
  if (tnumIsConst(r.s.varOff)) {
    if (r.s.varOff.value) parts.push(`imm=${formatSnum(BigInt.asIntN(64, r.s.varOff.value))}`);
  } else {
    const ranges = formatScalarRanges(r.s);
    if (ranges) parts.push(ranges);
    if (!tnumIsUnknown(r.s.varOff)) parts.push(`var_off=${tnumStrn(r.s.varOff)}`);
  }
  return `${out}(${parts.join(',')})`;
}

/** The kernel keeps BPF_OBJ_NAME_LEN - 1 = 15 characters of [A-Za-z0-9_.] of a map name. */
export function kernelMapName(name: string): string {
  return name.slice(0, 15);
}

/** Text of one stack slot (`fp-8=mmmmmmmm`, `fp-16=ctx()`), or null when it is all STACK_INVALID. */
export function formatSlot(f: FuncState, spi: number, curFrameno: number): string | null {
  const slot = f.stack[spi]!;
  let valid = false;
  let buf = '';
  for (let j = 0; j < 8; j++) {
    if (slot.types[j] !== Slot.INVALID) valid = true;
    buf += SLOT_CHARS[slot.types[j]!];
  }
  if (!valid) return null;
  const name = ` fp${-(spi + 1) * 8}`;
  if (slot.types[7] === Slot.SPILL) {
    let j = 0;
    while (j < 8 && slot.types[j] !== Slot.SPILL) j++;
    return `${name}=${buf.slice(0, j)}${formatReg(slot.spilled, curFrameno)}`;
  }
  return `${name}=${buf}`;
}

/** Scratch marks: which registers / stack slots to print after an instruction (print_all = false). */
export class Scratch {
  regs = 0;
  stack = 0n;
  all(): void {
    this.regs = 0x7ff;
    this.stack = (1n << 64n) - 1n;
  }
  clear(): void {
    this.regs = 0;
    this.stack = 0n;
  }
  any(): boolean {
    return this.regs !== 0 || this.stack !== 0n;
  }
}

export function formatState(st: VerifierState, frameno: number, scratch: Scratch | null): string {
  const f = st.frames[frameno]!;
  let out = '';
  if (f.frameno) out += ` frame${f.frameno}:`;
  for (let i = 0; i < 11; i++) {
    const r = f.regs[i]!;
    if (r.type === RegType.NOT_INIT) continue;
    if (scratch && !(scratch.regs & (1 << i))) continue;
    out += ` R${i}=${formatReg(r, f.frameno)}`;
  }
  for (let spi = 0; spi < f.stack.length; spi++) {
    if (scratch && !((scratch.stack >> BigInt(spi)) & 1n)) continue;
    const t = formatSlot(f, spi, f.frameno);
    if (t !== null) out += t;
  }
  const refs = st.refs.filter((r) => r.id);
  if (refs.length) out += ` refs=${refs.map((r) => r.id).join(',')}`;
  if (f.inCallbackFn) out += ' cb';
  if (f.inAsyncCallbackFn) out += ' async_cb';
  return out;
}

// ---- state comparison for pruning (regsafe / stacksafe / states_equal) ---------------------------------

export class IdMap {
  // the kernel's idmap: an array of (old, cur) pairs searched linearly; a state holds few ids, and most
  // comparisons map none or one, where two small arrays beat two Maps (which are costly to allocate)
  private olds: number[] = [];
  private curs: number[] = [];
  /** Pairs in use (the arrays are kept between comparisons: reset() only forgets them). */
  private n = 0;
  check(oldId: number, curId: number): boolean {
    if (oldId === 0 && curId === 0) return true;
    if (oldId === 0 || curId === 0) return oldId === 0 ? true : false;
    const olds = this.olds;
    const curs = this.curs;
    for (let i = 0; i < this.n; i++) {
      if (olds[i] === oldId) return curs[i] === curId;
      if (curs[i] === curId) return false;
    }
    olds[this.n] = oldId;
    curs[this.n] = curId;
    this.n++;
    return true;
  }

  private tmpId = 0;

  /** Forget every pair (the same map serves one comparison after another). */
  reset(): this {
    this.n = 0;
    this.tmpId = 0;
    return this;
  }

  /** check_scalar_ids: a zero id on either side stands for a fresh id of its own (it matches anything unmapped). */
  checkScalar(oldId: number, curId: number): boolean {
    return this.check(oldId || --this.tmpId, curId || --this.tmpId);
  }
}

function rangeWithin(o: ScalarBounds, c: ScalarBounds): boolean {
  return o.umin <= c.umin && o.umax >= c.umax && o.smin <= c.smin && o.smax >= c.smax &&
    o.u32min <= c.u32min && o.u32max >= c.u32max && o.s32min <= c.s32min && o.s32max >= c.s32max;
}

function scalarsWithin(o: ScalarBounds, c: ScalarBounds): boolean {
  return rangeWithin(o, c) && tnumIn(o.varOff, c.varOff);
}

export function regsExact(o: RegState, c: RegState, idmap: IdMap): boolean {
  return o.type === c.type && o.maybeNull === c.maybeNull && o.off === c.off && o.range === c.range &&
    o.map === c.map && o.frameno === c.frameno && o.s.equals(c.s) &&
    idmap.check(o.id, c.id) && idmap.check(o.refObjId, c.refObjId);
}

/**
 * regsafe (NOT_EXACT): every behaviour allowed in `c` was allowed in `o`. An old scalar that is not precise
 * accepts any current scalar (nothing after this point depended on its value, see precision.ts);
 * `allPrecise` (no bpf_capable: the kernel marks every scalar precise) compares them all.
 */
export function regsafe(o: RegState, c: RegState, idmap: IdMap, allPrecise = false): boolean {
  if (o.type === RegType.NOT_INIT) return true;
  if (c.type === RegType.NOT_INIT) return false;
  if (o.type === RegType.SCALAR_VALUE) {
    if (c.type !== RegType.SCALAR_VALUE) return false;
    if (!o.precise && !allPrecise) return true;
    // scalar ids link registers that a comparison refines together: keep the relation
    if (o.linked !== c.linked && (o.linked || o.id)) return false;
    if (o.linked && (o.linkOff !== c.linkOff || o.link32 !== c.link32)) return false;
    if (!idmap.checkScalar(o.id, c.id)) return false;
    return scalarsWithin(o.s, c.s);
  }
  if (o.type !== c.type || o.maybeNull !== c.maybeNull) return false;
  switch (o.type) {
    case RegType.PTR_TO_MAP_VALUE:
      if (o.maybeNull) return regsExact(o, c, idmap);
      return o.off === c.off && o.map === c.map && idmap.check(o.id, c.id) && scalarsWithin(o.s, c.s);
    case RegType.PTR_TO_PACKET:
    case RegType.PTR_TO_PACKET_META:
      if (o.range > c.range) return false;
      if (o.off !== c.off) return false;
      if (!idmap.check(o.id, c.id)) return false;
      return scalarsWithin(o.s, c.s);
    default:
      return regsExact(o, c, idmap);
  }
}

/** The imprecise unbounded scalar that an all-STACK_MISC slot reads as (the kernel's unbound_reg). */
const UNBOUND_REG = (() => {
  const r = new RegState();
  markRegUnknown(r);
  return r;
})();

/** scalar_reg_for_stack: a 64-bit spilled scalar, or the unbounded scalar of an all-misc slot. */
function scalarRegForStack(s: StackSlot, allowUninit: boolean): RegState | null {
  let spill = true;
  let misc = true;
  for (let j = 0; j < 8; j++) {
    const t = s.types[j]!;
    if (t !== Slot.SPILL) spill = false;
    if (!(t === Slot.MISC || (t === Slot.INVALID && allowUninit))) misc = false;
  }
  if (spill && s.spilled.type === RegType.SCALAR_VALUE) return s.spilled;
  return misc ? UNBOUND_REG : null;
}

/**
 * Whether stack slot `spi` (0..63) is in a live-slot mask given as two 32-bit halves (`lo`: slots 0..31, `hi`:
 * 32..63; -1, -1: every slot).
 */
export function slotLive(lo: number, hi: number, spi: number): boolean {
  return ((spi < 32 ? lo >>> spi : hi >>> (spi - 32)) & 1) !== 0;
}

/**
 * stacksafe (NOT_EXACT), byte by byte over the old stack, as the kernel walks it. `liveLo`/`liveHi`: the slots
 * that may still be read (see slotLive); the others are ignored, as the kernel clears dead slots of the
 * explored state.
 */
export function stacksafe(o: FuncState, c: FuncState, idmap: IdMap, allowUninit: boolean, allPrecise = false, liveLo = -1, liveHi = -1): boolean {
  const n = o.stack.length * 8;
  for (let i = 0; i < n; i++) {
    const spi = i >> 3;
    const j = i & 7;
    if (!slotLive(liveLo, liveHi, spi)) {
      i += 7 - j;
      continue;
    }
    const os = o.stack[spi]!;
    const ot = os.types[j]!;
    if (ot === Slot.INVALID) continue;
    if (allowUninit && ot === Slot.MISC) continue;
    if (spi >= c.stack.length) return false;
    const cs = c.stack[spi]!;
    const oReg = scalarRegForStack(os, allowUninit);
    const cReg = oReg ? scalarRegForStack(cs, allowUninit) : null;
    if (oReg && cReg) {
      if (!regsafe(oReg, cReg, idmap, allPrecise && oReg !== UNBOUND_REG)) return false;
      i += 7;
      continue;
    }
    const ct = cs.types[j]!;
    if (ot === Slot.MISC && ct === Slot.ZERO) continue;
    if (ot !== ct) return false;
    if (j !== 7) continue;
    if (ot === Slot.SPILL && !regsafe(os.spilled, cs.spilled, idmap, allPrecise)) return false;
  }
  return true;
}

/** statesEqual's id map (not re-entered: regsafe and stacksafe never compare states). */
const SHARED_IDMAP = new IdMap();

/**
 * states_equal for pruning. `live(frameIdx)` gives the bitmask of registers live at the current insn for each
 * frame (callers' frames: live before their call instruction); `stackLiveLo`/`stackLiveHi` the main frame's stack
 * slots that may still be read (see stacksafe); `rangeWithin` (RANGE_WITHIN) compares every scalar, precise or not.
 */
export function statesEqual(o: VerifierState, c: VerifierState, live: (frame: number) => number, allowUninit: boolean, stackLiveLo = -1, stackLiveHi = -1, rangeWithin = false,
): boolean {
  if (o.frames.length !== c.frames.length) return false;
  if (o.refs.length !== c.refs.length) return false;
  const idmap = SHARED_IDMAP.reset();
  for (let i = 0; i < o.refs.length; i++) if (!idmap.check(o.refs[i]!.id, c.refs[i]!.id) || o.refs[i]!.lock !== c.refs[i]!.lock) return false;
  for (let fi = 0; fi < o.frames.length; fi++) {
    const of = o.frames[fi]!;
    const cf = c.frames[fi]!;
    if (of.callsite !== cf.callsite) return false;
    const mask = live(fi);
    for (let r = 0; r < 11; r++) {
      if (!(mask & (1 << r))) continue;
      if (!regsafe(of.regs[r]!, cf.regs[r]!, idmap, !allowUninit || rangeWithin)) return false;
    }
    if (!stacksafe(of, cf, idmap, allowUninit, !allowUninit || rangeWithin, fi === 0 ? stackLiveLo : -1, fi === 0 ? stackLiveHi : -1)) return false;
  }
  return true;
}

/** same_callsites: the same chain of call sites. */
export function sameCallsites(a: VerifierState, b: VerifierState): boolean {
  if (a.frames.length !== b.frames.length) return false;
  for (let i = 0; i < a.frames.length; i++) if (a.frames[i]!.callsite !== b.frames[i]!.callsite) return false;
  return true;
}

/** EXACT comparison (infinite-loop detection). */
export function statesExact(o: VerifierState, c: VerifierState): boolean {
  if (o.frames.length !== c.frames.length || o.refs.length !== c.refs.length) return false;
  const idmap = new IdMap();
  for (let fi = 0; fi < o.frames.length; fi++) {
    const of = o.frames[fi]!;
    const cf = c.frames[fi]!;
    if (of.callsite !== cf.callsite) return false;
    for (let r = 0; r < 11; r++) {
      const a = of.regs[r]!;
      const b = cf.regs[r]!;
      if (a.type === RegType.NOT_INIT && b.type === RegType.NOT_INIT) continue;
      if (!regsExact(a, b, idmap)) return false;
    }
    const n = Math.max(of.stack.length, cf.stack.length);
    for (let spi = 0; spi < n; spi++) {
      const a = of.stack[spi];
      const b = cf.stack[spi];
      for (let j = 0; j < 8; j++) if ((a?.types[j] ?? 0) !== (b?.types[j] ?? 0)) return false;
      if (a && b && a.types[7] === Slot.SPILL && !regsExact(a.spilled, b.spilled, idmap)) return false;
    }
  }
  return true;
}

export { markKnown };
