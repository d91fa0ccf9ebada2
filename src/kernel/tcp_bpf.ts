// net/ipv4/tcp_bpf.c for the SK_MSG egress path and the psock-aware receive path
// (docs/sockmap-datapath.md §4.1, §4.3-§4.9, §5.5; kernel facts from test/kernel/sockrun.test.ts).
//
// Everything runs synchronously: socket locks, RCU and the "release our lock while sending to the redirect
// target" step have no observable effect in a single-threaded model. Memory accounting always succeeds
// (no -ENOMEM / -EAGAIN from sk_stream_memory_free, sk_msg_alloc or __sk_rmem_schedule).

import type { Psock, SockProg } from './psock.js';
import {
  BPF_F_INGRESS,
  SkMsg,
  __SK_DROP,
  __SK_NONE,
  __SK_PASS,
  __SK_REDIRECT,
  type Page,
  type PageFrag,
} from './skmsg.js';
import { Errno, MSG_MORE, MSG_PEEK, RCV_SHUTDOWN, TCP_CLOSE, TCP_LISTEN, type Socket } from './socket.js';

/** What the sendmsg path needs from the surrounding model. */
export interface TcpBpfEnv {
  /** The sending task's page fragment, after the kernel's reuse rule (skb_page_frag_refill) was applied. */
  taskFrag(): PageFrag;
  /** Runs an SK_MSG program on `msg` for `sk`; returns r0 mapped by sk_psock_map_verd (__SK_PASS/REDIRECT/DROP). */
  runMsgProgram(prog: SockProg, msg: SkMsg, sk: Socket): number;
}

/** Bounds the sendmsg loop (the kernel has no such bound; a model bug must not hang the tests). */
const MAX_SENDMSG_ROUNDS = 1 << 20;

// ---- helpers ------------------------------------------------------------------------------------------------

/** sk_stream_error for the value a send returns: -EPIPE becomes the pending socket error (consumed) if any. */
export function skStreamError(sk: Socket, err: number): number {
  if (err === -Errno.EPIPE) {
    const e = sk.takeError();
    return e !== 0 ? -e : -Errno.EPIPE;
  }
  return err;
}

/** sk_msg_apply_bytes. */
function applyBytesDec(psock: Psock, bytes: number): void {
  if (psock.applyBytes) psock.applyBytes = psock.applyBytes < bytes ? 0 : psock.applyBytes - bytes;
}

/** tcp_sendmsg_locked as tcp_bpf_push calls it: bytes accepted, or -errno (sk_stream_error applied). */
function tcpSendLocked(sk: Socket, data: Uint8Array, page: Page | null, more: boolean): number {
  const r = sk.tcpSend(data, page === null ? [] : [page], more);
  return r < 0 ? skStreamError(sk, r) : r;
}

/**
 * tcp_bpf_push: transmit `apply` bytes (0 = all) from the front of `msg` on `sk`, element by element, with
 * MSG_MORE for a chunk shorter than its element. 0 or a negative errno.
 */
export function tcpBpfPush(sk: Socket, msg: SkMsg, apply: number, flags: number): number {
  const userMore = (flags & MSG_MORE) !== 0;
  return msg.transmitFront(apply, (chunk, more) => tcpSendLocked(sk, chunk, msg.pages[msg.start] ?? null, more || userMore));
}

// ---- the verdict (sk_psock_msg_verdict) ---------------------------------------------------------------------

function msgVerdict(env: TcpBpfEnv, sk: Socket, psock: Psock, msg: SkMsg): number {
  const prog = psock.progs.msgParser;
  if (prog === null) return __SK_PASS;
  let ret = env.runMsgProgram(prog, msg, sk);
  psock.applyBytes = msg.applyBytes;
  if (ret === __SK_REDIRECT) {
    psock.skRedir = null;
    if (msg.skRedir === null) {
      ret = __SK_DROP;
    } else {
      psock.redirIngress = (msg.flags & BPF_F_INGRESS) !== 0;
      psock.skRedir = msg.skRedir as Socket;
    }
  }
  return ret;
}

// ---- redirect delivery (tcp_bpf_sendmsg_redir, bpf_tcp_ingress) ---------------------------------------------

function bpfTcpIngress(target: Socket, psock: Psock, msg: SkMsg, apply: number): number {
  const r = msg.moveFront(apply);
  if (r.err < 0) return r.err;
  psock.queueMsg(r.msg!);
  return 0;
}

