// Socket lookup by tuple, socket references and the views programs read through socket pointers
// (net/core/filter.c: bpf_sk_lookup_tcp 84, bpf_sk_lookup_udp 85, bpf_sk_release 86, bpf_skc_lookup_tcp 99 for
// SK_SKB; bpf_tcp_sock 96 for SOCK_OPS; the bpf_skc_to_* casts 136-140, 178, 196 for every socket type, CAP_PERFMON
// tier). Checked against the 6.18 host by test/model/sk-lookup-kernel.test.ts.
//
// Lookups (bpf_skc_lookup → __bpf_skc_lookup → sk_lookup):
//  - The tuple is a struct bpf_sock_tuple: len 12 = ipv4 {saddr, daddr, sport, dport}, len 36 = ipv6 {saddr[16],
//    daddr[16], sport, dport}; addresses and ports in network order. Any other len → NULL. The tuple is read as an
//    incoming packet's: saddr:sport is the REMOTE end, daddr:dport the LOCAL end of the socket found.
//  - flags != 0 → NULL. netns_id: (s32)netns_id < 0 (BPF_F_CURRENT_NETNS = -1, but also e.g. 0x1_ffffffff: only
//    the low 32 bits are tested) → the caller's namespace; netns_id > S32_MAX otherwise → NULL; an id in
//    [0, S32_MAX] names a peer namespace (get_net_ns_by_id): the model has one namespace and no ids → NULL.
//  - TCP (__inet_lookup): first the established hash — TCP sockets with a peer in any state but CLOSE / LISTEN,
//    and time-wait sockets — on the exact 4-tuple; then the listeners on daddr (or INADDR_ANY) : dport.
//    SO_REUSEPORT and BPF sk_lookup programs play no part in the model. The model has no IPv6 sockets: every
//    ipv6 tuple → NULL.
//  - UDP (__udp4_lib_lookup): bound UDP sockets on dport whose bound address (if any) is daddr and, when
//    connected, whose peer is saddr:sport; the best-scoring one (connected sockets score higher).
//  - bpf_sk_lookup_* (not skc) turn what was found into a full socket (sk_to_full_sk): a time-wait socket → NULL
//    (it is found in the established hash first, so the listener behind it is NOT returned). Request sockets do
//    not outlive connect() in the model (the handshake is synchronous), so no lookup finds one.
//
// KERNEL quirk (6.18, observed): from SK_SKB programs, __bpf_skc_lookup takes sdif from inet_sdif(skb), which reads
// IPCB(skb)->flags — on an SK_SKB skb those bytes belong to TCP_SKB_CB's ack_seq. When its bit 7 (IPSKB_L3SLAVE) is
// set, sdif = IPCB->iif (the segment's seq) and no socket bound to no device matches (tcp/udp_l3mdev_accept 0):
// every lookup returns NULL. Which connections that hits depends on the random ISN (about half of them). The
// model's sequence numbers start at 0 (its cb seq reads 0, so sdif would be 0): its lookups always search.
//
// Time-wait sockets: a TCP socket that closes its side first (FIN sent, then close(), or the peer's FIN while in
// FIN_WAIT2) leaves a tcp_timewait_sock in the established hash (tcp_time_wait). The kernel drops it after 60 s
// (TCP_TIMEWAIT_LEN); the model has no clock and keeps it for the Kernel's lifetime.
//
// References: the verifier makes a program release every socket a lookup returned (bpf_sk_release) and refuses
// releasing anything else; the model counts the references the lookups hand out and stops the run with a
// BpfExecutionError when a program releases a pointer it holds no reference to (the verifier refuses such a
// program). A reference still held when the program exits is a verifier refusal too ("Unreleased reference"),
// which the model, running unverified programs, does not detect.
//
// Views (what a program reads through a socket pointer). Each socket has ONE pointer per VM (SockViews), so the
// `sk` fields of __sk_buff / sk_msg_md / bpf_sock_ops and a lookup of the same socket compare equal, as in the
// kernel:
//  - struct bpf_sock (80 bytes, §7.4): values from the model socket at the time of the read (bpf_sock_convert
//    ctx_access). A time-wait socket is a sock_common: reading type / protocol / mark / priority from it is
//    refused by the verifier (BpfExecutionError here); rx_queue_mapping reads -1 (loopback skbs record no queue).
//  - struct bpf_tcp_sock (112 bytes; bpf_tcp_sock): a separate view of the same socket (so, unlike the kernel, its
//    address differs from the socket's). Values: tcpSockFields.
//  - The BTF pointers of the skc_to_* casts (struct tcp_sock, tcp_timewait_sock, unix_sock): a region of the
//    struct's 6.18 x86-64 size in which the sock_common fields, sk_type / sk_protocol / sk_mark / sk_priority /
//    sk_sndbuf / sk_rcvbuf and the tcp_sock fields that bpf_tcp_sock also exposes are readable (offsets measured
//    from the host's vmlinux BTF, BTF_FIELDS). A read anywhere else stops the run with a BpfExecutionError naming
//    the struct and the offset: the model does not make up the rest of a kernel object.
//    The model has no IPv6, UDPv6 or MPTCP sockets and no live request sockets, so skc_to_tcp6_sock,
//    skc_to_udp6_sock, skc_to_mptcp_sock and skc_to_tcp_request_sock return NULL for every model socket.

