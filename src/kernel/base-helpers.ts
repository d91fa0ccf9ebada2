// bpf_base_func_proto helpers shared by the BPF_PROG_TEST_RUN emulation (testrun.ts) and the socket model
// (model.ts): one definition each, installed on a VM by installBaseHelpers.
//
//  - bpf_for_each_map_elem (164): callback(map, key, value, ctx) for each element of an ARRAY / PERCPU_ARRAY
//    (every index) or HASH / PERCPU_HASH / LRU_HASH / LRU_PERCPU_HASH (bucket order, maps/hash.ts
//    forEachElem), the current CPU's value for per-CPU maps; the callback returns 0 to go on, 1 to stop. Returns
//    the number of elements visited (the one that stopped the walk included); -EINVAL for flags != 0. The key
//    is read-only: one 4-byte index for arrays (the kernel passes the same &key each time), the element's own
//    key for hash maps.
//  - bpf_spin_lock (93) / bpf_spin_unlock (94) on the struct bpf_spin_lock of a map value: the lock word is
//    1 while held. The model runs one program at a time, so a lock is free unless this program holds it. What
//    the verifier normally prevents stops the run with a BpfExecutionError: taking a lock that is held (the
//    kernel would spin forever), releasing one that is not.
//  - bpf_timer_* (169..172): timers.ts, on the virtual clock.
//  - bpf_kptr_xchg(&value->kptr, ptr) (194): the model has no referenced kernel objects (they come from kfuncs
//    such as bpf_obj_new or bpf_task_acquire, which it does not provide, and user space cannot write kptr
//    fields: copy_map_value skips them), so every kptr field holds NULL: exchanging NULL returns NULL (the old
//    field, 0); a non-NULL ptr cannot come from a program the model runs and stops the run.
//  - bpf_ktime_get_tai_ns (208): the virtual clock (one read of it) + REALTIME_OFFSET_NS + 37 s.
//  - "current task" stand-ins (sock-helpers.ts documents pid 1000, uid 0, comm "bpfvm"):
//    bpf_get_current_cgroup_id (80): the id of the current cgroup (CgroupIds: the root is 1, other paths get
//    2, 3, ... on first use, ancestors first); bpf_get_current_ancestor_cgroup_id(level) (123): the id of its
//    ancestor at `level` (0 = root), 0 when level is negative or deeper than the cgroup;
//    bpf_get_cgroup_classid (17, the current task's net_cls classid): 0 (no net_cls class is set);
//    bpf_current_task_under_cgroup(map, idx) (37): -E2BIG for idx >= max_entries, -EAGAIN for an empty slot of
//    the CGROUP_ARRAY, else 1 when the current cgroup is that cgroup or below it, 0 when not;
//    bpf_get_ns_current_pid_tgid(dev, ino, nsdata, size) (120): -EINVAL and nsdata zeroed when size != 8, dev
//    does not fit a dev_t or (dev, ino) is not the model's one pid namespace (the initial one: PIDNS_DEV 4,
//    PIDNS_INO 0xeffffffc, as on the 6.18 host), else nsdata = { pid, tgid } = { 1000, 1000 } and 0.

import { helperIds } from '../../helpers/ids.js';
import { BpfExecutionError } from '../../vm/errors.js';
import type { Vm } from '../../vm/interpreter.js';
import { ArrayMap } from './maps/array.js';
import { CgroupArrayMap } from './maps/cgroup-array.js';
import { HashMap } from './maps/hash.js';
import { BpfMap, mapArg } from './maps/map.js';
import type { MapsVm } from './maps/vm.js';
import { REALTIME_OFFSET_NS, TAI_OFFSET_NS, TIMER_FUNC, VirtualTimers } from './timers.js';
import type { VirtualClock } from './clock.js';
import { ERRNO } from './maps/errors.js';

export const BASE_FUNC = helperIds(
  'get_cgroup_classid', 'current_task_under_cgroup', 'get_current_cgroup_id', 'spin_lock', 'spin_unlock',
  'get_ns_current_pid_tgid', 'get_current_ancestor_cgroup_id', 'for_each_map_elem', 'kptr_xchg', 'ktime_get_tai_ns',
);

/** The ids of the helpers installBaseHelpers provides (timers included). */
export const BASE_HELPER_IDS: readonly number[] = [...Object.values(BASE_FUNC), ...Object.values(TIMER_FUNC)];

