// The interpreter: one flat loop, switch-dispatched on the raw opcode byte, registers held as two Int32Arrays
// (low and high 32-bit halves). bench/repr.ts measures this representation against BigInt registers; halves
// win by a wide margin (see README, "Value representation").
//
// Semantics follow the kernel's (kernel/bpf/core.c ___bpf_prog_run and the verifier's rewrites):
//  - division by zero gives 0, modulo by zero leaves the dividend (32-bit forms zero-extend it);
//  - signed division of INT_MIN by -1 gives INT_MIN, signed modulo by -1 gives 0;
//  - shift amounts are masked to the operand width;
//  - every 32-bit ALU result is zero-extended into the 64-bit register;
//  - LD_ABS/LD_IND read big-endian from the packet and end the program with r0 = 0 when out of range.

import { bswap16, bswap32, div32, mulhiU32 } from './arith.js';
import { BpfBudgetExceeded, BpfExecutionError } from './errors.js';
import { BPF_REG_FP, MAX_BPF_STACK, MAX_CALL_FRAMES, MAX_TAIL_CALL_CNT } from './isa.js';
import { AddressSpace, REGION_HI_BASE, Region } from './memory.js';
import { V_MOVSX16, V_MOVSX32, V_MOVSX8, V_SIGNED, prepare, type ExecutableProgram } from './program.js';
import { FELL_OFF, compileJs, runJs, type JsProgram } from './jstier.js';

export const DEFAULT_BUDGET = 1_000_000;
/** Classic-BPF special offsets understood by LD_ABS / LD_IND (include/uapi/linux/filter.h). */
export const SKF_NET_OFF = -0x100000;
export const SKF_LL_OFF = -0x200000;
/** may_goto's hidden per-frame loop counter starts here (the kernel's BPF_MAX_LOOPS). */
export const BPF_MAX_LOOPS = 8 * 1024 * 1024;
export const BPF_FUNC_tail_call = 12;

/** A helper: reads its arguments from r1..r5 (vm.lo / vm.hi) and writes r0 with vm.setR0*. */
export type HelperFn = (vm: Vm, pc: number) => void;

/**
 * Resolves the pseudo forms of `lddw` when a program is bound to a VM: map by fd (src 1) or index (src 5)
 * yields the map's object address; map value by fd (2) or index (6) yields the address of byte `off` of its
 * value; BTF id (3) is refused unless the resolver knows it. Function addresses (src 4) are handled here.
 */
export interface LddwResolver {
  mapObject(src: 1 | 5, imm: number, pc: number): Region;
  mapValue(src: 2 | 6, imm: number, off: number, pc: number): { region: Region; offset: number };
  btfId?(imm: number, pc: number): { lo: number; hi: number };
}

/** A program bound to a VM: the executable arrays plus resolved 64-bit immediates. */
export class BoundProgram {
  constructor(
    readonly exe: ExecutableProgram,
    readonly kLo: Int32Array,
    readonly kHi: Int32Array,
    readonly name: string,
  ) {}
  /** Runs so far (counted for the 'auto' tier). */
  runs = 0;
  /** Instructions executed so far over all runs (counted for the 'auto' tier). */
  insnsRun = 0;
  /** The JavaScript tier's compiled form: null until compiled, false when it cannot be compiled. */
  js: JsProgram | null | false = null;
}

/**
 * Execution tier: 'interp' always interprets, 'js' compiles the program to a JavaScript function on first use
 * (vm/jstier.ts, identical semantics), 'auto' interprets until a program has run JS_AUTO_RUNS times or
 * JS_AUTO_INSNS instructions in total, then compiles it.
 */
export type Tier = 'interp' | 'js' | 'auto';
export const JS_AUTO_RUNS = 8;
export const JS_AUTO_INSNS = 200_000;
/**
 * Programs above this many slots stay interpreted under 'auto'. Larger programs are compiled in several chunks
 * (vm/jstier.ts) and are faster in steady state too, but V8 takes seconds of background compilation to get
 * there, running the unoptimised generated code (slower than the interpreter) meanwhile.
 */
export const JS_AUTO_MAX_SLOTS = 1024;

export interface RunResult {
  /** r0 as an unsigned 64-bit value. */
  r0: bigint;
  /** Instructions executed (an lddw counts once). */
  insns: number;
  /** True when LD_ABS/LD_IND ended the program on an out-of-range read (r0 = 0, as in the kernel). */
  ldAbsAbort: boolean;
}

export interface VmOptions {
  budget?: number;
  helpers?: (HelperFn | undefined)[];
  /** Name of a helper id for error messages. */
  helperName?: (id: number) => string;
  space?: AddressSpace;
  /** Execution tier (default Vm.defaultTier, itself 'auto'). */
  tier?: Tier;
}

const TWO32 = 4294967296;
export { FELL_OFF };

function toU64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
function toS64(lo: number, hi: number): bigint {
  return BigInt.asIntN(64, toU64(lo, hi));
}

/** One virtual machine: registers, stack frames, an address space, a helper table and a budget. */
export class Vm {
  /** Tier for VMs created without an explicit `tier` option. */
  static defaultTier: Tier = 'auto';
  tier: Tier;
  readonly lo = new Int32Array(11);
  readonly hi = new Int32Array(11);
  readonly space: AddressSpace;
  readonly stacks: Region[] = [];
  helpers: (HelperFn | undefined)[];
  helperName: (id: number) => string;
  budget: number;
  /**
   * Packet for LD_ABS / LD_IND, null where the program type has none: the linear bytes from the MAC header on,
   * with the offsets of skb->data and of the network header inside them. Set with setLdAbsPacket.
   */
  ldAbsData: Uint8Array | null = null;
  ldAbsDataOff = 0;
  ldAbsNetOff = 0;
  /** Returns the program a tail call through (prog array object, index) lands in, or null. */
  tailCallTarget: ((mapObject: unknown, index: number) => BoundProgram | null) | null = null;

