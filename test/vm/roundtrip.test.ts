// Disassembler/assembler round trip, exact kernel syntax, and comparison with the text the real kernel's
// verifier prints for the same instructions (kernel/bpf/disasm.c print_bpf_insn, via log level 2).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assemble, assembleInsns } from '../../vm/asm.js';
import { disassemble, formatInsn, formatLine } from '../../vm/disasm.js';
import { decode, encode, renumber } from '../../vm/isa.js';
import { prepare } from '../../vm/program.js';
import { kernelAvailability, kernelRunBatch } from '../kernel/oracle.js';
import { arbAnyProgram, arbKernelSpec, arbKernelTextProgram, buildKernelProgram, type KernelGenOptions } from './gen.js';
import { propertySeed } from '../fc-seed.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('random programs survive disassemble → assemble byte for byte', () => {
  it('every instruction form (valid per prepare), with and without the `N: (op)` prefix', () => {
    fc.assert(
      fc.property(arbAnyProgram(), (p) => {
        prepare(p.code); // the generator only makes valid programs
        const lines = p.insns.map((i) => formatLine(i));
        expect(disassemble(p.code)).toEqual(lines);
        expect(hex(assemble(lines.join('\n')))).toBe(hex(p.code));
        expect(hex(assemble(p.insns.map((i) => formatInsn(i)).join('\n')))).toBe(hex(p.code));
        // A different layout: extra blanks, comments, CRLF line ends.
        const messy = lines.map((l, k) => (k % 2 ? `  ${l}   ; state ${k}` : `${l} // c`)).join('\r\n');
        expect(hex(assemble(messy))).toBe(hex(p.code));
      }),
      { numRuns: 2500, seed: propertySeed(0x5eed1) },
    );
  });

  it('kernel-verifiable programs (with calls, LD_ABS/LD_IND, may_goto)', () => {
    const opts: KernelGenOptions = { calls: true, ldAbs: true, mayGoto: true };
    fc.assert(
      fc.property(arbKernelSpec(opts), (spec) => {
        const p = buildKernelProgram(spec, opts);
        prepare(p.code);
        expect(hex(assemble(disassemble(p.code).join('\n')))).toBe(hex(p.code));
      }),
      { numRuns: 300, seed: propertySeed(0x5eed2) },
    );
  });
});

