// Soundness: a program the verifier accepts never faults in the interpreter. Generated XDP and SCHED_CLS
// packet programs (pktgen.ts, without packet-changing helpers, which the test run does not model) are
// verified; each accepted one runs on twelve random packets (14..120 bytes, random contents) through
// BPF_PROG_TEST_RUN's model (src/kernel/testrun.ts); any memory fault or execution error fails the test.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ProgramSpec } from '../../src/spec.js';
import { testRun } from '../../src/kernel/testrun.js';
import { assemble } from '../../vm/asm.js';
import { verify } from '../../verifier/index.js';
import { ARRAY_MAP, SCHED_CLS, XDP, arbPktProgram } from './pktgen.js';
import { propertySeed } from '../fc-seed.js';

const mapSpec = { ...ARRAY_MAP, typeName: 'array', flags: 0, section: '.maps' };

function progSpec(type: number, insns: Uint8Array): ProgramSpec {
  return {
    name: 'fuzz', section: type === XDP ? 'xdp' : 'tc', type, typeName: type === XDP ? 'xdp' : 'sched_cls', insns, license: 'GPL',
    funcInfo: [], lineInfo: [], annotations: [],
  };
}

/**
 * Whether BPF_PROG_TEST_RUN runs the program on this packet at all: for skb programs it refuses (EINVAL,
 * checked on Linux 6.18) an IPv4 packet shorter than its 20-byte IP header or an IPv6 packet shorter than 40.
 * Such packets are not runs of the program, so the property does not generate them.
 */
function testRunAccepts(pkt: Uint8Array): boolean {
  const etherType = (pkt[12]! << 8) | pkt[13]!;
  return !(etherType === 0x0800 && pkt.length < 14 + 20) && !(etherType === 0x86dd && pkt.length < 14 + 40);
}
const arbPacket = fc.uint8Array({ minLength: 14, maxLength: 120 }).filter(testRunAccepts);

describe('verifier soundness: accepted programs never fault in the interpreter', () => {
  it('random XDP / tc packet programs on random packets', { timeout: 300_000 }, () => {
    let accepted = 0;
    let runs = 0;
    fc.assert(
      fc.property(
        arbPktProgram({ pktChangingHelpers: false, types: [XDP, SCHED_CLS] }),
        fc.array(arbPacket, { minLength: 12, maxLength: 12 }),
        (p, packets) => {
          const insns = assemble(p.text);
          const v = verify({ insns, type: p.type }, { logLevel: 0, maps: p.usesMap ? [mapSpec] : [] });
          if (!v.ok) return;
          accepted++;
          const spec = progSpec(p.type, insns);
          for (const pkt of packets) {
            runs++;
            const collection = { license: 'GPL', programs: [spec], maps: p.usesMap ? [mapSpec] : [] };
            testRun(spec, pkt, { collection });
          }
        },
      ),
      { numRuns: 3600, seed: propertySeed(424242) },
    );
    console.log(`soundness: ${accepted} accepted programs, ${runs} runs without a fault`);
    expect(accepted).toBeGreaterThan(300);
    // The issue asks for at least 10,000 interpreter runs of accepted programs per CI run. About 30% of the
    // generated programs are accepted (σ ≈ 1% over seeds); 3600 programs give ~12,800 runs, 8σ above the floor.
    expect(runs).toBeGreaterThanOrEqual(10_000);
  });

  it('regressions found by earlier runs', () => {
    // BPFVM_FC_SEED=110: a tc program accepted by the verifier got a random 23-byte packet whose EtherType
    // is IPv4; the test run refuses it before the program runs (kernel: EINVAL), which the property took for
    // a fault. The packet generator now leaves such packets out.
    const pkt = new Uint8Array(23);
    pkt[12] = 0x08;
    expect(testRunAccepts(pkt)).toBe(false);
    const insns = assemble('r0 = 0\nexit');
    expect(() => testRun(progSpec(SCHED_CLS, insns), pkt, { collection: { license: 'GPL', programs: [progSpec(SCHED_CLS, insns)], maps: [] } }))
      .toThrow(/EINVAL: an IPv4 packet needs 20 bytes of IP header/);
    expect(testRunAccepts(new Uint8Array(34).fill(8, 12, 13))).toBe(true);
  });
});
