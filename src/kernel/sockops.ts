// SOCK_OPS programs in the socket model: cgroups, the callbacks TCP runs over loopback, the `struct
// bpf_sock_ops` context and the sock_ops helpers (docs/sockmap-datapath.md §6, §7.3, §3.4).
//
// The model's cgroups: a tree of paths ("/" = the root, "/a/b" = child b of /a). Every socket belongs to one
// cgroup: sockets created by the Kernel take its `currentCgroup` (default "/", so by default every socket is
// in the root cgroup and a program attached to "/" sees all of them); accepted children inherit their
// listener's cgroup (the kernel copies sk_cgrp_data in sk_clone). A program attached at cgroup C runs for
// sockets in C and in every descendant of C, following the kernel's effective-program rules
// (kernel/bpf/cgroup.c compute_effective_progs): attach flags 0 (exclusive: one program, replaced by a new
// attach; no descendant may attach then), BPF_F_ALLOW_OVERRIDE (1: a descendant's programs replace it) and
// BPF_F_ALLOW_MULTI (2: a list; descendants' programs run first, then the ancestors'). Return values are
// combined like BPF_PROG_RUN_ARRAY_CG: the callback's result is the context's `reply` when every program
// returned 1, else -1 (tcp_call_bpf).
//
// Callbacks, in the order Linux 6.18 runs them for one loopback connection (observed with a tracing sock_ops
// program through test/kernel/sockrun.c; test/model/sockops-kernel.test.ts compares the model with it):
//   listen()               TCP_LISTEN_CB (11) on the listener (no flag needed), state LISTEN
//   connect(), client      TCP_CONNECT_CB (3), RWND_INIT (2), TIMEOUT_INIT (1), NEEDS_ECN (6); state SYN_SENT
//   SYN at the listener    RWND_INIT (2), TIMEOUT_INIT (1), NEEDS_ECN (6) on the request socket: is_fullsock 0,
//                          state NEW_SYN_RECV (12), TCP fields read 0, the listener's cgroup programs
//   SYN-ACK, client        [STATE_CB SYN_SENT→ESTABLISHED], ACTIVE_ESTABLISHED_CB (4), state ESTABLISHED
//   final ACK, child       PASSIVE_ESTABLISHED_CB (5) with state SYN_RECV (3), [STATE_CB SYN_RECV→ESTABLISHED]
//                          — before accept() returns; the child inherits the listener's callback flags
//   FIN / RST / close      [STATE_CB old→new] for each TCP state change (only with BPF_SOCK_OPS_STATE_CB_FLAG)
// STATE_CB (10) has args[0] = old state, args[1] = new state and runs before the new state is stored (the
// context's `state` is still the old one). RTO/RETRANS/RTT callbacks never happen in the model (no loss, no
// timers), header-option callbacks are not modelled.

import { BpfExecutionError } from '../../vm/errors.js';
import type { BoundProgram, HelperFn, Vm } from '../../vm/interpreter.js';
import type { Region } from '../../vm/memory.js';
import { SockMap, SockHash, SockMapBase } from './sockmap.js';
import { sockPointer, tcpSockFields } from './sk-lookup.js';
import { AF_INET, Errno, LOOPBACK_IP4, type Socket } from './socket.js';

export const BPF_PROG_TYPE_SOCK_OPS = 13;
export const BPF_CGROUP_SOCK_OPS = 3;

/** enum bpf_sock_ops op values. */
export const SockOp = {
  VOID: 0,
  TIMEOUT_INIT: 1,
  RWND_INIT: 2,
  TCP_CONNECT_CB: 3,
  ACTIVE_ESTABLISHED_CB: 4,
  PASSIVE_ESTABLISHED_CB: 5,
  NEEDS_ECN: 6,
  BASE_RTT: 7,
  RTO_CB: 8,
  RETRANS_CB: 9,
  STATE_CB: 10,
  TCP_LISTEN_CB: 11,
  RTT_CB: 12,
} as const;

/** BPF_TCP_* states (identical to the kernel's TCP states). */
export const BpfTcpState = {
  ESTABLISHED: 1, SYN_SENT: 2, SYN_RECV: 3, FIN_WAIT1: 4, FIN_WAIT2: 5, TIME_WAIT: 6, CLOSE: 7, CLOSE_WAIT: 8,
  LAST_ACK: 9, LISTEN: 10, CLOSING: 11, NEW_SYN_RECV: 12,
} as const;

