// One test_sockmap case, offline: the kernel selftest's topology, program/map setup, send loop and receiver,
// run on the bpfvm socket model (src/kernel/model.ts) with any object that has test_sockmap's map and program
// layout (docs/sockmap-datapath.md §9). What it reports is what test_sockmap counts plus what it cannot see:
// every send's return value and the bytes that arrived at each of the four connected sockets.
//
// Topology (as the selftest builds it): listeners s1 = 127.0.0.1:10000 and s2 = :10001; c1 → s1 accepted as p1,
// c2 → s2 accepted as p2. Before the sockets exist: parser (unless omitted) and verdict attached to sock_map,
// the sock_ops program attached to the (model's root) cgroup, so that it puts p1 at sock_map[1] and c2 at
// sock_map[10]. Then the chosen SK_MSG program is attached to sock_map_txmsg, c1 goes to sock_map_txmsg[0],
// the redirect target (c2 for --txmsg_redir, else c1) to sock_map_redir[0], and the knob arrays are written.
//
// Time: the selftest runs sender and receiver as two processes with select() timeouts of 3 s (0.3 s with
// cork). The model is synchronous, so the receiver gets a turn after every send call and reads whatever is
// readable; when the sender is done and the receiver still misses bytes, that is the selftest's receive
// timeout (rx_err EIO), which it tolerates for cork cases.

import type { CollectionSpec, ProgramSpec } from '../spec.js';
import { Kernel, type KProgram } from '../kernel/model.js';
import type { BpfMap } from '../kernel/maps/index.js';
import type { Socket } from '../kernel/socket.js';
import { MSG_NOSIGNAL, MSG_PEEK, SOL_SOCKET, SO_RCVBUF, SO_SNDBUF } from '../kernel/socket.js';
import type { Tier } from '../../vm/interpreter.js';
import type { SockmapCaseOptions } from './options.js';

export const S1_PORT = 10000;
export const S2_PORT = 10001;

/** test_sockmap's private errno for a data verification failure. */
export const EDATAINTEGRITY = 2001;
const EIO = 5;
const EMSGSIZE = 90;
const EAGAIN = 11;
const EACCES = 13;
const BPF_F_INGRESS = 1;

/** The map names of the layout, in test_sockmap's order (tls_sock_map is not needed). */
export const LAYOUT_MAPS = [
  'sock_map', 'sock_map_txmsg', 'sock_map_redir', 'sock_apply_bytes', 'sock_cork_bytes', 'sock_bytes',
  'sock_redir_flags', 'sock_skb_opts',
] as const;

/** A problem with the object or the options (missing map or program, bad values). */
export class SockmapTestError extends Error {
  override name = 'SockmapTestError';
}

export interface SocketBytes {
  /** Bytes read from the socket during the case (the receiver's reads, then a final non-blocking drain). */
  bytes: number;
  /** FNV-1a 64-bit hash of those bytes, 16 hex digits. */
  fnv1a64: string;
}

export interface SockmapCaseResult {
  /** OK by test_sockmap's rules (receiver error, tolerated for cork cases, then sender error). */
  ok: boolean;
  options: SockmapCaseOptions;
  /** Bytes the sender counted (sum of positive send returns). */
  tx_bytes: number;
  /** The sender's error: 0, a positive errno, or EIO (5) when a drop case's send succeeded. */
  tx_err: number;
  /** Bytes the receiver counted at its socket (p2). */
  rx_bytes: number;
  /** The receiver's error: 0, EIO (5) = receive timeout, EMSGSIZE (90), EDATAINTEGRITY (2001), or errno. */
  rx_err: number;
  /** What the receiver waited for (test_sockmap's total_bytes; fractional when apply does not divide). */
  rx_expected: number;
  /** Whether the receiver ran (not for drop cases). */
  rx_started: boolean;
  /** Return value of every send call: bytes, or -errno. */
  sends: number[];
  /** Bytes received at each connected socket. */
  sockets: Record<'c1' | 'p1' | 'c2' | 'p2', SocketBytes>;
  /** Program run counts (bpf_prog_info.run_cnt) by program name. */
  runs: Record<string, number>;
}

// ---- FNV-1a 64 -----------------------------------------------------------------------------------------------

