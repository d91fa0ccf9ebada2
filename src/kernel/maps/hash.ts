// The hash family (kernel/bpf/hashtab.c): HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH and HASH_OF_MAPS.
//
// Layout and order. n_buckets = roundup_pow_of_two(max_entries); an element lives in bucket
// htab_map_hash(key) & (n_buckets - 1), and new elements go to the head of their bucket. get_next_key walks the
// rest of the key's bucket, then the following buckets in index order; an unknown key restarts from the first
// bucket. The kernel seeds the hash with a random number unless BPF_F_ZERO_SEED is set; the model always uses
// seed 0, so its order is exactly the kernel's order for a map created with BPF_F_ZERO_SEED and the same history
// of updates and deletes (and some fixed permutation of it otherwise).
//
// Replacing a value. HASH and LRU_HASH (and HASH_OF_MAPS) replace an existing key by a *new* element at the head
// of the bucket (so the key moves in get_next_key order, and a pointer a program got from an earlier lookup no
// longer refers to the map's element: in the model it keeps its old bytes, detached). PERCPU_HASH and
// LRU_PERCPU_HASH update in place.
//
// Capacity. HASH / PERCPU_HASH / HASH_OF_MAPS refuse a new key with E2BIG when max_entries elements exist
// (preallocated or not); replacing an existing key always works.
//
// LRU (an approximation): the kernel's LRU is a set of active/inactive lists with
// reference bits and per-CPU free lists, and it starts evicting *before* the map is full (it refills a local
// free list of clamp(max_entries / nr_cpus / 2, 1, 128) nodes at a time, shrinking the LRU lists when the
// global free list runs short). The model keeps one exact recency order: an element becomes most recent when it
// is created, replaced, updated in place, or looked up by a program (user-space lookups do not touch it, like
// the kernel's lookup_elem_sys_only); a new element is taken only when the map is full, by evicting the least
// recently used one. Like the kernel, LRU updates that need a new node take it (evicting if need be) *before*
// the flags are checked, so a failing BPF_NOEXIST update can still evict another key.

import {
  BPF_EXIST,
  BPF_F_LOCK,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_NOEXIST,
  roundUp8,
} from './constants.js';
import { ERRNO } from './errors.js';
import { copyMapValue, freeValueFields } from './fields.js';
import { htabHash } from './jhash.js';
import { BpfMap, hexKey, normFlags, u32Bytes, type ElemRef, type MapAttrs, type MapOptions, type MapValueInput } from './map.js';

class HtabElem {
  constructor(
    readonly key: Uint8Array,
    readonly hex: string,
    readonly hash: number,
    /** round_up(value_size, 8) bytes, or one such slot per CPU for per-CPU maps; empty for HASH_OF_MAPS. */
    readonly value: Uint8Array,
    /** The inner map of a HASH_OF_MAPS element. */
    readonly inner: BpfMap | null,
  ) {}
  /** value_size-byte views per CPU (index 0 for plain maps), created on first use. */
  views: Uint8Array[] = [];
}

function roundupPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class HashMap extends BpfMap {
  readonly percpu: boolean;
  readonly lru: boolean;
  readonly ofMaps: boolean;
  readonly nBuckets: number;
  readonly elemSize: number;
  /** The hash seed: always 0 (the kernel's BPF_F_ZERO_SEED). */
  readonly seed = 0;
  /** Inner map template of a HASH_OF_MAPS (what updates are checked against). */
  readonly innerMeta: BpfMap | null;

  private readonly byKey = new Map<string, HtabElem>();
  private readonly buckets = new Map<number, HtabElem[]>();
  /** Indices of non-empty buckets, ascending. */
  private readonly nonEmpty: number[] = [];
  /** LRU recency, least recent first (Map iteration order). */
  private readonly recency = new Map<string, HtabElem>();

  constructor(attrs: MapAttrs, opts: MapOptions & { innerMeta?: BpfMap } = {}) {
    super(attrs, opts);
    this.percpu = attrs.type === BPF_MAP_TYPE_PERCPU_HASH || attrs.type === BPF_MAP_TYPE_LRU_PERCPU_HASH;
    this.lru = attrs.type === BPF_MAP_TYPE_LRU_HASH || attrs.type === BPF_MAP_TYPE_LRU_PERCPU_HASH;
    this.ofMaps = attrs.type === BPF_MAP_TYPE_HASH_OF_MAPS;
    this.nBuckets = roundupPow2(this.maxEntries);
    this.elemSize = roundUp8(attrs.valueSize);
    this.innerMeta = opts.innerMeta ?? null;
  }

  override get sysValueSize(): number {
    return this.percpu ? this.elemSize * this.nrCpus : this.ofMaps ? 4 : this.valueSize;
  }

  get count(): number {
    return this.byKey.size;
  }

  /** The bucket a key hashes to. */
  bucketOf(key: Uint8Array): number {
    return htabHash(key, this.seed) & (this.nBuckets - 1);
  }

  // ---- element bookkeeping ----

  private find(key: Uint8Array): HtabElem | undefined {
    return this.byKey.get(hexKey(key));
  }

  private newElem(key: Uint8Array, inner: BpfMap | null): HtabElem {
    const k = key.slice();
    const size = this.ofMaps ? 0 : this.percpu ? this.elemSize * this.nrCpus : this.elemSize;
    return new HtabElem(k, hexKey(k), htabHash(k, this.seed), new Uint8Array(size), inner);
  }

  private view(e: HtabElem, cpu: number): Uint8Array {
    const c = this.percpu ? cpu : 0;
    let v = e.views[c];
    if (v === undefined) {
      const off = c * this.elemSize;
      v = e.value.subarray(off, off + this.valueSize);
      e.views[c] = v;
    }
    return v;
  }

  /** Puts `e` at the head of its bucket (hlist_nulls_add_head_rcu). */
  private link(e: HtabElem): void {
    const b = e.hash & (this.nBuckets - 1);
    let list = this.buckets.get(b);
    if (list === undefined) {
      list = [];
      this.buckets.set(b, list);
      let lo = 0;
      let hi = this.nonEmpty.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.nonEmpty[mid]! < b) lo = mid + 1;
        else hi = mid;
      }
      this.nonEmpty.splice(lo, 0, b);
    }
    list.unshift(e);
    this.byKey.set(e.hex, e);
    if (this.lru) this.recency.set(e.hex, e);
  }

  private unlink(e: HtabElem): void {
    const b = e.hash & (this.nBuckets - 1);
    const list = this.buckets.get(b)!;
    list.splice(list.indexOf(e), 1);
    if (list.length === 0) {
      this.buckets.delete(b);
      this.nonEmpty.splice(this.nonEmpty.indexOf(b), 1);
    }
    if (this.byKey.get(e.hex) === e) this.byKey.delete(e.hex);
    if (this.lru && this.recency.get(e.hex) === e) this.recency.delete(e.hex);
    // bpf_obj_free_fields of the freed element: its timer is cancelled.
    if (!this.percpu && !this.ofMaps) freeValueFields(this.layout, this.view(e, 0));
  }

  private touch(e: HtabElem): void {
    if (!this.lru) return;
    this.recency.delete(e.hex);
    this.recency.set(e.hex, e);
  }

  /** LRU: make room for one new node, evicting the least recently used element when the map is full. */
  private lruPop(): void {
    if (this.byKey.size < this.maxEntries) return;
    const victim = this.recency.values().next().value;
    if (victim !== undefined) this.unlink(victim);
  }

  /** Least recently used first (LRU maps only; the order the model evicts in). */
  lruOrder(): Uint8Array[] {
    return [...this.recency.values()].map((e) => e.key.slice());
  }

  private writeValue(e: HtabElem, value: Uint8Array, onAllCpus: boolean, cpu: number, fresh: boolean): void {
    if (!this.percpu) {
      copyMapValue(this.layout, this.view(e, 0), value.subarray(0, this.valueSize));
      return;
    }
    if (onAllCpus) {
      // One round_up(value_size, 8) slot per CPU; special fields (kptrs) are skipped, as copy_map_value_long does.
      for (let c = 0; c < this.nrCpus; c++) {
        const off = c * this.elemSize;
        copyMapValue(this.layout, e.value.subarray(off, off + this.elemSize), value.subarray(off, off + this.elemSize));
      }
      return;
    }
    // A program writes its own CPU's slot; a new element starts with zeros on the other CPUs.
    if (fresh) e.value.fill(0);
    copyMapValue(this.layout, this.view(e, cpu), value.subarray(0, this.valueSize));
  }

  /**
   * The update paths of hashtab.c, shared by user space (onAllCpus, the value holds every CPU's slot) and
   * programs. Returns 0 or -errno.
   */
  private doUpdate(key: Uint8Array, value: Uint8Array | null, inner: BpfMap | null, flags: number, onAllCpus: boolean, cpu: number): number {
    const f = flags >>> 0;
    const plain = !this.percpu && !this.lru; // HASH, HASH_OF_MAPS
    // htab_map_update_elem masks BPF_F_LOCK before the check; the percpu and LRU variants do not.
    if ((plain ? (f & ~BPF_F_LOCK) >>> 0 : f) > BPF_EXIST) return -ERRNO.EINVAL;
    if (f & BPF_F_LOCK && this.layout.spinLock < 0) return -ERRNO.EINVAL; // no bpf_spin_lock in the value
    const op = f & ~BPF_F_LOCK;
    if (f & BPF_F_LOCK) {
      // With a bpf_spin_lock: an existing element is updated in place under its lock (copy_map_value_locked).
      const cur = this.find(key);
      if (cur !== undefined && op === BPF_NOEXIST) return -ERRNO.EEXIST;
      if (cur === undefined && op === BPF_EXIST) return -ERRNO.ENOENT;
      if (cur !== undefined) {
        copyMapValue(this.layout, this.view(cur, 0), value!.subarray(0, this.valueSize));
        return 0;
      }
    }
    if (this.lru && !(this.percpu && op === BPF_EXIST)) this.lruPop();
    const old = this.find(key);
    if (old !== undefined && op === BPF_NOEXIST) return -ERRNO.EEXIST;
    if (old === undefined && op === BPF_EXIST) return -ERRNO.ENOENT;
    if (this.percpu && old !== undefined) {
      this.writeValue(old, value!, onAllCpus, cpu, false);
      this.touch(old);
      return 0;
    }
    if (old === undefined && !this.lru && this.byKey.size >= this.maxEntries) return -ERRNO.E2BIG;
    const e = this.newElem(key, inner);
    if (value !== null) this.writeValue(e, value, onAllCpus, cpu, true);
    if (old !== undefined) this.unlink(old);
    this.link(e);
    return 0;
  }

  // ---- user space ----

  protected sysLookup(key: Uint8Array): Uint8Array {
    const e = this.find(key);
    if (e === undefined) this.fail('ENOENT', 'lookup', 'no such key');
    if (this.ofMaps) return u32Bytes(e.inner!.id);
    if (this.percpu) return e.value.slice();
    return this.view(e, 0).slice();
  }

  protected sysUpdate(key: Uint8Array, value: MapValueInput, flags: number): void {
    let bytes: Uint8Array | null = null;
    let inner: BpfMap | null = null;
    if (this.ofMaps) {
      // bpf_fd_htab_map_update_elem resolves the inner map first, then runs the hash update.
      inner = checkInner(this, this.innerMeta, value, 'update');
    } else {
      bytes = this.valueBytes('update', value);
    }
    const r = this.doUpdate(key, bytes, inner, flags, true, 0);
    if (r !== 0) this.failErrno(r, 'update', flags);
  }

  protected sysDelete(key: Uint8Array): void {
    const e = this.find(key);
    if (e === undefined) this.fail('ENOENT', 'delete', 'no such key');
    this.unlink(e);
  }

  /** htab_map_lookup_and_delete_elem (hash, percpu_hash, lru_hash, lru_percpu_hash; not hash_of_maps). */
  protected override sysLookupAndDelete(key: Uint8Array): Uint8Array {
    if (this.ofMaps) return super.sysLookupAndDelete(key);
    const e = this.find(key);
    if (e === undefined) this.fail('ENOENT', 'lookup_and_delete', 'no such key');
    const v = this.percpu ? e.value.slice() : this.view(e, 0).slice();
    this.unlink(e);
    return v;
  }

  protected nextKey(key: Uint8Array | null): Uint8Array {
    let start = 0;
    if (key !== null) {
      const e = this.find(key);
      if (e !== undefined) {
        const b = e.hash & (this.nBuckets - 1);
        const list = this.buckets.get(b)!;
        const next = list[list.indexOf(e) + 1];
        if (next !== undefined) return next.key.slice();
        start = b + 1;
      }
    }
    for (const b of this.nonEmpty) {
      if (b >= start) return this.buckets.get(b)![0]!.key.slice();
    }
    this.fail('ENOENT', 'get_next_key', key === null ? 'the map is empty' : 'no more keys');
  }

  private failErrno(r: number, op: string, flags: number): never {
    const detail =
      r === -ERRNO.EINVAL ? `invalid flags 0x${flags.toString(16)}` :
      r === -ERRNO.EEXIST ? 'BPF_NOEXIST: the key exists' :
      r === -ERRNO.ENOENT ? 'BPF_EXIST: no such key' :
      r === -ERRNO.E2BIG ? `the map is full (max_entries ${this.maxEntries})` : `error ${r}`;
    const code = r === -ERRNO.EINVAL ? 'EINVAL' : r === -ERRNO.EEXIST ? 'EEXIST' : r === -ERRNO.ENOENT ? 'ENOENT' : 'E2BIG';
    this.fail(code, op, detail);
  }

  // ---- programs ----

  lookupElem(key: Uint8Array, cpu: number): ElemRef | null {
    const e = this.find(key);
    if (e === undefined) return null;
    this.touch(e);
    if (this.ofMaps) return e.inner;
    return this.view(e, cpu);
  }

  override lookupPercpuElem(key: Uint8Array, cpu: number): Uint8Array | null {
    if (!this.percpu) return super.lookupPercpuElem(key, cpu);
    if (cpu >>> 0 >= this.nrCpus) return null;
    const e = this.find(key);
    if (e === undefined) return null;
    this.touch(e);
    return this.view(e, cpu);
  }

  updateElem(key: Uint8Array, value: Uint8Array, flags: number | bigint, cpu: number): number {
    if (this.ofMaps) this.fail('EOPNOTSUPP', 'update', 'programs cannot update a hash_of_maps (only bpf_map_lookup_elem is allowed)');
    return this.doUpdate(key, value, null, normFlags(flags), false, cpu);
  }

  /**
   * bpf_for_each_map_elem's walk (bpf_for_each_hash_elem): buckets in index order, each bucket head first, the
   * value on `cpu` for per-CPU maps; `fn` returns true to stop. A bucket is read when the walk reaches it (the
   * kernel's _safe iteration: deleting the current element inside the callback does not end the walk).
   * Does not touch the LRU order. Returns the number of elements visited.
   */
  forEachElem(cpu: number, fn: (key: Uint8Array, value: Uint8Array) => boolean): number {
    let n = 0;
    for (let b = 0; b < this.nBuckets; b++) {
      const list = this.buckets.get(b);
      if (list === undefined) continue;
      for (const e of [...list]) {
        n++;
        if (fn(e.key, this.view(e, cpu))) return n;
      }
    }
    return n;
  }

  /** The key of the element whose value bytes are `view` (a value a program holds), or null. */
  keyOfValue(view: Uint8Array): Uint8Array | null {
    for (const e of this.byKey.values()) if (e.views.includes(view)) return e.key;
    return null;
  }

  deleteElem(key: Uint8Array, cpu: number): number {
    void cpu;
    if (this.ofMaps) this.fail('EOPNOTSUPP', 'delete', 'programs cannot delete from a hash_of_maps (only bpf_map_lookup_elem is allowed)');
    const e = this.find(key);
    if (e === undefined) return -ERRNO.ENOENT;
    this.unlink(e);
    return 0;
  }
}

