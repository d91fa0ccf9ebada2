// `struct sk_msg`: the scatterlist message that SK_MSG programs see (Linux 6.12 include/linux/skmsg.h,
// net/core/skmsg.c, net/core/filter.c; behaviour notes in docs/sockmap-datapath.md §2, §4).
//
// The representation is the kernel's, on purpose: a ring of NR_MSG_FRAG_IDS (18) slots of which at most
// MAX_MSG_FRAGS (17) are normally in use, `start`/`end` indices that wrap at 18, per-slot (page, offset,
// length) and a separate per-slot "copy" bitmap, plus `curr`/`copybreak` (where the next user copy lands).
// Every operation below follows the kernel's algorithm step by step on that ring (same loops, same slot
// moves, same u32 arithmetic), so layout effects and the kernel's corner cases come out the same:
//  - bpf_msg_push_data at start == size on a ring with all 17 elements in use puts an 18th element in the
//    one free slot, leaving start == end (the ring then reports 0 elements in use). The kernel does exactly
//    this (space == 0 reads the unused slot's length as `copy`, which is 0, and takes the no-copy path).
//    `elemCount()` reports 18 in that state; see `ringOverflow`.
//  - a held (corked) message that was partly transmitted keeps a stale `copybreak`; appending to it then
//    writes the user bytes at the wrong place (or fails with -ENOSPC), as sk_msg_memcopy_from_iter does.
//  - appending to a held message whose ring is full (push_data can fill it after the verdict's "full" test)
//    with nothing mergeable: copy = 0 and the copy step returns -ENOSPC, which the kernel's sendmsg returns.
//
// Not modelled: socket memory accounting (sk_mem_charge / sk_wmem_schedule always succeed; moveFront takes a
// `charge` callback for __sk_rmem_schedule), the scatterlist end-marker bits in page_link, and the 4 KiB
// fallback when the 32 KiB fragment page cannot be allocated. data/data_end of an empty message are NULL
// (the kernel would compute a pointer from an empty slot).
//
// Pages are modelled as byte arrays: the 32 KiB page fragments that sendmsg copies into (PageFrag) and the
// buffers that pull/push/pop allocate with alloc_pages (PAGE_SIZE << order, failing above MAX_PAGE_ORDER).
// Page reference counts are not modelled (see PageFrag for the one place the kernel's behaviour depends on
// them). Bytes the kernel leaves uninitialised (push_data's inserted range, page areas never written) read
// as zeros here.
//
// The program-visible side (struct sk_msg_md context, data/data_end packet window) is SkMsgContext below;
// the helpers (ids 60-63, 71, 90, 91) are in skmsg-helpers.ts.

import type { AddressSpace, Region } from '../../vm/memory.js';
import { ERRNO } from './maps/errors.js';

// ---- constants ----------------------------------------------------------------------------------------------

export const MAX_MSG_FRAGS = 17;
export const NR_MSG_FRAG_IDS = 18;
/** Size of the order-3 page fragment that sendmsg copies into (SKB_FRAG_PAGE_ORDER with 4 KiB pages). */
export const SK_FRAG_PAGE_SIZE = 32768;
/** skb_page_frag_refill(32, ...): a fragment page with fewer bytes left than this is replaced. */
export const SK_FRAG_REFILL_MIN = 32;
export const PAGE_SIZE = 4096;
/** alloc_pages fails for orders above this (x86-64 default: 4 MiB). */
export const MAX_PAGE_ORDER = 10;

export const { EFAULT, ENOMEM, EINVAL, ENOSPC } = ERRNO;

export const SK_DROP = 0;
export const SK_PASS = 1;
/** Internal verdicts (enum __sk_action). */
export const __SK_DROP = 0;
export const __SK_PASS = 1;
export const __SK_REDIRECT = 2;
export const __SK_NONE = 3;
export const BPF_F_INGRESS = 1;

/** struct sk_msg_md (uapi), 80 bytes. */
export const SK_MSG_MD_SIZE = 80;
export const SK_MSG_MD = {
  data: 0,
  data_end: 8,
  family: 16,
  remote_ip4: 20,
  local_ip4: 24,
  remote_ip6: 28,
  local_ip6: 44,
  remote_port: 60,
  local_port: 64,
  size: 68,
  sk: 72,
} as const;

// ---- pages --------------------------------------------------------------------------------------------------

let nextPageId = 1;

/** A page (or compound page) of memory that scatterlist elements point into. */
export class Page {
  readonly id: number;
  readonly bytes: Uint8Array;
  constructor(size: number) {
    this.id = nextPageId++;
    this.bytes = new Uint8Array(size);
  }
}

/** The kernel's get_order(): smallest order with PAGE_SIZE << order >= size; get_order(0) is 52 on 64-bit. */
export function getOrder(size: number): number {
  if (size === 0) return 52;
  let order = 0;
  while (PAGE_SIZE * 2 ** order < size) order++;
  return order;
}

/** Allocates a buffer for `bytes` bytes the way alloc_pages(get_order(bytes)) would; null = allocation failure. */
export type PageAllocator = (bytes: number) => Page | null;

export const defaultPageAllocator: PageAllocator = (bytes) => {
  const order = getOrder(bytes);
  if (order > MAX_PAGE_ORDER) return null;
  return new Page(PAGE_SIZE * 2 ** order);
};

/**
 * A page fragment (`struct page_frag`, normally the sending task's `current->task_frag`) that sendmsg carves
 * sk_msg chunks from. Rules implemented (skb_page_frag_refill(32, ...)):
 *  - a fresh fragment has no page; `offset` starts at 0;
 *  - before each chunk: if there is a page with at least 32 bytes left, it is used from `offset`; otherwise a
 *    new 32 KiB page is taken at offset 0;
 *  - a chunk uses min(remaining request, page size - offset) bytes and advances `offset`.
 * Approximation: the kernel also restarts the *same* page at offset 0 when nothing else references it any more
 * (page_ref_count == 1), which depends on TCP freeing transmitted data and so on timing. Here a page is never
 * recycled; call `reset()` where the model decides the fragment is free again (the next chunk then starts on a
 * fresh page at offset 0).
 */
