// The helper table of the socket program types (SK_SKB 14, SK_MSG 16, SOCK_OPS 13) in the socket model, and the
// helpers that are not specific to one context: the generic bpf_base_func_proto ones (time, randomness,
// trace_printk, "current task" stand-ins, string helpers), the netns cookie, per-socket storage and the
// sock_ops setsockopt / getsockopt / header-option helpers. The bpf_base_func_proto helpers shared with the test
// run (for_each_map_elem, spin locks, timers, kptr_xchg, cgroup / pid-namespace ids, ktime_get_tai_ns) are in
// base-helpers.ts and timers.ts; cgroup storage (get_local_storage, SOCK_OPS) in cgroup-storage.ts.
//
// One mechanism decides, at load time, whether the model can run a socket program: `socketHelperProvided`.
// A helper the kernel refuses for the program type, or one the model does not implement, makes
// Kernel.loadProgram throw a BpfExecutionError naming the helper and its id (checkProgramHelpers), so a program
// never runs with a wrong result. `socketHelperTable` lists, per type, what the kernel allows (as root) and what
// the model implements (test/kernel/sock-helpers.test.ts prints it; README.md documents it).
//
// Deterministic stand-ins (the kernel's values depend on the machine, the time and the calling task):
//  - bpf_ktime_get_ns / boot_ns / coarse_ns: a virtual clock (clock.ts VirtualClock: 1e9 ns at the first
//    call, +1000 ns per call), shared by the three, as BPF_PROG_TEST_RUN does; in a Kernel the same clock runs
//    its BPF and TCP timers (README "Virtual time").
//  - bpf_jiffies64: INITIAL_JIFFIES (2^32 - 300 * HZ) + the virtual clock in jiffies, HZ = 250 (the host's).
//  - bpf_get_prandom_u32: the seeded xorshift generator of skb-helpers.ts (Prng).
//  - bpf_get_smp_processor_id / bpf_get_numa_node_id: 0 (one CPU, one node).
//  - bpf_get_current_pid_tgid: pid = tgid = 1000; bpf_get_current_uid_gid: 0 (root, like Socket.uid);
//    bpf_get_current_comm: "bpfvm" (trace-helpers.ts, with the other CAP_PERFMON helpers and their stand-ins).
//  - bpf_get_netns_cookie: one network namespace, cookie 1 unless KernelOptions.netnsCookie says otherwise (the
//    kernel's value is machine-dependent: init_net's was 3 on the 6.18 host).
//  - bpf_trace_printk / bpf_trace_vprintk: messages appended to SocketHelperOutput.trace, as trace_pipe shows
//    them; bpf_send_signal(_thread): signals appended to SocketHelperOutput.signals (trace-helpers.ts).

import { allowedHelpers, isHelperAllowed } from '../../helpers/availability.js';
import { helperName, helperIds } from '../../helpers/ids.js';
import { BpfExecutionError } from '../../vm/errors.js';
import { BPF_MAX_LOOPS, type HelperFn, type Vm } from '../../vm/interpreter.js';
import type { MapsVm } from './maps/vm.js';
import { BPF_SK_STORAGE_GET_F_CREATE, LocalStorageMap, SkStorageMap } from './maps/sk-storage.js';
/** BPF_LOCAL_STORAGE_GET_F_CREATE (= BPF_SK_STORAGE_GET_F_CREATE). */
const BPF_LOCAL_STORAGE_GET_F_CREATE = BPF_SK_STORAGE_GET_F_CREATE;
import { perfEventOutputHelper } from './maps/perf-event-array.js';
import { SK_SKB_HELPER_IDS } from './sk_skb.js';
import { SKC_CAST_HELPER_IDS, SK_SKB_LOOKUP_HELPER_IDS, SOCK_OPS_TCP_SOCK_HELPER_IDS, TimeWaitSock } from './sk-lookup.js';
import { E2BIG, EINVAL, Prng } from './skb-helpers.js';
import { VirtualClock } from './clock.js';
import { TRACE_HELPER_IDS, installTraceHelpers, isCurrentTask, isSpace, type TraceOutput } from './trace-helpers.js';
import { BPF_MAP_TYPE_TASK_STORAGE, CURRENT_TASK, TaskCgrpStorageMap } from './maps/local-storage.js';
import { SK_MSG_HELPERS } from './skmsg-helpers.js';
import { MAP_KIND_HELPER_IDS } from './map-kind-helpers.js';
import { BPF_FUNC_get_local_storage } from './cgroup-storage.js';
import { BASE_HELPER_IDS, CURRENT_PID } from './base-helpers.js';
import {
  BPF_FUNC_get_socket_cookie, BPF_PROG_TYPE_SOCK_OPS, RequestSock, SOCK_OPS_HELPERS, SockOpsContext,
} from './sockops.js';
import { Errno, type Socket } from './socket.js';
import { ERRNO } from './maps/errors.js';
import { mapArg } from './maps/map.js';

