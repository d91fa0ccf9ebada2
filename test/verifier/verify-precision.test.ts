// Precision back-tracking (verifier/precision.ts) on directed programs: the `processed N insns` count and the
// precision trace (`mark_precise:` lines, `frame N: propagating`, `safe` lines) equal what the Linux 6.18 host
// printed (recorded in precision-cases.ts), and with a kernel at hand the whole level-2 logs are identical.

import { describe, expect, it } from 'vitest';
import type { MapSpec } from '../../src/spec.js';
import { verify } from '../../verifier/index.js';
import { assemble } from '../../vm/asm.js';
import { kernelAvailability, kernelRunBatch, type KernelMapDef } from '../kernel/oracle.js';
import { PRECISION_CASES, type PrecisionCase } from './precision-cases.js';

const mapSpec = (m: KernelMapDef): MapSpec => ({
  name: m.name ?? '', type: m.type, typeName: '', keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags ?? 0, section: '.maps',
});
const run = (c: PrecisionCase) => verify({ insns: assemble(c.asm), type: c.type }, { logLevel: 2, maps: (c.maps ?? []).map(mapSpec) });
/**
 * Map addresses (the kernel's) and `map[idx:N]` (bpfvm's) are not compared, nor 6.18's stack-liveness debug
 * lines (`(0) frame 0 insn 5 +live -8`, `(4,7) frame 0 insn 7 +live -8`, `(0) live stack update done in 2 iterations`), which bpfvm does not print.
 */
const norm = (log: string): string => log.replace(/^\([\d,]+\) .*\n/gm, '').replace(/^(\d+: \(18\) r\d+ = )\S+ *;/gm, '$1MAP ;').replace(/\(18\) (r\d+) = \S+/g, '(18) $1 = MAP')
  .replace(/^verification time \d+ usec\n/m, '').replace(/^stack depth .*\n/m, '');
const precisionTrace = (log: string): string[] =>
  norm(log).split('\n').filter((l) => /^mark_precise: |^frame \d+: propagating |^force_precise: |: safe$/.test(l));

describe('precision back-tracking: directed programs (kernel figures recorded on 6.18)', () => {
  it.each(PRECISION_CASES.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const r = run(c);
    expect(r.ok, r.log).toBe(true);
    expect(precisionTrace(r.log)).toEqual(c.lines);
    expect(r.stats.processed).toBe(c.processed);
  });

  it('a scalar that no later decision reads is not precise, so the second path is pruned at the join', () => {
    const c = PRECISION_CASES.find((x) => x.name === 'imprecise scalars are pruned')!;
    const log = run(c).log;
    expect(log).toContain('\nfrom 4 to 7: ');
    expect(log).toContain('\n8: safe\n');
    expect(log).not.toMatch(/R7=P/);
  });

  it('the checkpoint of a branch-tested scalar shows the P mark after back-tracking', () => {
    const c = PRECISION_CASES.find((x) => x.name === 'a branch on the joined scalar keeps it precise')!;
    expect(run(c).log).toMatch(/parent state regs=r7 stack=: .* R7=P1 /);
  });
});

const avail = kernelAvailability();
describe.skipIf(!avail.ok)(`precision back-tracking against the live kernel${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, () => {
  it('level-2 logs of the directed programs are identical to the kernel\'s', () => {
    const res = kernelRunBatch(PRECISION_CASES.map((c) => ({ progType: c.type, insns: assemble(c.asm), logLevel: 2, maps: c.maps ?? [] })));
    res.forEach((k, i) => {
      const c = PRECISION_CASES[i]!;
      expect(k.loaded, c.name).toBe(true);
      expect(norm(run(c).log), c.name).toBe(norm(k.log));
      expect(precisionTrace(k.log), `${c.name}: the recorded trace is still the kernel's`).toEqual(c.lines);
    });
  });
});