export class PageFrag {
  page: Page | null = null;
  offset = 0;
  size = 0;
  constructor(readonly pageSize: number = SK_FRAG_PAGE_SIZE) {}

  /** sk_page_frag_refill. Always succeeds in the model. */
  refill(): boolean {
    if (this.page !== null && this.offset + SK_FRAG_REFILL_MIN <= this.size) return true;
    this.page = new Page(this.pageSize);
    this.offset = 0;
    this.size = this.pageSize;
    return true;
  }

  /** Forget the current page (see the class comment). */
  reset(): void {
    this.page = null;
    this.offset = 0;
    this.size = 0;
  }
}

// ---- the message --------------------------------------------------------------------------------------------

/** A scatterlist entry by value (`struct scatterlist` as far as sk_msg uses it). */
export interface Sge {
  page: Page | null;
  offset: number;
  length: number;
}

/** One element of the message in ring order, for inspection. */
export interface SkMsgElement extends Sge {
  /** Ring slot (0..17). */
  slot: number;
  copy: boolean;
}

/** Where `data`..`data_end` point: a window onto one page. */
export interface SkMsgDataWindow {
  page: Page;
  /** Byte offset of `data` inside the page. */
  offset: number;
  /** data_end - data. */
  length: number;
}

/** The socket-like descriptor an sk_msg program sees through `struct sk_msg_md`. */
export interface SkMsgSock {
  /** AF_INET = 2, AF_INET6 = 10. */
  family: number;
  /** IPv4 addresses as numbers (0x7f000001 = 127.0.0.1); the ctx holds them in network byte order. */
  localIp4?: number;
  remoteIp4?: number;
  /** IPv6 addresses, 16 bytes in network order. */
  localIp6?: Uint8Array;
  remoteIp6?: Uint8Array;
  /** Ports in host order; remote_port is presented in the kernel's shifted network-order encoding. */
  localPort: number;
  remotePort: number;
}

/** Result of SkMsg.appendFromUser (the allocate + copy steps of tcp_bpf_sendmsg). */
export interface SkMsgAppendResult {
  /** 0, or a negative errno from the copy (-ENOSPC, -EFAULT); the message is then trimmed back. */
  err: number;
  /** Bytes the caller counts as copied (`copy` in tcp_bpf_sendmsg): all requested bytes unless the ring filled. */
  copy: number;
  /** Bytes actually taken from the source (the iov_iter advance); differs from `copy` only in the stale-copybreak quirk. */
  consumed: number;
  /** The 17-element ring filled before all bytes fit (the caller sends the rest as a new message). */
  enospc: boolean;
}

/** Result of SkMsg.moveFront (bpf_tcp_ingress's transfer into a new message). */
export interface SkMsgMoveResult {
  err: number;
  moved: number;
  msg: SkMsg | null;
}

const next = (i: number): number => (i + 1 === NR_MSG_FRAG_IDS ? 0 : i + 1);
const prev = (i: number): number => (i === 0 ? NR_MSG_FRAG_IDS - 1 : i - 1);
/** sk_msg_iter_dist. */
export const iterDist = (start: number, end: number): number => (end >= start ? end - start : end + (NR_MSG_FRAG_IDS - start));

/** Guard for loops that only terminate on a consistent ring (the kernel would spin or crash otherwise). */
const LOOP_GUARD = 4 * NR_MSG_FRAG_IDS;

export class SkMsg {
  // struct sk_msg_sg
  start = 0;
  curr = 0;
  end = 0;
  size = 0;
  copybreak = 0;
  readonly pages: (Page | null)[] = new Array<Page | null>(NR_MSG_FRAG_IDS).fill(null);
  readonly offsets = new Uint32Array(NR_MSG_FRAG_IDS);
  readonly lengths = new Uint32Array(NR_MSG_FRAG_IDS);
  readonly copy = new Uint8Array(NR_MSG_FRAG_IDS);
  // data / data_end: a page and two byte offsets in it; page null = NULL pointers.
  dataPage: Page | null = null;
  dataOff = 0;
  dataEndOff = 0;
  applyBytes = 0;
  corkBytes = 0;
  flags = 0;
  /** The skb that owns the pages (messages built from an skb on the ingress path); opaque to this module. */
  skb: unknown = null;
  skRedir: SkMsgSock | null = null;
  /** The sending socket, set only while the program runs. */
  sk: SkMsgSock | null = null;
  /** True while the ring holds 18 elements (start == end with data), which only push_data can cause. */
  get ringOverflow(): boolean {
    return this.start === this.end && this.size > 0;
  }

  constructor(readonly allocPages: PageAllocator = defaultPageAllocator) {}

  /** A message holding `data`, built as sendmsg builds it (fresh fragment unless one is given). */
  static fromBytes(data: Uint8Array, frag: PageFrag = new PageFrag(), allocPages?: PageAllocator): SkMsg {
    const m = new SkMsg(allocPages);
    const r = m.appendFromUser(frag, data);
    if (r.err !== 0 || r.consumed !== data.length) throw new RangeError(`${data.length} bytes do not fit in one sk_msg (${r.consumed} did)`);
    return m;
  }

  /** sk_msg_init: everything zeroed. */
  init(): void {
    this.start = this.curr = this.end = this.size = this.copybreak = 0;
    this.pages.fill(null);
    this.offsets.fill(0);
    this.lengths.fill(0);
    this.copy.fill(0);
    this.dataPage = null;
    this.dataOff = this.dataEndOff = 0;
    this.applyBytes = this.corkBytes = this.flags = 0;
    this.skb = null;
    this.skRedir = null;
    this.sk = null;
  }

  // ---- ring inspection -------------------------------------------------------------------------------------

  /** sk_msg_elem_used: slots between start and end (0 in the 18-element overflow state). */
  elemUsed(): number {
    return iterDist(this.start, this.end);
  }

