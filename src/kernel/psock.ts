// struct sk_psock: the per-socket sockmap state (docs/sockmap-datapath.md §2, §3.7, §3.9, §3.10).
//
// Created by the first insert of a socket into any SOCKMAP/SOCKHASH; one link per (map, slot) membership, in
// insertion order; refcount = number of links (the kernel's extra references while an operation runs are
// not modelled: every operation here is synchronous). When the last link goes the psock is dropped: held
// cork message and ingress queue are freed (unread redirected data is lost), programs released, the held
// redirect target forgotten, and the socket's protocol hooks restored (socket.psock = null).

import type { BpfMap, BpfProgRef } from './maps/index.js';
import { __SK_NONE, type Page, type SkMsg } from './skmsg.js';
import type { Socket } from './socket.js';
import type { Strparser } from './strparser.js';

/** An skb waiting in a psock's backlog (psock->ingress_skb): bytes for this socket's ingress queue or to send. */
export interface BacklogItem {
  /** null: the skb no longer holds the message's range (a strparser verdict shrank it): handling fails -EINVAL. */
  bytes: Uint8Array | null;
  /** Pages the skb's data references (an egress send references them instead of copying: MSG_SPLICE_PAGES). */
  pages: readonly Page[];
  /** BPF_F_INGRESS (or PASS into the backlog): queue for this socket's readers; else send out of it. */
  ingress: boolean;
  /** The zero-length skb carrying a FIN. */
  fin: boolean;
  /** PASSed by this socket's own verdict (its TCP sequence advances only when read). */
  self: boolean;
  /** skb->truesize the message charges to this socket's receive memory once queued (AF_UNIX skbs; else 0). */
  truesize?: number;
}

/** A loaded program as psocks and maps hold it. */
export interface SockProg extends BpfProgRef {
  /** Times the program has run (bpf_prog_info.run_cnt). */
  runCount: number;
}

/** The four program slots of a sock map and of a psock (struct sk_psock_progs). */
export class SockProgs {
  msgParser: SockProg | null = null;
  streamParser: SockProg | null = null;
  streamVerdict: SockProg | null = null;
  skbVerdict: SockProg | null = null;
}

/** One membership: the map and the slot (SOCKMAP index or SOCKHASH key hex) that hold the socket. */
export interface PsockLink {
  readonly map: BpfMap & SockMapLike;
  readonly slot: string;
}

/** What psocks need from a sock map (implemented by SockMap / SockHash in sockmap.ts). */
export interface SockMapLike {
  readonly progs: SockProgs;
  /** Removes the entry `slot` if it still holds `sock` (used when the socket closes). */
  removeSocketAt(slot: string, sock: Socket): void;
}

export class Psock {
  readonly links: PsockLink[] = [];
  readonly progs = new SockProgs();
  /** __SK_NONE / __SK_PASS / __SK_REDIRECT / __SK_DROP. */
  eval = __SK_NONE;
  applyBytes = 0;
  corkBytes = 0;
  /** The held (corked) message. */
  cork: SkMsg | null = null;
  skRedir: Socket | null = null;
  redirIngress = false;
  /** Messages queued for this socket's readers (ingress redirects; SK_SKB PASS later). */
  readonly ingressMsg: SkMsg[] = [];
  /** SK_PSOCK_TX_ENABLED. */
  txEnabled = true;
  /** The verdict/strparser machinery was started (saved_data_ready). */
  savedDataReady = false;
  /** Which receive machinery runs (§5.1): strparser, verdict (read_skb) or none. */
  rxMode: 'strp' | 'verdict' | null = null;
  /** The stream parser's state in strparser mode. */
  strp: Strparser | null = null;
  /** psock->ingress_skb: skbs handed to this socket's backlog worker (redirect targets, ordered PASS). */
  readonly backlog: BacklogItem[] = [];
  /** Verdict mode: the peer's FIN skb was read off the receive queue. */
  finRead = false;
  /** Bytes an SK_SKB verdict PASSed to this socket and nobody has read yet (their TCP sequence is unconsumed). */
  get selfPendingBytes(): number {
    let n = 0;
    for (const m of this.ingressMsg) if ((m.skb as { self?: boolean } | null)?.self === true) n += m.size;
    for (const b of this.backlog) if (b.self && b.bytes !== null) n += b.bytes.length;
    return n;
  }
  /** Set once the psock is dropped. */
  dropped = false;

