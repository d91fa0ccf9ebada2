// do_check: the symbolic executor. One path at a time, a stack of pending branches, per-instruction checks
// and transfer functions in the order of kernel/bpf/verifier.c (Linux 6.18, the 6.x pointer model with a fixed
// `off` per pointer), a kernel-format log, and state pruning at the prune points of structure.ts.
//
// Precision: back-tracking as the kernel does it (precision.ts): each state keeps its jump history; a scalar that
// a decision relied on (decided branch, pointer offset, helper size/constant argument, return-value check, zero
// stored on the stack, constant map key, tail-call index) is traced back and marked precise in the parent states;
// regsafe ignores imprecise scalars; a pruned path propagates the matched state's precise marks. Register
// liveness (compute_live_registers) is computed and used; stack liveness is a conservative static version of
// 6.18's (stackliveness.ts: main frame of programs without bpf-to-bpf calls; otherwise every slot is compared).
// Checkpoints are stored and evicted with the kernel's heuristics (>= 2 jumps and 8
// insns since the last one, or a jump history longer than 40; miss_cnt > hit_cnt * 3 + 3 evicts; states of a loop
// still being explored only serve infinite-loop detection), so `processed N insns` equals the kernel's on every
// fixture program.
//
// Callbacks (push_callback_call) and bpf_spin_lock regions (process_spin_lock) are modelled as 6.18 does them (see
// pushCallbackCall, processExit, isStateVisited and processSpinLock).
//
// Not modelled yet (rejected with a bpfvm-specific message or approximated): kfunc calls, may_goto, the
// callbacks of bpf_user_ringbuf_drain and bpf_find_vma (dynptr / task arguments), global (BTF) subprograms
// (treated like static ones), dynptrs, BTF pointers, Spectre v1/v4 speculative-path simulation (the !root non-speculative sanitation
// checks are done), the tail-call fork inside subprograms (approximated: packet pointers are invalidated),
// and the level-2 stack-liveness debug lines.

import { helperCallMessage } from '../helpers/availability.js';
import { helperName } from '../helpers/ids.js';
import { protoFor, type ArgType, type HelperProto } from '../helpers/protos.js';
import type { MapSpec } from '../src/spec.js';
import { formatLineAt } from '../vm/disasm.js';
import {
  BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_DW, BPF_EXIT, BPF_FETCH, BPF_IND, BPF_JA,
  BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_K, BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL, BPF_ST, BPF_STX, BPF_TO_LE, BPF_W, BPF_X, BPF_XCHG, LDDW, aluOp, cls, decodeSlots, mode, size,
  sizeBytes, srcBit, type InsnCode,
  isPseudoCall, isPseudoFunc,
} from '../vm/isa.js';
import { ctxAccess, sockAccess, type CtxRegType, type SockRegType } from './ctx.js';
import { tnumStrn } from './format.js';
import { BPF_LOG_LEVEL, BPF_LOG_LEVEL1, BPF_LOG_LEVEL2, VLog, statsLine, vlogAlignment } from './log.js';
import {
  BPF_ADD, BPF_AND, BPF_ARSH, BPF_DIV, BPF_END, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JNE, BPF_LSH, BPF_MOD,
  BPF_MOV, BPF_NEG, BPF_OR, BPF_RSH, BPF_SUB, BPF_XOR, S64_MAX, S64_MIN, ScalarBounds, U64_MAX,
  adjustScalarMinMaxVals, coerceRegToSize, coerceRegToSizeSx, flipOpcode, isBranchTaken, invariantsViolationText,
  mark32Unbounded, regBoundsSync, regSetMinMax, regWidth, scalarAluInsn, boundsSanityCheck,
} from './scalar.js';
import {
  AT_PKT_END, BEYOND_PKT_END, FuncState, RegState, RegType, Scratch, Slot, VerifierState, formatState,
  markNotInit, markPtr, markRegKnown, markRegUnknown, regTypeStr, isRingbufMem, statesEqual, statesExact, type StackSlot,
  IdMap, kernelMapName, regsExact, sameCallsites,
} from './state.js';
import { LINKED_REGS_MAX, Precision, INSN_F_DST_REG_STACK, INSN_F_SRC_REG_STACK, stackAccessFlags, type HistEntry, type LinkedReg } from './precision.js';
import { computeStackLive } from './stackliveness.js';
import { ASYNC_CALLBACK_HELPERS, SYNC_CALLBACK_HELPERS, checkStructure, type StructureResult } from './structure.js';
import { tnumAdd, tnumConst, tnumIsAligned, tnumIsConst, tnumSub, tnumSubregIsConst } from './tnum.js';

const EINVAL = 22;
const EACCES = 13;
const E2BIG = 7;
const EFAULT = 14;

const MAX_BPF_STACK = 512;
const BPF_MAX_VAR_OFF = 1n << 29n;
const BPF_MAX_VAR_SIZ = 1n << 29n;
const MAX_PACKET_OFF = 0xffffn;
const MAX_CALL_FRAMES = 8;
const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;
const BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192;

// map types
const MT = {
  HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERF_EVENT_ARRAY: 4, PERCPU_HASH: 5, PERCPU_ARRAY: 6, STACK_TRACE: 7,
  CGROUP_ARRAY: 8, LRU_HASH: 9, LRU_PERCPU_HASH: 10, LPM_TRIE: 11, ARRAY_OF_MAPS: 12, HASH_OF_MAPS: 13, DEVMAP: 14,
  SOCKMAP: 15, CPUMAP: 16, XSKMAP: 17, SOCKHASH: 18, CGROUP_STORAGE: 19, REUSEPORT_SOCKARRAY: 20,
  PERCPU_CGROUP_STORAGE: 21, QUEUE: 22, STACK: 23, SK_STORAGE: 24, DEVMAP_HASH: 25, STRUCT_OPS: 26, RINGBUF: 27,
  INODE_STORAGE: 28, TASK_STORAGE: 29, BLOOM_FILTER: 30, USER_RINGBUF: 31, CGRP_STORAGE: 32, ARENA: 33,
} as const;

/** btf_field_type_name */
const FIELD_TYPE_NAME: Record<string, string> = {
  spin_lock: 'bpf_spin_lock', timer: 'bpf_timer', wq: 'bpf_wq', list_head: 'bpf_list_head', list_node: 'bpf_list_node',
  rb_root: 'bpf_rb_root', rb_node: 'bpf_rb_node', refcount: 'bpf_refcount',
};

/** Map types whose ops have map_set_for_each_callback_args (bpf_for_each_map_elem). */
const FOR_EACH_MAPS: ReadonlySet<number> = new Set([1, 2, 5, 6, 9, 10]);

const PT = { SOCKET_FILTER: 1, SCHED_CLS: 3, SCHED_ACT: 4, XDP: 6, CGROUP_SKB: 8, SOCK_OPS: 13, SK_SKB: 14, SK_MSG: 16 } as const;
const BPF_CGROUP_INET_EGRESS = 1;

const ALU_STRING: Record<number, string> = {
  0x00: '+=', 0x10: '-=', 0x20: '*=', 0x30: '/=', 0x40: '|=', 0x50: '&=', 0x60: '<<=', 0x70: '>>=', 0x80: 'neg',
  0x90: '%=', 0xa0: '^=', 0xb0: '=', 0xc0: 's>>=', 0xd0: 'endian',
};

export class VerifierError extends Error {
  constructor(readonly pc: number, message: string, readonly errno: number) {
    super(message);
  }
}

export interface CheckOptions {
  progType: number;
  attachType?: number;
  logLevel: number;
  privileged: boolean;
  maps: MapSpec[];
  license?: string;
  /** BTF line info (ProgramSpec.lineInfo, sorted by insnOff): source lines for the log, as verbose_linfo prints them. */
  lineInfo?: readonly LineInfo[];
}

export interface LineInfo {
  insnOff: number;
  file: string;
  line: number;
  col: number;
  source: string;
}

export interface CheckResult {
  ok: boolean;
  log: string;
  error: { pc: number; message: string } | null;
  errno: number;
  stats: { processed: number; states: number; peakStates: number; maxStatesPerInsn: number };
}

interface StackElem {
  st: VerifierState;
  insnIdx: number;
  prevInsnIdx: number;
  logPos: number;
  /** `st` shares registers and stack slots with the state below it (VerifierState.share): unshare before use. */
  shared: boolean;
}

interface ArgMeta {
  map: MapSpec | null;
  rawMode: boolean;
  accessSize: number;
  regno: number;
  constMapKey: number;
  refObjId: number;
  releaseRegno: number;
  /** ARG_CONST_ALLOC_SIZE_OR_ZERO: the size of the memory the helper returns. */
  memSize: number;
  /** ARG_PTR_TO_FUNC: the callback's first instruction (-1: none). */
  cbStart: number;
}

const CTX_REG_TYPES: Record<CtxRegType, [RegType, boolean]> = {
  scalar: [RegType.SCALAR_VALUE, false],
  pkt: [RegType.PTR_TO_PACKET, false],
  pkt_end: [RegType.PTR_TO_PACKET_END, false],
  pkt_meta: [RegType.PTR_TO_PACKET_META, false],
  sock: [RegType.PTR_TO_SOCKET, false],
  sock_or_null: [RegType.PTR_TO_SOCKET, true],
  sock_common: [RegType.PTR_TO_SOCK_COMMON, false],
  sock_common_or_null: [RegType.PTR_TO_SOCK_COMMON, true],
  tcp_sock: [RegType.PTR_TO_TCP_SOCK, false],
  tcp_sock_or_null: [RegType.PTR_TO_TCP_SOCK, true],
  xdp_sock: [RegType.PTR_TO_XDP_SOCK, false],
  flow_keys: [RegType.PTR_TO_FLOW_KEYS, false],
};

// compatible_reg_types (check_reg_type): [type, maybeNull] lists and their printed names.
const MEM_TYPES: [RegType, string][] = [
  [RegType.PTR_TO_STACK, 'fp'], [RegType.PTR_TO_PACKET, 'pkt'], [RegType.PTR_TO_PACKET_META, 'pkt_meta'],
  [RegType.PTR_TO_MAP_KEY, 'map_key'], [RegType.PTR_TO_MAP_VALUE, 'map_value'], [RegType.PTR_TO_MEM, 'mem'],
  [-1 as RegType, 'ringbuf_mem'], [RegType.PTR_TO_BUF, 'buf'], [-2 as RegType, 'trusted_ptr_'],
];
const COMPATIBLE: Record<string, [RegType, string][]> = {
  ARG_PTR_TO_MAP_KEY: MEM_TYPES,
  ARG_PTR_TO_MAP_VALUE: MEM_TYPES,
  ARG_PTR_TO_MEM: MEM_TYPES,
  ARG_CONST_SIZE: [[RegType.SCALAR_VALUE, 'scalar']],
  ARG_CONST_SIZE_OR_ZERO: [[RegType.SCALAR_VALUE, 'scalar']],
  ARG_CONST_ALLOC_SIZE_OR_ZERO: [[RegType.SCALAR_VALUE, 'scalar']],
  ARG_CONST_MAP_PTR: [[RegType.CONST_PTR_TO_MAP, 'map_ptr']],
  ARG_PTR_TO_CTX: [[RegType.PTR_TO_CTX, 'ctx']],
  ARG_PTR_TO_SOCK_COMMON: [[RegType.PTR_TO_SOCK_COMMON, 'sock_common'], [RegType.PTR_TO_SOCKET, 'sock'], [RegType.PTR_TO_TCP_SOCK, 'tcp_sock'], [RegType.PTR_TO_XDP_SOCK, 'xdp_sock']],
  ARG_PTR_TO_BTF_ID_SOCK_COMMON: [[RegType.PTR_TO_SOCK_COMMON, 'sock_common'], [RegType.PTR_TO_SOCKET, 'sock'], [RegType.PTR_TO_TCP_SOCK, 'tcp_sock'], [RegType.PTR_TO_XDP_SOCK, 'xdp_sock'], [RegType.PTR_TO_BTF_ID, 'ptr_'], [-2 as RegType, 'trusted_ptr_']],
  ARG_PTR_TO_SOCKET: [[RegType.PTR_TO_SOCKET, 'sock']],
  ARG_PTR_TO_STACK: [[RegType.PTR_TO_STACK, 'fp']],
  ARG_PTR_TO_FUNC: [[RegType.PTR_TO_FUNC, 'func']],
  ARG_PTR_TO_CONST_STR: [[RegType.PTR_TO_MAP_VALUE, 'map_value']],
  ARG_PTR_TO_TIMER: [[RegType.PTR_TO_MAP_VALUE, 'map_value']],
  ARG_PTR_TO_SPIN_LOCK: [[RegType.PTR_TO_MAP_VALUE, 'map_value']],
  ARG_PTR_TO_BTF_ID: [[RegType.PTR_TO_BTF_ID, 'ptr_']],
  ARG_PTR_TO_RINGBUF_MEM: [[-1 as RegType, 'ringbuf_mem']],
};

// ---- static register liveness (compute_live_registers) -------------------------------------------------

/** The registers an instruction reads (low 16 bits) and writes (high 16 bits). */
const ud = (use: number, def: number): number => use | (def << 16);

function insnUseDef(i: InsnCode, nextSlot: InsnCode | undefined, progType: number): number {
  const c = cls(i.op);
  const d = 1 << i.dst;
  const s = 1 << i.src;
  const CALLER = 0x3f;
  switch (c) {
    case BPF_ALU:
    case BPF_ALU64: {
      const op = aluOp(i.op);
      if (op === BPF_MOV) return ud(srcBit(i.op) === BPF_X ? s : 0, d);
      if (op === BPF_NEG || op === BPF_END) return ud(d, d);
      return ud(d | (srcBit(i.op) === BPF_X ? s : 0), d);
    }
    case BPF_LDX:
      return ud(s, d);
    case BPF_ST:
      return ud(d, 0);
    case BPF_STX:
      if (mode(i.op) === BPF_ATOMIC) {
        if (i.imm === BPF_CMPXCHG) return ud(d | s | 1, 1);
        if (i.imm & BPF_FETCH) return ud(d | s, s);
        return ud(d | s, 0);
      }
      return ud(d | s, 0);
    case BPF_LD:
      if (i.op === LDDW) return ud(0, d);
      // LD_ABS/IND may end the program (a failed load returns 0): the host kernel's dump shows r0-r9 live
      return ud(0x3ff, CALLER);
    case BPF_JMP:
    case BPF_JMP32: {
      const op = aluOp(i.op);
      if (op === BPF_EXIT) return ud(1, 0);
      if (op === BPF_JA) return ud(0, 0);
      if (op === BPF_CALL) {
        if (i.src === 0) {
          const p = protoFor(progType, i.imm);
          if (p) return ud(((1 << (p.args.length + 1)) - 1) & ~1, CALLER);
        }
        return ud(CALLER & ~1, CALLER);
      }
      if (op === BPF_JCOND) return ud(0, 0);
      return ud(d | (srcBit(i.op) === BPF_X ? s : 0), 0);
    }
  }
  void nextSlot;
  return ud(0, 0);
}

/**
 * insn_successors, in SUCC[0..count-1]: fallthrough first, then the jump target; none after exit; a call falls
 * through. Returns the count.
 */
const SUCC = new Int32Array(2);
function successorsOf(slots: InsnCode[], isInsn: Uint8Array, pc: number): number {
  if (!isInsn[pc]) return 0;
  const i = slots[pc]!;
  const c = cls(i.op);
  if (c === BPF_JMP || c === BPF_JMP32) {
    const op = aluOp(i.op);
    if (op === BPF_EXIT) return 0;
    if (op === BPF_CALL) {
      SUCC[0] = pc + 1;
      return 1;
    }
    if (op === BPF_JA) {
      SUCC[0] = c === BPF_JMP ? pc + i.off + 1 : pc + i.imm + 1;
      return 1;
    }
    SUCC[0] = pc + 1;
    SUCC[1] = pc + i.off + 1;
    return 2;
  }
  SUCC[0] = pc + (i.op === LDDW ? 2 : 1);
  return 1;
}

/**
 * compute_scc: strongly connected components of the instruction graph (Tarjan, roots in instruction order,
 * successors in insn_successors order). Only loops get a number (1, 2, ... in the order Tarjan completes
 * them); other instructions get 0. The level-2 log prints the number in front of the live-register dump.
 */
export function computeSccs(succ: SuccColumns, isInsn: Uint8Array, callsCallback?: Uint8Array): Int32Array {
  const { s0, s1 } = succ;
  const n = s0.length;
  const scc = new Int32Array(n);
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const work: [number, number][] = [];
  let next = 0;
  let sccId = 0;
  for (let root = 0; root < n; root++) {
    if (!isInsn[root] || index[root] !== -1) continue;
    work.push([root, 0]);
    index[root] = low[root] = next++;
    stack.push(root);
    onStack[root] = 1;
    while (work.length) {
      const top = work[work.length - 1]!;
      const v = top[0];
      if (top[1] < 2) {
        const w = top[1]++ === 0 ? s0[v]! : s1[v]!;
        if (w < 0 || w >= n) continue;
        if (index[w] === -1) {
          index[w] = low[w] = next++;
          stack.push(w);
          onStack[w] = 1;
          work.push([w, 0]);
        } else if (onStack[w]) {
          low[v] = Math.min(low[v]!, index[w]!);
        }
        continue;
      }
      work.pop();
      if (work.length) {
        const u = work[work.length - 1]![0];
        low[u] = Math.min(low[u]!, low[v]!);
      }
      if (low[v] !== index[v]) continue;
      const members: number[] = [];
      let w: number;
      do {
        w = stack.pop()!;
        onStack[w] = 0;
        members.push(w);
      } while (w !== v);
      // a sync callback call is an implicit loop (the callback may run any number of times)
      if (members.length > 1 || s0[v] === v || s1[v] === v || callsCallback?.[v]) {
        sccId++;
        for (const m of members) scc[m] = sccId;
      }
    }
  }
  return scc;
}

/**
 * Successors of every instruction as two columns (insn_successors order, -1: none): SuccColumns.s0 / s1. Built
 * once per verification and shared by the register and stack liveness passes (no array per instruction).
 */
export interface SuccColumns {
  s0: Int32Array;
  s1: Int32Array;
}

export function succColumns(slots: InsnCode[], isInsn: Uint8Array): SuccColumns {
  const n = slots.length;
  const both = new Int32Array(2 * n).fill(-1);
  const s0 = both.subarray(0, n);
  const s1 = both.subarray(n);
  for (let pc = 0; pc < n; pc++) {
    const k = successorsOf(slots, isInsn, pc);
    if (k > 0) s0[pc] = SUCC[0]!;
    if (k > 1) s1[pc] = SUCC[1]!;
  }
  return { s0, s1 };
}

