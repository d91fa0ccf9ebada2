// BPF_MAP_TYPE_RINGBUF (27) and BPF_MAP_TYPE_USER_RINGBUF (31) (kernel/bpf/ringbuf.c), with the consumer of
// the first and the producer of the second as libbpf implements them (ring_buffer__consume,
// user_ring_buffer__reserve / submit / discard).
//
// Both keep the kernel's layout: a data area of max_entries bytes (zeroed at creation) addressed by 64-bit
// consumer / producer positions modulo its size; each record is an 8-byte header (u32 len with BUSY bit 31 and
// DISCARD bit 30, u32 pg_off) followed by the sample, the whole rounded up to 8 bytes. A sample that crosses the
// end of the area is contiguous in the kernel (the data pages are mapped twice); the model hands programs a copy
// of such a sample and writes it back when it is committed.
//
// Creation (ringbuf_map_alloc): flags other than BPF_F_NUMA_NODE, a key or value size, or max_entries that is
// not a power of 2 and a multiple of the page size (4096) → EINVAL.
// User space: lookup / update / delete / get_next_key → ENOTSUPP (records are read and written through the
// mmap-ed area: here `consume` and the UserRingBufMap producer methods).
//
// Reserve (__bpf_ringbuf_reserve): a sample above RINGBUF_MAX_RECORD_SZ (UINT_MAX / 4), or whose record is
// larger than the area, or that would put the producer more than size - 1 bytes ahead of the consumer (so a
// ring never fills up completely) fails. Records still reserved (BUSY) stop the consumer.

import { BpfMapError, ERRNO, type ErrnoCode } from './errors.js';
import { BPF_F_NUMA_NODE, MODEL_MAX_ARRAY_BYTES, roundUp8 } from './constants.js';
import { createFail, registerMapType } from './create.js';
import { BpfMap, type ElemRef } from './map.js';
import type { Maps } from './collection.js';

export const BPF_MAP_TYPE_RINGBUF = 27;
export const BPF_MAP_TYPE_USER_RINGBUF = 31;
export const BPF_RINGBUF_BUSY_BIT = 0x80000000;
export const BPF_RINGBUF_DISCARD_BIT = 0x40000000;
export const BPF_RINGBUF_HDR_SZ = 8;
/** bpf_ringbuf_output / submit / discard / user_ringbuf_drain flags. */
export const BPF_RB_NO_WAKEUP = 1n;
export const BPF_RB_FORCE_WAKEUP = 2n;
/** bpf_ringbuf_query flags. */
export const BPF_RB_AVAIL_DATA = 0n;
export const BPF_RB_RING_SIZE = 1n;
export const BPF_RB_CONS_POS = 2n;
export const BPF_RB_PROD_POS = 3n;
export const RINGBUF_MAX_RECORD_SZ = Math.floor(0xffffffff / 4);
const PAGE_SIZE = 4096;
/** The pages of struct bpf_ringbuf before its data: the bookkeeping page, the consumer and producer pages. */
const RINGBUF_NR_META_PAGES = 3;

/** The record length of a header word: the sample length without the flag bits, plus the header, rounded up. */
export const recordLen = (hdrLen: number): number => roundUp8((hdrLen & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) + BPF_RINGBUF_HDR_SZ);

/** A sample reserved in a ring: `bytes` is what the writer fills (a view of the area, or a copy when it wraps). */
export interface RingSample {
  /** Position of the record header. */
  readonly pos: number;
  readonly size: number;
  readonly bytes: Uint8Array;
  /** The sample crosses the end of the area: `bytes` is a copy, written back on commit. */
  readonly wrapped: boolean;
  committed: boolean;
}

/** What the ring-buffer consumer hands out: the map and the sample bytes. */
export interface RingbufRecord {
  map: string;
  data: Uint8Array;
}

abstract class RingArea extends BpfMap {
  consumerPos = 0;
  producerPos = 0;
  private area: Uint8Array | null = null;

  get mask(): number {
    return this.maxEntries - 1;
  }

  /** Bytes between the consumer and the producer (records being written included). */
  get count(): number {
    return this.producerPos - this.consumerPos;
  }

  /** The data area (allocated on first use). */
  get data(): Uint8Array {
    return (this.area ??= new Uint8Array(this.maxEntries));
  }