  // Run state.
  private remaining = 0;
  private depth = 0;
  private tailCalls = 0;
  private ldAbsAbort = false;
  /** Set by a helper to end the program after it returns, with r0 as the helper left it. */
  private stopRequested = false;
  private prog: BoundProgram | null = null;
  private readonly frameRet = new Int32Array(MAX_CALL_FRAMES);
  private readonly frameSaved = new Int32Array(MAX_CALL_FRAMES * 10);
  private readonly frameProg: (BoundProgram | null)[] = new Array<BoundProgram | null>(MAX_CALL_FRAMES).fill(null);
  private readonly scratch = new Int32Array(2);
  /** may_goto counters, one per call frame, reset when the frame starts. */
  private readonly mayGoto = new Int32Array(MAX_CALL_FRAMES);
  private readonly codeRegion: Region;
  /** The address space's region table (the same array, held here to save a lookup per access). */
  private readonly regions: (Region | null)[];

  constructor(opts: VmOptions = {}) {
    this.space = opts.space ?? new AddressSpace();
    this.regions = this.space.regions;
    this.helpers = opts.helpers ?? [];
    this.helperName = opts.helperName ?? ((id) => `helper#${id}`);
    this.budget = opts.budget ?? DEFAULT_BUDGET;
    this.tier = opts.tier ?? Vm.defaultTier;
    for (let d = 0; d < MAX_CALL_FRAMES; d++) {
      this.stacks.push(this.space.map(`stack[${d}]`, 'stack', new Uint8Array(MAX_BPF_STACK), true));
    }
    this.codeRegion = this.space.mapObject('code', null);
  }

  /** Validates and binds bytecode (or an already prepared program) to this VM. */
  load(code: Uint8Array | ExecutableProgram, resolver?: LddwResolver, name = 'prog'): BoundProgram {
    const exe = code instanceof Uint8Array ? prepare(code) : code;
    const n = exe.slots;
    const kLo = new Int32Array(n);
    const kHi = new Int32Array(n);
    for (let pc = 0; pc < n; pc++) {
      if (exe.op[pc] !== 0x18) continue;
      const src = exe.variant[pc]!;
      const imm = exe.imm[pc]!;
      const imm2 = exe.imm2[pc]!;
      switch (src) {
        case 0:
          kLo[pc] = imm;
          kHi[pc] = imm2;
          break;
        case 1:
        case 5: {
          if (!resolver) throw new BpfExecutionError(pc, `lddw refers to a map (src ${src}, imm ${imm}) but no maps were supplied`);
          const r = resolver.mapObject(src, imm, pc);
          kLo[pc] = 0;
          kHi[pc] = r.hi;
          break;
        }
        case 2:
        case 6: {
          if (!resolver) throw new BpfExecutionError(pc, `lddw refers to a map value (src ${src}, imm ${imm}) but no maps were supplied`);
          const { region, offset } = resolver.mapValue(src, imm, imm2, pc);
          kLo[pc] = offset;
          kHi[pc] = region.hi;
          break;
        }
        case 3: {
          if (!resolver?.btfId) throw new BpfExecutionError(pc, `lddw of a kernel BTF id (imm ${imm}) is not supported`);
          const v = resolver.btfId(imm, pc);
          kLo[pc] = v.lo;
          kHi[pc] = v.hi;
          break;
        }
        case 4:
          kLo[pc] = exe.target[pc]! * 8;
          kHi[pc] = this.codeRegion.hi;
          break;
        default:
          throw new BpfExecutionError(pc, `unrecognized bpf_ld_imm64 src ${src}`);
      }
    }
    return new BoundProgram(exe, kLo, kHi, name);
  }

  setR0(lo: number, hi: number): void {
    this.lo[0] = lo;
    this.hi[0] = hi;
  }
  setR0Big(v: bigint): void {
    this.lo[0] = Number(v & 0xffffffffn) | 0;
    this.hi[0] = Number((v >> 32n) & 0xffffffffn) | 0;
  }
  /** Sets r0 from a JS number in the signed 32-bit or unsigned 32-bit range, sign-extending negatives. */
  setR0Int(v: number): void {
    this.lo[0] = v | 0;
    this.hi[0] = v < 0 ? -1 : 0;
  }
  reg(r: number): bigint {
    return toU64(this.lo[r]!, this.hi[r]!);
  }
  setReg(r: number, v: bigint): void {
    this.lo[r] = Number(v & 0xffffffffn) | 0;
    this.hi[r] = Number((v >> 32n) & 0xffffffffn) | 0;
  }

  /**
   * Gives LD_ABS / LD_IND their packet: `buf` starts at the MAC header; skb->data is `dataOff` bytes in and
   * the network header `netOff` bytes in (the classic-BPF SKF_NET_OFF / SKF_LL_OFF offsets read from those).
   */
  setLdAbsPacket(buf: Uint8Array | null, dataOff = 0, netOff = dataOff): void {
    this.ldAbsData = buf;
    this.ldAbsDataOff = dataOff;
    this.ldAbsNetOff = netOff;
  }

  /** Ends the running program once the current helper returns (r0 as the helper set it). */
  stop(): void {
    this.stopRequested = true;
  }

  /** Instructions left in the current run's budget. */
  get budgetLeft(): number {
    return this.remaining;
  }

  /**
   * Runs a bound program with r1..r5 as given (missing ones are 0) and returns r0. The stack of frame 0 is
   * zeroed first so runs are deterministic.
   */
  run(prog: BoundProgram, args: readonly bigint[] = []): RunResult {
    this.lo.fill(0);
    this.hi.fill(0);
    for (let k = 0; k < args.length && k < 5; k++) this.setReg(k + 1, args[k]!);
    return this.runPrepared(prog);
  }

  /**
   * Runs a bound program with r1..r5 as the caller already set them in `lo`/`hi` (no BigInt conversions:
   * the fast entry for benchmarks and the model's hot paths). r0 and r6..r9 start at 0.
   */
  runPrepared(prog: BoundProgram): RunResult {
    const L = this.lo;
    const H = this.hi;
    L[0] = 0;
    H[0] = 0;
    for (let k = 6; k < 10; k++) {
      L[k] = 0;
      H[k] = 0;
    }
    this.startRun(prog);
    this.exec(prog, 0, 0, true);
    const insns = this.budget - this.remaining;
    prog.insnsRun += insns;
    return { r0: toU64(L[0]!, H[0]!), insns, ldAbsAbort: this.ldAbsAbort };
  }