  /** sk_msg_full. */
  isFull(): boolean {
    return this.elemUsed() === MAX_MSG_FRAGS;
  }

  /** Elements actually holding the message: elemUsed(), or 18 when push overflowed the ring. */
  elemCount(): number {
    const n = this.elemUsed();
    return n === 0 && this.size > 0 ? NR_MSG_FRAG_IDS : n;
  }

  sge(slot: number): Sge {
    return { page: this.pages[slot]!, offset: this.offsets[slot]!, length: this.lengths[slot]! };
  }

  private setSge(slot: number, s: Sge): void {
    this.pages[slot] = s.page;
    this.offsets[slot] = s.offset;
    this.lengths[slot] = s.length;
  }

  private moveSlot(to: number, from: number): void {
    this.pages[to] = this.pages[from]!;
    this.offsets[to] = this.offsets[from]!;
    this.lengths[to] = this.lengths[from]!;
    this.copy[to] = this.copy[from]!;
  }

  private clearSlot(slot: number): void {
    this.pages[slot] = null;
    this.offsets[slot] = 0;
    this.lengths[slot] = 0;
  }

  /** The elements in ring order from `start`. */
  elements(): SkMsgElement[] {
    const out: SkMsgElement[] = [];
    for (let k = 0, i = this.start; k < this.elemCount(); k++, i = next(i)) {
      out.push({ slot: i, page: this.pages[i]!, offset: this.offsets[i]!, length: this.lengths[i]!, copy: this.copy[i] !== 0 });
    }
    return out;
  }

  /** Element lengths in order (handy in tests). */
  layout(): number[] {
    return this.elements().map((e) => e.length);
  }

  private virt(slot: number, len: number, skip = 0): Uint8Array {
    const p = this.pages[slot];
    if (p === null || p === undefined) {
      if (len === 0) return new Uint8Array(0);
      throw new Error(`sk_msg slot ${slot} has ${len} bytes but no page (corrupted ring)`);
    }
    const o = this.offsets[slot]! + skip;
    return p.bytes.subarray(o, o + len);
  }

  /** The whole message content in order (a copy). */
  bytes(): Uint8Array {
    const els = this.elements();
    const total = els.reduce((a, e) => a + e.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const e of els) {
      out.set(this.virt(e.slot, e.length), o);
      o += e.length;
    }
    return out;
  }

  /** Consistency problems (empty when the ring is sound): size vs element lengths, element count, pages. */
  checkInvariants(): string[] {
    const errs: string[] = [];
    const els = this.elements();
    const sum = els.reduce((a, e) => a + e.length, 0);
    if (sum !== this.size) errs.push(`size ${this.size} != sum of element lengths ${sum}`);
    if (els.length > MAX_MSG_FRAGS) errs.push(`${els.length} elements in use (max ${MAX_MSG_FRAGS})`);
    for (const e of els) {
      if (e.length > 0 && e.page === null) errs.push(`slot ${e.slot}: ${e.length} bytes without a page`);
      if (e.page !== null && e.offset + e.length > e.page.bytes.length) errs.push(`slot ${e.slot}: beyond its page`);
    }
    return errs;
  }

  // ---- data pointers ---------------------------------------------------------------------------------------

  /** sk_msg_compute_data_pointers: data/data_end = the first element, NULL if it carries the copy bit. */
  computeDataPointers(): void {
    const s = this.start;
    if (this.copy[s] !== 0 || this.pages[s] === null) {
      // (A slot without a page is an empty message; the kernel would compute a bogus pointer there.)
      this.dataPage = null;
      this.dataOff = this.dataEndOff = 0;
    } else {
      this.dataPage = this.pages[s]!;
      this.dataOff = this.offsets[s]!;
      this.dataEndOff = this.dataOff + this.lengths[s]!;
    }
  }

  /** The data..data_end window, or null for NULL pointers. */
  dataWindow(): SkMsgDataWindow | null {
    if (this.dataPage === null) return null;
    return { page: this.dataPage, offset: this.dataOff, length: this.dataEndOff - this.dataOff };
  }

  /** data_end - data (0 for NULL pointers). */
  dataLength(): number {
    return this.dataPage === null ? 0 : this.dataEndOff - this.dataOff;
  }

  /** The bytes between data and data_end (a live view: writes land in the message). */
  dataBytes(): Uint8Array {
    return this.dataPage === null ? new Uint8Array(0) : this.dataPage.bytes.subarray(this.dataOff, this.dataEndOff);
  }

  /** Message offset of `data` (searching the elements for the window), or -1 when NULL or not inside the message. */
  dataMessageOffset(): number {
    if (this.dataPage === null) return -1;
    let off = 0;
    for (const e of this.elements()) {
      if (e.page === this.dataPage && this.dataOff >= e.offset && this.dataEndOff <= e.offset + e.length) {
        return off + (this.dataOff - e.offset);
      }
      off += e.length;
    }
    return -1;
  }

  /** sk_msg_reset_curr (filter.c), run by pull/push/pop. */
  private resetCurr(): void {
    if (this.size === 0) {
      this.curr = this.start;
      this.copybreak = 0;
    } else {
      const i = prev(this.end);
      this.curr = i;
      this.copybreak = this.lengths[i]!;
    }
  }

  // ---- building (sendmsg) ----------------------------------------------------------------------------------

  /** sk_msg_try_coalesce_ok, with C's int-vs-u32 comparison (elem_first_coalesce -1 compares as 0xffffffff). */
  private tryCoalesceOk(elemFirstCoalesce: number): boolean {
    const e = elemFirstCoalesce >>> 0;
    if (this.end > this.start && e < this.end) return true;
    if (this.end < this.start && (e > this.start || e < this.end)) return true;
    return false;
  }

