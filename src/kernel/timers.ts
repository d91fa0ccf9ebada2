// BPF timers (struct bpf_timer in a map value; kernel/bpf/helpers.c) on the model's virtual clock.
//
// The helpers, with the kernel's return values:
//  - bpf_timer_init(timer, map, flags) (169): -EINVAL for flags that are not a clock id below 16 among
//    CLOCK_REALTIME 0, CLOCK_MONOTONIC 1, CLOCK_BOOTTIME 7; -EBUSY when the timer is already initialised; else 0.
//    (-EPERM, for a map no user space holds any more, cannot happen: the model's maps are always held.)
//  - bpf_timer_set_callback(timer, callback_fn) (170): -EINVAL for an uninitialised timer; else the callback
//    (a subprogram of the calling program) is recorded, 0.
//  - bpf_timer_start(timer, nsecs, flags) (171): -EINVAL for flags other than BPF_F_TIMER_ABS (1) /
//    BPF_F_TIMER_CPU_PIN (2), for an uninitialised timer or one without a callback; else the timer is (re)armed
//    to expire nsecs from now (or at nsecs on its clock with BPF_F_TIMER_ABS), 0.
//  - bpf_timer_cancel(timer) (172): -EINVAL uninitialised; -EDEADLK from the timer's own callback; else the
//    callback is dropped (bpf_timer_start fails until bpf_timer_set_callback is called again) and the result is
//    1 when the timer was armed, 0 when not.
// Deleting, replacing (hash), evicting (LRU) or updating (array) the element cancels and frees its timer
// (bpf_obj_free_fields, maps/fields.ts): the timer is uninitialised again.
//
// Virtual time. The clock is the VirtualClock of bpf_ktime_get_ns (clock.ts; each read still moves it by its
// step); in a Kernel the sockets' TCP timers are due on it too. Armed timers fire only when time is advanced
// explicitly: VirtualTimers.advance(ns, other?) (Kernel.advanceTime / Kernel.advance, the scenario steps
// {"op": "advance", "ns": N} / {"op": "sleep", "ms": N}) runs every timer that is due by now + ns, in order of
// expiry (ties: the order they were started in), interleaved with the `other` events (the TCP timers; one of
// them first at an equal time), one at a time; a callback runs as callback(map, key, value), a run of its own,
// with the clock moved on to the timer's expiry (a callback that runs late, because clock reads of earlier
// callbacks took the clock past its expiry, sees the later time, like a late hrtimer); a callback may re-arm
// its own or other timers, which fire in the same advance when they are due by then. Then the clock is at
// now + ns. CLOCK_MONOTONIC and CLOCK_BOOTTIME are the virtual clock; CLOCK_REALTIME (and bpf_ktime_get_tai_ns,
// 37 s further) is the virtual clock plus REALTIME_OFFSET_NS (2026-01-01T00:00:00Z), so absolute REALTIME
// expiries are deterministic too.

import { helperIds } from '../../helpers/ids.js';
import { BpfExecutionError } from '../../vm/errors.js';
import type { BoundProgram, Vm } from '../../vm/interpreter.js';
import { ArrayMap } from './maps/array.js';
import { HashMap } from './maps/hash.js';
import { onValueFree } from './maps/fields.js';
import { BpfMap } from './maps/map.js';
import type { MapsVm } from './maps/vm.js';
import type { VirtualClock } from './clock.js';
import { ERRNO } from './maps/errors.js';

export const TIMER_FUNC = helperIds('timer_init', 'timer_set_callback', 'timer_start', 'timer_cancel');
export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_BOOTTIME = 7;
export const BPF_F_TIMER_ABS = 1n;
export const BPF_F_TIMER_CPU_PIN = 2n;
/** CLOCK_REALTIME - CLOCK_MONOTONIC in the model: 2026-01-01T00:00:00Z at virtual time 0. */
export const REALTIME_OFFSET_NS = 1_767_225_600_000_000_000n;
/** CLOCK_TAI - CLOCK_REALTIME (37 leap seconds). */
export const TAI_OFFSET_NS = 37_000_000_000n;
const KTIME_MAX = (1n << 63n) - 1n;
const { EINVAL, EBUSY, EDEADLK } = ERRNO;
/**
 * Timer events (callbacks and TCP timers) one advance may run (a callback that re-arms itself with 0 ns would
 * otherwise never end).
 */
export const MAX_TIMER_FIRES_PER_ADVANCE = 100_000;

/** One struct bpf_timer that bpf_timer_init initialised (the kernel's struct bpf_hrtimer). */
class BpfTimer {
  prog: BoundProgram | null = null;
  fn: { lo: number; hi: number } | null = null;
  armed = false;
  /** Expiry on the virtual (monotonic) clock. */
  expiry = 0n;
  seq = 0;
  constructor(
    readonly map: BpfMap,
    readonly value: Uint8Array,
    readonly clockId: number,
  ) {}
}