export function computeLiveRegs(slots: InsnCode[], isInsn: Uint8Array, progType: number, succ: SuccColumns = succColumns(slots, isInsn)): Uint16Array {
  const n = slots.length;
  const liveIn = new Uint16Array(n);
  const useDef = new Uint16Array(2 * n);
  const use = useDef.subarray(0, n);
  const def = useDef.subarray(n);
  const { s0, s1 } = succ;
  for (let pc = 0; pc < n; pc++) {
    if (!isInsn[pc]) continue;
    const ud = insnUseDef(slots[pc]!, slots[pc + 1], progType);
    use[pc] = ud & 0x3ff;
    def[pc] = (ud >>> 16) & 0x3ff;
  }
  let changed = true;
  while (changed) {
    changed = false;
    for (let pc = n - 1; pc >= 0; pc--) {
      if (!isInsn[pc]) continue;
      let out = 0;
      const t0 = s0[pc]!;
      const t1 = s1[pc]!;
      if (t0 >= 0 && t0 < n) out |= liveIn[t0]!;
      if (t1 >= 0 && t1 < n) out |= liveIn[t1]!;
      const v = use[pc]! | (out & ~def[pc]!);
      if (v !== liveIn[pc]) {
        liveIn[pc] = v;
        changed = true;
      }
    }
  }
  return liveIn;
}

/** Pointer names in check_ptr_alignment's "misaligned %saccess" message. */
const PTR_ALIGN_DESC: Partial<Record<RegType, string>> = {
  [RegType.PTR_TO_FLOW_KEYS]: 'flow keys ',
  [RegType.PTR_TO_MAP_KEY]: 'key ',
  [RegType.PTR_TO_MAP_VALUE]: 'value ',
  [RegType.PTR_TO_CTX]: 'context ',
  [RegType.PTR_TO_STACK]: 'stack ',
  [RegType.PTR_TO_SOCKET]: 'sock ',
  [RegType.PTR_TO_SOCK_COMMON]: 'sock_common ',
  [RegType.PTR_TO_TCP_SOCK]: 'tcp_sock ',
  [RegType.PTR_TO_XDP_SOCK]: 'xdp_sock ',
};

/** Kernel struct behind each map type (map_btf_id), named in check_ptr_to_map_access's messages. */
const MAP_STRUCT_NAME: Record<number, string> = {
  [MT.HASH]: 'bpf_htab', [MT.PERCPU_HASH]: 'bpf_htab', [MT.LRU_HASH]: 'bpf_htab', [MT.LRU_PERCPU_HASH]: 'bpf_htab',
  [MT.HASH_OF_MAPS]: 'bpf_htab', [MT.ARRAY]: 'bpf_array', [MT.PERCPU_ARRAY]: 'bpf_array', [MT.PROG_ARRAY]: 'bpf_array',
  [MT.PERF_EVENT_ARRAY]: 'bpf_array', [MT.CGROUP_ARRAY]: 'bpf_array', [MT.ARRAY_OF_MAPS]: 'bpf_array',
  [MT.SOCKMAP]: 'bpf_stab', [MT.SOCKHASH]: 'bpf_shtab', [MT.RINGBUF]: 'bpf_ringbuf_map',
  [MT.QUEUE]: 'bpf_queue_stack', [MT.STACK]: 'bpf_queue_stack', [MT.SK_STORAGE]: 'bpf_local_storage_map',
};

/** The linked registers of a jump whose operands carry no scalar id (none: no array per jump). */
const NO_LINKED_REGS: readonly LinkedReg[] = Object.freeze([]);

/** A packet pointer or pkt_end (the comparisons that teach packet ranges). */
const isPktOrEnd = (r: RegState): boolean => r.isPkt() || r.type === RegType.PTR_TO_PACKET_END;

// ---- the executor ----------------------------------------------------------------------------------------

export class Verifier {
  readonly slots: InsnCode[];
  readonly n: number;
  readonly log: VLog;
  readonly progType: number;
  readonly attachType: number;
  readonly priv: boolean;
  readonly maps: MapSpec[];
  structure!: StructureResult;
  live!: Uint16Array;
  cur!: VerifierState;
  insnIdx = 0;
  prevInsnIdx = -1;
  idGen = 0;
  processed = 0;
  jmpsProcessed = 0;
  prevJmpsProcessed = 0;
  prevInsnProcessed = 0;
  branchStack: StackElem[] = [];
  /** The latest state added to `explored` (snapshot() shares its unchanged registers). */
  private lastExplored: VerifierState | null = null;
  /** Explored states by bucket (an array: a program has states at up to thousands of indices). */
  explored: (VerifierState[] | undefined)[] = [];
  totalStates = 0;
  curStates = 0;
  /** Evicted states still referenced (the kernel's free list; count for peak_states until freed). */
  private freeList = new Set<VerifierState>();
  /** Backedge states kept until their loop is done (count for peak_states). */
  private numBackedges = 0;
  peakStates = 0;
  maxStatesPerInsn = 0;
  scratch = new Scratch();
  subprogDepth: number[] = [];
  subprogOf!: Int32Array;
  private seenPtrType = new Map<number, number>();
  get callsCallback(): Uint8Array {
    return this.structure.callsCallback;
  }
  /** Precision back-tracking (precision.ts). */
  readonly precision = new Precision(this);
  /** Instructions reached by a jump, a call's return or a subprogram entry (is_jmp_point: recorded in the history). */
  private jmpPoint!: Uint8Array;
  /** SCC number per insn (level 2 only: the `SCC enter`/`SCC exit` lines) and the entry state of each visit. */
  private scc: Int32Array | null = null;
  private sccVisits = new Map<string, { entry: VerifierState; backedges: { st: VerifierState; equal: VerifierState }[] }>();
  /** Stack slots of the main frame that may still be read, two words per insn (stackliveness.ts); null: all. */
  private stackLive: Uint32Array | null = null;
  /** The history entry of the instruction being checked, if one was pushed (env->cur_hist_ent). */
  private curHistEnt: HistEntry | null = null;
  /** The instruction executed before the current one (env->prev_insn_idx while checking it). */
  private histPrevIdx = -1;
  /** tail calls: the constant index seen at each call insn (null: poisoned), the kernel's map_key_state. */
  private tailCallKey = new Map<number, bigint | null>();
  /** bpf_loop calls: still fit for inlining (flags zero on every path so far) and their callback. */
  private loopInline = new Map<number, { fit: boolean; cb: number }>();

  constructor(readonly code: Uint8Array, readonly opts: CheckOptions) {
    this.n = Math.floor(code.byteLength / 8);
    // one slot per bucket from the start: writes at scattered indices would turn a growing array into a
    // (much slower) dictionary
    this.explored = new Array<VerifierState[] | undefined>(this.n).fill(undefined);
    this.slots = decodeSlots(code);
    this.log = new VLog(opts.logLevel);
    this.progType = opts.progType;
    this.attachType = opts.attachType ?? 0;
    this.priv = opts.privileged;
    this.maps = opts.maps;
  }

  // -- errors and log --

  fail(message: string, errno = EACCES): never {
    this.log.verbose(message + '\n');
    throw new VerifierError(this.insnIdx, message, errno);
  }

  get regs(): RegState[] {
    return this.cur.cur.regs;
  }

  private printInsnState(frameno: number): void {
    const log = this.log;
    if (log.prevLogPos && log.prevLogPos === log.pos) {
      log.reset(log.prevLogPos - 1);
      log.verbose(' '.repeat(vlogAlignment(log.prevInsnPrintPos)) + ';');
    } else {
      log.verbose(`${this.insnIdx}:`);
    }
    log.verbose(formatState(this.cur, frameno, this.scratch) + '\n');
    this.scratch.clear();
  }

  private printAll(frameno: number): string {
    return formatState(this.cur, frameno, null) + '\n';
  }

  // -- register access checks (check_reg_arg) --

  private checkRegSrc(regno: number): RegState {
    if (regno >= 11) this.fail(`R${regno} is invalid`, EINVAL);
    this.scratch.regs |= 1 << regno;
    const r = this.regs[regno]!;
    if (r.type === RegType.NOT_INIT) this.fail(`R${regno} !read_ok`);
    return r;
  }

  /** DST_OP (mark=true: the register becomes an unknown scalar) / DST_OP_NO_MARK. */
  private checkRegDst(regno: number, mark: boolean): RegState {
    if (regno >= 11) this.fail(`R${regno} is invalid`, EINVAL);
    this.scratch.regs |= 1 << regno;
    if (regno === 10) this.fail('frame pointer is read only');
    const r = this.regs[regno]!;
    if (mark) markRegUnknown(r);
    return r;
  }

  /** Known-constant bounds by value (instruction immediates recur; copying them avoids the bigint work). */
  private knownCache = new Map<number, ScalarBounds>();
  /** The fake source register of K-form ALU and jump instructions (the kernel's on-stack `off_reg`/`src_reg`). */
  private immReg = new RegState();

  private knownBounds(v: number): ScalarBounds {
    let b = this.knownCache.get(v);
    if (!b) {
      b = ScalarBounds.known(BigInt(v));
      this.knownCache.set(v, b);
    }
    return b;
  }

  /** A scalar register holding the immediate `v` (a number: sign- or zero-extended as the caller wants). */
  private immScalar(v: number): RegState {
    const r = this.immReg;
    markNotInit(r);
    r.type = RegType.SCALAR_VALUE;
    r.s.setBounds(this.knownBounds(v));
    return r;
  }

  /** The last line-info record printed (env->prev_linfo): kept across paths, as in the kernel. */
  private prevLinfo: LineInfo | null = null;

  /**
   * verbose_linfo: print `<prefix><source line> @ <file>:<line>` for the line-info record covering `insnOff`
   * unless it is the one printed last or names the same file, line and source text (records that differ only in
   * the column are merged).
   */
  private verboseLinfo(insnOff: number, prefix: string): void {
    const li = this.opts.lineInfo;
    if (!this.log.enabled || !li || li.length === 0 || insnOff >= this.n) return;
    let lo = 0;
    let hi = li.length - 1;
    if (li[0]!.insnOff > insnOff) return;
    while (lo < hi) {
      const m = (lo + hi + 1) >> 1;
      if (li[m]!.insnOff <= insnOff) lo = m;
      else hi = m - 1;
    }
    const cur = li[lo]!;
    const prev = this.prevLinfo;
    if (cur === prev) return;
    if (prev && cur.source === prev.source && cur.line === prev.line && cur.file === prev.file) return;
    const slash = cur.file.lastIndexOf('/');
    this.log.verbose(`${prefix}${cur.source.replace(/^[ \t\n\v\f\r]+/, "")} @ ${slash >= 0 ? cur.file.slice(slash + 1) : cur.file}:${cur.line}\n`);
    this.prevLinfo = cur;
  }

  /**
   * A register copy links source and destination through a scalar id. A source without an id gets a fresh one;
   * so does a source that carries an add-const link (observed on the host kernel: `r0 = r3` with R3 id=1-6 gives
   * both a new plain id), since the copy cannot share that delta.
   */
  private needsFreshId(src: RegState): boolean {
    return (!src.id || src.linked) && !tnumIsConst(src.s.varOff);
  }

  private freshId(src: RegState): void {
    src.id = ++this.idGen;
    src.linked = false;
    src.linkOff = 0;
    src.link32 = false;
  }

  private clearScalarId(r: RegState): void {
    r.id = 0;
    r.linked = false;
    r.linkOff = 0;
    r.link32 = false;
  }

  private isPointerValue(r: RegState): boolean {
    return !this.priv && r.isPointer();
  }

  // -- main loop --

  run(): CheckResult {
    this.structure = checkStructure(this.code, { bpfCapable: true, decoded: this.slots });
    const stats = () => ({ processed: this.processed, maxStatesPerInsn: this.maxStatesPerInsn, totalStates: this.totalStates, peakStates: this.peakStates });
    const result = (err: VerifierError | null): CheckResult => {
      if (!err && this.log.level === BPF_LOG_LEVEL1) this.log.reset(0);
      if (this.log.enabled && !(err && err.errno === E2BIG && err.message === '')) this.log.verbose(statsLine(stats()));
      return {
        ok: err === null,
        log: this.log.text(),
        error: err ? { pc: err.pc, message: err.message } : null,
        errno: err ? err.errno : 0,
        stats: { processed: this.processed, states: this.totalStates, peakStates: this.peakStates, maxStatesPerInsn: this.maxStatesPerInsn },
      };
    };
    const se = this.structure.error;
    if (se) {
      if (se.message === '') return { ok: false, log: '', error: { pc: se.pc, message: '' }, errno: se.errno, stats: { processed: 0, states: 0, peakStates: 0, maxStatesPerInsn: 0 } };
      this.log.verbose(se.message + '\n');
      return result(new VerifierError(se.pc, se.message, se.errno));
    }
    this.subprogOf = new Int32Array(this.n);
    this.structure.subprogs.forEach((sp, k) => {
      for (let pc = sp.start; pc < sp.end; pc++) this.subprogOf[pc] = k;
      this.subprogDepth.push(0);
    });
    const succ = succColumns(this.slots, this.structure.isInsn);
    this.live = computeLiveRegs(this.slots, this.structure.isInsn, this.progType, succ);
    this.stackLive = computeStackLive(this.slots, this.structure.isInsn, succ);
    this.jmpPoint = this.structure.jumpTarget.slice();
    for (let pc = 0; pc < this.n; pc++) {
      const i = this.slots[pc]!;
      if (!this.structure.isInsn[pc]) continue;
      if (i.op === (BPF_JMP | BPF_CALL) && pc + 1 < this.n) this.jmpPoint[pc + 1] = 1;
      if (this.structure.callsCallback[pc]) this.jmpPoint[pc] = 1;
      if (isPseudoFunc(i) && pc + 2 < this.n) this.jmpPoint[pc + 2] = 1;
    }
    // SCC numbers: printed at level 2; SCC visits matter beyond the log once callbacks loop (backedges,
    // incomplete read marks)
    if (this.log.level & BPF_LOG_LEVEL2 || this.structure.callsCallback.includes(1)) {
      this.scc = computeSccs(succ, this.structure.isInsn, this.structure.callsCallback);
    }
    if (this.log.level & BPF_LOG_LEVEL2) {
      const scc = this.scc!;
      this.structure.subprogs.forEach((sp, k) => this.log.verbose(`func#${k} @${sp.start}\n`));
      this.log.verbose('Live regs before insn:\n');
      for (let pc = 0; pc < this.n; pc++) {
        if (!this.structure.isInsn[pc]) continue;
        let m = '';
        for (let r = 0; r < 10; r++) m += this.live[pc]! & (1 << r) ? String(r) : '.';
        const line = formatLineAt(pc, this.slots[pc]!, { imm: (i, full) => this.lddwText(i, full) });
        const sccCol = scc[pc] ? `${String(scc[pc]).padStart(3)} ` : '    ';
        this.log.verbose(`${sccCol}${String(pc).padStart(3)}: ${m} ${line.slice(line.indexOf(' ') + 1)}\n`);
      }
    }
    try {
      this.doCheck();
      // do_check_common resets a successful level-1 log before the stack-depth pass runs
      if (this.log.level === BPF_LOG_LEVEL1) this.log.reset(0);
      this.checkMaxStackDepth();
    } catch (e) {
      if (e instanceof VerifierError) return result(e);
      throw e;
    }
    return result(null);
  }

  /** The kernel prints the map's address (unknown here: `map[idx:N]`), or 0x0 without allow_ptr_leaks. */
  private lddwText(i: InsnCode, full: bigint): string | undefined {
    // a callback's address is printed as the raw immediate (the callback's offset), root or not
    if (i.src === BPF_PSEUDO_FUNC) return `0x${BigInt.asUintN(64, full).toString(16)}`;
    if (!this.priv && i.src !== 0) return '0x0';
    return undefined;
  }

  private initState(): VerifierState {
    const st = new VerifierState();
    const f = new FuncState();
    f.frameno = 0;
    f.callsite = -1;
    markPtr(f.regs[10]!, RegType.PTR_TO_STACK);
    f.regs[10]!.frameno = 0;
    markPtr(f.regs[1]!, RegType.PTR_TO_CTX);
    st.frames.push(f);
    st.branches = 1;
    return st;
  }

  private doCheck(): void {
    this.cur = this.initState();
    this.insnIdx = 0;
    this.prevInsnIdx = -1;
    let doPrintState = false;
    // the entry state line: `0: R1=ctx() R10=fp0`
    this.scratch.all();
    for (;;) {
      const idx = this.insnIdx;
      if (idx >= this.n) this.fail(`invalid insn idx ${idx} insn_cnt ${this.n}`, EFAULT);
      const insn = this.slots[idx]!;
      this.curHistEnt = null;
      this.histPrevIdx = this.prevInsnIdx;
      if (++this.processed > BPF_COMPLEXITY_LIMIT_INSNS) {
        this.fail(`BPF program is too large. Processed ${this.processed} insn`, E2BIG);
      }
      this.cur.lastInsnIdx = this.prevInsnIdx;
      let pathDone = false;
      if (this.structure.prunePoint[idx]) {
        const pruned = this.isStateVisited(idx);
        if (pruned) {
          if (this.log.level & BPF_LOG_LEVEL) {
            if (doPrintState) this.log.verbose(`\nfrom ${this.prevInsnIdx} to ${idx}: safe\n`);
            else this.log.verbose(`${idx}: safe\n`);
          }
          pathDone = true;
        }
      }
      if (!pathDone) {
        if (this.jmpPoint[idx]) this.pushHist(0, null);
        if (this.log.level & BPF_LOG_LEVEL2 && doPrintState) {
          this.log.verbose(`\nfrom ${this.prevInsnIdx} to ${idx}:` + this.printAll(this.cur.frames.length - 1));
          doPrintState = false;
        }
        if (this.log.level & BPF_LOG_LEVEL) {
          if (this.scratch.any()) this.printInsnState(this.cur.frames.length - 1);
          this.verboseLinfo(idx, '; ');
          const start = this.log.pos;
          this.log.verbose(formatLineAt(idx, insn, { imm: (i, full) => this.lddwText(i, full) }) + '\n');
          this.log.prevInsnPrintPos = this.log.pos - start;
          this.log.prevLogPos = this.log.pos;
        }
        this.prevInsnIdx = idx;
        const r = this.doCheckInsn(insn);
        if (r === 'exit') {
          pathDone = true;
        } else if (r === 'return') {
          doPrintState = true;
          continue;
        }
      }
      if (pathDone) {
        this.scratch.all();
        this.updateBranchCounts(this.cur);
        const e = this.branchStack.pop();
        if (!e) break;
        if (!(this.log.level & BPF_LOG_LEVEL2)) this.log.reset(e.logPos);
        this.cur = e.shared ? e.st.unshare(this.branchStack[this.branchStack.length - 1]!.st) : e.st;
        this.insnIdx = e.insnIdx;
        this.prevInsnIdx = e.prevInsnIdx;
        doPrintState = true;
        continue;
      }
    }
  }

  private updateBranchCounts(st: VerifierState): void {
    let s: VerifierState | null = st.parent;
    while (s) {
      const br = --s.branches;
      if (br) break;
      this.maybeExitScc(s);
      // maybe_free_verifier_state: an evicted state is freed once no path descends from it (unless its loop
      // still lacks marks)
      if (this.freeList.has(s) && !this.incompleteReadMarks(s)) {
        this.freeList.delete(s);
        this.curStates--;
      }
      s = s.parent;
    }
  }

  /**
   * compute_scc_callchain as the level-2 log prints it: `(callsite,...,scc)`, the call sites of the frames up to
   * the first one whose instruction is inside a loop (SCC), then that SCC's number; null outside loops.
   */
  private sccCallchain(st: VerifierState): string | null {
    const scc = this.scc;
    if (!scc) return null;
    const sites: number[] = [];
    for (let i = 0; i < st.frames.length; i++) {
      const idx = i + 1 < st.frames.length ? st.frames[i + 1]!.callsite : st.insnIdx;
      if (scc[idx]) return `(${[...sites.filter((x) => x !== 0), scc[idx]].join(',')})`;
      if (i + 1 >= st.frames.length) return null;
      sites.push(idx);
    }
    return null;
  }

