// BPF_PROG_TEST_RUN for packet programs (SOCKET_FILTER, SCHED_CLS, SCHED_ACT, XDP, CGROUP_SKB), following
// net/bpf/test_run.c (bpf_prog_test_run_skb / bpf_prog_test_run_xdp) as checked against the Linux 6.18 host.
//
// skb types:
//  - data_in is copied behind 64 bytes of headroom; at least ETH_HLEN (14) and at most
//    PAGE_SIZE - 64 - 320 = 3712 bytes, else EINVAL.
//  - eth_type_trans on the loopback device: skb->protocol is the EtherType when >= 0x0600, else ETH_P_802_3
//    (payload starting ff ff) or ETH_P_802_2; pkt_type is PACKET_HOST for the all-zero destination (the
//    loopback address), PACKET_MULTICAST for group addresses (lo's broadcast address is all-zero, so
//    ff:ff:ff:ff:ff:ff is MULTICAST too), PACKET_OTHERHOST otherwise. The Ethernet header is pulled and the
//    network header set there; IPv4 needs 20 and IPv6 40 bytes after it (else EINVAL), and their addresses
//    go into the dummy socket test_run attaches (family, local_ip4/6 = source, remote_ip4/6 = destination).
//  - SCHED_CLS / SCHED_ACT see the Ethernet header (it is pushed back); SOCKET_FILTER / CGROUP_SKB start at
//    the network header, and afterwards the kernel pushes 14 ZERO bytes in front of what data_out returns.
//  - ifindex 1 (loopback), everything else zero unless ctx_in gives it; ctx_in may only set mark, priority,
//    ingress_ifindex, ifindex (only 0/1 exist in this model: other values are ENODEV), cb, tstamp, wire_len
//    (0 = skb->len, else len..65536), gso_segs (<= 65535), gso_size, hwtstamp — any other non-zero byte is
//    EINVAL; bytes past the struct must be zero (E2BIG). Without ctx_in and ctx_out wire_len reads 0.
//  - ctx_out = ctx_in with mark, priority, ingress_ifindex, ifindex, tstamp, cb, wire_len, gso_segs, hwtstamp
//    written back (convert_skb_to___skb).
// XDP:
//  - a 4096-byte frame with 256 bytes of headroom; the linear part holds up to 3520 bytes (+ metadata), the
//    rest continues in page frags (at most 17, else ENOMEM). ctx_in: data_meta must be 0, data = metadata
//    length (a multiple of 4, at most 216), data_end = linear length (<= data_size_in), egress_ifindex 0,
//    ingress_ifindex 0 or 1 with rx_queue_index 0 (else EINVAL / ENODEV). data_out = data_meta..data_end plus
//    frags; ctx_out = ctx_in with data and data_end rewritten relative to data_meta.
// A run repeats `repeat` times (0 means 1) on the same packet and context, as the kernel does; retval is the
// last run's. Context fields are served through load/store hooks with the kernel's narrow-load rules (a load
// narrower than the kernel's field is shifted and masked, a wider one returns the whole field), and stores
// are limited to the fields the program type may write. Helpers: see skb-helpers.ts and map-kind-helpers.ts
// (queue / stack, ring buffers, dynptrs: shared with the socket model); any other helper is refused before the
// run with its name and id, and so is a helper the program type may not call.

import { helperIds, helperName } from '../../helpers/ids.js';
import { HELPER_CALL_MESSAGES, isHelperAllowed } from '../../helpers/availability.js';
import { protoFor } from '../../helpers/protos.js';
import { BpfExecutionError } from '../../vm/errors.js';
import { Vm, type BoundProgram, type HelperFn, type RunResult, type Tier } from '../../vm/interpreter.js';
import type { Region } from '../../vm/memory.js';
import type { CollectionSpec, ProgramSpec } from '../spec.js';
import { Maps } from './maps/collection.js';
import { MapsVm } from './maps/vm.js';
import { installMapKindHelpers } from './map-kind-helpers.js';
import { ringbufRecords, type RingbufRecord } from './maps/ringbuf.js';
import { installTraceHelpers, type SentSignal } from './trace-helpers.js';
import { CgroupIds, installBaseHelpers } from './base-helpers.js';
import { BPF_FUNC_get_local_storage, testRunLocalStorage } from './cgroup-storage.js';
import type { VirtualTimers } from './timers.js';
import { VirtualClock } from './clock.js';
import {
  E2BIG, EINVAL, ENODEV, ENOMEM, ETH_HLEN, GSO_LEGACY_MAX_SIZE, GSO_MAX_SEGS, MAX_SKB_FRAGS, PAGE_SIZE,
  Prng, SKB_HEADROOM, SKB_SHINFO_SIZE, SkbPacket, XDP_FRAME_SIZE, XDP_PACKET_HEADROOM, XdpPacket,
  csumDiff, l3CsumReplace, l4CsumReplace, skbChangeHead, skbChangeTail, skbLoadBytes, skbLoadBytesRelative,
  skbPullData, skbStoreBytes, xdpAdjustHead, xdpAdjustMeta, xdpAdjustTail, xdpGetBuffLen,
  xdpLoadStoreBytes, xdpMetalenInvalid, type SkbEnv, type XdpEnv,
} from './skb-helpers.js';

