// The SK_SKB receive path of a sockmap socket (docs/sockmap-datapath.md §5.1-§5.5): data-ready in strparser
// and verdict mode, applying the verdict (PASS into the socket's own ingress queue, DROP, REDIRECT into the
// target's backlog), the backlog worker (ingress: queue for the target's readers; egress: send out of the
// target), and recvmsg / FIONREAD for sockets with a verdict program (tcp_bpf_recvmsg_parser, tcp_bpf_ioctl).
// Checked against the host kernel by test/model/sk-skb-kernel.test.ts.
//
// Synchronous model: the kernel's data-ready runs in softirq context and the backlog in a workqueue, both
// "soon" after the bytes arrive; here data-ready runs when a push delivers bytes (Socket.rxHook) and the
// backlog workers run right after the verdict, before the sending call returns. Memory: the SO_RCVBUF
// back-pressure (-EAGAIN) of ingress redirects counts the truesize of the skbs behind the target's unread
// ingress messages (AF_UNIX: unix.ts, UDP: udp.ts, TCP: socket.ts tcpSkbTruesize); the sender's window is not
// modelled.

import { BpfExecutionError } from '../../vm/errors.js';
import type { BoundProgram, Vm } from '../../vm/interpreter.js';
import type { BacklogItem, Psock, SockProg } from './psock.js';
import { SkSkb, runSkSkbProgram, type SkSkbRunResult } from './sk_skb.js';
import { BPF_F_INGRESS, Page, SkMsg, __SK_DROP, __SK_PASS, __SK_REDIRECT } from './skmsg.js';
import { AF_UNIX, Errno, MSG_PEEK, RCV_SHUTDOWN, TCP_CLOSE, releaseSkb, type Socket } from './socket.js';
import { Strparser } from './strparser.js';
import { skMsgRecvmsg } from './tcp_bpf.js';
import { ERRNO } from './maps/errors.js';

export const { EIO, EFAULT } = ERRNO;
/** MSG_DONTWAIT | MSG_NOSIGNAL: how the backlog sends egress-redirected bytes (skb_send_sock). */
const BACKLOG_SEND_FLAGS = 0x40 | 0x4000;
/** Bounds the work loop (the kernel has no bound; a redirect ping-pong would run forever there too). */
const MAX_WORK_ROUNDS = 1 << 12;

/** What the receive path needs from the surrounding model. */
export interface SkSkbRxEnv {
  readonly vm: Vm;
  /** The program behind a psock slot, bound for the VM (counts its runs). */
  bound(prog: SockProg): BoundProgram;
  /**
   * sendmsg on `sk` as the backlog worker does it (skb_send_sock: through an SK_MSG program if `sk` has one,
   * else TCP referencing the skb's `pages`): bytes or -errno.
   */
  send(sk: Socket, data: Uint8Array, flags: number, pages: readonly Page[]): number;
}

function msgOf(bytes: Uint8Array, fin: boolean, self: boolean, truesize = 0): SkMsg {
  const m = new SkMsg();
  if (bytes.length > 0) {
    const page = new Page(bytes.length);
    page.bytes.set(bytes);
    m.pageAdd(page, bytes.length, 0);
  }
  m.skb = { fin, self, truesize };
  return m;
}

/**
 * sk_rmem_alloc as the ingress check sees it: the truesize of the skbs behind the messages in the ingress queue
 * (each charged until read completely; skbs of every kind carry their truesize: unix.ts, udp.ts, socket.ts).
 */
export function ingressRmem(psock: Psock): number {
  let n = 0;
  for (const m of psock.ingressMsg) n += (m.skb as { truesize?: number } | null)?.truesize ?? 0;
  return n;
}

/** Whether the message at the head of ingressMsg is an empty one (the FIN skb): reading it copies nothing. */
export function ingressHeadEmpty(psock: Psock): boolean {
  const m = psock.ingressMsg[0];
  return m !== undefined && m.size === 0;
}

/** The psock has a verdict program: the RX / TXRX protocol config (tcp_bpf_recvmsg_parser, tcp_bpf_ioctl). */
export function hasVerdict(psock: Psock): boolean {
  return psock.progs.streamVerdict !== null || psock.progs.skbVerdict !== null;
}

export class SkSkbRx {
  private readonly work: Psock[] = [];
  private working = false;

  constructor(private readonly env: SkSkbRxEnv) {}

  // ---- running the programs --------------------------------------------------------------------------------

  private run(prog: SockProg, skb: SkSkb): SkSkbRunResult {
    prog.runCount++;
    return runSkSkbProgram(this.env.vm, this.env.bound(prog), skb);
  }

  // ---- data ready ------------------------------------------------------------------------------------------

  /** sk->sk_data_ready for a socket whose rcvQueue (or FIN) changed. */
  dataReady(sk: Socket): void {
    const p = sk.psock;
    if (p === null || p.dropped || !p.savedDataReady) return;
    if (p.rxMode === 'strp') this.strpDataReady(sk, p);
    else if (p.rxMode === 'verdict') this.verdictDataReady(sk, p);
    this.runWork();
  }