  protected headerLen(pos: number): number {
    const d = this.data;
    const o = pos & this.mask;
    return (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24)) >>> 0;
  }

  protected setHeader(pos: number, len: number, pgOff: number): void {
    const dv = new DataView(this.data.buffer);
    const o = pos & this.mask;
    dv.setUint32(o, len >>> 0, true);
    dv.setUint32(o + 4, pgOff >>> 0, true);
  }

  /** bpf_ringbuf_rec_pg_off: the header's page offset from the start of struct bpf_ringbuf. */
  protected pgOff(pos: number): number {
    return RINGBUF_NR_META_PAGES + Math.floor((pos & this.mask) / PAGE_SIZE);
  }

  /** The `size` sample bytes after the header at `pos`: a view, or a copy when they wrap. */
  protected sampleAt(pos: number, size: number): RingSample {
    const start = (pos + BPF_RINGBUF_HDR_SZ) & this.mask;
    const d = this.data;
    if (start + size <= d.length) return { pos, size, bytes: d.subarray(start, start + size), wrapped: false, committed: false };
    const b = new Uint8Array(size);
    const first = d.length - start;
    b.set(d.subarray(start), 0);
    b.set(d.subarray(0, size - first), first);
    return { pos, size, bytes: b, wrapped: true, committed: false };
  }

  /** Writes a wrapped sample's copy back into the area. */
  protected writeBack(s: RingSample): void {
    if (!s.wrapped) return;
    const d = this.data;
    const start = (s.pos + BPF_RINGBUF_HDR_SZ) & this.mask;
    const first = d.length - start;
    d.set(s.bytes.subarray(0, first), start);
    d.set(s.bytes.subarray(first), 0);
  }

  protected sysLookup(): Uint8Array {
    this.fail('ENOTSUPP', 'lookup', `${this.typeName} maps are read through their mmap-ed area, not by key`);
  }
  protected sysUpdate(): void {
    this.fail('ENOTSUPP', 'update', `${this.typeName} maps are written through their mmap-ed area, not by key`);
  }
  protected sysDelete(): void {
    this.fail('ENOTSUPP', 'delete', `${this.typeName} maps have no keys`);
  }
  protected nextKey(): Uint8Array {
    this.fail('ENOTSUPP', 'get_next_key', `${this.typeName} maps have no keys`);
  }
  lookupElem(): ElemRef | null {
    this.refuseElemOp('lookup', `use the ring buffer helpers on ${this.typeName} maps`);
  }
  updateElem(): number {
    this.refuseElemOp('update', `use the ring buffer helpers on ${this.typeName} maps`);
  }
  deleteElem(): number {
    this.refuseElemOp('delete', `use the ring buffer helpers on ${this.typeName} maps`);
  }
}

/** BPF_MAP_TYPE_RINGBUF: programs produce (bpf_ringbuf_*), user space consumes. */
export class RingBufMap extends RingArea {
  /** The oldest record not yet committed (rb->pending_pos). */
  private pendingPos = 0;

  /** __bpf_ringbuf_reserve: the sample, or null when it does not fit. */
  reserve(size: number | bigint): RingSample | null {
    if (BigInt(size) > BigInt(RINGBUF_MAX_RECORD_SZ)) return null;
    const n = Number(size);
    const len = roundUp8(n + BPF_RINGBUF_HDR_SZ);
    if (len > this.maxEntries) return null;
    // Advance the pending position over records that are no longer busy.
    while (this.producerPos - this.pendingPos > 0) {
      const h = this.headerLen(this.pendingPos);
      if (h & BPF_RINGBUF_BUSY_BIT) break;
      this.pendingPos += recordLen(h);
    }
    const newProd = this.producerPos + len;
    if (newProd - this.consumerPos > this.mask || newProd - this.pendingPos > this.mask) return null;
    const pos = this.producerPos;
    this.setHeader(pos, (n | BPF_RINGBUF_BUSY_BIT) >>> 0, this.pgOff(pos));
    this.producerPos = newProd;
    return this.sampleAt(pos, n);
  }