/** The helper ids this file installs by hand. */
const ID = helperIds(
  'skb_load_bytes', 'skb_load_bytes_relative', 'skb_store_bytes', 'skb_pull_data', 'skb_change_tail',
  'skb_change_head', 'l3_csum_replace', 'l4_csum_replace', 'csum_diff', 'xdp_adjust_head', 'xdp_adjust_meta',
  'xdp_adjust_tail', 'xdp_get_buff_len', 'xdp_load_bytes', 'xdp_store_bytes', 'ktime_get_ns', 'ktime_get_boot_ns',
  'ktime_get_coarse_ns', 'get_prandom_u32', 'get_smp_processor_id', 'tail_call',
);

export const BPF_PROG_TYPE_SOCKET_FILTER = 1;
export const BPF_PROG_TYPE_SCHED_CLS = 3;
export const BPF_PROG_TYPE_SCHED_ACT = 4;
export const BPF_PROG_TYPE_XDP = 6;
export const BPF_PROG_TYPE_CGROUP_SKB = 8;
export const BPF_PROG_TYPE_SOCK_OPS = 13;
export const BPF_PROG_TYPE_SK_SKB = 14;
export const BPF_PROG_TYPE_SK_MSG = 16;

export { ETH_HLEN };
/** The kernel's BPF_PROG_TEST_RUN rejects skb input shorter than an Ethernet header. */
export const MIN_SKB_DATA = ETH_HLEN;
/** Largest skb data_in: PAGE_SIZE - headroom - SKB_DATA_ALIGN(sizeof(struct skb_shared_info)). */
export const MAX_SKB_DATA = PAGE_SIZE - SKB_HEADROOM - SKB_SHINFO_SIZE;
/** sizeof(struct __sk_buff) and sizeof(struct xdp_md). */
export const SK_BUFF_CTX_SIZE = 192;
export const XDP_MD_CTX_SIZE = 24;
/** The input bpfvm uses when none is given: 64 zero bytes, as the kernel selftests' default. */
export const DEFAULT_TEST_INPUT = (): Uint8Array => new Uint8Array(64);

const ERRNO_NAMES: Record<number, string> = { 7: 'E2BIG', 12: 'ENOMEM', 19: 'ENODEV', 22: 'EINVAL', 95: 'EOPNOTSUPP', 524: 'ENOTSUPP' };

/** BPF_PROG_TEST_RUN refused the input, with the errno the kernel returns. */
export class BpfTestRunError extends Error {
  override name = 'BpfTestRunError';
  readonly code: string;
  constructor(
    readonly errno: number,
    readonly detail: string,
  ) {
    const code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
    super(`BPF_PROG_TEST_RUN fails with ${code}: ${detail}`);
    this.code = code;
  }
}

export interface TestRunResult extends RunResult {
  /** r0 truncated to 32 bits, as BPF_PROG_TEST_RUN reports `retval` (of the last repetition). */
  retval: number;
  /** What the kernel copies to data_out: the packet as the program left it (see the header comment). */
  dataOut: Uint8Array;
  /** What the kernel copies to ctx_out (present when ctxIn was given or ctxOut asked for). */
  ctxOut?: Uint8Array;
  /** Messages of bpf_trace_printk / bpf_trace_vprintk, in order, without their trailing newline. */
  trace: string[];
  /** Ring buffer samples a consumer would read after the runs (every RINGBUF map, in map order; not consumed). */
  ringbuf: RingbufRecord[];
  /** Signals bpf_send_signal(_thread) sent to the (model's) current task. */
  signals: SentSignal[];
  /** Repetitions run. */
  repeat: number;
  /** Instructions of the last repetition (`insns` is the same number). */
  insns: number;
  /** Instructions over all repetitions. */
  insnsTotal: number;
  /** Average wall-clock nanoseconds per repetition (like the kernel's `duration`). */
  duration: number;
}

export interface TestRunOptions {
  budget?: number;
  /** The object the program came from: its maps (and the programs tail calls reach) are created from it. */
  collection?: CollectionSpec;
  /** Live maps to use instead of creating them from `collection` (to inspect them after the run). */
  maps?: Maps;
  /** ctx_in: a __sk_buff / xdp_md (shorter is zero-padded, longer must be zero past the struct). */
  ctxIn?: Uint8Array;
  /** Ask for ctx_out even without ctx_in (the kernel then uses an all-zero context, which changes defaults). */
  ctxOut?: boolean;
  /** Repetitions (0 or absent: 1). */
  repeat?: number;
  /** Execution tier for the VM (default: the Vm default). */
  tier?: Tier;
  /** Virtual clock: first bpf_ktime_get_ns value (default 1e9 ns) and the step per call (default 1000 ns). */
  clock?: { startNs?: bigint; stepNs?: bigint };
  /** Seed of bpf_get_prandom_u32 (default 0x5eed). */
  seed?: number;
}

