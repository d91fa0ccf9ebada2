// BPF_MAP_TYPE_TASK_STORAGE (29) and BPF_MAP_TYPE_CGRP_STORAGE (32) (kernel/bpf/bpf_task_storage.c,
// bpf_cgrp_storage.c): one value per task / cgroup, keyed in user space by a pidfd / cgroup fd.
//
// Creation follows bpf_local_storage_map_alloc_check like SK_STORAGE (sk-storage.ts localStorageAllocCheck):
// BPF_F_NO_PREALLOC required (BPF_F_CLONE optional), max_entries 0, key_size 4, value_size 1 ..
// BPF_LOCAL_STORAGE_MAX_VALUE_SIZE. The model has no pidfds and no cgroup fds, so every user-space lookup /
// update / delete names an fd that is not one: EBADF (pidfd_get_pid / cgroup_v1v2_get_from_fd say EBADF for a
// closed fd and for any other file alike); get_next_key is ENOTSUPP. Programs reach task storage through
// bpf_task_storage_get / bpf_task_storage_delete (sock-helpers.ts) with the one task the model has, the current
// one (bpf_get_current_task_btf: CURRENT_TASK_ADDR); its value is `valueFor(CURRENT_TASK)`. The cgroup storage
// helpers (bpf_cgrp_storage_*) are not provided (a cgroup pointer comes only from kfuncs; refused at load).

import { mapTypeName } from './constants.js';
import { registerMapType } from './create.js';
import { u32le, type ElemRef } from './map.js';
import { LocalStorageMap, localStorageAllocCheck } from './sk-storage.js';

export const BPF_MAP_TYPE_TASK_STORAGE = 29;
export const BPF_MAP_TYPE_CGRP_STORAGE = 32;

/** The owner of the current task's values in task storage maps (the model's one task). */
export const CURRENT_TASK: object = Object.freeze({ task: 'current' });

export class TaskCgrpStorageMap extends LocalStorageMap {
  private owner(op: string, key: Uint8Array): never {
    const fd = u32le(key) | 0;
    this.fail('EBADF', op, `fd ${fd} is not a ${this.type === BPF_MAP_TYPE_TASK_STORAGE ? 'pidfd' : 'cgroup fd'} (bpfvm has none)`);
  }

  protected sysLookup(key: Uint8Array): Uint8Array {
    return this.owner('lookup', key);
  }
  protected sysUpdate(key: Uint8Array): void {
    this.owner('update', key);
  }
  protected sysDelete(key: Uint8Array): void {
    this.owner('delete', key);
  }
  protected nextKey(): Uint8Array {
    this.fail('ENOTSUPP', 'get_next_key', `${this.typeName} maps cannot be iterated by key`);
  }
  lookupElem(): ElemRef | null {
    this.refuseElemOp('lookup', `reach ${this.typeName} maps only through their storage helpers`);
  }
  updateElem(): number {
    this.refuseElemOp('update', `reach ${this.typeName} maps only through their storage helpers`);
  }
  deleteElem(): number {
    this.refuseElemOp('delete', `reach ${this.typeName} maps only through their storage helpers`);
  }
}

for (const type of [BPF_MAP_TYPE_TASK_STORAGE, BPF_MAP_TYPE_CGRP_STORAGE]) {
  registerMapType(type, (a, s, o) => {
    localStorageAllocCheck(s, mapTypeName(type));
    return new TaskCgrpStorageMap(a, o);
  });
}