export function tcpBpfSendmsgRedir(target: Socket, ingress: boolean, msg: SkMsg, bytes: number, flags: number): number {
  const tp = target.psock;
  if (tp === null) return -Errno.EPIPE;
  if (ingress) return bpfTcpIngress(target, tp, msg, bytes);
  // tcp_bpf_push_locked: the target is locked for this chunk only (an ACK that came meanwhile is processed at
  // its release, which sends data the chunk left held behind MSG_MORE; socket.ts).
  target.lock();
  try {
    return tcpBpfPush(target, msg, bytes, flags);
  } finally {
    target.release();
  }
}

// ---- tcp_bpf_send_verdict ---------------------------------------------------------------------------------------

interface Copied {
  copied: number;
}

function startElemLive(msg: SkMsg): boolean {
  return msg.pages[msg.start] !== null && msg.lengths[msg.start]! !== 0;
}

export function tcpBpfSendVerdict(env: TcpBpfEnv, sk: Socket, psock: Psock, msg: SkMsg, st: Copied, flags: number): number {
  const enospc = msg.isFull();
  let delta = 0;
  for (let round = 0; ; round++) {
    if (round > MAX_SENDMSG_ROUNDS) throw new Error('tcp_bpf_send_verdict: no progress (model bug)');
    if (psock.eval === __SK_NONE) {
      delta = msg.size;
      psock.eval = msgVerdict(env, sk, psock, msg);
      delta -= msg.size;
    }
    if (msg.corkBytes && msg.corkBytes > msg.size && !enospc) {
      psock.corkBytes = msg.corkBytes - msg.size;
      psock.cork = msg;
      return 0;
    }
    let tosend = msg.size;
    if (psock.applyBytes && psock.applyBytes < tosend) tosend = psock.applyBytes;
    let ret = 0;
    let alive = true;
    switch (psock.eval) {
      case __SK_PASS:
        ret = tcpBpfPush(sk, msg, tosend, flags);
        if (ret) {
          st.copied -= msg.free();
          break;
        }
        applyBytesDec(psock, tosend);
        break;
      case __SK_REDIRECT: {
        const ingress = psock.redirIngress;
        const target = psock.skRedir!;
        applyBytesDec(psock, tosend);
        if (!psock.applyBytes) {
          psock.eval = __SK_NONE;
          psock.skRedir = null;
        }
        let cork = false;
        if (psock.cork !== null) {
          cork = true;
          psock.cork = null;
        }
        ret = tcpBpfSendmsgRedir(target, ingress, msg, tosend, flags);
        if (ret < 0) {
          const freed = msg.free();
          if (!cork) st.copied -= freed;
        }
        if (cork) {
          // The detached cork message is freed whole: the rest of it is lost (§4.4 quirk).
          msg.free();
          alive = false;
          ret = 0;
        }
        break;
      }
      default:
        msg.free();
        applyBytesDec(psock, tosend);
        st.copied -= tosend + delta;
        return -Errno.EACCES;
    }
    if (ret === 0) {
      if (!psock.applyBytes) {
        psock.eval = __SK_NONE;
        psock.skRedir = null;
      }
      if (alive && startElemLive(msg)) continue;
    }
    return ret;
  }
}

// ---- tcp_bpf_sendmsg --------------------------------------------------------------------------------------------

/**
 * tcp_bpf_sendmsg for a socket whose psock has an SK_MSG program: copy the user bytes into sk_msgs (held cork
 * message or a fresh one; at most 17 elements each), account cork bytes, run the verdict step per message.
 * Returns the bytes reported as sent, or -errno.
 */
