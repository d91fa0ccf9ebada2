// Every fixture program (fixtures/v3 and fixtures/v4, maps from the object's MapSpecs) through the verifier:
// the verdict and the final error line must equal fixtures/expectations.json (observed on Linux 6.18), for
// root and, where recorded, for the CAP_BPF + CAP_NET_ADMIN profile (`unpriv_*` fields, privileged: false).

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import { verify } from '../../verifier/index.js';
import { needsObjectBtf } from '../loader/helpers.js';
import { kernelAvailability, kernelRunBatch, type KernelProgRequest } from '../kernel/oracle.js';

const root = join(import.meta.dirname, '..', '..');
const expectations = JSON.parse(readFileSync(join(root, 'fixtures', 'expectations.json'), 'utf8')) as Record<
  string,
  Record<string, { verdict: string; message: string | null; unpriv_verdict?: string; unpriv_message?: string | null }>
>;

const finalLine = (log: string): string | null => {
  const lines = log.trimEnd().split('\n');
  return lines.length >= 2 ? lines[lines.length - 2]! : null;
};

for (const cpu of ['v3', 'v4']) {
  describe(`fixtures/${cpu}: verdicts and final messages equal the 6.18 kernel's`, () => {
    for (const file of readdirSync(join(root, 'fixtures', cpu)).filter((f) => f.endsWith('.o')).sort()) {
      const spec = loadCollectionFile(join(root, 'fixtures', cpu, file));
      for (const prog of spec.programs) {
        const exp = expectations[file]?.[prog.name];
        if (!exp) continue;
        it(`${file} ${prog.name} (root)`, () => {
          const r = verify(prog, { maps: spec.maps, logLevel: 1 });
          expect(r.ok ? 'accept' : 'reject').toBe(exp.verdict);
          if (!r.ok) expect(finalLine(r.log)).toBe(exp.message);
          expect(r.log).toMatch(/processed \d+ insns \(limit 1000000\) max_states_per_insn \d+ total_states \d+ peak_states \d+ mark_read 0\n$/);
        });
        if (exp.unpriv_verdict) {
          it(`${file} ${prog.name} (CAP_BPF + CAP_NET_ADMIN only)`, () => {
            const r = verify(prog, { maps: spec.maps, logLevel: 1, privileged: false });
            expect(r.ok ? 'accept' : 'reject').toBe(exp.unpriv_verdict);
            if (!r.ok) expect(finalLine(r.log)).toBe(exp.unpriv_message);
          });
        }
      }
    }
  });
}

describe('fixtures: a successful level-1 log is only the statistics line', () => {
  it('sk_msg_helpers.o msg_all', () => {
    const spec = loadCollectionFile(join(root, 'fixtures', 'v3', 'sk_msg_helpers.o'));
    const prog = spec.programs.find((p) => p.name === 'msg_all')!;
    const r = verify(prog, { maps: spec.maps, logLevel: 1 });
    expect(r.ok).toBe(true);
    expect(r.log.split('\n').length).toBe(2);
    expect(r.stats.processed).toBeGreaterThan(0);
  });
});

// `processed N insns` against the live kernel: with precision back-tracking (verifier/precision.ts) and stack
// liveness (verifier/stackliveness.ts) bpfvm prunes the states the kernel prunes. Programs known to differ
// (count only; verdicts agree): none.
const KNOWN_COUNT_DIFFS = new Set<string>([]);

const avail = kernelAvailability();
describe.skipIf(!avail.ok)(`fixtures: processed-insn counts against the live kernel${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, () => {
  it('verdicts agree everywhere, counts agree outside the known list', { timeout: 120_000 }, () => {
    const names: string[] = [];
    const ours: number[] = [];
    const oursOk: boolean[] = [];
    const reqs: KernelProgRequest[] = [];
    for (const cpu of ['v3', 'v4']) {
      for (const file of readdirSync(join(root, 'fixtures', cpu)).filter((f) => f.endsWith('.o')).sort()) {
        const spec = loadCollectionFile(join(root, 'fixtures', cpu, file));
        for (const prog of spec.programs) {
          if (needsObjectBtf(spec, prog)) continue; // the raw kernel load cannot give it the BTF it needs
          const r = verify(prog, { maps: spec.maps, logLevel: 1 });
          names.push(`${cpu}/${file}/${prog.name}`);
          ours.push(r.stats.processed);
          oursOk.push(r.ok);
          reqs.push({
            progType: prog.type, ...(prog.attachType !== undefined ? { expectedAttachType: prog.attachType } : {}), insns: prog.insns, logLevel: 1,
            maps: spec.maps.map((m) => ({
              type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags & ~0x80,
              name: m.name.replace(/[^A-Za-z0-9_.]/g, '').slice(0, 15), entries: m.data ? [{ key: new Uint8Array(4), value: m.data }] : [],
            })),
          });
        }
      }
    }
    const res = kernelRunBatch(reqs);
    let same = 0;
    const unexpected: string[] = [];
    res.forEach((k, i) => {
      expect(oursOk[i], names[i]).toBe(k.loaded);
      const kp = Number(/processed (\d+) insns/.exec(k.log)?.[1]);
      if (kp === ours[i]) same++;
      else if (!KNOWN_COUNT_DIFFS.has(names[i]!)) unexpected.push(`${names[i]}: kernel ${kp}, bpfvm ${ours[i]}`);
    });
    console.log(`fixture processed-count agreement: ${same}/${res.length}`);
    expect(unexpected).toEqual([]);
  });
});
