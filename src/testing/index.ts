// bpfvm/testing: a kit for property tests of BPF programs with fast-check.
//
//   import fc from 'fast-check';
//   import { loadObject, messageSends, runMsg } from 'bpfvm/testing';
//
//   const obj = loadObject('build/proxy.bpf.o');
//   fc.assert(fc.property(messageSends(), ({ message, sends }) => {
//     const r = runMsg(obj, 'my_pass_prog', { sends });
//     return Buffer.from(r.delivered.p1!).equals(Buffer.from(message));
//   }));
//
// Arbitraries: packets (for socket filter / tc / xdp / cgroup skb programs), messages and their splits into
// sends and iovecs, map contents for a MapSpec, socket topologies (which socket sits in which sock map slot).
// Runners: runMsg (an sk_msg program on one message or a few sends through the socket model: verdict, redirect
// target, apply/cork bytes, bytes after pull/push/pop, bytes delivered at every socket, instructions) and
// runPacket (BPF_PROG_TEST_RUN semantics). fast-check is a peer dependency: the arbitraries are fast-check's.

import * as fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { loadCollection } from '../elf/index.js';
import type { CollectionSpec, MapSpec, ProgramSpec } from '../spec.js';
import {
  BPF_MAP_TYPE_SOCKHASH,
  BPF_MAP_TYPE_SOCKMAP,
  defaultMsgTopology,
  runMaps,
  runSkMsg,
  runSkSkbOnce,
  type SkbRunResult,
  type MapEntryInput,
  type MsgRunOptions,
  type MsgRunResult,
  type MsgTopology,
} from '../kernel/prog-run.js';
import { testRun, type TestRunOptions, type TestRunResult } from '../kernel/testrun.js';
import { concatBytes } from '../bytes.js';

export {
  BpfMsgRunError,
  DEFAULT_MSG_INPUT,
  defaultMsgTopology,
  runSkMsg,
  type KeyInput,
  type MapEntryInput,
  type MsgProgRun,
  type MsgRedirect,
  type MsgRunOptions,
  type MsgRunResult,
  type MsgTopology,
  type MsgVerdict,
  type SkbRunResult,
} from '../kernel/prog-run.js';

// ---- objects and programs -----------------------------------------------------------------------------------

/** Loads a BPF ELF object from a path or from its bytes (throws BpfLoadError naming the file and section). */
export function loadObject(source: string | Uint8Array): CollectionSpec {
  if (typeof source === 'string') return loadCollection(new Uint8Array(readFileSync(source)), { file: source });
  return loadCollection(source);
}

/** A program of the object by name (throws listing the programs when there is none of that name). */
export function programOf(obj: CollectionSpec, name: string | ProgramSpec): ProgramSpec {
  if (typeof name !== 'string') return name;
  const p = obj.programs.find((x) => x.name === name);
  if (!p) throw new Error(`no program named "${name}" (programs: ${obj.programs.map((x) => x.name).join(', ') || 'none'})`);
  return p;
}

// ---- arbitraries: messages and sends ------------------------------------------------------------------------

export interface MessageOptions {
  /** Default 1 (an sk_msg program never runs on 0 bytes). */
  minLength?: number;
  /** Default 512. Messages above 32 KiB span several scatterlist elements. */
  maxLength?: number;
}

/** A message: arbitrary bytes. */
export function message(opts: MessageOptions = {}): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ minLength: opts.minLength ?? 1, maxLength: opts.maxLength ?? 512 });
}

/** `bytes` cut into at most `maxParts` non-empty consecutive pieces (shrinks towards one piece). */
export function splitBytes(bytes: Uint8Array, maxParts = 4): fc.Arbitrary<Uint8Array[]> {
  if (bytes.length <= 1 || maxParts <= 1) return fc.constant([bytes]);
  return fc
    .uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: Math.min(maxParts - 1, bytes.length - 1) })
    .map((cuts) => {
      const at = [0, ...cuts.sort((a, b) => a - b), bytes.length];
      return at.slice(1).map((end, i) => bytes.subarray(at[i]!, end));
    });
}

export interface SendsOptions {
  /** At most this many sendmsg calls (default 4). */
  maxSends?: number;
  /** At most this many iovecs per call (default 3). */
  maxIovecs?: number;
}

/** `msg` split into sendmsg calls, each split into iovecs: concatenating everything gives `msg` back. */
export function sendsOf(msg: Uint8Array, opts: SendsOptions = {}): fc.Arbitrary<Uint8Array[][]> {
  const maxIov = opts.maxIovecs ?? 3;
  return splitBytes(msg, opts.maxSends ?? 4).chain((parts) => fc.tuple(...parts.map((p) => splitBytes(p, maxIov))));
}

/** A message together with a split into sends and iovecs. */
export function messageSends(opts: MessageOptions & SendsOptions = {}): fc.Arbitrary<{ message: Uint8Array; sends: Uint8Array[][] }> {
  return message(opts).chain((m) => sendsOf(m, opts).map((sends) => ({ message: m, sends })));
}

// ---- arbitraries: packets ------------------------------------------------------------------------------------

