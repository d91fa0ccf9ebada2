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
export const Errno = {
  EPERM: 1, ENOENT: 2, EIO: 5, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EBUSY: 16, EEXIST: 17, EFAULT: 14, EINVAL: 22,
  ENOSPC: 28, EPIPE: 32, ENOTSOCK: 88, EDESTADDRREQ: 89, EOPNOTSUPP: 95, ECONNRESET: 104, EISCONN: 106, ENOTCONN: 107,
  ECONNREFUSED: 111, EADDRINUSE: 98, E2BIG: 7,
} as const;

export const LOOPBACK_IP4 = 0x7f000001;
/** Loopback MSS (65535 MTU - 40 header bytes - 12 timestamp option bytes). */
export const LOOPBACK_MSS = 65483;
/**
 * The largest skb a fresh loopback connection transmits: tcp_bound_to_half_wnd caps the send size goal at half
 * the peer's largest advertised window, 65483 at first → 32741 (checked on the 6.18 host: a 65483-byte send
 * arrives as 32741 + 32741 + 1). Later, as the window grows, the kernel's skbs get larger (a 100000-byte send:
 * 32741 + 32741 + 34518), which the model does not follow.
 */
export const LOOPBACK_SEGMENT = 32741;

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

  /** Delivers the write queue to the peer (tcp_push). */
  pushWriteQueue(): void {
    if (this.writeQueue.length === 0) return;
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
      for (let at = 0; at < total; at += this.segmentSize) peer.rcvQueue.push(new Skb(all.subarray(at, Math.min(total, at + this.segmentSize)), pages));
    }
    let n = 0n;
    const segsIn = peer.rcvQueue.length - before;
    if (this.isTcp) {
      for (let i = before; i < peer.rcvQueue.length; i++) n += BigInt(peer.rcvQueue[i]!.len);
      this.tcpCounters.dataSegsOut += segsIn;
      peer.tcpCounters.bytesReceived += n;
      peer.tcpCounters.dataSegsIn += segsIn;
    }
    peer.rxHook?.(peer);
    if (this.isTcp) {
      // Loopback: the receiver processes the segments inside the sender's transmit, before the sender advances
      // snd_nxt (so nothing is in flight while the receiver's programs run), then the ACK comes back.
      this.tcpCounters.bytesSent += n;
      this.tcpCounters.bytesAcked += n;
    }
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
    return out;
  }

  /** SkMsgSock-compatible description (also what `toString` prints). */
  toString(): string {
    if (this.family === AF_UNIX) return `${this.name} (unix ${this.kind === 'unix-stream' ? 'stream' : 'dgram'})`;
    return `${this.name} (${this.kind === 'udp' ? 'udp ' : ''}127.0.0.1:${this.localPort}${this.peer ? ` -> 127.0.0.1:${this.remotePort}` : ''})`;
  }
}