  /**
   * sk_msg_alloc: grow the message to `len` bytes with chunks from `frag`. A chunk that continues the last
   * element on the same page is merged into it when sk_msg_try_coalesce_ok allows (tcp_bpf_sendmsg passes
   * `end - 1`, which allows it for any non-empty message and never for a fresh one); otherwise it takes a new
   * slot, or stops with -ENOSPC when 17 are in use (what was allocated so far stays). Returns 0 or -ENOSPC.
   */
  alloc(frag: PageFrag, len: number, elemFirstCoalesce: number): number {
    const osize = this.size;
    let ret = 0;
    len -= this.size;
    while (len > 0) {
      if (!frag.refill()) {
        this.trim(osize);
        return -ENOMEM;
      }
      const origOffset = frag.offset;
      const use = Math.min(len, frag.size - origOffset);
      const i = prev(this.end);
      if (this.tryCoalesceOk(elemFirstCoalesce) && this.pages[i] === frag.page && this.offsets[i]! + this.lengths[i]! === origOffset) {
        this.lengths[i] += use;
      } else {
        if (this.isFull()) {
          ret = -ENOSPC;
          break;
        }
        this.setSge(this.end, { page: frag.page, offset: origOffset, length: use });
        this.copy[this.end] = 0;
        this.end = next(this.end);
      }
      this.size += use;
      frag.offset += use;
      len -= use;
    }
    return ret;
  }

  /**
   * sk_msg_memcopy_from_iter: copy `bytes` bytes of `src` (from `srcOff`) into the message starting at
   * `curr`/`copybreak`. Returns the kernel's `ret` (the last chunk's byte count, or -ENOSPC when nothing could be
   * copied) and how many bytes were taken from `src`.
   */
  memcopyFromIter(src: Uint8Array, srcOff: number, bytes: number): { ret: number; copied: number } {
    let ret = -ENOSPC;
    let i = this.curr;
    let copied = 0;
    do {
      if (this.copybreak >= this.lengths[i]!) {
        this.copybreak = 0;
        i = next(i);
        if (i === this.end) break;
      }
      const bufSize = this.lengths[i]! - this.copybreak;
      const copy = bufSize > bytes ? bytes : bufSize;
      const to = this.virt(i, copy, this.copybreak);
      this.copybreak += copy;
      to.set(src.subarray(srcOff + copied, srcOff + copied + copy));
      copied += copy;
      ret = copy;
      bytes -= copy;
      if (bytes === 0) break;
      this.copybreak = 0;
      i = next(i);
    } while (i !== this.end);
    this.curr = i;
    return { ret, copied };
  }

  /**
   * Steps 5-6 of tcp_bpf_sendmsg on this message (fresh or held cork): allocate room for `count` more bytes
   * from `frag` (sk_msg_alloc with elem_first_coalesce = end - 1), shrink the request if the ring filled
   * (-ENOSPC → `enospc`, `copy` = what fit), copy the bytes in; on a copy error trim back and report it.
   */
  appendFromUser(frag: PageFrag, src: Uint8Array, srcOff = 0, count = src.length - srcOff): SkMsgAppendResult {
    const osize = this.size;
    let copy = count;
    let enospc = false;
    const err = this.alloc(frag, this.size + copy, this.end - 1);
    if (err !== 0) {
      if (err !== -ENOSPC) return { err, copy: 0, consumed: 0, enospc: false };
      enospc = true;
      copy = this.size - osize;
    }
    const { ret, copied } = this.memcopyFromIter(src, srcOff, copy);
    if (ret < 0) {
      this.trim(osize);
      return { err: ret, copy: 0, consumed: copied, enospc };
    }
    return { err: 0, copy, consumed: copied, enospc };
  }

  /** sk_msg_page_add: append a reference to `len` bytes of `page` at `offset` as a new element with the copy bit set. */
  pageAdd(page: Page, len: number, offset: number): void {
    this.setSge(this.end, { page, offset, length: len });
    this.copy[this.end] = 1;
    this.size += len;
    this.end = next(this.end);
  }

  // ---- freeing ---------------------------------------------------------------------------------------------

  /** sk_msg_free_elem: clear slot `i`, return its length. */
  private freeElem(i: number): number {
    const len = this.lengths[i]!;
    this.copy[i] = 0;
    this.clearSlot(i);
    return len;
  }

  /** sk_msg_free: free every element, re-initialise the message, return the bytes freed. */
  free(): number {
    let i = this.start;
    let freed = 0;
    let guard = 0;
    while (this.size !== 0) {
      if (guard++ > LOOP_GUARD) throw new Error('sk_msg_free: size does not match the elements (corrupted ring)');
      this.size = (this.size - this.lengths[i]!) >>> 0;
      freed += this.freeElem(i);
      i = next(i);
    }
    this.init();
    return freed;
  }

  /** sk_msg_free_partial: free `bytes` bytes from the front (whole elements freed, a partial one shortened). */
  freePartial(bytes: number): void {
    let i = this.start;
    let guard = 0;
    while (bytes) {
      if (guard++ > LOOP_GUARD) throw new Error('sk_msg_free_partial: corrupted ring');
      const len = this.lengths[i]!;
      if (!len) break;
      if (bytes < len) {
        this.lengths[i] = len - bytes;
        this.offsets[i] += bytes;
        this.size -= bytes;
        break;
      }
      this.size -= len;
      bytes -= len;
      this.freeElem(i);
      i = next(i);
    }
    this.start = i;
  }

  /** sk_msg_trim: cut the message down to `len` bytes from the back, fixing curr/copybreak. */
  trim(len: number): void {
    let trim = this.size - len;
    let i = this.end;
    if (trim <= 0) return;
    i = prev(i);
    this.size = len;
    let out = false;
    while (this.lengths[i] && trim >= this.lengths[i]!) {
      trim -= this.lengths[i]!;
      this.freeElem(i);
      i = prev(i);
      if (!trim) {
        out = true;
        break;
      }
    }
    if (!out) {
      this.lengths[i] -= trim;
      if (this.curr === i && this.copybreak > this.lengths[i]!) this.copybreak = this.lengths[i]!;
    }
    i = next(i);
    this.end = i;
    if (!this.size) {
      this.curr = this.start;
      this.copybreak = 0;
    } else if (iterDist(this.start, this.curr) >= iterDist(this.start, this.end)) {
      i = prev(i);
      this.curr = i;
      this.copybreak = this.lengths[i]!;
    }
  }