import { helperIds } from '../../helpers/ids.js';
import { BpfExecutionError } from '../../vm/errors.js';
import type { HelperFn, Vm } from '../../vm/interpreter.js';
import type { AddressSpace, Region } from '../../vm/memory.js';
import { AF_INET, AF_UNIX, IPPROTO_TCP, IPPROTO_UDP, Socket, TCP_CLOSE, TCP_LISTEN } from './socket.js';
import { BpfTcpState, RequestSock, sockOpsState } from './sockops.js';

/** Helper ids (BPF_FUNC_*) of this file. */
export const SKL = helperIds(
  'sk_lookup_tcp', 'sk_lookup_udp', 'sk_release', 'tcp_sock', 'skc_lookup_tcp', 'skc_to_tcp6_sock',
  'skc_to_tcp_sock', 'skc_to_tcp_timewait_sock', 'skc_to_tcp_request_sock', 'skc_to_udp6_sock', 'skc_to_unix_sock',
  'skc_to_mptcp_sock',
);

/** The SK_SKB helpers of this file. */
export const SK_SKB_LOOKUP_HELPER_IDS: readonly number[] = [SKL.sk_lookup_tcp, SKL.sk_lookup_udp, SKL.sk_release, SKL.skc_lookup_tcp];
/** The SOCK_OPS helpers of this file. */
export const SOCK_OPS_TCP_SOCK_HELPER_IDS: readonly number[] = [SKL.tcp_sock];
/** The skc_to_* casts (bpf_sk_base_func_proto, every socket type, CAP_PERFMON). */
export const SKC_CAST_HELPER_IDS: readonly number[] = [
  SKL.skc_to_tcp6_sock, SKL.skc_to_tcp_sock, SKL.skc_to_tcp_timewait_sock, SKL.skc_to_tcp_request_sock,
  SKL.skc_to_udp6_sock, SKL.skc_to_unix_sock, SKL.skc_to_mptcp_sock,
];

export const AF_INET6 = 10;
/** TCP_TIME_WAIT (a literal: sockops.ts imports this file, so its bindings are not ready at load time). */
const TCP_TIME_WAIT = 6;
/** sizeof(struct bpf_sock_tuple.ipv4) / .ipv6. */
export const SOCK_TUPLE_IPV4_LEN = 12;
export const SOCK_TUPLE_IPV6_LEN = 36;

// ---- time-wait sockets -------------------------------------------------------------------------------------------

/** A tcp_timewait_sock: what is left in the established hash of a TCP socket that closed first. */
export class TimeWaitSock {
  readonly family = AF_INET;
  readonly state = TCP_TIME_WAIT;
  constructor(
    readonly localIp4: number,
    readonly localPort: number,
    readonly remoteIp4: number,
    readonly remotePort: number,
    /** tw_substate: FIN_WAIT2 (closed before the peer's FIN came) or TIME_WAIT. */
    public substate: number,
  ) {}

  toString(): string {
    return `time-wait 127.0.0.1:${this.localPort} -> 127.0.0.1:${this.remotePort}`;
  }
}

/** What a lookup can find. */
export type LookupSock = Socket | TimeWaitSock;

/** The model's sockets as the lookups see them (the Kernel implements it). */
export interface SockTable {
  sockets(): Iterable<Socket>;
  timeWait(): Iterable<TimeWaitSock>;
}

/** The TCP state of a model socket (sock_ops tracks the precise one; Socket.state what the data path needs). */
export function tcpStateOf(sk: Socket): number {
  return sk.isTcp ? (sockOpsState(sk).tcpState ?? sk.state) : sk.state;
}

/** sk_fullsock. */
export const isFullSock = (sk: unknown): sk is Socket => sk instanceof Socket;