  private strparser(sk: Socket, p: Psock): Strparser {
    if (p.strp === null) {
      p.strp = new Strparser({
        parse: (bytes) => {
          const prog = p.progs.streamParser;
          if (prog === null) return bytes.length;
          const skb = new SkSkb(bytes);
          skb.sk = sk;
          return this.run(prog, skb).ret;
        },
        rcvMsg: (m) => this.strpRead(sk, m.bytes, m.offset, m.fullLen, m.pages),
        abort: (err) => {
          sk.skErr = -err;
        },
        maxMsgSize: () => sk.rcvBuf,
        peekLen: () => sk.rcvQueueBytes,
      });
    }
    return p.strp;
  }

  /**
   * strp_data_ready → strp_read_sock → tcp_read_sock(strp_recv). `fromWork`: the strparser's work item
   * (do_strp_work), which reads without the need_bytes check.
   */
  private strpDataReady(sk: Socket, p: Psock, fromWork = false): void {
    const strp = this.strparser(sk, p);
    if (strp.stopped) return;
    if (!fromWork && strp.needBytes && sk.rcvQueueBytes < strp.needBytes) return;
    strp.keepReading = true;
    while (sk.rcvQueue.length > 0) {
      const s = sk.rcvQueue[0]!;
      if (s.len > 0) {
        const used = strp.recv(s.data, s.off, s.pages);
        if (used <= 0) break;
        s.off += used;
        if (s.len !== 0) continue;
      }
      sk.rcvQueue.shift();
      if (!strp.keepReading) break;
    }
    // The FIN is consumed by tcp_read_sock without reaching the parser.
  }

  /** sk_psock_strp_read: the verdict on a complete message. */
  private strpRead(sk: Socket, bytes: Uint8Array, offset: number, fullLen: number, pages: readonly Page[]): void {
    const p = sk.psock;
    if (p === null) return;
    const prog = p.progs.streamVerdict;
    const skb = new SkSkb(bytes);
    skb.sk = sk;
    let verdict = __SK_DROP;
    if (prog !== null) verdict = this.run(prog, skb).verdict;
    // Delivery uses the message's [offset, offset + full_len) of the skb as the program left it; if the program
    // shrank the skb below that range, wrapping it fails (-EINVAL, observed) and the skb takes the backlog path.
    const all = skb.pkt.bytes();
    this.apply(sk, p, skb, verdict, offset + fullLen <= all.length ? all.slice(offset, offset + fullLen) : null, pages);
  }

  /** sk_psock_verdict_data_ready → tcp_read_skb(sk_psock_verdict_recv): every queued skb, then the FIN. */
  private verdictDataReady(sk: Socket, p: Psock): void {
    while (sk.psock === p && p.rxMode === 'verdict') {
      const s = sk.rcvQueue.shift();
      let skb: SkSkb;
      let truesize = 0;
      let pages: readonly Page[] = [];
      if (s !== undefined) {
        truesize = s.truesize;
        pages = s.pages;
        releaseSkb(s); // the verdict owns the data now: the sender's write memory is free again (observed)
        // AF_UNIX skbs carry no protocol (skb->protocol 0, observed); UDP and TCP ones ETH_P_IP.
        skb = new SkSkb(s.data.subarray(s.off), sk.family === AF_UNIX ? { fields: { protocol: 0 } } : {});
      } else if (sk.isTcp && sk.rcvFin && !p.finRead) {
        p.finRead = true;
        skb = new SkSkb(new Uint8Array(0));
        skb.markFin();
      } else {
        break;
      }
      skb.sk = sk;
      const prog = p.progs.streamVerdict ?? p.progs.skbVerdict;
      let verdict = __SK_DROP;
      if (prog !== null) verdict = this.run(prog, skb).verdict;
      const r = this.apply(sk, p, skb, verdict, skb.pkt.bytes().slice(), pages, truesize);
      if (r < 0 || skb.fin) break;
    }
  }

  // ---- applying the verdict (sk_psock_verdict_apply) --------------------------------------------------------

  private apply(sk: Socket, p: Psock, skb: SkSkb, verdict: number, bytes: Uint8Array | null, pages: readonly Page[], truesize = 0): number {
    if (verdict === __SK_PASS) {
      if (!sk.open || !p.txEnabled) return -EIO;
      if (p.backlog.length === 0 && bytes !== null) {
        p.queueMsg(msgOf(bytes, skb.fin, true, truesize));
        return 0;
      }
      p.backlog.push({ bytes, pages, ingress: true, fin: skb.fin, self: true, truesize });
      this.schedule(p);
      return 0;
    }
    if (verdict === __SK_REDIRECT) {
      const r = skb.redirect!;
      const target = r.target;
      const tp = target.psock;
      if (tp === null || tp.dropped || !target.open || !tp.txEnabled) return -EIO;
      tp.backlog.push({ bytes, pages, ingress: (r.flags & BPF_F_INGRESS) !== 0, fin: skb.fin, self: false, truesize });
      this.schedule(tp);
      return 0;
    }
    return 0; // DROP: acknowledged and discarded
  }