/** FNV-1a 64-bit over `parts` in order, as 16 hex digits (16-bit limbs, no BigInt in the loop). */
export function fnv1a64(...parts: Uint8Array[]): string {
  // offset basis 0xcbf29ce484222325, prime 0x100000001b3 = limbs [0x01b3, 0, 0x0100, 0]
  let h0 = 0x2325, h1 = 0x8422, h2 = 0x9ce4, h3 = 0xcbf2;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      h0 ^= p[i]!;
      const r0 = h0 * 0x1b3;
      const r1 = h1 * 0x1b3 + Math.floor(r0 / 0x10000);
      const r2 = h2 * 0x1b3 + h0 * 0x100 + Math.floor(r1 / 0x10000);
      const r3 = h3 * 0x1b3 + h1 * 0x100 + Math.floor(r2 / 0x10000);
      h0 = r0 & 0xffff;
      h1 = r1 & 0xffff;
      h2 = r2 & 0xffff;
      h3 = r3 & 0xffff;
    }
  }
  return [h3, h2, h1, h0].map((x) => x.toString(16).padStart(4, '0')).join('');
}

// ---- the object's layout ------------------------------------------------------------------------------------

export interface SockmapLayout {
  parser: ProgramSpec;
  verdict: ProgramSpec;
  sockops: ProgramSpec;
  /** SK_MSG programs by role: test_sockmap's progs[4..8] (pass, redirect, apply-only, cork-only, drop). */
  msg: { pass?: ProgramSpec; redir?: ProgramSpec; apply?: ProgramSpec; cork?: ProgramSpec; drop?: ProgramSpec };
  /** 15 (SOCKMAP) or 18 (SOCKHASH), the type of sock_map. */
  sockMapType: number;
}

const SK_SKB = 14;
const SK_MSG = 16;
const SOCK_OPS = 13;

/**
 * Finds the layout in an object: the eight maps by name, the parser/verdict by section (the first
 * sk_skb/stream_parser and the first sk_skb/stream_verdict program), the first sockops program, and the SK_MSG
 * programs in object order (pass, redirect, apply, cork, drop — test_sockmap takes them by position).
 */
export function resolveLayout(spec: CollectionSpec): SockmapLayout {
  const file = spec.file ?? 'the object';
  for (const m of LAYOUT_MAPS) {
    if (!spec.maps.some((x) => x.name === m)) throw new SockmapTestError(`${file}: no map "${m}" (test_sockmap's layout needs ${LAYOUT_MAPS.join(', ')})`);
  }
  const sm = spec.maps.find((x) => x.name === 'sock_map')!;
  if (sm.type !== 15 && sm.type !== 18) throw new SockmapTestError(`${file}: map "sock_map" is ${sm.typeName || `type ${sm.type}`}, not a SOCKMAP or SOCKHASH`);
  const usable = spec.programs.filter((p) => !p.unsupported && p.loadError === undefined);
  const skb = usable.filter((p) => p.type === SK_SKB);
  const parser = skb.find((p) => p.attachType === 4 || /stream_parser/.test(p.section)) ?? skb[0];
  const verdict = skb.find((p) => p !== parser && (p.attachType === 5 || /stream_verdict/.test(p.section))) ?? skb.find((p) => p !== parser);
  const sockops = usable.find((p) => p.type === SOCK_OPS);
  if (parser === undefined) throw new SockmapTestError(`${file}: no sk_skb/stream_parser program`);
  if (verdict === undefined) throw new SockmapTestError(`${file}: no sk_skb/stream_verdict program`);
  if (sockops === undefined) throw new SockmapTestError(`${file}: no sockops program`);
  const msgs = usable.filter((p) => p.type === SK_MSG);
  const [pass, redir, apply, cork, drop] = msgs;
  return {
    parser, verdict, sockops, sockMapType: sm.type,
    msg: { ...(pass ? { pass } : {}), ...(redir ? { redir } : {}), ...(apply ? { apply } : {}), ...(cork ? { cork } : {}), ...(drop ? { drop } : {}) },
  };
}

// ---- data ------------------------------------------------------------------------------------------------------