export const BPF_PROG_TYPE_SK_SKB = 14;
export const BPF_PROG_TYPE_SK_MSG = 16;
export const SOCKET_PROG_TYPES: readonly number[] = [BPF_PROG_TYPE_SK_SKB, BPF_PROG_TYPE_SK_MSG, BPF_PROG_TYPE_SOCK_OPS];

export const { ERANGE } = ERRNO;

/** Helper ids (BPF_FUNC_*) used here. */
export const F = helperIds(
  'map_lookup_elem', 'map_update_elem', 'map_delete_elem', 'ktime_get_ns', 'trace_printk', 'get_prandom_u32',
  'get_smp_processor_id', 'tail_call', 'get_current_pid_tgid', 'get_current_uid_gid', 'get_current_comm',
  'perf_event_output', 'get_numa_node_id', 'setsockopt', 'getsockopt', 'strtol', 'strtoul', 'sk_storage_get',
  'sk_storage_delete', 'jiffies64', 'get_netns_cookie', 'ktime_get_boot_ns', 'load_hdr_opt', 'store_hdr_opt',
  'reserve_hdr_opt', 'task_storage_get', 'task_storage_delete', 'ktime_get_coarse_ns', 'strncmp', 'loop',
  'map_lookup_percpu_elem',
);

/** Helpers every socket program type gets from the model (when allowed for the type), wherever r1 points. */
export const GENERIC_HELPER_IDS: ReadonlySet<number> = new Set([
  F.map_lookup_elem, F.map_update_elem, F.map_delete_elem, F.map_lookup_percpu_elem, F.tail_call,
  F.ktime_get_ns, F.ktime_get_boot_ns, F.ktime_get_coarse_ns, F.jiffies64, F.trace_printk, F.get_prandom_u32,
  F.get_smp_processor_id, F.get_numa_node_id, F.get_current_pid_tgid, F.get_current_uid_gid, F.get_current_comm,
  F.strtol, F.strtoul, F.strncmp, F.loop, F.sk_storage_get, F.sk_storage_delete, F.get_netns_cookie,
  F.task_storage_get, F.task_storage_delete,
  ...MAP_KIND_HELPER_IDS, // queue / stack, ring buffers, dynptrs (map-kind-helpers.ts)
  ...SKC_CAST_HELPER_IDS,
  ...TRACE_HELPER_IDS,
  ...BASE_HELPER_IDS, // base-helpers.ts: for_each_map_elem, spin locks, timers, cgroup / pid-namespace ids, tai_ns
]);

/** The sock_ops helpers of this file (on top of sockops.ts SOCK_OPS_HELPERS). */
const SOCK_OPS_EXTRA: readonly number[] = [BPF_FUNC_get_socket_cookie, BPF_FUNC_get_local_storage, F.setsockopt, F.getsockopt, F.load_hdr_opt, F.store_hdr_opt, F.reserve_hdr_opt, F.perf_event_output];

/** Context-specific helpers the model implements, per socket program type. */
export const TYPE_HELPER_IDS: Readonly<Record<number, ReadonlySet<number>>> = {
  [BPF_PROG_TYPE_SK_SKB]: new Set([...SK_SKB_HELPER_IDS, ...SK_SKB_LOOKUP_HELPER_IDS]),
  [BPF_PROG_TYPE_SK_MSG]: new Set([...SK_MSG_HELPERS.keys(), F.perf_event_output]),
  [BPF_PROG_TYPE_SOCK_OPS]: new Set([...SOCK_OPS_HELPERS.keys(), ...SOCK_OPS_EXTRA, ...SOCK_OPS_TCP_SOCK_HELPER_IDS]),
};

/**
 * Whether the socket model runs helper `id` for programs of `type`: the kernel allows it (as root) and the
 * model implements it — a context helper of that type, or a generic one installed in the VM.
 * SK_SKB context helpers are bound per run (sk_skb.ts), the others live in the VM's table.
 */
export function socketHelperProvided(vm: Vm, type: number, id: number): boolean {
  if (!isHelperAllowed(type, id)) return false;
  if (id === F.tail_call) return true;
  const own = TYPE_HELPER_IDS[type];
  if (own?.has(id)) return type === BPF_PROG_TYPE_SK_SKB || vm.helpers[id] !== undefined;
  return GENERIC_HELPER_IDS.has(id) && vm.helpers[id] !== undefined;
}

export interface HelperTableRow {
  id: number;
  name: string;
  implemented: boolean;
}

/** Every helper the kernel lets `type` call (root), with whether the model implements it in `vm`. */
export function socketHelperTable(vm: Vm, type: number): HelperTableRow[] {
  return allowedHelpers(type, { privileged: true }).map((id) => ({ id, name: helperName(id), implemented: socketHelperProvided(vm, type, id) }));
}