export const BPF_SOCK_OPS_STATE_CB_FLAG = 1 << 2;
export const BPF_SOCK_OPS_ALL_CB_FLAGS = 0x7f;
export const BPF_F_ALLOW_OVERRIDE = 1;
export const BPF_F_ALLOW_MULTI = 2;

export const BPF_FUNC_get_socket_cookie = 46;
export const BPF_FUNC_sock_map_update = 53;
export const BPF_FUNC_sock_ops_cb_flags_set = 59;
export const BPF_FUNC_sock_hash_update = 70;

/** struct bpf_sock_ops field offsets (uapi, 224 bytes). */
export const SOCK_OPS = {
  op: 0, args: 4, reply: 4, family: 20, remote_ip4: 24, local_ip4: 28, remote_ip6: 32, local_ip6: 48,
  remote_port: 64, local_port: 68, is_fullsock: 72, snd_cwnd: 76, srtt_us: 80, bpf_sock_ops_cb_flags: 84,
  state: 88, rtt_min: 92, snd_ssthresh: 96, rcv_nxt: 100, snd_nxt: 104, snd_una: 108, mss_cache: 112,
  ecn_flags: 116, rate_delivered: 120, rate_interval_us: 124, packets_out: 128, retrans_out: 132,
  total_retrans: 136, segs_in: 140, data_segs_in: 144, segs_out: 148, data_segs_out: 152, lost_out: 156,
  sacked_out: 160, sk_txhash: 164, bytes_received: 168, bytes_acked: 176, sk: 184, skb_data: 192,
  skb_data_end: 200, skb_len: 208, skb_tcp_flags: 212, skb_hwtstamp: 216,
} as const;
export const SOCK_OPS_SIZE = 224;

/** A loaded program as cgroups hold it. */
export interface SockOpsProg {
  readonly id: number;
  readonly name: string;
  readonly type: number;
  readonly bound: BoundProgram;
  runCount: number;
}

// ---- cgroups --------------------------------------------------------------------------------------------------

/** Normalises a cgroup path ("" / "/" = root; "a/b" = "/a/b"); throws on "." / ".." components. */
export function cgroupPath(p: string): string {
  const parts = p.split('/').filter((s) => s !== '');
  for (const s of parts) if (s === '.' || s === '..') throw new Error(`cgroup path "${p}": "." and ".." are not allowed`);
  return '/' + parts.join('/');
}

const parentOf = (p: string): string | null => (p === '/' ? null : p.slice(0, p.lastIndexOf('/')) || '/');

interface CgroupAttach {
  flags: number;
  progs: SockOpsProg[];
}

/** BPF_CGROUP_SOCK_OPS attachments per cgroup path, with the kernel's flag rules. */
export class Cgroups {
  private readonly at = new Map<string, CgroupAttach>();

  /** BPF_PROG_ATTACH (type BPF_CGROUP_SOCK_OPS): 0 or -errno. */
  attach(path: string, prog: SockOpsProg, flags = 0): number {
    const p = cgroupPath(path);
    if (prog.type !== BPF_PROG_TYPE_SOCK_OPS) return -Errno.EINVAL;
    if ((flags & ~(BPF_F_ALLOW_OVERRIDE | BPF_F_ALLOW_MULTI)) !== 0) return -Errno.EINVAL;
    if ((flags & BPF_F_ALLOW_OVERRIDE) && (flags & BPF_F_ALLOW_MULTI)) return -Errno.EINVAL;
    // An ancestor with programs attached without OVERRIDE/MULTI forbids attaching below it.
    for (let a = parentOf(p); a !== null; a = parentOf(a)) {
      const e = this.at.get(a);
      if (e !== undefined && e.progs.length > 0 && e.flags === 0) return -Errno.EPERM;
    }
    const cur = this.at.get(p);
    if (cur !== undefined && cur.progs.length > 0) {
      if (cur.flags !== flags) return -Errno.EPERM;
      if (flags & BPF_F_ALLOW_MULTI) {
        if (cur.progs.includes(prog)) return -Errno.EEXIST;
        cur.progs.push(prog);
        return 0;
      }
      cur.progs = [prog];
      return 0;
    }
    this.at.set(p, { flags, progs: [prog] });
    return 0;
  }