/** The pattern sender buffers hold with --data_test: 0,1,2,… (mod 256) across the iovecs of one call. */
function sendBuffers(o: SockmapCaseOptions): Uint8Array[] {
  const out: Uint8Array[] = [];
  let k = 0;
  for (let i = 0; i < o.iovCount; i++) {
    const b = new Uint8Array(o.length);
    if (o.dataTest) for (let j = 0; j < o.length; j++) b[j] = k++ & 0xff;
    out.push(b);
  }
  return out;
}

/** The file sendpage reads from: every chunk holds 0,1,2,… (mod 256). */
function sendpageChunk(length: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let j = 0; j < length; j++) b[j] = j & 0xff;
  return b;
}

/**
 * The receiver's data check (test_sockmap's msg_verify_data): the stream is chunks of `chunkSize` sent bytes
 * 0,1,2,…; each chunk had `pushLen` unknown bytes inserted at `pushStart` and `popLen` bytes removed at
 * `popStart` (after overlap correction). The state persists across reads.
 */
class DataVerifier {
  private k = 0;
  private bytesCnt = 0;
  private checkCnt = 0;
  private push: number;
  private readonly pushStart: number;
  private readonly pushLen: number;
  private readonly popStart: number;
  private readonly popLen: number;

  constructor(
    o: SockmapCaseOptions,
    private readonly chunkSize: number,
  ) {
    const pushEnd = o.txmsgStartPush + o.txmsgEndPush - 1;
    const popEnd = o.txmsgStartPop + o.txmsgPop - 1;
    this.pushStart = o.txmsgStartPush;
    this.popStart = o.txmsgStartPop;
    if (o.txmsgEndPush && o.txmsgPop && o.txmsgStartPush <= popEnd && o.txmsgStartPop <= pushEnd) {
      const overlap = o.txmsgStartPush < o.txmsgStartPop
        ? Math.min(pushEnd - o.txmsgStartPop + 1, o.txmsgPop)
        : Math.min(popEnd - o.txmsgStartPush + 1, o.txmsgEndPush);
      this.pushLen = Math.max(o.txmsgEndPush - overlap, 0);
      this.popLen = Math.max(o.txmsgPop - overlap, 0);
    } else {
      this.pushLen = o.txmsgEndPush;
      this.popLen = o.txmsgPop;
    }
    this.push = this.pushLen;
  }

  private chunkDone(): void {
    this.k = 0;
    this.bytesCnt = 0;
    this.checkCnt = 0;
    this.push = this.pushLen;
  }

  /**
   * At the position where pushed (uninitialised) bytes sit, skips as many of them as buffer `len` still holds
   * from offset `j` and returns that count; 0 when no pushed bytes are due here.
   */
  private skipPushed(j: number, len: number): number {
    if (this.push <= 0 || this.checkCnt !== this.pushStart + this.pushLen - this.push) return 0;
    const skipped = j + this.push >= len ? len - j : this.push;
    this.push -= skipped;
    this.checkCnt += skipped;
    return skipped;
  }

  /** Checks `size` received bytes laid out over buffers of `iovLens`; false on a mismatch. */
  verify(data: Uint8Array, iovLens: readonly number[]): boolean {
    let size = data.length;
    let base = 0;
    for (let i = 0; i < iovLens.length && size > 0; base += iovLens[i]!, i++) {
      const len = iovLens[i]!;
      for (let j = 0; j < len && size > 0; j++) {
        let skipped = this.skipPushed(j, len);
        if (skipped === 0 && this.popLen > 0 && this.checkCnt === this.popStart) {
          this.bytesCnt += this.popLen;
          this.checkCnt += this.popLen;
          this.k = (this.k + this.popLen) & 0xff;
          if (this.bytesCnt === this.chunkSize) this.chunkDone();
          skipped = this.skipPushed(j, len);
        }
        if (skipped > 0) {
          size -= skipped;
          j += skipped - 1;
          continue;
        }
        if (data[base + j] !== this.k) return false;
        this.k = (this.k + 1) & 0xff;
        this.bytesCnt++;
        this.checkCnt++;
        if (this.bytesCnt === this.chunkSize) this.chunkDone();
        size--;
      }
    }
    return true;
  }
}

// ---- the case ---------------------------------------------------------------------------------------------------

