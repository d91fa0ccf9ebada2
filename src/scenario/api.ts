// The scenario API: build your own socket topology on bpfvm's socket model — load an object (or maps and
// assembly), create sockets, attach programs to sock maps and cgroups, insert sockets, send, receive — with
// the kernel's return conventions (numbers >= 0, or -errno) and names instead of file descriptors. It is a thin
// layer over Kernel (src/kernel/model.ts); `kernel` stays available for anything it does not wrap. The JSON
// scenario files of `bpfvm scenario` (file.ts) run on it.

import { readFileSync } from 'node:fs';
import type { CollectionSpec, MapSpec } from '../spec.js';
import { loadCollection } from '../elf/index.js';
import { Kernel, KProgram, type MapKey } from '../kernel/model.js';
import { BpfMap, u32Bytes } from '../kernel/maps/index.js';
import { SockMapBase } from '../kernel/sockmap.js';
import { MSG_NOSIGNAL, MSG_PEEK, type Socket } from '../kernel/socket.js';
import { assemble } from '../../vm/asm.js';
import type { Tier } from '../../vm/interpreter.js';
import { concatBytes, toHex } from '../bytes.js';
import type { TimerFire } from '../kernel/timers.js';

/** A mistake in a scenario (unknown socket/map/program name, bad attach type, ...): names what and where. */
export class ScenarioError extends Error {
  override name = 'ScenarioError';
}

/** Attach types by name (BPF_SK_MSG_VERDICT 7, BPF_SK_SKB_STREAM_PARSER 4, _STREAM_VERDICT 5, BPF_SK_SKB_VERDICT 38). */
export const ATTACH_TYPES: Readonly<Record<string, number>> = {
  msg_verdict: 7, sk_msg: 7, stream_parser: 4, stream_verdict: 5, skb_verdict: 38,
};
/** Program types by name (BPF_PROG_TYPE_*). */
export const PROG_TYPES: Readonly<Record<string, number>> = { sock_ops: 13, sk_skb: 14, sk_msg: 16 };

export type SockRef = string | Socket;
export type ProgRef = string | KProgram;
export type MapRef = string | number | BpfMap;

export interface SocketScenarioOptions {
  /** A BPF ELF object: a path, its bytes, or a loaded CollectionSpec. Its maps and programs are created. */
  object?: string | Uint8Array | CollectionSpec;
  /** Maps to create when there is no object (one collection per scenario). */
  maps?: MapSpec[];
  /** VM tier for the programs. */
  tier?: Tier;
}

export interface SocketState {
  open: boolean;
  /** TCP state (1 ESTABLISHED, 7 CLOSE, 8 CLOSE_WAIT, 10 LISTEN). */
  state: number;
  localPort: number;
  remotePort: number;
  /** Bytes a read would return now (FIONREAD), 0 for listeners and closed sockets. */
  readable: number;
  cookie: string;
}

export interface ScenarioSnapshot {
  sockets: Record<string, SocketState>;
  /** Map contents: plain maps as key/value hex, sock maps as key hex → socket name (null: not a named socket). */
  maps: Record<string, { key: string; value?: string; sock?: string | null }[]>;
  /** Program run counts by name. */
  runs: Record<string, number>;
}


export class SocketScenario {
  readonly kernel: Kernel;
  private readonly socks = new Map<string, Socket>();
  private readonly progs = new Map<string, KProgram>();

  constructor(opts: SocketScenarioOptions = {}) {
    this.kernel = new Kernel(opts.tier !== undefined ? { tier: opts.tier } : {});
    if (opts.object !== undefined) {
      if (opts.maps !== undefined) throw new ScenarioError('give either an object or maps, not both (one collection per scenario)');
      const spec = typeof opts.object === 'string'
        ? loadCollection(readObject(opts.object), { file: opts.object })
        : opts.object instanceof Uint8Array ? loadCollection(opts.object) : opts.object;
      const { programs } = this.kernel.loadCollection(spec);
      for (const [n, p] of Object.entries(programs)) this.progs.set(n, p);
    } else {
      this.kernel.createMaps(opts.maps ?? []);
    }
  }

