// SK_SKB programs on one sk_buff: the skb as the sockmap receive path hands it to stream_parser /
// stream_verdict / skb_verdict programs, its `struct __sk_buff` view, the SK_SKB helpers (net/core/filter.c
// sk_skb_func_proto) and the verdict mapping (skmsg.c sk_psock_map_verd). docs/sockmap-datapath.md §5.2, §5.3,
// §5.6, §7.1, §8; values checked against the host kernel by test/model/sk-skb-kernel.test.ts.
//
// The skb (SkSkb) keeps its bytes in an SkbPacket (skb-helpers.ts, the same object and helper code
// BPF_PROG_TEST_RUN uses): the whole payload, of which only the first `headLen` bytes are linear. TCP skbs on
// loopback carry their payload in page fragments, so a fresh SK_SKB skb has an EMPTY linear head
// (data_end == data) while `len` is the payload length; bpf_skb_pull_data / store_bytes / change_tail /
// change_head / adjust_room make bytes linear the way pskb_may_pull does. `data` is the first payload byte
// (the TCP header was pulled), so skb_load_bytes offsets count from the payload start; in strparser mode that is
// the start of the first underlying TCP segment, not of the message (§5.2).
//
// runSkSkbProgram is the one function that runs an SK_SKB program: the receive path (sk_skb_rx.ts) calls it
// per parse / per verdict, and `bpfvm run` can call it on a single skb (Kernel.runSkSkb).

import { BpfExecutionError } from '../../vm/errors.js';
import type { BoundProgram, HelperFn, RunResult, Vm } from '../../vm/interpreter.js';
import type { Region } from '../../vm/memory.js';
import { u32Bytes, type BpfMap } from './maps/index.js';
import { perfEventOutputHelper } from './maps/perf-event-array.js';
import {
  SKB_HEADROOM, SKB_SHINFO_SIZE, SkbPacket, skSkbAdjustRoom, skbChangeHead, skbChangeTail, skbLoadBytes,
  skbPullData, skbStoreBytes, type SkbEnv,
} from './skb-helpers.js';
import { BPF_F_INGRESS, SK_DROP, SK_PASS, __SK_DROP, __SK_PASS, __SK_REDIRECT } from './skmsg.js';
import { SockMapBase, msgRedirectTarget } from './sockmap.js';
import { sockPointer } from './sk-lookup.js';
import type { Socket } from './socket.js';
import { SKB, SK_BUFF_CTX_SIZE, narrowFieldLoad } from './testrun.js';

export const BPF_FUNC_skb_store_bytes = 9;
export const BPF_FUNC_skb_load_bytes = 26;
export const BPF_FUNC_skb_change_tail = 38;
export const BPF_FUNC_skb_pull_data = 39;
export const BPF_FUNC_skb_change_head = 43;
export const BPF_FUNC_get_socket_cookie = 46;
export const BPF_FUNC_get_socket_uid = 47;
export const BPF_FUNC_skb_adjust_room = 50;
export const BPF_FUNC_sk_redirect_map = 52;
export const BPF_FUNC_sk_redirect_hash = 72;
export const BPF_FUNC_perf_event_output = 25;

const TCP_CB_FLAGS = 12;
const TCPHDR_FIN = 0x01;
const TCPHDR_PSH = 0x08;
const TCPHDR_ACK = 0x10;

/** SK_SKB_CB_PRIV_LEN: the bytes behind __sk_buff.cb[] for SK_SKB. */
export const SK_SKB_CB_PRIV_LEN = 20;
/** The overflow uid bpf_get_socket_uid returns without a socket. */
export const OVERFLOW_UID = 65534;

/** The SK_SKB helper ids the model implements (map helpers and the interpreter's tail call come on top). */
export const SK_SKB_HELPER_IDS: ReadonlySet<number> = new Set([
  BPF_FUNC_skb_store_bytes, BPF_FUNC_skb_load_bytes, BPF_FUNC_skb_change_tail, BPF_FUNC_skb_pull_data,
  BPF_FUNC_skb_change_head, BPF_FUNC_get_socket_cookie, BPF_FUNC_get_socket_uid, BPF_FUNC_skb_adjust_room,
  BPF_FUNC_sk_redirect_map, BPF_FUNC_sk_redirect_hash, BPF_FUNC_perf_event_output,
]);

/** A redirect recorded by bpf_sk_redirect_map / bpf_sk_redirect_hash (skb_bpf_set_redir). */
export interface SkSkbRedirect {
  /** The map and the key (SOCKMAP: 4-byte index; SOCKHASH: key_size bytes) the helper looked up. */
  map: BpfMap;
  key: Uint8Array;
  /** The helper's flags (only BPF_F_INGRESS = 1 passes the check). */
  flags: number;
  /** The socket found there. */
  target: Socket;
}