// ---- generic helpers ----------------------------------------------------------------------------------------

/** What socket programs leave behind for the caller to read. */
export interface SocketHelperOutput extends TraceOutput {
  /** The virtual clock of bpf_ktime_get_*_ns (and of BPF timers: timers.ts). */
  clock: VirtualClock;
}

export interface GenericHelperOptions {
  clock?: { startNs?: bigint; stepNs?: bigint };
  seed?: number;
  /** The network namespace cookie (default 1). */
  netnsCookie?: bigint;
}

export const HZ = 250;
/** INITIAL_JIFFIES on 64-bit: (unsigned long)(unsigned int)(-300 * HZ). */
export const INITIAL_JIFFIES = 2n ** 32n - 300n * BigInt(HZ);
export { CURRENT_PID };
export { CURRENT_COMM } from './trace-helpers.js';

const ptr = (vm: Vm, r: number): { lo: number; hi: number } => ({ lo: vm.lo[r]!, hi: vm.hi[r]! });

/** Installs the generic helpers in a VM; returns where their output goes. */
export function installGenericSocketHelpers(vm: Vm, opts: GenericHelperOptions = {}): SocketHelperOutput {
  const clock = new VirtualClock(opts.clock?.startNs, opts.clock?.stepNs);
  const out: SocketHelperOutput = { trace: [], signals: [], clock };
  const h = vm.helpers;
  for (const id of [F.ktime_get_ns, F.ktime_get_boot_ns, F.ktime_get_coarse_ns]) h[id] = clock.helper();
  h[F.jiffies64] = (v) => v.setR0Big(BigInt.asUintN(64, INITIAL_JIFFIES + (clock.read() * BigInt(HZ)) / 1_000_000_000n));
  h[F.get_prandom_u32] = new Prng(opts.seed).helper();
  h[F.get_smp_processor_id] = (v) => v.setR0(0, 0);
  h[F.get_numa_node_id] = (v) => v.setR0(0, 0);
  installTraceHelpers(vm, out); // trace_printk, get_current_comm and the other CAP_PERFMON helpers
  h[F.get_current_pid_tgid] = (v) => v.setR0(CURRENT_PID, CURRENT_PID);
  h[F.get_current_uid_gid] = (v) => v.setR0(0, 0);
  h[F.strtol] = strtox(true);
  h[F.strtoul] = strtox(false);
  h[F.strncmp] = (v, pc) => {
    // bpf_strncmp(s1, s1_sz, s2): strncmp(s1, s2, s1_sz) → -1 / 0 / 1 (lib/string.c compares unsigned chars).
    const n = v.lo[2]! >>> 0;
    const s1 = v.space.read(pc, v.lo[1]!, v.hi[1]!, n);
    const s2 = readCStr(v, pc, ptr(v, 3), n);
    let r = 0;
    for (let i = 0; i < n; i++) {
      const a = s1[i]!;
      const b = s2[i] ?? 0;
      if (a !== b) {
        r = a < b ? -1 : 1;
        break;
      }
      if (a === 0) break;
    }
    v.setR0Int(r);
  };
  h[F.loop] = (v, pc) => {
    // bpf_loop(nr_loops, callback_fn, callback_ctx, flags): -EINVAL for flags, -E2BIG above BPF_MAX_LOOPS;
    // callback(i, ctx) for i = 0.. until it returns non-zero (then i + 1) or nr_loops runs (then nr_loops).
    const nr = v.lo[1]! >>> 0;
    const fn = ptr(v, 2);
    const ctx = v.reg(3);
    if (v.lo[4] !== 0 || v.hi[4] !== 0) return v.setR0Int(-EINVAL);
    if (nr > BPF_MAX_LOOPS) return v.setR0Int(-E2BIG);
    for (let i = 0; i < nr; i++) {
      if (v.callback(pc, fn, [BigInt(i), ctx]) !== 0n) return v.setR0(i + 1, 0);
    }
    v.setR0(nr, 0);
  };
  const netns = opts.netnsCookie ?? 1n;
  // bpf_get_netns_cookie(ctx): the socket's namespace, or init_net for NULL; the model has one namespace.
  h[F.get_netns_cookie] = (v) => v.setR0Big(netns);
  return out;
}

/** Reads up to `max` bytes of a NUL-terminated string (stops at the region end). */
function readCStr(vm: Vm, pc: number, p: { lo: number; hi: number }, max: number): Uint8Array {
  const r = vm.space.regionOf(p.hi);
  if (r === null || r.kind === 'object') throw new BpfExecutionError(pc, 'string argument does not point into readable memory');
  const start = p.lo >>> 0;
  const end = Math.min(r.bytes.length, start + max);
  const s = r.bytes.subarray(start, end);
  const nul = s.indexOf(0);
  return nul < 0 ? s : s.subarray(0, nul + 1);
}

