// BPF_MAP_TYPE_CGROUP_STORAGE (19) and BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE (21) (kernel/bpf/local_storage.c):
// one value per (cgroup, attach type) — or per cgroup when key_size is 8 — created when a program that uses the
// map is attached to a cgroup (bpf_cgroup_storages_alloc / _link at BPF_PROG_ATTACH) and read by that program
// through bpf_get_local_storage (src/kernel/cgroup-storage.ts).
//
// Creation (cgroup_storage_map_alloc, in this order): key_size must be 16 (struct bpf_cgroup_storage_key
// { __u64 cgroup_inode_id; __u32 attach_type; } with padding) or 8 (a __u64 cgroup id: one storage per cgroup,
// shared by attach types), else EINVAL; value_size 0 → EINVAL; above BPF_LOCAL_STORAGE_MAX_VALUE_SIZE (per-CPU:
// also above PCPU_MIN_UNIT_SIZE) → E2BIG; map_flags other than BPF_F_NUMA_NODE and the access flags, or
// RDONLY_PROG with WRONLY_PROG → EINVAL; max_entries != 0 → EINVAL.
// User space: lookup by key (ENOENT when no program is attached there); update only of an existing storage
// (ENOENT otherwise) with flags BPF_ANY / BPF_EXIST (+ BPF_F_LOCK with a bpf_spin_lock; per-CPU: BPF_ANY /
// BPF_EXIST only), else EINVAL; delete is always EINVAL; get_next_key walks the storages newest first (the
// kernel's list_add), ENOENT after the last one or for a key that is not there.
// Programs reach the value only through bpf_get_local_storage (the verifier refuses bpf_map_*_elem).

import { BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_F_NUMA_NODE, BPF_F_ACCESS_MASK, BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG, PCPU_MIN_UNIT_SIZE, mapTypeName, roundUp8 } from './constants.js';
import { createFail, registerMapType } from './create.js';
import { copyMapValue } from './fields.js';
import { BpfMap, hexKey, type ElemRef, type MapAttrs, type MapOptions, type MapValueInput } from './map.js';
import { SK_STORAGE_MAX_VALUE_SIZE } from './sk-storage.js';

export const BPF_MAP_TYPE_CGROUP_STORAGE = 19;
export const BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE = 21;

interface Storage {
  key: Uint8Array;
  /** value_size bytes (shared), or round_up(value_size, 8) per CPU. */
  data: Uint8Array;
  views: Uint8Array[];
}

export class CgroupStorageMap extends BpfMap {
  readonly percpu: boolean;
  readonly elemSize: number;
  /** Newest first (get_next_key order). */
  private readonly list: Storage[] = [];
  private readonly byKey = new Map<string, Storage>();

  constructor(attrs: MapAttrs, opts: MapOptions = {}) {
    super(attrs, opts);
    this.percpu = attrs.type === BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
    this.elemSize = roundUp8(attrs.valueSize);
  }

  /** key_size 16: one storage per (cgroup, attach type); 8: per cgroup. */
  get attachTypeIsolated(): boolean {
    return this.keySize === 16;
  }

  override get sysValueSize(): number {
    return this.percpu ? this.elemSize * this.nrCpus : this.valueSize;
  }

  get count(): number {
    return this.list.length;
  }

  /** The map key of a storage (the cgroup id, and the attach type when isolated). */
  storageKey(cgroupId: bigint, attachType: number): Uint8Array {
    const k = new Uint8Array(this.keySize);
    const dv = new DataView(k.buffer);
    dv.setBigUint64(0, cgroupId, true);
    if (this.attachTypeIsolated) dv.setUint32(8, attachType, true);
    return k;
  }

  /** Whether (cgroup, attach type) has a storage. */
  has(cgroupId: bigint, attachType: number): boolean {
    return this.byKey.has(hexKey(this.storageKey(cgroupId, attachType)));
  }

  /** bpf_cgroup_storage_alloc + _link: a zeroed storage for (cgroup, attach type) unless there is one. */
  link(cgroupId: bigint, attachType: number): void {
    const key = this.storageKey(cgroupId, attachType);
    const hex = hexKey(key);
    if (this.byKey.has(hex)) return;
    const s: Storage = { key, data: new Uint8Array(this.sysValueSize), views: [] };
    this.byKey.set(hex, s);
    this.list.unshift(s);
  }

