// UDP sockets on 127.0.0.1 (kind 'udp'), and net/ipv4/udp_bpf.c's receive side for UDP sockets in a sock map.
// Kernel facts from the 6.18 host (test/model/udp-unix-kernel.test.ts runs each rule in the kernel and here):
//
//  - A datagram is one skb in the receiver's rcvQueue; sendto() delivers it at once (loopback) to the open UDP
//    socket bound to the destination port. A receiver connected elsewhere does not get it (the kernel's socket
//    lookup matches connected sockets on the source too). No socket there: the datagram is dropped and a
//    *connected* sender gets the ICMP port-unreachable as sk_err ECONNREFUSED — its next send returns
//    -ECONNREFUSED, the one after succeeds again (observed: 1, -111, 1).
//  - send() without a destination on an unconnected socket: -EDESTADDRREQ. sendto()/connect() on an unbound
//    socket bind it to an ephemeral port first (autobind).
//  - shutdown() on an unconnected UDP socket returns -ENOTCONN but still sets the shutdown flags (a later send
//    returns -EPIPE: observed).
//  - Native recv reads ONE datagram: at most `len` bytes of it, the rest is discarded (MSG_PEEK keeps it); a
//    zero-length datagram reads as 0. FIONREAD: the length of the first queued datagram.
//  - In a sock map (udp_bpf_recvmsg): when the psock's ingress queue is empty, recv reads natively; otherwise it
//    reads the ingress queue like tcp_bpf, merging messages (datagram boundaries are NOT kept: "hello" +
//    "world!" read with len 100 after a 3-byte read gives "loworld!") and keeping a partly read message. A
//    zero-length datagram PASSed by a verdict leaves an empty message at the head: every later recv returns
//    -EFAULT and FIONREAD 0 (the queue is stuck; observed). FIONREAD on a psock socket (udp_bpf_ioctl): the
//    bytes left in the FIRST ingress message, 0 when none — even with datagrams in the native queue.
//  - SO_RCVBUF (__udp_enqueue_schedule_skb): a datagram is dropped silently (the sender sees success) when the
//    receiver's memory plus its truesize would exceed SO_RCVBUF (as stored, i.e. doubled) and the receiver holds
//    anything at all — an empty receiver takes one datagram of any size. The memory is the truesize of the
//    unread datagrams: those in the native queue, and (in a sock map) the ones a verdict PASSed or an ingress
//    redirect put into the psock's ingress queue, until read. truesize: udpSkbTruesize (checked exactly).
//  - SK_MSG programs never run for UDP sends (udp_sendmsg has no sk_msg hook); the stream parser cannot run on
//    UDP (insert into a map with parser + verdict: -EOPNOTSUPP); SK_SKB verdict programs (SKB_VERDICT or
//    STREAM_VERDICT alone) see each datagram as one skb of its payload (skb->len = payload bytes).

import type { Psock } from './psock.js';
import { Errno, MSG_PEEK, SEND_SHUTDOWN, RCV_SHUTDOWN, SHINFO, SKB_MAX_ALLOC, SKB_SMALL_HEAD_CACHE, SKB_STRUCT, TCP_ESTABLISHED, Skb, releaseSkb, type Socket } from './socket.js';
import { ingressRmem } from './sk_skb_rx.js';
import { skMsgRecvmsg } from './tcp_bpf.js';
import { ERRNO } from './maps/errors.js';

/**
 * skb->truesize of a loopback UDP datagram of `len` payload bytes (__ip_append_data): the head holds the 28 IPv4
 * + UDP header bytes, LL_RESERVED_SPACE (16) and 15 bytes of slack, plus the payload when that stays below
 * SKB_MAX_ALLOC (else the payload goes to page fragments, each copied byte counted). A head of at most 576 bytes
 * with its shared info comes from the small-head cache, a larger one from a power-of-two kmalloc bucket.
 * Checked on the 6.18 host through SO_RCVBUF drop counts: 100 → 832, 200 → 1280, 1000 → 2304, 16000 → 16640,
 * 16010 → 16842, 30000 → 30832.
 */
export function udpSkbTruesize(len: number): number {
  const headerBytes = 20 + 8 + 16 + 15;
  const linear = len + headerBytes < SKB_MAX_ALLOC;
  const need = (((linear ? len + headerBytes : headerBytes) + 63) & ~63) + SHINFO;
  let bucket = SKB_SMALL_HEAD_CACHE;
  if (need > bucket) for (bucket = 1024; bucket < need; bucket *= 2);
  return SKB_STRUCT + bucket + (linear ? 0 : len);
}

/** sk_rmem_alloc of a UDP socket: truesize of its unread datagrams (native queue and psock ingress queue). */
export function udpRmem(sk: Socket): number {
  let n = 0;
  for (const s of sk.rcvQueue) n += s.truesize;
  return n + (sk.psock !== null ? ingressRmem(sk.psock) : 0);
}

/** ECONNREFUSED (ICMP port unreachable on a connected UDP socket). */
const { ECONNREFUSED } = ERRNO;

