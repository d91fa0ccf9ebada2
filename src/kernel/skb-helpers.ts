// The packet side of BPF_PROG_TEST_RUN: the sk_buff and xdp_buff that net/bpf/test_run.c builds, and the
// helpers that are pure functions of them (net/core/filter.c), each with the kernel's checks and errno values.
//
// Buffers are laid out as the kernel lays them out on x86-64 with 4 KiB pages, because several helper limits
// are expressed in buffer positions:
//  - skb: NET_SKB_PAD (64) bytes of headroom, then the packet; skb->data / tail / mac / network are offsets
//    into `buf`. Growing past the allocation reallocates (the kernel's skb_cow / pskb_expand_head), which
//    programs cannot observe.
//  - xdp: one 4096-byte frame: data_hard_start at 0, struct xdp_frame (40 bytes) reserved at the start,
//    XDP_PACKET_HEADROOM (256) before the packet, skb_shared_info (320) reserved at the end; packets longer
//    than the linear part continue in page frags (multi-buffer XDP), as the kernel does.
// A helper that changes the packet re-maps the packet region (AddressSpace.remap) so every later access is
// checked against the new bounds; the verifier refuses stale packet pointers, at run time they stay safe.

import type { HelperFn, Vm } from '../../vm/interpreter.js';
import type { AddressSpace } from '../../vm/memory.js';
import { ERRNO } from './maps/errors.js';

export const { EPERM, ENOENT, E2BIG, ENOMEM, EACCES, EFAULT, EBUSY, ENODEV, EINVAL, ENOSPC, ENOTSUPP } = ERRNO;

export const PAGE_SIZE = 4096;
export const ETH_HLEN = 14;
/** NET_SKB_PAD + NET_IP_ALIGN on x86-64. */
export const SKB_HEADROOM = 64;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64 (6.x, MAX_SKB_FRAGS 17). */
export const SKB_SHINFO_SIZE = 320;
/** SKB_MAX_ALLOC: the largest packet bpf_skb_change_tail / change_head may make (BPF_SKB_MAX_LEN). */
export const BPF_SKB_MAX_LEN = (PAGE_SIZE << 2) - SKB_SHINFO_SIZE;
export const XDP_PACKET_HEADROOM = 256;
/** sizeof(struct xdp_frame) on x86-64: reserved at data_hard_start, below the lowest data_meta. */
export const XDP_FRAME_SIZE = 40;
export const MAX_SKB_FRAGS = 17;
/** GSO_MAX_SEGS and GSO_LEGACY_MAX_SIZE, the bounds convert___skb_to_skb puts on gso_segs and wire_len. */
export const GSO_MAX_SEGS = 65535;
export const GSO_LEGACY_MAX_SIZE = 65536;
/** The largest allocation (kmalloc of 4 MiB) a growing helper can get; beyond it the kernel says ENOMEM. */
const MAX_ALLOC = 4 << 20;

// ---- checksums (include/net/checksum.h, arch/x86/lib/csum-partial_64.c) ------------------------------

