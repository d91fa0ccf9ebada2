// Special fields of map values (bpf_spin_lock, bpf_timer, kptrs, ...; found in the value's BTF by
// src/btf/fields.ts) and what the map model does with them, as the kernel does:
//  - map_check_btf at creation: a map whose value has special fields may not be BPF_F_RDONLY_PROG /
//    BPF_F_WRONLY_PROG (EACCES); bpf_spin_lock only in HASH, ARRAY, CGROUP_STORAGE, SK/INODE/TASK/CGRP_STORAGE,
//    bpf_timer / bpf_wq / graph roots only in HASH, LRU_HASH, ARRAY, kptrs in the hash / array / local-storage
//    families (else EOPNOTSUPP).
//  - copy_map_value: updates (user space and programs) copy every byte except the special fields, so the lock
//    word and the timer of an element survive an update of its data; user-space lookups return zeroes there.
//  - bpf_obj_free_fields: when an element is deleted, replaced (hash), evicted (LRU) or updated (array), its
//    timer is cancelled and freed (the timer module registers a handler per value: onValueFree).
//  - BPF_F_LOCK (user space and bpf_map_update_elem) is valid only with a bpf_spin_lock in the value.

import type { MapValueFields, ValueField } from '../../btf/fields.js';
import type { BpfMap } from './map.js';
import { BpfMapError } from './errors.js';
import { BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG } from './constants.js';

const LOCK_TYPES = new Set([1, 2, 19, 24, 28, 29, 32]); // HASH ARRAY CGROUP_STORAGE SK/INODE/TASK/CGRP_STORAGE
const TIMER_TYPES = new Set([1, 9, 2]); // HASH LRU_HASH ARRAY
const KPTR_TYPES = new Set([1, 5, 9, 10, 2, 6, 24, 28, 29, 32]);

/** The special fields of a live map's value. */
export class ValueLayout {
  /** Offset of the bpf_spin_lock (-1: none). */
  readonly spinLock: number;
  /** Offset of the bpf_timer (-1: none). */
  readonly timer: number;
  constructor(readonly fields: readonly ValueField[]) {
    this.spinLock = fields.find((f) => f.kind === 'spin_lock')?.offset ?? -1;
    this.timer = fields.find((f) => f.kind === 'timer')?.offset ?? -1;
  }
}

export const NO_FIELDS = new ValueLayout([]);

/** map_check_btf's field rules for `map` (after the type's own checks); returns the layout or throws BpfMapError. */
export function checkValueFields(map: Pick<BpfMap, 'name' | 'type' | 'typeName' | 'flags' | 'valueSize'>, vf: MapValueFields | undefined): ValueLayout {
  if (vf === undefined || vf.fields.length === 0) return NO_FIELDS;
  const fail = (code: 'EACCES' | 'EOPNOTSUPP' | 'EINVAL', detail: string): never => {
    throw new BpfMapError(code, map.name, 'create', detail);
  };
  if (map.flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) fail('EACCES', `a value with special fields (${vf.fields.map((f) => f.kind).join(', ')}) cannot be BPF_F_RDONLY_PROG / BPF_F_WRONLY_PROG`);
  for (const f of vf.fields) {
    const ok = f.kind === 'spin_lock' ? LOCK_TYPES : f.kind === 'timer' || f.kind === 'wq' || f.kind === 'list_head' || f.kind === 'rb_root' ? TIMER_TYPES : f.kind.includes('kptr') || f.kind === 'refcount' ? KPTR_TYPES : null;
    if (ok === null || !ok.has(map.type)) fail('EOPNOTSUPP', `a ${map.typeName} map cannot hold a ${f.kind} field (offset ${f.offset})`);
    if (f.offset + f.size > map.valueSize) fail('EINVAL', `the ${f.kind} field at offset ${f.offset} is outside the ${map.valueSize}-byte value`);
  }
  return new ValueLayout(vf.fields);
}

/** copy_map_value: `src` into `dst` except the special fields of `layout`. */
export function copyMapValue(layout: ValueLayout, dst: Uint8Array, src: Uint8Array): void {
  if (layout.fields.length === 0) {
    dst.set(src.subarray(0, dst.length));
    return;
  }
  let at = 0;
  for (const f of layout.fields) {
    if (f.offset > at) dst.set(src.subarray(at, f.offset), at);
    at = Math.max(at, f.offset + f.size);
  }
  if (at < dst.length) dst.set(src.subarray(at, dst.length), at);
}

/** check_and_init_map_value: zeroes the special fields of a copy handed to user space. */
export function zeroSpecialFields(layout: ValueLayout, v: Uint8Array): Uint8Array {
  for (const f of layout.fields) v.fill(0, f.offset, f.offset + f.size);
  return v;
}

const freeHandlers = new WeakMap<Uint8Array, () => void>();

/** Registers what bpf_obj_free_fields must do for a value (one handler per value: its timer). */
export function onValueFree(view: Uint8Array, handler: () => void): void {
  freeHandlers.set(view, handler);
}

/** bpf_obj_free_fields: cancels and frees the value's timer (and clears it), when it has special fields. */
export function freeValueFields(layout: ValueLayout, view: Uint8Array): void {
  if (layout.fields.length === 0) return;
  const h = freeHandlers.get(view);
  if (h !== undefined) {
    freeHandlers.delete(view);
    h();
  }
  for (const f of layout.fields) if (f.kind !== 'spin_lock') view.fill(0, f.offset, f.offset + f.size);
}