  // ---- the backlog workers (sk_psock_backlog) ---------------------------------------------------------------

  private schedule(p: Psock): void {
    if (!this.work.includes(p)) this.work.push(p);
  }

  /** Runs scheduled backlog workers until none is left (nested data-ready calls only schedule). */
  runWork(): void {
    if (this.working) return;
    this.working = true;
    try {
      for (let round = 0; this.work.length > 0; round++) {
        if (round > MAX_WORK_ROUNDS) throw new BpfExecutionError(-1, 'sk_skb backlog: redirects keep re-queueing data (a redirect loop between sockets)');
        this.backlog(this.work.shift()!);
      }
    } finally {
      this.working = false;
    }
  }

  private backlog(p: Psock): void {
    const sk = p.sk;
    // Items queued while this pass runs (e.g. by a redirect loop) wait for the next pass (runWork counts passes).
    for (let n = p.backlog.length; n > 0 && p.backlog.length > 0 && !p.dropped; n--) {
      const item = p.backlog[0]!;
      const ret = sk.open ? this.handle(sk, p, item) : -EIO;
      // SO_RCVBUF back-pressure: the item stays first in the backlog; the kernel retries every jiffy, the model
      // when this socket's reader has taken data (retry()).
      if (ret === -Errno.EAGAIN) return;
      p.backlog.shift();
      if (ret <= 0) {
        // Hard errors break the pipe: sk_err on this socket, TX disabled, the rest stays queued.
        sk.skErr = ret ? -ret : Errno.EPIPE;
        p.txEnabled = false;
        return;
      }
    }
    if (p.backlog.length > 0 && !p.dropped) this.schedule(p);
  }

  /** sk_psock_handle_skb: bytes handled (> 0), 0 for an empty skb, or -errno. */
  private handle(sk: Socket, p: Psock, item: BacklogItem): number {
    if (item.bytes === null) return -Errno.EINVAL;
    if (item.ingress) {
      // sk_psock_skb_ingress(_self): wrap into an sk_msg on this socket's ingress queue. Data redirected from
      // another socket waits (-EAGAIN) while this socket's receive memory is above SO_RCVBUF (observed with
      // AF_UNIX skbs: SO_RCVBUF 2304 takes two 1000-byte skbs of truesize 2304 at a time).
      if (!item.self && ingressRmem(p) > sk.rcvBuf) return -Errno.EAGAIN;
      p.queueMsg(msgOf(item.bytes, item.fin, item.self, item.truesize ?? 0));
      return item.bytes.length;
    }
    if (item.bytes.length === 0) return 0;
    return this.env.send(sk, item.bytes, BACKLOG_SEND_FLAGS, item.pages);
  }

  /** The delayed backlog retry after -EAGAIN: runs `psock`'s backlog again if it holds anything. */
  retry(psock: Psock): void {
    if (psock.backlog.length === 0 || psock.dropped) return;
    this.schedule(psock);
    this.runWork();
  }

  // ---- reading (tcp_bpf_recvmsg_parser, tcp_bpf_ioctl) ------------------------------------------------------

  /**
   * recvmsg on a TCP socket whose psock has a verdict program: bytes still in the native queue are pushed
   * through data-ready first (if they stay: -EAGAIN); then ingressMsg only (merging messages; the FIN message
   * at the head reads as EOF); with nothing copied: FIN seen → 0, pending error → -err, receive shutdown → 0,
   * closed → -ENOTCONN, else -EAGAIN (non-blocking).
   */
  recvmsgParser(sk: Socket, p: Psock, len: number, flags: number): Uint8Array | number {
    if (len === 0) return new Uint8Array(0);
    if (sk.rcvQueue.length > 0 && p.rxMode === 'strp') {
      // [observed] Bytes still in the native queue (queued before the insert, or waiting for need_bytes): the
      // reader holds the socket lock, so the strparser's data-ready defers to its work item, which reads them
      // (without the need_bytes check) after this read returned -EAGAIN.
      this.strpDataReady(sk, p, true);
      this.runWork();
      return -Errno.EAGAIN;
    }
    if (sk.rcvQueue.length > 0 || (p.rxMode === 'verdict' && sk.rcvFin && !p.finRead)) {
      this.dataReady(sk);
      if (sk.rcvQueue.length > 0) return -Errno.EAGAIN;
    }
    const got = skMsgRecvmsg(p, len, (flags & MSG_PEEK) !== 0);
    if (got.length > 0) return got;
    if (ingressHeadEmpty(p)) return 0; // is_next_msg_fin
    if (sk.rcvFin) return 0;
    if (sk.skErr) return -sk.takeError();
    if (sk.shutdownFlags & RCV_SHUTDOWN) return 0;
    if (sk.state === TCP_CLOSE) return -Errno.ENOTCONN;
    return -Errno.EAGAIN;
  }
}