  /** The state every run starts from, once the argument registers are set: a zeroed stack, r10, budget, frames. */
  private startRun(prog: BoundProgram): void {
    this.stacks[0]!.bytes.fill(0);
    this.mayGoto[0] = BPF_MAX_LOOPS;
    this.lo[BPF_REG_FP] = MAX_BPF_STACK;
    this.hi[BPF_REG_FP] = this.stacks[0]!.hi;
    this.remaining = this.budget;
    this.depth = 0;
    this.tailCalls = 0;
    this.ldAbsAbort = false;
    this.stopRequested = false;
    this.prog = prog;
  }

  /**
   * Calls the BPF function at a code address (from an lddw of BPF_PSEUDO_FUNC) as a callback, in a new frame,
   * with r1..r5 given, and returns its r0. Used by helpers such as bpf_loop.
   */
  callback(pc: number, address: { lo: number; hi: number }, args: readonly bigint[]): bigint {
    if (address.hi !== this.codeRegion.hi || (address.lo & 7) !== 0) {
      throw new BpfExecutionError(pc, 'callback argument is not a function address');
    }
    const prog = this.prog;
    if (prog === null) throw new BpfExecutionError(pc, 'callback outside a run');
    const target = address.lo >>> 3;
    if (target >= prog.exe.slots) throw new BpfExecutionError(pc, 'callback address out of range');
    const L = this.lo;
    const H = this.hi;
    const d = this.depth;
    if (d + 1 >= MAX_CALL_FRAMES) throw new BpfExecutionError(pc, `the call stack of ${MAX_CALL_FRAMES} frames is too deep`);
    // Save every register of the calling frame: helpers may not clobber r6-r10, and r0 is the helper's own.
    const saved = new Int32Array(22);
    saved.set(L, 0);
    saved.set(H, 11);
    for (let k = 0; k < 5; k++) this.setReg(k + 1, args[k] ?? 0n);
    this.depth = d + 1;
    this.stacks[d + 1]!.bytes.fill(0);
    this.mayGoto[d + 1] = BPF_MAX_LOOPS;
    L[BPF_REG_FP] = MAX_BPF_STACK;
    H[BPF_REG_FP] = this.stacks[d + 1]!.hi;
    this.exec(prog, target, d + 1, false);
    const r0 = toU64(L[0]!, H[0]!);
    L.set(saved.subarray(0, 11));
    H.set(saved.subarray(11, 22));
    this.depth = d;
    this.prog = prog;
    return r0;
  }

  /** The program of the current (or, between runs, the last) run; helpers record it for later callbacks. */
  get currentProgram(): BoundProgram | null {
    return this.prog;
  }

  /**
   * Runs the BPF function at a code address of `prog` (an lddw BPF_PSEUDO_FUNC value a helper recorded earlier)
   * as a run of its own, with r1..r5 given: what the kernel does when it fires a bpf_timer callback outside any
   * program run. Fresh budget, frame 0 stack zeroed; returns r0 and the instructions run.
   */
  runFunction(prog: BoundProgram, address: { lo: number; hi: number }, args: readonly bigint[]): RunResult {
    if (address.hi !== this.codeRegion.hi || (address.lo & 7) !== 0 || address.lo >>> 3 >= prog.exe.slots) {
      throw new BpfExecutionError(0, 'runFunction: the callback address is not a function of the program');
    }
    const L = this.lo;
    const H = this.hi;
    L.fill(0);
    H.fill(0);
    for (let k = 0; k < args.length && k < 5; k++) this.setReg(k + 1, args[k]!);
    this.startRun(prog);
    this.exec(prog, address.lo >>> 3, 0, false);
    const insns = this.budget - this.remaining;
    return { r0: toU64(L[0]!, H[0]!), insns, ldAbsAbort: this.ldAbsAbort };
  }

  /**
   * Runs `prog` from `pc` until the frame at `baseDepth` exits, on the tier this VM is set to. `entry` marks a
   * program's own run (counted for the 'auto' tier), as opposed to a callback.
   */
  private exec(prog: BoundProgram, pc: number, baseDepth: number, entry: boolean): void {
    const tier = this.tier;
    if (tier === 'interp') {
      this.loop(prog, pc, baseDepth);
      return;
    }
    if (prog.js === null) {
      if (entry) prog.runs++;
      if (tier === 'js' || (prog.exe.slots <= JS_AUTO_MAX_SLOTS && (prog.runs > JS_AUTO_RUNS || prog.insnsRun >= JS_AUTO_INSNS))) compileJs(prog);
    }
    if (prog.js === null || prog.js === false) this.loop(prog, pc, baseDepth);
    else runJs(this, prog, pc, baseDepth);
  }

  private fault(pc: number, access: 'load' | 'store' | 'atomic', lo: number, hi: number, size: number): never {
    throw this.space.fault(pc, access, lo, hi, size);
  }

  /** Region for an access of `size` bytes at reg + off, or a fault. Returns the byte offset in `this.scratch[0]`. */
  private region(pc: number, access: 'load' | 'store' | 'atomic', base: number, off: number, size: number): Region {
    // reg + off is a 64-bit sum: a carry or borrow out of the low word moves to the next or previous region
    // (r10 - 513 + 1 is byte 0 of the stack again, as in the kernel).
    let a = (this.lo[base]! >>> 0) + off;
    let h = this.hi[base]!;
    if (a < 0) {
      a += TWO32;
      h = (h - 1) | 0;
    } else if (a >= TWO32) {
      a -= TWO32;
      h = (h + 1) | 0;
    }
    const r = this.space.regions[(h >>> 0) - REGION_HI_BASE];
    if (r === undefined || r === null || a + size > r.bytes.length) this.fault(pc, access, a | 0, h, size);
    if (access !== 'load' && !r.writable) this.fault(pc, access, a | 0, h, size);
    this.scratch[0] = a;
    return r;
  }

  private loadMem(pc: number, dst: number, base: number, off: number, size: number, signed: boolean): void {
    const a = (this.lo[base]! >>> 0) + off;
    const r = this.regions[(this.hi[base]! >>> 0) - REGION_HI_BASE];
    // Fast path: plain memory, in bounds. Hooks and faults take the slow path.
    if (r === undefined || r === null || r.load !== null || a < 0 || a + size > r.bytes.length) {
      this.loadSlow(pc, dst, base, off, size, signed);
      return;
    }
    this.read(r.dv, a, dst, size, signed);
  }