  /** incomplete_read_marks: `st` belongs to a loop still being explored that already has backedges. */
  private incompleteReadMarks(st: VerifierState): boolean {
    if (!this.scc || !this.sccVisits.size) return false;
    const key = this.sccCallchain(st);
    const visit = key === null ? undefined : this.sccVisits.get(key);
    return !!visit && visit.backedges.length > 0;
  }

  /** maybe_enter_scc: a checkpoint inside a loop that no visit covers yet starts one. */
  private maybeEnterScc(st: VerifierState): void {
    const key = this.sccCallchain(st);
    if (key === null || this.sccVisits.has(key)) return;
    this.sccVisits.set(key, { entry: st, backedges: [] });
    if (this.log.level & BPF_LOG_LEVEL2) this.log.verbose(`SCC enter ${key}\n`);
  }

  /** maybe_exit_scc: the visit ends when its entry state has no unfinished paths left. */
  private maybeExitScc(st: VerifierState): void {
    const key = this.sccCallchain(st);
    const visit = key === null ? undefined : this.sccVisits.get(key!);
    if (!visit || visit.entry !== st) return;
    this.sccVisits.delete(key!);
    if (this.log.level & BPF_LOG_LEVEL2) this.log.verbose(`SCC exit ${key}\n`);
    this.propagateBackedges(visit.backedges);
    this.numBackedges -= visit.backedges.length;
  }

  /**
   * propagate_backedges: a loop's states that were pruned against a state of the same loop still on the path
   * get, once the loop is done, what that state needed precise, until nothing changes.
   */
  private propagateBackedges(backedges: { st: VerifierState; equal: VerifierState }[]): void {
    if (!backedges.length || !this.priv) return;
    const precise = (st: VerifierState): number => {
      let n = 0;
      for (let p: VerifierState | null = st; p; p = p.parent) {
        for (const f of p.frames) {
          for (const r of f.regs) if (r.precise) n++;
          for (const sl of f.stack) if (sl.types[7] === Slot.SPILL && sl.spilled.precise) n++;
        }
      }
      return n;
    };
    for (let iter = 0; iter < 64; iter++) {
      let changed = false;
      for (const b of backedges) {
        const before = precise(b.st);
        const saved = this.cur;
        const savedIdx = this.insnIdx;
        this.cur = b.st;
        this.insnIdx = b.st.insnIdx;
        try {
          this.precision.propagate(b.equal, () => 0x3ff);
        } finally {
          this.cur = saved;
          this.insnIdx = savedIdx;
        }
        if (precise(b.st) !== before) changed = true;
      }
      if (!changed) break;
    }
  }

  private pushStack(insnIdx: number, prevInsnIdx: number): VerifierState {
    // The caller refines the pushed state right after pushing; the previous one is final by now. A deep
    // program keeps thousands of pushed states alive, so that one keeps only the registers and stack slots that
    // differ from the state below it and shares the rest (those are copied when it is popped).
    const n = this.branchStack.length;
    if (n >= 2 && !this.branchStack[n - 1]!.shared) {
      const top = this.branchStack[n - 1]!;
      top.st.share(this.branchStack[n - 2]!.st);
      top.shared = true;
    }
    const st = this.cur.clone();
    st.branches = 1;
    this.pushBranch(st, insnIdx, prevInsnIdx);
    if (st.parent) st.parent.branches++;
    return st;
  }

  /** A state to explore later, from insnIdx (push_stack's bookkeeping: the limit on pending branches). */
  private pushBranch(st: VerifierState, insnIdx: number, prevInsnIdx: number): void {
    this.branchStack.push({ st, insnIdx, prevInsnIdx, logPos: this.log.pos, shared: false });
    if (this.branchStack.length > BPF_COMPLEXITY_LIMIT_JMP_SEQ) {
      this.fail(`The sequence of ${this.branchStack.length} jumps is too complex.`, E2BIG);
    }
  }

  // -- jump history and precision (precision.ts) --

  /** push_insn_history: record the current instruction (flags of one instruction are combined). */
  private pushHist(flags: number, linked: LinkedReg[] | null): void {
    const e = this.curHistEnt;
    if (e) {
      e.flags |= flags;
      e.linked = linked;
      return;
    }
    const cur = this.cur;
    const h: HistEntry = { idx: this.insnIdx, prevIdx: this.histPrevIdx, flags, linked, prev: cur.histTop };
    cur.histTop = h;
    cur.histLen++;
    this.curHistEnt = h;
  }

  /** The instruction text of a `mark_precise` line. */
  insnText(pc: number): string {
    return formatLineAt(pc, this.slots[pc]!, { imm: (i, full) => this.lddwText(i, full) });
  }

  /** mark_chain_precision for a register of the current frame (a scalar whose value a decision relied on). */
  private markPrecise(regno: number): void {
    if (regno >= 0 && this.regs[regno]!.type === RegType.SCALAR_VALUE) this.precision.markReg(regno);
  }

  // -- pruning (is_state_visited) --

  /** liveAtIdx(frame): the live registers of `frame` at insn liveIdx (one closure for every pruning check). */
  private liveIdx = 0;
  private readonly liveAtIdx = (fi: number): number => this.liveMask(fi, this.liveIdx);

  private liveMask(fi: number, idx: number): number {
    const frames = this.cur.frames;
    if (fi === frames.length - 1) return this.live[idx]! & 0x3ff;
    // frame_insn_idx: a caller's frame is compared with the registers live before its call instruction (for
    // a callback: the helper's arguments, which the caller's frame still holds while the callback runs)
    const callsite = frames[fi + 1]!.callsite;
    return (this.live[callsite] ?? 0x3ff) & 0x3ff;
  }

  /** The `hit:` of is_state_visited: the current path is pruned against `sl`. */
  private visitedHit(sl: VerifierState, idx: number, loop: boolean, live: (fi: number) => number, stackLo: number, stackHi: number): true {
    sl.hit++;
    // what the matched state needed precise, this path needs precise too
    if (this.jmpPoint[idx]) this.pushHist(0, null);
    this.precision.propagate(sl, live, stackLo, stackHi);
    if (!loop) return true;
    // add_scc_backedge: what the loop needs precise is propagated again when the loop is done
    const key = this.sccCallchain(sl);
    const visit = key === null ? undefined : this.sccVisits.get(key);
    if (visit) {
      if (this.log.level & BPF_LOG_LEVEL2) this.log.verbose(`SCC backedge ${key}\n`);
      const b = this.cur.clone();
      b.insnIdx = idx;
      visit.backedges.push({ st: b, equal: sl });
      this.numBackedges++;
      if (this.curStates + this.numBackedges > this.peakStates) this.peakStates = this.curStates + this.numBackedges;
    }
    return true;
  }

  private exploredBucket(idx: number, callsite: number): number {
    return ((idx ^ callsite) >>> 0) % this.n;
  }

  private isStateVisited(idx: number): boolean {
    // a long jump history forces a checkpoint
    const forceNewState = this.cur.histLen > 40 || this.structure.forceCheckpoint[idx] === 1;
    let addNewState = forceNewState;
    if (this.jmpsProcessed - this.prevJmpsProcessed >= 2 && this.processed - this.prevInsnProcessed >= 8) addNewState = true;
    // explored_state: the kernel's lists are buckets of (idx ^ callsite) % insn_cnt; the bucket's other
    // states count for max_states_per_insn
    const bucket = this.exploredBucket(idx, this.cur.cur.callsite);
    let list = this.explored[bucket];
    let statesCnt = 0;
    // the live registers (per frame) and stack slots at idx, once per call rather than per compared state
    this.liveIdx = idx;
    const liveAt = this.liveAtIdx;
    const stackLo = this.stackLive ? this.stackLive[2 * idx]! : -1;
    const stackHi = this.stackLive ? this.stackLive[2 * idx + 1]! : -1;
    for (let k = 0; list !== undefined && k < list.length; k++) {
      const sl = list[k]!;
      statesCnt++;
      if (sl.insnIdx !== idx) continue;
      if (sl.branches) {
        if (this.structure.callsCallback[idx]) {
          // a callback call visited again after the callback returned: converged when nothing new is possible
          if (statesEqual(sl, this.cur, liveAt, this.priv, stackLo, stackHi, true)) return this.visitedHit(sl, idx, true, liveAt, stackLo, stackHi);
        } else if (!(sl.cur.inAsyncCallbackFn && sl.cur.asyncEntryCnt !== this.cur.cur.asyncEntryCnt) &&
            sl.callbackUnrollDepth === this.cur.callbackUnrollDepth && statesExact(sl, this.cur)) {
          const msg = `infinite loop detected at insn ${idx}`;
          this.verboseLinfo(idx, '; ');
          this.log.verbose(msg + '\n');
          const fi = this.cur.frames.length - 1;
          this.log.verbose('cur state:' + formatState(this.cur, fi, null) + '\n');
          this.log.verbose('old state:' + formatState(sl, fi, null) + '\n');
          throw new VerifierError(this.insnIdx, msg, EINVAL);
        }
        // skip_inf_loop_check: a state some unfinished path descends from is not compared for pruning
        if (!forceNewState && this.jmpsProcessed - this.prevJmpsProcessed < 20 && this.processed - this.prevInsnProcessed < 100) addNewState = false;
      } else {
        // a state of a loop still being explored may lack marks of paths not yet taken: compare ranges
        const loop = this.incompleteReadMarks(sl);
        if (statesEqual(sl, this.cur, liveAt, this.priv, stackLo, stackHi, loop)) return this.visitedHit(sl, idx, loop, liveAt, stackLo, stackHi);
      }
      // misses only count when a new state is going to be added; states that keep missing are evicted
      if (addNewState) sl.miss++;
      if (sl.miss > sl.hit * 3 + 3) {
        list.splice(k, 1);
        k--;
        // a state some unfinished path still descends from is only freed later (the kernel's free list):
        // it still counts for peak_states
        if (!sl.branches && !this.incompleteReadMarks(sl)) this.curStates--;
        else this.freeList.add(sl);
      }
    }
    if (statesCnt > this.maxStatesPerInsn) this.maxStatesPerInsn = statesCnt;
    if (!addNewState) return false;
    // forget inherited precise marks: the new checkpoint's children mark what they need (precision.ts)
    if (this.priv) Precision.markAllImprecise(this.cur);
    // explored states are only compared from now on: share unchanged registers with the previous one
    const st = this.cur.snapshot(this.lastExplored);
    this.lastExplored = st;
    st.insnIdx = idx;
    st.branches = 1;
    st.parent = this.cur.parent;
    this.cur.parent = st;
    this.cur.branches = 1;
    this.cur.firstInsnIdx = idx;
    this.cur.dfsDepth = st.dfsDepth + 1;
    this.cur.histTop = null;
    this.cur.histLen = 0;
    this.maybeEnterScc(st);
    if (list === undefined) this.explored[bucket] = [st];
    else list.push(st);
    this.totalStates++;
    this.curStates++;
    if (this.curStates + this.numBackedges > this.peakStates) this.peakStates = this.curStates + this.numBackedges;
    this.prevJmpsProcessed = this.jmpsProcessed;
    this.prevInsnProcessed = this.processed;
    return false;
  }

  // -- per-instruction dispatch (do_check_insn) --

  /** Returns 'next' (insnIdx already advanced), 'exit' (path ended) or 'return' (returned from a subprog). */
  private doCheckInsn(insn: InsnCode): 'next' | 'exit' | 'return' {
    const c = cls(insn.op);
    if (c === BPF_ALU || c === BPF_ALU64) {
      this.checkAluOp(insn);
    } else if (c === BPF_LDX) {
      this.checkRegSrc(insn.src);
      this.checkRegDst(insn.dst, false);
      const srcType = this.regs[insn.src]!.type;
      this.checkMemAccess(insn.src, insn.off, sizeBytes(size(insn.op)), false, insn.dst, false, mode(insn.op) === BPF_MEMSX);
      this.saveAuxPtrType(srcType);
    } else if (c === BPF_STX) {
      if (mode(insn.op) === BPF_ATOMIC) {
        this.checkAtomic(insn);
        this.insnIdx++;
        return 'next';
      }
      if (mode(insn.op) !== BPF_MEM || insn.imm !== 0) this.fail('BPF_STX uses reserved fields', EINVAL);
      this.checkRegSrc(insn.src);
      this.checkRegSrc(insn.dst);
      const dstType = this.regs[insn.dst]!.type;
      this.checkMemAccess(insn.dst, insn.off, sizeBytes(size(insn.op)), true, insn.src, false, false, insn);
      this.saveAuxPtrType(dstType);
    } else if (c === BPF_ST) {
      if (mode(insn.op) !== BPF_MEM || insn.src !== 0) this.fail('BPF_ST uses reserved fields', EINVAL);
      this.checkRegSrc(insn.dst);
      const dstType = this.regs[insn.dst]!.type;
      this.checkMemAccess(insn.dst, insn.off, sizeBytes(size(insn.op)), true, -1, false, false, insn);
      this.saveAuxPtrType(dstType);
    } else if (c === BPF_JMP || c === BPF_JMP32) {
      const op = aluOp(insn.op);
      this.jmpsProcessed++;
      if (op === BPF_CALL) {
        if (srcBit(insn.op) !== BPF_K || (insn.src !== BPF_PSEUDO_KFUNC_CALL && insn.off !== 0) ||
          (insn.src !== 0 && insn.src !== BPF_PSEUDO_CALL && insn.src !== BPF_PSEUDO_KFUNC_CALL) || insn.dst !== 0 || c === BPF_JMP32) {
          this.fail('BPF_CALL uses reserved fields', EINVAL);
        }
        if (this.activeLocks() && ((insn.src === 0 && insn.imm !== 94) || insn.src === BPF_PSEUDO_KFUNC_CALL)) {
          this.fail('function calls are not allowed while holding a lock', EINVAL);
        }
        if (insn.src === BPF_PSEUDO_CALL) {
          this.checkFuncCall(insn);
          return 'next';
        }
        if (insn.src === BPF_PSEUDO_KFUNC_CALL) this.fail('calling kernel functions is not supported by bpfvm', EINVAL);
        this.checkHelperCall(insn);
        this.scratch.regs |= 1;
      } else if (op === BPF_JA) {
        if (srcBit(insn.op) !== BPF_K || insn.src !== 0 || insn.dst !== 0 || (c === BPF_JMP && insn.imm !== 0) || (c === BPF_JMP32 && insn.off !== 0)) {
          this.fail('BPF_JA uses reserved fields', EINVAL);
        }
        this.insnIdx += (c === BPF_JMP ? insn.off : insn.imm) + 1;
        return 'next';
      } else if (op === BPF_EXIT) {
        if (srcBit(insn.op) !== BPF_K || insn.imm !== 0 || insn.src !== 0 || insn.dst !== 0 || c === BPF_JMP32) {
          this.fail('BPF_EXIT uses reserved fields', EINVAL);
        }
        return this.processExit();
      } else if (op === BPF_JCOND) {
        this.fail('may_goto is not supported by bpfvm', EINVAL);
      } else {
        this.checkCondJmpOp(insn);
        return 'next';
      }
    } else if (c === BPF_LD) {
      const m = mode(insn.op);
      if (m === BPF_ABS || m === BPF_IND) {
        this.checkLdAbs(insn);
      } else if (insn.op === LDDW) {
        this.checkLdImm(insn);
        this.insnIdx++;
      } else {
        this.fail('invalid BPF_LD mode', EINVAL);
      }
    } else {
      this.fail(`unknown insn class ${c}`, EINVAL);
    }
    this.insnIdx++;
    return 'next';
  }

  private saveAuxPtrType(t: RegType): void {
    // save_aux_ptr_type: the same load/store insn must not see ctx-like and other pointers on different paths.
    const ctxLike = (x: RegType): boolean => x === RegType.PTR_TO_CTX || x === RegType.PTR_TO_SOCKET || x === RegType.PTR_TO_SOCK_COMMON ||
      x === RegType.PTR_TO_TCP_SOCK || x === RegType.PTR_TO_XDP_SOCK || x === RegType.PTR_TO_BTF_ID;
    const prev = this.seenPtrType.get(this.insnIdx);
    if (prev === undefined) {
      this.seenPtrType.set(this.insnIdx, t);
      return;
    }
    if (prev !== t && (ctxLike(prev) || ctxLike(t))) this.fail('same insn cannot be used with different pointers', EINVAL);
  }

  // -- ALU (check_alu_op) --