/** __inet_lookup (IPv4, host-order ports): established hash (sockets and time-wait), then listeners. */
export function inetLookupTcp(table: SockTable, saddr: number, sport: number, daddr: number, dport: number): LookupSock | null {
  for (const s of table.sockets()) {
    if (!s.isTcp || !s.open || s.peer === null) continue;
    const st = tcpStateOf(s);
    if (st === TCP_CLOSE || st === TCP_LISTEN) continue;
    if (s.localIp4 === daddr && s.localPort === dport && s.remoteIp4 === saddr && s.remotePort === sport) return s;
  }
  for (const t of table.timeWait()) {
    if (t.localIp4 === daddr && t.localPort === dport && t.remoteIp4 === saddr && t.remotePort === sport) return t;
  }
  for (const s of table.sockets()) {
    if (!s.isTcp || !s.open || s.state !== TCP_LISTEN) continue;
    if ((s.localIp4 === daddr || s.localIp4 === 0) && s.localPort === dport) return s;
  }
  return null;
}

/** __udp4_lib_lookup (host-order ports): the best match among bound UDP sockets (compute_score). */
export function udpLookup(table: SockTable, saddr: number, sport: number, daddr: number, dport: number): Socket | null {
  let best: Socket | null = null;
  let bestScore = -1;
  for (const s of table.sockets()) {
    if (s.kind !== 'udp' || !s.open || s.localPort === 0 || s.localPort !== dport) continue;
    let score = 2; // PF_INET
    if (s.localIp4 !== 0) {
      if (s.localIp4 !== daddr) continue;
      score += 4;
    }
    if (s.remoteIp4 !== 0) {
      if (s.remoteIp4 !== saddr || s.remotePort !== sport) continue;
      score += 8; // daddr and dport both matched (4 + 4)
    }
    if (score > bestScore) {
      best = s;
      bestScore = score;
    }
  }
  return best;
}

export interface LookupArgs {
  proto: typeof IPPROTO_TCP | typeof IPPROTO_UDP;
  tuple: Uint8Array;
  netnsId: bigint;
  flags: bigint;
}

/** __bpf_skc_lookup: NULL for a bad len / flags / netns id, else sk_lookup in the one namespace. */
export function bpfSkcLookup(table: SockTable, a: LookupArgs): LookupSock | null {
  const len = a.tuple.length;
  if (len !== SOCK_TUPLE_IPV4_LEN && len !== SOCK_TUPLE_IPV6_LEN) return null;
  const low = BigInt.asIntN(32, a.netnsId);
  if (a.flags !== 0n || !(low < 0n || a.netnsId <= 0x7fffffffn)) return null;
  // (s32)netns_id >= 0: a peer namespace id; the model's namespace has none.
  if (low >= 0n) return null;
  if (len === SOCK_TUPLE_IPV6_LEN) return null; // no IPv6 sockets in the model
  const dv = new DataView(a.tuple.buffer, a.tuple.byteOffset, len);
  const saddr = dv.getUint32(0, false);
  const daddr = dv.getUint32(4, false);
  const sport = dv.getUint16(8, false);
  const dport = dv.getUint16(10, false);
  return a.proto === IPPROTO_TCP ? inetLookupTcp(table, saddr, sport, daddr, dport) : udpLookup(table, saddr, sport, daddr, dport);
}

/** __bpf_sk_lookup: the skc lookup made a full socket (sk_to_full_sk; a time-wait socket → NULL). */
export function bpfSkLookup(table: SockTable, a: LookupArgs): Socket | null {
  const sk = bpfSkcLookup(table, a);
  return isFullSock(sk) ? sk : null;
}

// ---- views -------------------------------------------------------------------------------------------------------

/** struct bpf_sock offsets (uapi, 80 bytes). */
export const BPF_SOCK = {
  bound_dev_if: 0, family: 4, type: 8, protocol: 12, mark: 16, priority: 20, src_ip4: 24, src_ip6: 28, src_port: 44,
  dst_port: 48, dst_ip4: 52, dst_ip6: 56, state: 72, rx_queue_mapping: 76,
} as const;
export const BPF_SOCK_SIZE = 80;

/** struct bpf_tcp_sock offsets (uapi, 112 bytes). */
export const BPF_TCP_SOCK = {
  snd_cwnd: 0, srtt_us: 4, rtt_min: 8, snd_ssthresh: 12, rcv_nxt: 16, snd_nxt: 20, snd_una: 24, mss_cache: 28,
  ecn_flags: 32, rate_delivered: 36, rate_interval_us: 40, packets_out: 44, retrans_out: 48, total_retrans: 52,
  segs_in: 56, data_segs_in: 60, segs_out: 64, data_segs_out: 68, lost_out: 72, sacked_out: 76, bytes_received: 80,
  bytes_acked: 88, dsack_dups: 96, delivered: 100, delivered_ce: 104, icsk_retransmits: 108,
} as const;
export const BPF_TCP_SOCK_SIZE = 112;