  /** bpf_ringbuf_commit: clears BUSY (and sets DISCARD to discard); the wakeup flags have no effect here. */
  commit(s: RingSample, discard: boolean): void {
    if (s.committed) throw new Error(`ring buffer "${this.name}": the record at ${s.pos} was already submitted or discarded`);
    this.writeBack(s);
    let len = (this.headerLen(s.pos) ^ BPF_RINGBUF_BUSY_BIT) >>> 0;
    if (discard) len = (len | BPF_RINGBUF_DISCARD_BIT) >>> 0;
    new DataView(this.data.buffer).setUint32(s.pos & this.mask, len, true);
    s.committed = true;
  }

  /** bpf_ringbuf_output: -EINVAL for flags other than the wakeup ones, -EAGAIN when full, else 0. */
  output(data: Uint8Array, flags: bigint): number {
    if ((flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) !== 0n) return -ERRNO.EINVAL;
    const s = this.reserve(data.length);
    if (s === null) return -ERRNO.EAGAIN;
    s.bytes.set(data);
    this.commit(s, false);
    return 0;
  }

  /** bpf_ringbuf_query: available bytes, ring size, consumer or producer position; 0 for other flags. */
  query(flags: bigint): bigint {
    switch (flags) {
      case BPF_RB_AVAIL_DATA: return BigInt(this.producerPos - this.consumerPos);
      case BPF_RB_RING_SIZE: return BigInt(this.maxEntries);
      case BPF_RB_CONS_POS: return BigInt(this.consumerPos);
      case BPF_RB_PROD_POS: return BigInt(this.producerPos);
      default: return 0n;
    }
  }

  /**
   * Every record between the consumer and the producer position, without consuming: the header word (sample
   * length with the BUSY / DISCARD bits) and the sample bytes (what a reader of the mmap-ed area sees).
   */
  records(): { header: number; data: Uint8Array }[] {
    const out: { header: number; data: Uint8Array }[] = [];
    for (let pos = this.consumerPos; pos < this.producerPos; ) {
      const h = this.headerLen(pos);
      const len = (h & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) >>> 0;
      out.push({ header: h, data: this.sampleAt(pos, len).bytes.slice() });
      pos += recordLen(h);
    }
    return out;
  }

  /** The samples `consume` would return, without consuming them. */
  pending(): Uint8Array[] {
    const pos = this.consumerPos;
    try {
      return this.consume();
    } finally {
      this.consumerPos = pos;
    }
  }

  /**
   * The consumer (libbpf ring_buffer__consume / __poll): the committed samples from the consumer position on,
   * in order, discarded ones skipped, stopping at a record still being written or after `max` samples; the
   * consumer position advances past what was read.
   */
  consume(max = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (this.consumerPos < this.producerPos && out.length < max) {
      const h = this.headerLen(this.consumerPos);
      if (h & BPF_RINGBUF_BUSY_BIT) break;
      if (!(h & BPF_RINGBUF_DISCARD_BIT)) out.push(this.sampleAt(this.consumerPos, h).bytes.slice());
      this.consumerPos += recordLen(h);
    }
    return out;
  }
}

/** The error libbpf's user_ring_buffer__reserve leaves in errno, as a BpfMapError. */
function producerFail(map: BpfMap, code: ErrnoCode, detail: string): never {
  throw new BpfMapError(code, map.name, 'user_ring_buffer__reserve', detail);
}

/** BPF_MAP_TYPE_USER_RINGBUF: user space produces (the methods below), programs drain (bpf_user_ringbuf_drain). */
export class UserRingBufMap extends RingArea {
  /** rb->busy: a drain is running (a nested drain gets -EBUSY). */
  draining = false;