function digitOf(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x7a) return l - 0x61 + 10;
  return 99;
}

/**
 * __bpf_strtoull (kernel/bpf/helpers.c): skip leading spaces, an optional '-', then at most 63 characters parsed
 * like the kernel's kstrto* core (_parse_integer_fixup_radix / _parse_integer). Returns the characters consumed
 * and the value, or -errno.
 */
export function bpfStrtoull(buf: Uint8Array, flags: bigint): { consumed: number; value: bigint; negative: boolean } | number {
  let base = Number(flags & 0x1fn);
  if (flags < 0n || (flags & ~0x1fn) !== 0n) return -EINVAL;
  if (buf.length === 0) return -EINVAL;
  if (base !== 0 && base !== 8 && base !== 10 && base !== 16) return -EINVAL;
  let i = 0;
  while (i < buf.length && isSpace(buf[i]!)) i++;
  const negative = i < buf.length && buf[i] === 0x2d;
  if (negative) i++;
  const consumedPrefix = i;
  if (buf.length - i === 0) return -EINVAL;
  const s = buf.slice(i, i + Math.min(buf.length - i, 63));
  const at = (k: number): number => (k < s.length ? s[k]! : 0);
  let p = 0;
  if (base === 0) {
    if (at(0) === 0x30) base = (at(1) | 0x20) === 0x78 && digitOf(at(2)) < 16 ? 16 : 8;
    else base = 10;
  }
  if (base === 16 && at(0) === 0x30 && (at(1) | 0x20) === 0x78) p = 2;
  let value = 0n;
  let n = 0;
  const B = BigInt(base);
  for (; p + n < s.length; n++) {
    const c = s[p + n]!;
    if (c === 0) break;
    const d = digitOf(c);
    if (d >= base) break;
    value = value * B + BigInt(d);
    if (value > 0xffffffffffffffffn) return -ERANGE;
  }
  if (n === 0) return -EINVAL;
  return { consumed: consumedPrefix + p + n, value, negative };
}

/** bpf_strtol (105) / bpf_strtoul (106)(buf, buf_len, flags, res): consumed characters or -errno; *res on success. */
function strtox(signed: boolean): HelperFn {
  return (vm, pc) => {
    const len = vm.lo[2]! >>> 0;
    const buf = vm.space.read(pc, vm.lo[1]!, vm.hi[1]!, len);
    const r = bpfStrtoull(buf, vm.reg(3));
    if (typeof r === 'number') return vm.setR0Int(r);
    let res: bigint;
    if (signed) {
      const neg = BigInt.asIntN(64, -r.value);
      if (r.negative ? neg > 0n : BigInt.asIntN(64, r.value) < 0n) return vm.setR0Int(-ERANGE);
      res = r.negative ? neg : r.value;
    } else {
      if (r.negative) return vm.setR0Int(-EINVAL);
      res = r.value;
    }
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, res), true);
    vm.space.write(pc, vm.lo[4]!, vm.hi[4]!, b);
    vm.setR0Int(r.consumed);
  };
}

// ---- perf event output -----------------------------------------------------------------------------------

/** bpf_perf_event_output (25), the SK_MSG / SOCK_OPS flavour (the SK_SKB one is bound per run in sk_skb.ts). */
export function installPerfEventOutput(vm: Vm): void {
  vm.helpers[F.perf_event_output] = perfEventOutputHelper();
}

// ---- per-socket storage -----------------------------------------------------------------------------------

/**
 * bpf_sk_storage_get (107) and bpf_sk_storage_delete (108) (and the task storage helpers, below), over the
 * values of local-storage maps mapped through `mapsVm` (the returned pointer is the map value region, and writes
 * change the storage).
 *  - get(map, sk, value, flags): NULL when sk is NULL or not a full socket, or flags > F_CREATE; the existing
 *    value; else with F_CREATE a new value (a copy of `value`, or zeroes when value is NULL); else NULL.
 *  - delete(map, sk): -EINVAL for NULL / non-full sockets, -ENOENT when there is no value, else 0.
 */
