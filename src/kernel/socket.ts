// The socket model: IPv4 TCP sockets on loopback (127.0.0.1) with a deterministic, synchronous byte stream.
// Behaviour notes: docs/sockmap-datapath.md §2 (object model), §3.5 (cookies), §5.5 (reading), plus the
// kernel facts the oracle (test/kernel/sockrun.test.ts) established.
//
// Deterministic model of TCP (no time, no retransmission, no windows):
//  - connect() completes at once: the client is ESTABLISHED and the child sits ESTABLISHED in the listener's
//    accept queue until accept() takes it. (The kernel does the same three-way handshake over loopback before
//    connect() returns, so this is observable only through timing.)
//  - Sending appends to the sender's write queue as "segments" (Skb: bytes + the pages they reference). A send
//    without MSG_MORE pushes the whole write queue to the peer's receive queue at once (loopback delivers
//    synchronously, the ACK comes back at once, so the sender keeps no reference). A send WITH MSG_MORE
//    (tcp_bpf_push sets it for an apply_bytes chunk shorter than its scatterlist element) leaves the data in
//    the write queue — the kernel's TCP_NAGLE_CORK behaviour for less than one MSS — until a later push, a
//    queue of at least `mss` bytes, shutdown(SHUT_WR) or close(). The oracle shows exactly this (KERNEL vs SPEC
//    notes in sockrun.test.ts): the peer cannot read such bytes while the sender stays open.
//  - Time and the TCP timers that release held data (the Kernel's one virtual clock, clock.ts, which BPF timers
//    and bpf_ktime_get_ns share; Kernel.advance / advanceTime; docs: README "Virtual time"). MSG_MORE data
//    that stays in the write queue leaves it by one of the kernel's three ways, checked on the 6.18 host
//    (test/model/tcp-timers-kernel.test.ts):
//      * ACK: the peer acknowledges earlier data of this socket, and tcp_data_snd_check sends the held partial
//        skb (nothing is left in flight, so Nagle lets it go). The peer ACKs at once when its receive queue is
//        emptied — by a read, or by the sockmap receive path consuming the skb in data_ready — and otherwise
//        when its delayed-ACK timer fires (TCP_DELACK_MS of virtual time). An ACK that arrives while this
//        socket is inside a send call (socket locked) is processed when the call ends (release_sock).
//      * Probe: when the data was held with nothing in flight (no ACK to wait for), the zero-window-probe
//        timer (tcp_check_probe_timer, tcp_probe0_base = the RTO, at least TCP_RTO_MIN) sends it after
//        TCP_PROBE0_MS of virtual time.
//      * The next send without MSG_MORE, a full skb (`mss`), shutdown(SHUT_WR) or close(), as before.
//    Virtual time passes when someone waits: Kernel.advance / advanceTime, a receiver's poll timeout (the bpfvm
//    sockmap engine's receiver, the scenario harness's recv/sleep/advance steps and its final drain); a wait
//    fires the TCP timers and BPF timers that fall due in time order. (bpf_ktime_get_ns reads also step the
//    clock; timers that become due that way fire at the next wait.)
//  - Segmentation (what SK_SKB programs see as one skb): each push of the write queue delivers its bytes as
//    skbs of at most `segmentSize` bytes (default LOOPBACK_SEGMENT = 32741, half the initial loopback window);
//    a send without MSG_MORE pushes at once, so on loopback one send() of up to 32741 bytes = one skb, and a
//    larger one is cut every 32741 bytes (checked for 1 / 5000 / 40000 / 65483-byte sends by the kernel
//    differential tests; the kernel's later skbs grow with the window, see LOOPBACK_SEGMENT); MSG_MORE data
//    fills the unsent tail skb. Received skbs are never coalesced in the model (the
//    kernel may coalesce into an unread tail skb when the receiver is busy; the sockmap receive path dequeues
//    every skb at once, so there is nothing to coalesce into). Native recv merges skbs anyway.
//  - FIN: shutdown(SHUT_WR)/close() push the write queue and then mark the peer's receive side finished; the
//    peer's recv returns 0 once its queue is drained. close() with unread received data resets the connection
//    instead (peer: sk_err ECONNRESET), as tcp_close does.
//  - Sending to a peer that was closed: the bytes are discarded and the sender gets sk_err EPIPE (the RST a
//    closed socket answers with, tcp_reset in CLOSE_WAIT); the next send returns -EPIPE.
//  - Memory is unlimited for TCP: no SO_SNDBUF / SO_RCVBUF back-pressure, sends never block or return EAGAIN.
//    (AF_UNIX sends are charged against SO_SNDBUF, and SK_SKB ingress redirects of AF_UNIX skbs against the
//    target's SO_RCVBUF: unix.ts, sk_skb_rx.ts.)

