/**
 * One virtual time per Kernel (src/kernel/clock.ts): bpf_ktime_get_ns, BPF timers (timers.ts) and the TCP timers
 * that release data held behind MSG_MORE (socket.ts) run on the same clock, and advancing it by either entry
 * point (Kernel.advance in ms, Kernel.advanceTime in ns; the scenario's sleep / advance) fires both kinds of
 * event in order of their due time.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import { Kernel } from '../../src/kernel/model.js';
import { MSG_MORE, MSG_NOSIGNAL, type Socket } from '../../src/kernel/socket.js';
import type { MapSpec } from '../../src/spec.js';
import { runScenarioFile } from '../../src/scenario/file.js';
import { insertZeroKey0, startTimer } from './asm-snippets.js';

const MS = 1_000_000n;
const u64 = (b: Uint8Array, off: number): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);

/** value: u64 fired; struct bpf_timer (16 bytes) at 8; u64 ktime read by the callback at 24. */
const timerMap: MapSpec = {
  name: 't', type: 2, typeName: '', keySize: 4, valueSize: 32, maxEntries: 1, flags: 0, section: '.maps',
  valueFields: { fields: [{ kind: 'timer', offset: 8, size: 16 }] },
};

/** sock_ops: t[0] = {}; bpf_timer_init(CLOCK_MONOTONIC); start(+delayNs); the callback stores ktime, fired++. */
const armTimerAsm = (delayNs: number): string => `
  ${insertZeroKey0(0, 0, 'r6')}
  ${startTimer(0, 1, String(delayNs), 0)}
out:
  r0 = 1
  exit
cb:
  r6 = r3
  call bpf_ktime_get_ns#5
  *(u64 *)(r6 + 24) = r0
  r1 = *(u64 *)(r6 + 0)
  r1 += 1
  *(u64 *)(r6 + 0) = r1
  r0 = 0
  exit`;
const armTimer = (delayNs: number): Uint8Array => assemble(armTimerAsm(delayNs));

/**
 * A connected pair c → q with 100 bytes transmitted and unread (the peer's delayed ACK is due in 40 ms) and 5
 * bytes held behind them with MSG_MORE; then a sock_ops program arms a BPF timer `timerMs` from now (on listen).
 * Returns the kernel, the reader and the time it all happened at.
 */
function setup(timerMs: number): { k: Kernel; q: Socket; t0: bigint } {
  const k = new Kernel();
  k.createMaps([timerMap]);
  const l = k.listen();
  const c = k.connect(l) as Socket;
  const q = k.accept(l) as Socket;
  const t0 = k.timeNs;
  expect(k.send(c, new Uint8Array(100).fill(1), MSG_NOSIGNAL)).toBe(100);
  expect(k.send(c, new Uint8Array(5).fill(2), MSG_NOSIGNAL | MSG_MORE)).toBe(5);
  expect(k.fionread(q)).toBe(100); // the 5 bytes wait in c's write queue for the ACK
  expect(k.cgroupAttach(k.loadProgram({ type: 13, name: 'arm', insns: armTimer(timerMs * 1e6) }), '/')).toBe(0);
  k.listen(); // TCP_LISTEN_CB arms t[0]
  expect(k.timeNs).toBe(t0); // nothing read the clock
  return { k, q, t0 };
}

const timerValue = (k: Kernel): { fired: bigint; ktime: bigint } => {
  const v = k.mapLookup(k.map('t'), 0) as Uint8Array;
  return { fired: u64(v, 0), ktime: u64(v, 24) };
};