type TcpField = keyof typeof BPF_TCP_SOCK;

/**
 * The tcp_sock values the model gives a TCP socket (bpf_tcp_sock and skc_to_tcp_sock read these).
 * From the model's byte stream (Socket.tcpCounters, counted as the 6.18 host counts them: the client's SYN and
 * every FIN in bytes_acked, a received FIN in bytes_received): bytes_received, bytes_acked, data_segs_in,
 * data_segs_out, and rcv_nxt / snd_nxt / snd_una with an initial sequence number of 0 (the kernel's is random) —
 * snd_nxt = 1 + bytes sent (+ 1 once a FIN was sent), snd_una = snd_nxt (nothing is in flight while a program
 * can look: loopback delivers inside the transmit), rcv_nxt = 1 + bytes_received. Deterministic stand-ins where
 * the kernel's values come from the clock or congestion control: srtt_us 0, rate_delivered / rate_interval_us
 * 0, snd_cwnd 10 (TCP_INIT_CWND; the kernel's grows with ACKs), segs_in / segs_out = the data segments (the kernel
 * also counts the handshake and pure ACKs, which depend on delayed-ACK timing), delivered = data_segs_out; the
 * loss-free values: snd_ssthresh 0x7fffffff (TCP_INFINITE_SSTHRESH), rtt_min 0xffffffff (no sample), nothing in
 * flight, lost, sacked or retransmitted, no ECN; mss_cache as sock_ops sees it during the handshake (sockops.ts).
 */
export function tcpSockFields(sk: Socket): Record<TcpField, number | bigint> {
  const c = sk.tcpCounters;
  const st = tcpStateOf(sk);
  const finSent = st === BpfTcpState.FIN_WAIT1 || st === BpfTcpState.FIN_WAIT2 || st === BpfTcpState.LAST_ACK || st === BpfTcpState.CLOSING || st === TCP_TIME_WAIT || (st === TCP_CLOSE && (sk.shutdownFlags & 2) !== 0);
  const u32 = (v: bigint): number => Number(BigInt.asUintN(32, v));
  const sndNxt = 1n + c.bytesSent + (finSent ? 1n : 0n);
  return {
    snd_cwnd: 10, srtt_us: 0, rtt_min: 0xffffffff, snd_ssthresh: 0x7fffffff,
    rcv_nxt: u32(1n + c.bytesReceived), snd_nxt: u32(sndNxt), snd_una: u32(sndNxt),
    mss_cache: sockOpsState(sk).mss, ecn_flags: 0, rate_delivered: 0, rate_interval_us: 0, packets_out: 0, retrans_out: 0,
    total_retrans: 0, segs_in: c.dataSegsIn, data_segs_in: c.dataSegsIn, segs_out: c.dataSegsOut, data_segs_out: c.dataSegsOut,
    lost_out: 0, sacked_out: 0, bytes_received: c.bytesReceived, bytes_acked: c.bytesAcked, dsack_dups: 0,
    delivered: c.dataSegsOut, delivered_ce: 0, icsk_retransmits: 0,
  };
}

const bswap16 = (v: number): number => ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
const bswap32 = (v: number): number => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;

/** The sock_common / sock fields of a model socket, as little-endian memory values. */
interface CommonFields {
  family: number;
  state: number;
  /** As stored (network order): the u32 a load of skc_daddr / skc_rcv_saddr gives on a little-endian host. */
  daddr: number;
  rcvSaddr: number;
  /** skc_dport as a native u16 load (network order), skc_num host order. */
  dport: number;
  num: number;
  /** The v6 address words (4 native u32 loads each); null: not initialised in the kernel (time-wait). */
  v6daddr: number[] | null;
  v6rcvSaddr: number[] | null;
}

const v4mapped = (ip4: number): number[] => (ip4 === 0 ? [0, 0, 0, 0] : [0, 0, 0xffff0000, bswap32(ip4)]);
const ZERO6 = [0, 0, 0, 0];

