// Every fixture program, as bpfvm's loader relocates and links it, loaded into the host kernel with maps
// created from bpfvm's MapSpecs: the kernel must accept exactly the programs the fixtures say it accepts,
// reject the others with the recorded message, and create every map bpfvm describes. This checks, against
// the kernel, the program types, attach types, map definitions, relocations and subprogram linking.
// Skipped with the reason where bpf() is not permitted.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import type { MapSpec } from '../../src/spec.js';
import { needsObjectBtf } from './helpers.js';
import { kernelAvailability, kernelRunBatch, type KernelMapDef, type KernelProgRequest } from '../kernel/oracle.js';

const root = join(import.meta.dirname, '..', '..');
const avail = kernelAvailability();

interface Expectation {
  type: string;
  verdict: 'accept' | 'reject';
  message: string | null;
}
const expectations = JSON.parse(readFileSync(join(root, 'fixtures', 'expectations.json'), 'utf8')) as Record<string, Record<string, Expectation>>;

function mapDef(m: MapSpec): KernelMapDef {
  const def: KernelMapDef = { type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags & ~0x80 /* BPF_F_RDONLY_PROG is for frozen data; keep it writable here */ };
  if (m.data) def.entries = [{ key: new Uint8Array(4), value: m.data }];
  return def;
}

describe.skipIf(!avail.ok)(`fixtures load in the host kernel as bpfvm describes them${avail.ok ? '' : ` — skipped: ${avail.reason}`}`, () => {
  for (const cpu of ['v3', 'v4']) {
    it(`${cpu}: verdicts and final messages equal the recorded kernel ones`, () => {
      const dir = join(root, 'fixtures', cpu);
      const reqs: KernelProgRequest[] = [];
      const names: { obj: string; prog: string; exp: Expectation }[] = [];
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.o')).sort()) {
        const spec = loadCollectionFile(join(dir, f));
        const maps = spec.maps.map(mapDef);
        for (const p of spec.programs) {
          if (needsObjectBtf(spec, p)) continue; // raw loads cannot give the BTF it needs (callbacks-kernel.test.ts)
          const exp = expectations[f]?.[p.name];
          if (!exp) throw new Error(`fixtures/expectations.json has no entry for ${f}:${p.name}`);
          const req: KernelProgRequest = { progType: p.type, insns: p.insns, license: spec.license, maps, logLevel: 1 };
          if (p.attachType !== undefined) req.expectedAttachType = p.attachType;
          reqs.push(req);
          names.push({ obj: f, prog: p.name, exp });
        }
      }
      const got: string[] = [];
      const want: string[] = [];
      for (let k = 0; k < reqs.length; k += 40) {
        const res = kernelRunBatch(reqs.slice(k, k + 40));
        res.forEach((r, j) => {
          const n = names[k + j]!;
          const lines = r.log.trim().split('\n');
          // The error is the line before the "processed N insns" footer (or the last line).
          const footer = lines.findIndex((l) => l.startsWith('processed '));
          const last = footer > 0 ? lines[footer - 1]! : lines[lines.length - 1]!;
          const verdict = r.loaded ? 'accept' : r.stage === 'prog_load' ? 'reject' : `failed at ${r.stage}: errno ${r.errno}`;
          got.push(`${n.obj}:${n.prog} ${verdict}${verdict === 'reject' ? ` ${last}` : ''}`);
          want.push(`${n.obj}:${n.prog} ${n.exp.verdict}${n.exp.verdict === 'reject' ? ` ${n.exp.message}` : ''}`);
        });
      }
      expect(got).toEqual(want);
      expect(got.length).toBeGreaterThan(60);
    });
  }
});