export function installSkStorageHelpers(vm: Vm, mapsVm: MapsVm): void {
  /** The get helpers once their owner and flags passed: `owner`'s value, or with F_CREATE a new one (r3 or zeroes). */
  const storageGet = (v: Vm, pc: number, map: LocalStorageMap, owner: object, flags: bigint): void => {
    let val = map.valueFor(owner);
    if (val === null && flags === BigInt(BPF_LOCAL_STORAGE_GET_F_CREATE)) {
      const init = v.lo[3] === 0 && v.hi[3] === 0 ? null : v.space.read(pc, v.lo[3]!, v.hi[3]!, map.valueSize);
      val = map.create(owner, init);
    }
    if (val === null) return v.setR0(0, 0);
    v.setR0(0, mapsVm.valueRegion(map, val).hi);
  };
  const mapOf = (v: Vm, pc: number, which: string): SkStorageMap => {
    return mapArg(v, pc, 1, SkStorageMap, which, 'an sk_storage map');
  };
  const sockOf = (v: Vm): object | null => {
    if (v.lo[2] === 0 && v.hi[2] === 0) return null;
    const sk = v.space.objectAt(v.lo[2]!, v.hi[2]!);
    return sk === undefined || sk instanceof RequestSock || sk instanceof TimeWaitSock ? null : (sk as object);
  };
  vm.helpers[F.sk_storage_get] = (v, pc) => {
    const map = mapOf(v, pc, 'bpf_sk_storage_get');
    const sk = sockOf(v);
    const flags = v.reg(4);
    if (sk === null || flags > BigInt(BPF_SK_STORAGE_GET_F_CREATE)) return v.setR0(0, 0);
    storageGet(v, pc, map, sk, flags);
  };
  vm.helpers[F.sk_storage_delete] = (v, pc) => {
    const map = mapOf(v, pc, 'bpf_sk_storage_delete');
    const sk = sockOf(v);
    if (sk === null) return v.setR0Int(-EINVAL);
    v.setR0Int(map.remove(sk) ? 0 : -Errno.ENOENT);
  };

  // bpf_task_storage_get (156) / bpf_task_storage_delete (157) for the model's one task, the current one
  // (kernel/bpf/bpf_task_storage.c): get returns NULL for a NULL task or flags other than F_CREATE, else the
  // task's value, or with F_CREATE a new one (a copy of `value`, or zeroes); delete is -EINVAL for a NULL task,
  // -ENOENT when there is no value, else 0.
  const taskMapOf = (v: Vm, pc: number, which: string): TaskCgrpStorageMap => {
    const m = v.space.objectAt(v.lo[1]!, v.hi[1]!);
    if (!(m instanceof TaskCgrpStorageMap) || m.type !== BPF_MAP_TYPE_TASK_STORAGE) throw new BpfExecutionError(pc, `${which}: r1 is not a task_storage map (the verifier refuses it)`);
    return m;
  };
  vm.helpers[F.task_storage_get] = (v, pc) => {
    const map = taskMapOf(v, pc, 'bpf_task_storage_get');
    const flags = v.reg(4);
    if (!isCurrentTask(v, pc, 'bpf_task_storage_get', 2) || (flags & ~BigInt(BPF_LOCAL_STORAGE_GET_F_CREATE)) !== 0n) return v.setR0(0, 0);
    storageGet(v, pc, map, CURRENT_TASK, flags);
  };
  vm.helpers[F.task_storage_delete] = (v, pc) => {
    const map = taskMapOf(v, pc, 'bpf_task_storage_delete');
    if (!isCurrentTask(v, pc, 'bpf_task_storage_delete', 2)) return v.setR0Int(-EINVAL);
    v.setR0Int(map.remove(CURRENT_TASK) ? 0 : -Errno.ENOENT);
  };
}

// ---- sock_ops: setsockopt / getsockopt / header options ------------------------------------------------------

export const SOL_SOCKET = 1;
export const SOL_IP = 0;
export const SOL_TCP = 6;
export const SO = { REUSEADDR: 2, SNDBUF: 7, RCVBUF: 8, KEEPALIVE: 9, PRIORITY: 12, RCVLOWAT: 18, MARK: 36 } as const;
export const TCP = { NODELAY: 1, KEEPIDLE: 4, KEEPINTVL: 5, KEEPCNT: 6, NOTSENT_LOWAT: 25 } as const;
/** The sysctls SO_SNDBUF / SO_RCVBUF are clamped to (net.core.wmem_max / rmem_max). */
export interface SockoptSysctl {
  wmemMax: number;
  rmemMax: number;
}
/** The kernel's built-in defaults (the 6.18 test host is tuned to 4194304 for both; the tests read /proc). */
export const DEFAULT_SOCKOPT_SYSCTL: Readonly<SockoptSysctl> = { wmemMax: 212992, rmemMax: 212992 };
/** SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF on x86-64. */
export const SOCK_MIN_SNDBUF = 4608;
export const SOCK_MIN_RCVBUF = 2304;
const MAX_TCP_KEEPIDLE = 32767;
const MAX_TCP_KEEPINTVL = 32767;
const MAX_TCP_KEEPCNT = 127;