function commonFields(sk: LookupSock | RequestSock): CommonFields {
  const state = sk instanceof Socket ? tcpStateOf(sk) : sk instanceof TimeWaitSock ? sk.state : 12; // TCP_NEW_SYN_RECV
  const inet = sk.family === AF_INET;
  // sk_daddr_set / sk_rcv_saddr_set store the v4-mapped IPv6 address too: TCP connect() (from the first
  // callback on) and accepted children do, bind() (listeners, UDP) and UDP connect() do not (observed: zeroes). A
  // time-wait socket of an IPv4 connection never initialises them (the kernel reads leftover memory): null, a
  // read stops the run.
  const mapped = inet && sk instanceof Socket && sk.isTcp && sk.state !== TCP_LISTEN;
  return {
    family: sk.family,
    state,
    daddr: inet ? bswap32(sk.remoteIp4) : 0,
    rcvSaddr: inet ? bswap32(sk.localIp4) : 0,
    dport: inet ? bswap16(sk.remotePort) : 0,
    num: inet ? sk.localPort : 0,
    v6daddr: sk instanceof TimeWaitSock ? null : mapped ? v4mapped(sk.remoteIp4) : ZERO6,
    v6rcvSaddr: sk instanceof TimeWaitSock ? null : mapped ? v4mapped(sk.localIp4) : ZERO6,
  };
}

/** Loads `size` bytes at `off` of a little-endian field of `fieldSize` bytes at `at` holding `v` (narrow loads). */
function narrow(v: number, at: number, fieldSize: number, off: number, size: number): number {
  const shift = (off - at) * 8;
  const x = fieldSize <= 4 ? v >>> 0 : v;
  const bits = size * 8;
  return bits >= 32 ? (x >>> shift) >>> 0 : (x >>> shift) & ((1 << bits) - 1);
}

const out64 = (out: Int32Array, v: bigint): true => {
  out[0] = Number(BigInt.asIntN(32, v));
  out[1] = Number(BigInt.asIntN(32, v >> 32n));
  return true;
};
const out32 = (out: Int32Array, v: number): true => {
  out[0] = v | 0;
  out[1] = 0;
  return true;
};

/** One bpf_sock load (bpf_sock_is_valid_access / bpf_sock_common_is_valid_access + convert_ctx_access). */
export function bpfSockLoad(sk: LookupSock | RequestSock, off: number, size: number, out: Int32Array): boolean {
  const refuse = (why: string): never => {
    throw new BpfExecutionError(-1, `load of ${size} bytes at struct bpf_sock offset ${off} of ${String(sk)}: ${why} (the verifier refuses it)`);
  };
  if (off % size !== 0) refuse('misaligned');
  const full = isFullSock(sk);
  if (!full && off >= BPF_SOCK.type && off < BPF_SOCK.src_ip4) refuse('not a field of sock_common');
  const c = commonFields(sk);
  const field = (at: number, fieldSize: number, v: number, narrowOk = true): true => {
    if (size !== 4 && !narrowOk) refuse('only 4-byte reads');
    return out32(out, narrow(v, at, fieldSize, off, size));
  };
  const v6 = (words: number[] | null, base: number): true => {
    if (words === null) throw new BpfExecutionError(-1, `load at struct bpf_sock offset ${off} of ${String(sk)}: the kernel leaves the IPv6 addresses of an IPv4 time-wait socket uninitialised; bpfvm does not make up a value`);
    return field(off & ~3, 4, words[(off - base) >> 2]!);
  };
  if (off >= BPF_SOCK.src_ip6 && off < BPF_SOCK.src_port) return v6(c.v6rcvSaddr, BPF_SOCK.src_ip6);
  if (off >= BPF_SOCK.dst_ip6 && off < BPF_SOCK.state) return v6(c.v6daddr, BPF_SOCK.dst_ip6);
  const at = off & ~3;
  const s = full ? (sk as Socket) : null;
  switch (at) {
    case BPF_SOCK.bound_dev_if: return field(at, 4, 0, false);
    case BPF_SOCK.family: return field(at, 4, c.family);
    case BPF_SOCK.type: return field(at, 4, s!.type);
    case BPF_SOCK.protocol: return field(at, 4, s!.protocol);
    case BPF_SOCK.mark: return field(at, 4, 0, false);
    case BPF_SOCK.priority: return field(at, 4, 0, false);
    case BPF_SOCK.src_ip4: return field(at, 4, c.rcvSaddr);
    case BPF_SOCK.src_port: return field(at, 4, c.num);
    case BPF_SOCK.dst_port:
      // A 4-byte read loads the 2-byte skc_dport; 1- and 2-byte reads of its bytes; bytes 50-51 are refused.
      if (off >= BPF_SOCK.dst_port + 2) refuse('padding after dst_port');
      return out32(out, size === 4 ? c.dport : narrow(c.dport, at, 2, off, size));
    case BPF_SOCK.dst_ip4: return field(at, 4, c.daddr);
    case BPF_SOCK.state: return field(at, 4, c.state);
    case BPF_SOCK.rx_queue_mapping: return field(at, 4, 0xffffffff); // NO_QUEUE_MAPPING → -1
  }
  return refuse('outside struct bpf_sock');
}

