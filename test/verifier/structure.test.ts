// The verifier's structural passes against the kernel's messages: directed cases, and random malformed
// programs whose first structural error (or its absence) must equal the host kernel's.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import { encode, insn, type Insn } from '../../vm/isa.js';
import { checkStructure } from '../../verifier/structure.js';
import { kernelAvailability, kernelRunBatch } from '../kernel/oracle.js';
import { propertySeed } from '../fc-seed.js';

const msg = (code: Uint8Array): string | null => checkStructure(code).error?.message ?? null;

describe('structural checks (directed, messages as Linux 6.18 prints them)', () => {
  it.each([
    ['unreachable code', assemble('r0 = 0\nexit\nr0 = 1\nexit'), 'unreachable insn 2'],
    ['falling off the end', assemble('r0 = 0\nif r0 == 0 goto pc+1\nexit\nr0 = 1'), 'last insn is not an exit or jmp'],
    ['a jump out of the program', encode([insn(0xb7), insn(0x05, 0, 0, 5), insn(0x95)]), 'jump out of range from insn 1 to 7'],
    ['a jump into an lddw', encode([insn(0xb7), insn(0x15, 0, 0, 1), insn(0x18, 1, 0, 0, 1, 0), insn(0x95)]), 'jump into the middle of ldimm64 insn 2'],
    ['a call outside the program', encode([insn(0xb7), insn(0x85, 0, 1, 0, 10), insn(0x95)]), 'call to invalid destination'],
    ['an unknown opcode', encode([insn(0xb7), insn(0xff), insn(0x95)]), 'unknown opcode ff'],
    ['NEG with a register source', encode([insn(0xb7), insn(0x8f), insn(0x95)]), 'unknown opcode 8f'],
    ['an infinite loop made of one goto', assemble('r0 = 0\nloop:\ngoto loop\nexit'), 'unreachable insn 2'],
    ['a jump from the main program into a subprogram', assemble('r0 = 0\ncall f\ngoto pc+1\nexit\nf:\nr0 = 1\ngoto pc-3\nexit'), 'jump out of range from insn 2 to 4'],
    ['LDX with an immediate', encode([insn(0x61, 0, 1, 0, 5), insn(0x95)]), 'BPF_LDX uses reserved fields'],
    ['a map lddw with a second-slot immediate', encode([insn(0x18, 1, 5, 0, 0, 7), insn(0xb7), insn(0x95)]), 'unrecognized bpf_ld_imm64 insn'],
  ])('%s', (_name, code, expected) => {
    expect(msg(code)).toBe(expected);
  });
  it('accepts bounded loops and subprograms (back-edges are allowed with CAP_BPF)', () => {
    expect(msg(assemble('r0 = 0\nloop:\nr0 += 1\nif r0 < 10 goto loop\nexit'))).toBeNull();
    expect(msg(assemble('r0 = 0\ncall f\nexit\nf:\nr0 = 1\nexit'))).toBeNull();
  });
  it('refuses back-edges without CAP_BPF', () => {
    const r = checkStructure(assemble('r0 = 0\nloop:\nr0 += 1\nif r0 < 10 goto loop\nexit'), { bpfCapable: false });
    expect(r.error?.message).toBe('back-edge from insn 2 to 1');
  });
  it('finds subprograms and marks those that change packet data', () => {
    const r = checkStructure(assemble('r0 = 0\ncall f\nexit\nf:\nr1 = 0\nr2 = 0\nr3 = 0\nr4 = 0\ncall bpf_msg_pull_data#63\nr0 = 1\nexit'));
    expect(r.error).toBeNull();
    expect(r.subprogs.map((s) => [s.start, s.end, s.changesPktData])).toEqual([[0, 3, false], [3, 10, true]]);
  });
});

/** A random program that is often structurally broken: random opcodes, jumps and lddw halves. */
const slotArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constantFrom(0xb7, 0x07, 0x0f, 0xbf, 0x61, 0x7b), dst: fc.integer({ min: 0, max: 9 }), src: fc.integer({ min: 0, max: 9 }), off: fc.constant(0), imm: fc.integer({ min: -4, max: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constantFrom(0x15, 0x25, 0x05, 0x06, 0x5d), dst: fc.constant(0), src: fc.constant(0), off: fc.integer({ min: -4, max: 6 }), imm: fc.integer({ min: -3, max: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant(0x95), dst: fc.constant(0), src: fc.constant(0), off: fc.constant(0), imm: fc.constant(0) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant(0x85), dst: fc.constant(0), src: fc.constant(1), off: fc.constant(0), imm: fc.integer({ min: -3, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant(0x18), dst: fc.constant(1), src: fc.constant(0), off: fc.constant(0), imm: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.integer({ min: 0, max: 255 }), dst: fc.constant(0), src: fc.constant(0), off: fc.constant(0), imm: fc.constant(0) }) },
);
const progArb = fc.array(slotArb, { minLength: 1, maxLength: 12 }).map((slots) => {
  const bytes = new Uint8Array(slots.length * 8);
  const dv = new DataView(bytes.buffer);
  slots.forEach((s: Omit<Insn, 'pc'>, k) => {
    dv.setUint8(k * 8, s.op);
    dv.setUint8(k * 8 + 1, (s.src << 4) | s.dst);
    dv.setInt16(k * 8 + 2, s.off, true);
    dv.setInt32(k * 8 + 4, s.imm, true);
  });
  return bytes;
});

const avail = kernelAvailability();
describe.skipIf(!avail.ok)(`structural checks vs the host kernel${avail.ok ? '' : ` — skipped: ${avail.reason}`}`, () => {
  it('the first structural error (or none) equals the kernel\'s on 400 random malformed programs', () => {
    const progs = fc.sample(progArb, { numRuns: 400, seed: propertySeed(20261124) });
    const res = kernelRunBatch(progs.map((insns) => ({ progType: 1, insns, logLevel: 1 })));
    let structural = 0;
    const mismatches: string[] = [];
    res.forEach((r, k) => {
      const lines = r.log.split('\n');
      // A structural error is the whole log before the statistics line; anything else starts with a state line.
      const kernel = !r.loaded && lines.length >= 2 && lines[1]!.startsWith('processed ') ? lines[0]! : null;
      if (kernel !== null) structural++;
      const ours = msg(progs[k]!);
      if (ours !== kernel) mismatches.push(`${Buffer.from(progs[k]!).toString('hex')}: kernel ${JSON.stringify(kernel)} bpfvm ${JSON.stringify(ours)}`);
    });
    expect(mismatches).toEqual([]);
    expect(structural).toBeGreaterThan(100);
  });
});
