// The JavaScript tier: translates a bound program into JavaScript (built with `new Function`) whose behaviour
// is exactly the interpreter's: same r0, same memory effects, same faults (class, pc, address, size, message),
// same helper calls, same instruction counts and budget behaviour.
//
// Shape of the generated code (dump it with `jsSource(prog)`):
//  - registers are JavaScript locals l0/h0 … l10/h10 (the low and high 32-bit halves, always int32), written
//    back to vm.lo / vm.hi around helper calls, slow memory paths, exits, faults and hand-overs;
//  - the program is cut into basic blocks (at jump targets, after jumps, calls and exits, and every MAX_BLOCK
//    instructions); a `for (;;) switch (blk)` dispatches on the block index, blocks follow each other in pc
//    order so fall-through is a plain `case` fall-through; helper calls, bpf-to-bpf calls and returns jump to
//    one shared case each (HELPER, CALL, RET) instead of repeating their register shuffles;
//  - one line per BPF instruction, prefixed by its pc and its disassembly in a comment;
//  - the budget is charged once per block: `if (rem < N)` at block entry hands the rest of the run to the
//    interpreter (which then stops at exactly the pc and count it always would); otherwise `rem -= N`. Blocks
//    end at every jump, call and exit, so `vm.remaining` is exact wherever anyone can observe it (helpers,
//    exits, LD_ABS aborts, hand-overs);
//  - memory accesses keep every check of the interpreter's fast path (region lookup by the high word, bounds,
//    hooks, writability) and call the interpreter's own slow paths otherwise, so faults and hooks behave
//    identically. The one specialisation: in a program that never writes r10, an access at a constant offset
//    from r10 that stays inside the 512-byte frame goes straight to the current frame's DataView (r10 is then
//    provably the frame pointer; see `fpClean` below for what is re-checked and when);
//  - rare operations (64-bit division with a high word, atomics, LD_ABS, calls, tail calls) call the
//    interpreter's methods, so there is one implementation of their semantics;
//  - V8 does not optimise very large functions, so a big program becomes several functions ("chunks") of
//    consecutive blocks; control crossing chunks returns to `runJs`, which calls the next one.
import { bswap32, div32, mulhiU32 } from './arith.js';
import { formatInsn } from './disasm.js';
import { BpfExecutionError } from './errors.js';
import type { BoundProgram, HelperFn, Vm } from './interpreter.js';
import { MAX_BPF_STACK, decode, type Insn } from './isa.js';
import { REGION_HI_BASE, type Region } from './memory.js';
import { V_MOVSX16, V_MOVSX32, V_MOVSX8, V_SIGNED, type ExecutableProgram } from './program.js';

/** Message when control runs past the last instruction (prepare() does not insist on a final exit or jump). */
export const FELL_OFF = 'fell off the end of the program (the last insn is not an exit or jmp)';

const BPF_FUNC_TAIL_CALL = 12;

/**
 * The members of Vm the compiled code uses. They are TypeScript-private in Vm (one implementation of each
 * piece of semantics, no public surface); the compiled code reaches them through this view.
 */
export interface VmInternals {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  readonly stacks: Region[];
  readonly regions: (Region | null)[];
  readonly mayGoto: Int32Array;
  helpers: (HelperFn | undefined)[];
  helperName: (id: number) => string;
  remaining: number;
  depth: number;
  stopRequested: boolean;
  ldAbsAbort: boolean;
  prog: BoundProgram | null;
  loop(prog: BoundProgram, pc: number, baseDepth: number): void;
  loadSlow(pc: number, dst: number, base: number, off: number, size: number, signed: boolean): void;
  storeSlow(pc: number, base: number, off: number, size: number, lo: number, hi: number): void;
  atomic(pc: number, exe: ExecutableProgram, i: number, dw: boolean): void;
  div64(pc: number, dst: number, sLo: number, sHi: number, signed: boolean, mod: boolean): void;
  ldAbs(offset: number, size: number): boolean;
  callPseudo(pc: number, target: number, prog: BoundProgram): void;
  returnFromCall(): number;
  tailCall(pc: number, prog: BoundProgram): BoundProgram | null;
}

/**
 * A compiled program: one function per chunk of consecutive blocks. `chunks[chunkOf[pc]](vm, pc, baseDepth)`
 * runs from `pc` until the frame at `baseDepth` exits and returns 0, or returns `pc' + 1` when control moves
 * to pc' in `vm.prog`: another chunk, or another program (a tail call, or a return into a frame of a program
 * that tail-called).
 */
export interface JsProgram {
  readonly chunks: ((vm: VmInternals, pc: number, baseDepth: number) => number)[];
  /** Set once the chunks have had their warm-up calls. */
  warm: boolean;
  readonly chunkOf: Int32Array;
  readonly source: string;
  readonly blocks: number;
}

// ---------------------------------------------------------------------------------------------------------
// Runtime support shared by every compiled program.

const mulhi = mulhiU32;

/** True when `st` is a plain, writable 512-byte stack frame mapped at its own address. */
function stackOk(st: Region, regions: (Region | null)[]): boolean {
  return st.load === null && st.store === null && st.writable && st.bytes.length === MAX_BPF_STACK && regions[st.hi - REGION_HI_BASE] === st;
}

// ---------------------------------------------------------------------------------------------------------
// Analysis

interface Analysis {
  /** Start pc of each block, in pc order (slot `slots` is the fall-off block). */
  starts: number[];
  /** True when no instruction writes r10, so r10 is always the current frame pointer. */
  fpClean: boolean;
}

