// The helpers of queue / stack maps, ring buffers, user ring buffers and dynptrs, shared by every runner (the
// BPF_PROG_TEST_RUN emulation in testrun.ts and the socket model in model.ts install them with
// installMapKindHelpers): one definition each, following kernel/bpf/queue_stack_maps.c, ringbuf.c and the
// dynptr code of helpers.c.
//
// Dynptrs: a struct bpf_dynptr_kern of 16 bytes in the program's memory, laid out as the kernel does:
//   u64 data   — the pointer (bpfvm's address: region in the high half, offset in the low half)
//   u32 size   — bits 0..23 the size, bits 28..30 the type (1 LOCAL, 2 RINGBUF, ...), bit 31 read-only
//   u32 offset
// A NULL dynptr (after a failure, or after submit / discard) is 16 zero bytes.
//  - bpf_dynptr_from_mem(data, size, flags, ptr): size above DYNPTR_MAX_SIZE (2^24 - 1) → -E2BIG, flags → -EINVAL
//    (either way ptr is set NULL); else a LOCAL dynptr over data.
//  - bpf_dynptr_read(dst, len, src, offset, flags): NULL src or flags → -EINVAL; offset / len outside the size →
//    -E2BIG (dst untouched); else the bytes are copied.
//  - bpf_dynptr_write(dst, offset, src, len, flags): NULL or read-only dst → -EINVAL; bounds → -E2BIG; flags →
//    -EINVAL (LOCAL / RINGBUF); else the bytes are copied.
//  - bpf_dynptr_data(ptr, offset, len): a pointer to the bytes, or NULL (NULL dynptr, bounds, read-only).
//  - bpf_ringbuf_reserve_dynptr(map, size, flags, ptr): flags → -EINVAL, size above DYNPTR_MAX_SIZE → -E2BIG, no
//    room → -EINVAL (ptr NULL in all three); else a RINGBUF dynptr over the reserved sample.
//    bpf_ringbuf_submit_dynptr / discard_dynptr(ptr, flags): commit the sample (nothing for a NULL dynptr), then
//    set ptr NULL.
// Ring buffer samples (bpf_ringbuf_reserve) are regions of their own, unmapped when submitted or discarded (the
// verifier forbids any use after that).
// bpf_user_ringbuf_drain(map, callback, ctx, flags): flags other than the wakeup ones → -EINVAL; a drain inside
// a drain → -EBUSY; then callback(dynptr, ctx) for each ready sample (a LOCAL dynptr over it, at most 128 Ki
// samples) until it returns non-zero or none is left; discarded samples are skipped and not counted; returns
// the number of samples passed to the callback, or the -errno of a corrupt record.

import { helperIds } from '../../helpers/ids.js';
import { BpfExecutionError } from '../../vm/errors.js';
import type { HelperFn, Vm } from '../../vm/interpreter.js';
import type { Region } from '../../vm/memory.js';
import { ERRNO } from './maps/errors.js';
import { queueStackHelpers } from './maps/queue-stack.js';
import {
  BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP, DYNPTR_MAX_SIZE, RingBufMap, UserRingBufMap, type RingSample,
} from './maps/ringbuf.js';
import { mapArg } from './maps/map.js';

export const H = helperIds(
  'map_push_elem', 'map_pop_elem', 'map_peek_elem', 'ringbuf_output', 'ringbuf_reserve', 'ringbuf_submit',
  'ringbuf_discard', 'ringbuf_query', 'dynptr_from_mem', 'ringbuf_reserve_dynptr', 'ringbuf_submit_dynptr',
  'ringbuf_discard_dynptr', 'dynptr_read', 'dynptr_write', 'dynptr_data', 'user_ringbuf_drain',
);

/** The helper ids installMapKindHelpers provides. */
export const MAP_KIND_HELPER_IDS: readonly number[] = Object.values(H);