  // ---- transmit from the front -----------------------------------------------------------------------------

  /**
   * tcp_bpf_push's walk: hand up to `apply` bytes from the front (all of them when `apply` is 0) to `sink`
   * element by element. `sink` returns how many bytes it accepted (a short count is retried with the rest, as
   * the kernel does) or a value <= 0, which stops the walk and is returned. Transmitted bytes leave the
   * message (offset/length advanced, finished elements cleared, `start` advanced). Returns 0 on success.
   */
  transmitFront(apply: number, sink: (chunk: Uint8Array, more: boolean) => number): number {
    const useApply = apply !== 0;
    let guard = 0;
    for (;;) {
      if (guard++ > 2 * LOOP_GUARD) throw new Error('transmitFront: corrupted ring');
      const s = this.start;
      const len = this.lengths[s]!;
      let size = useApply && apply < len ? apply : len;
      for (;;) {
        // (offset/length already advanced past what was accepted, so a retry starts at the element's offset)
        const more = size < this.lengths[s]! && this.start !== this.end;
        const ret = size === 0 ? 0 : sink(this.virt(s, size).slice(), more);
        if (ret <= 0) return ret;
        if (useApply) apply -= ret;
        this.size -= ret;
        this.offsets[s] += ret;
        this.lengths[s] -= ret;
        if (ret !== size) {
          size -= ret;
          continue;
        }
        break;
      }
      if (!this.lengths[s]) {
        this.start = next(this.start);
        this.clearSlot(s);
        if (this.start === this.end) break;
      }
      if (useApply && !apply) break;
    }
    return 0;
  }