import type { Page, SkMsgSock } from './skmsg.js';
import type { Psock } from './psock.js';
import { NS_PER_MS, VirtualClock } from './clock.js';
import { ERRNO } from './maps/errors.js';

// ---- constants ------------------------------------------------------------------------------------------------

export const AF_UNIX = 1;
export const AF_INET = 2;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/**
 * What a Socket is: TCP (this file), UDP on 127.0.0.1 (udp.ts) or one end of an AF_UNIX socketpair (unix.ts).
 * The non-TCP kinds reuse the Socket object (queues, psock, peer, shutdown flags) with their own send / recv
 * rules; `state` is TCP_CLOSE or TCP_ESTABLISHED for them (a connected UDP socket, a socketpair end).
 */
export type SockKind = 'tcp' | 'udp' | 'unix-stream' | 'unix-dgram';

/** TCP states (include/net/tcp_states.h). */
export const TCP_ESTABLISHED = 1;
export const TCP_SYN_SENT = 2;
export const TCP_CLOSE = 7;
export const TCP_CLOSE_WAIT = 8;
export const TCP_LISTEN = 10;

export const RCV_SHUTDOWN = 1;
export const SEND_SHUTDOWN = 2;

export const MSG_PEEK = 0x2;
export const MSG_DONTWAIT = 0x40;
export const MSG_MORE = 0x8000;
export const MSG_NOSIGNAL = 0x4000;

export const SOL_SOCKET = 1;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;

/** errno values the socket layer returns (negated in results). */
export const Errno = ERRNO;

export const LOOPBACK_IP4 = 0x7f000001;
/** Loopback MSS (65535 MTU - 40 header bytes - 12 timestamp option bytes). */
export const LOOPBACK_MSS = 65483;
/**
 * The largest skb a fresh loopback connection transmits: tcp_bound_to_half_wnd caps the send size goal at half
 * the peer's largest advertised window, 65483 at first → 32741 (checked on the 6.18 host: a 65483-byte send
 * arrives as 32741 + 32741 + 1). Later, as the window grows, the kernel's skbs get larger, which the model does
 * not follow. Measured on the 6.18 host (an SKB_VERDICT PASS program recording skb->len; deterministic over
 * repeated runs): one send on a fresh connection of 70000 → 32741 32741 4518; 100000 → 32741 32741 34518;
 * 131072 → 32741 32741 62491 3099; 200000 → … 62491 67584 4443; 300000 → … 62491 67584 61440 43003; four
 * sends of 100000 → 32741 32741 34518 93184 95232 95232 16352 (skbs span sends). The cuts follow the receive
 * window the peer advertises (multiples of 1024 after the first 65482 bytes, shrinking while PASSed data is
 * unread) and the ACK timing, i.e. TCP flow control, which the model does not have.
 */
export const LOOPBACK_SEGMENT = 32741;

/** The peer's delayed-ACK timer (TCP_DELACK_MIN, HZ/25): data not ACKed at once is ACKed this long after. */
export const TCP_DELACK_MS = 40;
/**
 * The zero-window-probe timer for data held with nothing in flight: tcp_probe0_base = the RTO, at least
 * TCP_RTO_MIN (200 ms; on loopback the RTO is 200 ms plus the tiny RTT: the host sends between 190 and 210 ms).
 */