  // ---- lookups ----------------------------------------------------------------------------------------------

  program(p: ProgRef): KProgram {
    if (p instanceof KProgram) return p;
    const q = this.progs.get(p);
    if (q === undefined) throw new ScenarioError(`no program "${p}" (programs: ${[...this.progs.keys()].join(', ') || 'none'})`);
    return q;
  }

  map(m: MapRef): BpfMap {
    if (m instanceof BpfMap) return m;
    try {
      return this.kernel.map(m);
    } catch (e) {
      throw new ScenarioError((e as Error).message);
    }
  }

  socket(s: SockRef): Socket {
    if (typeof s !== 'string') return s;
    const k = this.socks.get(s);
    if (k === undefined) throw new ScenarioError(`no socket "${s}" (sockets: ${[...this.socks.keys()].join(', ') || 'none'})`);
    return k;
  }

  /** Names of the sockets created so far, in creation order. */
  socketNames(): string[] {
    return [...this.socks.keys()];
  }

  // ---- programs -------------------------------------------------------------------------------------------

  /**
   * Loads a program from kernel-syntax assembly (or raw bytecode); `r1 = map[idx:N]` refers to map N of the
   * scenario. `type`: "sk_msg", "sk_skb", "sock_ops" or a BPF_PROG_TYPE number.
   */
  loadProgram(name: string, type: string | number, code: string | Uint8Array, expectedAttachType?: string | number): KProgram {
    if (this.progs.has(name)) throw new ScenarioError(`program "${name}" already exists`);
    const t = typeof type === 'number' ? type : PROG_TYPES[type];
    if (t === undefined) throw new ScenarioError(`program "${name}": unknown type "${type}" (${Object.keys(PROG_TYPES).join(', ')})`);
    let insns: Uint8Array;
    try {
      insns = typeof code === 'string' ? assemble(code) : code;
    } catch (e) {
      throw new ScenarioError(`program "${name}": ${(e as Error).message}`);
    }
    const eat = expectedAttachType === undefined ? undefined : attachType(expectedAttachType);
    const p = this.kernel.loadProgram({ insns, type: t, name, ...(eat !== undefined ? { expectedAttachType: eat } : {}) });
    this.progs.set(name, p);
    return p;
  }

  /** BPF_PROG_ATTACH of an sk_msg / sk_skb program to a sock map: 0 or -errno. */
  attach(prog: ProgRef, map: MapRef, type: string | number): number {
    return this.kernel.attach(this.program(prog), this.map(map), attachType(type));
  }

  detach(prog: ProgRef, map: MapRef, type: string | number): number {
    return this.kernel.detach(this.program(prog), this.map(map), attachType(type));
  }

  /** Attaches a sock_ops program to a cgroup of the model (default the root, which every socket is in). */
  attachCgroup(prog: ProgRef, cgroup = '/', flags = 0): number {
    return this.kernel.cgroupAttach(this.program(prog), cgroup, flags);
  }

  detachCgroup(prog: ProgRef, cgroup = '/'): number {
    return this.kernel.cgroupDetach(this.program(prog), cgroup);
  }

  /** Sockets created from now on belong to `cgroup` (accepted ones always take their listener's). */
  useCgroup(cgroup: string): void {
    this.kernel.currentCgroup = cgroup;
  }

  // ---- sockets --------------------------------------------------------------------------------------------

  private named(name: string, s: Socket): Socket {
    if (this.socks.has(name)) throw new ScenarioError(`socket "${name}" already exists`);
    s.name = name;
    this.socks.set(name, s);
    return s;
  }

  /** A listener on 127.0.0.1:port (0 = an ephemeral port). */
  listen(name: string, port = 0): Socket {
    if (this.socks.has(name)) throw new ScenarioError(`socket "${name}" already exists`);
    let s: Socket;
    try {
      s = this.kernel.listen(port);
    } catch (e) {
      throw new ScenarioError(`listen ${name}: ${(e as Error).message}`);
    }
    return this.named(name, s);
  }