/** The bpf_tcp_sock field at each offset. */
const TCP_FIELD_AT: ReadonlyMap<number, TcpField> = new Map(Object.entries(BPF_TCP_SOCK).map(([k, at]) => [at, k as TcpField]));

/** One bpf_tcp_sock load (bpf_tcp_sock_is_valid_access: u32 fields 4 bytes, the two u64 fields 8 bytes). */
export function bpfTcpSockLoad(sk: Socket, off: number, size: number, out: Int32Array): boolean {
  const name = TCP_FIELD_AT.get(off);
  const wide = name === 'bytes_received' || name === 'bytes_acked';
  if (name === undefined || size !== (wide ? 8 : 4)) {
    throw new BpfExecutionError(-1, `load of ${size} bytes at struct bpf_tcp_sock offset ${off} (the verifier refuses it)`);
  }
  const v = tcpSockFields(sk)[name];
  return typeof v === 'bigint' ? out64(out, v) : out32(out, v);
}

/** Offsets (x86-64, Linux 6.18 vmlinux BTF) of the kernel-struct fields the BTF views can read. */
export const BTF_FIELDS = {
  sock_common: { skc_daddr: [0, 4], skc_rcv_saddr: [4, 4], skc_dport: [12, 2], skc_num: [14, 2], skc_family: [16, 2], skc_state: [18, 1], skc_bound_dev_if: [20, 4], skc_v6_daddr: [56, 16], skc_v6_rcv_saddr: [72, 16] },
  sock: { sk_rcvbuf: [244, 4], sk_priority: [520, 4], sk_mark: [524, 4], sk_protocol: [532, 2], sk_type: [534, 2], sk_sndbuf: [568, 4] },
  tcp_sock: {
    mss_cache: [1440, 4], snd_cwnd: [1444, 4], lost_out: [1452, 4], sacked_out: [1456, 4], retrans_out: [1480, 4], snd_ssthresh: [1492, 4],
    segs_out: [1536, 4], data_segs_out: [1540, 4], rcv_nxt: [1664, 4], snd_nxt: [1668, 4], snd_una: [1672, 4], srtt_us: [1680, 4],
    packets_out: [1684, 4], delivered: [1692, 4], delivered_ce: [1696, 4], bytes_received: [1752, 8], segs_in: [1760, 4],
    data_segs_in: [1764, 4], rate_delivered: [1780, 4], rate_interval_us: [1784, 4], bytes_acked: [1824, 8], dsack_dups: [1864, 4],
    total_retrans: [2200, 4], icsk_retransmits: [1249, 1], ecn_flags: [1640, 1],
  },
} as const;
/** sizeof() of the structs the casts return (6.18 x86-64). */
export const BTF_STRUCT_SIZE = { tcp_sock: 2304, tcp_timewait_sock: 248, unix_sock: 1152 } as const;
type BtfStruct = keyof typeof BTF_STRUCT_SIZE;