export const TCP_PROBE0_MS = 200;
const TCP_DELACK_NS = BigInt(TCP_DELACK_MS) * NS_PER_MS;
const TCP_PROBE0_NS = BigInt(TCP_PROBE0_MS) * NS_PER_MS;


/** sizeof(struct sk_buff) as truesize counts it, and SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) (x86-64). */
export const SKB_STRUCT = 256;
export const SHINFO = 320;
/** SKB_MAX_ALLOC (4 pages minus the shared info): larger datagrams keep their payload in page fragments. */
export const SKB_MAX_ALLOC = 4 * 4096 - SHINFO;
/** SKB_SMALL_HEAD_CACHE_SIZE (SKB_HEAD_ALIGN(MAX_TCP_HEADER), x86-64): the head of small skbs. */
export const SKB_SMALL_HEAD_CACHE = 576;
/**
 * truesize of a loopback TCP skb of `len` bytes: a small-cache head for the headers plus every byte copied into
 * page fragments (tcp_sendmsg_locked adds each copy to truesize). Checked on the 6.18 host through the SO_RCVBUF
 * limit of SK_SKB ingress redirects: 100 → 932, 1000 → 1832, 5000 → 5832 (test/model/sk-skb-kernel.test.ts).
 */
export const tcpSkbTruesize = (len: number): number => SKB_STRUCT + SKB_SMALL_HEAD_CACHE + len;

// ---- segments -------------------------------------------------------------------------------------------------

/** One queued segment: its bytes (a copy) and the pages whose data it references (for page-frag reuse). */
export class Skb {
  off = 0;
  /** The sending socket whose write memory (wmemAlloc) this skb is charged to until it is consumed (AF_UNIX). */
  owner: Socket | null = null;
  /** skb->truesize as charged to `owner`. */
  truesize = 0;
  constructor(
    readonly data: Uint8Array,
    readonly pages: readonly Page[],
  ) {}
  get len(): number {
    return this.data.length - this.off;
  }
}

/** The skb is consumed (read, taken by a verdict program or purged): uncharge its sender's write memory. */
export function releaseSkb(s: Skb): void {
  if (s.owner !== null) {
    s.owner.wmemAlloc -= s.truesize;
    s.owner = null;
  }
}

let nextCookie = 1n;

/** Resets the global cookie counter (tests that compare cookies across runs). */
export function resetCookies(): void {
  nextCookie = 1n;
}

export interface SocketOptions {
  /** Largest skb a push delivers (default LOOPBACK_SEGMENT). */
  segmentSize?: number;
  /** Bytes at which a MSG_MORE-held write queue is pushed anyway (default LOOPBACK_MSS). */
  mss?: number;
}

/**
 * A socket (an IPv4 TCP socket unless `kind` says otherwise). Implements SkMsgSock, so it is what sk_msg
 * programs see as `sk` and as redirect targets.
 */