/** Exact kernel text, and what it must assemble to: [text, opcode, dst, src, off, imm, imm64hi?]. */
const SYNTAX: [string, number, number, number, number, number, number?][] = [
  ['r1 = *(u32 *)(r2 +8)', 0x61, 1, 2, 8, 0],
  ['if w1 s< w2 goto pc-2', 0xce, 1, 2, -2, 0],
  ['call bpf_msg_pull_data#63', 0x85, 0, 0, 0, 63],
  ['lock *(u64 *)(r1 +0) += r2', 0xdb, 1, 2, 0, 0x00],
  ['lock *(u32 *)(r10 -4) ^= r3', 0xc3, 10, 3, -4, 0xa0],
  ['r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)', 0xdb, 1, 2, 0, 0x01],
  ['r3 = atomic_fetch_or((u32 *)(r1 -8), r3)', 0xc3, 1, 3, -8, 0x41],
  ['r4 = atomic64_xchg((u64 *)(r1 +16), r4)', 0xdb, 1, 4, 16, 0xe1],
  ['r0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r2)', 0xc3, 1, 2, 0, 0xf1],
  ['r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r5)', 0xdb, 10, 5, -8, 0xf1],
  ['r1 = (s8)r2', 0xbf, 1, 2, 8, 0],
  ['r1 = (s32)r2', 0xbf, 1, 2, 32, 0],
  ['w1 = (s16)w2', 0xbc, 1, 2, 16, 0],
  ['r1 s/= r2', 0x3f, 1, 2, 1, 0],
  ['w1 s%= -1', 0x94, 1, 0, 1, -1],
  ['r1 /= 3', 0x37, 1, 0, 0, 3],
  ['r1 = be16 r1', 0xdc, 1, 0, 0, 16],
  ['r3 = le64 r3', 0xd4, 3, 0, 0, 64],
  ['r1 = bswap64 r1', 0xd7, 1, 0, 0, 64],
  ['r1 = -r1', 0x87, 1, 0, 0, 0],
  ['w2 = -w2', 0x84, 2, 0, 0, 0],
  ['r1 = *(s8 *)(r2 -1)', 0x91, 1, 2, -1, 0],
  ['r1 = *(s32 *)(r10 -512)', 0x81, 1, 10, -512, 0],
  ['*(u8 *)(r10 -1) = -1', 0x72, 10, 0, -1, -1],
  ['*(u16 *)(r1 +2) = r7', 0x6b, 1, 7, 2, 0],
  ['gotol pc+5', 0x06, 0, 0, 0, 5],
  ['goto pc-1', 0x05, 0, 0, -1, 0],
  ['may_goto pc+1', 0xe5, 0, 0, 1, 0],
  ['call pc+3', 0x85, 0, 1, 0, 3],
  ['call unknown#999', 0x85, 0, 0, 0, 999],
  ['exit', 0x95, 0, 0, 0, 0],
  ['r0 = *(u16 *)skb[12]', 0x28, 0, 0, 0, 12],
  ['r0 = *(u8 *)skb[r3 + 2]', 0x50, 0, 3, 0, 2],
  ['r0 = *(u32 *)skb[r3 + -2]', 0x40, 0, 3, 0, -2],
  ['r1 = 0x100000000', 0x18, 1, 0, 0, 0, 1],
  ['r1 = 0xffffffffffffffff', 0x18, 1, 0, 0, -1, -1],
  ['r1 = -5', 0xb7, 1, 0, 0, -5],
  ['w1 = -1', 0xb4, 1, 0, 0, -1],
  ['if r1 > 0xffffffff goto pc+1', 0x25, 1, 0, 1, -1],
  ['if w3 & 0x80000000 goto pc+0', 0x46, 3, 0, 0, -0x80000000],
  ['if r1 s>= r9 goto pc-32768', 0x7d, 1, 9, -32768, 0],
  ['r1 s>>= 63', 0xc7, 1, 0, 0, 63],
  ['w1 s>>= w2', 0xcc, 1, 2, 0, 0],
];

describe('exact kernel syntax', () => {
  it.each(SYNTAX)('%s', (text, op, dst, src, off, imm, hi) => {
    const [i] = assembleInsns(text);
    expect(i).toBeDefined();
    expect({ op: i!.op, dst: i!.dst, src: i!.src, off: i!.off, imm: i!.imm }).toEqual({ op, dst, src, off, imm });
    if (hi !== undefined) expect(i!.imm64hi).toBe(hi);
    expect(formatInsn(i!)).toBe(text);
    expect(formatLine(i!)).toBe(`0: (${op.toString(16).padStart(2, '0')}) ${text}`);
  });

  it('insists on r0 as the comparand of cmpxchg and only there', () => {
    expect(() => assemble('r0 = atomic_cmpxchg((u32 *)(r1 +0), r2)')).toThrow(/cmpxchg/);
    expect(() => assemble('r2 = atomic_fetch_add((u32 *)(r1 +0), r0, r2)')).toThrow(/comparand/);
  });

  it('accepts the verifier-log line form, and checks the (op) prefix', () => {
    expect(hex(assemble('12: (61) r1 = *(u32 *)(r2 +8)            ; R1_w=scalar()'))).toBe('6121080000000000');
    expect(() => assemble('0: (62) r1 = *(u32 *)(r2 +8)')).toThrow(/opcode prefix/);
  });
});

// ---- the real kernel's text ---------------------------------------------------------------------------