describe('one virtual time: BPF timers and TCP timers interleaved', () => {
  it('advance(ms): a BPF timer due at +30 ms fires before the delayed ACK at +40 ms releases the held data', () => {
    const { k, q, t0 } = setup(30);
    // Stop at the first event after which the reader sees the held bytes: the delayed ACK at +40 ms. The BPF
    // timer (+30 ms) has fired on the way, and its callback read the clock at its expiry.
    const fired = k.advance(100, () => k.fionread(q) > 100);
    expect(fired.map((f) => [f.map, f.atNs - t0])).toEqual([['t', 30n * MS]]);
    expect(timerValue(k)).toEqual({ fired: 1n, ktime: t0 + 30n * MS });
    expect(k.timeNs).toBe(t0 + 40n * MS);
    expect(k.fionread(q)).toBe(105);
  });

  it('advanceTime(ns): a BPF timer due at +50 ms fires after the delayed ACK at +40 ms', () => {
    const { k, q, t0 } = setup(50);
    expect(k.advanceTime(40n * MS - 1n)).toEqual([]);
    expect(k.fionread(q)).toBe(100); // not due yet
    expect(k.advanceTime(1n, () => k.fionread(q) > 100)).toEqual([]);
    expect(k.fionread(q)).toBe(105); // the delayed ACK, at +40 ms exactly
    expect(timerValue(k).fired).toBe(0n);
    const fired = k.advanceTime(20n * MS);
    expect(fired.map((f) => f.atNs - t0)).toEqual([50n * MS]);
    expect(timerValue(k)).toEqual({ fired: 1n, ktime: t0 + 50n * MS });
    // After the callback's clock read (one step of 1000 ns) the advance ends at its target.
    expect(k.timeNs).toBe(t0 + 60n * MS);
  });

  it('advance(ms) without until runs both kinds and ends at its target; a bad ms is a RangeError', () => {
    const { k, q, t0 } = setup(30);
    const fired = k.advance(45);
    expect(fired.length).toBe(1);
    expect(k.fionread(q)).toBe(105);
    expect(k.timeNs).toBe(t0 + 45n * MS);
    expect(() => k.advance(-1)).toThrow(RangeError);
    expect(() => k.advance(Number.NaN)).toThrow(RangeError);
  });
});

describe('one virtual time in scenario files: "sleep" (ms) and "advance" (ns) are the same clock', () => {
  it('a sleep step fires a BPF timer; an advance step fires the delayed ACK that releases MSG_MORE-held data', () => {
    const r = runScenarioFile({
      maps: [{ name: 't', type: 'array', keySize: 4, valueSize: 32, maxEntries: 1, timer: 8 }],
      programs: [{ name: 'arm', type: 'sock_ops', asm: armTimerAsm(30_000_000) }],
      steps: [
        { op: 'listen', name: 'l' },
        { op: 'connect', name: 'c', to: 'l' },
        { op: 'accept', name: 'q', listener: 'l' },
        { op: 'send', sock: 'c', data: { pattern: 100 }, expect: { ret: 100 } },
        { op: 'send', sock: 'c', data: { pattern: 5 }, flags: MSG_MORE, expect: { ret: 5 } },
        { op: 'cgroup_attach', prog: 'arm' },
        { op: 'listen', name: 'l2' }, // arms t[0] for +30 ms
        { op: 'sleep', ms: 35, expect: { ret: 0 } },
        { op: 'fionread', sock: 'q', expect: { ret: 100 } },
        { op: 'advance', ns: 4_999_999, expect: { ret: 0 } },
        { op: 'fionread', sock: 'q', expect: { ret: 100 } },
        { op: 'advance', ns: 1, expect: { ret: 0 } },
        { op: 'fionread', sock: 'q', expect: { ret: 105 } },
        { op: 'lookup', map: 't', key: 0 },
      ],
    });
    expect(r.failures).toEqual([]);
    // fired = 1; the callback read the clock at its expiry, 1 s (the start) + 30 ms.
    const v = Buffer.from(r.steps.at(-1)!.data as string, 'hex');
    expect([v.readBigUInt64LE(0), v.readBigUInt64LE(24)]).toEqual([1n, 1_000_000_000n + 30n * MS]);
  });
});