export const BPF_DYNPTR_TYPE_LOCAL = 1;
export const BPF_DYNPTR_TYPE_RINGBUF = 2;
export const DYNPTR_TYPE_SHIFT = 28;
export const DYNPTR_SIZE_MASK = 0xffffff;
export const DYNPTR_RDONLY_BIT = 0x80000000;
export const DYNPTR_KERN_SIZE = 16;
/** BPF_MAX_USER_RINGBUF_SAMPLES */
export const BPF_MAX_USER_RINGBUF_SAMPLES = 128 * 1024;
const { EBUSY, EAGAIN } = ERRNO;

/** A struct bpf_dynptr_kern as read from program memory. */
export interface DynptrKern {
  /** The data pointer (0 / 0 for a NULL dynptr). */
  lo: number;
  hi: number;
  /** The raw size word (size, type and read-only bit). */
  size: number;
  offset: number;
}

export const dynptrSize = (d: DynptrKern): number => d.size & DYNPTR_SIZE_MASK;
export const dynptrType = (d: DynptrKern): number => ((d.size & ~DYNPTR_RDONLY_BIT) >>> DYNPTR_TYPE_SHIFT) & 0x7;
export const dynptrIsNull = (d: DynptrKern): boolean => d.lo === 0 && d.hi === 0;
export const dynptrRdonly = (d: DynptrKern): boolean => (d.size & DYNPTR_RDONLY_BIT) !== 0;

/** Encodes a dynptr (null: the NULL dynptr) as its 16 bytes. */
export function dynptrBytes(d: DynptrKern | null): Uint8Array {
  const b = new Uint8Array(DYNPTR_KERN_SIZE);
  if (d === null) return b;
  const dv = new DataView(b.buffer);
  dv.setUint32(0, d.lo >>> 0, true);
  dv.setUint32(4, d.hi >>> 0, true);
  dv.setUint32(8, d.size >>> 0, true);
  dv.setUint32(12, d.offset >>> 0, true);
  return b;
}

/** bpf_dynptr_init: a dynptr of `type` over `size` bytes at the pointer lo / hi. */
export const dynptrInit = (lo: number, hi: number, type: number, size: number): DynptrKern => ({ lo, hi, size: (size | (type << DYNPTR_TYPE_SHIFT)) >>> 0, offset: 0 });

function readDynptr(v: Vm, pc: number, r: number): DynptrKern {
  const b = v.space.read(pc, v.lo[r]!, v.hi[r]!, DYNPTR_KERN_SIZE);
  const dv = new DataView(b.buffer);
  return { lo: dv.getInt32(0, true), hi: dv.getInt32(4, true), size: dv.getUint32(8, true), offset: dv.getUint32(12, true) };
}

const writeDynptr = (v: Vm, pc: number, r: number, d: DynptrKern | null): void => v.space.write(pc, v.lo[r]!, v.hi[r]!, dynptrBytes(d));

/** bpf_dynptr_check_off_len: offset and len (u32) inside the dynptr's size. */
const offLenOk = (d: DynptrKern, off: number, len: number): boolean => {
  const size = dynptrSize(d);
  return !(len > size || off > size - len);
};

/** The address of byte `off` of a dynptr's data (LOCAL and RINGBUF: data + offset + off). */
const dataAddr = (d: DynptrKern, off: number): { lo: number; hi: number } => ({ lo: (d.lo + d.offset + off) | 0, hi: d.hi });

