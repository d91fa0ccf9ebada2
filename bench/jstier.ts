// The JavaScript tier's benchmarks: the interpreter's four programs (bench/interp.ts) run on the compiled
// tier. Reports ns per instruction and instructions per second (median of batches), like the interpreter's.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assemble } from '../vm/asm.js';
import { Vm } from '../vm/interpreter.js';
import { interpCases } from './interp.js';
import { measure, packageRoot } from './lib.js';

export interface JsTierResult {
  name: string;
  tier: 'js';
  r0: string;
  insnsPerRun: number;
  nsPerRun: number;
  nsPerInsn: number;
  insnsPerSec: number;
  /** The interpreter's r0 and instruction count for the same run agree (checked, not timed). */
  matchesInterpreter: boolean;
}

export function runJsTierBench(opts: { quick?: boolean } = {}): JsTierResult[] {
  const root = packageRoot();
  const out: JsTierResult[] = [];
  for (const c of interpCases()) {
    const code = assemble(readFileSync(join(root, 'bench', 'programs', c.program), 'utf8'));
    const ref = new Vm({ tier: 'interp' });
    const refMem = ref.space.map('input', 'memory', c.input.slice(), true);
    const expected = ref.run(ref.load(code, undefined, c.name), [refMem.address(0), BigInt(c.input.length)]);

    const vm = new Vm({ tier: 'js' });
    const prog = vm.load(code, undefined, c.name);
    const mem = vm.space.map('input', 'memory', c.input.slice(), true);
    const args = [mem.address(0), BigInt(c.input.length)];
    const first = vm.run(prog, args);
    const r1lo = vm.lo[1]!;
    const r1hi = vm.hi[1]!;
    const r2lo = vm.lo[2]!;
    const t = measure(() => {
      vm.lo[1] = r1lo;
      vm.hi[1] = r1hi;
      vm.lo[2] = r2lo;
      vm.hi[2] = 0;
      vm.runPrepared(prog);
    }, opts.quick ? { warmupMs: 50, batchMs: 20, batches: 5 } : {});
    out.push({
      name: c.name,
      tier: 'js',
      r0: '0x' + first.r0.toString(16),
      insnsPerRun: first.insns,
      nsPerRun: t.medianNs,
      nsPerInsn: t.medianNs / first.insns,
      insnsPerSec: (first.insns / t.medianNs) * 1e9,
      matchesInterpreter: first.r0 === expected.r0 && first.insns === expected.insns,
    });
  }
  return out;
}

const isMain = process.argv[1] !== undefined && /jstier\.(ts|js)$/.test(process.argv[1]);
if (isMain) {
  for (const r of runJsTierBench({ quick: process.argv.includes('--quick') })) {
    console.log(`js     ${r.name.padEnd(16)} ${String(r.insnsPerRun).padStart(7)} insns/run  ${(r.nsPerRun / 1000).toFixed(1).padStart(8)} us/run  ${r.nsPerInsn.toFixed(2).padStart(6)} ns/insn  ${r.matchesInterpreter ? '' : 'MISMATCH'}`);
  }
}
