// The stream parser (net/strparser/strparser.c __strp_recv, strp_data_ready, strp_read_sock with
// tcp_read_sock) as the sockmap receive path uses it: docs/sockmap-datapath.md §5.2, checked against the host
// kernel (test/model/sk-skb-kernel.test.ts).
//
// A message in progress ("head") is a list of skb clones: the first clone is the WHOLE skb the message starts
// in (so the programs see bytes before the message: `offset` says where it starts), later clones are whole
// later skbs. The parser program runs on the head whenever bytes arrive while the length is unknown; its return
// value r: 0 = need more; < 0 = fatal (-ESTRPIPE with data accumulated becomes -ENODATA); > sk_rcvbuf = fatal
// EMSGSIZE; not reaching past the bytes accumulated before the newest skb = fatal EPROTO; else full_len = r
// counted from the message start. A fatal error stops the parser for good (sk_err = -error, the partial message
// is dropped, the skb stays unread in the socket). A complete message goes to the verdict (rcvMsg); surplus
// bytes of the skb start the next message at once. If a message needs more bytes than the socket holds, the
// parser waits (need_bytes) and the socket's next data-ready does nothing until enough bytes are queued.
// The message-assembly timer (SO_RCVTIMEO) is not modelled: it is off by default.

import type { Page } from './skmsg.js';

export const ENODATA = 61;
export const EPROTO = 71;
export const EMSGSIZE = 90;
export const ESTRPIPE = 86;

/** A message handed to the verdict: the head's bytes and where the message lies in them. */
export interface StrpMsg {
  /** Concatenated bytes of the head's skb clones (what the verdict program sees as the skb). */
  bytes: Uint8Array;
  /** Pages the clones' data references (the message keeps them in use until it is consumed). */
  pages: readonly Page[];
  offset: number;
  fullLen: number;
}

export interface StrparserCallbacks {
  /** Runs the stream parser program on an skb holding `bytes`; returns its int result. */
  parse(bytes: Uint8Array): number;
  /** A complete message. */
  rcvMsg(msg: StrpMsg): void;
  /** strp_abort_strp: the parser stopped with `err` (negative errno). */
  abort(err: number): void;
  /** sk_rcvbuf, the largest message. */
  maxMsgSize(): number;
  /** tcp_inq: unread bytes in the socket's receive queue (counting the skb being read from its unread offset). */
  peekLen(): number;
}

interface Head {
  parts: Uint8Array[];
  pages: Page[];
  len: number;
  offset: number;
  fullLen: number;
  accumLen: number;
}

const concat = (parts: readonly Uint8Array[], len: number): Uint8Array => {
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

export class Strparser {
  stopped = false;
  /** Bytes the message in progress still needs before reading is worth it (0: none). */
  needBytes = 0;
  private head: Head | null = null;
  /** Cleared by recv when reading should stop after the current skb (desc->count = 0). */
  keepReading = true;

  constructor(private readonly cb: StrparserCallbacks) {}

  /** Bytes of the message in progress (for tests and reports). */
  get pending(): number {
    return this.head?.accumLen ?? 0;
  }

  /**
   * __strp_recv on one skb: `skb` is the whole skb, `origOffset` where its unread bytes start, `pages` the pages
   * its data references. Returns the bytes eaten (consumed from the socket); fewer than offered after a fatal
   * parser error.
   */
  recv(skb: Uint8Array, origOffset: number, pages: readonly Page[] = []): number {
    const origLen = skb.length - origOffset;
    let eaten = 0;
    let orig = skb;
    if (this.head !== null && origOffset !== 0) {
      // A message in progress continues with a clone pulled to the unread bytes.
      orig = skb.subarray(origOffset);
      origOffset = 0;
    }
    while (eaten < origLen) {
      const candLen = origLen - eaten;
      let head = this.head;
      if (head === null) {
        head = { parts: [orig], pages: [...pages], len: orig.length, offset: origOffset + eaten, fullLen: 0, accumLen: 0 };
        this.head = head;
      } else {
        head.parts.push(orig);
        head.len += orig.length;
        for (const pg of pages) if (!head.pages.includes(pg)) head.pages.push(pg);
      }
      if (head.fullLen === 0) {
        let len = this.cb.parse(concat(head.parts, head.len));
        if (len === 0) {
          head.accumLen += candLen;
          eaten += candLen;
          break;
        }
        if (len < 0) {
          if (len === -ESTRPIPE && head.accumLen) len = -ENODATA;
          this.parserError(len);
          break;
        }
        if (len > this.cb.maxMsgSize()) {
          this.parserError(-EMSGSIZE);
          break;
        }
        if (len <= head.len - orig.length - head.offset) {
          this.parserError(-EPROTO);
          break;
        }
        head.fullLen = len;
      }
      const extra = head.accumLen + candLen - head.fullLen;
      if (extra < 0) {
        if (head.fullLen - head.accumLen > this.cb.peekLen()) {
          head.accumLen += candLen;
          eaten += candLen;
          this.needBytes = head.fullLen - head.accumLen;
          this.keepReading = false;
          break;
        }
        head.accumLen += candLen;
        eaten += candLen;
        break;
      }
      eaten += candLen - extra;
      this.head = null;
      this.needBytes = 0;
      this.cb.rcvMsg({ bytes: concat(head.parts, head.len), pages: head.pages, offset: head.offset, fullLen: head.fullLen });
      // The verdict may have torn the psock down (e.g. a redirect loop closing it): stop like a paused strp.
      if (this.stopped) break;
    }
    return eaten;
  }

  /** Whether the message in progress references `page`. */
  holdsPage(page: Page): boolean {
    return this.head !== null && this.head.pages.includes(page);
  }

  /** strp_parser_err: drop the message in progress and abort. */
  private parserError(err: number): void {
    this.head = null;
    if (!this.stopped) {
      this.stopped = true;
      this.cb.abort(err);
    }
  }

  /** strp_stop / strp_done: forget the message in progress. */
  stop(): void {
    this.stopped = true;
    this.head = null;
  }
}