export interface RunCaseOptions {
  tier?: Tier;
  /**
   * When the receiver reads: 'interleaved' (default; after every send call, like test_sockmap's concurrent
   * receiver on an idle machine) or 'after' (once all sends are done). It matters beyond timing: the sender's
   * page fragment is reused only when nothing references it, which changes how later messages are laid out.
   */
  receive?: 'interleaved' | 'after';
}

/** Checks the numeric options (they are int in test_sockmap; we refuse what would be meaningless). */
export function checkCaseOptions(o: SockmapCaseOptions): void {
  const nonneg: (keyof SockmapCaseOptions)[] = ['rate', 'iovCount', 'length', 'txmsgApply', 'txmsgCork', 'txmsgStart', 'txmsgEnd', 'txmsgStartPush', 'txmsgEndPush', 'txmsgStartPop', 'txmsgPop', 'skbUseParser'];
  for (const k of nonneg) {
    const v = o[k] as number;
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new SockmapTestError(`${k}: ${v} is not an integer in 0..2147483647`);
  }
  const total = o.length * (o.test === 'sendpage' ? 1 : o.iovCount);
  if (total > 64 << 20) throw new SockmapTestError(`one send of ${total} bytes (length x iov_count) is above the model's 64 MiB limit`);
  if (total * o.rate > 256 << 20) throw new SockmapTestError(`${total * o.rate} bytes in total (x rate) is above the model's 256 MiB limit`);
}