/** Program types testRun can run. */
export const TEST_RUN_TYPES: readonly number[] = [
  BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_SCHED_ACT, BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_CGROUP_SKB,
];

/** Refuses, before running, a program that calls a helper not in `helpers` (or not allowed for its type). */
function checkHelpers(prog: BoundProgram, name: string, type: number, helpers: (HelperFn | undefined)[]): void {
  checkProgramHelpers(prog, name, type, (id) => helpers[id] !== undefined, "bpfvm's test run");
}

/**
 * Refuses a program that calls a helper its type may not use (as the kernel refuses to load it) or one that
 * `provided` says bpfvm does not implement for it (`who` names the runner in the message). bpf_tail_call (12)
 * is the interpreter's own. Throws BpfExecutionError naming the helper, its id and the pc.
 */
export function checkProgramHelpers(prog: BoundProgram, name: string, type: number, provided: (id: number) => boolean, who: string): void {
  const exe = prog.exe;
  for (let pc = 0; pc < exe.slots; pc++) {
    if (exe.op[pc] === 0x85 && exe.variant[pc] === 0) {
      const id = exe.imm[pc]!;
      if (!isHelperAllowed(type, id)) {
        throw new BpfExecutionError(pc, `program ${name}: program of this type cannot use helper ${helperName(id)}#${id} (the kernel refuses to load it)`);
      }
      if (protoFor(type, id)?.mightSleep) {
        throw new BpfExecutionError(pc, `program ${name}: ${HELPER_CALL_MESSAGES.mightSleep} (${helperName(id)}#${id}; the kernel refuses to load it)`);
      }
      if (id !== ID.tail_call && !provided(id)) {
        throw new BpfExecutionError(pc, `program ${name} calls ${helperName(id)}#${id}, which ${who} does not provide yet`);
      }
    }
  }
}

/**
 * The kernel's narrow-load rule for a context field of `fieldSize` bytes holding `v`, loaded with `size` bytes
 * at __sk_buff offset `off`: narrower loads are shifted by the offset inside the 4-byte slot and masked, wider
 * ones return the whole field. Writes lo/hi into out.
 */
export function narrowFieldLoad(v: number, fieldSize: number, off: number, size: number, out: Int32Array): void {
  if (size < fieldSize) {
    // A load narrower than the kernel's field: shifted by the offset in the 4-byte __sk_buff slot, masked.
    v = (v >>> ((off & 3) * 8)) & (size === 1 ? 0xff : 0xffff);
  } else if (size < 4) {
    v &= size === 1 ? 0xff : 0xffff; // the whole (narrow) kernel field
  }
  out[0] = size === 4 || size === 8 ? v | 0 : v;
  out[1] = 0;
}

// ---- __sk_buff ------------------------------------------------------------------------------------------

/** Offsets in struct __sk_buff. */
export const SKB = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24, vlan_proto: 28,
  priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68, tc_classid: 72, data: 76,
  data_end: 80, napi_id: 84, family: 88, remote_ip4: 92, local_ip4: 96, remote_ip6: 100, local_ip6: 116,
  remote_port: 132, local_port: 136, data_meta: 140, flow_keys: 144, tstamp: 152, wire_len: 160, gso_segs: 164,
  sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184,
} as const;

/** Fields each skb program type may write (the verifier's is_valid_access for BPF_WRITE). */
const SKB_WRITABLE: Record<number, readonly number[]> = {
  [BPF_PROG_TYPE_SOCKET_FILTER]: [],
  [BPF_PROG_TYPE_CGROUP_SKB]: [SKB.mark, SKB.priority, SKB.tstamp],
  [BPF_PROG_TYPE_SCHED_CLS]: [SKB.mark, SKB.priority, SKB.queue_mapping, SKB.tc_index, SKB.tc_classid, SKB.tstamp],
  [BPF_PROG_TYPE_SCHED_ACT]: [SKB.mark, SKB.priority, SKB.queue_mapping, SKB.tc_index, SKB.tc_classid, SKB.tstamp],
};

/** The sk_buff fields a program can see, beyond the packet itself. */
class SkbState {
  mark = 0;
  priority = 0;
  queueMapping = 0;
  protocol = 0; // __be16 as its native u16 value
  pktType = 0;
  skbIif = 0;
  ifindex = 1;
  tcIndex = 0;
  tcClassid = 0;
  hash = 0;
  tstamp = 0n;
  pktLen = 0; // qdisc_skb_cb->pkt_len (wire_len)
  gsoSegs = 0;
  gsoSize = 0;
  hwtstamp = 0n;
  family = 0;
  remoteIp4 = 0;
  localIp4 = 0;
}

const rd32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(o, true);
const rd64 = (b: Uint8Array, o: number): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(o, true);