/** skb fields a program can read that do not come from the packet or the socket (TCP receive on loopback). */
export interface SkSkbFields {
  pktType: number;
  queueMapping: number;
  /** skb->protocol as the native u16 of the big-endian value (0x0008 = ETH_P_IP). */
  protocol: number;
  priority: number;
  /** skb->skb_iif. */
  ingressIfindex: number;
  /** skb->dev->ifindex (0: no device). */
  ifindex: number;
  tcIndex: number;
  hash: number;
  napiId: number;
  gsoSegs: number;
  gsoSize: number;
}

/**
 * Defaults measured on the 6.18 host for a TCP skb received over loopback by a sockmap socket (in both modes):
 * protocol ETH_P_IP, ingress_ifindex 1 (lo), no device (ifindex 0), everything else 0 apart from `hash`, which is
 * the sender's random flow hash in the kernel (the model keeps 0). gso_segs is 1 (one segment).
 */
export const DEFAULT_SK_SKB_FIELDS: Readonly<SkSkbFields> = {
  pktType: 0,
  queueMapping: 0,
  protocol: 0x0008,
  priority: 0,
  ingressIfindex: 1,
  ifindex: 0,
  tcIndex: 0,
  hash: 0,
  napiId: 0,
  gsoSegs: 1,
  gsoSize: 0,
};

/** An sk_buff on the SK_SKB path. */
export class SkSkb {
  readonly pkt = new SkbPacket();
  /** skb->sk while a program runs (the receiving socket). */
  sk: Socket | null = null;
  /**
   * The 20 bytes behind cb[] (read-only for SK_SKB programs). On TCP receive they are the start of TCP's
   * control block: seq (u32), end_seq (u32), 4 bytes, tcp_flags (byte 12: PSH|ACK = 0x18), ... The model has
   * no sequence numbers: seq and end_seq read 0 (the kernel's are random), tcp_flags is 0x18 (0x11 FIN|ACK for
   * the FIN skb).
   */
  readonly cb = new Uint8Array(SK_SKB_CB_PRIV_LEN);
  readonly fields: SkSkbFields;
  redirect: SkSkbRedirect | null = null;
  /** The zero-length skb that carries the peer's FIN (verdict mode runs it through the program). */
  fin = false;

  /** An skb holding `payload`, of which the first `linear` bytes (default none, as on loopback) are in the head. */
  constructor(payload: Uint8Array, opts: { linear?: number; fields?: Partial<SkSkbFields> } = {}) {
    const p = this.pkt;
    p.buf = new Uint8Array(SKB_HEADROOM + payload.length + SKB_SHINFO_SIZE);
    p.buf.set(payload, SKB_HEADROOM);
    p.data = p.mac = p.network = SKB_HEADROOM;
    p.tail = SKB_HEADROOM + payload.length;
    const linear = Math.min(payload.length, Math.max(0, opts.linear ?? 0));
    p.dataLen = payload.length - linear;
    this.fields = { ...DEFAULT_SK_SKB_FIELDS, ...(opts.fields ?? {}) };
    this.cb[TCP_CB_FLAGS] = TCPHDR_PSH | TCPHDR_ACK;
  }

  /** Marks this as the zero-length skb carrying the peer's FIN. */
  markFin(): void {
    this.fin = true;
    this.cb[TCP_CB_FLAGS] = TCPHDR_FIN | TCPHDR_ACK;
  }

  get len(): number {
    return this.pkt.len;
  }

  /** A copy of the packet bytes (skb->data .. end, linear and paged). */
  bytes(): Uint8Array {
    return this.pkt.bytes().slice();
  }
}

export interface SkSkbRunResult extends RunResult {
  /** r0 as the kernel's int. */
  ret: number;
  /** sk_psock_map_verd: __SK_PASS (1), __SK_REDIRECT (2) or __SK_DROP (0). */
  verdict: number;
  /** The redirect recorded during the run (null when none, or when the program did not return SK_PASS). */
  redirect: SkSkbRedirect | null;
}

const u32 = (vm: Vm, r: number): number => vm.lo[r]! >>> 0;

/**
 * bpf_sk_redirect_map / bpf_sk_redirect_hash: flags other than BPF_F_INGRESS, an empty slot or a target that
 * sock_map_redirect_allowed refuses (a TCP listener) → SK_DROP with nothing recorded (an earlier successful
 * call stays recorded); otherwise the target is recorded in the skb → SK_PASS.
 */