/** A load through a BTF pointer (PTR_TO_BTF_ID: plain memory reads of the kernel object). */
export function btfSockLoad(struct: BtfStruct, sk: LookupSock, off: number, size: number, out: Int32Array): boolean {
  const c = commonFields(sk);
  const bytes: [string, number, number, number | bigint | number[]][] = [
    ['skc_daddr', 0, 4, c.daddr], ['skc_rcv_saddr', 4, 4, c.rcvSaddr], ['skc_dport', 12, 2, c.dport], ['skc_num', 14, 2, c.num],
    ['skc_family', 16, 2, c.family], ['skc_state', 18, 1, c.state], ['skc_bound_dev_if', 20, 4, 0],
  ];
  if (c.v6daddr !== null && c.v6rcvSaddr !== null) bytes.push(['skc_v6_daddr', 56, 16, c.v6daddr], ['skc_v6_rcv_saddr', 72, 16, c.v6rcvSaddr]);
  if (sk instanceof Socket) {
    const f = BTF_FIELDS.sock;
    bytes.push(['sk_rcvbuf', f.sk_rcvbuf[0], 4, sk.rcvBuf], ['sk_priority', f.sk_priority[0], 4, 0], ['sk_mark', f.sk_mark[0], 4, 0],
      ['sk_protocol', f.sk_protocol[0], 2, sk.protocol], ['sk_type', f.sk_type[0], 2, sk.type], ['sk_sndbuf', f.sk_sndbuf[0], 4, sk.sndBuf]);
    if (struct === 'tcp_sock') {
      const v = tcpSockFields(sk);
      for (const [k, [at, n]] of Object.entries(BTF_FIELDS.tcp_sock)) bytes.push([k, at, n, v[k as TcpField]]);
    }
  }
  const hit = bytes.find(([, at, n]) => off >= at && off + size <= at + n);
  if (hit === undefined) throw new BpfExecutionError(-1, `load of ${size} bytes at struct ${struct} offset ${off} of ${String(sk)}: bpfvm models only the fields ${bytes.map((b) => b[0]).join(', ')} of a ${struct}`);
  const [, at, n, v] = hit;
  const mem = new Uint8Array(n);
  const dv = new DataView(mem.buffer);
  if (Array.isArray(v)) v.forEach((w, i) => dv.setUint32(4 * i, w >>> 0, true));
  else if (typeof v === 'bigint') dv.setBigUint64(0, v, true);
  else if (n === 4) dv.setUint32(0, v >>> 0, true);
  else if (n === 2) dv.setUint16(0, v & 0xffff, true);
  else dv.setUint8(0, v & 0xff);
  const rd = new DataView(mem.buffer, off - at, size);
  if (size === 8) return out64(out, rd.getBigUint64(0, true));
  return out32(out, size === 4 ? rd.getUint32(0, true) : size === 2 ? rd.getUint16(0, true) : rd.getUint8(0));
}

type ViewKind = 'bpf_sock' | 'bpf_tcp_sock' | BtfStruct;

/**
 * The pointers programs get to sockets in one address space: one region per (socket, view), created on first
 * use and kept until the socket is closed (so the same socket always has the same address). Each region is an
 * 'object' region (helpers find the socket with AddressSpace.objectAt) with the view's size and a load hook that
 * reads the live socket.
 */
export class SockViews {
  private readonly regions = new Map<ViewKind, WeakMap<object, Region>>();
  constructor(private readonly space: AddressSpace) {}

  region(kind: ViewKind, sk: LookupSock | RequestSock): Region {
    let m = this.regions.get(kind);
    if (m === undefined) this.regions.set(kind, (m = new WeakMap()));
    let r = m.get(sk);
    if (r !== undefined) return r;
    const size = kind === 'bpf_sock' ? BPF_SOCK_SIZE : kind === 'bpf_tcp_sock' ? BPF_TCP_SOCK_SIZE : BTF_STRUCT_SIZE[kind];
    r = this.space.map(`sk (struct ${kind} of ${String(sk)})`, 'object', new Uint8Array(size), false);
    r.object = sk;
    const load = (off: number, n: number, out: Int32Array): boolean => {
      if (kind === 'bpf_sock') return bpfSockLoad(sk, off, n, out);
      if (sk instanceof RequestSock) throw new BpfExecutionError(-1, 'request socket views are not modelled');
      if (kind === 'bpf_tcp_sock') return bpfTcpSockLoad(sk as Socket, off, n, out);
      return btfSockLoad(kind, sk, off, n, out);
    };
    r.load = load;
    m.set(sk, r);
    return r;
  }

  /** Unmaps the views of a socket that no program can reach any more (closed, not time-wait). */
  forget(sk: object): void {
    for (const m of this.regions.values()) {
      const r = m.get(sk);
      if (r === undefined) continue;
      this.space.unmap(r);
      m.delete(sk);
    }
  }
}

const views = new WeakMap<AddressSpace, SockViews>();
/** The socket views of an address space. */
export function sockViews(space: AddressSpace): SockViews {
  let v = views.get(space);
  if (v === undefined) views.set(space, (v = new SockViews(space)));
  return v;
}

/** The struct bpf_sock pointer of a socket in `space` (the same address every time). */
export function sockPointer(space: AddressSpace, sk: LookupSock | RequestSock): Region {
  return sockViews(space).region('bpf_sock', sk);
}

// ---- helpers -----------------------------------------------------------------------------------------------------

