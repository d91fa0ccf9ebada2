// Cgroup storage of cgroup-attached programs (kernel/bpf/cgroup.c, local_storage.c) and bpf_get_local_storage
// (81), for SOCK_OPS programs attached to the model's cgroups (Kernel.cgroupAttach).
//
//  - BPF_PROG_ATTACH: for each CGROUP_STORAGE / PERCPU_CGROUP_STORAGE map the program uses, a zeroed storage for
//    (the cgroup's id, BPF_CGROUP_SOCK_OPS) is linked into the map unless there is one (bpf_cgroup_storages_alloc
//    reuses it: several programs at one cgroup share a storage of the same map).
//  - BPF_PROG_DETACH, or an attach without BPF_F_ALLOW_MULTI that replaces the cgroup's program: the storages
//    of the maps no program attached at that cgroup uses any more are unlinked (their values are gone; a later
//    attach starts from zeroes).
//  - bpf_get_local_storage(map, flags): the storage of the cgroup the RUNNING program is attached at (a
//    program attached at "/" running for a socket of "/a" gets "/"'s), the current CPU's for per-CPU maps. The
//    flags are ignored, like the kernel (the verifier wants 0).
//  - BPF_PROG_TEST_RUN of CGROUP_SKB programs (testrun.ts): a zeroed storage of its own per test run
//    (testRunLocalStorage), as bpf_test_run allocates one.

import { helperIds } from '../../helpers/ids.js';
import { BpfExecutionError } from '../../vm/errors.js';
import type { BoundProgram, HelperFn, Vm } from '../../vm/interpreter.js';
import type { CgroupIds } from './base-helpers.js';
import { CgroupStorageMap } from './maps/cgroup-storage.js';
import type { Maps } from './maps/collection.js';
import type { MapsVm } from './maps/vm.js';
import { mapArg } from './maps/map.js';

export const BPF_FUNC_get_local_storage = helperIds('get_local_storage').get_local_storage;
export const BPF_CGROUP_SOCK_OPS = 3;

/** The cgroup storage maps a program refers to (lddw of a map by fd / index). */
export function storageMapsOf(bound: BoundProgram, maps: Maps | null): CgroupStorageMap[] {
  const out: CgroupStorageMap[] = [];
  if (maps === null) return out;
  const exe = bound.exe;
  for (let pc = 0; pc < exe.slots; pc++) {
    if (exe.op[pc] !== 0x18 || (exe.variant[pc] !== 1 && exe.variant[pc] !== 5)) continue;
    const m = maps.list[exe.imm[pc]!];
    if (m instanceof CgroupStorageMap && !out.includes(m)) out.push(m);
  }
  return out;
}

/** The storages of a Kernel's cgroup attachments, and which one the running program sees. */
export class CgroupStorages {
  /** The cgroup the running program is attached at (set before each run), null outside cgroup runs. */
  current: string | null = null;

  constructor(
    private readonly ids: CgroupIds,
    private readonly maps: () => Maps | null,
  ) {}

  /** After a successful attach of `prog` at `cgroup`, replacing `replaced` (programs no longer attached there). */
  attached(prog: { bound: BoundProgram }, cgroup: string, remaining: readonly { bound: BoundProgram }[], replaced: readonly { bound: BoundProgram }[]): void {
    const id = this.ids.id(cgroup);
    for (const m of storageMapsOf(prog.bound, this.maps())) m.link(id, BPF_CGROUP_SOCK_OPS);
    for (const old of replaced) this.detached(old, cgroup, remaining);
  }

  /** After `prog` left `cgroup`; `remaining` are the programs still attached there. */
  detached(prog: { bound: BoundProgram }, cgroup: string, remaining: readonly { bound: BoundProgram }[]): void {
    const id = this.ids.id(cgroup);
    const still = new Set(remaining.flatMap((p) => storageMapsOf(p.bound, this.maps())));
    for (const m of storageMapsOf(prog.bound, this.maps())) if (!still.has(m)) m.unlink(id, BPF_CGROUP_SOCK_OPS);
  }

  /** Installs bpf_get_local_storage. */
  install(vm: Vm, mapsVm: () => MapsVm | null): void {
    vm.helpers[BPF_FUNC_get_local_storage] = getLocalStorageHelper(mapsVm, (map, cpu, pc) => {
      if (this.current === null) throw new BpfExecutionError(pc, 'bpf_get_local_storage: the program is not running from a cgroup attachment');
      const val = map.valueFor(this.ids.id(this.current), BPF_CGROUP_SOCK_OPS, cpu);
      if (val === null) throw new BpfExecutionError(pc, `bpf_get_local_storage: no storage of map "${map.name}" for cgroup ${this.current} (the program does not use the map)`);
      return val;
    });
  }
}

/**
 * bpf_get_local_storage(map, flags) (81): the value bytes `storageOf` gives for the map on the current CPU,
 * as a pointer to its map-value region. (Socket model: the running attachment's storage; test run: the run's
 * own storage, see testRunLocalStorage.)
 */
export function getLocalStorageHelper(mapsVm: () => MapsVm | null, storageOf: (map: CgroupStorageMap, cpu: number, pc: number) => Uint8Array): HelperFn {
  return (v, pc) => {
    const map = mapArg(v, pc, 1, CgroupStorageMap, 'bpf_get_local_storage', 'a cgroup storage map');
    const mv = mapsVm();
    if (mv === null) throw new BpfExecutionError(pc, 'bpf_get_local_storage: the program has no maps');
    v.setR0(0, mv.valueRegion(map, storageOf(map, mv.cpu, pc)).hi);
  };
}

/**
 * BPF_PROG_TEST_RUN's cgroup storage (bpf_test_run: bpf_cgroup_storage_alloc per storage type): a zeroed
 * storage per map for the whole test run (all its repetitions), linked into no map (user space never sees it).
 */
export function testRunLocalStorage(mapsVm: () => MapsVm | null): HelperFn {
  // One value_size view per CPU (per-CPU maps) over one zeroed buffer; stable objects, so one region each.
  const storages = new Map<CgroupStorageMap, Uint8Array[]>();
  return getLocalStorageHelper(mapsVm, (map, cpu) => {
    let views = storages.get(map);
    if (views === undefined) {
      const n = map.percpu ? map.nrCpus : 1;
      const buf = new Uint8Array(map.elemSize * n);
      views = Array.from({ length: n }, (_, c) => buf.subarray(c * map.elemSize, c * map.elemSize + map.valueSize));
      storages.set(map, views);
    }
    return views[map.percpu ? cpu : 0]!;
  });
}
