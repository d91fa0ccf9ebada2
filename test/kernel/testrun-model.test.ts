// testRun without the kernel: determinism of the virtual clock and PRNG, trace capture, the refusal of
// helpers bpfvm does not provide (or the program type may not call), and memory safety after a helper moved
// the packet.

import { describe, expect, it } from 'vitest';
import type { ProgramSpec } from '../../src/spec.js';
import { BpfTestRunError, testRun } from '../../src/kernel/testrun.js';
import { csumFold, csumPartial } from '../../src/kernel/skb-helpers.js';
import { assemble } from '../../vm/asm.js';

const prog = (type: number, text: string): ProgramSpec =>
  ({ name: 'p', section: 't', type, typeName: String(type), insns: assemble(text), license: 'GPL', funcInfo: [], lineInfo: [], annotations: [] }) as ProgramSpec;

describe('testRun model', () => {
  it('bpf_ktime_get_ns is a virtual clock: 1e9 ns, then +1000 ns per call (configurable)', () => {
    const p = prog(3, 'call bpf_ktime_get_ns#5\nr6 = r0\ncall bpf_ktime_get_ns#5\nr0 -= r6\nexit');
    expect(testRun(p).r0).toBe(1000n);
    const q = prog(3, 'call bpf_ktime_get_ns#5\nexit');
    expect(testRun(q).r0).toBe(1_000_000_000n);
    expect(testRun(q, undefined, { clock: { startNs: 5n } }).r0).toBe(5n);
    expect(testRun(q, undefined, { repeat: 3 }).r0).toBe(1_000_002_000n);
  });

  it('bpf_get_prandom_u32 is deterministic for a seed; bpf_get_smp_processor_id is 0', () => {
    const p = prog(6, 'call bpf_get_prandom_u32#7\nexit');
    const a = testRun(p).retval;
    expect(testRun(p).retval).toBe(a);
    expect(testRun(p, undefined, { seed: 1 }).retval).not.toBe(a);
    expect(testRun(prog(6, 'r0 = 9\ncall bpf_get_smp_processor_id#8\nexit')).retval).toBe(0);
  });

  it('bpf_trace_printk messages are captured', () => {
    const p = prog(3, [
      'r1 = 0x000a7525203d2078 ll', // "x = %u\n"
      '*(u64 *)(r10 -8) = r1', 'r1 = r10', 'r1 += -8', 'r2 = 8', 'r3 = 42', 'call bpf_trace_printk#6', 'exit',
    ].join('\n'));
    const r = testRun(p, undefined, { repeat: 2 });
    expect(r.trace).toEqual(['x = 42', 'x = 42']);
    expect(r.retval).toBe(7);
  });

  it('refuses helpers it does not provide, and helpers the type may not call, before running', () => {
    expect(() => testRun(prog(3, 'call bpf_redirect#23\nexit'))).toThrow(/bpf_redirect#23, which bpfvm's test run does not provide/);
    expect(() => testRun(prog(1, 'r2 = 0\nr3 = 0\ncall bpf_skb_change_tail#38\nexit'))).toThrow(/cannot use helper bpf_skb_change_tail#38/);
  });

  it('errors carry the kernel errno', () => {
    const p = prog(3, 'r0 = 0\nexit');
    const err = (() => {
      try {
        testRun(p, new Uint8Array(10));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BpfTestRunError);
    expect((err as BpfTestRunError).errno).toBe(22);
    expect((err as BpfTestRunError).code).toBe('EINVAL');
    expect(() => testRun(p, new Uint8Array(64), { ctxIn: new Uint8Array(200).fill(1, 199) })).toThrow(/E2BIG/);
  });

  it('a packet pointer kept across bpf_skb_change_tail is checked against the new bounds', () => {
    const p = prog(3, [
      'r6 = r1', 'r7 = *(u32 *)(r1 +76)', 'r2 = 14', 'r3 = 0', 'call bpf_skb_change_tail#38',
      'r0 = *(u8 *)(r7 +40)', 'exit',
    ].join('\n'));
    expect(() => testRun(p, new Uint8Array(64))).toThrow(/outside the region/);
  });

  it('csum_partial follows the x86-64 one\'s-complement rules', () => {
    expect(csumPartial(new Uint8Array(0), 0)).toBe(0);
    expect(csumPartial(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), 1)).toBe(1);
    expect(csumFold(0xffff)).toBe(0);
  });
});