  /** BPF_PROG_DETACH: 0, or -ENOENT when `prog` is not attached there. */
  detach(path: string, prog: SockOpsProg): number {
    const e = this.at.get(cgroupPath(path));
    const i = e === undefined ? -1 : e.progs.indexOf(prog);
    if (e === undefined || i < 0) return -Errno.ENOENT;
    e.progs.splice(i, 1);
    return 0;
  }

  /** BPF_PROG_QUERY: the programs attached at exactly `path`. */
  attached(path: string): readonly SockOpsProg[] {
    return this.at.get(cgroupPath(path))?.progs ?? [];
  }

  /** The effective program array of `path`: its own programs first, then each MULTI ancestor's. */
  effective(path: string): SockOpsProg[] {
    return this.effectiveItems(path).map((i) => i.prog);
  }

  /** The effective program array with the cgroup each program is attached at (its cgroup storage's). */
  effectiveItems(path: string): { prog: SockOpsProg; cgroup: string }[] {
    const out: { prog: SockOpsProg; cgroup: string }[] = [];
    for (let p: string | null = cgroupPath(path); p !== null; p = parentOf(p)) {
      const e = this.at.get(p);
      if (e === undefined || e.progs.length === 0) continue;
      if (out.length > 0 && !(e.flags & BPF_F_ALLOW_MULTI)) continue;
      for (const prog of e.progs) out.push({ prog, cgroup: p });
    }
    return out;
  }
}

// ---- per-socket sock_ops state --------------------------------------------------------------------------------

/** What TCP keeps for sock_ops on a socket (tcp_sock fields and the socket's cgroup). */
export interface SockOpsSockState {
  cgroup: string;
  /** bpf_sock_ops_cb_flags. */
  cbFlags: number;
  /** The TCP state sock_ops programs see (the model's Socket.state only distinguishes what the data path needs). */
  tcpState: number | null;
  /** mss_cache as the kernel has it at this point over loopback (observed values). */
  mss: number;
}

const states = new WeakMap<object, SockOpsSockState>();

export function sockOpsState(sk: object, cgroup = '/'): SockOpsSockState {
  let s = states.get(sk);
  if (s === undefined) {
    s = { cgroup, cbFlags: 0, tcpState: null, mss: 536 };
    states.set(sk, s);
  }
  return s;
}

/** A request socket (is_fullsock 0): the listener's half of a connection before the final ACK. */
export class RequestSock {
  readonly family = AF_INET;
  constructor(
    readonly listener: Socket,
    readonly localPort: number,
    readonly remotePort: number,
    readonly localIp4 = LOOPBACK_IP4,
    readonly remoteIp4 = LOOPBACK_IP4,
  ) {}
  private cookieValue = 0n;
  /** A cookie of its own (the request socket is a different object than the child created later). */
  cookie(next: () => bigint): bigint {
    if (this.cookieValue === 0n) this.cookieValue = next();
    return this.cookieValue;
  }
}

// ---- the context --------------------------------------------------------------------------------------------

/** One callback invocation: what tcp_call_bpf / bpf_skops_established put into bpf_sock_ops_kern. */
export interface SockOpsCall {
  op: number;
  sk: Socket | RequestSock;
  args?: readonly number[];
}