function zeroBetween(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

/** bpf_ctx_init: copies ctx_in into a struct of `size` bytes; bytes past the struct must be zero (E2BIG). */
function ctxInit(ctxIn: Uint8Array | undefined, want: boolean, size: number): Uint8Array | null {
  if (ctxIn === undefined && !want) return null;
  const c = new Uint8Array(size);
  if (ctxIn !== undefined) {
    if (!zeroBetween(ctxIn, size, ctxIn.length)) throw new BpfTestRunError(E2BIG, `ctx_in has non-zero bytes past the ${size}-byte context`);
    c.set(ctxIn.subarray(0, Math.min(size, ctxIn.length)));
  }
  return c;
}

/** convert___skb_to_skb: which __sk_buff bytes ctx_in may set. */
const SKB_CTX_ALLOWED: readonly [number, number][] = [
  [SKB.mark, SKB.mark + 4], [SKB.priority, SKB.ifindex + 4], [SKB.cb, SKB.cb + 20],
  [SKB.tstamp, SKB.gso_segs + 4], [SKB.gso_size, SKB.gso_size + 4], [SKB.hwtstamp, SKB.hwtstamp + 8],
];

function checkSkbCtxIn(c: Uint8Array): void {
  let at = 0;
  for (const [from, to] of SKB_CTX_ALLOWED) {
    if (!zeroBetween(c, at, from)) {
      throw new BpfTestRunError(EINVAL, `ctx_in sets __sk_buff bytes [${at}, ${from}); only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp may be non-zero`);
    }
    at = to;
  }
  if (!zeroBetween(c, at, SK_BUFF_CTX_SIZE)) throw new BpfTestRunError(EINVAL, `ctx_in sets __sk_buff bytes past hwtstamp`);
}

interface Built {
  vm: Vm;
  ctx: Region;
  /** After all repetitions: data_out and ctx_out. */
  finish(): { dataOut: Uint8Array; ctxOut?: Uint8Array };
}

function setupSkb(vm: Vm, type: number, dataIn: Uint8Array, opts: TestRunOptions): Built {
  if (dataIn.length < ETH_HLEN) {
    throw new BpfTestRunError(EINVAL, `data_in of ${dataIn.length} bytes is shorter than an Ethernet header (${ETH_HLEN})`);
  }
  if (dataIn.length > MAX_SKB_DATA) {
    throw new BpfTestRunError(EINVAL, `data_in of ${dataIn.length} bytes is larger than the ${MAX_SKB_DATA} bytes an skb test run takes`);
  }
  const ctxBuf = ctxInit(opts.ctxIn, opts.ctxOut === true, SK_BUFF_CTX_SIZE);
  const isL2 = type === BPF_PROG_TYPE_SCHED_CLS || type === BPF_PROG_TYPE_SCHED_ACT;
  const pkt = new SkbPacket();
  pkt.buf = new Uint8Array(SKB_HEADROOM + dataIn.length + SKB_SHINFO_SIZE);
  pkt.buf.set(dataIn, SKB_HEADROOM);
  pkt.data = SKB_HEADROOM;
  pkt.tail = SKB_HEADROOM + dataIn.length;
  const st = new SkbState();
  if (ctxBuf !== null) {
    const ifindex = rd32(ctxBuf, SKB.ifindex);
    if (ifindex > 1) throw new BpfTestRunError(ENODEV, `ctx_in ifindex ${ifindex}: bpfvm's network has only the loopback device (ifindex 1)`);
  }
  // eth_type_trans(skb, loopback)
  pkt.mac = pkt.data;
  const dst = dataIn.subarray(0, 6);
  if (dst[0]! & 1) st.pktType = 2; // PACKET_MULTICAST (lo's broadcast address is all-zero)
  else if (dst.some((b) => b !== 0)) st.pktType = 3; // PACKET_OTHERHOST
  pkt.data += ETH_HLEN;
  const etherType = (dataIn[12]! << 8) | dataIn[13]!;
  if (etherType >= 0x600) st.protocol = dataIn[12]! | (dataIn[13]! << 8);
  else if (pkt.len >= 2 && dataIn[14] === 0xff && dataIn[15] === 0xff) st.protocol = 0x0100; // htons(ETH_P_802_3)
  else st.protocol = 0x0400; // htons(ETH_P_802_2)
  pkt.network = pkt.data;
  const ip6 = { remote: new Uint8Array(16), local: new Uint8Array(16) };
  const net = pkt.buf.subarray(pkt.network, pkt.tail);
  if (etherType === 0x0800) {
    if (net.length < 20) throw new BpfTestRunError(EINVAL, `an IPv4 packet needs 20 bytes of IP header, data_in has ${net.length} after the Ethernet header`);
    st.family = 2;
    st.localIp4 = rd32(net, 12);
    st.remoteIp4 = rd32(net, 16);
  } else if (etherType === 0x86dd) {
    if (net.length < 40) throw new BpfTestRunError(EINVAL, `an IPv6 packet needs 40 bytes of IP header, data_in has ${net.length} after the Ethernet header`);
    st.family = 10;
    ip6.local.set(net.subarray(8, 24));
    ip6.remote.set(net.subarray(24, 40));
  }
  if (isL2) pkt.data -= ETH_HLEN;
  // convert___skb_to_skb
  if (ctxBuf !== null) {
    checkSkbCtxIn(ctxBuf);
    st.mark = rd32(ctxBuf, SKB.mark);
    st.priority = rd32(ctxBuf, SKB.priority);
    st.skbIif = rd32(ctxBuf, SKB.ingress_ifindex);
    st.tstamp = rd64(ctxBuf, SKB.tstamp);
    const wire = rd32(ctxBuf, SKB.wire_len);
    if (wire === 0) st.pktLen = pkt.len;
    else {
      if (wire < pkt.len || wire > GSO_LEGACY_MAX_SIZE) throw new BpfTestRunError(EINVAL, `ctx_in wire_len ${wire} is outside [${pkt.len}, ${GSO_LEGACY_MAX_SIZE}]`);
      st.pktLen = wire;
    }
    const segs = rd32(ctxBuf, SKB.gso_segs);
    if (segs > GSO_MAX_SEGS) throw new BpfTestRunError(EINVAL, `ctx_in gso_segs ${segs} is above ${GSO_MAX_SEGS}`);
    st.gsoSegs = segs;
    st.gsoSize = rd32(ctxBuf, SKB.gso_size) & 0xffff;
    st.hwtstamp = rd64(ctxBuf, SKB.hwtstamp);
  }

  // The packet region and its users.
  const writablePkt = isL2;
  const region = vm.space.map('packet', 'packet', pkt.buf.subarray(0, pkt.tail), writablePkt);
  const ctx = vm.space.map('ctx (__sk_buff)', 'ctx', new Uint8Array(SK_BUFF_CTX_SIZE), true);
  const sk = vm.space.mapObject('sk (test_run dummy socket)', null);
  if (ctxBuf !== null) ctx.bytes.set(ctxBuf.subarray(SKB.cb, SKB.cb + 20), SKB.cb);
  ctx.bytes.set(ip6.remote, SKB.remote_ip6);
  ctx.bytes.set(ip6.local, SKB.local_ip6);
  const changed = (): void => {
    vm.space.remap(region, pkt.buf.subarray(0, pkt.tail));
    vm.setLdAbsPacket(pkt.buf.subarray(pkt.mac, pkt.tail), pkt.data - pkt.mac, pkt.network - pkt.mac);
  };
  changed();
  const env: SkbEnv = {
    pkt,
    changed,
    gsoSize: () => st.gsoSize,
    gsoReset: () => {
      st.gsoSize = 0;
      st.gsoSegs = 0;
    },
    clearHash: () => {
      st.hash = 0;
    },
  };
  const h = vm.helpers;
  h[ID.skb_load_bytes] = skbLoadBytes(env);
  h[ID.skb_load_bytes_relative] = skbLoadBytesRelative(env);
  h[ID.skb_store_bytes] = skbStoreBytes(env);
  h[ID.skb_pull_data] = skbPullData(env);
  h[ID.skb_change_tail] = skbChangeTail(env);
  h[ID.skb_change_head] = skbChangeHead(env);
  h[ID.l3_csum_replace] = l3CsumReplace(env);
  h[ID.l4_csum_replace] = l4CsumReplace(env);
  h[ID.csum_diff] = csumDiff;

  // Field values (the kernel's full field, `size` its width) for the narrow-load rule.
  const field = (off: number): { v: number; size: number } | null => {
    switch (off) {
      case SKB.len: return { v: pkt.len, size: 4 };
      case SKB.pkt_type: return { v: st.pktType, size: 1 };
      case SKB.mark: return { v: st.mark, size: 4 };
      case SKB.queue_mapping: return { v: st.queueMapping, size: 2 };
      case SKB.protocol: return { v: st.protocol, size: 2 };
      case SKB.vlan_present: return { v: 0, size: 4 };
      case SKB.vlan_tci: return { v: 0, size: 2 };
      case SKB.vlan_proto: return { v: 0, size: 2 };
      case SKB.priority: return { v: st.priority, size: 4 };
      case SKB.ingress_ifindex: return { v: st.skbIif, size: 4 };
      case SKB.ifindex: return { v: st.ifindex, size: 4 };
      case SKB.tc_index: return { v: st.tcIndex, size: 2 };
      case SKB.hash: return { v: st.hash, size: 4 };
      case SKB.tc_classid: return { v: st.tcClassid, size: 2 };
      case SKB.napi_id: return { v: 0, size: 4 };
      case SKB.family: return { v: st.family, size: 2 };
      case SKB.remote_ip4: return { v: st.remoteIp4, size: 4 };
      case SKB.local_ip4: return { v: st.localIp4, size: 4 };
      case SKB.remote_port: return { v: 0, size: 2 };
      case SKB.local_port: return { v: 0, size: 2 };
      case SKB.wire_len: return { v: st.pktLen, size: 4 };
      case SKB.gso_segs: return { v: st.gsoSegs, size: 2 };
      case SKB.gso_size: return { v: st.gsoSize, size: 2 };
      case SKB.tstamp_type: return { v: 0, size: 1 };
      default: return null;
    }
  };
  ctx.load = (off, size, out) => {
    if ((off >= SKB.cb && off < SKB.cb + 20) || (off >= SKB.remote_ip6 && off < SKB.remote_port)) return false;
    switch (off) {
      case SKB.data:
      case SKB.data_meta:
        out[0] = pkt.data;
        out[1] = region.hi;
        return true;
      case SKB.data_end:
        out[0] = pkt.tail;
        out[1] = region.hi;
        return true;
      case SKB.sk:
        out[0] = 0;
        out[1] = sk.hi;
        return true;
      case SKB.flow_keys:
        out[0] = 0;
        out[1] = 0;
        return true;
      case SKB.tstamp:
      case SKB.hwtstamp: {
        const v = off === SKB.tstamp ? st.tstamp : st.hwtstamp;
        out[0] = Number(v & 0xffffffffn) | 0;
        out[1] = Number(v >> 32n) | 0;
        return true;
      }
    }
    const f = field(off & ~3);
    if (f === null) return false;
    narrowFieldLoad(f.v, f.size, off, size, out);
    return true;
  };
  const writable = new Set(SKB_WRITABLE[type] ?? []);
  ctx.store = (off, size, lo, hi) => {
    if (off >= SKB.cb && off + size <= SKB.cb + 20) return false; // cb[]: plain memory, any size
    const slot = off === SKB.tstamp ? off : off & ~3;
    if (!writable.has(slot) || off !== slot || size !== (slot === SKB.tstamp ? 8 : 4)) {
      throw new BpfExecutionError(-1, `store of ${size} bytes to __sk_buff offset ${off}, which this program type may not write (the verifier refuses it)`);
    }
    switch (slot) {
      case SKB.mark: st.mark = lo >>> 0; break;
      case SKB.priority: st.priority = lo >>> 0; break;
      case SKB.queue_mapping:
        // The kernel's rewrite skips stores of NO_QUEUE_MAPPING (0xffff) and above (u64 compare).
        if (hi === 0 && lo >>> 0 < 0xffff) st.queueMapping = lo & 0xffff;
        break;
      case SKB.tc_index: st.tcIndex = lo & 0xffff; break;
      case SKB.tc_classid: st.tcClassid = lo & 0xffff; break;
      case SKB.tstamp: st.tstamp = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0); break;
    }
    return true;
  };
  return {
    vm,
    ctx,
    finish: () => {
      if (!isL2) {
        // The kernel pushes ETH_HLEN zero bytes back in front of the network header.
        pkt.reserve(ETH_HLEN, 0);
        pkt.data -= ETH_HLEN;
        pkt.buf.fill(0, pkt.data, pkt.data + ETH_HLEN);
      }
      const dataOut = pkt.buf.slice(pkt.data, pkt.tail);
      if (ctxBuf === null) return { dataOut };
      const c = ctxBuf.slice();
      const dv = new DataView(c.buffer);
      dv.setUint32(SKB.mark, st.mark, true);
      dv.setUint32(SKB.priority, st.priority, true);
      dv.setUint32(SKB.ingress_ifindex, st.skbIif, true);
      dv.setUint32(SKB.ifindex, st.ifindex, true);
      dv.setBigUint64(SKB.tstamp, st.tstamp, true);
      c.set(ctx.bytes.subarray(SKB.cb, SKB.cb + 20), SKB.cb);
      dv.setUint32(SKB.wire_len, st.pktLen, true);
      dv.setUint32(SKB.gso_segs, st.gsoSegs, true);
      dv.setBigUint64(SKB.hwtstamp, st.hwtstamp, true);
      return { dataOut, ctxOut: c };
    },
  };
}