/** The model's pid namespace (the initial one): nsfs device and inode, as stat(/proc/self/ns/pid) shows them. */
export const PIDNS_DEV = 4n;
export const PIDNS_INO = 0xeffffffcn;
/** The current task's pid and tgid (bpf_get_current_pid_tgid in sock-helpers.ts, bpf_get_ns_current_pid_tgid here). */
export const CURRENT_PID = 1000;
const { EINVAL, E2BIG, EAGAIN } = ERRNO;

/** cgroup v2 ids of the model's cgroup paths: the root is 1; others get 2, 3, ... on first use, parents first. */
export class CgroupIds {
  private readonly ids = new Map<string, bigint>([['/', 1n]]);
  private next = 2n;

  /** The path's components from the root ("/a/b" → ["/", "/a", "/a/b"]). */
  static chain(path: string): string[] {
    const parts = path.split('/').filter((s) => s !== '');
    const out = ['/'];
    for (let i = 1; i <= parts.length; i++) out.push('/' + parts.slice(0, i).join('/'));
    return out;
  }

  id(path: string): bigint {
    let id = 0n;
    for (const p of CgroupIds.chain(path)) {
      let x = this.ids.get(p);
      if (x === undefined) {
        x = this.next++;
        this.ids.set(p, x);
      }
      id = x;
    }
    return id;
  }
}

export interface BaseHelperEnv {
  /** The map adapter of the VM (null until the maps exist). */
  mapsVm: () => MapsVm | null;
  clock: VirtualClock;
  /** The current task's cgroup (a model cgroup path; "/" in a test run). */
  currentCgroup: () => string;
  cgroupIds: CgroupIds;
}