/** A timer callback that ran during an advance. */
export interface TimerFire {
  map: string;
  /** The element's key (hex). */
  key: string;
  /** Virtual time it fired at (its expiry). */
  atNs: bigint;
  /** The callback's r0 (the verifier makes it 0). */
  r0: bigint;
  insns: number;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** Timer events of another kind on the same clock (the Kernel's TCP timers, socket.ts), for advance(). */
export interface ClockEvents {
  /** When the soonest event is due (ns on the clock), or null when none is pending. */
  nextDueNs(): bigint | null;
  /** Runs that soonest event (the clock is at its due time, or later). */
  runNext(): void;
}

/** The timers of one VM and the virtual clock they run on. */
export class VirtualTimers {
  private readonly timers = new WeakMap<Uint8Array, BpfTimer>();
  private readonly armed = new Set<BpfTimer>();
  private seq = 0;
  /** The timer whose callback is running (hrtimer_running). */
  private running: BpfTimer | null = null;

  constructor(
    readonly clock: VirtualClock,
    private readonly vm: Vm,
    private readonly mapsVm: () => MapsVm | null,
  ) {}

  /** Virtual time now (ns on CLOCK_MONOTONIC). */
  get nowNs(): bigint {
    return this.clock.peek();
  }

  /** Armed timers, soonest first. */
  pending(): { map: string; key: string; expiryNs: bigint }[] {
    return [...this.armed].sort(order).map((t) => ({ map: t.map.name, key: hex(keyOf(t) ?? new Uint8Array(0)), expiryNs: t.expiry }));
  }

  /**
   * Advances virtual time by `ns`, running every timer callback due by then (see the file header); returns the
   * callbacks that ran, in order. `other` adds the events of another kind on the same clock (the Kernel's TCP
   * timers): both kinds run in order of their due time, an event of `other` first at equal times. `until`, checked
   * after each event, stops the advance early (the clock stays at that event's time).
   */
  advance(ns: bigint, other?: ClockEvents, until?: () => boolean): TimerFire[] {
    if (ns < 0n) throw new RangeError(`advance: ${ns} ns is negative (virtual time only moves forward)`);
    if (this.running !== null) throw new Error('advance: called from inside a timer callback');
    const target = this.clock.peek() + ns;
    const fired: TimerFire[] = [];
    let events = 0;
    for (;;) {
      let next: BpfTimer | null = null;
      for (const t of this.armed) if (t.expiry <= target && (next === null || order(t, next) < 0)) next = t;
      let otherAt = other?.nextDueNs() ?? null;
      if (otherAt !== null && otherAt > target) otherAt = null;
      if (next === null && otherAt === null) break;
      if (++events > MAX_TIMER_FIRES_PER_ADVANCE) {
        throw new BpfExecutionError(0, `advance: more than ${MAX_TIMER_FIRES_PER_ADVANCE} timer events within ${ns} ns (a callback re-arms its timer without moving time on)`);
      }
      if (otherAt !== null && (next === null || otherAt <= next.expiry)) {
        this.clock.advanceTo(otherAt);
        other!.runNext();
      } else {
        const t = next!;
        this.armed.delete(t);
        t.armed = false;
        this.clock.advanceTo(t.expiry);
        const r = this.fire(t);
        if (r !== null) fired.push(r);
      }
      if (until?.()) return fired;
    }
    this.clock.advanceTo(target);
    return fired;
  }

  /** bpf_timer_cb: callback(map, key, value) as a run of its own (nothing when the callback was dropped). */
  private fire(t: BpfTimer): TimerFire | null {
    const mv = this.mapsVm();
    const key = keyOf(t);
    if (t.fn === null || t.prog === null || mv === null || key === null) return null;
    const at = t.expiry; // the callback may re-arm the timer
    const space = this.vm.space;
    const keyRegion = space.map(`timer key of ${t.map.name}`, 'map_value', key.slice(), false);
    this.running = t;
    try {
      const r = this.vm.runFunction(t.prog, t.fn, [
        BigInt(mv.objectRegion(t.map).hi >>> 0) << 32n,
        BigInt(keyRegion.hi >>> 0) << 32n,
        BigInt(mv.valueRegion(t.map, t.value).hi >>> 0) << 32n,
      ]);
      return { map: t.map.name, key: hex(key), atNs: at, r0: r.r0, insns: r.insns };
    } finally {
      this.running = null;
      space.unmap(keyRegion);
    }
  }

  /** The bpf_timer a helper's r1 points at: the value it lies in, checked to be the map's timer field. */
  private timerArg(vm: Vm, pc: number, helper: string): { value: Uint8Array; timer: BpfTimer | undefined } {
    const r = vm.space.regionOf(vm.hi[1]!);
    if (r === null || r.kind !== 'map_value') throw new BpfExecutionError(pc, `${helper}: r1 does not point into a map value (the verifier refuses it)`);
    return { value: r.bytes, timer: this.timers.get(r.bytes) };
  }

  private now(clockId: number): bigint {
    return this.clock.peek() + (clockId === CLOCK_REALTIME ? REALTIME_OFFSET_NS : 0n);
  }

  /** Installs bpf_timer_init / set_callback / start / cancel. */
  install(vm: Vm): void {
    const h = vm.helpers;
    h[TIMER_FUNC.timer_init] = (v, pc) => {
      const { value, timer } = this.timerArg(v, pc, 'bpf_timer_init');
      const map = v.space.objectAt(v.lo[2]!, v.hi[2]!);
      if (!(map instanceof BpfMap)) throw new BpfExecutionError(pc, 'bpf_timer_init: r2 is not a map pointer');
      if (map.layout.timer < 0 || (v.lo[1]! >>> 0) !== map.layout.timer) {
        throw new BpfExecutionError(pc, `bpf_timer_init: r1 is not the bpf_timer of a value of map "${map.name}" (the verifier refuses it)`);
      }
      const flags = v.reg(3);
      const clockId = Number(flags & 15n);
      if (flags >= 16n || (clockId !== CLOCK_MONOTONIC && clockId !== CLOCK_REALTIME && clockId !== CLOCK_BOOTTIME)) return v.setR0Int(-EINVAL);
      if (timer !== undefined) return v.setR0Int(-EBUSY);
      const t = new BpfTimer(map, value, clockId);
      this.timers.set(value, t);
      onValueFree(value, () => this.free(t));
      v.setR0Int(0);
    };
    h[TIMER_FUNC.timer_set_callback] = (v, pc) => {
      const { timer } = this.timerArg(v, pc, 'bpf_timer_set_callback');
      if (timer === undefined) return v.setR0Int(-EINVAL);
      timer.prog = v.currentProgram;
      timer.fn = { lo: v.lo[2]!, hi: v.hi[2]! };
      v.setR0Int(0);
    };
    h[TIMER_FUNC.timer_start] = (v, pc) => {
      const flags = v.reg(3);
      if ((flags & ~(BPF_F_TIMER_ABS | BPF_F_TIMER_CPU_PIN)) !== 0n) return v.setR0Int(-EINVAL);
      const { timer } = this.timerArg(v, pc, 'bpf_timer_start');
      if (timer === undefined || timer.prog === null) return v.setR0Int(-EINVAL);
      // ns_to_ktime: a signed 64-bit time; relative expiries add with saturation (ktime_add_safe).
      const ns = BigInt.asIntN(64, v.reg(2));
      const offset = timer.clockId === CLOCK_REALTIME ? REALTIME_OFFSET_NS : 0n;
      let at = (flags & BPF_F_TIMER_ABS) !== 0n ? ns : this.now(timer.clockId) + ns;
      if (at > KTIME_MAX) at = KTIME_MAX;
      timer.expiry = at - offset;
      timer.seq = ++this.seq;
      timer.armed = true;
      this.armed.add(timer);
      v.setR0Int(0);
    };
    h[TIMER_FUNC.timer_cancel] = (v, pc) => {
      const { timer } = this.timerArg(v, pc, 'bpf_timer_cancel');
      if (timer === undefined) return v.setR0Int(-EINVAL);
      // Its own callback would wait for itself. (Two callbacks cancelling each other, the other -EDEADLK case,
      // cannot happen: the model runs one callback at a time.)
      if (this.running === timer) return v.setR0Int(-EDEADLK);
      timer.prog = null;
      timer.fn = null;
      const wasArmed = timer.armed;
      timer.armed = false;
      this.armed.delete(timer);
      v.setR0Int(wasArmed ? 1 : 0);
    };
  }

  /** bpf_timer_cancel_and_free: the element went away or was overwritten. */
  private free(t: BpfTimer): void {
    t.armed = false;
    t.prog = null;
    t.fn = null;
    this.armed.delete(t);
    if (this.timers.get(t.value) === t) this.timers.delete(t.value);
  }
}

const order = (a: BpfTimer, b: BpfTimer): number => (a.expiry < b.expiry ? -1 : a.expiry > b.expiry ? 1 : a.seq - b.seq);

/** The key of the element a timer lives in (array: its index; hash: its key), or null when it is gone. */
function keyOf(t: BpfTimer): Uint8Array | null {
  const m = t.map;
  if (m instanceof ArrayMap) {
    const index = (t.value.byteOffset - m.storage.byteOffset) / m.elemSize;
    const k = new Uint8Array(4);
    new DataView(k.buffer).setUint32(0, index, true);
    return k;
  }
  if (m instanceof HashMap) return m.keyOfValue(t.value);
  return null;
}