function redirectHelper(skb: SkSkb, hash: boolean): HelperFn {
  return (vm, pc) => {
    const map = vm.space.objectAt(vm.lo[2]!, vm.hi[2]!);
    if (map === undefined) throw new BpfExecutionError(pc, 'r2 is not a map pointer');
    if ((vm.lo[4]! & ~BPF_F_INGRESS) !== 0 || vm.hi[4] !== 0) return vm.setR0(SK_DROP, 0);
    if (!(map instanceof SockMapBase)) return vm.setR0(SK_DROP, 0);
    const key = hash ? vm.space.read(pc, vm.lo[3]!, vm.hi[3]!, map.keySize).slice() : u32Bytes(u32(vm, 3));
    const flags = vm.lo[4]! >>> 0;
    const target = msgRedirectTarget(map, key, flags);
    if (target === null) return vm.setR0(SK_DROP, 0);
    skb.redirect = { map, key, flags, target };
    vm.setR0(SK_PASS, 0);
  };
}

/** The __sk_buff view of one skb in a VM's address space, with the SK_SKB helpers bound to it. */
class SkSkbView {
  readonly ctx: Region;
  private readonly packet: Region;
  private readonly skRegion: Region | null;
  readonly helpers: [number, HelperFn][];

  constructor(
    private readonly vm: Vm,
    private readonly skb: SkSkb,
  ) {
    const space = vm.space;
    const pkt = skb.pkt;
    this.packet = space.map('packet (sk_skb linear head)', 'packet', pkt.buf.subarray(0, pkt.data + pkt.headLen), true);
    this.ctx = space.map('ctx (__sk_buff, sk_skb)', 'ctx', new Uint8Array(SK_BUFF_CTX_SIZE), true);
    this.ctx.object = this;
    this.skRegion = skb.sk === null ? null : sockPointer(space, skb.sk);
    this.ctx.bytes.set(skb.cb, SKB.cb);
    const env: SkbEnv = {
      pkt,
      changed: () => space.remap(this.packet, pkt.buf.subarray(0, pkt.data + pkt.headLen)),
      gsoSize: () => skb.fields.gsoSize,
      gsoReset: () => {
        skb.fields.gsoSize = 0;
        skb.fields.gsoSegs = 0;
      },
      clearHash: () => {
        skb.fields.hash = 0;
      },
    };
    const sk = skb.sk;
    this.helpers = [
      [BPF_FUNC_skb_store_bytes, skbStoreBytes(env)],
      [BPF_FUNC_skb_load_bytes, skbLoadBytes(env)],
      [BPF_FUNC_skb_change_tail, skbChangeTail(env)],
      [BPF_FUNC_skb_pull_data, skbPullData(env)],
      [BPF_FUNC_skb_change_head, skbChangeHead(env)],
      [BPF_FUNC_skb_adjust_room, skSkbAdjustRoom(env)],
      [BPF_FUNC_get_socket_cookie, (v) => v.setR0Big(sk === null ? 0n : sk.cookie)],
      [BPF_FUNC_get_socket_uid, (v) => v.setR0(sk === null ? OVERFLOW_UID : sk.uid, 0)],
      [BPF_FUNC_sk_redirect_map, redirectHelper(skb, false)],
      [BPF_FUNC_sk_redirect_hash, redirectHelper(skb, true)],
      [BPF_FUNC_perf_event_output, perfEventOutputHelper(() => pkt.bytes())],
    ];
    this.ctx.load = (off, size, out) => this.load(off, size, out);
    this.ctx.store = (off, size, lo) => this.store(off, size, lo);
  }

  private field(off: number): { v: number; size: number } | null {
    const f = this.skb.fields;
    const sk = this.skb.sk;
    switch (off) {
      case SKB.len: return { v: this.skb.pkt.len, size: 4 };
      case SKB.pkt_type: return { v: f.pktType, size: 1 };
      case SKB.queue_mapping: return { v: f.queueMapping, size: 2 };
      case SKB.protocol: return { v: f.protocol, size: 2 };
      case SKB.vlan_present: return { v: 0, size: 4 };
      case SKB.vlan_tci: return { v: 0, size: 2 };
      case SKB.vlan_proto: return { v: 0, size: 2 };
      case SKB.priority: return { v: f.priority, size: 4 };
      case SKB.ingress_ifindex: return { v: f.ingressIfindex, size: 4 };
      case SKB.ifindex: return { v: f.ifindex, size: 4 };
      case SKB.tc_index: return { v: f.tcIndex, size: 2 };
      case SKB.hash: return { v: f.hash, size: 4 };
      case SKB.napi_id: return { v: f.napiId, size: 4 };
      case SKB.family: return { v: sk?.family ?? 0, size: 2 };
      case SKB.remote_ip4: return { v: bswap32(sk?.remoteIp4 ?? 0), size: 4 };
      case SKB.local_ip4: return { v: bswap32(sk?.localIp4 ?? 0), size: 4 };
      // remote_port: skc_dport (network order) loaded as a 16-bit value and shifted left by 16 (§6).
      case SKB.remote_port: return { v: (bswap16(sk?.remotePort ?? 0) << 16) >>> 0, size: 4 };
      case SKB.local_port: return { v: sk?.localPort ?? 0, size: 2 };
      case SKB.gso_segs: return { v: f.gsoSegs, size: 2 };
      case SKB.gso_size: return { v: f.gsoSize, size: 2 };
      default: return null;
    }
  }

