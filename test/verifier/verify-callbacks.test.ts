// Callbacks and spin-lock regions, directed: our own assembly programs (callback-cases.ts) with the verdict,
// final message, errno and `processed` count Linux 6.18 gave, checked against bpfvm always and against the live
// kernel when bpf() is permitted (level-1 logs compared line by line, map addresses aside). The callbacks get
// the func_info BTF the kernel wants for a program with a callback; the lock map is created with BTF describing
// its value (struct val { int cnt; struct bpf_spin_lock l; }, bpfrun.c MAPBTF).

import { describe, expect, it } from 'vitest';
import { verify } from '../../verifier/index.js';
import { assemble } from '../../vm/asm.js';
import { funcBtf } from '../kernel/func-btf.js';
import { kernelAvailability, kernelRunBatch, type KernelMapDef } from '../kernel/oracle.js';
import { CALLBACK_CASES, LOCKMAP, SPIN_CASES, TIMERMAP, TIMER_CASES, callbackProgram, timerProgram, type CallbackCase, type SpinCase } from './callback-cases.js';

const processed = (log: string): number => Number(/processed (\d+) insns/.exec(log)?.[1] ?? -1);
const finalLine = (log: string): string | null => {
  const lines = log.trimEnd().split('\n');
  return lines.length >= 2 ? lines[lines.length - 2]! : null;
};
/** Map addresses differ between runs (bpfvm prints `map[idx:N]`). */
const normLog = (l: string): string => l.replace(/\(18\) r(\d) = (0xffff[0-9a-f]{12}|map\[idx:\d+\]) */g, '(18) r$1 = MAP ').replace(/(\(18\) r\d = MAP) +;/g, '$1 ;');

const runCb = (c: CallbackCase, logLevel: 1 | 2 = 1) => verify({ insns: callbackProgram(c).insns, type: 3 }, { logLevel, maps: c.maps });
const runTimer = (c: CallbackCase, logLevel: 1 | 2 = 1) => verify({ insns: timerProgram(c).insns, type: 3 }, { logLevel, maps: [TIMERMAP] });
const runSpin = (c: SpinCase, logLevel: 1 | 2 = 1) => verify({ insns: assemble(c.asm), type: 3 }, { logLevel, maps: [LOCKMAP] });

const checkRecorded = (r: ReturnType<typeof verify>, c: { want: string | null; errno: number; processed: number }): void => {
  expect(r.ok).toBe(c.want === null);
  if (c.want !== null) {
    expect(r.error?.message).toBe(c.want);
    expect(r.errno).toBe(c.errno);
  }
  expect(processed(r.log)).toBe(c.processed);
};

describe('verifier: callbacks (recorded 6.18 results)', () => {
  it.each(CALLBACK_CASES.map((c) => [c.name, c] as const))('%s', (_n, c) => checkRecorded(runCb(c), c));

  it('a callback body is verified as frame 1 with the helper\'s arguments, and re-visited until it converges', () => {
    const c = CALLBACK_CASES[0]!;
    const log = runCb(c, 2).log;
    // bpf_loop: r1 the index (unknown scalar), r2 the ctx (a pointer into the caller's stack)
    expect(log).toContain('\nfrom 7 to 10: frame1: R1=scalar() R2=fp[0]-8 R10=fp0 cb\n');
    expect(log).toContain('returning from callee:\n frame1: R0=0 R1=scalar() R2=fp[0]-8 R3=1 R10=fp0 cb\n');
    // the callback returns to its call, which is visited again: the counter is widened to an unknown scalar
    expect(log).toContain('to caller at 7:\n R1=10 R2=func() R3=fp-8 R4=0 R10=fp0 fp-8=1\n');
    expect(log).toContain('\nfrom 14 to 7: R1=10 R2=func() R3=fp-8 R4=0 R10=fp0 fp-8=scalar()\n');
    // the caller's counter is widened on the second visit, then the visit converges
    expect(log).toContain('SCC backedge (1)');
    expect(log).toContain('SCC exit (1)');
  });

  it('an out-of-bounds access inside a callback is rejected (it used to be accepted unseen)', () => {
    const r = runCb(CALLBACK_CASES.find((c) => c.name.includes('reads past'))!);
    expect(r).toMatchObject({ ok: false, error: { message: 'invalid read from stack R2 off=0 size=8' } });
  });
});