  /**
   * Takes `n` bytes from the front (all when n is 0 or >= size) and returns them: the bytes a PASS verdict
   * transmits (`tosend`), with the message keeping the rest, as tcp_bpf_push leaves it.
   */
  takeFront(n = 0): Uint8Array {
    if (this.size === 0) return new Uint8Array(0);
    const want = n === 0 || n >= this.size ? 0 : n;
    const parts: Uint8Array[] = [];
    this.transmitFront(want, (chunk) => {
      parts.push(chunk);
      return chunk.length;
    });
    const total = parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /**
   * bpf_tcp_ingress's transfer: move up to `apply` bytes (all when 0) from the front into a new message that
   * keeps the same ring slots (no copy; the pages are shared). `charge(size)` models __sk_rmem_schedule per
   * element; a refusal stops the transfer (-ENOMEM if nothing moved, then nothing changes).
   */
  moveFront(apply: number, charge: (bytes: number) => boolean = () => true): SkMsgMoveResult {
    const useApply = apply !== 0;
    const tmp = new SkMsg(this.allocPages);
    tmp.start = this.start;
    let i = this.start;
    let copied = 0;
    let ret = 0;
    let guard = 0;
    do {
      if (guard++ > LOOP_GUARD) throw new Error('moveFront: corrupted ring');
      const len = this.lengths[i]!;
      const size = useApply && apply < len ? apply : len;
      if (!charge(size)) {
        if (!copied) ret = -ENOMEM;
        break;
      }
      // sk_msg_xfer(tmp, this, i, size)
      tmp.pages[i] = this.pages[i]!;
      tmp.offsets[i] = this.offsets[i]!;
      tmp.copy[i] = this.copy[i]!;
      tmp.lengths[i] = size;
      tmp.size += size;
      this.size -= size;
      this.lengths[i] -= size;
      this.offsets[i] += size;
      if (!this.lengths[i]) this.copy[i] = 0;
      copied += size;
      const rest = this.lengths[i]!;
      i = next(i);
      tmp.end = i;
      if (useApply) {
        apply -= size;
        if (!apply) {
          if (rest) i = prev(i);
          break;
        }
      }
    } while (i !== this.end);
    if (ret !== 0) return { err: ret, moved: 0, msg: null };
    this.start = i;
    return { err: 0, moved: copied, msg: tmp };
  }

  // ---- BPF helpers' effects (filter.c) ---------------------------------------------------------------------

  /**
   * bpf_msg_pull_data(msg, u32 start, u32 end, u64 flags). -EINVAL for flags, end <= start, start beyond the
   * message, or end beyond it; -ENOMEM when the linear buffer cannot be allocated. When [start, end) lies in
   * one element without the copy bit nothing moves; otherwise the covering elements are copied whole into
   * one new buffer that takes the first one's slot, and later slots shift down. data/data_end = [start, end).
   */
  pull(start: number, end: number, flags: bigint | number = 0): number {
    start >>>= 0;
    end >>>= 0;
    if (BigInt(flags) !== 0n || end <= start) return -EINVAL;
    const bytes = end - start;
    let len = 0;
    let offset = 0;
    let i = this.start;
    do {
      offset += len;
      len = this.lengths[i]!;
      if (start < offset + len) break;
      i = next(i);
    } while (i !== this.end);
    if (start >= offset + len) return -EINVAL;

    const firstSge = i;
    const bytesSgTotal = start - offset + bytes;
    if (!(this.copy[i] === 0 && bytesSgTotal <= len)) {
      let copy = 0;
      do {
        copy += this.lengths[i]!;
        i = next(i);
        if (bytesSgTotal <= copy) break;
      } while (i !== this.end);
      const lastSge = i;
      if (bytesSgTotal > copy) return -EINVAL;

      const page = this.allocPages(copy);
      if (page === null) return -ENOMEM;
      let poffset = 0;
      i = firstSge;
      do {
        const l = this.lengths[i]!;
        page.bytes.set(this.virt(i, l), poffset);
        poffset += l;
        this.lengths[i] = 0; // the kernel keeps the (released) page pointer in the slot
        this.copy[i] = 0;
        i = next(i);
      } while (i !== lastSge);
      this.setSge(firstSge, { page, offset: 0, length: copy });
      this.copy[firstSge] = 0;

      const shift = lastSge > firstSge ? lastSge - firstSge - 1 : NR_MSG_FRAG_IDS - firstSge + lastSge - 1;
      if (shift) {
        i = next(firstSge);
        for (let guard = 0; ; guard++) {
          if (guard > LOOP_GUARD) throw new Error('pull: corrupted ring');
          const moveFrom = i + shift >= NR_MSG_FRAG_IDS ? i + shift - NR_MSG_FRAG_IDS : i + shift;
          if (moveFrom === this.end) break;
          this.moveSlot(i, moveFrom);
          this.clearSlot(moveFrom);
          this.copy[moveFrom] = 0;
          i = next(i);
        }
        this.end = this.end - shift < 0 ? this.end - shift + NR_MSG_FRAG_IDS : this.end - shift;
      }
    }
    this.resetCurr();
    this.dataPage = this.pages[firstSge]!;
    this.dataOff = this.offsets[firstSge]! + start - offset;
    this.dataEndOff = this.dataOff + bytes;
    return 0;
  }

  /**
   * bpf_msg_push_data(msg, u32 start, u32 len, u64 flags): insert `len` bytes at `start` (the kernel leaves
   * them uninitialised; here they are zeros). -EINVAL for flags, start > size, or u32 overflow of copy + len;
   * -ENOMEM when the buffer cannot be allocated (len above 4 MiB, or the allocator refuses); len 0 → 0.
   * With free slots the new bytes get their own element (a mid-element start splits that element, using a
   * second slot); with no free slot, or one free slot and a mid-element start, the element at `start` is
   * re-copied together with the new bytes into one buffer. data/data_end = first element afterwards.
   */
  push(start: number, len: number, flags: bigint | number = 0): number {
    start >>>= 0;
    len >>>= 0;
    if (BigInt(flags) !== 0n) return -EINVAL;
    if (len === 0) return 0;
    let i = this.start;
    let l = 0;
    let offset = 0;
    do {
      offset += l;
      l = this.lengths[i]!;
      if (start < offset + l) break;
      i = next(i);
    } while (i !== this.end);
    if (start > offset + l) return -EINVAL;

    const space = MAX_MSG_FRAGS - this.elemUsed();
    let copy = 0;
    if (!space || (space === 1 && start !== offset)) copy = this.lengths[i]!;
    if (((copy + len) >>> 0) < copy) return -EINVAL;

    const page = this.allocPages(copy + len);
    if (page === null) return -ENOMEM;

    let rsge: Sge = { page: null, offset: 0, length: 0 };
    let rsgeCopy = 0;
    let newSlot: number;
    place: {
      if (copy) {
        if (i === this.end) i = prev(i);
        const front = start - offset;
        const back = this.lengths[i]! - front;
        const from = this.virt(i, this.lengths[i]!);
        if (front) page.bytes.set(from.subarray(0, front), 0);
        if (back) page.bytes.set(from.subarray(front, front + back), front + len);
        newSlot = i;
        break place;
      }
      if (start - offset) {
        if (i === this.end) i = prev(i);
        rsge = this.sge(i);
        rsgeCopy = this.copy[i]!;
        this.lengths[i] = start - offset;
        rsge.length -= this.lengths[i]!;
        rsge.offset += start - offset;
        i = next(i);
      }
      this.end = next(this.end);
      newSlot = i;
      i = next(i);
      if (i === this.end) {
        if (!rsge.length) break place;
        this.end = next(this.end);
        break place;
      }
      let sge = this.sge(newSlot);
      let sgeCopy = this.copy[newSlot]!;
      let nsge = this.sge(i);
      let nsgeCopy = this.copy[i]!;
      let nnsge: Sge = { page: null, offset: 0, length: 0 };
      let nnsgeCopy = 0;
      if (rsge.length) {
        i = next(i);
        nnsge = this.sge(i);
        nnsgeCopy = this.copy[i]!;
        this.end = next(this.end);
      }
      let guard = 0;
      while (i !== this.end) {
        if (guard++ > LOOP_GUARD) throw new Error('push: corrupted ring');
        this.setSge(i, sge);
        this.copy[i] = sgeCopy;
        sge = nsge;
        sgeCopy = nsgeCopy;
        i = next(i);
        if (rsge.length) {
          nsge = nnsge;
          nsgeCopy = nnsgeCopy;
          nnsge = this.sge(i);
          nnsgeCopy = this.copy[i]!;
        } else {
          nsge = this.sge(i);
          nsgeCopy = this.copy[i]!;
        }
      }
    }
    // place_new
    this.size = (this.size + len) >>> 0;
    this.copy[newSlot] = 0;
    this.setSge(newSlot, { page, offset: 0, length: len + copy });
    if (rsge.length) {
      newSlot = next(newSlot);
      this.setSge(newSlot, rsge);
      this.copy[newSlot] = rsgeCopy;
    }
    this.resetCurr();
    this.computeDataPointers();
    return 0;
  }

  /** sk_msg_shift_left: drop slot i, moving every later slot down one; end moves back. */
  private shiftLeft(i: number): void {
    let p: number;
    let guard = 0;
    do {
      if (guard++ > LOOP_GUARD) throw new Error('pop: corrupted ring');
      p = i;
      i = next(i);
      this.moveSlot(p, i);
    } while (i !== this.end);
    this.end = prev(this.end);
    this.copy[this.end] = 0;
  }

  /** sk_msg_shift_right: open slot i by moving it and every later slot up one; end moves forward. */
  private shiftRight(i: number): void {
    this.end = next(this.end);
    let sge = this.sge(i);
    let sgeCopy = this.copy[i]!;
    i = next(i);
    let tmp = this.sge(i);
    let tmpCopy = this.copy[i]!;
    let guard = 0;
    while (i !== this.end) {
      if (guard++ > LOOP_GUARD) throw new Error('pop: corrupted ring');
      this.setSge(i, sge);
      this.copy[i] = sgeCopy;
      i = next(i);
      sge = tmp;
      sgeCopy = tmpCopy;
      tmp = this.sge(i);
      tmpCopy = this.copy[i]!;
    }
  }

  /**
   * bpf_msg_pop_data(msg, u32 start, u32 len, u64 flags): remove [start, start + len). -EINVAL for flags,
   * start >= size, or start + len > size (64-bit sum: no wrap); len 0 → 0. A removal inside one element
   * splits it (the tail gets the next slot, shifting later slots up) or, with no free slot, copies head and
   * tail into one new buffer (-ENOMEM if that fails). Whole elements are removed by shifting later slots down.
   * data/data_end = first element afterwards.
   */
  pop(start: number, len: number, flags: bigint | number = 0): number {
    start >>>= 0;
    len >>>= 0;
    const last = start + len;
    if (BigInt(flags) !== 0n) return -EINVAL;
    if (len === 0) return 0;
    let i = this.start;
    let l = 0;
    let offset = 0;
    do {
      offset += l;
      l = this.lengths[i]!;
      if (start < offset + l) break;
      i = next(i);
    } while (i !== this.end);
    if (start >= offset + l || last > this.size) return -EINVAL;

    const space = MAX_MSG_FRAGS - this.elemUsed();
    let pop = len;
    if (start !== offset) {
      const sgeI = i;
      const a = start - offset;
      const b = (this.lengths[sgeI]! - pop - a) | 0;
      const sgeCopy = this.copy[sgeI]!;
      i = next(i);
      if (b > 0) {
        if (space) {
          this.lengths[sgeI] = a;
          this.shiftRight(i);
          this.setSge(i, { page: this.pages[sgeI]!, offset: this.offsets[sgeI]! + pop + a, length: b });
          this.copy[i] = sgeCopy;
        } else {
          const page = this.allocPages(a + b);
          if (page === null) return -ENOMEM;
          const from = this.virt(sgeI, this.lengths[sgeI]!);
          page.bytes.set(from.subarray(0, a), 0);
          page.bytes.set(from.subarray(a + pop, a + pop + b), a);
          this.setSge(sgeI, { page, offset: 0, length: a + b });
          this.copy[sgeI] = 0;
        }
        pop = 0;
      } else {
        pop -= this.lengths[sgeI]! - a;
        this.lengths[sgeI] = a;
      }
    }
    let guard = 0;
    while (pop) {
      if (guard++ > LOOP_GUARD) throw new Error('pop: corrupted ring');
      const el = this.lengths[i]!;
      if (pop < el) {
        this.lengths[i] = el - pop;
        this.offsets[i] += pop;
        pop = 0;
      } else {
        pop -= el;
        this.shiftLeft(i);
      }
    }
    this.size -= len - pop;
    this.resetCurr();
    this.computeDataPointers();
    return 0;
  }
}

/** sk_psock_map_verd: the program's return value (as the kernel's int) and whether a redirect was recorded. */
export function skMsgVerdict(r0: bigint | number, msg: SkMsg): number {
  const v = Number(BigInt.asUintN(32, BigInt(r0)));
  if (v === SK_PASS) return msg.skRedir !== null ? __SK_REDIRECT : __SK_PASS;
  return __SK_DROP;
}

// ---- the program-visible view ---------------------------------------------------------------------------------

/**
 * Hooks the model provides for bpf_msg_redirect_map (60) / bpf_msg_redirect_hash (71). The helper checks the
 * flags first (anything but BPF_F_INGRESS → SK_DROP, hook not called); the hook then does the lookup and the
 * sock_map_redirect_allowed / TCP-for-egress / vsock checks and returns the target socket, or null for SK_DROP.
 * On a target the helper stores `flags` in msg.flags and the target in msg.skRedir and returns SK_PASS.
 */
export interface SkMsgRedirectHook {
  sockMap(map: unknown, key: number, flags: number): SkMsgSock | null;
  sockHash(map: unknown, readKey: (keySize: number) => Uint8Array, flags: number): SkMsgSock | null;
}

export interface SkMsgContextOptions {
  redirect?: SkMsgRedirectHook;
  /** Value of `sk_msg_md.sk`; by default the socket is mapped as an opaque object region. */
  skAddress?: bigint;
}

function putU32(dv: DataView, off: number, v: number): void {
  dv.setUint32(off, v >>> 0, true);
}

/**
 * An sk_msg as a program sees it in one address space: a read-only `struct sk_msg_md` region (whose
 * data / data_end / size / sk loads are served live from the message, as the kernel's ctx rewrite loads
 * msg->data etc. at the time of the load) and a writable packet region whose bytes ARE the page bytes of
 * data..data_end (program stores land in the message). When the data window changes (pull/push/pop, or the
 * model recomputing the pointers) a new packet region is mapped; the previous ones stay mapped with zero
 * bytes until dispose(), so a stale pointer faults instead of reading the new window.
 *
 * Helpers find this object through r1 (the ctx region's `object`).
 */
export class SkMsgContext {
  msg: SkMsg;
  sock: SkMsgSock;
  readonly space: AddressSpace;
  readonly ctx: Region;
  redirect: SkMsgRedirectHook | null;
  packet: Region | null = null;
  private readonly retired: Region[] = [];
  private skRegion: Region | null = null;
  private skLo = 0;
  private skHi = 0;
  private winPage: Page | null = null;
  private winOff = 0;
  private winEnd = 0;