/** csum_add: 32-bit one's-complement addition (end-around carry). */
export function csumAdd(a: number, b: number): number {
  const s = (a >>> 0) + (b >>> 0);
  return (s >= 0x100000000 ? s - 0xffffffff : s) >>> 0;
}
export function csumSub(a: number, b: number): number {
  return csumAdd(a, ~b >>> 0);
}
/** csum_fold: folds a 32-bit partial sum to 16 bits and complements it. */
export function csumFold(sum: number): number {
  let s = sum >>> 0;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
function csum16Add(csum: number, addend: number): number {
  let res = (csum + addend) & 0xffff;
  res += res < (addend & 0xffff) ? 1 : 0;
  return res & 0xffff;
}
/** csum_replace4 on a __sum16 held as its native (little-endian) u16 value. */
export function csumReplace4(sum: number, from: number, to: number): number {
  const tmp = csumSub(~sum & 0xffff, from >>> 0);
  return csumFold(csumAdd(tmp, to >>> 0));
}
/** csum_replace2 (16-bit arithmetic). */
export function csumReplace2(sum: number, from: number, to: number): number {
  return ~csum16Add(csum16Add(~sum & 0xffff, ~from & 0xffff), to & 0xffff) & 0xffff;
}
/** csum_replace_by_diff. */
export function csumReplaceByDiff(sum: number, diff: number): number {
  return csumFold(csumAdd(diff >>> 0, ~sum & 0xffff));
}

/**
 * x86-64 csum_partial: a 64-bit one's-complement sum of little-endian 64-bit words (the last one zero-padded)
 * starting from `seed`, folded to 32 bits with end-around carry. One's-complement addition is order-independent
 * except for the two representations of zero, and the adc chain only produces 0 when every addend is 0.
 */
export function csumPartial(bytes: Uint8Array, seed: number): number {
  let total = BigInt(seed >>> 0);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let i = 0;
  for (; i + 8 <= bytes.length; i += 8) total += dv.getBigUint64(i, true);
  if (i < bytes.length) {
    let w = 0n;
    for (let k = bytes.length - 1; k >= i; k--) w = (w << 8n) | BigInt(bytes[k]!);
    total += w;
  }
  const M64 = 0xffffffffffffffffn;
  let r64 = total % M64;
  if (r64 === 0n && total !== 0n) r64 = M64;
  const hi = Number(r64 >> 32n);
  const lo = Number(r64 & 0xffffffffn);
  const s = hi + lo;
  return (s >= 0x100000000 ? s - 0xffffffff : s) >>> 0;
}

// ---- the packets ---------------------------------------------------------------------------------------

/**
 * The sk_buff: head allocation plus the kernel's offsets into it. All packet bytes sit contiguously in
 * buf[data, tail); the last `dataLen` of them stand for the paged (non-linear) part (the kernel's
 * skb->data_len), so the linear head is [data, data + headLen). BPF_PROG_TEST_RUN skbs are linear
 * (dataLen 0); SK_SKB skbs built from TCP receive start with an empty head (see sk_skb.ts).
 */
export class SkbPacket {
  buf: Uint8Array = new Uint8Array(0);
  data = 0;
  tail = 0;
  mac = 0;
  network = 0;
  /** Bytes at the end of the packet that are not in the linear head (skb->data_len). */
  dataLen = 0;
  get len(): number {
    return this.tail - this.data;
  }
  /** skb_headlen: bytes of the linear head (what data..data_end covers). */
  get headLen(): number {
    return this.len - this.dataLen;
  }
  /** pskb_may_pull: make the first `len` bytes linear; false when the packet is shorter. */
  pull(len: number): boolean {
    if (len > this.len) return false;
    if (len > this.headLen) this.dataLen = this.len - len;
    return true;
  }
  /** skb_linearize / __bpf_try_make_writable(skb, skb->len): everything into the head. */
  linearize(): void {
    this.dataLen = 0;
  }
  /** The packet bytes from skb->data to the tail (a view, not a copy). */
  bytes(): Uint8Array {
    return this.buf.subarray(this.data, this.tail);
  }
  /** Makes room for `head` more bytes before data and `tailGrow` after tail, reallocating like pskb_expand_head. */
  reserve(head: number, tailGrow: number): boolean {
    const needHead = Math.max(0, head - this.data);
    const needTail = Math.max(0, this.tail + tailGrow - this.buf.length);
    if (needHead === 0 && needTail === 0) return true;
    const nhead = needHead === 0 ? 0 : Math.ceil(needHead / SKB_HEADROOM) * SKB_HEADROOM;
    const size = nhead + this.buf.length + needTail;
    if (size > MAX_ALLOC) return false;
    const nb = new Uint8Array(size);
    nb.set(this.buf, nhead);
    this.buf = nb;
    this.data += nhead;
    this.tail += nhead;
    this.mac += nhead;
    this.network += nhead;
    return true;
  }
}

/** One page frag of a multi-buffer xdp_buff. */
export interface XdpFrag {
  page: Uint8Array;
  size: number;
}

/** The xdp_buff: one frame with data_meta / data / data_end offsets, plus page frags. */
export class XdpPacket {
  /** data_hard_start is offset 0; frame_sz is PAGE_SIZE. */
  buf: Uint8Array = new Uint8Array(PAGE_SIZE);
  meta = 0;
  data = 0;
  end = 0;
  frags: XdpFrag[] = [];
  get fragsSize(): number {
    let n = 0;
    for (const f of this.frags) n += f.size;
    return n;
  }
  /** xdp_get_buff_len: linear part plus frags. */
  get buffLen(): number {
    return this.end - this.data + this.fragsSize;
  }
  /** xdp_data_hard_end: the frame minus the skb_shared_info reserved at its end. */
  get hardEnd(): number {
    return PAGE_SIZE - SKB_SHINFO_SIZE;
  }
  /** What BPF_PROG_TEST_RUN copies out: data_meta..data_end, then every frag. */
  output(): Uint8Array {
    const lin = this.end - this.meta;
    const out = new Uint8Array(lin + this.fragsSize);
    out.set(this.buf.subarray(this.meta, this.end), 0);
    let at = lin;
    for (const f of this.frags) {
      out.set(f.page.subarray(0, f.size), at);
      at += f.size;
    }
    return out;
  }
  /** bpf_xdp_copy_buf: copies between `buf` and packet bytes [off, off+len) across the linear part and frags. */
  copy(off: number, bytes: Uint8Array, flush: boolean): void {
    const pieces: Uint8Array[] = [this.buf.subarray(this.data, this.end), ...this.frags.map((f) => f.page.subarray(0, f.size))];
    let pos = 0;
    let done = 0;
    for (const p of pieces) {
      if (done >= bytes.length) break;
      const want = off + done;
      if (want < pos + p.length) {
        const at = want - pos;
        const n = Math.min(bytes.length - done, p.length - at);
        if (flush) p.set(bytes.subarray(done, done + n), at);
        else bytes.set(p.subarray(at, at + n), done);
        done += n;
      }
      pos += p.length;
    }
  }
}

/** What the skb helpers need from the test run: the packet, its region, and a hook to re-sync after a change. */
export interface SkbEnv {
  pkt: SkbPacket;
  /** Called after the packet's bytes or bounds changed: re-map the region, re-point LD_ABS, update ctx. */
  changed(): void;
  /** skb_is_gso / skb_gso_reset. */
  gsoSize(): number;
  gsoReset(): void;
  /** skb_clear_hash. */
  clearHash(): void;
}

export interface XdpEnv {
  pkt: XdpPacket;
  changed(): void;
}

const u32 = (vm: Vm, r: number): number => vm.lo[r]! >>> 0;
const isZero64 = (vm: Vm, r: number): boolean => vm.lo[r] === 0 && vm.hi[r] === 0;

function read(vm: Vm, pc: number, r: number, len: number): Uint8Array {
  return vm.space.read(pc, vm.lo[r]!, vm.hi[r]!, len);
}
function write(vm: Vm, pc: number, r: number, data: Uint8Array): void {
  vm.space.write(pc, vm.lo[r]!, vm.hi[r]!, data);
}

/** __bpf_try_make_writable → pskb_may_pull: the first `len` bytes must exist; they become linear. */
function mayPull(pkt: SkbPacket, len: number): boolean {
  return pkt.pull(len);
}

// ---- skb helpers ------------------------------------------------------------------------------------------

/** bpf_skb_load_bytes (26). */
export function skbLoadBytes(env: SkbEnv): HelperFn {
  return (vm, pc) => {
    const offset = u32(vm, 2);
    const len = u32(vm, 4);
    const pkt = env.pkt;
    if (offset > 0x7fffffff || offset + len > pkt.len) {
      write(vm, pc, 3, new Uint8Array(len));
      vm.setR0Int(-EFAULT);
      return;
    }
    write(vm, pc, 3, pkt.buf.subarray(pkt.data + offset, pkt.data + offset + len));
    vm.setR0(0, 0);
  };
}

/** bpf_skb_load_bytes_relative (68): offset from the MAC (0) or network (1) header, up to the tail. */
export function skbLoadBytesRelative(env: SkbEnv): HelperFn {
  return (vm, pc) => {
    const offset = u32(vm, 2);
    const len = u32(vm, 4);
    const hdr = u32(vm, 5);
    const pkt = env.pkt;
    const start = hdr === 0 ? pkt.mac : hdr === 1 ? pkt.network : -1;
    if (offset > 0xffff || start < 0 || start + offset + len > pkt.tail) {
      write(vm, pc, 3, new Uint8Array(len));
      vm.setR0Int(-EFAULT);
      return;
    }
    write(vm, pc, 3, pkt.buf.subarray(start + offset, start + offset + len));
    vm.setR0(0, 0);
  };
}

/** bpf_skb_store_bytes (9): flags BPF_F_RECOMPUTE_CSUM (1, no effect: ip_summed is CHECKSUM_NONE) and BPF_F_INVALIDATE_HASH (2). */
export function skbStoreBytes(env: SkbEnv): HelperFn {
  return (vm, pc) => {
    const offset = u32(vm, 2);
    const len = u32(vm, 4);
    const fLo = vm.lo[5]!;
    const fHi = vm.hi[5]!;
    if (fHi !== 0 || (fLo & ~3) !== 0) return vm.setR0Int(-EINVAL);
    const pkt = env.pkt;
    if (offset > 0x7fffffff) return vm.setR0Int(-EFAULT);
    if (!mayPull(pkt, offset + len)) return vm.setR0Int(-EFAULT);
    const from = read(vm, pc, 3, len);
    pkt.buf.set(from, pkt.data + offset);
    if (fLo & 2) env.clearHash();
    env.changed();
    vm.setR0(0, 0);
  };
}

/** bpf_skb_pull_data (39): makes the first `len` bytes (0: the current head length) linear; -ENOMEM past the end. */
export function skbPullData(env: SkbEnv): HelperFn {
  return (vm) => {
    const len = u32(vm, 2);
    const ok = mayPull(env.pkt, len === 0 ? env.pkt.headLen : len);
    env.changed();
    vm.setR0Int(ok ? 0 : -ENOMEM);
  };
}

/** __bpf_skb_min_len: the network header offset (the transport header is never set by test_run). */
function skbMinLen(pkt: SkbPacket): number {
  const off = pkt.network - pkt.data;
  return off > 0 ? off : 0;
}

/** bpf_skb_change_tail (38). */
export function skbChangeTail(env: SkbEnv): HelperFn {
  return (vm) => {
    const newLen = u32(vm, 2);
    const pkt = env.pkt;
    if (!isZero64(vm, 3) || newLen > BPF_SKB_MAX_LEN || newLen < skbMinLen(pkt)) return vm.setR0Int(-EINVAL);
    const old = pkt.len;
    pkt.linearize();
    if (newLen > old) {
      if (!pkt.reserve(0, newLen - old)) return vm.setR0Int(-ENOMEM);
      pkt.buf.fill(0, pkt.tail, pkt.data + newLen);
    }
    pkt.tail = pkt.data + newLen;
    if (newLen !== old && env.gsoSize() !== 0) env.gsoReset();
    env.changed();
    vm.setR0(0, 0);
  };
}

/** bpf_skb_change_head (43): pushes zeroed bytes in front of the packet; the MAC header moves there. */
export function skbChangeHead(env: SkbEnv): HelperFn {
  return (vm) => {
    const room = u32(vm, 2);
    const pkt = env.pkt;
    const newLen = (pkt.len + room) >>> 0;
    const gso = env.gsoSize() !== 0;
    if (!isZero64(vm, 3) || (!gso && newLen > BPF_SKB_MAX_LEN) || newLen < pkt.len) return vm.setR0Int(-EINVAL);
    if (!pkt.reserve(room, 0)) return vm.setR0Int(-ENOMEM);
    pkt.data -= room;
    pkt.buf.fill(0, pkt.data, pkt.data + room);
    pkt.mac = pkt.data;
    env.changed();
    vm.setR0(0, 0);
  };
}

/** Largest |len_diff| bpf_skb_adjust_room takes for SK_SKB. */
export const SK_SKB_ADJUST_ROOM_MAX = 0xfff;

/**
 * bpf_skb_adjust_room (50), the SK_SKB variant (sk_skb_adjust_room): mode and flags must be 0 (-EINVAL),
 * |len_diff| at most 0xfff (-EFAULT); a positive len_diff pushes that many zero bytes in front of the data, a
 * negative one pulls bytes off the front (-ENOMEM when the packet is shorter).
 */
export function skSkbAdjustRoom(env: SkbEnv): HelperFn {
  return (vm) => {
    const diff = vm.lo[2]! | 0;
    const mode = u32(vm, 3);
    if (mode !== 0 || !isZero64(vm, 4)) return vm.setR0Int(-EINVAL);
    const abs = Math.abs(diff);
    if (abs > SK_SKB_ADJUST_ROOM_MAX) return vm.setR0Int(-EFAULT);
    const pkt = env.pkt;
    if (diff >= 0) {
      if (!pkt.reserve(abs, 0)) return vm.setR0Int(-ENOMEM);
      pkt.data -= abs;
      pkt.buf.fill(0, pkt.data, pkt.data + abs);
    } else {
      if (!pkt.pull(abs)) return vm.setR0Int(-ENOMEM);
      pkt.data += abs;
    }
    env.changed();
    vm.setR0(0, 0);
  };
}

function checksumField(pkt: SkbPacket, offset: number): { dv: DataView; at: number } | null {
  if (offset > 0xffff || (offset & 1) !== 0 || !mayPull(pkt, offset + 2)) return null;
  return { dv: new DataView(pkt.buf.buffer, pkt.buf.byteOffset, pkt.buf.byteLength), at: pkt.data + offset };
}

/** bpf_l3_csum_replace (10): flags are the field size (0 = `to` is a csum_diff result, 2, 4). */
export function l3CsumReplace(env: SkbEnv): HelperFn {
  return (vm) => {
    const offset = u32(vm, 2);
    if (vm.hi[5] !== 0 || (vm.lo[5]! & ~0xf) !== 0) return vm.setR0Int(-EINVAL);
    const f = checksumField(env.pkt, offset);
    if (f === null) return vm.setR0Int(-EFAULT);
    const from = vm.lo[3]! >>> 0;
    const to = vm.lo[4]! >>> 0;
    const sum = f.dv.getUint16(f.at, true);
    let next: number;
    switch (vm.lo[5]! & 0xf) {
      case 0:
        if (!isZero64(vm, 3)) return vm.setR0Int(-EINVAL);
        next = csumReplaceByDiff(sum, to);
        break;
      case 2:
        next = csumReplace2(sum, from & 0xffff, to & 0xffff);
        break;
      case 4:
        next = csumReplace4(sum, from, to);
        break;
      default:
        return vm.setR0Int(-EINVAL);
    }
    f.dv.setUint16(f.at, next, true);
    env.changed();
    vm.setR0(0, 0);
  };
}

const BPF_F_PSEUDO_HDR = 0x10;
const BPF_F_MARK_MANGLED_0 = 0x20;
const BPF_F_MARK_ENFORCE = 0x40;
const BPF_F_IPV6 = 0x80;

/**
 * bpf_l4_csum_replace (11). The test-run skb is CHECKSUM_NONE, so inet_proto_csum_replace* reduce to
 * csum_replace* on the field (skb->csum is never used); BPF_F_PSEUDO_HDR and BPF_F_IPV6 change nothing then.
 */
export function l4CsumReplace(env: SkbEnv): HelperFn {
  return (vm) => {
    const offset = u32(vm, 2);
    const flags = vm.lo[5]! >>> 0;
    if (vm.hi[5] !== 0 || (flags & ~(BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | 0xf | BPF_F_IPV6)) !== 0) {
      return vm.setR0Int(-EINVAL);
    }
    const f = checksumField(env.pkt, offset);
    if (f === null) return vm.setR0Int(-EFAULT);
    const mmzero = (flags & BPF_F_MARK_MANGLED_0) !== 0;
    let sum = f.dv.getUint16(f.at, true);
    if (mmzero && (flags & BPF_F_MARK_ENFORCE) === 0 && sum === 0) return vm.setR0(0, 0);
    const from = vm.lo[3]! >>> 0;
    const to = vm.lo[4]! >>> 0;
    switch (flags & 0xf) {
      case 0:
        if (!isZero64(vm, 3)) return vm.setR0Int(-EINVAL);
        sum = csumReplaceByDiff(sum, to);
        break;
      case 2:
        sum = csumReplace4(sum, from & 0xffff, to & 0xffff);
        break;
      case 4:
        sum = csumReplace4(sum, from, to);
        break;
      default:
        return vm.setR0Int(-EINVAL);
    }
    if (mmzero && sum === 0) sum = 0xffff; // CSUM_MANGLED_0
    f.dv.setUint16(f.at, sum, true);
    env.changed();
    vm.setR0(0, 0);
  };
}

/** csum_from32to16 (include/net/checksum.h): adds the halves with end-around carry, no complement. */
export function csumFrom32to16(sum: number): number {
  const s = ((sum >>> 0) + (((sum >>> 16) | (sum << 16)) >>> 0)) >>> 0;
  return s >>> 16;
}

/**
 * bpf_csum_diff (28), as rewritten in 6.13 ("bpf_csum_diff: optimize and homogenize for all archs", the 6.18
 * host's form): no size checks; csum_partial(to) - csum_partial(from), seeded, folded to 16 bits by
 * csum_from32to16. (6.12 and older returned the unfolded 32-bit csum_partial and refused sizes that were not
 * multiples of 4 or above 512 bytes.)
 */
export const csumDiff: HelperFn = (vm, pc) => {
  const fromSize = u32(vm, 2);
  const toSize = u32(vm, 4);
  let ret = vm.lo[5]! >>> 0;
  if (fromSize !== 0 && toSize !== 0) {
    ret = csumSub(csumPartial(read(vm, pc, 3, toSize), ret), csumPartial(read(vm, pc, 1, fromSize), 0));
  } else if (toSize !== 0) {
    ret = csumPartial(read(vm, pc, 3, toSize), ret);
  } else if (fromSize !== 0) {
    ret = ~csumPartial(read(vm, pc, 1, fromSize), ~ret >>> 0) >>> 0;
  }
  vm.setR0(csumFrom32to16(ret), 0);
};

// ---- xdp helpers ------------------------------------------------------------------------------------------

/** xdp_metalen_invalid: a multiple of 4, at most 255 (type_max of skb_shared_info.meta_len). */
export function xdpMetalenInvalid(len: number): boolean {
  return (len & 3) !== 0 || len > 255;
}

/** bpf_xdp_adjust_head (44). */
export function xdpAdjustHead(env: XdpEnv): HelperFn {
  return (vm) => {
    const offset = vm.lo[2]! | 0;
    const p = env.pkt;
    const metalen = p.data - p.meta;
    const data = p.data + offset;
    if (data < XDP_FRAME_SIZE + metalen || data > p.end - ETH_HLEN) return vm.setR0Int(-EINVAL);
    if (metalen > 0) p.buf.copyWithin(p.meta + offset, p.meta, p.data);
    p.meta += offset;
    p.data = data;
    env.changed();
    vm.setR0(0, 0);
  };
}

/** bpf_xdp_adjust_meta (54). */
export function xdpAdjustMeta(env: XdpEnv): HelperFn {
  return (vm) => {
    const offset = vm.lo[2]! | 0;
    const p = env.pkt;
    const meta = p.meta + offset;
    if (meta < XDP_FRAME_SIZE || meta > p.data) return vm.setR0Int(-EINVAL);
    if (xdpMetalenInvalid(p.data - meta)) return vm.setR0Int(-EACCES);
    p.meta = meta;
    env.changed();
    vm.setR0(0, 0);
  };
}

/** bpf_xdp_adjust_tail (65), linear and multi-buffer. */
export function xdpAdjustTail(env: XdpEnv): HelperFn {
  return (vm) => {
    let offset = vm.lo[2]! | 0;
    const p = env.pkt;
    if (p.frags.length > 0) {
      if (offset < 0) {
        offset = -offset;
        if (offset > p.buffLen - ETH_HLEN) return vm.setR0Int(-EINVAL);
        for (let i = p.frags.length - 1; i >= 0 && offset > 0; i--) {
          const f = p.frags[i]!;
          const shrink = Math.min(offset, f.size);
          offset -= shrink;
          if (shrink === f.size) p.frags.pop();
          else {
            f.size -= shrink;
            break;
          }
        }
        if (p.frags.length === 0) p.end -= offset;
      } else {
        const f = p.frags[p.frags.length - 1]!;
        if (offset > PAGE_SIZE - f.size) return vm.setR0Int(-EINVAL);
        f.page.fill(0, f.size, f.size + offset);
        f.size += offset;
      }
      env.changed();
      return vm.setR0(0, 0);
    }
    const end = p.end + offset;
    if (end > p.hardEnd || end < p.data + ETH_HLEN) return vm.setR0Int(-EINVAL);
    if (offset > 0) p.buf.fill(0, p.end, end);
    p.end = end;
    env.changed();
    vm.setR0(0, 0);
  };
}

/** bpf_xdp_get_buff_len (188). */
export function xdpGetBuffLen(env: XdpEnv): HelperFn {
  return (vm) => vm.setR0(env.pkt.buffLen, 0);
}

/** bpf_xdp_load_bytes (189) and bpf_xdp_store_bytes (190), through bpf_xdp_pointer's checks. */
export function xdpLoadStoreBytes(env: XdpEnv, store: boolean): HelperFn {
  return (vm, pc) => {
    const offset = u32(vm, 2);
    const len = u32(vm, 4);
    const p = env.pkt;
    if (offset > 0xffff || len > 0xffff) return vm.setR0Int(-EFAULT);
    if (offset + len > p.buffLen) return vm.setR0Int(-EINVAL);
    if (store) {
      p.copy(offset, read(vm, pc, 3, len), true);
      env.changed();
    } else {
      const out = new Uint8Array(len);
      p.copy(offset, out, false);
      write(vm, pc, 3, out);
    }
    vm.setR0(0, 0);
  };
}

// ---- helpers that are not about the packet ------------------------------------------------------------------

/**
 * bpf_get_prandom_u32 (7): a deterministic 32-bit PRNG (xorshift32 after a splitmix-style scramble of the
 * seed), so that runs are reproducible. Not the kernel's generator (which no one can reproduce).
 */
export class Prng {
  private s: number;
  constructor(seed = 0x5eed) {
    let z = (seed ^ 0x9e3779b9) >>> 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    this.s = z === 0 ? 0x6d2b79f5 : z;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  helper(): HelperFn {
    return (vm) => vm.setR0(this.next() | 0, 0);
  }
}