export type PacketKind = 'ipv4-tcp' | 'ipv4-udp' | 'ipv6-tcp' | 'ipv6-udp' | 'raw';

export interface PacketOptions {
  /** Which headers to build (default: all kinds). 'raw' is any bytes from 14 on (an Ethernet header's worth). */
  kinds?: readonly PacketKind[];
  /** Payload bytes after the transport header, at most (default 64). */
  maxPayload?: number;
}

const be16 = (v: number): number[] => [(v >>> 8) & 0xff, v & 0xff];

/** An Ethernet frame as BPF_PROG_TEST_RUN takes it: Ethernet + IPv4/IPv6 + TCP/UDP with random fields, or raw bytes. */
export function packet(opts: PacketOptions = {}): fc.Arbitrary<Uint8Array> {
  const kinds = opts.kinds ?? ['ipv4-tcp', 'ipv4-udp', 'ipv6-tcp', 'ipv6-udp', 'raw'];
  const maxPayload = opts.maxPayload ?? 64;
  const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
  const port = fc.integer({ min: 0, max: 65535 });
  const payload = fc.uint8Array({ maxLength: maxPayload });
  const build = (kind: PacketKind): fc.Arbitrary<Uint8Array> => {
    if (kind === 'raw') return fc.uint8Array({ minLength: 14, maxLength: 14 + 60 + maxPayload });
    const v6 = kind.startsWith('ipv6');
    const tcp = kind.endsWith('tcp');
    return fc
      .record({
        dst: mac,
        src: mac,
        saddr: fc.uint8Array({ minLength: v6 ? 16 : 4, maxLength: v6 ? 16 : 4 }),
        daddr: fc.uint8Array({ minLength: v6 ? 16 : 4, maxLength: v6 ? 16 : 4 }),
        ttl: fc.integer({ min: 1, max: 255 }),
        sport: port,
        dport: port,
        seq: fc.integer({ min: 0, max: 0xffffffff }),
        flags: fc.integer({ min: 0, max: 0xff }),
        payload,
      })
      .map((f) => {
        const l4 = tcp
          ? [...be16(f.sport), ...be16(f.dport), (f.seq >>> 24) & 0xff, (f.seq >>> 16) & 0xff, (f.seq >>> 8) & 0xff, f.seq & 0xff, 0, 0, 0, 0, 0x50, f.flags, ...be16(65535), 0, 0, 0, 0]
          : [...be16(f.sport), ...be16(f.dport), ...be16(8 + f.payload.length), 0, 0];
        const l4len = l4.length + f.payload.length;
        const proto = tcp ? 6 : 17;
        const l3 = v6
          ? [0x60, 0, 0, 0, ...be16(l4len), proto, f.ttl, ...f.saddr, ...f.daddr]
          : [0x45, 0, ...be16(20 + l4len), 0, 0, 0x40, 0, f.ttl, proto, 0, 0, ...f.saddr, ...f.daddr];
        return Uint8Array.from([...f.dst, ...f.src, ...(v6 ? [0x86, 0xdd] : [0x08, 0x00]), ...l3, ...l4, ...f.payload]);
      });
  };
  return fc.oneof(...kinds.map(build));
}

// ---- arbitraries: map contents and topologies --------------------------------------------------------------

export interface MapContentsOptions {
  /** At most this many entries (default min(8, max_entries)). */
  maxEntries?: number;
  /** Keys (default: array maps 0..max_entries-1, other maps any key_size bytes). */
  key?: fc.Arbitrary<Uint8Array | number | bigint>;
  /** Values (default: any value_size bytes). */
  value?: fc.Arbitrary<Uint8Array | number | bigint>;
}

const ARRAY_LIKE = new Set([2, 6]); // BPF_MAP_TYPE_ARRAY, PERCPU_ARRAY

/** Entries for a plain map (for MsgRunOptions.mapEntries): distinct keys, values of the right size. */
export function mapContents(spec: MapSpec, opts: MapContentsOptions = {}): fc.Arbitrary<MapEntryInput[]> {
  if (spec.type === BPF_MAP_TYPE_SOCKMAP || spec.type === BPF_MAP_TYPE_SOCKHASH) {
    throw new Error(`mapContents: ${spec.name} is a sock map; use sockTopology for its slots`);
  }
  const key =
    opts.key ??
    (ARRAY_LIKE.has(spec.type) ? fc.integer({ min: 0, max: spec.maxEntries - 1 }) : fc.uint8Array({ minLength: spec.keySize, maxLength: spec.keySize }));
  const value = opts.value ?? fc.uint8Array({ minLength: spec.valueSize, maxLength: spec.valueSize });
  const keyId = (k: Uint8Array | number | bigint): string => (k instanceof Uint8Array ? Buffer.from(k).toString('hex') : String(k));
  return fc
    .uniqueArray(fc.tuple(key, value), { maxLength: opts.maxEntries ?? Math.min(8, spec.maxEntries), selector: ([k]) => keyId(k) })
    .map((es) => es.map(([k, v]) => ({ map: spec.name, key: k, value: v })));
}