const avail = kernelAvailability();
const skipReason = avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`;

/**
 * Instruction text per pc from a level-2 verifier log: both the "Live regs before insn" table
 * (`   12: .1.......9 (61) r1 = ...`, or `  1   12: ...` inside a loop) and the per-step lines (`12: (61) r1 = ...   ; R1=...`).
 */
function kernelTexts(log: string): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  for (const line of log.split('\n')) {
    // In the table, instructions inside a loop (an SCC) are preceded by the SCC's number.
    const m = /^\s*(?:\d+\s+)?(\d+): (?:[.0-9]{10} )?\(([0-9a-f]{2})\) (.*)$/.exec(line);
    if (!m) continue;
    const text = m[3]!.replace(/\s+;.*$/, '').trimEnd();
    const pc = Number(m[1]);
    const set = out.get(pc) ?? new Set<string>();
    set.add(`(${m[2]}) ${text}`);
    out.set(pc, set);
  }
  return out;
}

const LIVE_TABLE = 'Live regs before insn:';

/** Differences between bpfvm's text and the kernel's for each instruction of `code`. */
function textDiffs(code: Uint8Array, log: string): string[] {
  const k = kernelTexts(log);
  // Kernels before 6.15 have no live-registers table and print only the instructions they walk.
  const everyInsn = log.includes(LIVE_TABLE);
  const diffs: string[] = [];
  for (const i of decode(code)) {
    const mine = `(${i.op.toString(16).padStart(2, '0')}) ${formatInsn(i)}`;
    const theirs = k.get(i.pc);
    if (theirs === undefined) {
      if (everyInsn) diffs.push(`pc ${i.pc}: not in the kernel log (bpfvm: ${mine})`);
    } else {
      for (const t of theirs) if (t !== mine) diffs.push(`pc ${i.pc}: kernel "${t}" bpfvm "${mine}"`);
    }
  }
  return diffs;
}

describe.skipIf(!avail.ok)(`disassembly matches the kernel verifier's text${skipReason}`, () => {
  it('hand-written program with every syntax form the kernel accepts here', () => {
    const src = `
      r6 = r1
      r1 = 0x100000000
      r2 = 5
      w3 = (s8)w2
      w3 = (s16)w2
      r4 = (s32)r1
      r4 = (s16)r4
      r4 = bswap64 r4
      r4 = bswap16 r4
      r4 = be32 r4
      r4 = le16 r4
      r4 = -r4
      w4 = -w4
      r5 = 7
      *(u64 *)(r10 -8) = r5
      *(u32 *)(r10 -16) = -3
      *(u16 *)(r10 -12) = r2
      *(u64 *)(r10 -24) = 0
      r8 = *(s8 *)(r10 -8)
      r8 = *(s16 *)(r10 -16)
      r8 = *(s32 *)(r10 -16)
      r8 = *(u64 *)(r10 -8)
      lock *(u64 *)(r10 -8) += r2
      lock *(u32 *)(r10 -16) |= r2
      r2 = atomic64_fetch_add((u64 *)(r10 -8), r2)
      r2 = atomic_fetch_xor((u32 *)(r10 -16), r2)
      r2 = atomic64_xchg((u64 *)(r10 -24), r2)
      r0 = 0
      r0 = atomic_cmpxchg((u32 *)(r10 -8), r0, r2)
      r0 = atomic64_cmpxchg((u64 *)(r10 -24), r0, r2)
      r1 s/= r2
      w1 s%= -1
      r1 %= r2
      w1 /= 3
      r1 s>>= 63
      w1 <<= w2
      if w1 s< w2 goto pc+0
      if r1 > 0xffffffff goto pc+1
      if w1 & 0x80000000 goto pc+0
      gotol pc+0
      may_goto pc+1
      r0 = 1
      r7 = r8
      r0 = *(u16 *)skb[12]
      r0 = *(u8 *)skb[r7 + 2]
      r0 = *(u32 *)skb[r7 + -2]
      call bpf_get_prandom_u32#7
      r0 = -3
      w0 = -1
      exit
    `;
    const code = assemble(src);
    const [res] = kernelRunBatch([{ progType: 1, insns: code, logLevel: 2 }]);
    expect(res!.loaded, res!.log.slice(-2000)).toBe(true);
    expect(textDiffs(code, res!.log)).toEqual([]);
  });

  it('a few hundred random kernel-verifiable programs print exactly as the kernel prints them', () => {
    const opts: KernelGenOptions = { calls: true, ldAbs: true, mayGoto: true, maxBody: 24 };
    const specs = fc.sample(arbKernelSpec(opts), { seed: propertySeed(0x7e47), numRuns: 200 });
    const progs = specs.map((s) => buildKernelProgram(s, opts));
    const rejected: string[] = [];
    const diffs: string[] = [];
    let compared = 0;
    for (let b = 0; b < progs.length; b += 50) {
      const batch = progs.slice(b, b + 50);
      const res = kernelRunBatch(batch.map((p) => ({ progType: 1, insns: p.code, logLevel: 2, logSize: 4 << 20 })));
      res.forEach((r, k) => {
        const p = batch[k]!;
        if (!r.loaded) {
          rejected.push(`program ${b + k}: errno ${r.errno}: ${r.log.trim().split('\n').slice(-3).join(' | ')}`);
          return;
        }
        compared += p.insns.length;
        for (const d of textDiffs(p.code, r.log)) diffs.push(`program ${b + k}: ${d}`);
      });
    }
    expect(rejected, rejected.join('\n')).toEqual([]);
    expect(diffs.slice(0, 20), diffs.slice(0, 20).join('\n')).toEqual([]);
    expect(compared).toBeGreaterThan(5000);
  });
});

