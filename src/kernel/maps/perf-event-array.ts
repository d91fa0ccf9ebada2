// BPF_MAP_TYPE_PERF_EVENT_ARRAY (4) with bpf_perf_event_output's records captured instead of written to perf
// ring buffers (kernel/bpf/arraymap.c, kernel/trace/bpf_trace.c bpf_event_output / __bpf_perf_event_output).
//
// The model has no perf events: a slot becomes usable with `open(index, cpu)`, the counterpart of
// perf_event_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_BPF_OUTPUT, cpu) + a map update with its fd. Records that
// programs output are appended to `records` (and handed to `onRecord`), like the lines of a perf buffer reader.
// User space: update with an fd is -EBADF (the model has no perf event fds), lookup -ENOTSUPP, delete clears a
// slot (-ENOENT when empty); get_next_key walks indices like an array (FdArrayMap, fdarray.ts).

import type { HelperFn } from '../../../vm/interpreter.js';
import { fdArrayCheck, registerMapType } from './create.js';
import { FdArrayMap } from './fdarray.js';
import { mapArg, type ElemRef } from './map.js';
import { ERRNO } from './errors.js';

export const BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4;
export const BPF_F_INDEX_MASK = 0xffffffffn;
export const BPF_F_CURRENT_CPU = 0xffffffffn;
/** BPF_F_CTXLEN_MASK: the skb flavour's count of packet bytes appended to the record (flags bits 32..51). */
export const BPF_F_CTXLEN_MASK = 0xfffffn << 32n;
const { EINVAL, EFAULT, E2BIG, ENOENT, EOPNOTSUPP } = ERRNO;

export interface PerfRecord {
  /** The map's name and the slot the record went to. */
  map: string;
  index: number;
  /** The bytes the program passed (data, size). */
  data: Uint8Array;
}

/** What a slot holds: an open BPF_OUTPUT perf event, on its CPU. */
interface PerfEventRef {
  readonly cpu: number;
}

export class PerfEventArrayMap extends FdArrayMap<PerfEventRef> {
  readonly records: PerfRecord[] = [];
  onRecord: ((r: PerfRecord) => void) | null = null;

  override get count(): number {
    return this.maxEntries;
  }

  /** Puts an open BPF_OUTPUT perf event for `cpu` (default: the index) into slot `index`. */
  open(index: number, cpu = index): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.maxEntries) this.fail('E2BIG', 'update', `index ${index} is outside max_entries ${this.maxEntries}`);
    this.slots[index] = { cpu };
  }

  /** The CPU of the event in slot `index`, or null when the slot is empty. */
  slotCpu(index: number): number | null {
    return this.slots[index]?.cpu ?? null;
  }

  /**
   * __bpf_perf_event_output for a program on `cpu`: index = flags' low 32 bits (BPF_F_CURRENT_CPU: `cpu`);
   * -E2BIG past max_entries, -ENOENT for an empty slot, -EOPNOTSUPP when the slot's event is on another CPU;
   * else the record is captured and 0 returned.
   */
  output(flags: bigint, cpu: number, data: Uint8Array): number {
    let index = flags & BPF_F_INDEX_MASK;
    if (index === BPF_F_CURRENT_CPU) index = BigInt(cpu);
    if (index >= BigInt(this.maxEntries)) return -E2BIG;
    const on = this.slots[Number(index)];
    if (on === null || on === undefined) return -ENOENT;
    if (on.cpu !== cpu) return -EOPNOTSUPP;
    const r: PerfRecord = { map: this.name, index: Number(index), data: data.slice() };
    this.records.push(r);
    this.onRecord?.(r);
    return 0;
  }

  protected idOf(): number {
    return 0;
  }

  protected accept(): PerfEventRef {
    this.fail('EBADF', 'update', 'the model has no perf event fds: use PerfEventArrayMap.open(index, cpu)');
  }

  protected override sysLookup(): Uint8Array {
    this.fail('ENOTSUPP', 'lookup', 'perf event arrays cannot be read from user space');
  }

  // Every update is EBADF, before FdArrayMap's flags and index checks (the kernel checks those first:
  // bpf_fd_array_map_update_elem; kept as it was).
  protected override sysUpdate(): void {
    this.accept();
  }

  override lookupElem(): ElemRef | null {
    this.fail('EINVAL', 'lookup_elem', 'programs use bpf_perf_event_output on perf event arrays (the verifier refuses map helpers)');
  }
  override updateElem(): number {
    this.fail('EINVAL', 'update_elem', 'programs use bpf_perf_event_output on perf event arrays (the verifier refuses map helpers)');
  }
  override deleteElem(): number {
    this.fail('EINVAL', 'delete_elem', 'programs use bpf_perf_event_output on perf event arrays (the verifier refuses map helpers)');
  }
}

registerMapType(BPF_MAP_TYPE_PERF_EVENT_ARRAY, (a, s, o) => (fdArrayCheck(s, o.nrCpus ?? 2), new PerfEventArrayMap(a, o)));

/**
 * bpf_perf_event_output (25)(ctx, map, flags, data, size) on CPU 0. Without `ctxBytes` the flavour of SK_MSG /
 * SOCK_OPS (bpf_event_output_data): flags other than the index bits → -EINVAL. With `ctxBytes` (the skb's bytes
 * from skb->data, all skb->len of them) the SK_SKB flavour (bpf_skb_event_output): flags may also carry
 * BPF_F_CTXLEN_MASK = n, the number of packet bytes appended after data; other bits → -EINVAL, n > skb->len →
 * -EFAULT; the record is data followed by the first n packet bytes.
 */
export function perfEventOutputHelper(ctxBytes?: () => Uint8Array): HelperFn {
  return (v, pc) => {
    const map = mapArg(v, pc, 2, PerfEventArrayMap, 'bpf_perf_event_output', 'a perf event array');
    const flags = v.reg(3);
    const allowed = ctxBytes === undefined ? BPF_F_INDEX_MASK : BPF_F_INDEX_MASK | BPF_F_CTXLEN_MASK;
    if ((flags & ~allowed) !== 0n) return v.setR0Int(-EINVAL);
    const data = v.space.read(pc, v.lo[4]!, v.hi[4]!, v.lo[5]! >>> 0);
    if (ctxBytes === undefined) return v.setR0Int(map.output(flags, 0, data));
    const n = Number((flags & BPF_F_CTXLEN_MASK) >> 32n);
    const pkt = ctxBytes();
    if (n > pkt.length) return v.setR0Int(-EFAULT);
    const rec = new Uint8Array(data.length + n);
    rec.set(data);
    rec.set(pkt.subarray(0, n), data.length);
    v.setR0Int(map.output(flags & BPF_F_INDEX_MASK, 0, rec));
  };
}