  private checkAluOp(insn: InsnCode): void {
    const op = aluOp(insn.op);
    const alu64 = cls(insn.op) === BPF_ALU64;
    const x = srcBit(insn.op) === BPF_X;
    if (op === BPF_END || op === BPF_NEG) {
      if (op === BPF_NEG) {
        if (x || insn.src !== 0 || insn.off !== 0 || insn.imm !== 0) this.fail('BPF_NEG uses reserved fields', EINVAL);
      } else if (insn.src !== 0 || insn.off !== 0 || (insn.imm !== 16 && insn.imm !== 32 && insn.imm !== 64) || (alu64 && srcBit(insn.op) !== BPF_TO_LE)) {
        this.fail('BPF_END uses reserved fields', EINVAL);
      }
      const d = this.checkRegSrc(insn.dst);
      if (this.isPointerValue(d)) this.fail(`R${insn.dst} pointer arithmetic prohibited`);
      if (d.type === RegType.SCALAR_VALUE) {
        this.checkRegDst(insn.dst, false);
        const res = adjustScalarMinMaxVals(d.s, d.s, op, alu64, insn.imm, srcBit(insn.op) === BPF_TO_LE);
        void res;
        d.id = 0;
      } else {
        this.checkRegDst(insn.dst, true);
        if (op === BPF_END && this.priv) {
          // a pointer byte-swapped: unknown scalar (root)
        }
      }
    } else if (op === BPF_MOV) {
      if (x) {
        if (!alu64) {
          if ((insn.off !== 0 && insn.off !== 8 && insn.off !== 16) || insn.imm) this.fail('BPF_MOV uses reserved fields', EINVAL);
        } else if ((insn.off !== 0 && insn.off !== 8 && insn.off !== 16 && insn.off !== 32) || insn.imm) {
          this.fail('BPF_MOV uses reserved fields', EINVAL);
        }
        this.checkRegSrc(insn.src);
      } else if (insn.src !== 0 || insn.off !== 0) {
        this.fail('BPF_MOV uses reserved fields', EINVAL);
      }
      const dst = this.checkRegDst(insn.dst, false);
      if (x) {
        const src = this.regs[insn.src]!;
        if (alu64) {
          if (insn.off === 0) {
            if (src.type === RegType.SCALAR_VALUE && this.needsFreshId(src)) this.freshId(src);
            dst.copyFrom(src);
          } else if (this.isPointerValue(src)) {
            this.fail(`R${insn.src} sign-extension part of pointer`);
          } else if (src.type === RegType.SCALAR_VALUE) {
            const noSext = src.s.umax < (1n << BigInt(insn.off - 1));
            if (noSext && this.needsFreshId(src)) this.freshId(src);
            dst.copyFrom(src);
            if (!noSext) dst.id = 0;
            coerceRegToSizeSx(dst.s, insn.off >> 3);
            dst.linked = false;
            dst.linkOff = 0;
            dst.link32 = false;
          } else {
            markRegUnknown(dst);
          }
        } else {
          if (this.isPointerValue(src)) this.fail(`R${insn.src} partial copy of pointer`);
          if (src.type === RegType.SCALAR_VALUE) {
            const s = src.s.cloneBounds();
            if (insn.off === 0) {
              const u32 = regWidth(src.s) <= 32;
              if (u32 && this.needsFreshId(src)) this.freshId(src);
              dst.copyFrom(src);
              if (!u32) dst.id = 0;
              scalarAluInsn(dst.s, s, BPF_MOV, false, 0, 0);
            } else {
              const noSext = src.s.umax < (1n << BigInt(insn.off - 1));
              if (noSext && this.needsFreshId(src)) this.freshId(src);
              dst.copyFrom(src);
              if (!noSext) dst.id = 0;
              scalarAluInsn(dst.s, s, BPF_MOV, false, 0, insn.off);
            }
          } else {
            markRegUnknown(dst);
            const s = dst.s.cloneBounds();
            scalarAluInsn(dst.s, s, BPF_MOV, false, 0, 0);
          }
        }
      } else {
        markRegUnknown(dst);
        dst.s.setBounds(this.knownBounds(alu64 ? insn.imm : insn.imm >>> 0));
      }
    } else {
      if (x) {
        if (insn.imm !== 0 || (insn.off !== 0 && insn.off !== 1) || (insn.off === 1 && op !== BPF_MOD && op !== BPF_DIV)) {
          this.fail('BPF_ALU uses reserved fields', EINVAL);
        }
        this.checkRegSrc(insn.src);
      } else if (insn.src !== 0 || (insn.off !== 0 && insn.off !== 1) || (insn.off === 1 && op !== BPF_MOD && op !== BPF_DIV)) {
        this.fail('BPF_ALU uses reserved fields', EINVAL);
      }
      this.checkRegSrc(insn.dst);
      if ((op === BPF_MOD || op === BPF_DIV) && !x && insn.imm === 0) this.fail('div by zero', EINVAL);
      if ((op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH) && !x) {
        const sz = alu64 ? 64 : 32;
        if (insn.imm < 0 || insn.imm >= sz) this.fail(`invalid shift ${insn.imm}`, EINVAL);
      }
      this.checkRegDst(insn.dst, false);
      this.adjustRegMinMaxVals(insn);
    }
    const d = this.regs[insn.dst]!;
    if (d.type === RegType.SCALAR_VALUE) {
      const v = boundsSanityCheck(d.s, false);
      if (v !== null) {
        this.log.verbose(invariantsViolationText(d.s, 'alu', v) + '\n');
        boundsSanityCheck(d.s, true);
      }
    }
  }

  private adjustRegMinMaxVals(insn: InsnCode): void {
    const op = aluOp(insn.op);
    const alu64 = cls(insn.op) === BPF_ALU64;
    const dst = this.regs[insn.dst]!;
    const ptrReg = dst.type !== RegType.SCALAR_VALUE ? dst : null;
    let src: RegState;
    if (srcBit(insn.op) === BPF_X) {
      src = this.regs[insn.src]!;
      if (src.type !== RegType.SCALAR_VALUE) {
        if (dst.type !== RegType.SCALAR_VALUE) {
          if (op === BPF_SUB && this.priv) {
            markRegUnknown(dst);
            return;
          }
          this.fail(`R${insn.dst} pointer ${ALU_STRING[op]} pointer prohibited`);
        }
        // scalar += pointer: the pointer's offset depends on the scalar's value
        this.markPrecise(insn.dst);
        this.adjustPtrMinMaxVals(insn, src, dst, true);
        return;
      } else if (ptrReg) {
        this.markPrecise(insn.src);
        this.adjustPtrMinMaxVals(insn, dst, src, false);
        return;
      }
    } else {
      src = this.immScalar(insn.imm);
      if (ptrReg) {
        this.adjustPtrMinMaxVals(insn, ptrReg, src, false);
        return;
      }
    }
    // two scalars (`rX op= rX`: the transfer functions update dst while still reading src, so give them a copy)
    const srcS = src === dst ? src.s.cloneBounds() : src.s;
    const res = adjustScalarMinMaxVals(dst.s, srcS, op, alu64);
    if (res.fork) {
      // maybe_fork_scalars: the pushed branch re-executes this insn with dst = 0
      const other = this.pushStack(this.insnIdx, this.insnIdx);
      const od = other.cur.regs[insn.dst]!;
      od.s.setBounds(res.fork);
    }
    const srcConst = alu64 ? tnumIsConst(src.s.varOff) : tnumSubregIsConst(src.s.varOff);
    // `rX += rX` reads its own (already updated) register as the constant: no link (the id is cleared).
    if ((op === BPF_ADD || op === BPF_SUB) && dst.id && srcConst && src !== dst) {
      // BPF_ADD_CONST (host kernel 6.18): `rX += K` / `rX -= K`, also in 32 bits, keeps the scalar id with the
      // delta, which must fit s32 (and be negatable for SUB); a second add/sub drops the link.
      const v = alu64 ? BigInt.asIntN(64, src.s.varOff.value) : BigInt.asIntN(32, src.s.varOff.value);
      let off = Number(v);
      let ok = v >= -0x8000_0000n && v <= 0x7fff_ffffn && !dst.linked;
      if (ok && op === BPF_SUB) {
        if (off === -0x8000_0000) ok = false;
        off = -off;
      }
      if (ok) {
        dst.linked = true;
        dst.linkOff = off;
        dst.link32 = !alu64;
      } else {
        dst.id = 0;
        dst.linked = false;
        dst.linkOff = 0;
        dst.link32 = false;
      }
    } else {
      dst.id = 0;
      dst.linked = false;
      dst.linkOff = 0;
      dst.link32 = false;
    }
  }

  private checkRegSaneOffset(reg: RegState, ptrType: string): void {
    const known = tnumIsConst(reg.s.varOff);
    const val = BigInt.asIntN(64, reg.s.varOff.value);
    if (known && (val >= BPF_MAX_VAR_OFF || val <= -BPF_MAX_VAR_OFF)) this.fail(`math between ${ptrType} pointer and ${val} is not allowed`, EINVAL);
    if (reg.off >= Number(BPF_MAX_VAR_OFF) || reg.off <= -Number(BPF_MAX_VAR_OFF)) this.fail(`${ptrType} pointer offset ${reg.off} is not allowed`, EINVAL);
    if (reg.s.smin === S64_MIN) this.fail(`math between ${ptrType} pointer and register with unbounded min value is not allowed`, EINVAL);
    if (reg.s.smin >= BPF_MAX_VAR_OFF || reg.s.smin <= -BPF_MAX_VAR_OFF) this.fail(`value ${reg.s.smin} makes ${ptrType} pointer be out of bounds`, EINVAL);
  }

  private adjustPtrMinMaxVals(insn: InsnCode, ptr: RegState, off: RegState, dstIsOff: boolean): void {
    const op = aluOp(insn.op);
    const dstno = insn.dst;
    const dst = this.regs[dstno]!;
    const o = off.s;
    const known = tnumIsConst(o.varOff);
    if ((known && (o.smin !== o.smax || o.umin !== o.umax)) || o.smin > o.smax || o.umin > o.umax) {
      markRegUnknown(dst);
      return;
    }
    if (cls(insn.op) !== BPF_ALU64) {
      if (op === BPF_SUB && this.priv) {
        markRegUnknown(dst);
        return;
      }
      this.fail(`R${dstno} 32-bit pointer arithmetic prohibited`);
    }
    const tstr = regTypeStr(ptr);
    if (ptr.maybeNull) this.fail(`R${dstno} pointer arithmetic on ${tstr} prohibited, null-check it first`);
    switch (ptr.type) {
      case RegType.PTR_TO_CTX:
      case RegType.PTR_TO_MAP_VALUE:
      case RegType.PTR_TO_MAP_KEY:
      case RegType.PTR_TO_STACK:
      case RegType.PTR_TO_PACKET_META:
      case RegType.PTR_TO_PACKET:
      case RegType.PTR_TO_TP_BUFFER:
      case RegType.PTR_TO_BTF_ID:
      case RegType.PTR_TO_MEM:
      case RegType.PTR_TO_BUF:
      case RegType.PTR_TO_FUNC:
        break;
      case RegType.PTR_TO_FLOW_KEYS:
        if (known) break;
        if (known && o.smin === 0n && op === BPF_ADD) break;
        this.fail(`R${dstno} pointer arithmetic on ${tstr} prohibited`);
        break;
      case RegType.CONST_PTR_TO_MAP:
        if (known && o.smin === 0n && op === BPF_ADD) break;
        this.fail(`R${dstno} pointer arithmetic on ${tstr} prohibited`);
        break;
      default:
        this.fail(`R${dstno} pointer arithmetic on ${tstr} prohibited`);
    }
    const p = ptr.clone();
    const offS = o.clone();
    // dst inherits the pointer type and id
    this.checkRegSaneOffset(off, tstr);
    this.checkRegSaneOffset(p, tstr);
    const res = p.clone();
    res.precise = false;
    mark32Unbounded(res.s);
    const isPkt = p.type === RegType.PTR_TO_PACKET || p.type === RegType.PTR_TO_PACKET_META;
    if (!this.priv && (op === BPF_ADD || op === BPF_SUB) && srcBit(insn.op) === BPF_X) this.sanitizePtrAlu(insn, p, off, dstIsOff);
    switch (op) {
      case BPF_ADD: {
        if (known && p.off + Number(offS.smin) === ((p.off + Number(offS.smin)) | 0) && offS.smin > -(1n << 40n) && offS.smin < (1n << 40n)) {
          res.s.setBounds(p.s);
          mark32Unbounded(res.s);
          res.off = p.off + Number(offS.smin);
          break;
        }
        const smin = p.s.smin + offS.smin;
        const smax = p.s.smax + offS.smax;
        if (smin < S64_MIN || smin > S64_MAX || smax < S64_MIN || smax > S64_MAX) {
          res.s.smin = S64_MIN;
          res.s.smax = S64_MAX;
        } else {
          res.s.smin = smin;
          res.s.smax = smax;
        }
        const umin = p.s.umin + offS.umin;
        const umax = p.s.umax + offS.umax;
        if (umin > U64_MAX || umax > U64_MAX) {
          res.s.umin = 0n;
          res.s.umax = U64_MAX;
        } else {
          res.s.umin = umin;
          res.s.umax = umax;
        }
        res.s.varOff = tnumAdd(p.s.varOff, offS.varOff);
        res.off = p.off;
        if (isPkt) {
          res.id = ++this.idGen;
          res.range = 0;
        }
        break;
      }
      case BPF_SUB: {
        if (dstIsOff) this.fail(`R${dstno} tried to subtract pointer from scalar`);
        if (p.type === RegType.PTR_TO_STACK) this.fail(`R${dstno} subtraction from stack pointer prohibited`);
        if (known && p.off - Number(offS.smin) === ((p.off - Number(offS.smin)) | 0) && offS.smin > -(1n << 40n) && offS.smin < (1n << 40n)) {
          res.s.setBounds(p.s);
          mark32Unbounded(res.s);
          res.off = p.off - Number(offS.smin);
          break;
        }
        const smin = p.s.smin - offS.smax;
        const smax = p.s.smax - offS.smin;
        if (smin < S64_MIN || smin > S64_MAX || smax < S64_MIN || smax > S64_MAX) {
          res.s.smin = S64_MIN;
          res.s.smax = S64_MAX;
        } else {
          res.s.smin = smin;
          res.s.smax = smax;
        }
        if (p.s.umin < offS.umax) {
          res.s.umin = 0n;
          res.s.umax = U64_MAX;
        } else {
          res.s.umin = p.s.umin - offS.umax;
          res.s.umax = p.s.umax - offS.umin;
        }
        res.s.varOff = tnumSub(p.s.varOff, offS.varOff);
        res.off = p.off;
        if (isPkt) {
          res.id = ++this.idGen;
          if (offS.smin < 0n) res.range = 0;
        }
        break;
      }
      case BPF_AND:
      case BPF_OR:
      case BPF_XOR:
        this.fail(`R${dstno} bitwise operator ${ALU_STRING[op]} on pointer prohibited`);
        break;
      default:
        this.fail(`R${dstno} pointer arithmetic with ${ALU_STRING[op]} operator prohibited`);
    }
    this.checkRegSaneOffset(res, tstr);
    regBoundsSync(res.s);
    if (!this.priv) this.sanitizeCheckBounds(dstno, res);
    dst.copyFrom(res);
    dst.linked = false;
    dst.linkOff = 0;
    dst.link32 = false;
  }

  /** sanitize_ptr_alu without bypass_spec_v1 (the non-speculative checks only; see sanitize_err). */
  private sanitizePtrAlu(insn: InsnCode, ptr: RegState, off: RegState, dstIsOff: boolean): void {
    const op = aluOp(insn.op);
    const err = 'pointer arithmetic with it prohibited for !root';
    const o = off.s;
    const offReg = dstIsOff ? insn.dst : insn.src;
    const ptrReg = dstIsOff ? insn.src : insn.dst;
    if (!tnumIsConst(o.varOff) && (o.smin < 0n) !== (o.smax < 0n)) this.fail(`R${offReg} has unknown scalar with mixed signed bounds, ${err}`);
    const offIsNeg = o.smin < 0n;
    const maskToLeft = (op === BPF_ADD && offIsNeg) || (op === BPF_SUB && !offIsNeg);
    let max: bigint;
    let limit: bigint;
    if (ptr.type === RegType.PTR_TO_STACK) {
      max = BigInt(MAX_BPF_STACK + (maskToLeft ? 1 : 0));
      limit = BigInt.asUintN(32, -(BigInt.asIntN(64, ptr.s.varOff.value) + BigInt(ptr.off)));
    } else if (ptr.type === RegType.PTR_TO_MAP_VALUE && !ptr.maybeNull) {
      max = BigInt(ptr.map!.valueSize);
      limit = BigInt.asUintN(32, (maskToLeft ? ptr.s.smin : ptr.s.umax) + BigInt(ptr.off));
    } else {
      this.fail(`R${ptrReg} has pointer with unsupported alu operation, ${err}`);
    }
    if (limit >= max) this.fail(`R${insn.dst} tried to ${op === BPF_ADD ? 'add' : 'sub'} beyond pointer bounds, ${err}`);
  }

  private sanitizeCheckBounds(dstno: number, r: RegState): void {
    if (r.type === RegType.PTR_TO_STACK) {
      const off = r.off + Number(BigInt.asIntN(64, r.s.varOff.value));
      if (!tnumIsConst(r.s.varOff)) this.fail(`R${dstno} variable stack access prohibited for !root, var_off=${tnumStrn(r.s.varOff)} off=${off}`);
      if (off >= 0 || off < -MAX_BPF_STACK) this.fail(`R${dstno} stack pointer arithmetic goes out of range, prohibited for !root, off=${off}`);
    } else if (r.type === RegType.PTR_TO_MAP_VALUE) {
      const lo = r.s.smin + BigInt(r.off);
      const hi = r.s.umax + BigInt(r.off);
      if (lo < 0n || r.s.umax >= BPF_MAX_VAR_OFF || hi + 1n > BigInt(r.map!.valueSize)) {
        this.fail(`R${dstno} pointer arithmetic of map value goes out of range, prohibited for !root`);
      }
    }
  }

  // -- memory (check_mem_access) --

  /**
   * check_ptr_alignment. x86-64 has efficient unaligned access, so only the stack is always strict; atomics
   * (`strict`: strict_alignment_once) are checked for every pointer type (packets with NET_IP_ALIGN = 2).
   */
  private checkPtrAlignment(reg: RegState, off: number, sz: number, strict: boolean): void {
    const t = reg.type;
    if (t === RegType.PTR_TO_STACK) strict = true;
    if (!strict || sz === 1) return;
    if (reg.isPkt()) {
      const regOff = tnumAdd(reg.s.varOff, tnumConst(BigInt(2 + reg.off + off)));
      if (!tnumIsAligned(regOff, BigInt(sz))) {
        this.fail(`misaligned packet access off 2+${tnumStrn(reg.s.varOff)}+${reg.off}+${off} size ${sz}`);
      }
      return;
    }
    const desc = PTR_ALIGN_DESC[t] ?? '';
    const regOff = tnumAdd(reg.s.varOff, tnumConst(BigInt(reg.off + off)));
    if (!tnumIsAligned(regOff, BigInt(sz))) {
      this.fail(`misaligned ${desc}access off ${tnumStrn(reg.s.varOff)}+${reg.off}+${off} size ${sz}`);
    }
  }

  checkMemAccess(regno: number, off: number, sz: number, write: boolean, valueRegno: number, strictOnce: boolean, ldsx: boolean, insn?: InsnCode): void {
    const regs = this.regs;
    const reg = regs[regno]!;
    this.checkPtrAlignment(reg, off, sz, strictOnce);
    off += reg.off;
    const value = valueRegno >= 0 ? regs[valueRegno]! : null;
    if (reg.type === RegType.PTR_TO_MAP_VALUE && !reg.maybeNull) {
      if (write && value && this.isPointerValue(value)) this.fail(`R${valueRegno} leaks addr into map`);
      const map = reg.map!;
      this.checkMapAccessType(map, off, sz, write);
      this.checkMemRegionAccess(regno, reg, off, sz, map.valueSize, false, 'map');
      this.checkMapFields(reg, off, sz, true);
      if (!write && value) {
        if (tnumIsConst(reg.s.varOff) && isMapRdonly(map) && map.data) {
          const mapOff = off + Number(reg.s.varOff.value);
          let v = 0n;
          for (let i = sz - 1; i >= 0; i--) v = (v << 8n) | BigInt(map.data[mapOff + i] ?? 0);
          if (ldsx) v = BigInt.asIntN(sz * 8, v);
          markRegKnown(value, v);
        } else {
          markRegUnknown(value);
        }
      }
    } else if (reg.type === RegType.PTR_TO_MAP_KEY && !reg.maybeNull) {
      if (write) this.fail(`write to change key R${regno} not allowed`);
      this.checkMemRegionAccess(regno, reg, off, sz, reg.map!.keySize, false, 'key');
      if (value) markRegUnknown(value);
    } else if (reg.type === RegType.PTR_TO_CTX) {
      if (write && value && this.isPointerValue(value)) this.fail(`R${valueRegno} leaks addr into ctx`);
      this.checkPtrOffReg(reg, regno, false);
      const r = ctxAccess(this.progType, { off, size: sz, write, signExtend: ldsx, attachType: this.attachType, privileged: this.priv });
      if (!r.ok) this.fail(r.message);
      if (!write && value) {
        const [t, maybeNull] = CTX_REG_TYPES[r.regType];
        if (t === RegType.SCALAR_VALUE) {
          markRegUnknown(value);
        } else {
          markPtr(value, t);
          value.maybeNull = maybeNull;
          if (maybeNull) value.id = ++this.idGen;
        }
      }
    } else if (reg.type === RegType.PTR_TO_STACK) {
      this.checkStackAccessWithinBounds(regno, reg, off, sz, write ? 'write' : 'read');
      if (!write) this.checkStackRead(regno, reg, off, sz, valueRegno);
      else this.checkStackWrite(reg, off, sz, valueRegno, insn);
    } else if (reg.isPkt() && !reg.maybeNull) {
      if (write && !this.mayAccessDirectPktData(null, true)) this.fail('cannot write into packet');
      if (write && value && this.isPointerValue(value)) this.fail(`R${valueRegno} leaks addr into packet`);
      this.checkPacketAccess(regno, reg, off, sz, false);
      if (!write && value) markRegUnknown(value);
    } else if ((reg.type === RegType.PTR_TO_SOCKET || reg.type === RegType.PTR_TO_SOCK_COMMON || reg.type === RegType.PTR_TO_TCP_SOCK || reg.type === RegType.PTR_TO_XDP_SOCK) && !reg.maybeNull) {
      if (write) this.fail(`R${regno} cannot write into ${regTypeStr(reg)}`);
      this.checkPtrOffReg(reg, regno, false);
      const r = sockAccess(regTypeStr(reg) as SockRegType, off, sz, false, regno);
      if (!r.ok) this.fail(r.message);
      if (value) markRegUnknown(value);
    } else if (reg.type === RegType.CONST_PTR_TO_MAP) {
      this.checkPtrToMapAccess(regno, reg, off, write);
    } else if (reg.type === RegType.PTR_TO_MEM && !reg.maybeNull) {
      if (write && value && this.isPointerValue(value)) this.fail(`R${valueRegno} leaks addr into mem`);
      this.checkMemRegionAccess(regno, reg, off, sz, reg.range, false, 'mem');
      if (!write && value) markRegUnknown(value);
    } else {
      this.fail(`R${regno} invalid mem access '${regTypeStr(reg)}'`);
    }
    if (!write && value && sz < 8 && value.type === RegType.SCALAR_VALUE) {
      if (!ldsx) coerceRegToSize(value.s, sz);
      else coerceRegToSizeSx(value.s, sz);
    }
  }

