// BPF_MAP_TYPE_SOCKMAP (15) and BPF_MAP_TYPE_SOCKHASH (18), registered with createMap through registerMapType
// (importing this module is enough). Rules: docs/sockmap-datapath.md §3 (net/core/sock_map.c), checked against
// the host kernel by test/kernel/sockrun.test.ts and test/model/sockmap-kernel.test.ts.
//
// bpfvm has no file descriptors of its own. A user-space update (`update(key, valueBytes)`) reads the value as
// an fd (u32 or u64 by value_size) and resolves it with `fdResolver` (set by the Kernel façade, model.ts);
// `updateSocket(key, sock | null, flags)` takes the socket directly (null = "fd not open" → EBADF).
//
// Program side: `deleteElem` works (SOCK_OPS and the other types §3.4 allows); `lookupElem` returns null and
// `updateElem` returns -EOPNOTSUPP, because socket pointers as map values (and bpf_sk_release) are not
// modelled yet — the verifier rejects both uses in SK_MSG programs anyway.

import {
  BPF_EXIST,
  BPF_F_NUMA_NODE,
  BPF_F_RDONLY,
  BPF_F_WRONLY,
  BPF_MAP_TYPE_SOCKHASH,
  BPF_MAP_TYPE_SOCKMAP,
  BPF_NOEXIST,
  BpfMap,
  BpfMapError,
  ERRNO,
  INT_MAX,
  hexKey,
  jhash,
  registerMapType,
  u32Bytes,
  u32le,
  type ElemRef,
  type ErrnoCode,
  type MapAttrs,
  type MapCreateSpec,
  type MapOptions,
  type MapValueInput,
} from './maps/index.js';
import { psockInit, psockUnlink, SockProgs, type SockMapLike, type SockProg } from './psock.js';
import { Socket, TCP_ESTABLISHED, TCP_LISTEN } from './socket.js';

export const SOCK_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY;
/** MAX_BPF_STACK: the largest SOCKHASH key. */
export const SOCKHASH_MAX_KEY = 512;

export const BPF_PROG_TYPE_SK_SKB = 14;
export const BPF_PROG_TYPE_SK_MSG = 16;
export const BPF_SK_SKB_STREAM_PARSER = 4;
export const BPF_SK_SKB_STREAM_VERDICT = 5;
export const BPF_SK_MSG_VERDICT = 7;
export const BPF_SK_SKB_VERDICT = 38;

const S32_MAX = 0x7fffffff;

const errName = (errno: number): ErrnoCode => {
  const e = Object.entries(ERRNO).find(([, v]) => v === Math.abs(errno));
  if (e === undefined) throw new Error(`errno ${errno} has no ErrnoCode`);
  return e[0] as ErrnoCode;
};

/** Resolves a file descriptor to a socket: the socket, or null when the fd is not open (EBADF). */
export type FdResolver = (fd: number) => Socket | null;

/** What the redirect helpers and the model need from both sock map types. */
export abstract class SockMapBase extends BpfMap implements SockMapLike {
  readonly progs = new SockProgs();
  /** Set by the model so that user-space updates can pass fds. */
  fdResolver: FdResolver | null = null;

  // ---- user space: updates ----------------------------------------------------------------------------------