describe.skipIf(!avail.ok)(`disassembly of every instruction form matches the kernel's${skipReason}`, () => {
  it('random programs of (nearly) every form, read by the verifier up to its live-registers table', (ctx) => {
    // Most of these programs are rejected by do_check (uninitialised registers, bad pointers, loops), but the
    // verifier prints every instruction in its "Live regs before insn" table before it gets there.
    const progs = fc.sample(arbKernelTextProgram(40), { seed: propertySeed(0x7e48), numRuns: 300 });
    const diffs: string[] = [];
    let compared = 0;
    for (let b = 0; b < progs.length; b += 100) {
      const batch = progs.slice(b, b + 100);
      const res = kernelRunBatch(batch.map((p) => ({ progType: 1, insns: p.code, logLevel: 2 })));
      if (!res[0]!.log.includes(LIVE_TABLE)) ctx.skip('this kernel prints no live-registers table (Linux < 6.15)');
      res.forEach((r, k) => {
        compared += batch[k]!.insns.length;
        for (const d of textDiffs(batch[k]!.code, r.log)) diffs.push(`program ${b + k}: ${d}`);
      });
    }
    expect(diffs.slice(0, 20), diffs.slice(0, 20).join('\n')).toEqual([]);
    expect(compared).toBeGreaterThan(4000);
  });

  it('every helper name (ids 0..211, and unknown ids) is printed as the kernel prints it', (ctx) => {
    const code = assemble([...Array.from({ length: 215 }, (_, i) => `call ${i}`), 'call 100000', 'call -1', 'r0 = 0', 'exit'].join('\n'));
    const [res] = kernelRunBatch([{ progType: 1, insns: code, logLevel: 2 }]);
    if (!res!.log.includes(LIVE_TABLE)) ctx.skip('this kernel prints no live-registers table (Linux < 6.15)');
    expect(res!.log).toContain('call bpf_cgrp_storage_delete#211');
    expect(textDiffs(code, res!.log)).toEqual([]);
  });
});

describe('encode/renumber sanity used by the generators', () => {
  it('renumber counts lddw as two slots', () => {
    const insns = renumber(assembleInsns('r1 = 0x1\nr2 = 2\nexit'));
    expect(insns.map((i) => i.pc)).toEqual([0, 2, 3]);
    expect(encode(insns).length).toBe(32);
  });
});
