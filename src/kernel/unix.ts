// AF_UNIX socketpairs (kinds 'unix-stream' and 'unix-dgram') and net/unix/unix_bpf.c's receive side for them
// in a sock map. Kernel facts from the 6.18 host (test/model/udp-unix-kernel.test.ts):
//
//  - socketpair() gives two connected ends (state ESTABLISHED, so both may be inserted and be redirect
//    targets). A datagram send is one skb; a stream send is cut into skbs of at most min(SO_SNDBUF/2 - 64,
//    36544) bytes (a verdict program runs twice for a 40000-byte send: 36544 + 3456, observed). Default
//    SO_SNDBUF / SO_RCVBUF: 212992 (net.core.wmem_default / rmem_default), as for UDP.
//  - Stream: close() or shutdown(SHUT_WR) of one end: the other reads its queued bytes, then 0 (EOF); the end
//    that shut down gets -EPIPE on send; sending to a closed peer: -EPIPE.
//  - Datagram: recv reads one datagram (rest discarded); send to a closed peer: -ECONNREFUSED; shutdown(SHUT_WR)
//    only stops this end's sends (-EPIPE); the peer still sends to it.
//  - FIONREAD (unix_ioctl, no sockmap override): stream = bytes in the native queue, datagram = the first
//    datagram's length; data an SK_SKB verdict moved to the psock's ingress queue is not counted (0).
//  - In a sock map (unix_bpf_recvmsg): ingress queue when it holds anything (merged, like UDP), else native.
//    SK_MSG programs never run (unix sendmsg has no sk_msg hook); parser + verdict maps refuse the insert
//    (-EOPNOTSUPP); verdict programs see each skb with skb->protocol 0.

import { psockDgramRecv, dgramRecvNative } from './udp.js';
import { Errno, RCV_SHUTDOWN, SEND_SHUTDOWN, SHINFO, SKB_MAX_ALLOC, SKB_STRUCT, Skb, TCP_CLOSE, TCP_ESTABLISHED, type Socket } from './socket.js';
import { tcpRecvNative } from './tcp_bpf.js';
import { ERRNO } from './maps/errors.js';

/** ECONNREFUSED: a datagram to a closed socketpair end. */
const { ECONNREFUSED } = ERRNO;

/** Links two fresh sockets as a connected pair. */
export function unixPair(a: Socket, b: Socket): void {
  a.peer = b;
  b.peer = a;
  a.state = b.state = TCP_ESTABLISHED;
}

const PAGE = 4096;
/** SKB_MAX_HEAD(0): the largest linear part of a one-page head. */
const SKB_MAX_HEAD0 = PAGE - SHINFO;
/** UNIX_SKB_FRAGS_SZ: page-fragment bytes a stream skb may carry besides its head. */
const UNIX_SKB_FRAGS_SZ = 32768;
const MAX_SKB_FRAGS = 17;

const pageAlign = (n: number): number => Math.ceil(n / PAGE) * PAGE;

/** truesize of an skb with a `head`-byte linear part (a power-of-two kmalloc bucket) and `frags` page bytes. */
function truesize(head: number, frags: number): number {
  const need = ((head + 63) & ~63) + SHINFO;
  let b = 512;
  while (b < need) b *= 2;
  return SKB_STRUCT + b + pageAlign(frags);
}

/**
 * The truesize an AF_UNIX datagram of `len` bytes charges to its sender (unix_dgram_sendmsg: linear up to
 * SKB_MAX_ALLOC, the rest in pages). Checked on the 6.18 host through SO_SNDBUF: 0, 100, 300, 1000, 3000 and
 * 8000 bytes → 768, 768, 1280, 2304, 4352, 16640.
 */
export function unixSkbTruesize(len: number): number {
  const frags = len > SKB_MAX_ALLOC ? pageAlign(Math.min(len - SKB_MAX_ALLOC, MAX_SKB_FRAGS * PAGE)) : 0;
  return truesize(len - Math.min(frags, len), frags);
}

/** The bytes of the next skb of a stream send (unix_stream_sendmsg): at most SO_SNDBUF/2 - 64 and 36544. */
export function unixStreamSkbSize(remaining: number, sndBuf: number): number {
  return Math.max(1, Math.min(remaining, (sndBuf >> 1) - 64, SKB_MAX_HEAD0 + UNIX_SKB_FRAGS_SZ));
}