/** Longest basic block, in instructions (longer straight-line code is cut into several blocks). */
const MAX_BLOCK = 128;

function analyse(exe: ExecutableProgram): Analysis {
  const n = exe.slots;
  const leader = new Uint8Array(n + 1);
  leader[0] = 1;
  leader[n] = 1;
  let fpClean = true;
  for (let pc = 0; pc < n; pc++) {
    const op = exe.op[pc]!;
    const c = op & 7;
    const next = op === 0x18 ? pc + 2 : pc + 1;
    if (c === 0x05 || c === 0x06) {
      const a = op & 0xf0;
      if (a === 0x90) leader[next] = 1;
      else if (a === 0x80) {
        leader[next] = 1;
        if (exe.variant[pc] === 1) leader[exe.target[pc]!] = 1;
      } else {
        leader[exe.target[pc]!] = 1;
        leader[next] = 1;
      }
    } else if (op === 0x18 && exe.variant[pc] === 4) {
      leader[exe.target[pc]!] = 1; // a callback entry (bpf_loop and friends)
    }
    // Writers of r10: ALU/ALU64 and LDX destinations, lddw, and the fetching atomics (they write src).
    if (c === 0x04 || c === 0x07 || c === 0x01 || op === 0x18) {
      if (exe.dst[pc] === 10) fpClean = false;
    } else if ((op === 0xc3 || op === 0xdb) && exe.variant[pc]! >= 4 && exe.src[pc] === 10) {
      fpClean = false;
    }
    if (op === 0x18) pc++;
  }
  // Long straight-line runs are cut every MAX_BLOCK instructions, so that chunks can be cut anywhere.
  const starts: number[] = [];
  let run = 0;
  for (let pc = 0; pc <= n; pc++) {
    if (run >= MAX_BLOCK) leader[pc] = 1;
    if (leader[pc]) {
      starts.push(pc);
      run = 0;
    }
    run++;
    if (pc < n && exe.op[pc] === 0x18) pc++;
  }
  return { starts, fpClean };
}

// ---------------------------------------------------------------------------------------------------------
// Code generation

const lo = (r: number): string => `l${r}`;
const hi = (r: number): string => `h${r}`;
/** A number literal, parenthesised when negative so that `x - (-1)` stays readable and correct. */
const num = (v: number): string => (v < 0 ? `(${v})` : `${v}`);

const ALL_REGS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const WRITE_BACK = ALL_REGS.map((r) => `L[${r}] = l${r}; H[${r}] = h${r};`).join(' ');
const READ_BACK = ALL_REGS.map((r) => `l${r} = L[${r}]; h${r} = H[${r}];`).join(' ');

/** Code-generation context of one chunk. */
interface Gen {
  prog: BoundProgram;
  fpClean: boolean;
  /** Code that continues at block start `pc`: a local `continue`, or an exit to the chunk that has it. */
  goto(pc: number): string;
  /** The chunk-local block index of block start `pc`, or -1 when another chunk has it. */
  local(pc: number): number;
  /** Case numbers of the shared helper-call, bpf-to-bpf-call and return sequences. */
  HELPER: number;
  CALL: number;
  RET: number;
}

/**
 * Source characters per chunk. V8 does not optimise functions above a bytecode size limit
 * (--max-optimized-bytecode-size, 60 KB); a program whose code would be larger is split into chunks of
 * consecutive blocks, one function each, and control crossing chunks goes through `runJs` (registers written
 * back and reloaded). The figure keeps every chunk well below the limit.
 */
export const jsTierConfig = { chunkChars: 40_000 };

export interface Generated {
  /** One factory source per chunk. */
  sources: string[];
  /** Block index (chunk-local) per pc, one array per chunk; -1 where the chunk has no block starting. */
  blockIndex: Int32Array[];
  /** Chunk per pc (0..slots). */
  chunkOf: Int32Array;
  blocks: number;
  fpClean: boolean;
}