/** Socket options the model keeps for sock_ops (beyond Socket.sndBuf / rcvBuf). Stored, not acted on. */
export interface ModelSockOpts {
  reuseaddr: number;
  keepalive: number;
  priority: number;
  rcvlowat: number;
  mark: number;
  nodelay: number;
  keepidle: number;
  keepintvl: number;
  keepcnt: number;
  notsentLowat: number;
  /** SOCK_SNDBUF_LOCK / SOCK_RCVBUF_LOCK: the size was set, TCP no longer tunes it. */
  sndbufLocked: boolean;
  rcvbufLocked: boolean;
}

const sockOptsOf = new WeakMap<Socket, ModelSockOpts>();
/**
 * sk_clone / tcp_create_openreq_child: an accepted socket starts with its listener's options (the whole sock
 * is copied), including buffer sizes the listener locked with SO_SNDBUF / SO_RCVBUF.
 */
export function inheritSockOpts(child: Socket, listener: Socket): void {
  const o = sockOptsOf.get(listener);
  if (o === undefined) return;
  sockOptsOf.set(child, { ...o });
  if (o.sndbufLocked) child.sndBuf = listener.sndBuf;
  if (o.rcvbufLocked) child.rcvBuf = listener.rcvBuf;
}

/** The options a socket has (defaults of a fresh TCP socket: keepalive timers 7200 / 75 / 9). */
export function modelSockOpts(sk: Socket): ModelSockOpts {
  let o = sockOptsOf.get(sk);
  if (o === undefined) {
    o = { reuseaddr: 0, keepalive: 0, priority: 0, rcvlowat: 1, mark: 0, nodelay: 0, keepidle: 7200, keepintvl: 75, keepcnt: 9, notsentLowat: 0, sndbufLocked: false, rcvbufLocked: false };
    sockOptsOf.set(sk, o);
  }
  return o;
}

/**
 * One option through the rules of __bpf_setsockopt / __bpf_getsockopt for a full TCP socket: the option must be
 * in the kernel's list for that level (else -EINVAL), int options need optlen 4 (-EINVAL); a set applies
 * sk_setsockopt / do_tcp_setsockopt's checks. Options the kernel accepts there but the model does not keep stop
 * the run with a BpfExecutionError rather than return a made-up value.
 */
export function sockOpsSockopt(pc: number, sk: Socket, level: number, opt: number, optlen: number, setValue: number | null, sysctl: SockoptSysctl = DEFAULT_SOCKOPT_SYSCTL): { ret: number; value?: number } {
  const o = modelSockOpts(sk);
  const notModelled = (): never => {
    throw new BpfExecutionError(pc, `bpf_${setValue === null ? 'get' : 'set'}sockopt: level ${level} option ${opt} is accepted by the kernel but not modelled by bpfvm`);
  };
  if (level === SOL_SOCKET) {
    const known: number[] = [SO.REUSEADDR, SO.SNDBUF, SO.RCVBUF, SO.KEEPALIVE, SO.PRIORITY, SO.RCVLOWAT, SO.MARK];
    if (!known.includes(opt)) {
      // SO_MAX_PACING_RATE, SO_REUSEPORT, SO_BINDTOIFINDEX, SO_TXREHASH, SO_BINDTODEVICE: accepted by the kernel.
      if ([47, 15, 62, 74, 25].includes(opt)) notModelled();
      return { ret: -EINVAL };
    }
    if (optlen !== 4) return { ret: -EINVAL };
    if (setValue === null) {
      const v = { [SO.REUSEADDR]: o.reuseaddr, [SO.SNDBUF]: sk.sndBuf, [SO.RCVBUF]: sk.rcvBuf, [SO.KEEPALIVE]: o.keepalive, [SO.PRIORITY]: o.priority, [SO.RCVLOWAT]: o.rcvlowat, [SO.MARK]: o.mark }[opt]!;
      return { ret: 0, value: v };
    }
    const val = setValue | 0;
    switch (opt) {
      case SO.REUSEADDR: o.reuseaddr = val !== 0 ? 1 : 0; break;
      case SO.SNDBUF:
        sk.sndBuf = Math.max(2 * Math.min(val >>> 0, sysctl.wmemMax), SOCK_MIN_SNDBUF);
        o.sndbufLocked = true;
        break;
      case SO.RCVBUF:
        sk.rcvBuf = Math.max(2 * Math.min(val >>> 0, sysctl.rmemMax), SOCK_MIN_RCVBUF);
        o.rcvbufLocked = true;
        break;
      case SO.KEEPALIVE: o.keepalive = val !== 0 ? 1 : 0; break;
      case SO.PRIORITY: o.priority = val; break;
      case SO.RCVLOWAT: o.rcvlowat = val < 0 ? 0x7fffffff : val === 0 ? 1 : val; break;
      case SO.MARK: o.mark = val >>> 0; break;
    }
    return { ret: 0 };
  }
  if (level === SOL_TCP) {
    const known: number[] = [TCP.NODELAY, TCP.KEEPIDLE, TCP.KEEPINTVL, TCP.KEEPCNT, TCP.NOTSENT_LOWAT];
    if (!known.includes(opt)) {
      // TCP_MAXSEG, SYNCNT, WINDOW_CLAMP, THIN_LINEAR_TIMEOUTS, USER_TIMEOUT, SAVE_SYN, CONGESTION, SAVED_SYN and
      // the TCP_BPF_* options (1001..): accepted by the kernel (set-only for TCP_BPF_*).
      if ([2, 7, 10, 16, 18, 27, 13, 28].includes(opt) || (setValue !== null && opt >= 1001 && opt <= 1008)) notModelled();
      return { ret: -EINVAL };
    }
    if (optlen !== 4) return { ret: -EINVAL };
    if (setValue === null) {
      const v = { [TCP.NODELAY]: o.nodelay, [TCP.KEEPIDLE]: o.keepidle, [TCP.KEEPINTVL]: o.keepintvl, [TCP.KEEPCNT]: o.keepcnt, [TCP.NOTSENT_LOWAT]: o.notsentLowat }[opt]!;
      return { ret: 0, value: v };
    }
    const val = setValue | 0;
    switch (opt) {
      case TCP.NODELAY: o.nodelay = val !== 0 ? 1 : 0; break;
      case TCP.KEEPIDLE:
        if (val < 1 || val > MAX_TCP_KEEPIDLE) return { ret: -EINVAL };
        o.keepidle = val;
        break;
      case TCP.KEEPINTVL:
        if (val < 1 || val > MAX_TCP_KEEPINTVL) return { ret: -EINVAL };
        o.keepintvl = val;
        break;
      case TCP.KEEPCNT:
        if (val < 1 || val > MAX_TCP_KEEPCNT) return { ret: -EINVAL };
        o.keepcnt = val;
        break;
      case TCP.NOTSENT_LOWAT: o.notsentLowat = val >>> 0; break;
    }
    return { ret: 0 };
  }
  if (level === SOL_IP || level === 41) notModelled(); // SOL_IP (IP_TOS), SOL_IPV6 (IPV6_TCLASS, IPV6_AUTOFLOWLABEL)
  return { ret: -EINVAL };
}