/** The socket behind a socket pointer argument (any view of it), or null for NULL; throws for anything else. */
function sockArg(vm: Vm, pc: number, reg: number, helper: string): LookupSock | RequestSock | null {
  if (vm.lo[reg] === 0 && vm.hi[reg] === 0) return null;
  const o = vm.space.objectAt(vm.lo[reg]!, vm.hi[reg]!);
  if (o instanceof Socket || o instanceof TimeWaitSock || o instanceof RequestSock) return o;
  throw new BpfExecutionError(pc, `${helper}: r${reg} is not a socket pointer (the verifier refuses it)`);
}

/**
 * Installs the lookup, release, tcp_sock and skc_to_* helpers in a VM (they do not depend on the program's
 * context beyond r1 for the lookups, which name no socket: the model has one namespace).
 */
export function installSkLookupHelpers(vm: Vm, table: SockTable): void {
  const views = sockViews(vm.space);
  /** References handed out by the lookups and not yet released, per pointer region. */
  const refs = new Map<Region, number>();
  const lookup = (proto: typeof IPPROTO_TCP | typeof IPPROTO_UDP, full: boolean): HelperFn => (v, pc) => {
    const len = v.lo[3]! >>> 0;
    const tuple = len === SOCK_TUPLE_IPV4_LEN || len === SOCK_TUPLE_IPV6_LEN ? v.space.read(pc, v.lo[2]!, v.hi[2]!, len) : new Uint8Array(len === 0 ? 0 : 1);
    const a: LookupArgs = { proto, tuple, netnsId: v.reg(4), flags: v.reg(5) };
    const sk = full ? bpfSkLookup(table, a) : bpfSkcLookup(table, a);
    if (sk === null) return v.setR0(0, 0);
    const r = views.region('bpf_sock', sk);
    refs.set(r, (refs.get(r) ?? 0) + 1);
    v.setR0(0, r.hi);
  };
  const h = vm.helpers;
  h[SKL.sk_lookup_tcp] = lookup(IPPROTO_TCP, true);
  h[SKL.sk_lookup_udp] = lookup(IPPROTO_UDP, true);
  h[SKL.skc_lookup_tcp] = lookup(IPPROTO_TCP, false);
  h[SKL.sk_release] = (v, pc) => {
    // bpf_sk_release(sk): drops the reference a lookup took (sock_gen_put for refcounted sockets); always 0.
    const r = v.space.regionOf(v.hi[1]!);
    const n = r === null || v.lo[1] !== 0 ? undefined : refs.get(r);
    if (n === undefined) throw new BpfExecutionError(pc, 'bpf_sk_release: r1 is not a socket reference from a lookup (the verifier refuses it)');
    if (n <= 1) refs.delete(r!);
    else refs.set(r!, n - 1);
    v.setR0(0, 0);
  };
  h[SKL.tcp_sock] = (v, pc) => {
    // bpf_tcp_sock(sk): the socket as a bpf_tcp_sock when it is a full TCP socket, else NULL.
    const sk = sockArg(v, pc, 1, 'bpf_tcp_sock');
    if (!isFullSock(sk) || !sk.isTcp) return v.setR0(0, 0);
    v.setR0(0, views.region('bpf_tcp_sock', sk).hi);
  };
  const cast = (name: string, pick: (sk: LookupSock | RequestSock) => BtfStruct | null): HelperFn => (v, pc) => {
    const sk = sockArg(v, pc, 1, name);
    const struct = sk === null ? null : pick(sk);
    if (struct === null || sk instanceof RequestSock) return v.setR0(0, 0);
    v.setR0(0, views.region(struct, sk!).hi);
  };
  h[SKL.skc_to_tcp_sock] = cast('bpf_skc_to_tcp_sock', (sk) => (isFullSock(sk) && sk.protocol === IPPROTO_TCP ? 'tcp_sock' : null));
  h[SKL.skc_to_tcp_timewait_sock] = cast('bpf_skc_to_tcp_timewait_sock', (sk) => (sk instanceof TimeWaitSock ? 'tcp_timewait_sock' : null));
  h[SKL.skc_to_unix_sock] = cast('bpf_skc_to_unix_sock', (sk) => (isFullSock(sk) && sk.family === AF_UNIX ? 'unix_sock' : null));
  // No IPv6 / MPTCP sockets and no live request sockets in the model.
  h[SKL.skc_to_tcp6_sock] = cast('bpf_skc_to_tcp6_sock', () => null);
  h[SKL.skc_to_udp6_sock] = cast('bpf_skc_to_udp6_sock', () => null);
  h[SKL.skc_to_mptcp_sock] = cast('bpf_skc_to_mptcp_sock', () => null);
  h[SKL.skc_to_tcp_request_sock] = cast('bpf_skc_to_tcp_request_sock', () => null);
}