  protected sysUpdate(key: Uint8Array, value: MapValueInput, flags: number): void {
    const v = this.valueBytes('update', value);
    const fd = this.valueSize === 8 ? new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true) : BigInt(u32le(v));
    if (fd > BigInt(S32_MAX)) this.fail('EINVAL', 'update', `fd ${fd} is above S32_MAX`);
    const sk = this.fdResolver === null ? null : this.fdResolver(Number(fd));
    if (sk === null) this.fail('EBADF', 'update', `fd ${fd} is not open`);
    this.updateSocket(key, sk, flags);
  }

  /**
   * sock_map_update_elem_sys after the fd lookup: `sk` null (or closed) = EBADF; then the state gate
   * (sockStateRefused: TCP ESTABLISHED or LISTEN, UDP bound, AF_UNIX stream connected; else EOPNOTSUPP), then
   * the type's update_common. Throws BpfMapError.
   */
  updateSocket(key: Uint8Array, sk: Socket | null, flags: number | bigint = 0): void {
    this.checkWrite('update');
    this.checkKey('update', key);
    if (sk === null || !sk.open) this.fail('EBADF', 'update', 'no such socket (fd not open)');
    const f = typeof flags === 'bigint' ? (flags > 0xffffffffn ? 0xffffffff : Number(flags)) : flags;
    const refused = sockStateRefused(sk);
    if (refused !== null) this.fail('EOPNOTSUPP', 'update', `socket ${sk.name} ${refused}`);
    const r = this.updateCommon(key, sk, f);
    if (r < 0) this.fail(errName(r), 'update', this.lastDetail);
  }

  protected lastDetail = '';

  /** §3.3 steps 7-13 (also what bpf_sock_map_update / bpf_sock_hash_update run). 0 or -errno. */
  abstract updateCommon(key: Uint8Array, sk: Socket, flags: number): number;

  /** Removes `slot` if it still holds `sk` (close / psock teardown). */
  abstract removeSocketAt(slot: string, sk: Socket): void;

  /** The socket a redirect helper finds for `key` (null: empty or out of range). */
  abstract socketFor(key: Uint8Array): Socket | null;

  /** Every (key, socket) member, in get_next_key order. */
  abstract members(): { key: Uint8Array; sock: Socket }[];

  // ---- programs ------------------------------------------------------------------------------------------------

  lookupElem(key: Uint8Array, cpu: number): ElemRef | null {
    void key;
    void cpu;
    return null;
  }

  updateElem(key: Uint8Array, value: Uint8Array, flags: number | bigint, cpu: number): number {
    void key;
    void value;
    void flags;
    void cpu;
    return -ERRNO.EOPNOTSUPP;
  }

  deleteElem(key: Uint8Array, cpu: number): number {
    void cpu;
    try {
      this.sysDelete(key);
      return 0;
    } catch (e) {
      if (e instanceof BpfMapError) return -e.errno;
      throw e;
    }
  }

  /** sock_map_lookup_sys / sock_hash_lookup_sys: the 8-byte cookie, ENOSPC for 4-byte values, ENOENT when empty. */
  protected cookieOf(sk: Socket | null): Uint8Array {
    if (sk === null) this.fail('ENOENT', 'lookup', 'no socket at this key');
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, sk.cookie, true);
    return out;
  }

  /**
   * sock_map_link: take the map's current programs into the socket's psock (creating it), refusing a kind the
   * psock already has (-EBUSY). Returns 0 or -errno; on success the caller adds the link (or, on a later
   * failure, calls `unlinkFailed`).
   */
  protected link(sk: Socket): number {
    const mp = this.progs;
    let p = sk.psock;
    if (p !== null) {
      const pp = p.progs;
      if (
        (mp.msgParser && pp.msgParser) ||
        (mp.streamParser && pp.streamParser) ||
        (mp.skbVerdict && (pp.streamVerdict || pp.skbVerdict)) ||
        (mp.streamVerdict && (pp.skbVerdict || pp.streamVerdict))
      ) {
        this.lastDetail = `socket ${sk.name} already has a program of a kind this map supplies`;
        return -ERRNO.EBUSY;
      }
    } else {
      p = psockInit(sk);
    }
    if (mp.streamParser && mp.streamVerdict && !p.savedDataReady && !sk.isTcp) {
      // sock_map_link: the strparser runs on TCP only (observed -EOPNOTSUPP for UDP and AF_UNIX sockets).
      this.unlinkFailed(sk);
      this.lastDetail = `socket ${sk.name} is not TCP: a stream parser cannot run on it`;
      return -ERRNO.EOPNOTSUPP;
    }
    if (mp.msgParser) p.progs.msgParser = mp.msgParser;
    if (mp.streamParser) p.progs.streamParser = mp.streamParser;
    if (mp.streamVerdict) p.progs.streamVerdict = mp.streamVerdict;
    if (mp.skbVerdict) p.progs.skbVerdict = mp.skbVerdict;
    if (!p.savedDataReady && ((mp.streamParser && mp.streamVerdict) || mp.streamVerdict || mp.skbVerdict)) {
      p.savedDataReady = true;
      p.rxMode = mp.streamParser && mp.streamVerdict ? 'strp' : 'verdict';
    }
    return 0;
  }

  /** The sk_psock_put after a failed update: a psock without links (just created) is destroyed again. */
  protected unlinkFailed(sk: Socket): void {
    if (sk.psock !== null && sk.psock.links.length === 0) sk.psock.drop();
  }

  protected addLink(sk: Socket, slot: string): void {
    sk.psock!.links.push({ map: this, slot });
  }
}