/** Installs the helpers of MAP_KIND_HELPER_IDS in `vm`. */
export function installMapKindHelpers(vm: Vm): void {
  const h = vm.helpers;
  for (const [id, fn] of queueStackHelpers()) h[id] = fn;

  // Ring buffer samples live in regions of their own while reserved.
  const samples = new Map<Region, { map: RingBufMap; sample: RingSample }>();
  const reserveRegion = (v: Vm, map: RingBufMap, s: RingSample): Region => {
    const r = v.space.map(`ringbuf ${map.name} sample @${s.pos}`, 'memory', s.bytes, true);
    samples.set(r, { map, sample: s });
    return r;
  };
  const commitAt = (v: Vm, pc: number, lo: number, hi: number, discard: boolean, helper: string): void => {
    const r = v.space.regionOf(hi);
    const e = r === null ? undefined : samples.get(r);
    if (r === null || e === undefined || lo !== 0) throw new BpfExecutionError(pc, `${helper}: the pointer is not a reserved ring buffer sample (the verifier refuses it)`);
    e.map.commit(e.sample, discard);
    samples.delete(r);
    v.space.unmap(r);
  };
  const rb = (v: Vm, pc: number, helper: string): RingBufMap => mapArg(v, pc, 1, RingBufMap, helper, 'a ringbuf map');

  h[H.ringbuf_output] = (v, pc) => {
    const map = rb(v, pc, 'bpf_ringbuf_output');
    const size = v.reg(3);
    const flags = v.reg(4);
    if ((flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) !== 0n) return v.setR0Int(-ERRNO.EINVAL);
    const s = map.reserve(size);
    if (s === null) return v.setR0Int(-EAGAIN);
    s.bytes.set(v.space.read(pc, v.lo[2]!, v.hi[2]!, s.size));
    map.commit(s, false);
    v.setR0Int(0);
  };
  h[H.ringbuf_reserve] = (v, pc) => {
    const map = rb(v, pc, 'bpf_ringbuf_reserve');
    if (v.reg(3) !== 0n) return v.setR0(0, 0);
    const s = map.reserve(v.reg(2));
    if (s === null) return v.setR0(0, 0);
    v.setR0(0, reserveRegion(v, map, s).hi);
  };
  h[H.ringbuf_submit] = (v, pc) => {
    commitAt(v, pc, v.lo[1]!, v.hi[1]!, false, 'bpf_ringbuf_submit');
    v.setR0(0, 0);
  };
  h[H.ringbuf_discard] = (v, pc) => {
    commitAt(v, pc, v.lo[1]!, v.hi[1]!, true, 'bpf_ringbuf_discard');
    v.setR0(0, 0);
  };
  h[H.ringbuf_query] = (v, pc) => v.setR0Big(rb(v, pc, 'bpf_ringbuf_query').query(v.reg(2)));

  h[H.ringbuf_reserve_dynptr] = (v, pc) => {
    const map = rb(v, pc, 'bpf_ringbuf_reserve_dynptr');
    const size = v.lo[2]! >>> 0;
    const fail = (e: number): void => {
      writeDynptr(v, pc, 4, null);
      v.setR0Int(e);
    };
    if (v.reg(3) !== 0n) return fail(-ERRNO.EINVAL);
    if (size > DYNPTR_MAX_SIZE) return fail(-ERRNO.E2BIG);
    const s = map.reserve(size);
    if (s === null) return fail(-ERRNO.EINVAL);
    const r = reserveRegion(v, map, s);
    writeDynptr(v, pc, 4, dynptrInit(0, r.hi, BPF_DYNPTR_TYPE_RINGBUF, size));
    v.setR0Int(0);
  };
  const commitDynptr = (discard: boolean, helper: string): HelperFn => (v, pc) => {
    const d = readDynptr(v, pc, 1);
    if (!dynptrIsNull(d)) {
      commitAt(v, pc, d.lo, d.hi, discard, helper);
      writeDynptr(v, pc, 1, null);
    }
    v.setR0(0, 0);
  };
  h[H.ringbuf_submit_dynptr] = commitDynptr(false, 'bpf_ringbuf_submit_dynptr');
  h[H.ringbuf_discard_dynptr] = commitDynptr(true, 'bpf_ringbuf_discard_dynptr');

  h[H.dynptr_from_mem] = (v, pc) => {
    const size = v.lo[2]! >>> 0;
    const fail = (e: number): void => {
      writeDynptr(v, pc, 4, null);
      v.setR0Int(e);
    };
    if (size > DYNPTR_MAX_SIZE) return fail(-ERRNO.E2BIG);
    if (v.reg(3) !== 0n) return fail(-ERRNO.EINVAL);
    writeDynptr(v, pc, 4, dynptrInit(v.lo[1]!, v.hi[1]!, BPF_DYNPTR_TYPE_LOCAL, size));
    v.setR0Int(0);
  };
  h[H.dynptr_read] = (v, pc) => {
    // bpf_dynptr_read(dst, len, src, offset, flags)
    const len = v.lo[2]! >>> 0;
    const d = readDynptr(v, pc, 3);
    const off = v.lo[4]! >>> 0;
    if (dynptrIsNull(d) || v.reg(5) !== 0n) return v.setR0Int(-ERRNO.EINVAL);
    if (!offLenOk(d, off, len)) return v.setR0Int(-ERRNO.E2BIG);
    const a = dataAddr(d, off);
    v.space.write(pc, v.lo[1]!, v.hi[1]!, v.space.read(pc, a.lo, a.hi, len));
    v.setR0Int(0);
  };
  h[H.dynptr_write] = (v, pc) => {
    // bpf_dynptr_write(dst, offset, src, len, flags)
    const d = readDynptr(v, pc, 1);
    const off = v.lo[2]! >>> 0;
    const len = v.lo[4]! >>> 0;
    if (dynptrIsNull(d) || dynptrRdonly(d)) return v.setR0Int(-ERRNO.EINVAL);
    if (!offLenOk(d, off, len)) return v.setR0Int(-ERRNO.E2BIG);
    if (v.reg(5) !== 0n) return v.setR0Int(-ERRNO.EINVAL);
    const a = dataAddr(d, off);
    v.space.write(pc, a.lo, a.hi, v.space.read(pc, v.lo[3]!, v.hi[3]!, len));
    v.setR0Int(0);
  };
  h[H.dynptr_data] = (v, pc) => {
    // bpf_dynptr_data(ptr, offset, len)
    const d = readDynptr(v, pc, 1);
    const off = v.lo[2]! >>> 0;
    const len = v.lo[3]! >>> 0;
    if (dynptrIsNull(d) || !offLenOk(d, off, len) || dynptrRdonly(d)) return v.setR0(0, 0);
    const t = dynptrType(d);
    if (t !== BPF_DYNPTR_TYPE_LOCAL && t !== BPF_DYNPTR_TYPE_RINGBUF) return v.setR0(0, 0);
    const a = dataAddr(d, off);
    v.setR0(a.lo, a.hi);
  };

  h[H.user_ringbuf_drain] = (v, pc) => {
    const map = mapArg(v, pc, 1, UserRingBufMap, 'bpf_user_ringbuf_drain', 'a user_ringbuf map');
    const fn = { lo: v.lo[2]!, hi: v.hi[2]! };
    const ctx = v.reg(3);
    if ((v.reg(4) & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) !== 0n) return v.setR0Int(-ERRNO.EINVAL);
    if (map.draining) return v.setR0Int(-EBUSY);
    map.draining = true;
    // The callback's struct bpf_dynptr_kern (on the kernel's stack).
    const dyn = v.space.map(`user_ringbuf ${map.name} dynptr`, 'memory', new Uint8Array(DYNPTR_KERN_SIZE), true);
    const dynAddr = (BigInt(dyn.hi >>> 0) << 32n);
    let samples = 0;
    let discarded = 0;
    let ret = 0n;
    try {
      for (; samples < BPF_MAX_USER_RINGBUF_SAMPLES && ret === 0n; samples++) {
        const s = map.peek();
        if (s === 'none') break;
        if (s === 'discarded') {
          discarded++;
          continue;
        }
        if (typeof s === 'number') return v.setR0Int(s);
        const region = v.space.map(`user_ringbuf ${map.name} sample @${s.pos}`, 'memory', s.bytes, true);
        dyn.bytes.set(dynptrBytes(dynptrInit(0, region.hi, BPF_DYNPTR_TYPE_LOCAL, s.size)));
        try {
          ret = v.callback(pc, fn, [dynAddr, ctx]);
        } finally {
          v.space.unmap(region);
        }
        map.release(s);
      }
      v.setR0Int(samples - discarded);
    } finally {
      map.draining = false;
      v.space.unmap(dyn);
    }
  };
}