export function tcpBpfSendmsg(env: TcpBpfEnv, sk: Socket, data: Uint8Array, flags: number): number {
  const psock = sk.psock!;
  const size = data.length;
  const st: Copied = { copied: 0 };
  let err = 0;
  let off = 0;
  for (let round = 0; off < size; round++) {
    if (round > MAX_SENDMSG_ROUNDS) throw new Error('tcp_bpf_sendmsg: no progress (model bug)');
    if (sk.skErr) {
      err = -sk.skErr;
      break;
    }
    const msgTx = psock.cork ?? new SkMsg();
    const r = msgTx.appendFromUser(env.taskFrag(), data, off, size - off);
    off += r.consumed;
    if (r.err < 0) {
      // [quirk, matches the kernel] the copy error lands in `ret`, not `err`: the bytes are trimmed away and
      // the call returns `copied` (0 if nothing else was sent). Happens when a held cork message that was
      // partly transmitted keeps a stale copybreak (cork + apply_bytes re-engaging): send(3) returns 0.
      break;
    }
    // KERNEL vs 6.12 SOURCE: Linux 6.18 counts what sk_msg_memcopy_from_iter actually copied, not `copy`: a
    // short copy into a held cork message with a stale copybreak (the rest of the call is then copied into a
    // fresh message in the next round) is not counted twice. Observed: redirect + cork 4097 + apply 4097,
    // three send(5000) return 5000 each (test/model/sockmap-test-kernel.test.ts).
    st.copied += r.consumed;
    if (psock.corkBytes) {
      psock.corkBytes = size > psock.corkBytes ? 0 : psock.corkBytes - size;
      if (psock.corkBytes && !r.enospc) break;
      psock.eval = __SK_NONE;
      psock.corkBytes = 0;
    }
    err = tcpBpfSendVerdict(env, sk, psock, msgTx, st, flags);
    if (err < 0) break;
    if (r.consumed === 0 && r.copy === 0) break;
  }
  if (err < 0) err = skStreamError(sk, err);
  return st.copied ? st.copied : err;
}

// ---- receiving --------------------------------------------------------------------------------------------------

/** __sk_msg_recvmsg: copy up to `len` bytes across the queued messages (merging them); peek leaves them queued. */
export function skMsgRecvmsg(psock: Psock, len: number, peek: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  let copied = 0;
  if (peek) {
    outer: for (const m of psock.ingressMsg) {
      if (m.size === 0) break; // an empty message (the FIN skb) copies nothing and stops the read
      for (const e of m.elements()) {
        if (copied >= len) break outer;
        const n = Math.min(e.length, len - copied);
        if (n > 0 && e.page !== null) parts.push(e.page.bytes.slice(e.offset, e.offset + n));
        copied += n;
      }
    }
  } else {
    while (copied < len && psock.ingressMsg.length > 0) {
      const m = psock.ingressMsg[0]!;
      if (m.size === 0) break; // an empty message (the FIN skb) copies nothing and stops the read
      const want = len - copied;
      const chunk = m.takeFront(want >= m.size ? 0 : want);
      parts.push(chunk);
      copied += chunk.length;
      if (m.size === 0) {
        psock.ingressMsg.shift();
        m.free();
      }
    }
  }
  const out = new Uint8Array(copied);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** tcp_recvmsg on the native queue with the model's non-blocking semantics: bytes, 0 (EOF) or -errno. */
export function tcpRecvNative(sk: Socket, len: number, flags: number): Uint8Array | number {
  if (sk.state === TCP_LISTEN) return -Errno.ENOTCONN;
  if (len === 0) return new Uint8Array(0);
  if (sk.seqHole > 0) return sk.skErr ? -sk.takeError() : -Errno.EAGAIN; // copied_seq points into a purged range
  if (sk.rcvQueueBytes > 0) return sk.readNative(len, (flags & MSG_PEEK) !== 0);
  if (sk.rcvFin) return 0;
  if (sk.skErr) return -sk.takeError();
  if (sk.shutdownFlags & RCV_SHUTDOWN) return 0;
  if (sk.state === TCP_CLOSE) return -Errno.ENOTCONN;
  return -Errno.EAGAIN;
}

/**
 * tcp_bpf_recvmsg (BASE / TX configs): the native queue when it has data and ingressMsg is empty; otherwise
 * ingressMsg (merging messages); when that yields nothing, the native path (EOF, errors, -EAGAIN).
 */
export function tcpBpfRecvmsg(sk: Socket, psock: Psock, len: number, flags: number): Uint8Array | number {
  if (len === 0) return new Uint8Array(0);
  if (sk.rcvQueueBytes > 0 && psock.ingressMsg.length === 0) return tcpRecvNative(sk, len, flags);
  const got = skMsgRecvmsg(psock, len, (flags & MSG_PEEK) !== 0);
  if (got.length > 0) return got;
  // An empty message at the head (a FIN skb redirected here by an SK_SKB verdict): __sk_msg_recvmsg reports
  // -EFAULT, which this reader (unlike tcp_bpf_recvmsg_parser) passes on.
  if (psock.ingressMsg.length > 0 && psock.ingressMsg[0]!.size === 0) return -Errno.EFAULT;
  return tcpRecvNative(sk, len, flags);
}