  private read(dv: DataView, a: number, dst: number, size: number, signed: boolean): void {
    const L = this.lo;
    const H = this.hi;
    switch (size) {
      case 1:
        if (signed) {
          const v = dv.getInt8(a);
          L[dst] = v;
          H[dst] = v >> 31;
        } else {
          L[dst] = dv.getUint8(a);
          H[dst] = 0;
        }
        return;
      case 2:
        if (signed) {
          const v = dv.getInt16(a, true);
          L[dst] = v;
          H[dst] = v >> 31;
        } else {
          L[dst] = dv.getUint16(a, true);
          H[dst] = 0;
        }
        return;
      case 4: {
        const v = dv.getInt32(a, true);
        L[dst] = v;
        H[dst] = signed ? v >> 31 : 0;
        return;
      }
      default:
        L[dst] = dv.getInt32(a, true);
        H[dst] = dv.getInt32(a + 4, true);
    }
  }

  private loadSlow(pc: number, dst: number, base: number, off: number, size: number, signed: boolean): void {
    const r = this.region(pc, 'load', base, off, size);
    const a = this.scratch[0]!;
    if (r.load !== null && r.load(a, size, this.scratch)) {
      this.lo[dst] = this.scratch[0]!;
      this.hi[dst] = this.scratch[1]!;
      return;
    }
    this.read(r.dv, a, dst, size, signed);
  }

  private storeMem(pc: number, base: number, off: number, size: number, lo: number, hi: number): void {
    const a = (this.lo[base]! >>> 0) + off;
    const r = this.regions[(this.hi[base]! >>> 0) - REGION_HI_BASE];
    if (r === undefined || r === null || r.store !== null || !r.writable || a < 0 || a + size > r.bytes.length) {
      this.storeSlow(pc, base, off, size, lo, hi);
      return;
    }
    this.write(r.dv, a, size, lo, hi);
  }

  private write(dv: DataView, a: number, size: number, lo: number, hi: number): void {
    switch (size) {
      case 1:
        dv.setUint8(a, lo & 0xff);
        return;
      case 2:
        dv.setUint16(a, lo & 0xffff, true);
        return;
      case 4:
        dv.setInt32(a, lo, true);
        return;
      default:
        dv.setInt32(a, lo, true);
        dv.setInt32(a + 4, hi, true);
    }
  }

  private storeSlow(pc: number, base: number, off: number, size: number, lo: number, hi: number): void {
    const r = this.region(pc, 'store', base, off, size);
    const a = this.scratch[0]!;
    if (r.store !== null && r.store(a, size, lo, hi)) return;
    this.write(r.dv, a, size, lo, hi);
  }

  private atomic(pc: number, exe: ExecutableProgram, i: number, dw: boolean): void {
    const L = this.lo;
    const H = this.hi;
    const d = exe.dst[i]!;
    const s = exe.src[i]!;
    const size = dw ? 8 : 4;
    const r = this.region(pc, 'atomic', d, exe.off[i]!, size);
    const a = this.scratch[0]!;
    const dv = r.dv;
    const oldLo = dv.getInt32(a, true);
    const oldHi = dw ? dv.getInt32(a + 4, true) : 0;
    let nLo = oldLo;
    let nHi = oldHi;
    const sLo = L[s]!;
    const sHi = dw ? H[s]! : 0;
    const v = exe.variant[i]!;
    switch (v & 3) {
      case 0: // add (also xchg and cmpxchg handled below)
        if (v < 8) {
          const sum = (oldLo >>> 0) + (sLo >>> 0);
          nLo = sum | 0;
          nHi = (oldHi + sHi + (sum >= TWO32 ? 1 : 0)) | 0;
        }
        break;
      case 1:
        if (v < 8) {
          nLo = oldLo | sLo;
          nHi = oldHi | sHi;
        }
        break;
      case 2:
        nLo = oldLo & sLo;
        nHi = oldHi & sHi;
        break;
      case 3:
        nLo = oldLo ^ sLo;
        nHi = oldHi ^ sHi;
        break;
    }
    if (v === 8) {
      // xchg
      nLo = sLo;
      nHi = sHi;
      L[s] = oldLo;
      H[s] = oldHi;
    } else if (v === 9) {
      // cmpxchg: compare r0 with memory, store src if equal; r0 = old value.
      const eq = dw ? L[0] === oldLo && H[0] === oldHi : L[0] === oldLo;
      if (eq) {
        nLo = sLo;
        nHi = sHi;
      } else {
        nLo = oldLo;
        nHi = oldHi;
      }
      L[0] = oldLo;
      H[0] = oldHi;
    } else if (v >= 4) {
      // fetch variants return the old value in src.
      L[s] = oldLo;
      H[s] = oldHi;
    }
    if (!r.writable) this.fault(pc, 'atomic', a, r.hi, size);
    dv.setInt32(a, nLo, true);
    if (dw) dv.setInt32(a + 4, nHi, true);
  }