/**
 * sock_map_sk_state_allowed plus the kinds the model has (null = the socket may be inserted, else why not):
 * TCP in ESTABLISHED or LISTEN; UDP once bound (an unbound UDP socket is refused: observed -EOPNOTSUPP on 6.18;
 * sendto's autobind counts as bound); AF_UNIX stream ends ESTABLISHED (a socketpair end is); AF_UNIX datagram
 * always. (AF_UNIX SOCK_SEQPACKET is refused by the kernel and not modelled.)
 */
export function sockStateRefused(sk: Socket): string | null {
  switch (sk.kind) {
    case 'tcp':
      return sk.state === TCP_ESTABLISHED || sk.state === TCP_LISTEN ? null : `is not ESTABLISHED or LISTEN (state ${sk.state})`;
    case 'udp':
      return sk.localPort !== 0 ? null : 'is an unbound UDP socket';
    case 'unix-stream':
      return sk.state === TCP_ESTABLISHED ? null : 'is an unconnected AF_UNIX stream socket';
    case 'unix-dgram':
      return null;
  }
}

// ---- SOCKMAP ----------------------------------------------------------------------------------------------------

export class SockMap extends SockMapBase {
  readonly slots: (Socket | null)[];

  constructor(attrs: MapAttrs, opts: MapOptions = {}) {
    super(attrs, opts);
    this.slots = new Array<Socket | null>(attrs.maxEntries).fill(null);
  }

  get count(): number {
    return this.slots.reduce((a, s) => a + (s !== null ? 1 : 0), 0);
  }

  updateCommon(key: Uint8Array, sk: Socket, flags: number): number {
    const idx = u32le(key);
    if (flags > BPF_EXIST) return (this.lastDetail = `flags ${flags} > BPF_EXIST`), -ERRNO.EINVAL;
    if (idx >= this.maxEntries) return (this.lastDetail = `key ${idx} >= max_entries ${this.maxEntries}`), -ERRNO.E2BIG;
    const r = this.link(sk);
    if (r < 0) return r;
    const osk = this.slots[idx]!;
    if (osk !== null && flags === BPF_NOEXIST) {
      this.unlinkFailed(sk);
      return (this.lastDetail = `slot ${idx} is occupied (BPF_NOEXIST)`), -ERRNO.EEXIST;
    }
    if (osk === null && flags === BPF_EXIST) {
      this.unlinkFailed(sk);
      return (this.lastDetail = `slot ${idx} is empty (BPF_EXIST)`), -ERRNO.ENOENT;
    }
    const slot = String(idx);
    this.addLink(sk, slot);
    this.slots[idx] = sk;
    if (osk !== null) psockUnlink(osk, this, slot);
    return 0;
  }

  protected sysDelete(key: Uint8Array): void {
    const idx = u32le(key);
    if (idx >= this.maxEntries) this.fail('EINVAL', 'delete', `key ${idx} >= max_entries ${this.maxEntries}`);
    const sk = this.slots[idx]!;
    if (sk === null) this.fail('EINVAL', 'delete', `slot ${idx} is empty`);
    this.slots[idx] = null;
    psockUnlink(sk, this, String(idx));
  }

  protected sysLookup(key: Uint8Array): Uint8Array {
    if (this.valueSize !== 8) this.fail('ENOSPC', 'lookup', 'value_size is not 8 (the cookie does not fit)');
    return this.cookieOf(this.socketFor(key));
  }

