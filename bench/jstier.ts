// The JavaScript tier's benchmarks: the interpreter's four programs (bench/interp.ts) run on the compiled
// tier. Reports ns per instruction and instructions per second (median of batches), like the interpreter's.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assemble } from '../vm/asm.js';
import { Vm } from '../vm/interpreter.js';
import { interpCases, timeCase, type TierResult } from './interp.js';
import { packageRoot } from './lib.js';

export interface JsTierResult extends TierResult {
  /** The interpreter's r0 and instruction count for the same input agree (checked, not timed). */
  matchesInterpreter: boolean;
}

export function runJsTierBench(opts: { quick?: boolean } = {}): JsTierResult[] {
  return interpCases().map((c) => {
    const ref = new Vm({ tier: 'interp' });
    const refMem = ref.space.map('input', 'memory', c.input.slice(), true);
    const expected = ref.run(ref.load(assemble(readFileSync(join(packageRoot(), 'bench', 'programs', c.program), 'utf8')), undefined, c.name), [refMem.address(0), BigInt(c.input.length)]);
    const { r0big, ...r } = timeCase(c, 'js', opts);
    return { ...r, matchesInterpreter: r0big === expected.r0 && r.insnsPerRun === expected.insns };
  });
}

const isMain = process.argv[1] !== undefined && /jstier\.(ts|js)$/.test(process.argv[1]);
if (isMain) {
  for (const r of runJsTierBench({ quick: process.argv.includes('--quick') })) {
    console.log(`js     ${r.name.padEnd(16)} ${String(r.insnsPerRun).padStart(7)} insns/run  ${(r.nsPerRun / 1000).toFixed(1).padStart(8)} us/run  ${r.nsPerInsn.toFixed(2).padStart(6)} ns/insn  ${r.matchesInterpreter ? '' : 'MISMATCH'}`);
  }
}