/** Installs the helpers of this file and the timers; returns the timers (for advancing virtual time). */
export function installBaseHelpers(vm: Vm, env: BaseHelperEnv): VirtualTimers {
  const h = vm.helpers;
  const maps = (pc: number, helper: string): MapsVm => {
    const m = env.mapsVm();
    if (m === null) throw new BpfExecutionError(pc, `${helper}: the program has no maps`);
    return m;
  };
  const ptrOf = (hi: number): bigint => BigInt(hi >>> 0) << 32n;

  h[BASE_FUNC.for_each_map_elem] = (v, pc) => {
    const map = v.space.objectAt(v.lo[1]!, v.hi[1]!);
    if (!(map instanceof BpfMap)) throw new BpfExecutionError(pc, 'bpf_for_each_map_elem: r1 is not a map pointer');
    const fn = { lo: v.lo[2]!, hi: v.hi[2]! };
    const ctx = v.reg(3);
    if (v.lo[4] !== 0 || v.hi[4] !== 0) return v.setR0Int(-EINVAL);
    const mv = maps(pc, 'bpf_for_each_map_elem');
    const mapPtr = ptrOf(mv.objectRegion(map).hi);
    const call = (keyHi: number, value: Uint8Array): boolean => v.callback(pc, fn, [mapPtr, ptrOf(keyHi), ptrOf(mv.valueRegion(map, value).hi), ctx]) !== 0n;
    if (map instanceof ArrayMap) {
      const key = new Uint8Array(4);
      const kr = v.space.map(`for_each key of ${map.name}`, 'map_value', key, false);
      const dv = new DataView(key.buffer);
      let n = 0;
      try {
        for (let i = 0; i < map.maxEntries; i++) {
          n++;
          dv.setUint32(0, i, true);
          if (call(kr.hi, map.view(i, map.percpu ? mv.cpu : 0))) break;
        }
      } finally {
        v.space.unmap(kr);
      }
      return v.setR0(n, 0);
    }
    if (map instanceof HashMap && !map.ofMaps) {
      const regions: ReturnType<typeof v.space.map>[] = [];
      try {
        const n = map.forEachElem(mv.cpu, (key, value) => {
          const kr = v.space.map(`for_each key of ${map.name}`, 'map_value', key, false);
          regions.push(kr);
          return call(kr.hi, value);
        });
        return v.setR0(n, 0);
      } finally {
        for (const r of regions) v.space.unmap(r);
      }
    }
    throw new BpfExecutionError(pc, `bpf_for_each_map_elem: a ${map.typeName} map has no for_each callback (the verifier refuses it)`);
  };

  const lockWord = (v: Vm, pc: number, helper: string): { bytes: Uint8Array; off: number } => {
    const r = v.space.regionOf(v.hi[1]!);
    const off = v.lo[1]! >>> 0;
    if (r === null || r.kind !== 'map_value' || off % 4 !== 0 || off + 4 > r.bytes.length) {
      throw new BpfExecutionError(pc, `${helper}: r1 is not a struct bpf_spin_lock in a map value (the verifier refuses it)`);
    }
    return { bytes: r.bytes, off };
  };
  h[BASE_FUNC.spin_lock] = (v, pc) => {
    const { bytes, off } = lockWord(v, pc, 'bpf_spin_lock');
    if (bytes[off] !== 0) throw new BpfExecutionError(pc, 'bpf_spin_lock: the lock is already held (the kernel would spin forever; the verifier refuses a second lock)');
    bytes[off] = 1;
    v.setR0(0, 0);
  };
  h[BASE_FUNC.spin_unlock] = (v, pc) => {
    const { bytes, off } = lockWord(v, pc, 'bpf_spin_unlock');
    if (bytes[off] === 0) throw new BpfExecutionError(pc, 'bpf_spin_unlock: the lock is not held (the verifier refuses this)');
    bytes[off] = 0;
    v.setR0(0, 0);
  };

  h[BASE_FUNC.kptr_xchg] = (v, pc) => {
    const r = v.space.regionOf(v.hi[1]!);
    const off = v.lo[1]! >>> 0;
    if (r === null || r.kind !== 'map_value' || off % 8 !== 0 || off + 8 > r.bytes.length) {
      throw new BpfExecutionError(pc, 'bpf_kptr_xchg: r1 is not a kptr field of a map value (the verifier refuses it)');
    }
    if (v.lo[2] !== 0 || v.hi[2] !== 0) {
      throw new BpfExecutionError(pc, 'bpf_kptr_xchg: storing a referenced kernel object; bpfvm has none (kfuncs such as bpf_obj_new are not modelled)');
    }
    const old = r.dv.getBigUint64(off, true);
    r.dv.setBigUint64(off, 0n, true);
    v.setR0Big(old);
  };
  h[BASE_FUNC.ktime_get_tai_ns] = (v) => v.setR0Big(env.clock.read() + REALTIME_OFFSET_NS + TAI_OFFSET_NS);
  h[BASE_FUNC.get_current_cgroup_id] = (v) => v.setR0Big(env.cgroupIds.id(env.currentCgroup()));
  h[BASE_FUNC.get_current_ancestor_cgroup_id] = (v) => {
    const level = v.lo[1]! | 0;
    const chain = CgroupIds.chain(env.currentCgroup());
    if (level < 0 || level >= chain.length) return v.setR0(0, 0);
    v.setR0Big(env.cgroupIds.id(chain[level]!));
  };
  h[BASE_FUNC.get_cgroup_classid] = (v) => v.setR0(0, 0);
  h[BASE_FUNC.current_task_under_cgroup] = (v, pc) => {
    const map = mapArg(v, pc, 1, CgroupArrayMap, 'bpf_current_task_under_cgroup', 'a cgroup_array map');
    const idx = v.lo[2]! >>> 0;
    if (idx >= map.maxEntries) return v.setR0Int(-E2BIG);
    const cg = map.cgroup(idx);
    if (cg === null) return v.setR0Int(-EAGAIN);
    v.setR0Int(CgroupIds.chain(env.currentCgroup()).includes(CgroupIds.chain(cg.path).at(-1)!) ? 1 : 0);
  };
  h[BASE_FUNC.get_ns_current_pid_tgid] = (v, pc) => {
    const dev = v.reg(1);
    const ino = v.reg(2);
    const size = v.lo[4]! >>> 0;
    const fill = (b: Uint8Array, r: number): void => {
      if (size > 0) v.space.write(pc, v.lo[3]!, v.hi[3]!, b);
      v.setR0Int(r);
    };
    if (v.hi[4] !== 0 || size !== 8 || dev > 0xffffffffn) return fill(new Uint8Array(size), -EINVAL);
    if (dev !== PIDNS_DEV || ino !== PIDNS_INO) return fill(new Uint8Array(size), -EINVAL);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(0, CURRENT_PID, true);
    new DataView(b.buffer).setUint32(4, CURRENT_PID, true);
    fill(b, 0);
  };

  const timers = new VirtualTimers(env.clock, vm, env.mapsVm);
  timers.install(vm);
  return timers;
}