  protected nextKey(key: Uint8Array | null): Uint8Array {
    if (key === null) return u32Bytes(0);
    const idx = u32le(key);
    if (idx >= this.maxEntries) return u32Bytes(0);
    if (idx === this.maxEntries - 1) this.fail('ENOENT', 'get_next_key', 'last key');
    return u32Bytes(idx + 1);
  }

  removeSocketAt(slot: string, sk: Socket): void {
    const idx = Number(slot);
    if (this.slots[idx] === sk) this.slots[idx] = null;
    psockUnlink(sk, this, slot);
  }

  socketFor(key: Uint8Array): Socket | null {
    return this.socketAt(u32le(key));
  }

  socketAt(idx: number): Socket | null {
    return idx >>> 0 < this.maxEntries ? this.slots[idx]! : null;
  }

  members(): { key: Uint8Array; sock: Socket }[] {
    const out: { key: Uint8Array; sock: Socket }[] = [];
    this.slots.forEach((s, i) => s !== null && out.push({ key: u32Bytes(i), sock: s }));
    return out;
  }
}

// ---- SOCKHASH ---------------------------------------------------------------------------------------------------

interface HashElem {
  key: Uint8Array;
  hex: string;
  sk: Socket;
  bucket: number;
}

const roundupPow2 = (n: number): number => {
  let p = 1;
  while (p < n) p *= 2;
  return p;
};

export class SockHash extends SockMapBase {
  readonly nBuckets: number;
  /** Buckets of element keys (hex), newest first (hlist_add_head). */
  private readonly buckets: string[][];
  private readonly elems = new Map<string, HashElem>();

  constructor(attrs: MapAttrs, opts: MapOptions = {}) {
    super(attrs, opts);
    this.nBuckets = roundupPow2(attrs.maxEntries);
    this.buckets = [];
  }

  get count(): number {
    return this.elems.size;
  }

  /** sock_hash_bucket_hash: jhash(key, key_size, 0) (no random seed, so iteration order is deterministic). */
  bucketOf(key: Uint8Array): number {
    return jhash(key, 0) & (this.nBuckets - 1);
  }

  private bucket(b: number): string[] {
    let l = this.buckets[b];
    if (l === undefined) {
      l = [];
      this.buckets[b] = l;
    }
    return l;
  }

  updateCommon(key: Uint8Array, sk: Socket, flags: number): number {
    if (flags > BPF_EXIST) return (this.lastDetail = `flags ${flags} > BPF_EXIST`), -ERRNO.EINVAL;
    const r = this.link(sk);
    if (r < 0) return r;
    const hex = hexKey(key);
    const old = this.elems.get(hex) ?? null;
    if (old !== null && flags === BPF_NOEXIST) {
      this.unlinkFailed(sk);
      return (this.lastDetail = `key ${hex} exists (BPF_NOEXIST)`), -ERRNO.EEXIST;
    }
    if (old === null && flags === BPF_EXIST) {
      this.unlinkFailed(sk);
      return (this.lastDetail = `key ${hex} does not exist (BPF_EXIST)`), -ERRNO.ENOENT;
    }
    if (old === null && this.elems.size >= this.maxEntries) {
      this.unlinkFailed(sk);
      return (this.lastDetail = `the map is full (${this.maxEntries} elements)`), -ERRNO.E2BIG;
    }
    const b = this.bucketOf(key);
    this.addLink(sk, hex);
    const list = this.bucket(b);
    if (old !== null) list.splice(list.indexOf(hex), 1);
    list.unshift(hex);
    this.elems.set(hex, { key: key.slice(), hex, sk, bucket: b });
    if (old !== null) psockUnlink(old.sk, this, hex);
    return 0;
  }

  private removeElem(e: HashElem): void {
    const list = this.bucket(e.bucket);
    list.splice(list.indexOf(e.hex), 1);
    this.elems.delete(e.hex);
  }

  protected sysDelete(key: Uint8Array): void {
    const e = this.elems.get(hexKey(key));
    if (e === undefined) this.fail('ENOENT', 'delete', `no element with key ${hexKey(key)}`);
    this.removeElem(e);
    psockUnlink(e.sk, this, e.hex);
  }