export class Socket implements SkMsgSock {
  get family(): number {
    return this.kind === 'tcp' || this.kind === 'udp' ? AF_INET : AF_UNIX;
  }
  get type(): number {
    return this.kind === 'tcp' || this.kind === 'unix-stream' ? SOCK_STREAM : SOCK_DGRAM;
  }
  get protocol(): number {
    return this.kind === 'tcp' ? IPPROTO_TCP : this.kind === 'udp' ? IPPROTO_UDP : 0;
  }
  /** sk_is_tcp. */
  get isTcp(): boolean {
    return this.kind === 'tcp';
  }
  /** Datagram semantics: one recv reads at most one queued skb (UDP, AF_UNIX SOCK_DGRAM). */
  get isDgram(): boolean {
    return this.kind === 'udp' || this.kind === 'unix-dgram';
  }
  state = TCP_CLOSE;
  localIp4 = 0;
  remoteIp4 = 0;
  localPort = 0;
  remotePort = 0;
  /** SO_COOKIE; 0n until first asked for. */
  private cookieValue = 0n;
  /** Pending socket error (positive errno), read and cleared by SO_ERROR or by the next failing send/recv. */
  skErr = 0;
  shutdownFlags = 0;
  /** False after close(). */
  open = true;
  peer: Socket | null = null;
  /** Listener: established children not yet accepted. */
  readonly acceptQueue: Socket[] = [];
  /** Native receive queue. */
  readonly rcvQueue: Skb[] = [];
  /** The peer's FIN arrived (after the bytes now in rcvQueue). */
  rcvFin = false;
  /** Data handed to TCP but not pushed to the peer (MSG_MORE). */
  readonly writeQueue: Skb[] = [];
  psock: Psock | null = null;
  /** Data-ready hook: called after bytes or the FIN were added to rcvQueue (the sockmap receive path). */
  rxHook: ((sk: Socket) => void) | null = null;
  /**
   * Bytes of the stream TCP counts as unread that no queue holds any more (SK_SKB PASS data purged with its
   * psock): native reads stop there for good; FIONREAD still counts them.
   */
  seqHole = 0;
  /** sk_wmem_alloc: truesize of this socket's sent skbs not yet consumed by the receiver (AF_UNIX only). */
  wmemAlloc = 0;
  /** Owner uid (bpf_get_socket_uid): the model's process runs as root. */
  uid = 0;
  /** SO_SNDBUF / SO_RCVBUF as set (doubled, like the kernel); SO_SNDBUF is enforced for AF_UNIX sends (unix.ts). */
  sndBuf = 16384;
  rcvBuf = 131072;
  readonly segmentSize: number;
  readonly mss: number;
  /** The Kernel's virtual clock (clock.ts; a private one for a Socket made outside a Kernel). */
  clock = new VirtualClock();
  /** This socket transmitted data its peer has not acknowledged yet (the peer delays its ACK). */
  unacked = false;
  /** When the peer's delayed-ACK timer acknowledges that data (virtual time, ns), or null. */
  delackDue: bigint | null = null;
  /** When the probe timer transmits the MSG_MORE-held write queue (held with nothing in flight; ns), or null. */
  probeDue: bigint | null = null;
  /** Send calls in progress on this socket (the socket lock): an ACK that arrives meanwhile waits for release(). */
  private lockDepth = 0;
  private ackBacklogged = false;
  /** A name for messages and reports. */
  name: string;
  /**
   * tcp_sock byte / segment counters (bpf_tcp_sock, sk-lookup.ts). Like the kernel's, bytesAcked counts the
   * client's SYN (1, set by the handshake; an accepted child's SYN-ACK is not counted: observed) and the FIN,
   * bytesReceived the peer's FIN. While the receiver's programs run, the sender has counted the segment in
   * data_segs_out but not yet in snd_nxt / bytes_acked (observed: loopback processes it inside the transmit).
   */
  readonly tcpCounters = { bytesReceived: 0n, bytesAcked: 0n, bytesSent: 0n, dataSegsIn: 0, dataSegsOut: 0 };

  constructor(
    readonly fd: number,
    opts: SocketOptions = {},
    readonly kind: SockKind = 'tcp',
  ) {
    this.segmentSize = opts.segmentSize ?? LOOPBACK_SEGMENT;
    this.mss = opts.mss ?? LOOPBACK_MSS;
    this.name = `fd ${fd}`;
  }

  /** SO_COOKIE / the value sock map lookups return: assigned on first use from a global counter starting at 1. */
  get cookie(): bigint {
    if (this.cookieValue === 0n) this.cookieValue = nextCookie++;
    return this.cookieValue;
  }

  /** sock_error(): take the pending error (0 when none). */
  takeError(): number {
    const e = this.skErr;
    this.skErr = 0;
    return e;
  }

