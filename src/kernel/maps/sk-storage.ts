// BPF_MAP_TYPE_SK_STORAGE (24): per-socket storage (net/core/bpf_sk_storage.c, kernel/bpf/bpf_local_storage.c).
// Each socket has at most one value per map; the value lives as long as the socket (the model drops it when
// the socket is closed, as bpf_sk_storage_free does when the socket is destroyed).
//
// Creation (bpf_local_storage_map_alloc_check): map_flags must include BPF_F_NO_PREALLOC and may add only
// BPF_F_CLONE; max_entries 0; key_size 4; value_size 1 .. BPF_LOCAL_STORAGE_MAX_VALUE_SIZE, else EINVAL (E2BIG
// above the maximum). The kernel also requires BTF for the value (btf_value_type_id); the model does not check
// that (libbpf objects always carry it).
// User space: the key is a socket fd (lookup / update / delete of that socket's value); get_next_key is
// -ENOTSUPP. Programs reach the storage only through bpf_sk_storage_get / bpf_sk_storage_delete (the verifier
// refuses bpf_map_*_elem on this map type), see src/kernel/sock-helpers.ts.

import { BPF_F_CLONE, BPF_F_NO_PREALLOC } from './constants.js';
import { createFail, registerMapType } from './create.js';
import { copyMapValue } from './fields.js';
import { BpfMap, u32le, type ElemRef, type MapAttrs, type MapValueInput } from './map.js';

export const BPF_MAP_TYPE_SK_STORAGE = 24;
/** BPF_LOCAL_STORAGE_MAX_VALUE_SIZE: U16_MAX - sizeof(struct bpf_local_storage_elem), the element size taken as 72 (not checked on the host). */
export const SK_STORAGE_MAX_VALUE_SIZE = 0xffff - 72;
export const BPF_SK_STORAGE_GET_F_CREATE = 1;

/** Resolves a socket fd (user-space keys) to the socket object, null when the fd is not a socket. */
export type StorageFdResolver = (fd: number) => object | null;

/**
 * A local-storage map (sk / task / cgroup storage): at most one value per owner (a socket, a task), created by
 * the program helpers (bpf_sk_storage_get, bpf_task_storage_get with F_CREATE) or user space.
 */
export abstract class LocalStorageMap extends BpfMap {
  protected readonly values = new Map<object, Uint8Array>();

  get count(): number {
    return this.values.size;
  }

  /** The owner's value (the stable bytes programs write through), or null. */
  valueFor(owner: object): Uint8Array | null {
    return this.values.get(owner) ?? null;
  }

  /** bpf_local_storage_update with BPF_NOEXIST from a program: the new value (zeroed, or a copy of `init`). */
  create(owner: object, init: Uint8Array | null): Uint8Array {
    const v = new Uint8Array(this.valueSize);
    if (init !== null) v.set(init.subarray(0, this.valueSize));
    this.values.set(owner, v);
    return v;
  }

  /** Removes the owner's value: true when there was one. */
  remove(owner: object): boolean {
    return this.values.delete(owner);
  }
}

export class SkStorageMap extends LocalStorageMap {
  /** Set by the Kernel façade (model.ts): fd → socket. */
  fdResolver: StorageFdResolver | null = null;

  /** The socket went away (bpf_sk_storage_free). */
  socketClosed(sk: object): void {
    this.values.delete(sk);
  }

  private sock(op: string, key: Uint8Array): object {
    const fd = u32le(key) | 0;
    const sk = this.fdResolver === null ? null : this.fdResolver(fd);
    if (sk === null) this.fail('EBADF', op, `fd ${fd} is not an open socket`);
    return sk;
  }

  protected sysLookup(key: Uint8Array): Uint8Array {
    const v = this.values.get(this.sock('lookup', key));
    if (v === undefined) this.fail('ENOENT', 'lookup', 'the socket has no value in this map');
    return v.slice();
  }

  protected sysUpdate(key: Uint8Array, value: MapValueInput, flags: number): void {
    const bytes = this.valueBytes('update', value);
    const sk = this.sock('update', key);
    // bpf_local_storage_update: flags BPF_ANY / BPF_NOEXIST / BPF_EXIST (BPF_F_LOCK refused by the caller).
    if ((flags & ~4) > 2) this.fail('EINVAL', 'update', `flags ${flags} are not BPF_ANY, BPF_NOEXIST or BPF_EXIST (| BPF_F_LOCK)`);
    const old = this.values.get(sk);
    if (flags === 1 && old !== undefined) this.fail('EEXIST', 'update', 'the socket already has a value (BPF_NOEXIST)');
    if (flags === 2 && old === undefined) this.fail('ENOENT', 'update', 'the socket has no value (BPF_EXIST)');
    if (old !== undefined) copyMapValue(this.layout, old, bytes); // the special fields (a bpf_spin_lock) stay
    else this.create(sk, bytes);
  }

  protected sysDelete(key: Uint8Array): void {
    if (!this.values.delete(this.sock('delete', key))) this.fail('ENOENT', 'delete', 'the socket has no value in this map');
  }

  protected nextKey(): Uint8Array {
    this.fail('ENOTSUPP', 'get_next_key', 'sk_storage maps cannot be iterated by key');
  }

  lookupElem(): ElemRef | null {
    this.refuseElemOp('lookup', 'reach sk_storage maps only through bpf_sk_storage_get');
  }
  updateElem(): number {
    this.refuseElemOp('update', 'reach sk_storage maps only through bpf_sk_storage_get');
  }
  deleteElem(): number {
    this.refuseElemOp('delete', 'reach sk_storage maps only through bpf_sk_storage_delete');
  }
}

/** bpf_local_storage_map_alloc_check: the creation rules of the sk / task / cgrp / inode storage maps. */
export function localStorageAllocCheck(s: Pick<MapAttrs, 'name' | 'flags' | 'maxEntries' | 'keySize' | 'valueSize'>, what: string): void {
  if (s.flags & ~(BPF_F_NO_PREALLOC | BPF_F_CLONE) || !(s.flags & BPF_F_NO_PREALLOC)) {
    createFail(s, 'EINVAL', 'map_flags must be BPF_F_NO_PREALLOC, optionally with BPF_F_CLONE');
  }
  if (s.maxEntries !== 0) createFail(s, 'EINVAL', `max_entries must be 0 for ${what} (got ${s.maxEntries})`);
  if (s.keySize !== 4) createFail(s, 'EINVAL', `key_size must be 4 for ${what} (got ${s.keySize})`);
  if (s.valueSize === 0) createFail(s, 'EINVAL', 'value_size is 0');
  if (s.valueSize > SK_STORAGE_MAX_VALUE_SIZE) createFail(s, 'E2BIG', `value_size ${s.valueSize} is above ${SK_STORAGE_MAX_VALUE_SIZE}`);
}

registerMapType(BPF_MAP_TYPE_SK_STORAGE, (a, s, o) => {
  localStorageAllocCheck(s, 'sk_storage');
  return new SkStorageMap(a, o);
});