  constructor(space: AddressSpace, msg: SkMsg, sock: SkMsgSock, opts: SkMsgContextOptions = {}) {
    this.space = space;
    this.msg = msg;
    this.sock = sock;
    this.redirect = opts.redirect ?? null;
    if (opts.skAddress === undefined) this.skRegion = space.mapObject('sk (sk_msg socket)', sock);
    const ctx = space.map('ctx (sk_msg_md)', 'ctx', new Uint8Array(SK_MSG_MD_SIZE), false);
    ctx.object = this;
    this.ctx = ctx;
    ctx.load = (offset, size, out) => {
      if (size === 8 && (offset === SK_MSG_MD.data || offset === SK_MSG_MD.data_end)) {
        this.refresh();
        if (this.packet === null) {
          out[0] = 0;
          out[1] = 0;
        } else {
          out[0] = offset === SK_MSG_MD.data ? 0 : this.packet.bytes.length;
          out[1] = this.packet.hi;
        }
        return true;
      }
      if (size === 4 && offset === SK_MSG_MD.size) {
        out[0] = this.msg.size | 0;
        out[1] = 0;
        return true;
      }
      return false;
    };
    this.fill(opts);
  }

  /**
   * Points a released context (see `release`) at another run: message, socket and options; the ctx and sk
   * regions are reused (the model keeps a pool per address space: one sk_msg run per byte with apply 1).
   */
  reuse(msg: SkMsg, sock: SkMsgSock, opts: SkMsgContextOptions = {}): void {
    this.msg = msg;
    this.sock = sock;
    this.redirect = opts.redirect ?? null;
    if (opts.skAddress === undefined) {
      if (this.skRegion === null) this.skRegion = this.space.mapObject('sk (sk_msg socket)', sock);
      else this.skRegion.object = sock;
    } else if (this.skRegion !== null) {
      this.space.unmap(this.skRegion);
      this.skRegion = null;
    }
    // The previous run's packet region is re-pointed at this message's window (no program holds it any more).
    const m = this.msg;
    if (this.packet !== null && (m.dataPage !== this.winPage || m.dataOff !== this.winOff || m.dataEndOff !== this.winEnd)) {
      if (m.dataPage === null) {
        this.space.unmap(this.packet);
        this.packet = null;
      } else {
        this.space.remap(this.packet, m.dataPage.bytes.subarray(m.dataOff, m.dataEndOff));
      }
      this.winPage = m.dataPage;
      this.winOff = m.dataOff;
      this.winEnd = m.dataEndOff;
    }
    this.ctx.bytes.fill(0);
    this.fill(opts);
  }