/** Runs one case on a fresh model. */
export function runSockmapCase(spec: CollectionSpec, o: SockmapCaseOptions, run: RunCaseOptions = {}): SockmapCaseResult {
  checkCaseOptions(o);
  const layout = resolveLayout(spec);

  const k = new Kernel(run.tier !== undefined ? { tier: run.tier } : {});
  const { maps, programs } = k.loadCollection(spec);
  const prog = (p: ProgramSpec): KProgram => {
    const q = programs[p.name];
    if (q === undefined) throw new SockmapTestError(`program ${p.name} could not be loaded`);
    return q;
  };
  const map = (n: string): BpfMap => maps.get(n);
  const must = (what: string, r: number): void => {
    if (r < 0) throw new SockmapTestError(`${what} failed with errno ${-r}`);
  };
  const putInt = (m: string, key: number, v: number): void => {
    const b = new Uint8Array(map(m).valueSize);
    new DataView(b.buffer).setInt32(0, v | 0, true);
    must(`${m}[${key}] = ${v}`, k.mapUpdate(map(m), key, b));
  };

  // Programs on sock_map, sock_ops on the cgroup (before the sockets exist).
  if (!o.txmsgOmitSkbParser) must('attach parser to sock_map', k.attach(prog(layout.parser), map('sock_map'), 4));
  must('attach verdict to sock_map', k.attach(prog(layout.verdict), map('sock_map'), 5));
  must('attach sockops to the cgroup', k.cgroupAttach(prog(layout.sockops), '/'));

  const s1 = k.listen(S1_PORT);
  const s2 = k.listen(S2_PORT);
  const conn = (l: Socket, name: string): Socket => {
    const c = k.connect(l);
    if (typeof c === 'number') throw new SockmapTestError(`connect ${name} failed with errno ${-c}`);
    c.name = name;
    return c;
  };
  const acc = (l: Socket, name: string): Socket => {
    const p = k.accept(l);
    if (typeof p === 'number') throw new SockmapTestError(`accept ${name} failed with errno ${-p}`);
    p.name = name;
    return p;
  };
  const c1 = conn(s1, 'c1');
  const c2 = conn(s2, 'c2');
  const p1 = acc(s1, 'p1');
  const p2 = acc(s2, 'p2');

  // The SK_MSG program: pass > redir > apply > cork > drop, as test_sockmap picks it.
  const role = o.txmsg ? 'pass' : o.txmsgRedir ? 'redir' : o.txmsgApply ? 'apply' : o.txmsgCork ? 'cork' : o.txmsgDrop ? 'drop' : null;
  if (role !== null) {
    const p = layout.msg[role];
    if (p === undefined) throw new SockmapTestError(`${spec.file ?? 'the object'}: no SK_MSG program for "${role}" (test_sockmap takes the ${['pass', 'redir', 'apply', 'cork', 'drop'].indexOf(role) + 1}. sk_msg program)`);
    must('attach the SK_MSG program to sock_map_txmsg', k.attach(prog(p), map('sock_map_txmsg'), 7));
    must('sock_map_txmsg[0] = c1', k.mapUpdateSocket(map('sock_map_txmsg'), 0, c1));
    must('sock_map_redir[0]', k.mapUpdateSocket(map('sock_map_redir'), 0, o.txmsgRedir ? c2 : c1));
    if (o.txmsgApply) putInt('sock_apply_bytes', 0, o.txmsgApply);
    if (o.txmsgCork) putInt('sock_cork_bytes', 0, o.txmsgCork);
    if (o.txmsgStart) putInt('sock_bytes', 0, o.txmsgStart);
    if (o.txmsgEnd) putInt('sock_bytes', 1, o.txmsgEnd);
    if (o.txmsgStartPush) putInt('sock_bytes', 2, o.txmsgStartPush);
    if (o.txmsgEndPush) putInt('sock_bytes', 3, o.txmsgEndPush);
    putInt('sock_bytes', 4, o.txmsgStartPop);
    putInt('sock_bytes', 5, o.txmsgPop);
    if (o.txmsgIngress) {
      putInt('sock_redir_flags', 0, BPF_F_INGRESS);
      must('sock_map_txmsg[1] = p1', k.mapUpdateSocket(map('sock_map_txmsg'), 1, p1));
      must('sock_map_redir[1] = p1', k.mapUpdateSocket(map('sock_map_redir'), 1, p1));
      must('sock_map_redir[2] = p2', k.mapUpdateSocket(map('sock_map_redir'), 2, p2));
    }
    if (o.txmsgRedirSkb) {
      putInt('sock_skb_opts', 0, BPF_F_INGRESS);
      must('sock_map[3] = p2', k.mapUpdateSocket(map('sock_map'), 3, p2));
    }
  }
  if (o.skbUseParser) putInt('sock_skb_opts', 2, o.skbUseParser);
  const dropExpected = o.txmsgDrop;

  if (o.txWaitMem) {
    k.setsockopt(c2, SOL_SOCKET, SO_SNDBUF, 1024);
    k.setsockopt(p2, SOL_SOCKET, SO_RCVBUF, 1024);
  }

  // ---- receiver (p2) ----
  const received: Record<'c1' | 'p1' | 'c2' | 'p2', Uint8Array[]> = { c1: [], p1: [], c2: [], p2: [] };
  const sendpage = o.test === 'sendpage';
  const rxIovCount = sendpage ? 1 : o.iovCount;
  const rxIovLen = o.checkRecvedLen ? o.length * 2 : o.length;
  const rxActive = !(dropExpected || o.ktlsSkbDrop || o.length === 0);
  let total = o.length * o.rate;
  if (!sendpage) total *= o.iovCount;
  const pushTotal = o.txmsgApply ? o.txmsgEndPush * (total / o.txmsgApply) : o.txmsgEndPush * o.rate;
  const popTotal = o.txmsgApply ? o.txmsgPop * (total / o.txmsgApply) : o.txmsgPop * o.rate;
  total = total + pushTotal - popTotal;
  const verifier = o.dataTest ? new DataVerifier(o, sendpage ? o.length : o.length * o.iovCount) : null;
  const rxLens = new Array<number>(rxIovCount).fill(rxIovLen);
  const peekLens = new Array<number>(rxIovCount).fill(o.length);
  let rxBytes = 0;
  let rxErr = 0;
  let rxDone = !rxActive;
  let p2Open = true;

  // test_sockmap's select() timeout per wait: 0.3 s with cork, else 3 s. Waiting lets virtual time pass, so TCP
  // timers fire meanwhile (the delayed ACK and the probe timer that send data held behind MSG_MORE, socket.ts).
  const rxTimeoutMs = o.txmsgCork ? 300 : 3000;
  /** One receiver turn: read while readable and short of the total; `wait`: block in select() when not readable. */
  const receive = (wait: boolean): void => {
    while (!rxDone && rxBytes < total) {
      let readable = k.fionread(p2) > 0;
      if (!readable && wait) {
        k.advance(rxTimeoutMs, () => k.fionread(p2) > 0);
        readable = k.fionread(p2) > 0;
      }
      if (!readable) return;
      if (o.txWaitMem) {
        // The selftest's receiver closes p2 after the first readable event and exits, which drops the last
        // reference to c2 (its copy of the descriptor) as well.
        k.close(p2);
        k.close(c2);
        p2Open = false;
        rxDone = true;
        return;
      }
      let peeked: Uint8Array | null = null;
      if (o.peek) {
        const r = k.recv(p2, o.length * rxIovCount, MSG_PEEK);
        if (typeof r === 'number') {
          if (r !== -EAGAIN) {
            rxErr = -r;
            rxDone = true;
            return;
          }
        } else peeked = r;
      }
      const r = k.recv(p2, rxIovLen * rxIovCount, 0);
      if (typeof r === 'number') {
        if (r !== -EAGAIN) {
          rxErr = r === 0 ? EIO : -r;
          rxDone = true;
        }
        return;
      }
      if (r.length === 0) {
        // EOF: select() keeps reporting readable and recv keeps returning 0; the selftest would spin until it
        // is killed. The model stops and reports it as a receive failure.
        rxErr = EIO;
        rxDone = true;
        return;
      }
      received.p2.push(r);
      rxBytes += r.length;
      if (o.checkRecvedLen && rxBytes > total) {
        rxErr = EMSGSIZE;
        rxDone = true;
        return;
      }
      if (verifier !== null) {
        if (!verifier.verify(r, rxLens) || (peeked !== null && peeked.length > 0 && !verifier.verify(peeked, peekLens))) {
          rxErr = EDATAINTEGRITY;
          rxDone = true;
          return;
        }
      }
    }
    if (rxBytes >= total) rxDone = true;
  };

  // ---- sender (c1) ----
  const sends: number[] = [];
  let txBytes = 0;
  let txErr = 0;
  const iov = sendBuffers(o);
  const chunk = sendpage ? sendpageChunk(o.length) : null;
  for (let i = 0; i < o.rate; i++) {
    const sent = sendpage ? k.send(c1, chunk!, 0) : k.sendmsg(c1, iov, MSG_NOSIGNAL);
    sends.push(sent);
    if (!dropExpected && sent < 0) {
      if (o.txWaitMem && sent === -EACCES) break; // tolerated: c2 left the map when the receiver closed it
      txErr = -sent;
      break;
    } else if (dropExpected && sent >= 0) {
      txErr = EIO;
      break;
    }
    if (sent > 0) txBytes += sent;
    if (run.receive !== 'after') receive(false);
  }
  receive(true);
  if (!rxDone && rxActive) rxErr = EIO; // the receive timeout

  // Final drain of every socket (not part of test_sockmap's counts).
  const drain = (s: Socket, name: 'c1' | 'p1' | 'c2' | 'p2'): void => {
    if (!s.open) return;
    for (let guard = 0; guard < 1 << 16; guard++) {
      const r = k.recv(s, 1 << 20, 0x40);
      if (typeof r === 'number' || r.length === 0) return;
      received[name].push(r);
    }
  };
  // Like the kernel harness's drain, which polls until 50 ms pass without new bytes: timers due meanwhile fire.
  for (let round = 0; round < 64; round++) {
    drain(c1, 'c1');
    drain(p1, 'p1');
    drain(c2, 'c2');
    if (p2Open) drain(p2, 'p2');
    k.advance(50);
    if (![c1, p1, c2, ...(p2Open ? [p2] : [])].some((s) => k.fionread(s) > 0)) break;
  }

  const sockets = Object.fromEntries(
    (['c1', 'p1', 'c2', 'p2'] as const).map((n) => [n, { bytes: received[n].reduce((a, b) => a + b.length, 0), fnv1a64: fnv1a64(...received[n]) }]),
  ) as SockmapCaseResult['sockets'];
  const runs: Record<string, number> = {};
  for (const [name, p] of Object.entries(programs)) runs[name] = p.runCount;

  const rxEffective = rxErr !== 0 && rxErr !== EDATAINTEGRITY && o.txmsgCork ? 0 : rxErr;
  return {
    ok: rxEffective === 0 && txErr === 0,
    options: { ...o },
    tx_bytes: txBytes, tx_err: txErr, rx_bytes: rxBytes, rx_err: rxErr, rx_expected: total, rx_started: rxActive,
    sends, sockets, runs,
  };
}