describe('verifier: timer callbacks (recorded 6.18 results)', () => {
  it.each(TIMER_CASES.map((c) => [c.name, c] as const))('%s', (_n, c) => checkRecorded(runTimer(c), c));

  it('the callback is verified after the main program, as a frame-0 program of its own', () => {
    const log = runTimer(TIMER_CASES[0]!, 2).log;
    expect(log).toMatch(/\nfrom 17 to 20: R1=map_ptr\(map=tm,ks=4,vs=24\) R2=map_key\(map=tm,ks=4,vs=24\) R3=map_value\(id=1,map=tm,ks=4,vs=24\) R10=fp0 async_cb\n/);
  });
});

describe('verifier: bpf_spin_lock regions (recorded 6.18 results)', () => {
  it.each(SPIN_CASES.map((c) => [c.name, c] as const))('%s', (_n, c) => checkRecorded(runSpin(c), c));

  it('the held lock is printed as a reference (refs=ID of the value pointer)', () => {
    const log = runSpin(SPIN_CASES[0]!, 2).log;
    expect(log).toMatch(/call bpf_spin_lock#93 +; refs=1\n/);
    expect(log).toMatch(/R6=map_value\(id=1,map=lk,ks=4,vs=8\) refs=1\n/);
  });
});

const avail = kernelAvailability();

describe.skipIf(!avail.ok)(`verifier: callbacks and spin locks against the live kernel${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, () => {
  const mapDef = (m: (typeof CALLBACK_CASES)[number]['maps'][number]): KernelMapDef => ({ name: m.name, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries });
  const lockBtf = funcBtf([{ name: 'main', insnOff: 0 }], { spinLockValue: true });
  const requests = (logLevel: number) => [
    ...CALLBACK_CASES.map((c) => ({ progType: 3, insns: callbackProgram(c).insns, btf: callbackProgram(c).btf, logLevel, maps: c.maps.map(mapDef) })),
    ...TIMER_CASES.map((c) => {
      const p = timerProgram(c);
      return { progType: 3, insns: p.insns, btf: p.btf, logLevel, maps: [{ ...mapDef(TIMERMAP), btfIds: { key: 1, value: p.btf.timerValueId! } }] };
    }),
    ...SPIN_CASES.map((c) => ({
      progType: 3, insns: assemble(c.asm), btf: lockBtf, logLevel,
      maps: [{ ...mapDef(LOCKMAP), btfIds: { key: 1, value: lockBtf.spinLockValueId! } }],
    })),
  ];
  const results = avail.ok ? kernelRunBatch([...requests(1), ...requests(2)]) : [];
  const cases: [string, { want: string | null; errno: number; processed: number }, string][] = [
    ...CALLBACK_CASES.map((c) => [c.name, c, runCb(c).log] as [string, CallbackCase, string]),
    ...TIMER_CASES.map((c) => [c.name, c, runTimer(c).log] as [string, CallbackCase, string]),
    ...SPIN_CASES.map((c) => [c.name, c, runSpin(c).log] as [string, SpinCase, string]),
  ];
  it.each(cases.map((x, k) => [x[0], k] as const))('%s: the kernel still says what was recorded, in the same log', (_n, k) => {
    const [, c, ours] = cases[k]!;
    const kr = results[k]!;
    expect(kr.loaded, kr.log).toBe(c.want === null);
    if (c.want !== null) {
      expect(finalLine(kr.log)).toBe(c.want);
      expect(kr.errno).toBe(c.errno);
    }
    expect(processed(kr.log)).toBe(c.processed);
    expect(normLog(ours)).toBe(normLog(kr.log));
  });
  // Level 2: every state, the callback frames (` cb`), `returning from callee:` / `to caller at N:`, the SCC
  // visits and backedges, the precision trace through callback bodies, the live-register dump; 6.18's
  // stack-liveness debug lines (`(0) frame 0 insn 5 +live -8`) are not printed by bpfvm.
  it.each(cases.map((x, k) => [x[0], k] as const))('%s: level-2 log identical (without the stack-liveness lines)', (_n, k) => {
    const nc = CALLBACK_CASES.length;
    const nt = TIMER_CASES.length;
    const ours = k < nc ? runCb(CALLBACK_CASES[k]!, 2).log : k < nc + nt ? runTimer(TIMER_CASES[k - nc]!, 2).log : runSpin(SPIN_CASES[k - nc - nt]!, 2).log;
    const kr = results[cases.length + k]!;
    expect(normLog(ours)).toBe(normLog(kr.log.replace(/^\([\d,]+\) .*\n/gm, '')));
  });
});