  protected sysLookup(key: Uint8Array): Uint8Array {
    if (this.valueSize !== 8) this.fail('ENOSPC', 'lookup', 'value_size is not 8 (the cookie does not fit)');
    return this.cookieOf(this.socketFor(key));
  }

  private firstFrom(b: number): Uint8Array | null {
    for (let i = b; i < this.nBuckets; i++) {
      const l = this.buckets[i];
      if (l !== undefined && l.length > 0) return this.elems.get(l[0]!)!.key.slice();
    }
    return null;
  }

  /** sock_hash_get_next_key: next in the bucket, then the following buckets; an unknown key restarts. */
  protected nextKey(key: Uint8Array | null): Uint8Array {
    let next: Uint8Array | null;
    const e = key === null ? undefined : this.elems.get(hexKey(key));
    if (e === undefined) {
      next = this.firstFrom(0);
    } else {
      const list = this.bucket(e.bucket);
      const i = list.indexOf(e.hex);
      next = i + 1 < list.length ? this.elems.get(list[i + 1]!)!.key.slice() : this.firstFrom(e.bucket + 1);
    }
    if (next === null) this.fail('ENOENT', 'get_next_key', 'no further element');
    return next;
  }

  removeSocketAt(slot: string, sk: Socket): void {
    const e = this.elems.get(slot);
    if (e !== undefined && e.sk === sk) this.removeElem(e);
    psockUnlink(sk, this, slot);
  }

  socketFor(key: Uint8Array): Socket | null {
    return this.elems.get(hexKey(key))?.sk ?? null;
  }

  members(): { key: Uint8Array; sock: Socket }[] {
    return this.keys().map((k) => ({ key: k, sock: this.socketFor(k)! }));
  }
}

// ---- creation -----------------------------------------------------------------------------------------------

function createFail(spec: MapCreateSpec, detail: string, code: ErrnoCode = 'EINVAL'): never {
  throw new BpfMapError(code, spec.name, 'create', detail);
}

function commonChecks(s: MapCreateSpec): void {
  if (s.valueSize !== 4 && s.valueSize !== 8) createFail(s, `value_size must be 4 or 8 (got ${s.valueSize})`);
  if (s.flags & ~SOCK_CREATE_FLAG_MASK) createFail(s, `map_flags 0x${(s.flags & ~SOCK_CREATE_FLAG_MASK).toString(16)} are not allowed`);
}

registerMapType(BPF_MAP_TYPE_SOCKMAP, (a, s, o) => {
  if (s.maxEntries === 0 || s.maxEntries > INT_MAX) createFail(s, `max_entries ${s.maxEntries} is not in 1..INT_MAX`);
  if (s.keySize !== 4) createFail(s, `key_size must be 4 for sockmap (got ${s.keySize})`);
  commonChecks(s);
  return new SockMap(a, o);
});

registerMapType(BPF_MAP_TYPE_SOCKHASH, (a, s, o) => {
  if (s.maxEntries === 0) createFail(s, 'max_entries is 0');
  if (s.keySize === 0) createFail(s, 'key_size is 0');
  commonChecks(s);
  if (s.keySize > SOCKHASH_MAX_KEY) createFail(s, `key_size ${s.keySize} is above ${SOCKHASH_MAX_KEY}`, 'E2BIG');
  return new SockHash(a, o);
});

// ---- attaching programs (BPF_PROG_ATTACH / BPF_PROG_DETACH on a map) ----------------------------------------

/** A program as attach sees it: its type and the SockProg the map slot will hold. */
export interface AttachableProg extends SockProg {
  readonly type: number;
  /** The program (or a subprogram) calls a helper in bpf_helper_changes_pkt_data, tail_call included. */
  readonly changesPktData?: boolean;
}

type SlotName = 'msgParser' | 'streamParser' | 'streamVerdict' | 'skbVerdict';