  constructor(readonly sk: Socket) {}

  get refcnt(): number {
    return this.links.length;
  }

  /** Bytes queued in ingressMsg (msg_tot_len). */
  get msgTotLen(): number {
    return this.ingressMsg.reduce((a, m) => a + m.size, 0);
  }

  /** sk_psock_queue_msg: append to ingressMsg, or free the message when TX is disabled. */
  queueMsg(msg: SkMsg): boolean {
    if (!this.txEnabled || this.dropped) {
      msg.free();
      return false;
    }
    this.ingressMsg.push(msg);
    return true;
  }

  /** sk_psock_drop + sk_psock_destroy, synchronously. */
  drop(): void {
    if (this.dropped) return;
    this.dropped = true;
    this.txEnabled = false;
    if (this.sk.psock === this) this.sk.psock = null;
    if (this.cork !== null) {
      this.cork.free();
      this.cork = null;
    }
    // [quirk, observed] PASSed bytes still unread are purged but TCP never consumed their sequence range:
    // the native stream now has a hole and native reads find nothing (-EAGAIN) from here on.
    if (this.sk.isTcp) this.sk.seqHole += this.selfPendingBytes;
    for (const m of this.ingressMsg.splice(0)) m.free();
    this.backlog.length = 0;
    this.rxMode = null;
    this.strp = null;
    this.skRedir = null;
    this.progs.msgParser = this.progs.streamParser = this.progs.streamVerdict = this.progs.skbVerdict = null;
  }
}

/** sk_psock_init: a fresh psock on `sk` (no links yet). */
export function psockInit(sk: Socket): Psock {
  const p = new Psock(sk);
  sk.psock = p;
  return p;
}

/**
 * sock_map_del_link + sock_map_unref: remove the first link (map, slot) of `sk`'s psock; stop the machinery the
 * map *currently* supplies (stream parser / verdict programs are cleared from the psock; the msg_parser never
 * is); drop the psock when it was the last link.
 */
export function psockUnlink(sk: Socket, map: BpfMap & SockMapLike, slot: string): void {
  const p = sk.psock;
  if (p === null) return;
  const i = p.links.findIndex((l) => l.map === map && l.slot === slot);
  if (i >= 0) {
    const mp = map.progs;
    const strpStop = p.savedDataReady && mp.streamParser !== null;
    const verdictStop = p.savedDataReady && (mp.streamVerdict !== null || mp.skbVerdict !== null);
    if (strpStop) p.progs.streamParser = null;
    if (verdictStop) {
      p.progs.streamVerdict = null;
      p.progs.skbVerdict = null;
    }
    if (strpStop || verdictStop) {
      // sk_psock_stop_strp / sk_psock_stop_verdict: the data-ready hook is restored, a partial message dropped.
      p.savedDataReady = false;
      p.rxMode = null;
      p.strp = null;
    }
    p.links.splice(i, 1);
  }
  if (p.links.length === 0) p.drop();
}

/** sock_map_close's first half: remove the socket from every map it is in (the psock then drops). */
export function psockRemoveAll(sk: Socket): void {
  const p = sk.psock;
  if (p === null) return;
  for (const l of [...p.links]) l.map.removeSocketAt(l.slot, sk);
  // Any link left (a map that no longer holds the socket at that slot) is dropped with the psock.
  if (sk.psock !== null) sk.psock.drop();
}