/**
 * The truesize of a stream skb of `size` bytes: a head of what does not fit page-aligned fragments past the first
 * 3776 bytes (checked: 100 → 768, 3000 → 4352, 5000 → 6400, 8000 → 8960, 19936 → 20736).
 */
export function unixStreamSkbTruesize(size: number): number {
  const frags = Math.min(size, pageAlign(Math.max(0, size - SKB_MAX_HEAD0)));
  return truesize(size - frags, frags);
}

/**
 * send() on a socketpair end: bytes or -errno; the skb is in the peer's queue (data-ready has run).
 * SO_SNDBUF: every skb charges its truesize to the sender until the receiver consumes it (a read that finishes
 * it, an SK_SKB verdict taking it off the queue, the receiver's close); a send while the charge is at or above
 * SO_SNDBUF fails with -EAGAIN (the model never blocks: a blocking send would wait in the kernel). A receiver
 * with a verdict program therefore never pushes back on its sender (observed: 12 sends where 6 fit otherwise).
 */
export function unixSend(sk: Socket, data: Uint8Array): number {
  const peer = sk.peer;
  if (sk.shutdownFlags & SEND_SHUTDOWN) return -Errno.EPIPE;
  if (sk.wmemAlloc >= sk.sndBuf) return -Errno.EAGAIN;
  if (peer === null || !peer.open) return sk.isDgram ? -ECONNREFUSED : -Errno.EPIPE;
  if (!sk.isDgram && peer.shutdownFlags & RCV_SHUTDOWN) return -Errno.EPIPE;
  if (sk.isDgram) {
    queueSkb(sk, peer, data.slice(), unixSkbTruesize(data.length));
    peer.rxHook?.(peer);
    return data.length;
  }
  // Stream: cut into skbs; a full send buffer part-way ends the send with the bytes queued so far.
  let sent = 0;
  while (sent < data.length) {
    if (sent > 0 && sk.wmemAlloc >= sk.sndBuf) break;
    const size = unixStreamSkbSize(data.length - sent, sk.sndBuf);
    queueSkb(sk, peer, data.slice(sent, sent + size), unixStreamSkbTruesize(size));
    sent += size;
    peer.rxHook?.(peer); // data-ready per skb (a verdict program consumes it before the next one is built)
  }
  return sent;
}

function queueSkb(sk: Socket, peer: Socket, bytes: Uint8Array, size: number): void {
  const skb = new Skb(bytes, []);
  skb.owner = sk;
  skb.truesize = size;
  sk.wmemAlloc += size;
  peer.rcvQueue.push(skb);
}

/** recv() on a socketpair end. */
export function unixRecv(sk: Socket, len: number, flags: number): Uint8Array | number {
  const native = (): Uint8Array | number => (sk.isDgram ? dgramRecvNative(sk, len, flags) : tcpRecvNative(sk, len, flags));
  return sk.psock !== null ? psockDgramRecv(sk.psock, len, flags, native) : native();
}

/** ioctl(FIONREAD) on a socketpair end (unix_inq_len). */
export function unixFionread(sk: Socket): number {
  return sk.isDgram ? (sk.rcvQueue[0]?.len ?? 0) : sk.rcvQueueBytes;
}

/** shutdown(): SHUT_WR of a stream end ends the peer's stream (it reads 0 once drained). */
export function unixShutdown(sk: Socket, how: 0 | 1 | 2): number {
  if (how === 0 || how === 2) sk.shutdownFlags |= RCV_SHUTDOWN;
  if (how === 1 || how === 2) {
    sk.shutdownFlags |= SEND_SHUTDOWN;
    if (!sk.isDgram && sk.peer !== null) sk.peer.rcvFin = true;
  }
  return 0;
}

/** The stream peer of a closing end reads EOF after its queue and cannot send any more. */
export function unixRelease(sk: Socket): void {
  const peer = sk.peer;
  if (peer !== null && peer.open && !sk.isDgram) {
    peer.rcvFin = true;
    peer.shutdownFlags |= SEND_SHUTDOWN;
  }
  sk.state = TCP_CLOSE;
}