export interface TopologyOptions {
  /** Socket names to place (default the default topology's c1, p1, c2, p2). */
  sockets?: readonly string[];
  /** Keys considered per sock map: 0..keys-1 (default min(max_entries, 4)). */
  keys?: number;
}

/**
 * Socket topologies for an sk_msg or sk_skb program: the default connections (c1→p1, c2→p2, c1 sends), the program
 * attached as by default, and each key of each sock map empty or holding any socket — except that the
 * sender always sits at key 0 of the attached map, so the program runs, and a socket appears at most once in
 * the attached map (the kernel refuses a second insert with EBUSY). sk_skb programs are not attached: any
 * socket may sit anywhere.
 */
export function sockTopology(obj: CollectionSpec, prog: ProgramSpec | string, opts: TopologyOptions = {}): fc.Arbitrary<MsgTopology> {
  const p = programOf(obj, prog);
  const base = defaultMsgTopology(obj, p);
  const names = opts.sockets ?? ['c1', 'p1', 'c2', 'p2'];
  const sockMaps = runMaps(obj).filter((m) => m.type === BPF_MAP_TYPE_SOCKMAP || m.type === BPF_MAP_TYPE_SOCKHASH);
  const cells: { map: string; key: number }[] = [];
  for (const m of sockMaps) {
    const n = Math.min(opts.keys ?? 4, m.maxEntries, m.keySize >= 4 ? Infinity : 2 ** (8 * m.keySize));
    for (let key = 0; key < n; key++) if (!(base.attach.length > 0 && m.name === base.attach[0] && key === 0)) cells.push({ map: m.name, key });
  }
  const attached = new Set(base.attach);
  return fc.tuple(...cells.map(() => fc.option(fc.constantFrom(...names), { nil: undefined }))).map((pick) => {
    // A socket may sit only once in the maps the program is attached to (a second insert is EBUSY in the
    // kernel): later picks of a socket already placed there leave the slot empty.
    // (sk_skb programs are not attached: no slot is forced.)
    const placed = new Set([base.sender]);
    const slots: MsgTopology['slots'] = base.attach.length > 0 ? [{ map: base.attach[0]!, key: 0, socket: base.sender }] : [];
    cells.forEach((c, i) => {
      const s = pick[i];
      if (s === undefined) return;
      if (attached.has(c.map)) {
        if (placed.has(s)) return;
        placed.add(s);
      }
      slots.push({ ...c, socket: s });
    });
    return { ...base, slots };
  });
}

/** The socket at `map`[`key`] in a topology, or null when that slot is empty. */
export function socketAt(topology: MsgTopology, map: string, key: number): string | null {
  for (let i = topology.slots.length - 1; i >= 0; i--) {
    const s = topology.slots[i]!;
    if (s.map === map && !(s.key instanceof Uint8Array) && BigInt(s.key) === BigInt(key)) return s.socket;
  }
  return null;
}

/** The other end of a socket's connection. */
export function peerOf(topology: MsgTopology, socket: string): string {
  for (const c of topology.connections) {
    if (c.client === socket) return c.peer;
    if (c.peer === socket) return c.client;
  }
  throw new Error(`no socket "${socket}" in the topology`);
}

/** Where bytes redirected to `socket` end up: ingress → that socket's reader; egress → its peer's. */
export function redirectDestination(topology: MsgTopology, socket: string, direction: 'ingress' | 'egress'): string {
  return direction === 'ingress' ? socket : peerOf(topology, socket);
}

// ---- runners ----------------------------------------------------------------------------------------------

/**
 * Runs an sk_msg program of `obj` through the socket model on `opts.data` (one send) or `opts.sends`
 * (several sendmsg calls of iovecs). See MsgRunResult for what comes back.
 */
export function runMsg(obj: CollectionSpec, prog: ProgramSpec | string, opts: MsgRunOptions = {}): MsgRunResult {
  return runSkMsg(obj, programOf(obj, prog), opts);
}

/**
 * Runs an sk_skb program (stream parser, stream verdict or skb verdict) on one skb holding `opts.data`, received
 * by the sender's peer (p1 by default): verdict or parser length, redirect target, bytes after the program.
 */
export function runSkb(obj: CollectionSpec, prog: ProgramSpec | string, opts: Omit<MsgRunOptions, 'sends'> = {}): SkbRunResult {
  return runSkSkbOnce(obj, programOf(obj, prog), opts);
}

/** Runs a socket filter / tc / xdp / cgroup skb program on a packet like BPF_PROG_TEST_RUN (retval, dataOut, insns, trace). */
export function runPacket(obj: CollectionSpec, prog: ProgramSpec | string, pkt: Uint8Array, opts: Omit<TestRunOptions, 'collection'> = {}): TestRunResult {
  return testRun(programOf(obj, prog), pkt, { ...opts, collection: obj });
}

/** True when two byte arrays are equal (for property predicates). */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Concatenation of the sends (what the sender handed to the kernel). */
export function concatSends(sends: readonly (readonly Uint8Array[])[]): Uint8Array {
  return concatBytes(sends.flat());
}