function slotFor(attachType: number): { slot: SlotName; progType: number } | null {
  switch (attachType) {
    case BPF_SK_MSG_VERDICT:
      return { slot: 'msgParser', progType: BPF_PROG_TYPE_SK_MSG };
    case BPF_SK_SKB_STREAM_PARSER:
      return { slot: 'streamParser', progType: BPF_PROG_TYPE_SK_SKB };
    case BPF_SK_SKB_STREAM_VERDICT:
      return { slot: 'streamVerdict', progType: BPF_PROG_TYPE_SK_SKB };
    case BPF_SK_SKB_VERDICT:
      return { slot: 'skbVerdict', progType: BPF_PROG_TYPE_SK_SKB };
    default:
      return null;
  }
}

/**
 * BPF_PROG_ATTACH with target = a map (§3.8): 0 or -errno. Wrong program type for the attach type → -EINVAL
 * (bpf_prog_get_type); attach_flags ≠ 0 → -EINVAL; not a sock map → -EOPNOTSUPP; STREAM_VERDICT vs SKB_VERDICT
 * conflict → -EBUSY; otherwise the slot's program is replaced silently. (Links and the 7.x stream-parser
 * packet-modification check are not modelled.)
 */
export function sockMapAttach(map: BpfMap, prog: AttachableProg, attachType: number, attachFlags = 0): number {
  const s = slotFor(attachType);
  if (s === null || prog.type !== s.progType) return -ERRNO.EINVAL;
  if (attachFlags !== 0) return -ERRNO.EINVAL;
  if (!(map instanceof SockMapBase)) return -ERRNO.EOPNOTSUPP;
  // KERNEL vs SPEC: the spec (§3.8, §10) has this refusal from 7.x on; the 6.18 host already refuses a stream
  // parser that calls skb_store_bytes / skb_pull_data / skb_change_tail / ... or bpf_tail_call.
  if (s.slot === 'streamParser' && prog.changesPktData === true) return -ERRNO.EINVAL;
  if (s.slot === 'streamVerdict' && map.progs.skbVerdict !== null) return -ERRNO.EBUSY;
  if (s.slot === 'skbVerdict' && map.progs.streamVerdict !== null) return -ERRNO.EBUSY;
  map.progs[s.slot] = prog;
  return 0;
}

/** BPF_PROG_DETACH: 0 when `prog` is the slot's current program (removed from the map only), else -ENOENT. */
export function sockMapDetach(map: BpfMap, prog: AttachableProg, attachType: number): number {
  const s = slotFor(attachType);
  if (s === null || prog.type !== s.progType) return -ERRNO.EINVAL;
  if (!(map instanceof SockMapBase)) return -ERRNO.EOPNOTSUPP;
  if (map.progs[s.slot] !== prog) return -ERRNO.ENOENT;
  map.progs[s.slot] = null;
  return 0;
}

// ---- redirect helper checks (bpf_msg_redirect_map / _hash, §4.6) ------------------------------------------------

/** sock_map_redirect_allowed + the SK_MSG-specific checks: the target or null (SK_DROP). */
export function msgRedirectTarget(map: unknown, key: Uint8Array, flags: number): Socket | null {
  if (!(map instanceof SockMapBase)) return null;
  const sk = map.socketFor(key);
  if (sk === null) return null;
  // sock_map_redirect_allowed: TCP anything but LISTEN; other kinds ESTABLISHED (a connected UDP socket, a
  // socketpair end; a bound but unconnected UDP target drops the message: observed).
  if (sk.isTcp ? sk.state === TCP_LISTEN : sk.state !== TCP_ESTABLISHED) return null;
  void flags;
  return sk;
}

/**
 * bpf_msg_redirect_map / _hash: msgRedirectTarget plus the SK_MSG rule that egress (no BPF_F_INGRESS) needs a
 * TCP target — a UDP or AF_UNIX target without BPF_F_INGRESS is SK_DROP (observed: the send returns -EACCES).
 * Ingress redirects to them work (the bytes reach the target's readers).
 */
export function skMsgRedirectTarget(map: unknown, key: Uint8Array, flags: number): Socket | null {
  const sk = msgRedirectTarget(map, key, flags);
  if (sk !== null && !sk.isTcp && (flags & 1) === 0) return null;
  return sk;
}