  /** An unbound TCP socket. */
  tcp(name: string): Socket {
    if (this.socks.has(name)) throw new ScenarioError(`socket "${name}" already exists`);
    return this.named(name, this.kernel.tcpSocket());
  }

  /** connect(): a new socket connected to `listener` (the handshake, with its sock_ops callbacks, completes at once). */
  connect(name: string, listener: SockRef): Socket {
    if (this.socks.has(name)) throw new ScenarioError(`socket "${name}" already exists`);
    const c = this.kernel.connect(this.socket(listener));
    if (typeof c === 'number') throw new ScenarioError(`connect ${name}: errno ${-c}`);
    return this.named(name, c);
  }

  /** accept(): the oldest pending connection of `listener`. */
  accept(name: string, listener: SockRef): Socket {
    if (this.socks.has(name)) throw new ScenarioError(`socket "${name}" already exists`);
    const a = this.kernel.accept(this.socket(listener));
    if (typeof a === 'number') throw new ScenarioError(`accept ${name}: errno ${-a} (no pending connection)`);
    return this.named(name, a);
  }

  // ---- maps -----------------------------------------------------------------------------------------------

  /** BPF_MAP_UPDATE_ELEM of a socket into a SOCKMAP / SOCKHASH: 0 or -errno. */
  insert(map: MapRef, key: MapKey, sock: SockRef, flags = 0): number {
    const m = this.map(map);
    if (!(m instanceof SockMapBase)) throw new ScenarioError(`map "${m.name}" is not a SOCKMAP or SOCKHASH`);
    return this.kernel.mapUpdateSocket(m, key, this.socket(sock), flags);
  }

  /** BPF_MAP_UPDATE_ELEM with value bytes (a number is written little-endian in the value size): 0 or -errno. */
  update(map: MapRef, key: MapKey, value: Uint8Array | number, flags = 0): number {
    const m = this.map(map);
    let v: Uint8Array;
    if (typeof value === 'number') {
      v = new Uint8Array(m.valueSize);
      let x = BigInt.asUintN(64, BigInt(value));
      for (let i = 0; i < v.length && i < 8; i++, x >>= 8n) v[i] = Number(x & 0xffn);
    } else {
      v = new Uint8Array(m.valueSize);
      v.set(value.subarray(0, m.valueSize));
    }
    return this.kernel.mapUpdate(m, key, v, flags);
  }

  /** Puts cgroup `cgroup` (an fd from Kernel.openCgroup) in slot `key` of a CGROUP_ARRAY: 0 or -errno. */
  setCgroup(map: MapRef, key: MapKey, cgroup: string): number {
    const fd = this.kernel.openCgroup(cgroup);
    return this.kernel.mapUpdate(this.map(map), key, u32Bytes(fd));
  }

  delete(map: MapRef, key: MapKey): number {
    return this.kernel.mapDelete(this.map(map), key);
  }

  /** BPF_MAP_LOOKUP_ELEM: the value (sock maps: the socket cookie) or -errno. */
  lookup(map: MapRef, key: MapKey): Uint8Array | number {
    return this.kernel.mapLookup(this.map(map), key);
  }

  // ---- data -----------------------------------------------------------------------------------------------

  /** send(): bytes accepted or -errno (MSG_NOSIGNAL by default). */
  send(sock: SockRef, data: Uint8Array, flags: number = MSG_NOSIGNAL): number {
    return this.kernel.send(this.socket(sock), data, flags);
  }

  /** sendmsg() with several buffers (one call). */
  sendmsg(sock: SockRef, iov: readonly Uint8Array[], flags: number = MSG_NOSIGNAL): number {
    return this.kernel.sendmsg(this.socket(sock), iov, flags);
  }

  /** recv(), non-blocking: the bytes, an empty array at EOF, or -errno (-11 EAGAIN when nothing is there). */
  recv(sock: SockRef, maxLen = 65536, opts: { peek?: boolean; flags?: number } = {}): Uint8Array | number {
    const r = this.kernel.recv(this.socket(sock), maxLen, (opts.flags ?? 0) | (opts.peek ? MSG_PEEK : 0));
    return typeof r === 'number' && r === 0 ? new Uint8Array(0) : r;
  }

