// BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY (kernel/bpf/arraymap.c). Every index below max_entries
// always exists (zero-filled at creation); elements are round_up(value_size, 8) bytes apart. A per-CPU array
// holds one such slot per possible CPU for every index.

import { BPF_EXIST, BPF_F_LOCK, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_NOEXIST, roundUp8 } from './constants.js';
import { ERRNO } from './errors.js';
import { copyMapValue, freeValueFields } from './fields.js';
import { BpfMap, normFlags, u32Bytes, u32le, type MapAttrs, type MapOptions, type MapValueInput } from './map.js';

export class ArrayMap extends BpfMap {
  readonly percpu: boolean;
  /** round_up(value_size, 8) */
  readonly elemSize: number;
  /** All values: [index][cpu][elemSize] (cpu dimension only for per-CPU arrays). */
  readonly storage: Uint8Array;
  /** Cached value_size-byte views, so that every lookup of an element returns the same object. */
  private readonly views = new Map<number, Uint8Array>();

  constructor(attrs: MapAttrs, opts: MapOptions = {}) {
    super(attrs, opts);
    this.percpu = attrs.type === BPF_MAP_TYPE_PERCPU_ARRAY;
    this.elemSize = roundUp8(attrs.valueSize);
    this.storage = new Uint8Array(this.maxEntries * this.elemSize * (this.percpu ? this.nrCpus : 1));
  }

  override get sysValueSize(): number {
    return this.percpu ? this.elemSize * this.nrCpus : this.valueSize;
  }

  get count(): number {
    return this.maxEntries;
  }

  private slot(index: number, cpu: number): number {
    return this.percpu ? (index * this.nrCpus + cpu) * this.elemSize : index * this.elemSize;
  }

  /** The value_size bytes of element `index` on `cpu` (cpu ignored for plain arrays). */
  view(index: number, cpu = 0): Uint8Array {
    const off = this.slot(index, cpu);
    let v = this.views.get(off);
    if (v === undefined) {
      v = this.storage.subarray(off, off + this.valueSize);
      this.views.set(off, v);
    }
    return v;
  }

  // ---- user space ----

  protected sysLookup(key: Uint8Array): Uint8Array {
    const index = u32le(key);
    if (index >= this.maxEntries) this.fail('ENOENT', 'lookup', `index ${index} is not below max_entries ${this.maxEntries}`);
    if (!this.percpu) return this.view(index).slice();
    const off = this.slot(index, 0);
    return this.storage.slice(off, off + this.elemSize * this.nrCpus);
  }

  protected sysUpdate(key: Uint8Array, value: MapValueInput, flags: number): void {
    const bytes = this.valueBytes('update', value);
    const index = u32le(key);
    // bpf_percpu_array_update checks the whole flags word; array_map_update_elem masks BPF_F_LOCK first (which
    // the syscall layer already refused, so both read the same here).
    if ((flags & ~BPF_F_LOCK) >>> 0 > BPF_EXIST) this.fail('EINVAL', 'update', `unknown flags 0x${flags.toString(16)}`);
    if (index >= this.maxEntries) this.fail('E2BIG', 'update', `index ${index} is not below max_entries ${this.maxEntries}`);
    if (flags & BPF_NOEXIST) this.fail('EEXIST', 'update', `BPF_NOEXIST: array element ${index} always exists`);
    if (this.percpu) {
      // copy_map_value_long: the user's round_up(value_size, 8) bytes per CPU, padding included (special
      // fields, i.e. kptrs, skipped).
      for (let c = 0; c < this.nrCpus; c++) {
        const off = this.slot(index, c);
        copyMapValue(this.layout, this.storage.subarray(off, off + this.elemSize), bytes.subarray(c * this.elemSize, (c + 1) * this.elemSize));
      }
    } else {
      // copy_map_value (the special fields stay), then bpf_obj_free_fields (the element's timer is cancelled).
      const v = this.view(index);
      copyMapValue(this.layout, v, bytes);
      freeValueFields(this.layout, v);
    }
  }

  protected sysDelete(key: Uint8Array): void {
    void key;
    this.fail('EINVAL', 'delete', 'array elements cannot be deleted');
  }

  protected nextKey(key: Uint8Array | null): Uint8Array {
    const index = key === null ? 0xffffffff : u32le(key);
    if (index >= this.maxEntries) return u32Bytes(0);
    if (index === this.maxEntries - 1) this.fail('ENOENT', 'get_next_key', `index ${index} is the last one`);
    return u32Bytes(index + 1);
  }

  // ---- programs ----

  lookupElem(key: Uint8Array, cpu: number): Uint8Array | null {
    const index = u32le(key);
    if (index >= this.maxEntries) return null;
    return this.view(index, this.percpu ? cpu : 0);
  }

  override lookupPercpuElem(key: Uint8Array, cpu: number): Uint8Array | null {
    if (!this.percpu) return super.lookupPercpuElem(key, cpu);
    if (cpu >>> 0 >= this.nrCpus) return null;
    return this.lookupElem(key, cpu);
  }

  updateElem(key: Uint8Array, value: Uint8Array, flags: number | bigint, cpu: number): number {
    const f = normFlags(flags);
    const index = u32le(key);
    if ((f & ~BPF_F_LOCK) >>> 0 > BPF_EXIST) return -ERRNO.EINVAL;
    if (index >= this.maxEntries) return -ERRNO.E2BIG;
    if (f & BPF_NOEXIST) return -ERRNO.EEXIST;
    if (f & BPF_F_LOCK && this.layout.spinLock < 0) return -ERRNO.EINVAL; // no bpf_spin_lock in the value
    const v = this.view(index, this.percpu ? cpu : 0);
    copyMapValue(this.layout, v, value.subarray(0, this.valueSize));
    freeValueFields(this.layout, v);
    return 0;
  }

  deleteElem(key: Uint8Array, cpu: number): number {
    void key;
    void cpu;
    return -ERRNO.EINVAL;
  }
}