/**
 * The inner-map check of map-in-map updates (map_in_map.c bpf_map_fd_get_ptr with bpf_map_meta_equal and, for
 * arrays, array_map_meta_equal): same type, key_size, value_size and map_flags; an ARRAY template without
 * BPF_F_INNER_MAP also fixes max_entries.
 */
export function checkInner(outer: BpfMap, meta: BpfMap | null, value: MapValueInput, op: string): BpfMap {
  if (!(value instanceof BpfMap)) outer.fail('EBADF', op, 'a map-in-map value must be a map');
  if (meta === null) outer.fail('EINVAL', op, 'the map has no inner map template');
  const diffs: string[] = [];
  if (value.type !== meta.type) diffs.push(`type ${value.typeName} != ${meta.typeName}`);
  if (value.keySize !== meta.keySize) diffs.push(`key_size ${value.keySize} != ${meta.keySize}`);
  if (value.valueSize !== meta.valueSize) diffs.push(`value_size ${value.valueSize} != ${meta.valueSize}`);
  if (value.flags !== meta.flags) diffs.push(`map_flags 0x${value.flags.toString(16)} != 0x${meta.flags.toString(16)}`);
  if (meta.type === 2 && !(meta.flags & (1 << 12)) && value.maxEntries !== meta.maxEntries) {
    diffs.push(`max_entries ${value.maxEntries} != ${meta.maxEntries} (the template has no BPF_F_INNER_MAP)`);
  }
  if (diffs.length > 0) outer.fail('EINVAL', op, `map "${value.name}" does not match the inner map template: ${diffs.join(', ')}`);
  return value;
}
