// BPF_MAP_TYPE_CGROUP_ARRAY (8) (kernel/bpf/arraymap.c cgroup_array_map_ops): an fd array of cgroups, read by
// bpf_current_task_under_cgroup (base-helpers.ts) and bpf_skb_under_cgroup.
//
// Creation: fd_array_map_alloc_check (value_size 4, no BPF_F_RDONLY_PROG / WRONLY_PROG) and the array rules.
// User space: update with BPF_ANY only (EINVAL), index below max_entries (E2BIG), the value a cgroup fd
// (EBADF otherwise): in the model, an fd from Kernel.openCgroup(path); lookup is ENOTSUPP (a cgroup array has
// no id to report); delete empties a slot (ENOENT when empty, E2BIG past the end); get_next_key walks the
// indices. Programs cannot look elements up (the verifier refuses it).

import { fdArrayCheck, registerMapType } from './create.js';
import { FdArrayMap } from './fdarray.js';
import { u32le, type ElemRef, type MapValueInput } from './map.js';

export const BPF_MAP_TYPE_CGROUP_ARRAY = 8;

/** A cgroup of the model, as a cgroup array slot holds it. */
export interface CgroupRef {
  readonly path: string;
}

export class CgroupArrayMap extends FdArrayMap<CgroupRef> {
  /** Set by the Kernel façade: a cgroup fd (Kernel.openCgroup) → its cgroup. */
  cgroupOfFd: ((fd: number) => CgroupRef | null) | null = null;

  protected idOf(): number {
    return 0;
  }

  protected accept(value: MapValueInput): CgroupRef {
    if (!(value instanceof Uint8Array)) this.fail('EBADF', 'update', 'a cgroup_array value is a cgroup fd');
    const fd = u32le(value) | 0;
    const cg = this.cgroupOfFd?.(fd) ?? null;
    if (cg === null) this.fail('EBADF', 'update', `fd ${fd} is not a cgroup fd (Kernel.openCgroup gives them)`);
    return cg;
  }

  protected override sysLookup(): Uint8Array {
    this.fail('ENOTSUPP', 'lookup', 'cgroup_array elements cannot be read from user space');
  }

  /** The cgroup in slot `index`, or null (bpf_current_task_under_cgroup). */
  cgroup(index: number): CgroupRef | null {
    return this.at(index);
  }

  lookupElem(): ElemRef | null {
    this.fail('EOPNOTSUPP', 'lookup', 'programs cannot look up a cgroup_array (the verifier refuses it)');
  }
}

registerMapType(BPF_MAP_TYPE_CGROUP_ARRAY, (a, s, o) => (fdArrayCheck(s, o.nrCpus ?? 2), new CgroupArrayMap(a, o)));