function sockOpsCtx(vm: Vm, pc: number): SockOpsContext {
  const c = vm.space.regionOf(vm.hi[1]!)?.object;
  if (!(c instanceof SockOpsContext) || vm.lo[1] !== 0) throw new BpfExecutionError(pc, 'sock_ops helper called with r1 not pointing at a bpf_sock_ops context');
  return c;
}

/** is_locked_tcp_sock_ops: the callbacks that run with the socket locked (every op up to WRITE_HDR_OPT_CB, 15). */
const lockedOp = (op: number): boolean => op <= 15;

/**
 * bpf_setsockopt (49) / bpf_getsockopt (57) for sock_ops: -EOPNOTSUPP outside the locked callbacks, -EINVAL on
 * a request socket (not a full socket), then sockOpsSockopt. getsockopt writes the int to optval, or zeroes
 * optval on failure.
 */
export function installSockOpsSockopt(vm: Vm, sysctl: SockoptSysctl = DEFAULT_SOCKOPT_SYSCTL): void {
  const common = (get: boolean): HelperFn => (v, pc) => {
    const c = sockOpsCtx(v, pc);
    const optlen = v.lo[5]! | 0;
    const len = optlen < 0 ? 0 : optlen;
    const fail = (e: number): void => {
      if (get && len > 0) v.space.write(pc, v.lo[4]!, v.hi[4]!, new Uint8Array(len));
      v.setR0Int(e);
    };
    if (!lockedOp(c.call.op)) return fail(-Errno.EOPNOTSUPP);
    const sk = c.call.sk;
    if (sk instanceof RequestSock) return fail(-EINVAL);
    const level = v.lo[2]! | 0;
    const opt = v.lo[3]! | 0;
    let setValue: number | null = null;
    if (!get && optlen === 4) setValue = new DataView(v.space.read(pc, v.lo[4]!, v.hi[4]!, 4).buffer).getInt32(0, true);
    const r = sockOpsSockopt(pc, sk, level, opt, optlen, get ? null : (setValue ?? 0), sysctl);
    if (r.ret < 0) return fail(r.ret);
    if (get) {
      const b = new Uint8Array(len);
      new DataView(b.buffer).setInt32(0, r.value!, true);
      v.space.write(pc, v.lo[4]!, v.hi[4]!, b);
    }
    v.setR0Int(0);
  };
  vm.helpers[F.setsockopt] = common(false);
  vm.helpers[F.getsockopt] = common(true);
  // bpf_store_hdr_opt / bpf_reserve_hdr_opt: only in BPF_SOCK_OPS_WRITE_HDR_OPT_CB (15) / HDR_OPT_LEN_CB (14),
  // which the model never runs (no header-option callbacks): -EPERM everywhere else.
  vm.helpers[F.store_hdr_opt] = (v, pc) => {
    if (sockOpsCtx(v, pc).call.op !== 15) return v.setR0Int(-Errno.EPERM);
    throw new BpfExecutionError(pc, 'bpf_store_hdr_opt in WRITE_HDR_OPT_CB is not modelled');
  };
  vm.helpers[F.reserve_hdr_opt] = (v, pc) => {
    if (sockOpsCtx(v, pc).call.op !== 14) return v.setR0Int(-Errno.EPERM);
    throw new BpfExecutionError(pc, 'bpf_reserve_hdr_opt in HDR_OPT_LEN_CB is not modelled');
  };
}