/** The struct bpf_sock_ops view behind r1 while a sock_ops program runs. */
export class SockOpsContext {
  readonly ctx: Region;
  /** skops->sk: the socket's bpf_sock view for a full socket, NULL for a request socket (SOCK_OPS_GET_SK). */
  private readonly skRegion: Region | null;
  constructor(
    private readonly vm: Vm,
    readonly call: SockOpsCall,
    /** The model around: resolves cookies and performs sock map inserts. */
    readonly env: SockOpsEnv,
  ) {
    const space = vm.space;
    this.skRegion = call.sk instanceof RequestSock ? null : sockPointer(space, call.sk);
    const ctx = space.map('ctx (bpf_sock_ops)', 'ctx', new Uint8Array(SOCK_OPS_SIZE), true);
    ctx.object = this;
    this.ctx = ctx;
    const dv = ctx.dv;
    const sk = call.sk;
    const full = !(sk instanceof RequestSock);
    dv.setUint32(SOCK_OPS.op, call.op >>> 0, true);
    (call.args ?? []).slice(0, 4).forEach((a, i) => dv.setUint32(SOCK_OPS.args + 4 * i, a >>> 0, true));
    dv.setUint32(SOCK_OPS.family, sk.family, true);
    dv.setUint32(SOCK_OPS.remote_ip4, sk.remoteIp4 >>> 0, false);
    dv.setUint32(SOCK_OPS.local_ip4, sk.localIp4 >>> 0, false);
    // remote_port: the network-order 16-bit port in the upper half (little-endian hosts, §6).
    dv.setUint16(SOCK_OPS.remote_port + 2, sk.remotePort & 0xffff, false);
    dv.setUint32(SOCK_OPS.local_port, sk.localPort & 0xffff, true);
    dv.setUint32(SOCK_OPS.is_fullsock, full ? 1 : 0, true);
    if (full) {
      const st = sockOpsState(sk);
      dv.setUint32(SOCK_OPS.state, st.tcpState ?? sk.state, true);
      dv.setUint32(SOCK_OPS.bpf_sock_ops_cb_flags, st.cbFlags, true);
      // The tcp_sock fields (snd_cwnd ... bytes_acked): the values bpf_tcp_sock reads (sk-lookup.ts).
      for (const [name, v] of Object.entries(tcpSockFields(sk))) {
        const at = (SOCK_OPS as Record<string, number>)[name];
        if (at === undefined) continue;
        if (typeof v === 'bigint') dv.setBigUint64(at, v, true);
        else dv.setUint32(at, v, true);
      }
    } else {
      dv.setUint32(SOCK_OPS.state, BpfTcpState.NEW_SYN_RECV, true);
    }
    dv.setUint32(SOCK_OPS.sk, 0, true);
    dv.setUint32(SOCK_OPS.sk + 4, this.skRegion?.hi ?? 0, true);
  }

  get address(): bigint {
    return this.ctx.address(0);
  }

  /** The `reply` field (args[0] union) after the run. */
  get reply(): number {
    return this.ctx.dv.getUint32(SOCK_OPS.reply, true) | 0;
  }

  dispose(): void {
    this.vm.space.unmap(this.ctx); // (skRegion is kept until the socket is closed: sk-lookup.ts SockViews)
  }
}

/** What the sock_ops helpers need from the model. */
export interface SockOpsEnv {
  cookieOf(sk: Socket | RequestSock): bigint;
  /** Called before the program at `index` of the array runs (the Kernel selects its cgroup storage). */
  beforeRun?(index: number): void;
}

function contextOf(vm: Vm, pc: number): SockOpsContext {
  const r = vm.space.regionOf(vm.hi[1]!);
  const c = r?.object;
  if (!(c instanceof SockOpsContext) || r !== c.ctx || vm.lo[1] !== 0) {
    throw new BpfExecutionError(pc, 'sock_ops helper called with r1 not pointing at a bpf_sock_ops context');
  }
  return c;
}

/** u64 flags as sock_map_update_common sees them (anything above BPF_EXIST stays above it). */
function flagsArg(vm: Vm, reg: number): number {
  return vm.hi[reg] !== 0 ? 0xffffffff : vm.lo[reg]! >>> 0;
}

/** sock_map_op_okay: the callbacks in which sock_ops may insert the socket. */
function opOkay(op: number): boolean {
  return op === SockOp.ACTIVE_ESTABLISHED_CB || op === SockOp.PASSIVE_ESTABLISHED_CB || op === SockOp.TCP_LISTEN_CB;
}