  /** bpf_cgroup_storage_unlink: the storage goes away. */
  unlink(cgroupId: bigint, attachType: number): void {
    const hex = hexKey(this.storageKey(cgroupId, attachType));
    const s = this.byKey.get(hex);
    if (s === undefined) return;
    this.byKey.delete(hex);
    this.list.splice(this.list.indexOf(s), 1);
  }

  /** The value bytes bpf_get_local_storage returns for (cgroup, attach type) on `cpu`, or null. */
  valueFor(cgroupId: bigint, attachType: number, cpu: number): Uint8Array | null {
    const s = this.byKey.get(hexKey(this.storageKey(cgroupId, attachType)));
    if (s === undefined) return null;
    const c = this.percpu ? cpu : 0;
    let v = s.views[c];
    if (v === undefined) {
      v = s.data.subarray(c * this.elemSize, c * this.elemSize + this.valueSize);
      s.views[c] = v;
    }
    return v;
  }

  private find(op: string, key: Uint8Array): Storage {
    const s = this.byKey.get(hexKey(key));
    if (s === undefined) this.fail('ENOENT', op, 'no cgroup storage for that key (no program using the map is attached there)');
    return s;
  }

  protected sysLookup(key: Uint8Array): Uint8Array {
    const s = this.find('lookup', key);
    return this.percpu ? s.data.slice() : s.data.slice(0, this.valueSize);
  }

  protected sysUpdate(key: Uint8Array, value: MapValueInput, flags: number): void {
    const bytes = this.valueBytes('update', value);
    if (this.percpu) {
      if (flags !== BPF_ANY && flags !== BPF_EXIST) this.fail('EINVAL', 'update', `flags 0x${flags.toString(16)} are not BPF_ANY or BPF_EXIST`);
      this.find('update', key).data.set(bytes);
      return;
    }
    if (flags & ~(BPF_F_LOCK | BPF_EXIST)) this.fail('EINVAL', 'update', `flags 0x${flags.toString(16)}: only BPF_EXIST and BPF_F_LOCK are allowed`);
    const s = this.find('update', key);
    copyMapValue(this.layout, s.data.subarray(0, this.valueSize), bytes);
  }

  protected sysDelete(): void {
    this.fail('EINVAL', 'delete', 'cgroup storage elements cannot be deleted (they live as long as the attachment)');
  }

  /** Every key, newest first (max_entries is 0 here, so the base class's bound does not apply). */
  override keys(): Uint8Array[] {
    return this.list.map((s) => s.key.slice());
  }

  protected nextKey(key: Uint8Array | null): Uint8Array {
    if (this.list.length === 0) this.fail('ENOENT', 'get_next_key', 'the map is empty');
    if (key === null) return this.list[0]!.key.slice();
    const s = this.byKey.get(hexKey(key));
    if (s === undefined) this.fail('ENOENT', 'get_next_key', 'no such key');
    const next = this.list[this.list.indexOf(s) + 1];
    if (next === undefined) this.fail('ENOENT', 'get_next_key', 'no more keys');
    return next.key.slice();
  }

  lookupElem(): ElemRef | null {
    this.refuseElemOp('lookup', 'reach cgroup storage only through bpf_get_local_storage');
  }
  updateElem(): number {
    this.refuseElemOp('update', 'reach cgroup storage only through bpf_get_local_storage');
  }
  deleteElem(): number {
    this.refuseElemOp('delete', 'reach cgroup storage only through bpf_get_local_storage');
  }
}

for (const type of [BPF_MAP_TYPE_CGROUP_STORAGE, BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE]) {
  registerMapType(type, (a, s, o) => {
    const max = type === BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE ? Math.min(SK_STORAGE_MAX_VALUE_SIZE, PCPU_MIN_UNIT_SIZE) : SK_STORAGE_MAX_VALUE_SIZE;
    if (s.keySize !== 16 && s.keySize !== 8) createFail(s, 'EINVAL', `key_size must be 16 (struct bpf_cgroup_storage_key) or 8 (a cgroup id), got ${s.keySize}`);
    if (s.valueSize === 0) createFail(s, 'EINVAL', 'value_size is 0');
    if (s.valueSize > max) createFail(s, 'E2BIG', `value_size ${s.valueSize} is above ${max}`);
    if (s.flags & ~(BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK) || (s.flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) === (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) {
      createFail(s, 'EINVAL', `map_flags 0x${s.flags.toString(16)} are not allowed for ${mapTypeName(type)}`);
    }
    if (s.maxEntries !== 0) createFail(s, 'EINVAL', `max_entries must be 0 (got ${s.maxEntries})`);
    return new CgroupStorageMap(a, o);
  });
}