  /**
   * check_ptr_to_map_access: loads through a map pointer read the kernel's `struct bpf_map` (via the map type's
   * own struct, named in the messages). The rejections are modelled; an allowed read would need the kernel's BTF
   * layout of that struct, which bpfvm does not have, so it is refused with a bpfvm message.
   */
  private checkPtrToMapAccess(regno: number, reg: RegState, off: number, write: boolean): void {
    const tname = MAP_STRUCT_NAME[reg.map!.type];
    if (!tname) this.fail(`bpfvm does not model loads through a pointer to a map of type ${reg.map!.type}`, EINVAL);
    if (!this.priv) this.fail(`'struct ${tname}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN`, 1 /* EPERM */);
    if (off < 0) this.fail(`R${regno} is ${tname} invalid negative access: off=${off}`);
    if (write) this.fail(`only read from ${tname} is supported`);
    this.fail(`bpfvm does not model reads of struct ${tname} through a map pointer (needs the kernel's BTF)`, EINVAL);
  }

  private checkPtrOffReg(reg: RegState, regno: number, fixedOffOk: boolean): void {
    const t = regTypeStr(reg);
    if (reg.off < 0) this.fail(`negative offset ${t} ptr R${regno} off=${reg.off} disallowed`);
    if (!fixedOffOk && reg.off) this.fail(`dereference of modified ${t} ptr R${regno} off=${reg.off} disallowed`);
    if (!tnumIsConst(reg.s.varOff) || reg.s.varOff.value) this.fail(`variable ${t} access var_off=${tnumStrn(reg.s.varOff)} disallowed`);
  }

  private checkMapAccessType(map: MapSpec, off: number, sz: number, write: boolean): void {
    if (write && (map.flags & 0x80)) this.fail(`write into map forbidden, value_size=${map.valueSize} off=${off} size=${sz}`);
    if (!write && (map.flags & 0x100)) this.fail(`read from map forbidden, value_size=${map.valueSize} off=${off} size=${sz}`);
  }

  private memErr(kind: 'map' | 'key' | 'pkt' | 'mem', regno: number, reg: RegState, off: bigint, sz: number, memSize: number): void {
    if (kind === 'map') this.log.verbose(`invalid access to map value, value_size=${memSize} off=${off} size=${sz}\n`);
    else if (kind === 'key') this.log.verbose(`invalid access to map key, key_size=${memSize} off=${off} size=${sz}\n`);
    else if (kind === 'mem') this.log.verbose(`invalid access to memory, mem_size=${memSize >>> 0} off=${off} size=${sz}\n`);
    else this.log.verbose(`invalid access to packet, off=${off} size=${sz}, R${regno}(id=${reg.id},off=${off},r=${memSize})\n`);
  }

  private memOk(off: bigint, sz: number, memSize: number, zeroOk: boolean): boolean {
    const sizeOk = sz > 0 || (sz === 0 && zeroOk);
    return off >= 0n && sizeOk && off + BigInt(sz) <= BigInt(memSize >>> 0);
  }

  /** check_map_access, special fields: no part of a lock, timer, list/rbtree node... may be loaded or stored. */
  private checkMapFields(reg: RegState, off: number, sz: number, direct: boolean): void {
    const fields = reg.map!.valueFields?.fields;
    if (!fields?.length) return;
    const o = BigInt(off);
    for (const f of fields) {
      const p = BigInt(f.offset);
      if (!(reg.s.smin + o < p + BigInt(f.size) && p < reg.s.umax + o + BigInt(sz))) continue;
      if (f.kind === 'kptr' || f.kind === 'kptr_untrusted' || f.kind === 'percpu_kptr') {
        if (!direct) this.fail('kptr cannot be accessed indirectly by helper');
        continue;
      }
      this.fail(`${FIELD_TYPE_NAME[f.kind]} cannot be accessed directly by load/store`);
    }
  }