  /** Writes the socket fields and the data window into the ctx bytes. */
  private fill(opts: SkMsgContextOptions): void {
    const sock = this.sock;
    if (opts.skAddress !== undefined) {
      this.skLo = Number(opts.skAddress & 0xffffffffn) | 0;
      this.skHi = Number((opts.skAddress >> 32n) & 0xffffffffn) | 0;
    } else {
      this.skLo = 0;
      this.skHi = this.skRegion!.hi;
    }
    const ctx = this.ctx;
    const dv = ctx.dv;
    putU32(dv, SK_MSG_MD.family, sock.family & 0xffff);
    dv.setUint32(SK_MSG_MD.remote_ip4, (sock.remoteIp4 ?? 0) >>> 0, false);
    dv.setUint32(SK_MSG_MD.local_ip4, (sock.localIp4 ?? 0) >>> 0, false);
    if (sock.remoteIp6) ctx.bytes.set(sock.remoteIp6.subarray(0, 16), SK_MSG_MD.remote_ip6);
    if (sock.localIp6) ctx.bytes.set(sock.localIp6.subarray(0, 16), SK_MSG_MD.local_ip6);
    // remote_port: skc_dport (network order) loaded as a little-endian u16, shifted left 16.
    dv.setUint16(SK_MSG_MD.remote_port + 2, sock.remotePort & 0xffff, false);
    putU32(dv, SK_MSG_MD.local_port, sock.localPort & 0xffff);
    putU32(dv, SK_MSG_MD.sk, this.skLo);
    putU32(dv, SK_MSG_MD.sk + 4, this.skHi);
    this.refresh();
  }

  /** Address of the sk_msg_md region (r1 for the program). */
  get ctxAddress(): bigint {
    return this.ctx.address(0);
  }

  /** Points the view at another message (the model reuses one context per socket). */
  bind(msg: SkMsg): void {
    this.msg = msg;
    this.refresh();
  }

  /** Current `data` / `data_end` values as the program would load them (0n for NULL). */
  dataPointer(): bigint {
    this.refresh();
    return this.packet === null ? 0n : this.packet.address(0);
  }
  dataEndPointer(): bigint {
    this.refresh();
    return this.packet === null ? 0n : this.packet.address(this.packet.bytes.length);
  }

  /** Re-maps the packet region if the message's data window moved; also mirrors data/size into the ctx bytes. */
  refresh(): void {
    const m = this.msg;
    if (m.dataPage !== this.winPage || m.dataOff !== this.winOff || m.dataEndOff !== this.winEnd || (m.dataPage !== null && this.packet === null)) {
      if (this.packet !== null) {
        this.space.remap(this.packet, new Uint8Array(0));
        this.packet.name = 'sk_msg data (stale after pull/push/pop)';
        this.retired.push(this.packet);
        this.packet = null;
      }
      this.winPage = m.dataPage;
      this.winOff = m.dataOff;
      this.winEnd = m.dataEndOff;
      if (m.dataPage !== null) {
        this.packet = this.space.map('sk_msg data', 'packet', m.dataPage.bytes.subarray(m.dataOff, m.dataEndOff), true);
      }
    }
    const dv = this.ctx.dv;
    const hi = this.packet === null ? 0 : this.packet.hi;
    putU32(dv, SK_MSG_MD.data, 0);
    putU32(dv, SK_MSG_MD.data + 4, hi);
    putU32(dv, SK_MSG_MD.data_end, this.packet === null ? 0 : this.packet.bytes.length);
    putU32(dv, SK_MSG_MD.data_end + 4, hi);
    putU32(dv, SK_MSG_MD.size, m.size);
  }

  /**
   * After a run, for `reuse`: the regions of stale windows go; the current window's region stays mapped (the next
   * run re-points it when its message lies elsewhere), so do the ctx and sk regions.
   */
  release(): void {
    for (const r of this.retired) this.space.unmap(r);
    this.retired.length = 0;
  }

  /** Unmaps every region this view created. */
  dispose(): void {
    for (const r of [this.packet, ...this.retired, this.skRegion, this.ctx]) if (r !== null) this.space.unmap(r);
    this.packet = this.skRegion = null;
    this.retired.length = 0;
    this.winPage = null;
  }
}