  private load(off: number, size: number, out: Int32Array): boolean {
    if (off >= SKB.cb && off < SKB.cb + SK_SKB_CB_PRIV_LEN) return false;
    if (off >= SKB.remote_ip6 && off < SKB.remote_port) {
      // IPv4 sockets: the IPv6 address fields hold the v4-mapped address ::ffff:a.b.c.d (sk_v6_daddr).
      const word = ((off - SKB.remote_ip6) % 16) >> 2;
      const ip4 = off < SKB.local_ip6 ? this.skb.sk?.remoteIp4 : this.skb.sk?.localIp4;
      out[0] = ip4 === undefined || ip4 === 0 ? 0 : word === 2 ? 0xffff0000 | 0 : word === 3 ? bswap32(ip4) | 0 : 0;
      out[1] = 0;
      return true;
    }
    const pkt = this.skb.pkt;
    switch (off) {
      case SKB.data:
        out[0] = pkt.data;
        out[1] = this.packet.hi;
        return true;
      case SKB.data_end:
        out[0] = pkt.data + pkt.headLen;
        out[1] = this.packet.hi;
        return true;
      case SKB.sk:
        out[0] = 0;
        out[1] = this.skRegion === null ? 0 : this.skRegion.hi;
        return true;
    }
    const f = this.field(off & ~3);
    if (f === null) throw new BpfExecutionError(-1, `load of ${size} bytes at __sk_buff offset ${off}, which SK_SKB programs may not read (the verifier refuses it)`);
    narrowFieldLoad(f.v, f.size, off, size, out);
    return true;
  }

  private store(off: number, size: number, lo: number): boolean {
    if (size === 4 && off === SKB.priority) {
      this.skb.fields.priority = lo >>> 0;
      return true;
    }
    if (size === 4 && off === SKB.tc_index) {
      this.skb.fields.tcIndex = lo & 0xffff;
      return true;
    }
    throw new BpfExecutionError(-1, `store of ${size} bytes to __sk_buff offset ${off}: SK_SKB programs may write only priority and tc_index (the verifier refuses it)`);
  }

  dispose(): void {
    // (skRegion is the socket's bpf_sock view, kept until the socket is closed: sk-lookup.ts SockViews.)
    for (const r of [this.packet, this.ctx]) this.vm.space.unmap(r);
  }
}

const bswap16 = (v: number): number => ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
const bswap32 = (v: number): number => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;

/** sk_psock_map_verd: SK_PASS with a recorded redirect → __SK_REDIRECT, SK_PASS → __SK_PASS, anything else → __SK_DROP. */
export function skSkbVerdict(ret: number, redirected: boolean): number {
  if (ret >>> 0 === SK_PASS) return redirected ? __SK_REDIRECT : __SK_PASS;
  return __SK_DROP;
}

/**
 * Runs an SK_SKB program (parser or verdict) on `skb`: skb->sk = `skb.sk`, the recorded redirect cleared first
 * (skb_bpf_redirect_clear), r1 = a fresh __sk_buff view; the SK_SKB helpers are bound to this skb for the run
 * and the VM's previous helpers at those ids restored afterwards. Map helpers come from the VM. The skb keeps
 * whatever the program changed (bytes, length, linear head, priority, tc_index).
 */
export function runSkSkbProgram(vm: Vm, prog: BoundProgram, skb: SkSkb): SkSkbRunResult {
  skb.redirect = null;
  const view = new SkSkbView(vm, skb);
  const saved = view.helpers.map(([id]) => [id, vm.helpers[id]] as const);
  for (const [id, f] of view.helpers) vm.helpers[id] = f;
  try {
    const r = vm.run(prog, [view.ctx.address(0)]);
    const ret = Number(BigInt.asIntN(32, r.r0));
    const verdict = skSkbVerdict(ret, skb.redirect !== null);
    return { ...r, ret, verdict, redirect: verdict === __SK_REDIRECT ? skb.redirect : null };
  } finally {
    for (const [id, f] of saved) vm.helpers[id] = f as HelperFn;
    view.dispose();
  }
}