  private checkMemRegionAccess(regno: number, reg: RegState, off: number, sz: number, memSize: number, zeroOk: boolean, kind: 'map' | 'key' | 'mem'): void {
    const smin = reg.s.smin;
    const o = BigInt(off);
    if (smin < 0n && (smin === S64_MIN || BigInt.asIntN(32, o + smin) !== o + smin || smin + o < 0n)) {
      this.fail(`R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
    }
    // __check_mem_access takes an int offset
    const lo = BigInt.asIntN(32, smin + o);
    if (!this.memOk(lo, sz, memSize, zeroOk)) {
      this.memErr(kind, regno, reg, lo, sz, memSize);
      this.fail(`R${regno} min value is outside of the allowed memory range`);
    }
    if (reg.s.umax >= BPF_MAX_VAR_OFF) this.fail(`R${regno} unbounded memory access, make sure to bounds check any such access`);
    const hi = BigInt.asIntN(32, reg.s.umax + o);
    if (!this.memOk(hi, sz, memSize, zeroOk)) {
      this.memErr(kind, regno, reg, hi, sz, memSize);
      this.fail(`R${regno} max value is outside of the allowed memory range`);
    }
  }

  private checkPacketAccess(regno: number, reg: RegState, off: number, sz: number, zeroOk: boolean): void {
    if (reg.s.smin < 0n) this.fail(`R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
    let ok: boolean;
    if (reg.range < 0) ok = false;
    else {
      ok = this.memOk(BigInt(off), sz, reg.range, zeroOk);
      if (!ok) this.memErr('pkt', regno, reg, BigInt(off), sz, reg.range);
    }
    if (!ok) this.fail(`R${regno} offset is outside of the packet`);
  }

  private mayAccessDirectPktData(meta: { pktAccess: boolean } | null, write: boolean): boolean {
    switch (this.progType) {
      case PT.CGROUP_SKB:
        if (write) return false;
        return meta ? meta.pktAccess : true;
      case PT.SCHED_CLS:
      case PT.SCHED_ACT:
      case PT.XDP:
      case PT.SK_SKB:
      case PT.SK_MSG:
        if (meta) return meta.pktAccess;
        return true;
      default:
        return false;
    }
  }

  // -- stack --

  private frameOf(reg: RegState): FuncState {
    return this.cur.frames[reg.frameno]!;
  }

  private checkStackAccessWithinBounds(regno: number, reg: RegState, off: number, sz: number, type: 'read' | 'write' | 'helper-read' | 'helper-write'): void {
    const state = this.frameOf(reg);
    const extra = type === 'write' || type === 'helper-write' ? ' write to' : ' read from';
    const isWrite = type === 'write' || type === 'helper-write';
    let minOff: bigint;
    let maxOff: bigint;
    const constOff = tnumIsConst(reg.s.varOff);
    if (constOff) {
      minOff = BigInt.asIntN(64, reg.s.varOff.value) + BigInt(off);
      maxOff = minOff + BigInt(sz);
    } else {
      if (reg.s.smax >= BPF_MAX_VAR_OFF || reg.s.smin <= -BPF_MAX_VAR_OFF) this.fail(`invalid unbounded variable-offset${extra} stack R${regno}`);
      minOff = reg.s.smin + BigInt(off);
      maxOff = reg.s.smax + BigInt(off) + BigInt(sz);
    }
    const minValid = isWrite || this.priv ? -MAX_BPF_STACK : -state.allocatedStack;
    let err = minOff < BigInt(minValid) || minOff > -1n;
    if (!err && maxOff > 0n) err = true;
    if (!err && sz < 0) err = true;
    if (err) {
      if (constOff) this.fail(`invalid${extra} stack R${regno} off=${off} size=${sz}`);
      this.fail(`invalid variable-offset${extra} stack R${regno} var_off=${tnumStrn(reg.s.varOff)} off=${off} size=${sz}`);
    }
    const need = Number(-minOff);
    state.growStack(need);
    const sp = this.cur.frames[reg.frameno]!.subprog;
    const depth = Math.ceil(need / 8) * 8;
    if (depth > this.subprogDepth[sp]!) this.subprogDepth[sp] = depth;
  }

  private markSlotScratched(frame: FuncState, spi: number): void {
    if (frame === this.cur.cur && spi < 64) this.scratch.stack |= 1n << BigInt(spi);
  }

  private checkStackWrite(reg: RegState, off: number, sz: number, valueRegno: number, insn?: InsnCode): void {
    const state = this.frameOf(reg);
    if (tnumIsConst(reg.s.varOff)) {
      this.checkStackWriteFixedOff(state, off + Number(BigInt.asIntN(64, reg.s.varOff.value)), sz, valueRegno, insn);
    } else {
      this.checkStackWriteVarOff(state, reg, off, sz, valueRegno);
    }
  }

  private isSpillable(r: RegState): boolean {
    return r.type !== RegType.SCALAR_VALUE && r.type !== RegType.NOT_INIT;
  }

  private checkStackWriteFixedOff(state: FuncState, off: number, sz: number, valueRegno: number, insn?: InsnCode): void {
    const slot = -off - 1;
    const spi = Math.floor(slot / 8);
    const st = state.stack[spi]!;
    this.markSlotScratched(state, spi);
    if (!this.priv && st.isSpill() && st.spilled.type !== RegType.SCALAR_VALUE && sz !== 8) {
      this.fail('attempt to corrupt spilled pointer on stack');
    }
    const reg = valueRegno >= 0 ? this.regs[valueRegno]! : null;
    const isSt = !!insn && cls(insn.op) === BPF_ST;
    // a register spill is recorded in the history (a fill of the slot can then be traced back to it)
    let histFlags = stackAccessFlags(state.frameno, spi);
    if (reg && !(off % 8) && reg.type === RegType.SCALAR_VALUE) {
      const fits = regWidth(reg.s) <= 8 * sz;
      if (fits && this.needsFreshId(reg)) this.freshId(reg);
      this.saveRegisterState(st, reg, sz);
      if (!fits) this.clearScalarId(st.spilled);
    } else if (!reg && !(off % 8) && isSt) {
      const tmp = new RegState();
      markRegKnown(tmp, BigInt(insn!.imm));
      this.saveRegisterState(st, tmp, sz);
    } else if (reg && this.isSpillable(reg)) {
      if (sz !== 8) this.fail('invalid size of register spill');
      if (state !== this.cur.cur && reg.type === RegType.PTR_TO_STACK) this.fail('cannot spill pointers to stack into stack frame of the caller', EINVAL);
      this.saveRegisterState(st, reg, sz);
    } else {
      let type = Slot.MISC;
      markNotInit(st.spilled);
      if (st.types[7] === Slot.SPILL) {
        for (let i = 0; i < 8; i++) if (st.types[i] !== Slot.INVALID) st.types[i] = Slot.MISC;
      }
      if ((reg && reg.isConst(0n)) || (!reg && isSt && insn!.imm === 0)) {
        // STACK_ZERO is only right while the register is zero
        this.markPrecise(valueRegno);
        type = Slot.ZERO;
      }
      for (let i = 0; i < sz; i++) st.types[(slot - i) % 8] = type;
      histFlags = 0;
    }
    if (histFlags) this.pushHist(histFlags, null);
  }

  private saveRegisterState(st: StackSlot, reg: RegState, sz: number): void {
    st.spilled.copyFrom(reg);
    let i = 8;
    for (; i > 8 - sz; i--) st.types[i - 1] = Slot.SPILL;
    for (; i; i--) {
      const t = st.types[i - 1]!;
      if (t === Slot.ZERO || t === Slot.INVALID) continue;
      st.types[i - 1] = Slot.MISC;
    }
  }

  private checkStackWriteVarOff(state: FuncState, reg: RegState, off: number, sz: number, valueRegno: number): void {
    const minOff = Number(reg.s.smin) + off;
    const maxOff = Number(reg.s.smax) + off + sz;
    const value = valueRegno >= 0 ? this.regs[valueRegno]! : null;
    const writingZero = !!value && value.isConst(0n);
    let zeroUsed = false;
    for (let i = minOff; i < maxOff; i++) {
      const slot = -i - 1;
      const spi = Math.floor(slot / 8);
      const s = state.stack[spi]!;
      this.markSlotScratched(state, spi);
      if (!this.priv && s.isSpill() && s.spilled.type !== RegType.SCALAR_VALUE) {
        this.fail(`spilled ptr in range of var-offset stack write; insn ${this.insnIdx}, ptr off: ${i}`);
      }
      markNotInit(s.spilled);
      if (s.types[7] === Slot.SPILL) for (let j = 0; j < 8; j++) if (s.types[j] !== Slot.INVALID) s.types[j] = Slot.MISC;
      const t = s.types[slot % 8]!;
      if (t === Slot.INVALID && !this.priv) {
        this.fail(`uninit stack in range of var-offset write prohibited for !root; insn ${this.insnIdx}, off: ${i}`);
      }
      if (!(writingZero && t === Slot.ZERO)) s.types[slot % 8] = Slot.MISC;
      else zeroUsed = true;
    }
    if (zeroUsed) this.markPrecise(valueRegno);
  }

  private checkStackRead(regno: number, reg: RegState, off: number, sz: number, dstRegno: number): void {
    const state = this.frameOf(reg);
    if (tnumIsConst(reg.s.varOff)) {
      this.checkStackReadFixedOff(state, off + Number(BigInt.asIntN(64, reg.s.varOff.value)), sz, dstRegno);
      return;
    }
    // check_stack_read_var_off
    const minOff = Number(reg.s.smin) + off;
    const maxOff = Number(reg.s.smax) + off + sz;
    let zeros = 0;
    for (let i = minOff; i < maxOff; i++) {
      const slot = -i - 1;
      const spi = Math.floor(slot / 8);
      const s = state.stack[spi]!;
      this.markSlotScratched(state, spi);
      const t = s.types[slot % 8]!;
      if (t === Slot.MISC) continue;
      if (t === Slot.ZERO) {
        zeros++;
        continue;
      }
      if (t === Slot.SPILL && s.spilled.type === RegType.SCALAR_VALUE) continue;
      if (t === Slot.SPILL && this.priv) continue;
      if (t === Slot.INVALID && this.priv) continue;
      this.fail(`invalid variable-offset read from stack R${regno} var_off=${tnumStrn(reg.s.varOff)} off=${off} size=${sz}`);
    }
    if (dstRegno >= 0) {
      const d = this.regs[dstRegno]!;
      if (zeros === maxOff - minOff) markRegKnown(d, 0n);
      else markRegUnknown(d);
    }
  }

  private checkStackReadFixedOff(state: FuncState, off: number, sz: number, dstRegno: number): void {
    const slot = -off - 1;
    const spi = Math.floor(slot / 8);
    const st = state.stack[spi]!;
    const stype = st.types;
    this.markSlotScratched(state, spi);
    const sp = st.spilled;
    if (stype[7] === Slot.SPILL) {
      let spillSize = 1;
      for (let i = 7; i > 0 && stype[i - 1] === Slot.SPILL; i--) spillSize++;
      if (sz !== 8 || spillSize !== 8) {
        if (sp.type !== RegType.SCALAR_VALUE) this.fail('invalid size of register fill');
        if (dstRegno < 0) return;
        const d = this.regs[dstRegno]!;
        if (sz <= spillSize && off % 8 === 0) {
          if (sz === 4 && spillSize === 4 && regWidth(sp.s) <= 32 && this.needsFreshId(sp)) this.freshId(sp);
          d.copyFrom(sp);
          // A narrowing fill breaks the link only when the value may not fit in the bytes read.
          if (regWidth(sp.s) > 8 * sz) this.clearScalarId(d);
        } else {
          let spillCnt = 0;
          let zeroCnt = 0;
          for (let i = 0; i < sz; i++) {
            const t = stype[(slot - i) % 8]!;
            if (t === Slot.SPILL) {
              spillCnt++;
              continue;
            }
            if (t === Slot.MISC) continue;
            if (t === Slot.ZERO) {
              zeroCnt++;
              continue;
            }
            if (t === Slot.INVALID && this.priv) continue;
            this.fail(`invalid read from stack off ${off}+${i} size ${sz}`);
          }
          if (spillCnt === sz && sp.isConst(0n)) markRegKnown(d, 0n);
          else {
            if (zeroCnt === sz) markRegKnown(d, 0n);
            else markRegUnknown(d);
            return; // not a fill of the spilled register: nothing for the history
          }
        }
      } else if (dstRegno >= 0) {
        this.regs[dstRegno]!.copyFrom(sp);
      } else if (!this.priv && sp.isPointer()) {
        this.fail(`leaking pointer from stack off ${off}`);
      }
      // a fill: back-tracking follows the value into the slot
      this.pushHist(stackAccessFlags(state.frameno, spi), null);
      return;
    }
    let zeros = 0;
    for (let i = 0; i < sz; i++) {
      const t = stype[(slot - i) % 8]!;
      if (t === Slot.MISC) continue;
      if (t === Slot.ZERO) {
        zeros++;
        continue;
      }
      if (t === Slot.INVALID && this.priv) continue;
      this.fail(`invalid read from stack off ${off}+${i} size ${sz}`);
    }
    if (dstRegno >= 0) {
      const d = this.regs[dstRegno]!;
      if (zeros === sz) markRegKnown(d, 0n);
      else markRegUnknown(d);
    }
  }

  // -- atomics (check_atomic) --

  private checkAtomic(insn: InsnCode): void {
    const imm = insn.imm;
    const okOps = [BPF_ADD, BPF_ADD | BPF_FETCH, BPF_AND, BPF_AND | BPF_FETCH, BPF_OR, BPF_OR | BPF_FETCH, BPF_XOR, BPF_XOR | BPF_FETCH, BPF_XCHG, BPF_CMPXCHG];
    if (!okOps.includes(imm)) this.fail(`BPF_ATOMIC uses invalid atomic opcode ${(imm >>> 0).toString(16).padStart(2, '0')}`, EINVAL);
    const sz = size(insn.op);
    if (sz !== BPF_W && sz !== BPF_DW) this.fail('invalid atomic operand size', EINVAL);
    this.checkRegSrc(insn.src);
    this.checkRegSrc(insn.dst);
    if (imm === BPF_CMPXCHG) {
      const r0 = this.checkRegSrc(0);
      if (this.isPointerValue(r0)) this.fail('R0 leaks addr into mem');
    }
    if (this.isPointerValue(this.regs[insn.src]!)) this.fail(`R${insn.src} leaks addr into mem`);
    const d = this.regs[insn.dst]!;
    if (d.type === RegType.PTR_TO_CTX || d.isPkt() || d.type === RegType.PTR_TO_FLOW_KEYS || d.type === RegType.PTR_TO_SOCKET ||
      d.type === RegType.PTR_TO_SOCK_COMMON || d.type === RegType.PTR_TO_TCP_SOCK || d.type === RegType.PTR_TO_XDP_SOCK) {
      this.fail(`BPF_ATOMIC stores into R${insn.dst} ${regTypeStr(d)} is not allowed`);
    }
    let loadReg = -1;
    if (imm & BPF_FETCH) {
      loadReg = imm === BPF_CMPXCHG ? 0 : insn.src;
      this.checkRegDst(loadReg, true);
    }
    const bytes = sizeBytes(sz);
    this.checkMemAccess(insn.dst, insn.off, bytes, false, -1, true, false);
    if (loadReg >= 0) this.checkMemAccess(insn.dst, insn.off, bytes, false, loadReg, true, false);
    this.checkMemAccess(insn.dst, insn.off, bytes, true, -1, true, false);
  }

  // -- LD_IMM64 / LD_ABS --

  private checkLdImm(insn: InsnCode): void {
    if (insn.off !== 0) this.fail('BPF_LD_IMM64 uses reserved fields', EINVAL);
    const dst = this.checkRegDst(insn.dst, true);
    if (insn.src === 0) {
      const imm = (BigInt(insn.imm64hi ?? 0) << 32n) | BigInt(insn.imm >>> 0);
      markRegKnown(dst, imm);
      return;
    }
    markPtr(dst, RegType.SCALAR_VALUE);
    if (insn.src === BPF_PSEUDO_FUNC) {
      markPtr(dst, RegType.PTR_TO_FUNC);
      // subprogno: kept as the callback's first instruction
      dst.range = this.insnIdx + insn.imm + 1;
      return;
    }
    if (insn.src === 3) this.fail('ksym/BTF id loads are not supported by bpfvm', EINVAL);
    const map = this.maps[insn.imm];
    if (!map) this.fail(`fd ${insn.imm} is not pointing to valid bpf_map`, EBADF);
    if (insn.src === 2 || insn.src === 6) {
      markPtr(dst, RegType.PTR_TO_MAP_VALUE);
      dst.map = map;
      dst.off = (insn.imm64hi ?? 0) >>> 0;
    } else {
      markPtr(dst, RegType.CONST_PTR_TO_MAP);
      dst.map = map;
    }
  }

  private checkLdAbs(insn: InsnCode): void {
    if (this.progType !== PT.SOCKET_FILTER && this.progType !== PT.SCHED_CLS && this.progType !== PT.SCHED_ACT) {
      this.fail('BPF_LD_[ABS|IND] instructions not allowed for this program type', EINVAL);
    }
    const m = mode(insn.op);
    if (insn.dst !== 0 || insn.off !== 0 || size(insn.op) === BPF_DW || (m === BPF_ABS && insn.src !== 0)) {
      this.fail('BPF_LD_[ABS|IND] uses reserved fields', EINVAL);
    }
    this.checkRegSrc(6);
    this.checkResourceLeak(false, 'BPF_LD_[ABS|IND]', true);
    const r6 = this.regs[6]!;
    if (r6.type !== RegType.PTR_TO_CTX) this.fail('at the time of BPF_LD_ABS|IND R6 != pointer to skb', EINVAL);
    if (m === BPF_IND) this.checkRegSrc(insn.src);
    this.checkPtrOffReg(r6, 6, false);
    for (let i = 0; i <= 5; i++) {
      markNotInit(this.regs[i]!);
      this.scratch.regs |= 1 << i;
    }
    markRegUnknown(this.regs[0]!);
  }

  // -- conditional jumps (check_cond_jmp_op) --

  private checkCondJmpOp(insn: InsnCode): void {
    const op = aluOp(insn.op);
    if (op === BPF_JA || op > BPF_JCOND) this.fail(`invalid BPF_JMP/JMP32 opcode ${op.toString(16)}`, EINVAL);
    const regs = this.regs;
    this.checkRegSrc(insn.dst);
    const dst = regs[insn.dst]!;
    let src: RegState;
    const x = srcBit(insn.op) === BPF_X;
    if (x) {
      if (insn.imm !== 0) this.fail('BPF_JMP/JMP32 uses reserved fields', EINVAL);
      this.checkRegSrc(insn.src);
      src = regs[insn.src]!;
      if (!isPktOrEnd(dst) || !isPktOrEnd(src)) {
        if (this.isPointerValue(src)) this.fail(`R${insn.src} pointer comparison prohibited`);
      }
    } else {
      if (insn.src !== 0) this.fail('BPF_JMP/JMP32 uses reserved fields', EINVAL);
      src = this.immScalar(insn.imm);
    }
    let histFlags = 0;
    if (x && src.type === RegType.PTR_TO_STACK) histFlags |= INSN_F_SRC_REG_STACK;
    if (dst.type === RegType.PTR_TO_STACK) histFlags |= INSN_F_DST_REG_STACK;
    if (histFlags) this.pushHist(histFlags, null);
    const is32 = cls(insn.op) === BPF_JMP32;
    const pred = this.isBranchTaken(dst, src, op, is32);
    if (pred >= 0) {
      // the outcome depends on the scalars' values (markPrecise passes over pointers)
      this.markPrecise(insn.dst);
      if (x) this.markPrecise(insn.src);
    }
    if (pred === 1) {
      if (this.log.level & BPF_LOG_LEVEL) this.printInsnState(this.cur.frames.length - 1);
      this.prevInsnIdx = this.insnIdx;
      this.insnIdx += insn.off + 1;
      return;
    }
    if (pred === 0) {
      if (this.log.level & BPF_LOG_LEVEL) this.printInsnState(this.cur.frames.length - 1);
      this.prevInsnIdx = this.insnIdx;
      this.insnIdx += 1;
      return;
    }
    // scalars sharing an id with the operands are refined together: the history records them for back-tracking
    const dstId = dst.type === RegType.SCALAR_VALUE ? dst.id : 0;
    const srcId = x && src.type === RegType.SCALAR_VALUE ? src.id : 0;
    let linked: readonly LinkedReg[] = NO_LINKED_REGS;
    if (srcId || dstId) {
      const l: LinkedReg[] = [];
      if (srcId) this.collectLinkedRegs(srcId, l);
      if (dstId) this.collectLinkedRegs(dstId, l);
      if (l.length > 1) this.pushHist(0, l);
      linked = l;
    }
    const target = this.insnIdx + insn.off + 1;
    const other = this.pushStack(target, this.insnIdx);
    const oregs = other.cur.regs;
    if (dst.type === RegType.SCALAR_VALUE && src.type === RegType.SCALAR_VALUE) {
      const tDst = oregs[insn.dst]!;
      const tSrc = x ? oregs[insn.src]! : src.clone();
      const fSrc = x ? src : src.clone();
      const viol = regSetMinMax(tDst.s, tSrc.s, dst.s, fSrc.s, op, is32);
      for (const [ctx, msg] of viol) {
        const r = ctx === 'true_reg1' ? tDst : ctx === 'true_reg2' ? tSrc : ctx === 'false_reg1' ? dst : fSrc;
        this.log.verbose(invariantsViolationText(r.s, ctx, msg) + '\n');
      }
    }
    if (srcId) {
      this.syncLinkedRegs(this.cur, src, linked);
      this.syncLinkedRegs(other, oregs[insn.src]!, linked);
    }
    if (dstId) {
      this.syncLinkedRegs(this.cur, dst, linked);
      this.syncLinkedRegs(other, oregs[insn.dst]!, linked);
    }
    // Two pointers compared for (in)equality, one possibly null and the other not: in the branch where they are
    // equal the possibly-null one is not null (only that register, not others sharing its id).
    if (!is32 && x && dst.isPointer() && src.isPointer() && dst.maybeNull !== src.maybeNull &&
        dst.type !== RegType.PTR_TO_BTF_ID && src.type !== RegType.PTR_TO_BTF_ID && (op === BPF_JEQ || op === BPF_JNE)) {
      const eqRegs = op === BPF_JEQ ? oregs : regs;
      this.markPtrNotNullReg(eqRegs[src.maybeNull ? insn.src : insn.dst]!);
    }
    if (!is32 && !x && insn.imm === 0 && (op === BPF_JEQ || op === BPF_JNE) && dst.maybeNull) {
      const id = dst.id;
      const refObjId = dst.refObjId;
      this.markPtrOrNullRegs(this.cur, id, refObjId, op === BPF_JNE);
      this.markPtrOrNullRegs(other, id, refObjId, op === BPF_JEQ);
    } else if (!this.tryMatchPktPointers(insn, dst, x ? regs[insn.src]! : src, this.cur, other) && this.isPointerValue(dst)) {
      this.fail(`R${insn.dst} pointer comparison prohibited`);
    }
    if (this.log.level & BPF_LOG_LEVEL) this.printInsnState(this.cur.frames.length - 1);
    this.prevInsnIdx = this.insnIdx;
    this.insnIdx += 1;
  }

  private isBranchTaken(r1: RegState, r2: RegState, op: number, is32: boolean): -1 | 0 | 1 {
    if (isPktOrEnd(r1) && isPktOrEnd(r2) && !is32) return this.isPktPtrBranchTaken(r1, r2, op);
    if (r1.isPointer() || r2.isPointer()) {
      const isConst = (r: RegState) => r.type === RegType.SCALAR_VALUE && (is32 ? tnumSubregIsConst(r.s.varOff) : tnumIsConst(r.s.varOff));
      if (!isConst(r2)) {
        op = flipOpcode(op);
        [r1, r2] = [r2, r1];
      }
      if (!isConst(r2)) return -1;
      if (!this.regNotNull(r1)) return -1;
      const val = is32 ? r2.s.varOff.value & 0xffffffffn : r2.s.varOff.value;
      if (val !== 0n) return -1;
      if (op === BPF_JEQ) return 0;
      if (op === BPF_JNE) return 1;
      return -1;
    }
    return isBranchTaken(r1.s, r2.s, op, is32);
  }

  private regNotNull(r: RegState): boolean {
    if (r.maybeNull) return false;
    const t = r.type;
    return t === RegType.PTR_TO_SOCKET || t === RegType.PTR_TO_TCP_SOCK || t === RegType.PTR_TO_MAP_VALUE || t === RegType.PTR_TO_MAP_KEY ||
      t === RegType.PTR_TO_SOCK_COMMON || t === RegType.PTR_TO_MEM;
  }

  private isPktPtrBranchTaken(dst: RegState, src: RegState, op: number): -1 | 0 | 1 {
    let pkt: RegState;
    if (src.type === RegType.PTR_TO_PACKET_END) pkt = dst;
    else if (dst.type === RegType.PTR_TO_PACKET_END) {
      pkt = src;
      op = flipOpcode(op);
    } else return -1;
    if (pkt.range >= 0) return -1;
    switch (op) {
      case BPF_JLE:
      case BPF_JGT:
        if (pkt.range === BEYOND_PKT_END) return op === BPF_JGT ? 1 : 0;
        break;
      case BPF_JLT:
      case BPF_JGE:
        if (pkt.range === BEYOND_PKT_END || pkt.range === AT_PKT_END) return op === BPF_JGE ? 1 : 0;
        break;
    }
    return -1;
  }

  /**
   * collect_linked_regs: scalars (live registers, spilled slots) of the current state with scalar id `id`; a
   * comparison refines exactly these (sync_linked_regs). Dead registers are left alone (observed on 6.18).
   */
  private collectLinkedRegs(id: number, out: LinkedReg[]): void {
    const frames = this.cur.frames;
    const add = (r: RegState, frameno: number, index: number, isReg: boolean) => {
      if (r.type !== RegType.SCALAR_VALUE || r.id !== id) return;
      if (out.length < LINKED_REGS_MAX) out.push({ frameno, index, isReg });
      else this.clearScalarId(r);
    };
    for (let i = frames.length - 1; i >= 0; i--) {
      const f = frames[i]!;
      const live = this.liveMask(i, this.insnIdx);
      for (let j = 0; j < 10; j++) if (live & (1 << j)) add(f.regs[j]!, i, j, true);
      for (let j = 0; j < f.stack.length; j++) if (f.stack[j]!.types[7] === Slot.SPILL) add(f.stack[j]!.spilled, i, j, false);
    }
  }

  private forEachReg(st: VerifierState, fn: (r: RegState) => void): void {
    for (const f of st.frames) {
      for (const r of f.regs) fn(r);
      for (const s of f.stack) if (s.types[7] === Slot.SPILL) fn(s.spilled);
    }
  }

  /**
   * sync_linked_regs: every scalar sharing `known`'s id becomes `known` plus the difference of their deltas,
   * added in 32 bits (and zero-extended) when either link came from a 32-bit add. Registers linked by a 64-bit
   * add are left alone when `known`'s link is a 32-bit one and vice versa (observed on the host kernel).
   */
  private syncLinkedRegs(st: VerifierState, known: RegState, linked: readonly LinkedReg[]): void {
    const kOff = known.linked ? known.linkOff : 0;
    for (const e of linked) {
      const f = st.frames[e.frameno]!;
      const r = e.isReg ? f.regs[e.index]! : f.stack[e.index]!.spilled;
      if (r === known || r.type !== RegType.SCALAR_VALUE || r.id !== known.id) continue;
      if (r.linked && known.linked && r.link32 !== known.link32) continue;
      const rOff = r.linked ? r.linkOff : 0;
      const { linked, link32, precise } = r;
      r.copyFrom(known);
      r.linked = linked;
      r.linkOff = linked ? rOff : 0;
      r.link32 = link32;
      r.precise = precise;
      if (rOff !== kOff) adjustScalarMinMaxVals(r.s, ScalarBounds.known(BigInt(rOff - kOff)), BPF_ADD, !(link32 || known.link32));
    }
  }

  private markPtrOrNullRegs(st: VerifierState, id: number, refObjId: number, isNull: boolean): void {
    if (refObjId && refObjId === id && isNull) st.refs = st.refs.filter((r) => r.id !== id);
    this.forEachReg(st, (r) => {
      if (!r.maybeNull || r.id !== id || !id) return;
      if (isNull) {
        markRegKnown(r, 0n);
        return;
      }
      this.markPtrNotNullReg(r);
      // reg_may_point_to_spin_lock: the id names the lock the value holds
      if (!(r.type === RegType.PTR_TO_MAP_VALUE && hasSpinLock(r.map))) r.id = 0;
    });
  }

  /** mark_ptr_not_null_reg: drop the maybe-null flag; a map lookup result becomes what the map holds. */
  private markPtrNotNullReg(r: RegState): void {
    if (!r.maybeNull) return;
    if (r.type === RegType.PTR_TO_MAP_VALUE) {
      const map = r.map!;
      if (map.innerMap) {
        r.type = RegType.CONST_PTR_TO_MAP;
        r.map = map.innerMap;
      } else if (map.type === MT.XSKMAP) r.type = RegType.PTR_TO_XDP_SOCK;
      else if (map.type === MT.SOCKMAP || map.type === MT.SOCKHASH) r.type = RegType.PTR_TO_SOCKET;
    }
    r.maybeNull = false;
  }

  private findGoodPktPointers(st: VerifierState, p: RegState, open: boolean): void {
    if (p.off < 0 || (p.off === 0 && open)) return;
    if (p.s.umax > MAX_PACKET_OFF || p.s.umax + BigInt(p.off) > MAX_PACKET_OFF) return;
    let newRange = p.off;
    if (open) newRange++;
    const type = p.type;
    const id = p.id;
    this.forEachReg(st, (r) => {
      if (r.type === type && r.id === id) r.range = Math.max(r.range, newRange);
    });
  }

  private markPktEnd(st: VerifierState, regno: number, open: boolean): void {
    const r = st.cur.regs[regno]!;
    if (r.type !== RegType.PTR_TO_PACKET) return;
    r.range = open ? BEYOND_PKT_END : AT_PKT_END;
  }

  private tryMatchPktPointers(insn: InsnCode, dst: RegState, src: RegState, thisB: VerifierState, otherB: VerifierState): boolean {
    if (srcBit(insn.op) !== BPF_X || cls(insn.op) === BPF_JMP32) return false;
    const isInitPkt = (r: RegState) => r.type === RegType.PTR_TO_PACKET && r.off === 0 && tnumIsConst(r.s.varOff) && r.s.varOff.value === 0n;
    const dstFirst = (dst.type === RegType.PTR_TO_PACKET && src.type === RegType.PTR_TO_PACKET_END) ||
      (dst.type === RegType.PTR_TO_PACKET_META && isInitPkt(src));
    const srcFirst = (dst.type === RegType.PTR_TO_PACKET_END && src.type === RegType.PTR_TO_PACKET) ||
      (isInitPkt(dst) && src.type === RegType.PTR_TO_PACKET_META);
    const d = dst.clone();
    const s = src.clone();
    switch (aluOp(insn.op)) {
      case BPF_JGT:
        if (dstFirst) {
          this.findGoodPktPointers(thisB, d, false);
          this.markPktEnd(otherB, insn.dst, true);
        } else if (srcFirst) {
          this.findGoodPktPointers(otherB, s, true);
          this.markPktEnd(thisB, insn.src, false);
        } else return false;
        break;
      case BPF_JLT:
        if (dstFirst) {
          this.findGoodPktPointers(otherB, d, true);
          this.markPktEnd(thisB, insn.dst, false);
        } else if (srcFirst) {
          this.findGoodPktPointers(thisB, s, false);
          this.markPktEnd(otherB, insn.src, true);
        } else return false;
        break;
      case BPF_JGE:
        if (dstFirst) {
          this.findGoodPktPointers(thisB, d, true);
          this.markPktEnd(otherB, insn.dst, false);
        } else if (srcFirst) {
          this.findGoodPktPointers(otherB, s, false);
          this.markPktEnd(thisB, insn.src, true);
        } else return false;
        break;
      case BPF_JLE:
        if (dstFirst) {
          this.findGoodPktPointers(otherB, d, false);
          this.markPktEnd(thisB, insn.dst, true);
        } else if (srcFirst) {
          this.findGoodPktPointers(thisB, s, true);
          this.markPktEnd(otherB, insn.src, false);
        } else return false;
        break;
      default:
        return false;
    }
    return true;
  }

  // -- calls --

  private checkFuncCall(insn: InsnCode): void {
    const st = this.cur;
    const target = this.insnIdx + insn.imm + 1;
    if (st.frames.length >= MAX_CALL_FRAMES) this.fail(`the call stack of ${st.frames.length + 1} frames is too deep`, E2BIG);
    const caller = st.cur;
    const callee = this.newFrame(st.frames.length, this.insnIdx, this.subprogOf[target]!);
    for (let i = 1; i <= 5; i++) callee.regs[i]!.copyFrom(caller.regs[i]!);
    st.frames.push(callee);
    for (let i = 0; i <= 5; i++) {
      markNotInit(caller.regs[i]!);
      this.scratch.regs |= 1 << i;
    }
    if (this.log.level & BPF_LOG_LEVEL) {
      this.log.verbose('caller:\n' + formatState(st, caller.frameno, null) + '\n');
      this.log.verbose('callee:\n' + formatState(st, callee.frameno, null) + '\n');
    }
    this.scratch.all();
    this.prevInsnIdx = this.insnIdx;
    this.insnIdx = target;
  }

  private processExit(): 'exit' | 'return' {
    this.checkResourceLeak(this.cur.frames.length > 1, 'BPF_EXIT instruction in main prog', this.cur.frames.length === 1);
    const st = this.cur;
    if (st.frames.length > 1) {
      const callee = st.cur;
      const r0 = callee.regs[0]!;
      // any stack pointer (the kernel is conservative: a caller's stack would still be valid)
      if (r0.type === RegType.PTR_TO_STACK) this.fail('cannot return stack pointer to the caller', EINVAL);
      const caller = st.frames[st.frames.length - 2]!;
      const inCallback = callee.inCallbackFn;
      if (inCallback) {
        if (r0.type !== RegType.SCALAR_VALUE) this.fail('R0 not a scalar value', EACCES);
        this.markPrecise(0);
        this.checkRetvalRange(r0, callee.cbRetMin, callee.cbRetMax, 'At callback return');
      } else {
        caller.regs[0]!.copyFrom(r0);
      }
      // a sync callback returns to its call: the call is visited again (the callback may run again)
      const ret = inCallback ? callee.callsite : callee.callsite + 1;
      if (this.log.level & BPF_LOG_LEVEL) {
        this.log.verbose('returning from callee:\n' + formatState(st, callee.frameno, null) + '\n');
        this.log.verbose(`to caller at ${ret}:\n` + formatState(st, caller.frameno, null) + '\n');
      }
      st.frames.pop();
      this.prevInsnIdx = this.insnIdx;
      this.insnIdx = ret;
      if (inCallback) {
        const prev = this.findPrevEntry(st, ret);
        if (prev) this.widenImpreciseScalars(prev, st);
      }
      return 'return';
    }
    this.checkReturnCode();
    return 'exit';
  }

  /** find_prev_entry: the checkpoint at `idx` on the current DFS path (the previous visit of a loop). */
  private findPrevEntry(st: VerifierState, idx: number): VerifierState | null {
    const list = this.explored[this.exploredBucket(idx, st.cur.callsite)];
    if (!list) return null;
    for (let k = list.length - 1; k >= 0; k--) {
      const o = list[k]!;
      if (o.insnIdx === idx && o.branches && sameCallsites(o, st) && o.dfsDepth < st.dfsDepth) return o;
    }
    return null;
  }

  /** widen_imprecise_scalars: scalars that changed since the previous visit and nothing needs precise become unknown. */
  private widenImpreciseScalars(old: VerifierState, cur: VerifierState): void {
    const idmap = new IdMap();
    const widen = (o: RegState, c: RegState): void => {
      if (o.type !== RegType.SCALAR_VALUE || c.type !== RegType.SCALAR_VALUE) return;
      if (o.precise || c.precise || regsExact(o, c, idmap)) return;
      markRegUnknown(c);
    };
    for (let fr = old.frames.length - 1; fr >= 0; fr--) {
      const fo = old.frames[fr]!;
      const fc = cur.frames[fr]!;
      for (let i = 0; i < 11; i++) widen(fo.regs[i]!, fc.regs[i]!);
      for (let spi = 0; spi < fo.stack.length && spi < fc.stack.length; spi++) {
        const so = fo.stack[spi]!;
        const sc = fc.stack[spi]!;
        if (so.types[7] !== Slot.SPILL || sc.types[7] !== Slot.SPILL) continue;
        widen(so.spilled, sc.spilled);
      }
    }
  }

  /** retval_range_within and verbose_invalid_scalar. */
  private checkRetvalRange(r0: RegState, min: number, max: number, ctx: string): void {
    if (BigInt(min) <= r0.s.smin && r0.s.smax <= BigInt(max)) return;
    let m = `${ctx} the register R0 has`;
    let unknown = true;
    if (r0.s.smin > S64_MIN) {
      m += ` smin=${r0.s.smin}`;
      unknown = false;
    }
    if (r0.s.smax < S64_MAX) {
      m += ` smax=${r0.s.smax}`;
      unknown = false;
    }
    if (unknown) m += ' unknown scalar value';
    m += ` should have been in [${min}, ${max}]`;
    this.fail(m, EINVAL);
  }

  private activeLocks(): number {
    let n = 0;
    for (const r of this.cur.refs) if (r.lock) n++;
    return n;
  }

  /** check_resource_leak: held locks (checkLock), then references not released (main frame only). */
  private checkResourceLeak(inSubprog: boolean, prefix: string, checkLock: boolean): void {
    if (checkLock && this.activeLocks()) this.fail(`${prefix} cannot be used inside bpf_spin_lock-ed region`, EINVAL);
    if (inSubprog) return;
    const refs = this.cur.refs.filter((r) => !r.lock);
    if (!refs.length) return;
    for (const r of refs) this.log.verbose(`Unreleased reference id=${r.id} alloc_insn=${r.insnIdx}\n`);
    this.fail(`${prefix} would lead to reference leak`, EINVAL);
  }

  private checkReturnCode(): void {
    const r0 = this.checkRegSrc(0);
    if (this.isPointerValue(r0)) this.fail('R0 leaks addr as return value');
    const frame = this.cur.cur;
    if (frame.inAsyncCallbackFn) {
      if (r0.type !== RegType.SCALAR_VALUE) this.fail(`At async callback return the register R0 is not a known value (${regTypeStr(r0)})`, EINVAL);
      this.markPrecise(0);
      this.checkRetvalRange(r0, frame.cbRetMin, frame.cbRetMax, 'At async callback return');
      return;
    }
    let range: [number, number] | null = null;
    switch (this.progType) {
      case PT.CGROUP_SKB:
        range = this.attachType === BPF_CGROUP_INET_EGRESS ? [0, 3] : [0, 1];
        break;
      case PT.SOCK_OPS:
        range = [0, 1];
        break;
      default:
        return;
    }
    if (r0.type !== RegType.SCALAR_VALUE) this.fail(`At program exit the register R0 is not a known value (${regTypeStr(r0)})`, EINVAL);
    this.markPrecise(0);
    this.checkRetvalRange(r0, range[0], range[1], 'At program exit');
  }

  private checkMaxStackDepth(): void {
    // check_max_stack_depth: walk call chains; each frame's depth rounded up to 32 (interpreter) — the JIT
    // rounds to 16; the host JITs, so round to 16 like the kernel does with bpf_jit_enabled.
    const subs = this.structure.subprogs;
    const round = (d: number) => Math.max(16, Math.ceil(d / 16) * 16);
    const calls: number[][] = subs.map(() => []);
    subs.forEach((sp, k) => {
      for (let pc = sp.start; pc < sp.end; pc++) {
        const i = this.slots[pc]!;
        if (isPseudoCall(i)) calls[k]!.push(this.subprogOf[pc + i.imm + 1]!);
      }
    });
    const walk = (k: number, depth: number, frames: number): void => {
      const d = depth + round(this.subprogDepth[k] ?? 0);
      if (frames > MAX_CALL_FRAMES) this.fail(`the call stack of ${frames} frames is too deep !`, E2BIG);
      if (d > MAX_BPF_STACK) this.fail(`combined stack size of ${frames} calls is ${d}. Too large`, EACCES);
      for (const c of calls[k]!) if (c !== k) walk(c, d, frames + 1);
    };
    walk(0, 0, 1);
  }

  // -- helpers (check_helper_call) --

  private checkHelperCall(insn: InsnCode): void {
    const id = insn.imm;
    if (id < 0 || id >= 212) this.fail(helperCallMessage('invalidFunc', id).replace(/^invalid func [^#]*#/, 'invalid func unknown#'), EINVAL);
    const proto = protoFor(this.progType, id, { privileged: this.priv, expectedAttachType: this.opts.attachType });
    if (!proto) this.fail(helperCallMessage('notAllowedInProgType', id), EINVAL);
    if (proto.gplOnly && !isGplCompatible(this.opts.license ?? 'GPL')) this.fail('cannot call GPL-restricted function from non-GPL compatible program', EINVAL);
    if (proto.mightSleep) this.fail('helper call might sleep in a non-sleepable prog', EINVAL);
    const meta: ArgMeta = { map: null, rawMode: false, accessSize: 0, regno: -1, constMapKey: -1, refObjId: 0, releaseRegno: 0, memSize: 0, cbStart: -1 };
    for (let i = 0; i < 5; i++) this.checkFuncArg(i, meta, proto);
    // raw-mode (uninitialised output) buffers become written memory
    if (meta.rawMode && meta.regno >= 0) {
      for (let i = 0; i < meta.accessSize; i++) this.checkMemAccess(meta.regno, i, 1, true, -1, false, false);
    }
    if (meta.releaseRegno) {
      const rid = meta.refObjId;
      if (!this.cur.refs.some((r) => r.id === rid)) this.fail(`func ${proto.name}#${id} reference has not been acquired before`, EINVAL);
      this.cur.refs = this.cur.refs.filter((r) => r.id !== rid);
      this.forEachReg(this.cur, (r) => {
        if (r.refObjId === rid) markRegUnknown(r);
      });
    }
    if (id === 12) {
      this.checkResourceLeak(false, 'tail_call', false);
      this.recordFuncKey(meta);
    }
    if (id === 181) {
      // bpf_loop: the verifier relies on R1 to know when the iterations end; a callback is visited again only
      // while fewer visits than R1's maximum were made along this path
      this.updateLoopInlineState(meta.cbStart);
      this.markPrecise(1);
      if (BigInt(this.cur.cur.callbackDepth) < this.regs[1]!.s.umax) this.pushCallbackCall(id, meta);
      else {
        this.cur.cur.callbackDepth = 0;
        if (this.log.level & BPF_LOG_LEVEL2) this.log.verbose(`frame${this.cur.frames.length - 1} bpf_loop iteration limit reached\n`);
      }
    } else if (SYNC_CALLBACK_HELPERS.has(id) || ASYNC_CALLBACK_HELPERS.has(id)) this.pushCallbackCall(id, meta);
    if (id === 81) {
      if (!this.regs[2]!.isConst(0n)) this.fail("get_local_storage() doesn't support non-zero flags", EINVAL);
      this.markPrecise(2);
    }
    const regs = this.regs;
    for (let i = 0; i <= 5; i++) {
      markNotInit(regs[i]!);
      this.scratch.regs |= 1 << i;
    }
    const r0 = regs[0]!;
    const maybeNull = proto.retFlags.includes('PTR_MAYBE_NULL');
    switch (proto.retBase) {
      case 'RET_INTEGER':
        markRegUnknown(r0);
        break;
      case 'RET_VOID':
        break;
      case 'RET_PTR_TO_MAP_VALUE': {
        markPtr(r0, RegType.PTR_TO_MAP_VALUE);
        if (!meta.map) this.fail('kernel subsystem misconfigured verifier', EINVAL);
        let nullable = maybeNull;
        if (id === 1 && (meta.map.type === MT.ARRAY || meta.map.type === MT.PERCPU_ARRAY) && meta.constMapKey >= 0 && meta.constMapKey < meta.map.maxEntries) nullable = false;
        r0.map = meta.map;
        r0.maybeNull = nullable;
        // a value that holds a bpf_spin_lock is named by an id (the lock's)
        if (!nullable && hasSpinLock(meta.map)) r0.id = ++this.idGen;
        // KERNEL vs SPEC: the host kernel (6.18 stable) types a sockmap/sockhash lookup result as sock_or_null
        // straight after the call (it prints `R0=sock_or_null(id=N,ref_obj_id=N)`), not map_value_or_null.
        if (meta.map.type === MT.SOCKMAP || meta.map.type === MT.SOCKHASH) r0.type = RegType.PTR_TO_SOCKET;
        break;
      }
      case 'RET_PTR_TO_SOCKET':
        markPtr(r0, RegType.PTR_TO_SOCKET);
        r0.maybeNull = maybeNull;
        break;
      case 'RET_PTR_TO_SOCK_COMMON':
        markPtr(r0, RegType.PTR_TO_SOCK_COMMON);
        r0.maybeNull = maybeNull;
        break;
      case 'RET_PTR_TO_TCP_SOCK':
        markPtr(r0, RegType.PTR_TO_TCP_SOCK);
        r0.maybeNull = maybeNull;
        break;
      case 'RET_PTR_TO_MEM':
        markPtr(r0, RegType.PTR_TO_MEM);
        r0.maybeNull = maybeNull;
        r0.range = meta.memSize;
        // MEM_RINGBUF: ring buffer memory keeps its ring buffer map (see isRingbufMem)
        if (proto.retFlags.includes('MEM_RINGBUF')) r0.map = meta.map;
        break;
      default:
        this.fail(`bpfvm does not model the return type ${proto.ret} of ${proto.name}#${id}`, EINVAL);
    }
    if (r0.maybeNull) r0.id = ++this.idGen;
    const isCast = id === 96 || id === 95 || (id >= 136 && id <= 140) || id === 178 || id === 196;
    const acquires = id === 84 || id === 85 || id === 99 || id === 131 || (id === 1 && meta.map !== null && (meta.map.type === MT.SOCKMAP || meta.map.type === MT.SOCKHASH));
    if (isCast) {
      r0.refObjId = meta.refObjId;
    } else if (acquires) {
      const rid = ++this.idGen;
      this.cur.refs.push({ id: rid, insnIdx: this.insnIdx });
      r0.id = rid;
      r0.refObjId = rid;
    }
    this.checkMapFuncCompatibility(meta.map, id);
    let changes = proto.changesPktData;
    if (id === 12) changes = this.cur.frames.length > 1; // 6.18: only subprogram frames
    if (changes) this.clearAllPktPointers();
  }

  /**
   * process_spin_lock: the argument points at the map value's struct bpf_spin_lock; bpf_spin_lock takes the
   * lock (a lock state in refs, named by the register's id and the map), bpf_spin_unlock releases the same one.
   */
  private processSpinLock(regno: number, reg: RegState, isLock: boolean): void {
    if (!tnumIsConst(reg.s.varOff)) this.fail(`R${regno} doesn't have constant offset. bpf_spin_lock has to be at the constant offset`, EINVAL);
    const map = reg.map!;
    if (map.btfValueTypeId === undefined) this.fail(`map '${kernelMapName(map.name)}' has to have BTF in order to use bpf_spin_lock`, EINVAL);
    const lock = map.valueFields?.fields.find((f) => f.kind === 'spin_lock');
    if (!lock) this.fail(`map '${kernelMapName(map.name)}' has no valid bpf_spin_lock`, EINVAL);
    const off = BigInt.asIntN(64, reg.s.varOff.value + BigInt(reg.off));
    if (off !== BigInt(lock.offset)) this.fail(`off ${off} doesn't point to 'struct bpf_spin_lock' that is at ${lock.offset}`, EINVAL);
    const st = this.cur;
    const held = this.activeLocks();
    if (isLock) {
      if (held) this.fail('Locking two bpf_spin_locks are not allowed', EINVAL);
      st.refs.push({ id: reg.id, insnIdx: this.insnIdx, lock: map });
      return;
    }
    if (!held) this.fail('bpf_spin_unlock without taking a lock', EINVAL);
    const k = st.refs.findIndex((r) => r.lock === map && r.id === reg.id);
    if (k < 0) this.fail('bpf_spin_unlock of different lock', EINVAL);
    st.refs.splice(k, 1);
  }

  /**
   * update_loop_inline_state: a bpf_loop call whose flags are always zero (and callback always the same) could be
   * inlined; the zero flags are then relied on (marked precise), as the kernel does.
   */
  private updateLoopInlineState(cbStart: number): void {
    const idx = this.insnIdx;
    const st = this.loopInline.get(idx);
    const flagZero = (): boolean => {
      const z = this.regs[4]!.isConst(0n);
      if (z) this.markPrecise(4);
      return z;
    };
    if (!st) {
      this.loopInline.set(idx, { fit: flagZero(), cb: cbStart });
      return;
    }
    if (!st.fit) return;
    st.fit = flagZero() && st.cb === cbStart;
  }

  /** process_timer_func: the argument points at the map value's struct bpf_timer. */
  private processTimerFunc(regno: number, reg: RegState, meta: ArgMeta): void {
    const map = reg.map!;
    const isConst = tnumIsConst(reg.s.varOff);
    if (!isConst) this.fail(`R${regno} doesn't have constant offset. bpf_timer has to be at the constant offset`);
    if (map.btfValueTypeId === undefined) this.fail(`map '${kernelMapName(map.name)}' has to have BTF in order to use bpf_timer`, EINVAL);
    const timer = map.valueFields?.fields.find((f) => f.kind === 'timer');
    if (!timer) this.fail(`map '${kernelMapName(map.name)}' has no valid bpf_timer`, EINVAL);
    const off = Number(BigInt.asIntN(64, reg.s.varOff.value)) + reg.off;
    if (off !== timer.offset) this.fail(`off ${off} doesn't point to 'struct bpf_timer' that is at ${timer.offset}`, EINVAL);
    meta.map = map;
  }

  /**
   * push_callback_call: the callback is verified as a frame above the caller's (sync callbacks: a branch that
   * starts at the callback with the caller's state at the call; its exit returns to the call, which is visited
   * again until the states converge) or, for a timer callback, as a fresh program started later.
   */
  private pushCallbackCall(id: number, meta: ArgMeta): void {
    const start = meta.cbStart;
    if (start < 0) this.fail('kernel subsystem misconfigured verifier', EFAULT);
    const subprog = this.subprogOf[start]!;
    const caller = this.cur.cur;
    if (ASYNC_CALLBACK_HELPERS.has(id)) {
      const st = new VerifierState();
      const f = this.newFrame(0, -1, subprog);
      this.setCalleeState(id, caller, f, meta);
      f.inAsyncCallbackFn = true;
      f.asyncEntryCnt = caller.asyncEntryCnt + 1;
      st.frames.push(f);
      st.branches = 1;
      this.pushBranch(st, start, this.insnIdx);
      this.scratch.all();
      return;
    }
    const st = this.pushStack(start, this.insnIdx);
    if (st.frames.length >= MAX_CALL_FRAMES) this.fail(`the call stack of ${st.frames.length + 1} frames is too deep`, E2BIG);
    const callee = this.newFrame(st.frames.length, this.insnIdx, subprog);
    this.setCalleeState(id, st.cur, callee, meta);
    callee.inCallbackFn = true;
    st.callbackUnrollDepth++;
    st.cur.callbackDepth++;
    st.frames.push(callee);
    caller.callbackDepth = 0;
    this.scratch.all();
  }

  /** A callee's frame: fresh registers, r10 pointing at its own (empty) stack. */
  private newFrame(frameno: number, callsite: number, subprog: number): FuncState {
    const f = new FuncState();
    f.frameno = frameno;
    f.callsite = callsite;
    f.subprog = subprog;
    markPtr(f.regs[10]!, RegType.PTR_TO_STACK);
    f.regs[10]!.frameno = frameno;
    return f;
  }

  /** set_map_elem_callback_state, set_loop_callback_state, set_timer_callback_state: the callback's arguments. */
  private setCalleeState(id: number, caller: FuncState, callee: FuncState, meta: ArgMeta): void {
    const r = callee.regs;
    const map = meta.map;
    const mapKeyValue = (m: MapSpec): void => {
      markPtr(r[2]!, RegType.PTR_TO_MAP_KEY);
      r[2]!.map = m;
      markPtr(r[3]!, RegType.PTR_TO_MAP_VALUE);
      r[3]!.map = m;
      r[3]!.id = ++this.idGen;
    };
    switch (id) {
      case 164: {
        if (!map || !FOR_EACH_MAPS.has(map.type)) this.fail('callback function not allowed for map', 524);
        r[1]!.copyFrom(caller.regs[1]!);
        mapKeyValue(map);
        r[4]!.copyFrom(caller.regs[3]!);
        callee.cbRetMin = 0;
        callee.cbRetMax = 1;
        break;
      }
      case 181:
        markRegUnknown(r[1]!);
        r[2]!.copyFrom(caller.regs[3]!);
        callee.cbRetMin = 0;
        callee.cbRetMax = 1;
        break;
      case 170:
        markPtr(r[1]!, RegType.CONST_PTR_TO_MAP);
        r[1]!.map = map;
        mapKeyValue(map!);
        callee.cbRetMin = 0;
        callee.cbRetMax = 0;
        break;
      default:
        this.fail(`bpfvm does not model the callback arguments of ${helperName(id)}#${id}`, EINVAL);
    }
  }

  private clearAllPktPointers(): void {
    this.forEachReg(this.cur, (r) => {
      if (isPktOrEnd(r)) {
        if (this.priv) markRegUnknown(r);
        else markNotInit(r);
      }
    });
  }

  /**
   * record_func_key: a tail call whose index is a constant below max_entries on every path is direct; the index
   * must then be precise. Once the index differed between paths (or was not constant) the insn is poisoned.
   */
  private recordFuncKey(meta: ArgMeta): void {
    const idx = this.insnIdx;
    const seen = this.tailCallKey.get(idx);
    const r3 = this.regs[3]!;
    if (!meta.map || !(r3.isConst() && r3.s.varOff.value < BigInt(meta.map.maxEntries))) {
      this.tailCallKey.set(idx, null);
      return;
    }
    this.markPrecise(3);
    if (seen === undefined) this.tailCallKey.set(idx, r3.s.varOff.value);
    else if (seen !== null && seen !== r3.s.varOff.value) this.tailCallKey.set(idx, null);
  }

  private checkFuncArg(i: number, meta: ArgMeta, proto: HelperProto): void {
    const regno = i + 1;
    const at: ArgType | undefined = proto.args[i];
    if (!at || at.base === 'ARG_DONTCARE') return;
    const reg = this.checkRegSrc(regno);
    if (at.base === 'ARG_ANYTHING' || at.base === 'ARG_SCALAR') {
      if (this.isPointerValue(reg)) this.fail(`R${regno} leaks addr into helper function`);
      return;
    }
    if (reg.isPkt() && !this.mayAccessDirectPktData(proto, false)) this.fail('helper access to the packet is not allowed');
    let base: string = at.base;
    const flags = at.flags;
    if (base === 'ARG_PTR_TO_MAP_VALUE') {
      if (!meta.map) this.fail('invalid map_ptr to access map->type', EACCES);
      if (meta.map.type === MT.SOCKMAP || meta.map.type === MT.SOCKHASH) {
        if (flags.length === 0) base = 'ARG_PTR_TO_BTF_ID_SOCK_COMMON';
        else this.fail('invalid arg_type for sockmap/sockhash', EINVAL);
      }
    }
    const maybeNullArg = flags.includes('PTR_MAYBE_NULL');
    const isNull = reg.isConst(0n);
    if (!(isNull && maybeNullArg)) {
      this.checkRegType(regno, reg, base, maybeNullArg);
      this.checkFuncArgRegOff(reg, regno, base);
    } else {
      // a NULL passed where the helper accepts one: only right while it is zero
      this.markPrecise(regno);
    }
    if (flags.includes('OBJ_RELEASE')) {
      if (reg.off) this.fail(`R${regno} must have zero offset when passed to release func or trusted arg to kfunc`, EINVAL);
      if (reg.type === RegType.PTR_TO_MEM) this.checkPtrOffReg(reg, regno, false);
      if (!reg.refObjId) this.fail(`R${regno} must be referenced when passed to release function`);
      meta.releaseRegno = regno;
    }
    if (reg.refObjId) {
      if (meta.refObjId) this.fail(`more than one arg with ref_obj_id R${regno} ${reg.refObjId} ${meta.refObjId}`);
      meta.refObjId = reg.refObjId;
    }
    switch (base) {
      case 'ARG_CONST_MAP_PTR':
        // bpf_timer_init: the map must be the timer's
        if (meta.map && meta.map !== reg.map) this.fail(`timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0`, EINVAL);
        meta.map = reg.map;
        break;
      case 'ARG_PTR_TO_FUNC':
        meta.cbStart = reg.range;
        break;
      case 'ARG_PTR_TO_TIMER':
        this.processTimerFunc(regno, reg, meta);
        break;
      case 'ARG_PTR_TO_SPIN_LOCK':
        this.processSpinLock(regno, reg, this.slots[this.insnIdx]!.imm === 93);
        break;
      case 'ARG_PTR_TO_MAP_KEY': {
        if (!meta.map) this.fail('invalid map_ptr to access map->key');
        this.checkHelperMemAccess(regno, meta.map.keySize, false, false, null);
        if (meta.map.type === MT.ARRAY || meta.map.type === MT.PERCPU_ARRAY) meta.constMapKey = this.getConstantMapKey(reg, meta.map.keySize);
        break;
      }
      case 'ARG_PTR_TO_MAP_VALUE': {
        if (maybeNullArg && isNull) return;
        if (!meta.map) this.fail('invalid map_ptr to access map->value');
        meta.rawMode = flags.includes('MEM_UNINIT');
        this.checkHelperMemAccess(regno, meta.map.valueSize, flags.includes('MEM_WRITE'), false, meta);
        break;
      }
      case 'ARG_PTR_TO_MEM':
        meta.rawMode = flags.includes('MEM_UNINIT');
        if (flags.includes('MEM_FIXED_SIZE') && at.size !== undefined) {
          this.checkHelperMemAccess(regno, at.size, flags.includes('MEM_WRITE'), false, meta);
        }
        break;
      case 'ARG_CONST_SIZE':
      case 'ARG_CONST_SIZE_OR_ZERO': {
        const prev = proto.args[i - 1];
        this.checkMemSizeReg(reg, regno, !!prev && prev.flags.includes('MEM_WRITE'), base === 'ARG_CONST_SIZE_OR_ZERO', meta);
        break;
      }
      case 'ARG_CONST_ALLOC_SIZE_OR_ZERO':
        if (!tnumIsConst(reg.s.varOff)) this.fail(`R${regno} is not a known constant'`);
        meta.memSize = Number(reg.s.varOff.value & 0xffffffffn);
        this.markPrecise(regno);
        break;
      default:
        break;
    }
  }

  private checkRegType(regno: number, reg: RegState, base: string, maybeNullArg: boolean): void {
    const list = COMPATIBLE[base];
    if (!list) this.fail(`bpfvm does not model helper argument type ${base}`, EINVAL);
    const regNull = reg.maybeNull && !maybeNullArg;
    const type = isRingbufMem(reg) ? (-1 as RegType) : reg.type;
    for (const [t] of list) {
      if (t === type && !regNull) return;
    }
    this.fail(`R${regno} type=${regTypeStr(reg)} expected=${list.map((x) => x[1]).join(', ')}`);
  }

  private checkFuncArgRegOff(reg: RegState, regno: number, base: string): void {
    switch (reg.type) {
      case RegType.PTR_TO_STACK:
      case RegType.PTR_TO_PACKET:
      case RegType.PTR_TO_PACKET_META:
      case RegType.PTR_TO_MAP_KEY:
      case RegType.PTR_TO_MAP_VALUE:
      case RegType.PTR_TO_MEM:
      case RegType.PTR_TO_BUF:
      case RegType.SCALAR_VALUE:
        return;
      default:
        void base;
        this.checkPtrOffReg(reg, regno, false);
    }
  }

  private getConstantMapKey(key: RegState, keySize: number): number {
    if (key.type !== RegType.PTR_TO_STACK || !tnumIsConst(key.s.varOff)) return -1;
    const state = this.frameOf(key);
    const stackOff = key.off + Number(BigInt.asIntN(64, key.s.varOff.value));
    const slot = -stackOff - 1;
    const spi = Math.floor(slot / 8);
    const off = slot % 8;
    const s = state.stack[spi];
    if (!s) return -1;
    let zero = 0;
    for (let i = off; i >= 0 && s.types[i] === Slot.ZERO; i--) zero++;
    if (zero >= keySize) return 0;
    if (s.types[7] !== Slot.SPILL || s.spilled.type !== RegType.SCALAR_VALUE) return -1;
    let spill = 0;
    for (let i = off; i >= 0 && s.types[i] === Slot.SPILL; i--) spill++;
    if (spill !== keySize) return -1;
    if (!tnumIsConst(s.spilled.s.varOff)) return -1;
    // the lookup result relies on the constant: the slot must be precise
    this.precision.markSlot(state.frameno, spi);
    const v = s.spilled.s.varOff.value;
    return v > 0x7fffffffn ? -1 : Number(v);
  }

  private checkMemSizeReg(reg: RegState, regno: number, write: boolean, zeroOk: boolean, meta: ArgMeta): void {
    const m = tnumIsConst(reg.s.varOff) ? meta : null;
    if (reg.s.smin < 0n) this.fail(`R${regno} min value is negative, either use unsigned or 'var &= const'`);
    if (reg.s.umin === 0n && !zeroOk) this.fail(`R${regno} invalid zero-sized read: u64=[${BigInt.asIntN(64, reg.s.umin)},${BigInt.asIntN(64, reg.s.umax)}]`);
    if (reg.s.umax >= BPF_MAX_VAR_SIZ) this.fail(`R${regno} unbounded memory access, use 'var &= const' or 'if (var < const)'`);
    if (!m) meta.rawMode = false;
    this.checkHelperMemAccess(regno - 1, Number(reg.s.umax), write, zeroOk, m);
    this.markPrecise(regno);
  }

  private checkHelperMemAccess(regno: number, accessSize: number, write: boolean, zeroOk: boolean, meta: ArgMeta | null): void {
    const reg = this.regs[regno]!;
    switch (reg.type) {
      case RegType.PTR_TO_PACKET:
      case RegType.PTR_TO_PACKET_META:
        if (reg.maybeNull) break;
        this.checkPacketAccess(regno, reg, reg.off, accessSize, zeroOk);
        return;
      case RegType.PTR_TO_MAP_KEY:
        if (write) this.fail(`R${regno} cannot write into ${regTypeStr(reg)}`);
        this.checkMemRegionAccess(regno, reg, reg.off, accessSize, reg.map!.keySize, false, 'key');
        return;
      case RegType.PTR_TO_MAP_VALUE:
        if (reg.maybeNull) break;
        this.checkMapAccessType(reg.map!, reg.off, accessSize, write);
        this.checkMemRegionAccess(regno, reg, reg.off, accessSize, reg.map!.valueSize, zeroOk, 'map');
        this.checkMapFields(reg, reg.off, accessSize, false);
        return;
      case RegType.PTR_TO_STACK:
        this.checkStackRangeInitialized(regno, reg, reg.off, accessSize, zeroOk, write, meta);
        return;
      case RegType.PTR_TO_MEM:
        if (reg.maybeNull) break;
        this.checkMemRegionAccess(regno, reg, reg.off, accessSize, reg.range, zeroOk, 'mem');
        return;
      default:
        break;
    }
    if (zeroOk && accessSize === 0 && reg.isConst(0n)) return;
    this.fail(`R${regno} type=${regTypeStr(reg)} expected=fp`);
  }

  private checkStackRangeInitialized(regno: number, reg: RegState, off: number, accessSize: number, zeroOk: boolean, write: boolean, meta: ArgMeta | null): void {
    const state = this.frameOf(reg);
    if (accessSize === 0 && !zeroOk) this.fail('invalid zero-sized read');
    this.checkStackAccessWithinBounds(regno, reg, off, accessSize, write ? 'helper-write' : 'helper-read');
    let minOff: number;
    let maxOff: number;
    const constOff = tnumIsConst(reg.s.varOff);
    if (constOff) {
      minOff = maxOff = Number(BigInt.asIntN(64, reg.s.varOff.value)) + off;
    } else {
      if (!this.priv) this.fail(`R${regno} variable offset stack access prohibited for !root, var_off=${tnumStrn(reg.s.varOff)}`);
      if (meta && meta.rawMode) meta = null;
      minOff = Number(reg.s.smin) + off;
      maxOff = Number(reg.s.smax) + off;
    }
    if (meta && meta.rawMode) {
      meta.accessSize = accessSize;
      meta.regno = regno;
      return;
    }
    for (let i = minOff; i < maxOff + accessSize; i++) {
      const slot = -i - 1;
      const spi = Math.floor(slot / 8);
      const s = state.stack[spi]!;
      const t = s.types[slot % 8]!;
      if (t === Slot.MISC) continue;
      if (t === Slot.ZERO || (t === Slot.INVALID && this.priv)) {
        if (write) s.types[slot % 8] = Slot.MISC;
        continue;
      }
      if (s.types[7] === Slot.SPILL && (s.spilled.type === RegType.SCALAR_VALUE || this.priv)) {
        if (write) {
          markRegUnknown(s.spilled);
          for (let j = 0; j < 8; j++) if (s.types[j] !== Slot.INVALID) s.types[j] = Slot.MISC;
        }
        continue;
      }
      if (constOff) this.fail(`invalid read from stack R${regno} off ${minOff}+${i - minOff} size ${accessSize}`);
      this.fail(`invalid read from stack R${regno} var_off ${tnumStrn(reg.s.varOff)}+${i - minOff} size ${accessSize}`);
    }
  }

  private checkMapFuncCompatibility(map: MapSpec | null, id: number): void {
    if (!map) return;
    const t = map.type;
    const err = (): never => this.fail(`cannot pass map_type ${t} into func ${helperName(id)}#${id}`, EINVAL);
    const mayUpdateSockmap = (): boolean => {
      switch (this.progType) {
        case PT.SOCK_OPS:
          return id === 3;
        case PT.SK_SKB:
        case PT.SK_MSG:
          return false;
        case PT.SOCKET_FILTER:
        case PT.SCHED_CLS:
        case PT.SCHED_ACT:
        case PT.XDP:
          return true;
        default:
          return false;
      }
    };
    // direction 1: map type -> allowed helpers
    switch (t) {
      case MT.PROG_ARRAY:
        if (id !== 12) err();
        break;
      case MT.PERF_EVENT_ARRAY:
        if (![22, 25, 55, 111, 121].includes(id)) err();
        break;
      case MT.RINGBUF:
        if (![130, 131, 132, 133, 134, 198, 199, 200].includes(id)) err();
        break;
      case MT.STACK_TRACE:
        if (id !== 27) err();
        break;
      case MT.CGROUP_ARRAY:
        if (id !== 33 && id !== 37) err();
        break;
      case MT.CGROUP_STORAGE:
      case MT.PERCPU_CGROUP_STORAGE:
        if (id !== 81) err();
        break;
      case MT.DEVMAP:
      case MT.DEVMAP_HASH:
        if (id !== 51 && id !== 1) err();
        break;
      case MT.CPUMAP:
        if (id !== 51) err();
        break;
      case MT.XSKMAP:
        if (id !== 51 && id !== 1) err();
        break;
      case MT.ARRAY_OF_MAPS:
      case MT.HASH_OF_MAPS:
        if (id !== 1) err();
        break;
      case MT.SOCKMAP:
        if (![52, 53, 60, 82, 1].includes(id) && !((id === 2 || id === 3) && mayUpdateSockmap())) {
          if (id === 2 || id === 3) this.log.verbose('cannot update sockmap in this context\n');
          err();
        }
        break;
      case MT.SOCKHASH:
        if (![72, 70, 71, 82, 1].includes(id) && !((id === 2 || id === 3) && mayUpdateSockmap())) {
          if (id === 2 || id === 3) this.log.verbose('cannot update sockmap in this context\n');
          err();
        }
        break;
      case MT.REUSEPORT_SOCKARRAY:
        if (id !== 82) err();
        break;
      case MT.QUEUE:
      case MT.STACK:
        if (![87, 88, 89].includes(id)) err();
        break;
      case MT.SK_STORAGE:
        if (![107, 108, 1, 2, 3].includes(id)) err();
        if (id === 1 || id === 2 || id === 3) err();
        break;
      case MT.BLOOM_FILTER:
        if (id !== 89 && id !== 87) err();
        break;
      default:
        break;
    }
    // direction 2: helper -> required map types
    const need = (types: number[]) => {
      if (!types.includes(t)) err();
    };
    switch (id) {
      case 12: need([MT.PROG_ARRAY]); break;
      case 22: case 25: case 55: case 111: case 121: need([MT.PERF_EVENT_ARRAY]); break;
      case 130: case 131: case 134: need([MT.RINGBUF]); break;
      case 27: need([MT.STACK_TRACE]); break;
      case 33: case 37: need([MT.CGROUP_ARRAY]); break;
      case 51: need([MT.DEVMAP, MT.DEVMAP_HASH, MT.CPUMAP, MT.XSKMAP]); break;
      case 52: case 60: case 53: need([MT.SOCKMAP]); break;
      case 72: case 71: case 70: need([MT.SOCKHASH]); break;
      case 81: need([MT.CGROUP_STORAGE, MT.PERCPU_CGROUP_STORAGE]); break;
      case 82: need([MT.REUSEPORT_SOCKARRAY, MT.SOCKMAP, MT.SOCKHASH]); break;
      case 88: need([MT.QUEUE, MT.STACK]); break;
      case 89: case 87: need([MT.QUEUE, MT.STACK, MT.BLOOM_FILTER]); break;
      case 195: need([MT.PERCPU_ARRAY, MT.PERCPU_HASH, MT.LRU_PERCPU_HASH]); break;
      case 107: case 108: need([MT.SK_STORAGE]); break;
      default: break;
    }
  }
}

const EBADF = 9;

function hasSpinLock(map: MapSpec | null): boolean {
  return !!map?.valueFields?.fields.some((f) => f.kind === 'spin_lock');
}

function isMapRdonly(map: MapSpec): boolean {
  return (map.flags & 0x80) !== 0 && map.frozen === true;
}

function isGplCompatible(license: string): boolean {
  return ['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL'].includes(license);
}