  /**
   * libbpf user_ring_buffer__reserve: a sample of `size` bytes (BUSY until submitted or discarded). E2BIG when
   * the record can never fit, ENOSPC when it does not fit now.
   */
  reserve(size: number): RingSample {
    if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) producerFail(this, 'EINVAL', `sample size ${size} is not a u32`);
    const total = roundUp8(size + BPF_RINGBUF_HDR_SZ);
    const avail = this.maxEntries - (this.producerPos - this.consumerPos);
    if (total > this.maxEntries) producerFail(this, 'E2BIG', `a ${size}-byte sample needs ${total} bytes, the ring has ${this.maxEntries}`);
    if (avail < total) producerFail(this, 'ENOSPC', `a ${size}-byte sample needs ${total} bytes, ${avail} are free`);
    const pos = this.producerPos;
    this.setHeader(pos, (size | BPF_RINGBUF_BUSY_BIT) >>> 0, 0);
    this.producerPos += total;
    return this.sampleAt(pos, size);
  }

  /** libbpf user_ring_buffer__submit / __discard. */
  submit(s: RingSample, discard = false): void {
    if (s.committed) throw new Error(`user ring buffer "${this.name}": the sample at ${s.pos} was already submitted or discarded`);
    this.writeBack(s);
    const len = (s.size | (discard ? BPF_RINGBUF_DISCARD_BIT : 0)) >>> 0;
    new DataView(this.data.buffer).setUint32(s.pos & this.mask, len, true);
    s.committed = true;
  }

  discard(s: RingSample): void {
    this.submit(s, true);
  }

  /** Reserves, fills and submits one sample. */
  produce(data: Uint8Array): void {
    const s = this.reserve(data.length);
    s.bytes.set(data);
    this.submit(s);
  }

  /**
   * __bpf_user_ringbuf_peek: the next sample; 'none' when there is none ready (empty, or the next one is still
   * BUSY); 'discarded' after skipping a discarded one; or a negative errno for a corrupt record.
   */
  peek(): RingSample | 'none' | 'discarded' | number {
    if (this.producerPos % 8) return -ERRNO.EINVAL;
    if (this.consumerPos >= this.producerPos) return 'none';
    const h = this.headerLen(this.consumerPos);
    const flags = (h & (BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) >>> 0;
    const len = (h & ~flags) >>> 0;
    const total = roundUp8(len + BPF_RINGBUF_HDR_SZ);
    if (total > this.producerPos - this.consumerPos) return -ERRNO.EINVAL;
    if (total > this.maxEntries) return -ERRNO.E2BIG;
    if (len > DYNPTR_MAX_SIZE) return -ERRNO.E2BIG;
    if (flags & BPF_RINGBUF_DISCARD_BIT) {
      this.consumerPos += total;
      return 'discarded';
    }
    if (flags & BPF_RINGBUF_BUSY_BIT) return 'none';
    return this.sampleAt(this.consumerPos, len);
  }

  /** __bpf_user_ringbuf_sample_release: the consumer moves past the sample (a wrapped copy is written back). */
  release(s: RingSample): void {
    this.writeBack(s);
    this.consumerPos += roundUp8(s.size + BPF_RINGBUF_HDR_SZ);
  }
}

/** DYNPTR_MAX_SIZE: the largest sample a dynptr can describe. */
export const DYNPTR_MAX_SIZE = (1 << 24) - 1;

for (const t of [BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_USER_RINGBUF]) {
  registerMapType(t, (a, s, o) => {
    if (s.flags & ~BPF_F_NUMA_NODE) createFail(s, 'EINVAL', `map_flags 0x${(s.flags & ~BPF_F_NUMA_NODE).toString(16)} are not allowed for ring buffers`);
    if (s.keySize !== 0 || s.valueSize !== 0) createFail(s, 'EINVAL', `ring buffers take key_size 0 and value_size 0 (got ${s.keySize} and ${s.valueSize})`);
    const n = s.maxEntries;
    if (n === 0 || (n & (n - 1)) !== 0 || n % PAGE_SIZE !== 0) createFail(s, 'EINVAL', `max_entries ${n} is not a power of 2 and a multiple of the page size (${PAGE_SIZE})`);
    if (n > MODEL_MAX_ARRAY_BYTES) createFail(s, 'ENOMEM', `a ${n}-byte ring is above the model's limit of ${MODEL_MAX_ARRAY_BYTES} bytes`);
    return t === BPF_MAP_TYPE_RINGBUF ? new RingBufMap(a, o) : new UserRingBufMap(a, o);
  });
}

/** What a libbpf consumer of every ring buffer of a collection would read now (map order), without consuming. */
export function ringbufRecords(maps: Maps): RingbufRecord[] {
  const out: RingbufRecord[] = [];
  for (const m of maps.list) {
    if (m instanceof RingBufMap) for (const data of m.pending()) out.push({ map: m.name, data });
  }
  return out;
}

/** Consumes every ring buffer of a collection (in map order): what a libbpf consumer would read after a run. */
export function consumeRingbufs(maps: Maps): RingbufRecord[] {
  const out: RingbufRecord[] = [];
  for (const m of maps.list) {
    if (m instanceof RingBufMap) for (const data of m.consume()) out.push({ map: m.name, data });
  }
  return out;
}