// ---- xdp_md ---------------------------------------------------------------------------------------------

function setupXdp(vm: Vm, dataIn: Uint8Array, opts: TestRunOptions): Built {
  const ctxBuf = ctxInit(opts.ctxIn, opts.ctxOut === true, XDP_MD_CTX_SIZE);
  let headroom = XDP_PACKET_HEADROOM;
  let metaSz = 0;
  let linear = dataIn.length;
  if (ctxBuf !== null) {
    const data = rd32(ctxBuf, 0);
    const dataEnd = rd32(ctxBuf, 4);
    const dataMeta = rd32(ctxBuf, 8);
    if (dataMeta !== 0) throw new BpfTestRunError(EINVAL, 'ctx_in data_meta must be 0');
    if (dataEnd > dataIn.length) throw new BpfTestRunError(EINVAL, `ctx_in data_end ${dataEnd} is past data_in's ${dataIn.length} bytes`);
    if (data > dataEnd) throw new BpfTestRunError(EINVAL, `ctx_in data ${data} is past data_end ${dataEnd}`);
    metaSz = data;
    if (xdpMetalenInvalid(metaSz) || metaSz > headroom - XDP_FRAME_SIZE) {
      throw new BpfTestRunError(EINVAL, `ctx_in data ${data} (the metadata length) must be a multiple of 4 and at most ${headroom - XDP_FRAME_SIZE}`);
    }
    headroom -= metaSz;
    linear = dataEnd;
  }
  const maxLinear = PAGE_SIZE - headroom - SKB_SHINFO_SIZE;
  linear = Math.min(linear, maxLinear);
  if (dataIn.length - metaSz < ETH_HLEN) {
    throw new BpfTestRunError(EINVAL, `data_in of ${dataIn.length} bytes (${metaSz} of them metadata) is shorter than an Ethernet header (${ETH_HLEN})`);
  }
  const pkt = new XdpPacket();
  pkt.buf.set(dataIn.subarray(0, linear), headroom);
  pkt.meta = headroom;
  pkt.data = headroom;
  pkt.end = headroom + linear;
  if (ctxBuf !== null) {
    if (rd32(ctxBuf, 20) !== 0) throw new BpfTestRunError(EINVAL, 'ctx_in egress_ifindex must be 0');
    const ifindex = rd32(ctxBuf, 12);
    const rxq = rd32(ctxBuf, 16);
    if (ifindex === 0 && rxq !== 0) throw new BpfTestRunError(EINVAL, 'ctx_in rx_queue_index needs an ingress_ifindex');
    if (ifindex > 1) throw new BpfTestRunError(ENODEV, `ctx_in ingress_ifindex ${ifindex}: bpfvm's network has only the loopback device (ifindex 1)`);
    if (ifindex === 1 && rxq >= 1) throw new BpfTestRunError(EINVAL, `ctx_in rx_queue_index ${rxq}: the loopback device has one rx queue`);
    pkt.data = pkt.meta + metaSz;
  }
  for (let at = linear; at < dataIn.length; ) {
    if (pkt.frags.length === MAX_SKB_FRAGS) throw new BpfTestRunError(ENOMEM, `data_in needs more than ${MAX_SKB_FRAGS} page frags`);
    const n = Math.min(dataIn.length - at, PAGE_SIZE);
    const page = new Uint8Array(PAGE_SIZE);
    page.set(dataIn.subarray(at, at + n));
    pkt.frags.push({ page, size: n });
    at += n;
  }
  const region = vm.space.map('packet', 'packet', pkt.buf.subarray(0, pkt.end), true);
  const ctx = vm.space.map('ctx (xdp_md)', 'ctx', new Uint8Array(XDP_MD_CTX_SIZE), true);
  const env: XdpEnv = {
    pkt,
    changed: () => vm.space.remap(region, pkt.buf.subarray(0, pkt.end)),
  };
  const h = vm.helpers;
  h[ID.xdp_adjust_head] = xdpAdjustHead(env);
  h[ID.xdp_adjust_meta] = xdpAdjustMeta(env);
  h[ID.xdp_adjust_tail] = xdpAdjustTail(env);
  h[ID.xdp_get_buff_len] = xdpGetBuffLen(env);
  h[ID.xdp_load_bytes] = xdpLoadStoreBytes(env, false);
  h[ID.xdp_store_bytes] = xdpLoadStoreBytes(env, true);
  h[ID.csum_diff] = csumDiff;
  ctx.load = (off, _size, out) => {
    out[1] = 0;
    switch (off) {
      case 0: out[0] = pkt.data; out[1] = region.hi; return true;
      case 4: out[0] = pkt.end; out[1] = region.hi; return true;
      case 8: out[0] = pkt.meta; out[1] = region.hi; return true;
      case 12: out[0] = 1; return true; // rxq->dev->ifindex: loopback
      case 16: out[0] = 0; return true; // rxq->queue_index
      case 20: out[0] = 0; return true;
      default: return false;
    }
  };
  ctx.store = (off, size) => {
    throw new BpfExecutionError(-1, `store of ${size} bytes to xdp_md offset ${off}: xdp_md is read-only (the verifier refuses it)`);
  };
  return {
    vm,
    ctx,
    finish: () => {
      const dataOut = pkt.output();
      if (ctxBuf === null) return { dataOut };
      const c = ctxBuf.slice();
      const dv = new DataView(c.buffer);
      dv.setUint32(0, pkt.data - pkt.meta, true);
      dv.setUint32(4, pkt.end - pkt.meta, true);
      return { dataOut, ctxOut: c };
    },
  };
}