  /**
   * Lets `ms` milliseconds of the model's virtual time pass (the same clock as advance(ns), in ms): TCP timers
   * (the peer's delayed ACK after 40 ms and the probe timer after 200 ms send data TCP held behind MSG_MORE) and
   * BPF timer callbacks fire in time order (Kernel.advance; README "Virtual time"); returns the callbacks.
   */
  sleep(ms: number): TimerFire[] {
    if (!Number.isFinite(ms) || ms < 0) throw new ScenarioError(`sleep: ${ms} is not a number of milliseconds >= 0`);
    return this.kernel.advance(ms);
  }

  /** Reads everything readable now (non-blocking recv until nothing more). */
  drain(sock: SockRef): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let guard = 0; guard < 1 << 16; guard++) {
      const r = this.kernel.recv(this.socket(sock), 1 << 20, 0x40);
      if (typeof r === 'number' || r.length === 0) break;
      parts.push(r);
    }
    return concatBytes(parts);
  }

  fionread(sock: SockRef): number {
    return this.kernel.fionread(this.socket(sock));
  }

  shutdown(sock: SockRef, how: 'rd' | 'wr' | 'rdwr' | 0 | 1 | 2 = 'rdwr'): number {
    const h = typeof how === 'number' ? how : ({ rd: 0, wr: 1, rdwr: 2 } as const)[how];
    return this.kernel.shutdown(this.socket(sock), h as 0 | 1 | 2);
  }

  close(sock: SockRef): number {
    return this.kernel.close(this.socket(sock));
  }

  /** SO_COOKIE. */
  cookie(sock: SockRef): bigint {
    return this.kernel.cookie(this.socket(sock));
  }

  /**
   * Advances the model's virtual clock by `ns` nanoseconds (sleep in ns): BPF timer callbacks and TCP timers
   * that come due fire in time order (Kernel.advanceTime); returns the callbacks that ran.
   */
  advance(ns: number | bigint): TimerFire[] {
    if (typeof ns === 'number' && (!Number.isSafeInteger(ns) || ns < 0)) throw new ScenarioError(`advance: ${ns} is not a non-negative integer number of nanoseconds`);
    if (typeof ns === 'bigint' && ns < 0n) throw new ScenarioError(`advance: ${ns} is negative (virtual time only moves forward)`);
    return this.kernel.advanceTime(ns);
  }

  /** How often a program has run. */
  runs(prog: ProgRef): number {
    return this.program(prog).runCount;
  }

  /** Sockets, map contents and run counts now. */
  snapshot(): ScenarioSnapshot {
    const sockets: Record<string, SocketState> = {};
    for (const [n, s] of this.socks) {
      const readable = s.open && s.state !== 10 ? Math.max(0, this.kernel.fionread(s)) : 0;
      sockets[n] = { open: s.open, state: s.state, localPort: s.localPort, remotePort: s.remotePort, readable, cookie: s.cookie.toString() };
    }
    const maps: ScenarioSnapshot['maps'] = {};
    for (const m of this.kernel.maps?.list ?? []) {
      if (m instanceof SockMapBase) {
        maps[m.name] = m.members().map(({ key, sock }) => ({ key: toHex(key), sock: [...this.socks].find(([, s]) => s === sock)?.[0] ?? null }));
      } else {
        try {
          maps[m.name] = m.keys().map((k) => ({ key: toHex(k), value: toHex(m.lookup(k)) }));
        } catch {
          maps[m.name] = [];
        }
      }
    }
    const runs: Record<string, number> = {};
    for (const [n, p] of this.progs) runs[n] = p.runCount;
    return { sockets, maps, runs };
  }
}

function attachType(t: string | number): number {
  if (typeof t === 'number') return t;
  const v = ATTACH_TYPES[t];
  if (v === undefined) throw new ScenarioError(`unknown attach type "${t}" (${Object.keys(ATTACH_TYPES).join(', ')}, or a number)`);
  return v;
}

function readObject(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new ScenarioError(`cannot read object ${path}: ${(e as Error).message}`);
  }
}