/** Generates the source of the factories `(rt) => function`, one per chunk. */
export function generate(prog: BoundProgram, chunkChars = jsTierConfig.chunkChars): Generated {
  const exe = prog.exe;
  const n = exe.slots;
  const { starts, fpClean } = analyse(exe);
  const texts = new Map<number, string>();
  try {
    for (const i of decode(exe.code)) texts.set(i.pc, formatInsn(i as Insn));
  } catch {
    // comments only
  }
  const nb = starts.length;
  const blockPcs = (b: number): number[] => {
    const start = starts[b]!;
    const end = b + 1 < nb ? starts[b + 1]! : n + 1;
    const pcs: number[] = [];
    for (let pc = start; pc < end && pc < n; pc += exe.op[pc] === 0x18 ? 2 : 1) pcs.push(pc);
    return pcs;
  };
  const blockCode = (b: number, g: Gen): string[] => {
    const start = starts[b]!;
    const pcs = blockPcs(b);
    const len = start === n ? 1 : pcs.length;
    const lines = [`      case ${g.local(start)}: // pc ${start}`, `        if (rem < ${len}) { bp = ${start}; xk = 1; break exit; } rem -= ${len};`];
    if (start === n) lines.push(`        /* ${n} */ throw new BpfExecutionError(${n}, FELL_OFF);`);
    pcs.forEach((pc, k) => {
      const text = (texts.get(pc) ?? '').replace(/\*\//g, '* /');
      lines.push(`        /* ${pc}: ${text} */ ${insnCode(g, pc, len - k - 1)}`);
    });
    return lines;
  };

  // Chunk boundaries: consecutive blocks while the code stays under chunkChars.
  const sizing: Gen = { prog, fpClean, goto: () => 'blk = 0; continue;', local: () => 0, HELPER: 0, CALL: 0, RET: 0 };
  const chunkStart: number[] = [0];
  let size = 0;
  for (let b = 0; b < nb; b++) {
    const c = blockCode(b, sizing).reduce((a, l) => a + l.length + 1, 0);
    if (size > 0 && size + c > chunkChars) {
      chunkStart.push(b);
      size = 0;
    }
    size += c;
  }
  const chunkOf = new Int32Array(n + 1);
  const sources: string[] = [];
  const blockIndex: Int32Array[] = [];
  for (let ci = 0; ci < chunkStart.length; ci++) {
    const b0 = chunkStart[ci]!;
    const b1 = ci + 1 < chunkStart.length ? chunkStart[ci + 1]! : nb;
    const BI = new Int32Array(n + 1).fill(-1);
    for (let b = b0; b < b1; b++) BI[starts[b]!] = b - b0;
    const lastPc = b1 < nb ? starts[b1]! : n + 1;
    chunkOf.fill(ci, starts[b0]!, lastPc);
    const m = b1 - b0;
    const g: Gen = {
      prog,
      fpClean,
      local: (pc) => BI[pc]!,
      goto: (pc) => (BI[pc]! >= 0 ? `blk = ${BI[pc]}; continue;` : `{ bp = ${pc}; xk = 2; break exit; }`),
      HELPER: m,
      CALL: m + 1,
      RET: m + 2,
    };
    const out: string[] = [];
    for (let b = b0; b < b1; b++) out.push(...blockCode(b, g));
    if (b1 < nb) out.push(`        bp = ${starts[b1]}; xk = 2; break exit; // falls through into the next chunk`);
    sources.push(chunkSource(prog, g, ci, chunkStart.length, out, n, nb));
    blockIndex.push(BI);
  }
  return { sources, blockIndex, chunkOf, blocks: nb, fpClean };
}

function chunkSource(prog: BoundProgram, g: Gen, ci: number, chunks: number, body: string[], n: number, nb: number): string {
  const fpClean = g.fpClean;
  const frameCheck = (bp: string, r10: boolean): string =>
    fpClean
      ? ` const st = vm.stacks[vm.depth]; if (${r10 ? `l10 !== ${MAX_BPF_STACK} || h10 !== st.hi || ` : ''}!stackOk(st, RG)) { bp = ${bp}; xk = 1; break exit; } SD = st.dv;`
      : '';
  const save610 = [6, 7, 8, 9, 10].map((r) => `L[${r}] = l${r}; H[${r}] = h${r};`).join(' ');
  const load610 = [6, 7, 8, 9, 10].map((r) => `l${r} = L[${r}]; h${r} = H[${r}];`).join(' ');
  return `"use strict";
// bpfvm JavaScript tier: program ${JSON.stringify(prog.name)}, ${n} slots, ${nb} blocks, chunk ${ci + 1} of ${chunks}, fpClean=${fpClean}
const { mulhi, bswap32, div32, stackOk, BpfExecutionError, FELL_OFF, PROG, EXE, BI } = rt;
return function bpf_js_${ci}(vm, pc, base) {
  const L = vm.lo, H = vm.hi, RG = vm.regions, MG = vm.mayGoto;
  vm.prog = PROG;
  // pc -1 is a warm-up call (see runJs): prologue and epilogue only, nothing changes.
  const blk0 = pc < 0 ? -2 : BI[pc];
  if (blk0 === -1${fpClean ? ` || (blk0 >= 0 && (L[10] !== ${MAX_BPF_STACK} || H[10] !== vm.stacks[vm.depth].hi || !stackOk(vm.stacks[vm.depth], RG)))` : ''}) {
    // An entry the compiled code does not handle (not a block start, or r10 not the frame pointer).
    vm.loop(PROG, pc, base);
    return 0;
  }
  let blk = blk0;
  let ${ALL_REGS.map((r) => `l${r} = L[${r}], h${r} = H[${r}]`).join(', ')};
  // xk says how the loop was left: 0 the run is over, 1 the interpreter finishes it from bp, 2 continue at bp
  // in vm.prog (another chunk or another program). hid/hpc/hnext/ht are the shared call sequences' arguments.
  let rem = vm.remaining, bp = 0, xk = 0, sync = false, hid = 0, hpc = 0, hnext = 0, ht = 0;
  let SD = vm.stacks[vm.depth].dv;
  exit: {
    if (blk0 < 0) break exit;
    try {
      for (;;) switch (blk) {
${body.join('\n')}
      case ${g.HELPER}: { // helper call: registers to vm.lo/vm.hi and back
        const f = vm.helpers[hid];
        if (f === undefined) throw new BpfExecutionError(hpc, 'unknown helper ' + vm.helperName(hid) + ' (id ' + hid + ')');
        vm.remaining = rem; ${WRITE_BACK}
        sync = true; f(vm, hpc); sync = false;
        rem = vm.remaining; ${READ_BACK}
        if (vm.stopRequested) { vm.depth = 0; xk = 0; break exit; }${frameCheck('hpc + 1', true)}
        if (hnext < 0) { bp = hpc + 1; xk = 2; break exit; }
        blk = hnext; continue;
      }
      case ${g.CALL}: { // bpf-to-bpf call: new frame, r6-r10 saved
        vm.remaining = rem; ${save610}
        vm.callPseudo(hpc, ht, PROG); l10 = L[10]; h10 = H[10];${frameCheck('ht', false)}
        if (BI[ht] < 0) { bp = ht; xk = 2; break exit; }
        blk = BI[ht]; continue;
      }
      case ${g.RET}: { // return from a bpf-to-bpf call: r6-r10 restored
        const rp = vm.returnFromCall(); ${load610}
        if (vm.prog !== PROG || BI[rp] < 0) { bp = rp; xk = 2; break exit; }${frameCheck('rp', false)}
        blk = BI[rp]; continue;
      }
      default: throw new Error('bpfvm jstier: bad block ' + blk);
      }
    } catch (e) {
      // Faults leave the registers as they were before the faulting instruction, as in the interpreter.
      if (!sync) { ${WRITE_BACK} }
      throw e;
    }
  }
  ${WRITE_BACK}
  vm.remaining = rem;
  // The budget runs out within the block at bp (or r10 stopped being the frame pointer): the interpreter
  // finishes the run from bp and stops at exactly the pc and count it always would.
  if (xk === 1) { vm.loop(PROG, bp, base); return 0; }
  return xk === 0 ? 0 : bp + 1;
};
`;
}

/**
 * Code for one instruction. `after` is the number of instructions of its block that follow it (so that
 * `rem + after` is the interpreter's exact `remaining` after this instruction).
 */
function insnCode(g: Gen, pc: number, after: number): string {
  const { prog, fpClean } = g;
  const exe = prog.exe;
  const op = exe.op[pc]!;
  const d = exe.dst[pc]!;
  const s = exe.src[pc]!;
  const off = exe.off[pc]!;
  const k = exe.imm[pc]!;
  const v = exe.variant[pc]!;
  const kh = k >> 31;
  const ku = k >>> 0;
  const D = lo(d);
  const DH = hi(d);
  const S = lo(s);
  const SH = hi(s);
  const K = num(k);
  const KH = num(kh);
  const signed = v === V_SIGNED;
  const go = (cond: string): string => `if (${cond}) { ${g.goto(exe.target[pc]!)} }`;
  const div64 = (sLo: string, sHi: string, mod: boolean): string =>
    `L[${d}] = ${D}; H[${d}] = ${DH}; vm.div64(${pc}, ${d}, ${sLo}, ${sHi}, ${signed}, ${mod}); ${D} = L[${d}]; ${DH} = H[${d}];`;

  switch (op) {
    // ---- ALU64, immediate ----
    case 0x07:
      return `{ const t = (${D} >>> 0) + ${ku}; ${D} = t | 0; ${DH} = (${DH} + ${KH} + (t > 4294967295 ? 1 : 0)) | 0; }`;
    case 0x17:
      return `{ const t = (${D} >>> 0) - ${ku}; ${D} = t | 0; ${DH} = (${DH} - ${KH} - (t < 0 ? 1 : 0)) | 0; }`;
    case 0x27:
      return `{ const a = ${D}; ${DH} = (mulhi(a >>> 0, ${ku}) + Math.imul(a, ${KH}) + Math.imul(${DH}, ${K})) | 0; ${D} = Math.imul(a, ${K}); }`;
    case 0x37:
    case 0x97: {
      const mod = op === 0x97;
      if (k === 0) return mod ? '/* modulo by zero keeps the dividend */' : `${D} = 0; ${DH} = 0;`;
      if (!signed && k > 0) {
        const fast = mod ? `${D} = ((${D} >>> 0) % ${ku}) | 0;` : `${D} = Math.floor((${D} >>> 0) / ${ku}) | 0;`;
        return `if (${DH} === 0) { ${fast} } else { ${div64(K, KH, mod)} }`;
      }
      return div64(K, KH, mod);
    }
    case 0x47:
      return kh === 0 ? `${D} |= ${K};` : `${D} |= ${K}; ${DH} = -1;`;
    case 0x57:
      return kh === 0 ? `${D} &= ${K}; ${DH} = 0;` : `${D} &= ${K};`;
    case 0xa7:
      return kh === 0 ? `${D} ^= ${K};` : `${D} ^= ${K}; ${DH} = ~${DH};`;
    case 0xb7:
      return `${D} = ${K}; ${DH} = ${KH};`;
    case 0x67:
    case 0x77:
    case 0xc7:
      return shiftConst(op & 0xf0, D, DH, k & 63);
    case 0x87:
      return `{ const a = ${D}; ${D} = -a | 0; ${DH} = (~${DH} + (a === 0 ? 1 : 0)) | 0; }`;
    // ---- ALU64, register ----
    case 0x0f:
      return `{ const t = (${D} >>> 0) + (${S} >>> 0); ${DH} = (${DH} + ${SH} + (t > 4294967295 ? 1 : 0)) | 0; ${D} = t | 0; }`;
    case 0x1f:
      return `{ const t = (${D} >>> 0) - (${S} >>> 0); ${DH} = (${DH} - ${SH} - (t < 0 ? 1 : 0)) | 0; ${D} = t | 0; }`;
    case 0x2f:
      return `{ const a = ${D}, b = ${S}; ${DH} = (mulhi(a >>> 0, b >>> 0) + Math.imul(a, ${SH}) + Math.imul(${DH}, b)) | 0; ${D} = Math.imul(a, b); }`;
    case 0x3f:
    case 0x9f: {
      const mod = op === 0x9f;
      if (signed) return div64(S, SH, mod);
      const fast = mod ? `${D} = ((${D} >>> 0) % (${S} >>> 0)) | 0;` : `${D} = Math.floor((${D} >>> 0) / (${S} >>> 0)) | 0;`;
      return `if ((${DH} | ${SH}) === 0 && ${S} !== 0) { ${fast} } else { ${div64(S, SH, mod)} }`;
    }
    case 0x4f:
      return `${D} |= ${S}; ${DH} |= ${SH};`;
    case 0x5f:
      return `${D} &= ${S}; ${DH} &= ${SH};`;
    case 0xaf:
      return `${D} ^= ${S}; ${DH} ^= ${SH};`;
    case 0xbf:
      if (v === 0) return d === s ? '/* r = r */' : `${D} = ${S}; ${DH} = ${SH};`;
      if (v === V_MOVSX8) return `${D} = (${S} << 24) >> 24; ${DH} = ${D} >> 31;`;
      if (v === V_MOVSX16) return `${D} = (${S} << 16) >> 16; ${DH} = ${D} >> 31;`;
      if (v === V_MOVSX32) return `${D} = ${S}; ${DH} = ${D} >> 31;`;
      break;
    case 0x6f:
      return `{ const n = ${S} & 63; if (n !== 0) { if (n < 32) { ${DH} = (${DH} << n) | (${D} >>> (32 - n)); ${D} = ${D} << n; } else { ${DH} = ${D} << (n - 32); ${D} = 0; } } }`;
    case 0x7f:
      return `{ const n = ${S} & 63; if (n !== 0) { if (n < 32) { ${D} = (${D} >>> n) | (${DH} << (32 - n)); ${DH} = (${DH} >>> n) | 0; } else { ${D} = (${DH} >>> (n - 32)) | 0; ${DH} = 0; } } }`;
    case 0xcf:
      return `{ const n = ${S} & 63; if (n !== 0) { if (n < 32) { ${D} = (${D} >>> n) | (${DH} << (32 - n)); ${DH} = ${DH} >> n; } else { ${D} = ${DH} >> (n - 32); ${DH} = ${DH} >> 31; } } }`;
    case 0xd7:
      if (k === 16) return `${D} = ((${D} & 0xff) << 8) | ((${D} >>> 8) & 0xff); ${DH} = 0;`;
      if (k === 32) return `${D} = bswap32(${D}); ${DH} = 0;`;
      return `{ const a = ${D}; ${D} = bswap32(${DH}); ${DH} = bswap32(a); }`;
    // ---- ALU (32-bit), immediate ----
    case 0x04:
      return `${D} = (${D} + ${K}) | 0; ${DH} = 0;`;
    case 0x14:
      return `${D} = (${D} - ${K}) | 0; ${DH} = 0;`;
    case 0x24:
      return `${D} = Math.imul(${D}, ${K}); ${DH} = 0;`;
    case 0x34:
    case 0x94: {
      const mod = op === 0x94;
      if (k === 0) return mod ? `${DH} = 0;` : `${D} = 0; ${DH} = 0;`;
      if (signed) {
        if (k === -1) return mod ? `${D} = 0; ${DH} = 0;` : `${D} = -${D} | 0; ${DH} = 0;`;
        return mod ? `${D} = (${D} % ${K}) | 0; ${DH} = 0;` : `${D} = Math.trunc(${D} / ${K}) | 0; ${DH} = 0;`;
      }
      return mod ? `${D} = ((${D} >>> 0) % ${ku}) | 0; ${DH} = 0;` : `${D} = Math.floor((${D} >>> 0) / ${ku}) | 0; ${DH} = 0;`;
    }
    case 0x44:
      return `${D} |= ${K}; ${DH} = 0;`;
    case 0x54:
      return `${D} &= ${K}; ${DH} = 0;`;
    case 0xa4:
      return `${D} ^= ${K}; ${DH} = 0;`;
    case 0xb4:
      return `${D} = ${K}; ${DH} = 0;`;
    case 0x64:
      return `${D} = ${D} << ${k & 31}; ${DH} = 0;`;
    case 0x74:
      return `${D} = (${D} >>> ${k & 31}) | 0; ${DH} = 0;`;
    case 0xc4:
      return `${D} = ${D} >> ${k & 31}; ${DH} = 0;`;
    case 0x84:
      return `${D} = -${D} | 0; ${DH} = 0;`;
    // ---- ALU (32-bit), register ----
    case 0x0c:
      return `${D} = (${D} + ${S}) | 0; ${DH} = 0;`;
    case 0x1c:
      return `${D} = (${D} - ${S}) | 0; ${DH} = 0;`;
    case 0x2c:
      return `${D} = Math.imul(${D}, ${S}); ${DH} = 0;`;
    case 0x3c:
    case 0x9c:
      return `${D} = div32(${D}, ${S}, ${signed}, ${op === 0x9c}); ${DH} = 0;`;
    case 0x4c:
      return `${D} |= ${S}; ${DH} = 0;`;
    case 0x5c:
      return `${D} &= ${S}; ${DH} = 0;`;
    case 0xac:
      return `${D} ^= ${S}; ${DH} = 0;`;
    case 0xbc:
      if (v === V_MOVSX8) return `${D} = (${S} << 24) >> 24; ${DH} = 0;`;
      if (v === V_MOVSX16) return `${D} = (${S} << 16) >> 16; ${DH} = 0;`;
      return `${D} = ${S}; ${DH} = 0;`;
    case 0x6c:
      return `${D} = ${D} << (${S} & 31); ${DH} = 0;`;
    case 0x7c:
      return `${D} = (${D} >>> (${S} & 31)) | 0; ${DH} = 0;`;
    case 0xcc:
      return `${D} = ${D} >> (${S} & 31); ${DH} = 0;`;
    case 0xd4:
      if (k === 16) return `${D} &= 0xffff; ${DH} = 0;`;
      if (k === 32) return `${DH} = 0;`;
      return '/* le64 is a no-op on a little-endian machine */';
    case 0xdc:
      if (k === 16) return `${D} = ((${D} & 0xff) << 8) | ((${D} >>> 8) & 0xff); ${DH} = 0;`;
      if (k === 32) return `${D} = bswap32(${D}); ${DH} = 0;`;
      return `{ const a = ${D}; ${D} = bswap32(${DH}); ${DH} = bswap32(a); }`;
    // ---- lddw ----
    case 0x18:
      return `${D} = ${num(prog.kLo[pc]!)}; ${DH} = ${num(prog.kHi[pc]!)};`;
    // ---- loads ----
    case 0x61: return load(pc, d, s, off, 4, false, fpClean);
    case 0x69: return load(pc, d, s, off, 2, false, fpClean);
    case 0x71: return load(pc, d, s, off, 1, false, fpClean);
    case 0x79: return load(pc, d, s, off, 8, false, fpClean);
    case 0x81: return load(pc, d, s, off, 4, true, fpClean);
    case 0x89: return load(pc, d, s, off, 2, true, fpClean);
    case 0x91: return load(pc, d, s, off, 1, true, fpClean);
    // ---- stores ----
    case 0x62: return store(pc, d, off, 4, K, '0', fpClean);
    case 0x6a: return store(pc, d, off, 2, K, '0', fpClean);
    case 0x72: return store(pc, d, off, 1, K, '0', fpClean);
    case 0x7a: return store(pc, d, off, 8, K, KH, fpClean);
    case 0x63: return store(pc, d, off, 4, S, '0', fpClean);
    case 0x6b: return store(pc, d, off, 2, S, '0', fpClean);
    case 0x73: return store(pc, d, off, 1, S, '0', fpClean);
    case 0x7b: return store(pc, d, off, 8, S, SH, fpClean);
    case 0xc3:
    case 0xdb: {
      const regs = [...new Set([d, s, 0])];
      return `${regs.map((r) => `L[${r}] = l${r}; H[${r}] = h${r};`).join(' ')} vm.atomic(${pc}, EXE, ${pc}, ${op === 0xdb}); ${regs.map((r) => `l${r} = L[${r}]; h${r} = H[${r}];`).join(' ')}`;
    }
    // ---- legacy packet loads ----
    case 0x20: case 0x28: case 0x30:
    case 0x40: case 0x48: case 0x50: {
      const sz = (op & 0x18) === 0x00 ? 4 : (op & 0x18) === 0x08 ? 2 : 1;
      const offset = (op & 0xe0) === 0x40 ? `(${S} + ${K}) | 0` : K;
      const fix = after === 0 ? '' : ` rem += ${after};`;
      return `if (vm.ldAbs(${offset}, ${sz})) { l0 = L[0]; h0 = 0; } else { l0 = 0; h0 = 0; vm.ldAbsAbort = true; vm.depth = 0;${fix} xk = 0; break exit; }`;
    }
    // ---- jumps ----
    case 0x05:
    case 0x06:
      return g.goto(exe.target[pc]!);
    case 0xe5:
      return `if (MG[vm.depth] === 0) { ${g.goto(exe.target[pc]!)} } MG[vm.depth]--;`;
    case 0x15: return go(`${D} === ${K} && ${DH} === ${KH}`);
    case 0x1d: return go(`${D} === ${S} && ${DH} === ${SH}`);
    case 0x55: return go(`${D} !== ${K} || ${DH} !== ${KH}`);
    case 0x5d: return go(`${D} !== ${S} || ${DH} !== ${SH}`);
    case 0x45: return go(kh === 0 ? `(${D} & ${K}) !== 0` : `(${D} & ${K}) !== 0 || ${DH} !== 0`);
    case 0x4d: return go(`(${D} & ${S}) !== 0 || (${DH} & ${SH}) !== 0`);
    case 0x25: return go(cmpK('>', false, D, DH, k));
    case 0x35: return go(cmpK('>=', false, D, DH, k));
    case 0xa5: return go(cmpK('<', false, D, DH, k));
    case 0xb5: return go(cmpK('<=', false, D, DH, k));
    case 0x65: return go(cmpK('>', true, D, DH, k));
    case 0x75: return go(cmpK('>=', true, D, DH, k));
    case 0xc5: return go(cmpK('<', true, D, DH, k));
    case 0xd5: return go(cmpK('<=', true, D, DH, k));
    case 0x2d: return go(cmpX('>', false, D, DH, S, SH));
    case 0x3d: return go(cmpX('>=', false, D, DH, S, SH));
    case 0xad: return go(cmpX('<', false, D, DH, S, SH));
    case 0xbd: return go(cmpX('<=', false, D, DH, S, SH));
    case 0x6d: return go(cmpX('>', true, D, DH, S, SH));
    case 0x7d: return go(cmpX('>=', true, D, DH, S, SH));
    case 0xcd: return go(cmpX('<', true, D, DH, S, SH));
    case 0xdd: return go(cmpX('<=', true, D, DH, S, SH));
    // ---- 32-bit jumps ----
    case 0x16: return go(`${D} === ${K}`);
    case 0x1e: return go(`${D} === ${S}`);
    case 0x56: return go(`${D} !== ${K}`);
    case 0x5e: return go(`${D} !== ${S}`);
    case 0x46: return go(`(${D} & ${K}) !== 0`);
    case 0x4e: return go(`(${D} & ${S}) !== 0`);
    case 0x26: return go(`(${D} >>> 0) > ${ku}`);
    case 0x2e: return go(`(${D} >>> 0) > (${S} >>> 0)`);
    case 0x36: return go(`(${D} >>> 0) >= ${ku}`);
    case 0x3e: return go(`(${D} >>> 0) >= (${S} >>> 0)`);
    case 0xa6: return go(`(${D} >>> 0) < ${ku}`);
    case 0xae: return go(`(${D} >>> 0) < (${S} >>> 0)`);
    case 0xb6: return go(`(${D} >>> 0) <= ${ku}`);
    case 0xbe: return go(`(${D} >>> 0) <= (${S} >>> 0)`);
    case 0x66: return go(`${D} > ${K}`);
    case 0x6e: return go(`${D} > ${S}`);
    case 0x76: return go(`${D} >= ${K}`);
    case 0x7e: return go(`${D} >= ${S}`);
    case 0xc6: return go(`${D} < ${K}`);
    case 0xce: return go(`${D} < ${S}`);
    case 0xd6: return go(`${D} <= ${K}`);
    case 0xde: return go(`${D} <= ${S}`);
    // ---- calls and exit ----
    case 0x85:
      if (v === 1) return `hpc = ${pc}; ht = ${exe.target[pc]}; blk = ${g.CALL}; continue;`;
      if (v === 2) return `throw new BpfExecutionError(${pc}, ${JSON.stringify(`kfunc call (btf id ${k}) is not supported by the interpreter`)});`;
      if (k === BPF_FUNC_TAIL_CALL) {
        return `L[2] = l2; H[2] = h2; L[3] = l3; H[3] = h3; { const next = vm.tailCall(${pc}, PROG); if (next !== null) { vm.prog = next; bp = 0; xk = 2; break exit; } }`;
      }
      return `hid = ${k}; hpc = ${pc}; hnext = ${g.local(pc + 1)}; blk = ${g.HELPER}; continue;`;
    case 0x95:
      return `if (vm.depth === base) { xk = 0; break exit; } blk = ${g.RET}; continue;`;
  }
  return `throw new BpfExecutionError(${pc}, ${JSON.stringify(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`)});`;
}

function shiftConst(kind: number, D: string, DH: string, n: number): string {
  if (n === 0) return '/* shift by 0 */';
  if (kind === 0x60) {
    return n < 32 ? `${DH} = (${DH} << ${n}) | (${D} >>> ${32 - n}); ${D} = ${D} << ${n};` : `${DH} = ${D} << ${n - 32}; ${D} = 0;`;
  }
  if (kind === 0x70) {
    return n < 32 ? `${D} = (${D} >>> ${n}) | (${DH} << ${32 - n}); ${DH} = (${DH} >>> ${n}) | 0;` : `${D} = (${DH} >>> ${n - 32}) | 0; ${DH} = 0;`;
  }
  return n < 32 ? `${D} = (${D} >>> ${n}) | (${DH} << ${32 - n}); ${DH} = ${DH} >> ${n};` : `${D} = ${DH} >> ${n - 32}; ${DH} = ${DH} >> 31;`;
}

/** 64-bit comparison against a sign-extended immediate (the interpreter's cmpU / cmpS, specialised). */
function cmpK(rel: '>' | '>=' | '<' | '<=', signed: boolean, D: string, DH: string, k: number): string {
  const kh = k >> 31;
  const ku = k >>> 0;
  const strict = rel === '>' ? '>' : rel === '<' ? '<' : rel === '>=' ? '>' : '<';
  if (signed) return `${DH} ${strict} ${num(kh)} || (${DH} === ${num(kh)} && (${D} >>> 0) ${rel} ${ku})`;
  if (kh === 0) {
    // High word of the immediate is 0: any non-zero high word is above it.
    return strict === '>' ? `${DH} !== 0 || (${D} >>> 0) ${rel} ${ku}` : `${DH} === 0 && (${D} >>> 0) ${rel} ${ku}`;
  }
  // High word of the immediate is 0xffffffff: any other high word is below it.
  return strict === '>' ? `${DH} === -1 && (${D} >>> 0) ${rel} ${ku}` : `${DH} !== -1 || (${D} >>> 0) ${rel} ${ku}`;
}

function cmpX(rel: '>' | '>=' | '<' | '<=', signed: boolean, D: string, DH: string, S: string, SH: string): string {
  const strict = rel === '>' || rel === '>=' ? '>' : '<';
  const a = signed ? DH : `(${DH} >>> 0)`;
  const b = signed ? SH : `(${SH} >>> 0)`;
  return `${a} ${strict} ${b} || (${DH} === ${SH} && (${D} >>> 0) ${rel} (${S} >>> 0))`;
}

const READ: Record<string, (dv: string, a: string, D: string, DH: string) => string> = {
  '1u': (dv, a, D, DH) => `${D} = ${dv}.getUint8(${a}); ${DH} = 0;`,
  '2u': (dv, a, D, DH) => `${D} = ${dv}.getUint16(${a}, true); ${DH} = 0;`,
  '4u': (dv, a, D, DH) => `${D} = ${dv}.getInt32(${a}, true); ${DH} = 0;`,
  '8u': (dv, a, D, DH) => `${D} = ${dv}.getInt32(${a}, true); ${DH} = ${dv}.getInt32(${a} + 4, true);`,
  '1s': (dv, a, D, DH) => `${D} = ${dv}.getInt8(${a}); ${DH} = ${D} >> 31;`,
  '2s': (dv, a, D, DH) => `${D} = ${dv}.getInt16(${a}, true); ${DH} = ${D} >> 31;`,
  '4s': (dv, a, D, DH) => `${D} = ${dv}.getInt32(${a}, true); ${DH} = ${D} >> 31;`,
};

function load(pc: number, d: number, s: number, off: number, size: number, signed: boolean, fpClean: boolean): string {
  const D = lo(d);
  const DH = hi(d);
  const read = READ[`${size}${signed ? 's' : 'u'}`]!;
  const fa = MAX_BPF_STACK + off;
  if (fpClean && s === 10 && fa >= 0 && fa + size <= MAX_BPF_STACK) return `/* stack */ ${read('SD', String(fa), D, DH)}`;
  const S = lo(s);
  const SH = hi(s);
  return (
    `{ const a = (${S} >>> 0) + ${num(off)}, g = RG[(${SH} >>> 0) - ${REGION_HI_BASE}]; ` +
    `if (g === undefined || g === null || g.load !== null || a < 0 || a + ${size} > g.bytes.length) { L[${s}] = ${S}; H[${s}] = ${SH}; vm.loadSlow(${pc}, ${d}, ${s}, ${off}, ${size}, ${signed}); ${D} = L[${d}]; ${DH} = H[${d}]; } ` +
    `else { ${read('g.dv', 'a', D, DH)} } }`
  );
}

function store(pc: number, d: number, off: number, size: number, vlo: string, vhi: string, fpClean: boolean): string {
  const write = (dv: string, a: string): string =>
    size === 1
      ? `${dv}.setInt8(${a}, ${vlo});`
      : size === 2
        ? `${dv}.setInt16(${a}, ${vlo}, true);`
        : size === 4
          ? `${dv}.setInt32(${a}, ${vlo}, true);`
          : `${dv}.setInt32(${a}, ${vlo}, true); ${dv}.setInt32(${a} + 4, ${vhi}, true);`;
  const fa = MAX_BPF_STACK + off;
  if (fpClean && d === 10 && fa >= 0 && fa + size <= MAX_BPF_STACK) return `/* stack */ ${write('SD', String(fa))}`;
  const D = lo(d);
  const DH = hi(d);
  return (
    `{ const a = (${D} >>> 0) + ${num(off)}, g = RG[(${DH} >>> 0) - ${REGION_HI_BASE}]; ` +
    `if (g === undefined || g === null || g.store !== null || !g.writable || a < 0 || a + ${size} > g.bytes.length) { L[${d}] = ${D}; H[${d}] = ${DH}; vm.storeSlow(${pc}, ${d}, ${off}, ${size}, ${vlo}, ${vhi}); } ` +
    `else { ${write('g.dv', 'a')} } }`
  );
}

// ---------------------------------------------------------------------------------------------------------
// Compilation and the run loop

type ChunkFn = (vm: VmInternals, pc: number, baseDepth: number) => number;
type Factory = (rt: unknown) => ChunkFn;

/** Compiles `prog` (once; the result is kept on the BoundProgram). Returns null when it cannot be compiled. */
export function compileJs(prog: BoundProgram): JsProgram | null {
  if (prog.js !== null) return prog.js === false ? null : prog.js;
  try {
    const gen = generate(prog);
    const chunks = gen.sources.map((source, ci) => {
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      const factory = new Function('rt', source) as Factory;
      return factory({ mulhi, bswap32, div32, stackOk, BpfExecutionError, FELL_OFF, PROG: prog, EXE: prog.exe, BI: gen.blockIndex[ci] });
    });
    prog.js = { chunks, warm: false, chunkOf: gen.chunkOf, source: gen.sources.join('\n'), blocks: gen.blocks };
    return prog.js;
  } catch {
    prog.js = false;
    return null;
  }
}

/** The generated JavaScript for `prog` (every chunk), for debugging. */
export function jsSource(prog: BoundProgram, chunkChars = jsTierConfig.chunkChars): string {
  return generate(prog, chunkChars).sources.join('\n');
}

/**
 * Calls every chunk a few times with pc -1 (prologue and epilogue only), so that V8 has type feedback for
 * them before it optimises the function. Otherwise the first real call, which may loop for a long time inside,
 * gets the function optimised without feedback for its prologue; the next call then deoptimises, and the
 * re-optimised (on-stack-replacement) code was measured 1.7x slower on the CRC-32 benchmark, in about
 * half the runs.
 */
const WARM_UP_CALLS = 128; // V8 allocates feedback vectors lazily; 32 calls were not enough, 64 were

function warmUp(v: VmInternals, js: JsProgram): void {
  js.warm = true;
  const prog = v.prog;
  for (const c of js.chunks) for (let k = 0; k < WARM_UP_CALLS; k++) c(v, -1, 0);
  v.prog = prog;
}

/**
 * Runs `prog` from `pc` until the frame at `baseDepth` exits, on the JavaScript tier, following control across
 * chunks and into other programs (tail calls, returns into a tail-calling frame). A program that is not
 * compiled yet is compiled when the VM's tier is 'js' and interpreted otherwise.
 */
export function runJs(vm: Vm, prog: BoundProgram, pc: number, baseDepth: number): void {
  const v = vm as unknown as VmInternals;
  for (;;) {
    const js = prog.js === null && vm.tier === 'js' ? compileJs(prog) : prog.js || null;
    if (js === null || pc >= js.chunkOf.length) {
      v.loop(prog, pc, baseDepth);
      return;
    }
    if (!js.warm) warmUp(v, js);
    const r = js.chunks[js.chunkOf[pc]!]!(v, pc, baseDepth);
    if (r === 0) return;
    prog = v.prog!;
    pc = r - 1;
  }
}