// ---- the run ----------------------------------------------------------------------------------------------

/**
 * A test run set up once and runnable many times on the same packet and context (as the kernel's `repeat`
 * does): for benchmarks, which must not pay the set-up, the binding or the JS tier's compilation per run.
 */
export interface PreparedTestRun {
  readonly vm: Vm;
  readonly program: BoundProgram;
  /** Runs the program once more (r1 = the context). */
  runOnce(): RunResult;
  /** What the kernel copies back after the runs: data_out, and ctx_out when asked for. */
  finish(): { dataOut: Uint8Array; ctxOut?: Uint8Array };
  readonly trace: string[];
  /** The live maps of the run. */
  readonly maps: Maps;
  readonly signals: SentSignal[];
  /** BPF timers the runs armed (base-helpers.ts): `timers.advance(ns)` fires their callbacks on the virtual clock. */
  readonly timers: VirtualTimers;
}

export function prepareTestRun(prog: ProgramSpec, dataIn: Uint8Array = DEFAULT_TEST_INPUT(), opts: TestRunOptions = {}): PreparedTestRun {
  if (!TEST_RUN_TYPES.includes(prog.type)) {
    throw new BpfExecutionError(0, `BPF_PROG_TEST_RUN is not supported for program type ${prog.typeName}`);
  }
  const vm = new Vm({ budget: opts.budget, helperName, ...(opts.tier !== undefined ? { tier: opts.tier } : {}) });
  const trace: string[] = [];
  const signals: SentSignal[] = [];
  const maps = opts.maps ?? (opts.collection ? Maps.fromSpec(opts.collection) : Maps.fromSpec({ maps: [] }));
  const bound = new Map<string, BoundProgram>();
  const mapsVm: MapsVm = new MapsVm(maps, vm.space, {
    tailCallTarget: (ref) => {
      const cached = bound.get(ref.name);
      if (cached) return cached;
      const spec = opts.collection?.programs.find((p) => p.name === ref.name);
      if (!spec) return null;
      const b = vm.load(spec.insns, mapsVm.resolver, spec.name);
      checkHelpers(b, spec.name, prog.type, vm.helpers);
      bound.set(ref.name, b);
      return b;
    },
  });
  mapsVm.install(vm);
  installMapKindHelpers(vm); // queue / stack, ring buffers, dynptrs
  const clock = new VirtualClock(opts.clock?.startNs, opts.clock?.stepNs);
  const prng = new Prng(opts.seed);
  vm.helpers[ID.ktime_get_ns] = clock.helper();
  vm.helpers[ID.ktime_get_boot_ns] = clock.helper();
  vm.helpers[ID.ktime_get_coarse_ns] = clock.helper();
  vm.helpers[ID.get_prandom_u32] = prng.helper();
  vm.helpers[ID.get_smp_processor_id] = (v) => v.setR0(0, 0); // bpf_get_smp_processor_id: CPU 0
  installTraceHelpers(vm, { trace, signals }); // trace_printk, snprintf, probe_read_*, ... (trace-helpers.ts)
  // for_each_map_elem, spin locks, timers, cgroup / pid-namespace ids, tai_ns (base-helpers.ts); the test
  // runner's task is in the root cgroup. Timers fire only through PreparedTestRun.timers.advance.
  const timers = installBaseHelpers(vm, { mapsVm: () => mapsVm, clock, currentCgroup: () => '/', cgroupIds: new CgroupIds() });
  // bpf_get_local_storage (CGROUP_SKB): the test run's own zeroed cgroup storage (cgroup-storage.ts).
  vm.helpers[BPF_FUNC_get_local_storage] = testRunLocalStorage(() => mapsVm);
  const main = vm.load(prog.insns, mapsVm.resolver, prog.name);
  bound.set(prog.name, main);
  const built = prog.type === BPF_PROG_TYPE_XDP ? setupXdp(vm, dataIn, opts) : setupSkb(vm, prog.type, dataIn, opts);
  checkHelpers(main, prog.name, prog.type, vm.helpers);
  const ctxHi = built.ctx.hi;
  return {
    vm,
    program: main,
    runOnce: () => {
      // r1 = the context (offset 0 of its region), r2..r5 = 0; runPrepared avoids BigInt argument conversion.
      vm.lo.fill(0, 1, 6);
      vm.hi.fill(0, 1, 6);
      vm.hi[1] = ctxHi;
      return vm.runPrepared(main);
    },
    finish: () => built.finish(),
    trace,
    maps,
    signals,
    timers,
  };
}

export function testRun(prog: ProgramSpec, dataIn: Uint8Array = DEFAULT_TEST_INPUT(), opts: TestRunOptions = {}): TestRunResult {
  const prepared = prepareTestRun(prog, dataIn, opts);
  const repeat = Math.max(1, opts.repeat ?? 1);
  let r: RunResult = { r0: 0n, insns: 0, ldAbsAbort: false };
  let total = 0;
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < repeat; k++) {
    r = prepared.runOnce();
    total += r.insns;
  }
  const duration = Number(process.hrtime.bigint() - t0) / repeat;
  const out = prepared.finish();
  return {
    ...r,
    retval: Number(r.r0 & 0xffffffffn),
    dataOut: out.dataOut,
    ...(out.ctxOut !== undefined ? { ctxOut: out.ctxOut } : {}),
    trace: prepared.trace,
    ringbuf: ringbufRecords(prepared.maps),
    signals: prepared.signals,
    repeat,
    insnsTotal: total,
    duration: Math.round(duration),
  };
}
