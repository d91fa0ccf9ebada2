// The model's one virtual time (nanoseconds on CLOCK_MONOTONIC). A Kernel has one VirtualClock: bpf_ktime_get_ns
// and the other clock helpers read it, BPF timers (timers.ts) and the TCP timers of its sockets (socket.ts) are
// due on it, and Kernel.advanceTime(ns) / Kernel.advance(ms) move it (README "Virtual time"). A BPF_PROG_TEST_RUN
// emulation (testrun.ts) has a VirtualClock of its own per run.

import type { HelperFn } from '../../vm/interpreter.js';

/** Nanoseconds per millisecond (the TCP timers and Kernel.advance count in ms). */
export const NS_PER_MS = 1_000_000n;

/** `ms` milliseconds (finite, >= 0; fractions are rounded to whole nanoseconds) as nanoseconds. */
export function msToNs(ms: number, what = 'time'): bigint {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${what}: ${ms} is not a number of milliseconds >= 0`);
  return BigInt(Math.round(ms * 1e6));
}

/**
 * Virtual CLOCK_MONOTONIC: bpf_ktime_get_ns (5), ktime_get_boot_ns (125) and ktime_get_coarse_ns (160) return
 * `startNs` on the first call, then the clock advances by `stepNs` per call (so that two reads differ, as on a
 * real machine); otherwise time moves only through advanceTo (timers.ts VirtualTimers.advance).
 */
export class VirtualClock {
  private now: bigint;
  constructor(
    startNs: bigint = 1_000_000_000n,
    readonly stepNs: bigint = 1000n,
  ) {
    this.now = startNs;
  }
  /** What a clock helper returns: the time now, then the clock moves on by its step. */
  read(): bigint {
    const t = this.now;
    this.now += this.stepNs;
    return t;
  }
  /** The current virtual time, without the step a read takes (timers, TCP timers). */
  peek(): bigint {
    return this.now;
  }
  /** Moves virtual time forward to `t` (never backwards). */
  advanceTo(t: bigint): void {
    if (t > this.now) this.now = t;
  }
  /** The helper function of bpf_ktime_get_ns & co. */
  helper(): HelperFn {
    return (vm) => vm.setR0Big(this.read());
  }
}