  /** Bytes in the native receive queue. */
  get rcvQueueBytes(): number {
    return this.rcvQueue.reduce((a, s) => a + s.len, 0);
  }

  /** Bytes in the write queue (handed to TCP with MSG_MORE, not yet sent). */
  get writeQueueBytes(): number {
    // Kept as a running count (apply_bytes 1 queues one-byte chunks by the ten thousand); an emptied queue is 0.
    if (this.writeQueue.length === 0) this.wqBytes = 0;
    return this.wqBytes;
  }
  private wqBytes = 0;

  // ---- native transmit (tcp_sendmsg_locked) -----------------------------------------------------------------

  /**
   * Whether TCP accepts data now: the error tcp_sendmsg_locked returns otherwise (-EPIPE, or the pending
   * sk_err via sk_stream_error), else 0. Does not consume anything.
   */
  sendError(): number {
    if (this.skErr !== 0 || this.shutdownFlags & SEND_SHUTDOWN) return -Errno.EPIPE;
    if (this.state !== TCP_ESTABLISHED && this.state !== TCP_CLOSE_WAIT) return -Errno.EPIPE;
    return 0;
  }

  /**
   * tcp_sendmsg_locked on bytes the caller owns (a copy is queued): returns the bytes accepted or -EPIPE. `more`
   * = MSG_MORE: keep the data in the write queue unless it reaches one MSS.
   */
  tcpSend(data: Uint8Array, pages: readonly Page[], more: boolean): number {
    const err = this.sendError();
    if (err < 0) return err;
    if (data.length === 0) return 0;
    if (this.writeQueue.length === 0) this.wqBytes = 0;
    for (let o = 0; o < data.length; o += this.segmentSize) {
      this.writeQueue.push(new Skb(data.slice(o, Math.min(data.length, o + this.segmentSize)), pages));
    }
    this.wqBytes += data.length;
    if (!more || this.writeQueueBytes >= this.mss) this.pushWriteQueue();
    return data.length;
  }

  // ---- the socket lock and the ACK / probe timers (see the file header) --------------------------------------

  /** lock_sock for a send call. */
  lock(): void {
    this.lockDepth++;
  }

  /**
   * release_sock: an ACK that arrived during the call is processed now (sending MSG_MORE-held data); data still
   * held with nothing in flight arms the probe timer.
   */
  release(): void {
    if (--this.lockDepth > 0) return;
    if (this.ackBacklogged) {
      this.ackBacklogged = false;
      this.ack();
    }
    if (this.writeQueue.length > 0 && !this.unacked && this.open) this.probeDue ??= this.clock.peek() + TCP_PROBE0_NS;
  }

  /** The peer acknowledged everything in flight: tcp_ack, then tcp_data_snd_check sends the held data. */
  ack(): void {
    if (!this.unacked) return;
    if (this.lockDepth > 0) {
      this.ackBacklogged = true;
      return;
    }
    this.unacked = false;
    this.delackDue = null;
    if (this.writeQueue.length > 0 && this.open) this.pushWriteQueue();
  }

  /** The probe timer fired: the held data goes out (tcp_write_wakeup, then the ACK sends the rest). */
  probe(): void {
    this.probeDue = null;
    if (this.writeQueue.length > 0 && this.open) this.pushWriteQueue();
  }

  /** The receiver side after a read emptied the queue: tcp_cleanup_rbuf sends the pending ACK at once. */
  private ackPeer(): void {
    if (this.rcvQueue.length === 0) this.peer?.ack();
  }