function sockUpdate(hash: boolean): HelperFn {
  return (vm, pc) => {
    const c = contextOf(vm, pc);
    const map = vm.space.objectAt(vm.lo[2]!, vm.hi[2]!);
    if (!(map instanceof SockMapBase) || (hash ? !(map instanceof SockHash) : !(map instanceof SockMap))) {
      throw new BpfExecutionError(pc, `${vm.helperName(hash ? BPF_FUNC_sock_hash_update : BPF_FUNC_sock_map_update)}: r2 is not a ${hash ? 'SOCKHASH' : 'SOCKMAP'}`);
    }
    const key = vm.space.read(pc, vm.lo[3]!, vm.hi[3]!, hash ? map.keySize : 4);
    const sk = c.call.sk;
    if (sk instanceof RequestSock || !opOkay(c.call.op)) {
      vm.setR0Int(-Errno.EOPNOTSUPP);
      return;
    }
    vm.setR0Int(map.updateCommon(key.slice(), sk, flagsArg(vm, 4)));
  };
}

/** bpf_sock_map_update(skops, map, key, flags) (53). */
export const bpfSockMapUpdate: HelperFn = sockUpdate(false);
/** bpf_sock_hash_update(skops, map, key, flags) (70). */
export const bpfSockHashUpdate: HelperFn = sockUpdate(true);

/** bpf_sock_ops_cb_flags_set(skops, flags) (59): -EINVAL on a request socket, else the unknown bits. */
export const bpfSockOpsCbFlagsSet: HelperFn = (vm, pc) => {
  const c = contextOf(vm, pc);
  const arg = vm.lo[2]! | 0;
  if (c.call.sk instanceof RequestSock) {
    vm.setR0Int(-Errno.EINVAL);
    return;
  }
  sockOpsState(c.call.sk).cbFlags = arg & BPF_SOCK_OPS_ALL_CB_FLAGS;
  c.ctx.dv.setUint32(SOCK_OPS.bpf_sock_ops_cb_flags, arg & BPF_SOCK_OPS_ALL_CB_FLAGS, true);
  vm.setR0Int(arg & ~BPF_SOCK_OPS_ALL_CB_FLAGS);
};

/** bpf_get_socket_cookie(skops) (46, the sock_ops flavour). */
export const bpfGetSocketCookieSockOps: HelperFn = (vm, pc) => {
  const c = contextOf(vm, pc);
  vm.setR0Big(c.env.cookieOf(c.call.sk));
};

export const SOCK_OPS_HELPERS: ReadonlyMap<number, HelperFn> = new Map<number, HelperFn>([
  [BPF_FUNC_sock_map_update, bpfSockMapUpdate],
  [BPF_FUNC_sock_hash_update, bpfSockHashUpdate],
  [BPF_FUNC_sock_ops_cb_flags_set, bpfSockOpsCbFlagsSet],
]);

/**
 * Puts the sock_ops helpers into a VM's helper table. get_socket_cookie (46) dispatches on r1: a bpf_sock_ops
 * context gets the sock_ops flavour, anything else goes to the helper that was installed before (if any).
 */
export function installSockOpsHelpers(vm: Vm): void {
  for (const [id, f] of SOCK_OPS_HELPERS) vm.helpers[id] = f;
  const prev = vm.helpers[BPF_FUNC_get_socket_cookie];
  vm.helpers[BPF_FUNC_get_socket_cookie] = (v, pc) => {
    const c = v.space.regionOf(v.hi[1]!)?.object;
    if (c instanceof SockOpsContext || prev === undefined) bpfGetSocketCookieSockOps(v, pc);
    else prev(v, pc);
  };
}

/**
 * Runs the effective SOCK_OPS programs for one callback (tcp_call_bpf / bpf_skops_established) on one shared
 * context, as BPF_PROG_RUN_ARRAY_CG does: returns `reply` when every program returned 1, else -1 (no program:
 * 0, the zeroed reply). `record` sees the context after each program.
 */
export function runSockOps(vm: Vm, progs: readonly SockOpsProg[], call: SockOpsCall, env: SockOpsEnv, record?: (prog: SockOpsProg, ctx: SockOpsContext, r0: bigint) => void): number {
  if (progs.length === 0) return 0;
  let allOne = true;
  const c = new SockOpsContext(vm, call, env);
  try {
    for (let i = 0; i < progs.length; i++) {
      const p = progs[i]!;
      p.runCount++;
      env.beforeRun?.(i);
      const r = vm.run(p.bound, [c.address]);
      if ((r.r0 & 1n) === 0n) allOne = false;
      record?.(p, c, r.r0);
    }
    return allOne ? c.reply : -1;
  } finally {
    c.dispose();
  }
}
