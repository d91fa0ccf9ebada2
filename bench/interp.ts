// The interpreter benchmarks: FNV-1a-64 over 1500 bytes, CRC-32, a branchy parser and a short verdict
// program. Reports ns per instruction and instructions per second (median of batches).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assemble } from '../vm/asm.js';
import { Vm } from '../vm/interpreter.js';
import { measure, packageRoot, testBytes, testText } from './lib.js';

export interface InterpCase {
  name: string;
  program: string;
  input: Uint8Array;
}

export function interpCases(): InterpCase[] {
  const verdictInput = new Uint8Array(64);
  verdictInput.set([0x46, 0x50, 0x42, 0x31, 0x01, 0x00, 0x00, 0x20]);
  return [
    { name: 'fnv1a64-1500B', program: 'fnv1a64.s', input: testBytes(1500) },
    { name: 'crc32-256B', program: 'crc32.s', input: testBytes(256) },
    { name: 'parser-1500B', program: 'parser.s', input: testText(1500) },
    { name: 'verdict-64B', program: 'verdict.s', input: verdictInput },
  ];
}

export interface TierResult {
  name: string;
  tier: 'interp' | 'js';
  r0: string;
  insnsPerRun: number;
  nsPerRun: number;
  nsPerInsn: number;
  insnsPerSec: number;
}
export type InterpResult = TierResult;

/** Times one benchmark program on one tier; r1/r2 (input address and length) are re-set before each run. */
export function timeCase(c: InterpCase, tier: 'interp' | 'js', opts: { quick?: boolean } = {}): TierResult & { r0big: bigint } {
  const code = assemble(readFileSync(join(packageRoot(), 'bench', 'programs', c.program), 'utf8'));
  const vm = new Vm({ tier }); // a fixed tier: 'auto' would switch to the JS tier after a few runs
  const prog = vm.load(code, undefined, c.name);
  const mem = vm.space.map('input', 'memory', c.input.slice(), true);
  const first = vm.run(prog, [mem.address(0), BigInt(c.input.length)]);
  const r1lo = vm.lo[1]!;
  const r1hi = vm.hi[1]!;
  const r2lo = vm.lo[2]!;
  const t = measure(() => {
    // runPrepared skips run()'s BigInt argument conversion.
    vm.lo[1] = r1lo;
    vm.hi[1] = r1hi;
    vm.lo[2] = r2lo;
    vm.hi[2] = 0;
    vm.runPrepared(prog);
  }, opts.quick ? { warmupMs: 50, batchMs: 20, batches: 5 } : {});
  return {
    name: c.name,
    tier,
    r0: '0x' + first.r0.toString(16),
    r0big: first.r0,
    insnsPerRun: first.insns,
    nsPerRun: t.medianNs,
    nsPerInsn: t.medianNs / first.insns,
    insnsPerSec: (first.insns / t.medianNs) * 1e9,
  };
}

export function runInterpBench(opts: { quick?: boolean } = {}): InterpResult[] {
  return interpCases().map((c) => {
    const { r0big: _unused, ...r } = timeCase(c, 'interp', opts);
    void _unused;
    return r;
  });
}