/** What the UDP functions need from the Kernel. */
export interface UdpEnv {
  /** A free ephemeral port. */
  ephemeralPort(): number;
  /** The open UDP socket bound to `port`, or null. */
  boundTo(port: number): Socket | null;
}

/** bind(127.0.0.1:port): 0, -EINVAL (already bound), -EADDRINUSE. Port 0 = ephemeral. */
export function udpBind(sk: Socket, port: number, env: UdpEnv): number {
  if (sk.localPort !== 0) return -Errno.EINVAL;
  if (port !== 0 && env.boundTo(port) !== null) return -Errno.EADDRINUSE;
  sk.localIp4 = 0x7f000001;
  sk.localPort = port === 0 ? env.ephemeralPort() : port;
  return 0;
}

/** connect() to `to`'s address (autobinds): state ESTABLISHED, send() goes there. */
export function udpConnect(sk: Socket, to: Socket, env: UdpEnv): number {
  if (to.localPort === 0) return -Errno.EINVAL;
  if (sk.localPort === 0) udpBind(sk, 0, env);
  sk.peer = to;
  sk.remoteIp4 = 0x7f000001;
  sk.remotePort = to.localPort;
  sk.state = TCP_ESTABLISHED;
  return 0;
}

/**
 * sendto(): `to` null = the connected address (send()). Returns the bytes sent or -errno. The datagram is in
 * the receiver's queue (and its data-ready hook has run) when this returns.
 */
export function udpSendto(sk: Socket, data: Uint8Array, to: Socket | null, env: UdpEnv): number {
  if (sk.shutdownFlags & SEND_SHUTDOWN) return -Errno.EPIPE;
  let port: number;
  if (to === null) {
    if (sk.state !== TCP_ESTABLISHED) return -Errno.EDESTADDRREQ;
    // A pending ICMP error is reported by the next send on the connected socket.
    if (sk.skErr) return -sk.takeError();
    port = sk.remotePort;
  } else {
    if (to.localPort === 0) return -Errno.EINVAL;
    port = to.localPort;
  }
  if (sk.localPort === 0) udpBind(sk, 0, env);
  const dst = env.boundTo(port);
  if (dst === null) {
    if (sk.state === TCP_ESTABLISHED && to === null) sk.skErr = ECONNREFUSED;
    return data.length;
  }
  if (dst.state === TCP_ESTABLISHED && dst.remotePort !== sk.localPort) return data.length;
  const truesize = udpSkbTruesize(data.length);
  const rmem = udpRmem(dst);
  if (rmem > 0 && rmem + truesize > dst.rcvBuf) return data.length; // receive buffer full: dropped
  const skb = new Skb(data.slice(), []);
  skb.truesize = truesize;
  dst.rcvQueue.push(skb);
  dst.rxHook?.(dst);
  return data.length;
}

/** Native read of one datagram (UDP and AF_UNIX SOCK_DGRAM): bytes (possibly empty) or -EAGAIN. */
export function dgramRecvNative(sk: Socket, len: number, flags: number): Uint8Array | number {
  const s = sk.rcvQueue[0];
  if (s === undefined) return sk.skErr ? -sk.takeError() : -Errno.EAGAIN;
  const out = s.data.slice(s.off, s.off + Math.min(len, s.len));
  if ((flags & MSG_PEEK) === 0) releaseSkb(sk.rcvQueue.shift()!);
  return out;
}

/**
 * udp_bpf_recvmsg / unix_bpf_recvmsg: the psock's ingress queue when it holds anything (messages merged, an
 * empty message at the head: -EFAULT), else the socket's native read.
 */
export function psockDgramRecv(psock: Psock, len: number, flags: number, native: () => Uint8Array | number): Uint8Array | number {
  if (psock.ingressMsg.length === 0) return native();
  if (len === 0) return new Uint8Array(0);
  const got = skMsgRecvmsg(psock, len, (flags & MSG_PEEK) !== 0);
  if (got.length > 0) return got;
  return -Errno.EFAULT;
}

/** recv() on a UDP socket. */
export function udpRecv(sk: Socket, len: number, flags: number): Uint8Array | number {
  const native = (): Uint8Array | number => dgramRecvNative(sk, len, flags);
  return sk.psock !== null ? psockDgramRecv(sk.psock, len, flags, native) : native();
}

/** ioctl(FIONREAD) on a UDP socket (udp_ioctl / udp_bpf_ioctl). */
export function udpFionread(sk: Socket): number {
  if (sk.psock !== null) return sk.psock.ingressMsg[0]?.size ?? 0;
  return sk.rcvQueue[0]?.len ?? 0;
}

/** shutdown() on a UDP socket: the flags are set; -ENOTCONN when not connected. */
export function udpShutdown(sk: Socket, how: 0 | 1 | 2): number {
  if (how === 0 || how === 2) sk.shutdownFlags |= RCV_SHUTDOWN;
  if (how === 1 || how === 2) sk.shutdownFlags |= SEND_SHUTDOWN;
  return sk.state === TCP_ESTABLISHED ? 0 : -Errno.ENOTCONN;
}