const ENOMSG = 42;
const BPF_LOAD_HDR_OPT_TCP_SYN = 1n;
const TCPOPT_EOL = 0;
const TCPOPT_NOP = 1;
/** The experimental option kinds that carry a 16- or 32-bit magic (RFC 6994). */
const isExpKind = (k: number): boolean => k === 254 || k === 253;
/** TCP options the model knows of, per kind: [kind, bytes] of a loopback handshake packet, or null (not modelled). */
type HdrOpt = { kind: number; bytes: Uint8Array | null };
/**
 * The options of the packet the ESTABLISHED callbacks see (the host's loopback handshake): the SYN-ACK for
 * ACTIVE_ESTABLISHED_CB (4): MSS 65495 (loopback MTU 65536), SACK_PERM, timestamps, window scale; the final ACK
 * for PASSIVE_ESTABLISHED_CB (5): timestamps only. Timestamp values (clock-derived) and the window scale
 * (derived from the receive-buffer sysctls) are not modelled: a search that finds them stops the run.
 */
const HANDSHAKE_OPTS: Readonly<Record<number, readonly HdrOpt[]>> = {
  4: [{ kind: 2, bytes: Uint8Array.of(2, 4, 0xff, 0xd7) }, { kind: 4, bytes: Uint8Array.of(4, 2) }, { kind: 8, bytes: null }, { kind: 3, bytes: null }],
  5: [{ kind: 8, bytes: null }],
};

/**
 * bpf_load_hdr_opt (142) for sock_ops (bpf_sock_ops_load_hdr_opt): -EINVAL for len < 2, flags other than
 * BPF_LOAD_HDR_OPT_TCP_SYN, a search length above len, a NOP / EOL kind, an experimental kind (253 / 254)
 * without a 2- or 4-byte magic or another kind with a non-zero search length; with TCP_SYN -ENOENT (the model
 * never saves SYNs: TCP_SAVE_SYN is not modelled, and it runs no header-option callbacks); else -EPERM in
 * callbacks without a packet (all but the ESTABLISHED ones), and in ACTIVE / PASSIVE_ESTABLISHED_CB a search of
 * the handshake packet's options (HANDSHAKE_OPTS): the whole option copied to search_res and its length
 * returned; when it is longer than len its first len bytes and -ENOSPC; -ENOMSG when absent.
 */
export function installLoadHdrOpt(vm: Vm): void {
  vm.helpers[F.load_hdr_opt] = (v, pc) => {
    const c = sockOpsCtx(v, pc);
    const len = v.lo[3]! >>> 0;
    const flags = v.reg(4);
    if (len < 2 || (flags & ~BPF_LOAD_HDR_OPT_TCP_SYN) !== 0n) return v.setR0Int(-EINVAL);
    const search = v.space.read(pc, v.lo[2]!, v.hi[2]!, len);
    const kind = search[0]!;
    const searchLen = search[1]!;
    if (searchLen > len || kind === TCPOPT_NOP || kind === TCPOPT_EOL) return v.setR0Int(-EINVAL);
    if (isExpKind(kind) ? searchLen !== 4 && searchLen !== 6 : searchLen !== 0) return v.setR0Int(-EINVAL);
    if ((flags & BPF_LOAD_HDR_OPT_TCP_SYN) !== 0n) return v.setR0Int(-Errno.ENOENT);
    const opts = HANDSHAKE_OPTS[c.call.op];
    if (opts === undefined) return v.setR0Int(-Errno.EPERM);
    const found = opts.find((o) => o.kind === kind);
    if (found === undefined) return v.setR0Int(-ENOMSG);
    if (found.bytes === null) throw new BpfExecutionError(pc, `bpf_load_hdr_opt: TCP option kind ${kind} of the handshake packet is not modelled by bpfvm`);
    // An option longer than len: its first len bytes are copied all the same, and -ENOSPC returned.
    v.space.write(pc, v.lo[2]!, v.hi[2]!, found.bytes.subarray(0, len));
    v.setR0Int(found.bytes.length > len ? -Errno.ENOSPC : found.bytes.length);
  };
}