  /** Delivers the write queue to the peer (tcp_push). */
  pushWriteQueue(): void {
    if (this.writeQueue.length === 0) return;
    this.probeDue = null;
    const segs = this.writeQueue.splice(0);
    this.wqBytes = 0;
    const peer = this.peer;
    if (peer === null) return;
    if (!peer.open) {
      // The closed peer answers with a RST: the data is gone, the next send fails.
      if (this.skErr === 0) this.skErr = Errno.EPIPE;
      this.state = TCP_CLOSE;
      return;
    }
    // Loopback delivers what one push transmits as skbs of at most segmentSize bytes: data appended to the
    // unsent tail skb (MSG_MORE) fills that skb first (tcp_sendmsg_locked), so the pushed bytes are cut anew.
    const before = peer.rcvQueue.length;
    if (segs.length === 1) {
      segs[0]!.truesize = tcpSkbTruesize(segs[0]!.len);
      peer.rcvQueue.push(segs[0]!);
    } else {
      const total = segs.reduce((a, s) => a + s.len, 0);
      const all = new Uint8Array(total);
      let o = 0;
      const pages: Page[] = [];
      for (const s of segs) {
        all.set(s.data.subarray(s.off), o);
        o += s.len;
        for (const pg of s.pages) if (pages[pages.length - 1] !== pg && !pages.includes(pg)) pages.push(pg);
      }
      for (let at = 0; at < total; at += this.segmentSize) {
        const skb = new Skb(all.subarray(at, Math.min(total, at + this.segmentSize)), pages);
        skb.truesize = tcpSkbTruesize(skb.len);
        peer.rcvQueue.push(skb);
      }
    }
    let n = 0n;
    const segsIn = peer.rcvQueue.length - before;
    if (this.isTcp) {
      for (let i = before; i < peer.rcvQueue.length; i++) n += BigInt(peer.rcvQueue[i]!.len);
      this.tcpCounters.dataSegsOut += segsIn;
      peer.tcpCounters.bytesReceived += n;
      peer.tcpCounters.dataSegsIn += segsIn;
    }
    this.unacked = true;
    peer.rxHook?.(peer);
    if (this.isTcp) {
      // Loopback: the receiver processes the segments inside the sender's transmit, before the sender advances
      // snd_nxt (so nothing is in flight while the receiver's programs run), then the ACK comes back.
      this.tcpCounters.bytesSent += n;
      this.tcpCounters.bytesAcked += n;
    }
    // The sockmap receive path took the skbs in data_ready (the queue is empty again): the ACK goes out at once.
    // Otherwise the peer's delayed-ACK timer (or its reader, ackPeer) acknowledges them.
    if (peer.rcvQueue.length === 0) this.ack();
    else if (this.unacked) this.delackDue ??= this.clock.peek() + TCP_DELACK_NS;
  }

  /** Pages referenced by data this socket still holds (receive and write queues). */
  *heldPages(): Iterable<Page> {
    for (const s of this.rcvQueue) yield* s.pages;
    for (const s of this.writeQueue) yield* s.pages;
  }

  // ---- native receive (tcp_recvmsg) ---------------------------------------------------------------------------

  /** Reads up to `len` bytes from the native queue, merging segments; peek leaves them queued. */
  readNative(len: number, peek: boolean): Uint8Array {
    const total = Math.min(len, this.rcvQueueBytes);
    const out = new Uint8Array(total);
    let o = 0;
    let i = 0;
    while (o < total) {
      const s = this.rcvQueue[i]!;
      const n = Math.min(s.len, total - o);
      out.set(s.data.subarray(s.off, s.off + n), o);
      o += n;
      if (peek) {
        i++;
        continue;
      }
      s.off += n;
      if (s.len === 0) releaseSkb(this.rcvQueue.shift()!);
    }
    if (!peek && total > 0) this.ackPeer();
    return out;
  }

  /** SkMsgSock-compatible description (also what `toString` prints). */
  toString(): string {
    if (this.family === AF_UNIX) return `${this.name} (unix ${this.kind === 'unix-stream' ? 'stream' : 'dgram'})`;
    return `${this.name} (${this.kind === 'udp' ? 'udp ' : ''}127.0.0.1:${this.localPort}${this.peer ? ` -> 127.0.0.1:${this.remotePort}` : ''})`;
  }
}