  /**
   * LD_ABS / LD_IND: big-endian packet read into r0; returns false when out of range. Offsets are relative to
   * skb->data; the classic-BPF negative offsets SKF_NET_OFF (-0x100000 + k) and SKF_LL_OFF (-0x200000 + k)
   * read k bytes into the network and MAC headers (net/core/filter.c bpf_internal_load_pointer_neg_helper).
   */
  private ldAbs(offset: number, size: number): boolean {
    const data = this.ldAbsData;
    if (data === null) return false;
    let at: number;
    if (offset >= 0) at = this.ldAbsDataOff + offset;
    else if (offset >= SKF_NET_OFF) at = this.ldAbsNetOff + (offset - SKF_NET_OFF);
    else if (offset >= SKF_LL_OFF) at = offset - SKF_LL_OFF;
    else return false;
    if (at + size > data.length) return false;
    const L = this.lo;
    const H = this.hi;
    H[0] = 0;
    if (size === 1) L[0] = data[at]!;
    else if (size === 2) L[0] = (data[at]! << 8) | data[at + 1]!;
    else L[0] = (data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!;
    return true;
  }

  private div64(pc: number, dst: number, sLo: number, sHi: number, signed: boolean, mod: boolean): void {
    const L = this.lo;
    const H = this.hi;
    const dLo = L[dst]!;
    const dHi = H[dst]!;
    if (sLo === 0 && sHi === 0) {
      if (!mod) {
        L[dst] = 0;
        H[dst] = 0;
      }
      return;
    }
    if (!signed && dHi === 0 && sHi === 0) {
      const a = dLo >>> 0;
      const b = sLo >>> 0;
      L[dst] = (mod ? a % b : Math.floor(a / b)) | 0;
      H[dst] = 0;
      return;
    }
    let r: bigint;
    if (signed) {
      const a = toS64(dLo, dHi);
      const b = toS64(sLo, sHi);
      if (b === -1n) r = mod ? 0n : -a; // INT64_MIN / -1 wraps to INT64_MIN
      else r = mod ? a % b : a / b;
    } else {
      const a = toU64(dLo, dHi);
      const b = toU64(sLo, sHi);
      r = mod ? a % b : a / b;
    }
    r = BigInt.asUintN(64, r);
    L[dst] = Number(r & 0xffffffffn) | 0;
    H[dst] = Number(r >> 32n) | 0;
    void pc;
  }

  private callPseudo(pc: number, target: number, prog: BoundProgram): void {
    const L = this.lo;
    const H = this.hi;
    const d = this.depth;
    if (d + 1 >= MAX_CALL_FRAMES) throw new BpfExecutionError(pc, `the call stack of ${MAX_CALL_FRAMES} frames is too deep`);
    const f = d * 10;
    const S = this.frameSaved;
    for (let k = 0; k < 5; k++) {
      S[f + k] = L[6 + k]!;
      S[f + 5 + k] = H[6 + k]!;
    }
    this.frameRet[d] = pc + 1;
    this.frameProg[d] = prog;
    this.depth = d + 1;
    // Each frame starts with a zeroed stack, so runs are deterministic whatever an earlier call left.
    this.stacks[d + 1]!.bytes.fill(0);
    this.mayGoto[d + 1] = BPF_MAX_LOOPS;
    L[BPF_REG_FP] = MAX_BPF_STACK;
    H[BPF_REG_FP] = this.stacks[d + 1]!.hi;
    void target;
  }

  /** Pops a frame; returns the pc to continue at in the caller. */
  private returnFromCall(): number {
    const L = this.lo;
    const H = this.hi;
    const d = this.depth - 1;
    const f = d * 10;
    const S = this.frameSaved;
    for (let k = 0; k < 5; k++) {
      L[6 + k] = S[f + k]!;
      H[6 + k] = S[f + 5 + k]!;
    }
    this.depth = d;
    this.prog = this.frameProg[d]!;
    return this.frameRet[d]!;
  }

  /** Runs from `startPc` until the frame at `baseDepth` exits. */
  private loop(start: BoundProgram, startPc: number, baseDepth: number): void {
    const L = this.lo;
    const H = this.hi;
    let prog = start;
    let exe = prog.exe;
    let OP = exe.op;
    let DST = exe.dst;
    let SRC = exe.src;
    let OFF = exe.off;
    let IMM = exe.imm;
    let TGT = exe.target;
    let VAR = exe.variant;
    let pc = startPc;
    let remaining = this.remaining;
    this.prog = prog;
    for (;;) {
      if (--remaining < 0) {
        this.remaining = 0;
        throw new BpfBudgetExceeded(pc, this.budget);
      }
      const i = pc++;
      const d = DST[i]!;
      switch (OP[i]) {
        // ---- ALU64, immediate ----
        case 0x07: { // add
          const k = IMM[i]!;
          const s = (L[d]! >>> 0) + (k >>> 0);
          L[d] = s | 0;
          H[d] = (H[d]! + (k >> 31) + (s >= TWO32 ? 1 : 0)) | 0;
          break;
        }
        case 0x17: { // sub
          const k = IMM[i]!;
          const s = (L[d]! >>> 0) - (k >>> 0);
          L[d] = s | 0;
          H[d] = (H[d]! - (k >> 31) - (s < 0 ? 1 : 0)) | 0;
          break;
        }
        case 0x27: { // mul
          const k = IMM[i]!;
          const a = L[d]!;
          H[d] = (mulhiU32(a >>> 0, k >>> 0) + Math.imul(a, k >> 31) + Math.imul(H[d]!, k)) | 0;
          L[d] = Math.imul(a, k);
          break;
        }
        case 0x37: // div / sdiv
          this.div64(i, d, IMM[i]!, IMM[i]! >> 31, VAR[i] === V_SIGNED, false);
          break;
        case 0x97: // mod / smod
          this.div64(i, d, IMM[i]!, IMM[i]! >> 31, VAR[i] === V_SIGNED, true);
          break;
        case 0x47: L[d] = L[d]! | IMM[i]!; H[d] = H[d]! | (IMM[i]! >> 31); break;
        case 0x57: L[d] = L[d]! & IMM[i]!; H[d] = H[d]! & (IMM[i]! >> 31); break;
        case 0xa7: L[d] = L[d]! ^ IMM[i]!; H[d] = H[d]! ^ (IMM[i]! >> 31); break;
        case 0xb7: L[d] = IMM[i]!; H[d] = IMM[i]! >> 31; break;
        case 0x67: shl64(L, H, d, IMM[i]! & 63); break;
        case 0x77: shr64(L, H, d, IMM[i]! & 63); break;
        case 0xc7: sar64(L, H, d, IMM[i]! & 63); break;
        case 0x87: neg64(L, H, d); break;
        // ---- ALU64, register ----
        case 0x0f: {
          const s0 = SRC[i]!;
          const s = (L[d]! >>> 0) + (L[s0]! >>> 0);
          H[d] = (H[d]! + H[s0]! + (s >= TWO32 ? 1 : 0)) | 0;
          L[d] = s | 0;
          break;
        }
        case 0x1f: {
          const s0 = SRC[i]!;
          const s = (L[d]! >>> 0) - (L[s0]! >>> 0);
          H[d] = (H[d]! - H[s0]! - (s < 0 ? 1 : 0)) | 0;
          L[d] = s | 0;
          break;
        }
        case 0x2f: {
          const s0 = SRC[i]!;
          const a = L[d]!;
          const b = L[s0]!;
          H[d] = (mulhiU32(a >>> 0, b >>> 0) + Math.imul(a, H[s0]!) + Math.imul(H[d]!, b)) | 0;
          L[d] = Math.imul(a, b);
          break;
        }
        case 0x3f: this.div64(i, d, L[SRC[i]!]!, H[SRC[i]!]!, VAR[i] === V_SIGNED, false); break;
        case 0x9f: this.div64(i, d, L[SRC[i]!]!, H[SRC[i]!]!, VAR[i] === V_SIGNED, true); break;
        case 0x4f: L[d] = L[d]! | L[SRC[i]!]!; H[d] = H[d]! | H[SRC[i]!]!; break;
        case 0x5f: L[d] = L[d]! & L[SRC[i]!]!; H[d] = H[d]! & H[SRC[i]!]!; break;
        case 0xaf: L[d] = L[d]! ^ L[SRC[i]!]!; H[d] = H[d]! ^ H[SRC[i]!]!; break;
        case 0xbf: {
          const s0 = SRC[i]!;
          const v = VAR[i];
          if (v === 0) {
            L[d] = L[s0]!;
            H[d] = H[s0]!;
          } else if (v === V_MOVSX8) {
            const x = (L[s0]! << 24) >> 24;
            L[d] = x;
            H[d] = x >> 31;
          } else if (v === V_MOVSX16) {
            const x = (L[s0]! << 16) >> 16;
            L[d] = x;
            H[d] = x >> 31;
          } else {
            const x = L[s0]!;
            L[d] = x;
            H[d] = x >> 31;
          }
          break;
        }
        case 0x6f: shl64(L, H, d, L[SRC[i]!]! & 63); break;
        case 0x7f: shr64(L, H, d, L[SRC[i]!]! & 63); break;
        case 0xcf: sar64(L, H, d, L[SRC[i]!]! & 63); break;
        case 0xd7: { // bswap16/32/64
          const w = IMM[i]!;
          if (w === 16) {
            L[d] = bswap16(L[d]!);
            H[d] = 0;
          } else if (w === 32) {
            L[d] = bswap32(L[d]!);
            H[d] = 0;
          } else {
            const lo = L[d]!;
            L[d] = bswap32(H[d]!);
            H[d] = bswap32(lo);
          }
          break;
        }
        // ---- ALU (32-bit), immediate ----
        case 0x04: L[d] = (L[d]! + IMM[i]!) | 0; H[d] = 0; break;
        case 0x14: L[d] = (L[d]! - IMM[i]!) | 0; H[d] = 0; break;
        case 0x24: L[d] = Math.imul(L[d]!, IMM[i]!); H[d] = 0; break;
        case 0x34: L[d] = div32(L[d]!, IMM[i]!, VAR[i] === V_SIGNED, false); H[d] = 0; break;
        case 0x94: L[d] = div32(L[d]!, IMM[i]!, VAR[i] === V_SIGNED, true); H[d] = 0; break;
        case 0x44: L[d] = L[d]! | IMM[i]!; H[d] = 0; break;
        case 0x54: L[d] = L[d]! & IMM[i]!; H[d] = 0; break;
        case 0xa4: L[d] = L[d]! ^ IMM[i]!; H[d] = 0; break;
        case 0xb4: L[d] = IMM[i]!; H[d] = 0; break;
        case 0x64: L[d] = L[d]! << (IMM[i]! & 31); H[d] = 0; break;
        case 0x74: L[d] = L[d]! >>> (IMM[i]! & 31); H[d] = 0; break;
        case 0xc4: L[d] = L[d]! >> (IMM[i]! & 31); H[d] = 0; break;
        case 0x84: L[d] = -L[d]! | 0; H[d] = 0; break;
        // ---- ALU (32-bit), register ----
        case 0x0c: L[d] = (L[d]! + L[SRC[i]!]!) | 0; H[d] = 0; break;
        case 0x1c: L[d] = (L[d]! - L[SRC[i]!]!) | 0; H[d] = 0; break;
        case 0x2c: L[d] = Math.imul(L[d]!, L[SRC[i]!]!); H[d] = 0; break;
        case 0x3c: L[d] = div32(L[d]!, L[SRC[i]!]!, VAR[i] === V_SIGNED, false); H[d] = 0; break;
        case 0x9c: L[d] = div32(L[d]!, L[SRC[i]!]!, VAR[i] === V_SIGNED, true); H[d] = 0; break;
        case 0x4c: L[d] = L[d]! | L[SRC[i]!]!; H[d] = 0; break;
        case 0x5c: L[d] = L[d]! & L[SRC[i]!]!; H[d] = 0; break;
        case 0xac: L[d] = L[d]! ^ L[SRC[i]!]!; H[d] = 0; break;
        case 0xbc: {
          const v = VAR[i];
          const x = L[SRC[i]!]!;
          L[d] = v === 0 ? x : v === V_MOVSX8 ? (x << 24) >> 24 : (x << 16) >> 16;
          H[d] = 0;
          break;
        }
        case 0x6c: L[d] = L[d]! << (L[SRC[i]!]! & 31); H[d] = 0; break;
        case 0x7c: L[d] = L[d]! >>> (L[SRC[i]!]! & 31); H[d] = 0; break;
        case 0xcc: L[d] = L[d]! >> (L[SRC[i]!]! & 31); H[d] = 0; break;
        case 0xd4: { // to little endian (host is little endian): truncate
          const w = IMM[i]!;
          if (w === 16) {
            L[d] = L[d]! & 0xffff;
            H[d] = 0;
          } else if (w === 32) H[d] = 0;
          break;
        }
        case 0xdc: { // to big endian: byte swap
          const w = IMM[i]!;
          if (w === 16) {
            L[d] = bswap16(L[d]!);
            H[d] = 0;
          } else if (w === 32) {
            L[d] = bswap32(L[d]!);
            H[d] = 0;
          } else {
            const lo = L[d]!;
            L[d] = bswap32(H[d]!);
            H[d] = bswap32(lo);
          }
          break;
        }
        // ---- lddw ----
        case 0x18:
          L[d] = prog.kLo[i]!;
          H[d] = prog.kHi[i]!;
          pc++;
          break;
        // ---- loads ----
        case 0x61: this.loadMem(i, d, SRC[i]!, OFF[i]!, 4, false); break;
        case 0x69: this.loadMem(i, d, SRC[i]!, OFF[i]!, 2, false); break;
        case 0x71: this.loadMem(i, d, SRC[i]!, OFF[i]!, 1, false); break;
        case 0x79: this.loadMem(i, d, SRC[i]!, OFF[i]!, 8, false); break;
        case 0x81: this.loadMem(i, d, SRC[i]!, OFF[i]!, 4, true); break;
        case 0x89: this.loadMem(i, d, SRC[i]!, OFF[i]!, 2, true); break;
        case 0x91: this.loadMem(i, d, SRC[i]!, OFF[i]!, 1, true); break;
        // ---- stores ----
        case 0x62: this.storeMem(i, d, OFF[i]!, 4, IMM[i]!, 0); break;
        case 0x6a: this.storeMem(i, d, OFF[i]!, 2, IMM[i]!, 0); break;
        case 0x72: this.storeMem(i, d, OFF[i]!, 1, IMM[i]!, 0); break;
        case 0x7a: this.storeMem(i, d, OFF[i]!, 8, IMM[i]!, IMM[i]! >> 31); break;
        case 0x63: this.storeMem(i, d, OFF[i]!, 4, L[SRC[i]!]!, 0); break;
        case 0x6b: this.storeMem(i, d, OFF[i]!, 2, L[SRC[i]!]!, 0); break;
        case 0x73: this.storeMem(i, d, OFF[i]!, 1, L[SRC[i]!]!, 0); break;
        case 0x7b: this.storeMem(i, d, OFF[i]!, 8, L[SRC[i]!]!, H[SRC[i]!]!); break;
        case 0xc3: this.atomic(i, exe, i, false); break;
        case 0xdb: this.atomic(i, exe, i, true); break;
        // ---- legacy packet loads ----
        case 0x20: case 0x28: case 0x30:
        case 0x40: case 0x48: case 0x50: {
          const op = OP[i]!;
          const sz = (op & 0x18) === 0x00 ? 4 : (op & 0x18) === 0x08 ? 2 : 1;
          const offset = (op & 0xe0) === 0x40 ? (L[SRC[i]!]! + IMM[i]!) | 0 : IMM[i]!;
          if (!this.ldAbs(offset, sz)) {
            L[0] = 0;
            H[0] = 0;
            this.ldAbsAbort = true;
            this.remaining = remaining;
            this.depth = 0;
            return;
          }
          break;
        }
        // ---- jumps ----
        case 0x05: pc = TGT[i]!; break;
        case 0x06: pc = TGT[i]!; break; // gotol
        case 0xe5: { // may_goto: jump only once this frame's hidden loop counter has run down
          const d0 = this.depth;
          if (this.mayGoto[d0] === 0) pc = TGT[i]!;
          else this.mayGoto[d0]!--;
          break;
        }
        case 0x15: if (L[d] === IMM[i] && H[d] === IMM[i]! >> 31) pc = TGT[i]!; break;
        case 0x1d: if (L[d] === L[SRC[i]!] && H[d] === H[SRC[i]!]) pc = TGT[i]!; break;
        case 0x55: if (L[d] !== IMM[i] || H[d] !== IMM[i]! >> 31) pc = TGT[i]!; break;
        case 0x5d: if (L[d] !== L[SRC[i]!] || H[d] !== H[SRC[i]!]) pc = TGT[i]!; break;
        case 0x45: if ((L[d]! & IMM[i]!) !== 0 || (H[d]! & (IMM[i]! >> 31)) !== 0) pc = TGT[i]!; break;
        case 0x4d: if ((L[d]! & L[SRC[i]!]!) !== 0 || (H[d]! & H[SRC[i]!]!) !== 0) pc = TGT[i]!; break;
        case 0x25: if (cmpU(L[d]!, H[d]!, IMM[i]!, IMM[i]! >> 31) > 0) pc = TGT[i]!; break;
        case 0x2d: if (cmpU(L[d]!, H[d]!, L[SRC[i]!]!, H[SRC[i]!]!) > 0) pc = TGT[i]!; break;
        case 0x35: if (cmpU(L[d]!, H[d]!, IMM[i]!, IMM[i]! >> 31) >= 0) pc = TGT[i]!; break;
        case 0x3d: if (cmpU(L[d]!, H[d]!, L[SRC[i]!]!, H[SRC[i]!]!) >= 0) pc = TGT[i]!; break;
        case 0xa5: if (cmpU(L[d]!, H[d]!, IMM[i]!, IMM[i]! >> 31) < 0) pc = TGT[i]!; break;
        case 0xad: if (cmpU(L[d]!, H[d]!, L[SRC[i]!]!, H[SRC[i]!]!) < 0) pc = TGT[i]!; break;
        case 0xb5: if (cmpU(L[d]!, H[d]!, IMM[i]!, IMM[i]! >> 31) <= 0) pc = TGT[i]!; break;
        case 0xbd: if (cmpU(L[d]!, H[d]!, L[SRC[i]!]!, H[SRC[i]!]!) <= 0) pc = TGT[i]!; break;
        case 0x65: if (cmpS(L[d]!, H[d]!, IMM[i]!, IMM[i]! >> 31) > 0) pc = TGT[i]!; break;
        case 0x6d: if (cmpS(L[d]!, H[d]!, L[SRC[i]!]!, H[SRC[i]!]!) > 0) pc = TGT[i]!; break;
        case 0x75: if (cmpS(L[d]!, H[d]!, IMM[i]!, IMM[i]! >> 31) >= 0) pc = TGT[i]!; break;
        case 0x7d: if (cmpS(L[d]!, H[d]!, L[SRC[i]!]!, H[SRC[i]!]!) >= 0) pc = TGT[i]!; break;
        case 0xc5: if (cmpS(L[d]!, H[d]!, IMM[i]!, IMM[i]! >> 31) < 0) pc = TGT[i]!; break;
        case 0xcd: if (cmpS(L[d]!, H[d]!, L[SRC[i]!]!, H[SRC[i]!]!) < 0) pc = TGT[i]!; break;
        case 0xd5: if (cmpS(L[d]!, H[d]!, IMM[i]!, IMM[i]! >> 31) <= 0) pc = TGT[i]!; break;
        case 0xdd: if (cmpS(L[d]!, H[d]!, L[SRC[i]!]!, H[SRC[i]!]!) <= 0) pc = TGT[i]!; break;
        // ---- 32-bit jumps ----
        case 0x16: if (L[d] === IMM[i]) pc = TGT[i]!; break;
        case 0x1e: if (L[d] === L[SRC[i]!]) pc = TGT[i]!; break;
        case 0x56: if (L[d] !== IMM[i]) pc = TGT[i]!; break;
        case 0x5e: if (L[d] !== L[SRC[i]!]) pc = TGT[i]!; break;
        case 0x46: if ((L[d]! & IMM[i]!) !== 0) pc = TGT[i]!; break;
        case 0x4e: if ((L[d]! & L[SRC[i]!]!) !== 0) pc = TGT[i]!; break;
        case 0x26: if (L[d]! >>> 0 > IMM[i]! >>> 0) pc = TGT[i]!; break;
        case 0x2e: if (L[d]! >>> 0 > L[SRC[i]!]! >>> 0) pc = TGT[i]!; break;
        case 0x36: if (L[d]! >>> 0 >= IMM[i]! >>> 0) pc = TGT[i]!; break;
        case 0x3e: if (L[d]! >>> 0 >= L[SRC[i]!]! >>> 0) pc = TGT[i]!; break;
        case 0xa6: if (L[d]! >>> 0 < IMM[i]! >>> 0) pc = TGT[i]!; break;
        case 0xae: if (L[d]! >>> 0 < L[SRC[i]!]! >>> 0) pc = TGT[i]!; break;
        case 0xb6: if (L[d]! >>> 0 <= IMM[i]! >>> 0) pc = TGT[i]!; break;
        case 0xbe: if (L[d]! >>> 0 <= L[SRC[i]!]! >>> 0) pc = TGT[i]!; break;
        case 0x66: if (L[d]! > IMM[i]!) pc = TGT[i]!; break;
        case 0x6e: if (L[d]! > L[SRC[i]!]!) pc = TGT[i]!; break;
        case 0x76: if (L[d]! >= IMM[i]!) pc = TGT[i]!; break;
        case 0x7e: if (L[d]! >= L[SRC[i]!]!) pc = TGT[i]!; break;
        case 0xc6: if (L[d]! < IMM[i]!) pc = TGT[i]!; break;
        case 0xce: if (L[d]! < L[SRC[i]!]!) pc = TGT[i]!; break;
        case 0xd6: if (L[d]! <= IMM[i]!) pc = TGT[i]!; break;
        case 0xde: if (L[d]! <= L[SRC[i]!]!) pc = TGT[i]!; break;
        // ---- calls and exit ----
        case 0x85: {
          const kind = VAR[i];
          if (kind === 1) {
            this.remaining = remaining;
            this.callPseudo(i, TGT[i]!, prog);
            pc = TGT[i]!;
            break;
          }
          if (kind === 2) throw new BpfExecutionError(i, `kfunc call (btf id ${IMM[i]}) is not supported by the interpreter`);
          const id = IMM[i]!;
          if (id === BPF_FUNC_tail_call) {
            const next = this.tailCall(i, prog);
            if (next !== null) {
              prog = next;
              this.prog = prog;
              exe = prog.exe;
              OP = exe.op;
              DST = exe.dst;
              SRC = exe.src;
              OFF = exe.off;
              IMM = exe.imm;
              TGT = exe.target;
              VAR = exe.variant;
              pc = 0;
            }
            break;
          }
          const f = this.helpers[id];
          if (f === undefined) throw new BpfExecutionError(i, `unknown helper ${this.helperName(id)} (id ${id})`);
          this.remaining = remaining;
          f(this, i);
          remaining = this.remaining;
          if (this.stopRequested) {
            this.depth = 0;
            return;
          }
          break;
        }
        case 0x95: {
          if (this.depth === baseDepth) {
            this.remaining = remaining;
            return;
          }
          pc = this.returnFromCall();
          if (this.prog !== prog) {
            prog = this.prog!;
            exe = prog.exe;
            OP = exe.op;
            DST = exe.dst;
            SRC = exe.src;
            OFF = exe.off;
            IMM = exe.imm;
            TGT = exe.target;
            VAR = exe.variant;
          }
          break;
        }
        default:
          if (i >= exe.slots) throw new BpfExecutionError(i, FELL_OFF);
          throw new BpfExecutionError(i, `unknown opcode 0x${OP[i]!.toString(16).padStart(2, '0')}`);
      }
    }
  }

  private tailCall(pc: number, prog: BoundProgram): BoundProgram | null {
    void prog;
    if (this.tailCallTarget === null) return null;
    const map = this.space.objectAt(this.lo[2]!, this.hi[2]!);
    if (map === undefined) throw new BpfExecutionError(pc, 'bpf_tail_call: r2 is not a map pointer');
    const target = this.tailCallTarget(map, this.lo[3]! >>> 0);
    if (target === null) return null;
    if (this.tailCalls >= MAX_TAIL_CALL_CNT) return null;
    this.tailCalls++;
    return target;
  }
}

function shl64(L: Int32Array, H: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    H[d] = (H[d]! << n) | (L[d]! >>> (32 - n));
    L[d] = L[d]! << n;
  } else {
    H[d] = L[d]! << (n - 32);
    L[d] = 0;
  }
}
function shr64(L: Int32Array, H: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    L[d] = (L[d]! >>> n) | (H[d]! << (32 - n));
    H[d] = H[d]! >>> n;
  } else {
    L[d] = H[d]! >>> (n - 32);
    H[d] = 0;
  }
}
function sar64(L: Int32Array, H: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    L[d] = (L[d]! >>> n) | (H[d]! << (32 - n));
    H[d] = H[d]! >> n;
  } else {
    L[d] = H[d]! >> (n - 32);
    H[d] = H[d]! >> 31;
  }
}
function neg64(L: Int32Array, H: Int32Array, d: number): void {
  const lo = L[d]!;
  L[d] = -lo | 0;
  H[d] = (~H[d]! + (lo === 0 ? 1 : 0)) | 0;
}
function cmpU(alo: number, ahi: number, blo: number, bhi: number): number {
  const ah = ahi >>> 0;
  const bh = bhi >>> 0;
  if (ah !== bh) return ah > bh ? 1 : -1;
  const al = alo >>> 0;
  const bl = blo >>> 0;
  return al === bl ? 0 : al > bl ? 1 : -1;
}
function cmpS(alo: number, ahi: number, blo: number, bhi: number): number {
  if (ahi !== bhi) return ahi > bhi ? 1 : -1;
  const al = alo >>> 0;
  const bl = blo >>> 0;
  return al === bl ? 0 : al > bl ? 1 : -1;
}
