// Soundness of the bounds logic beyond packet programs: generated scalar programs (scalargen.ts) use a computed
// register as a stack offset. Every program the verifier accepts runs in the interpreter on random packets and
// must never fault (a fault means the verifier's bounds did not contain a value the program really computed).
// The same programs go through the host kernel: verdicts and final messages must agree.

import { describe, expect, it } from 'vitest';
import type { ProgramSpec } from '../../src/spec.js';
import { testRun } from '../../src/kernel/testrun.js';
import { assemble } from '../../vm/asm.js';
import { verify } from '../../verifier/index.js';
import { kernelAvailability, kernelRunBatch } from '../kernel/oracle.js';
import { TC, genScalarProgram, rng } from './scalargen.js';
import { TEST_SEED, seedNote } from './seed.js';

const base = process.env.BPFVM_TEST_SEED !== undefined ? TEST_SEED : 0x5ca1a000;
const count = Number(process.env.BPFVM_SCALAR_SOUND_PROGRAMS ?? 400);
const seeds = Array.from({ length: count }, (_, i) => base + i);
const programs = seeds.map((s) => ({ seed: s, text: genScalarProgram(s) }));

const finalLine = (log: string): string | null => {
  const lines = log.trimEnd().split('\n');
  return lines.length >= 2 ? lines[lines.length - 2]! : null;
};

function spec(insns: Uint8Array): ProgramSpec {
  return { name: 'scalar', section: 'tc', type: TC, typeName: 'sched_cls', insns, license: 'GPL', funcInfo: [], lineInfo: [], annotations: [] };
}

describe('verifier soundness: computed stack offsets', () => {
  it(`accepted scalar programs never fault on random packets (${count} programs, seeds ${base}..)`, { timeout: 300_000 }, () => {
    let accepted = 0;
    let runs = 0;
    const faults: string[] = [];
    for (const p of programs) {
      const insns = assemble(p.text);
      const v = verify({ insns, type: TC }, { logLevel: 0 });
      if (!v.ok) continue;
      accepted++;
      const s = spec(insns);
      const R = rng(p.seed ^ 0x9e3779b9);
      for (let k = 0; k < 12; k++) {
        const pkt = new Uint8Array(14 + Math.floor(R() * 600)).map(() => Math.floor(R() * 256));
        runs++;
        try {
          testRun(s, pkt, { collection: { license: 'GPL', programs: [s], maps: [] } });
        } catch (e) {
          faults.push(`seed ${p.seed}: ${(e as Error).message}\n${p.text}`);
          break;
        }
      }
    }
    console.log(`scalar soundness: ${accepted}/${count} programs accepted, ${runs} runs, ${faults.length} faults`);
    expect(accepted).toBeGreaterThan(count * 0.15);
    expect(faults, seedNote).toEqual([]);
  });
});

const avail = kernelAvailability();
describe.skipIf(!avail.ok)(`computed stack offsets vs the host kernel${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, () => {
  it(`verdicts and final messages agree (${count} programs)`, { timeout: 300_000 }, () => {
    const diffs: string[] = [];
    let agree = 0;
    for (let b = 0; b < programs.length; b += 100) {
      const batch = programs.slice(b, b + 100);
      const res = kernelRunBatch(batch.map((p) => ({ progType: TC, insns: assemble(p.text), logLevel: 1 })));
      batch.forEach((p, i) => {
        const m = verify({ insns: assemble(p.text), type: TC }, { logLevel: 1 });
        const k = res[i]!;
        const kl = k.loaded ? null : finalLine(k.log);
        const ml = m.ok ? null : finalLine(m.log);
        if (k.loaded === m.ok && kl === ml) agree++;
        else diffs.push(`seed ${p.seed}: kernel ${k.loaded} ${kl} | bpfvm ${m.ok} ${ml}\n${p.text}`);
      });
    }
    console.log(`computed stack offsets vs kernel: agreement ${agree}/${programs.length}`);
    expect(diffs, seedNote).toEqual([]);
  });
});
