// Every annotated packet program of the fixture objects (fixtures/v3, fixtures/v4: `comment:test_retval=`), run
// by bpfvm's testRun and by the host kernel's BPF_PROG_TEST_RUN on the default input and on random packets
// (fast-check, fixed seed): retval and data_out must agree byte for byte. Objects with prog arrays are compared
// only by the annotation test (testrun-fixtures.test.ts): the oracle cannot fill a prog array with program fds.
// Skips, with the reason in the suite name, where the kernel oracle is unavailable.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import { BpfTestRunError, testRun } from '../../src/kernel/testrun.js';
import { parseTestAnnotations } from '../../src/selftest/annotations.js';
import type { MapSpec } from '../../src/spec.js';
import { kernelAvailability, kernelRunBatch, type KernelMapDef, type KernelProgRequest } from './oracle.js';

const root = join(import.meta.dirname, '..', '..');
const avail = kernelAvailability();
const BPF_MAP_TYPE_PROG_ARRAY = 3;

function mapDef(m: MapSpec): KernelMapDef {
  const def: KernelMapDef = { type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags & ~0x80 };
  if (m.data) def.entries = [{ key: new Uint8Array(4), value: m.data }];
  return def;
}

/** Random packets: length 14..1500, EtherType IPv4 / IPv6 / VLAN / random, random bytes. */
const arbPacket = fc
  .tuple(fc.integer({ min: 14, max: 1500 }), fc.constantFrom(0x0800, 0x86dd, 0x8100, 0x1234), fc.uint8Array({ minLength: 1500, maxLength: 1500 }))
  .map(([n, et, bytes]) => {
    const p = bytes.slice(0, n);
    p[12] = et >> 8;
    p[13] = et & 0xff;
    return p;
  });

const hex = (b?: Uint8Array): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

describe.skipIf(!avail.ok)(`fixture packet programs: bpfvm test run = kernel test run${avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`}`, () => {
  for (const cpu of ['v3', 'v4']) {
    it(`${cpu}: retval and data_out on the default input and random packets`, () => {
      const dir = join(root, 'fixtures', cpu);
      const packets = [new Uint8Array(64), ...fc.sample(arbPacket, { numRuns: 6, seed: 0xf1c5 })];
      const reqs: KernelProgRequest[] = [];
      const local: { name: string; got: unknown }[] = [];
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.o')).sort()) {
        const spec = loadCollectionFile(join(dir, f));
        if (spec.maps.some((m) => m.type === BPF_MAP_TYPE_PROG_ARRAY)) continue;
        for (const p of spec.programs) {
          // Annotated with a retval (shared parser); a pointer-valued one (POINTER_VALUE) differs by nature.
          const mode = parseTestAnnotations(p, f).priv;
          if (!mode?.execute || mode.retvalAny || mode.expectFailure || ![1, 3, 4, 6, 8].includes(p.type)) continue;
          packets.forEach((pkt, k) => {
            reqs.push({ progType: p.type, insns: p.insns, license: spec.license, maps: spec.maps.map(mapDef), run: { dataIn: pkt } });
            let got: unknown;
            try {
              const r = testRun(p, pkt, { collection: spec });
              got = { errno: 0, retval: r.retval, dataOut: hex(r.dataOut) };
            } catch (e) {
              got = e instanceof BpfTestRunError ? { errno: e.errno } : { error: (e as Error).message };
            }
            local.push({ name: `${f}:${p.name} packet #${k}`, got });
          });
        }
      }
      const mismatches: unknown[] = [];
      for (let i = 0; i < reqs.length; i += 100) {
        kernelRunBatch(reqs.slice(i, i + 100)).forEach((kr, j) => {
          const l = local[i + j]!;
          const want = !kr.loaded ? { loadErrno: kr.errno } : kr.run!.errno !== 0 ? { errno: kr.run!.errno } : { errno: 0, retval: kr.run!.retval, dataOut: hex(kr.run!.dataOut) };
          if (JSON.stringify(want) !== JSON.stringify(l.got)) mismatches.push({ case: l.name, kernel: want, bpfvm: l.got });
        });
      }
      console.log(`${cpu} fixtures: ${reqs.length - mismatches.length}/${reqs.length} runs agree with the kernel`);
      expect(mismatches).toEqual([]);
      expect(reqs.length).toBeGreaterThanOrEqual(50);
    });
  }
});
