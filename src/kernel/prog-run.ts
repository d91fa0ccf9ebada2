// Running one sk_msg verdict program on one message (or a few sends) through the socket model: what
// `bpfvm run` and `bpfvm bench` do for sk_msg programs, which the kernel's BPF_PROG_TEST_RUN refuses, and what
// the property-testing kit (src/testing) builds on.
//
// Set-up, in the kernel's order: a Kernel with the object's maps (plus a 4-slot SOCKMAP "bpfvm_run_sockmap"
// when the object has no sock map at all); plain map entries written; the program loaded and attached
// (BPF_SK_MSG_VERDICT) to its maps; the TCP connections made; the sock map slots filled (sockets inherit the
// program at insert); then the sends from the sender socket. Every program run during the sends is recorded
// right after it ran (retval, verdict, redirect target, apply/cork bytes, the message bytes after
// pull/push/pop); afterwards every socket is drained with recv() to report the bytes delivered to it.
//
// The default topology (defaultMsgTopology) is test_sockmap's: listeners on 127.0.0.1:10000 and :10001,
// c1 → p1 and c2 → p2, c1 sends; every SOCKMAP/SOCKHASH of the object holds key 0 = c1, 1 = p1, 2 = c2,
// 3 = p2 (keys that fit max_entries; SOCKHASH keys are those integers little-endian in key_size bytes); the
// program is attached to the first sock map it refers to (none: the object's first sock map).

import type { CollectionSpec, MapSpec, ProgramSpec } from '../spec.js';
import type { RunResult, Tier } from '../../vm/interpreter.js';
import { BPF_PSEUDO_MAP_IDX } from '../../vm/isa.js';
import { Kernel, type KProgram, type MsgRunEvent } from './model.js';
import { SockMapBase } from './sockmap.js';
import { BPF_F_INGRESS, PageFrag, SkMsg, __SK_DROP, __SK_PASS, __SK_REDIRECT } from './skmsg.js';
import { Errno, type Socket } from './socket.js';
import type { BpfMap } from './maps/index.js';
import { concatBytes } from '../bytes.js';
import { ringbufRecords, type RingbufRecord } from './maps/ringbuf.js';

export const BPF_PROG_TYPE_SK_MSG = 16;
export const BPF_PROG_TYPE_SK_SKB = 14;
export const BPF_SK_MSG_VERDICT = 7;
export const BPF_MAP_TYPE_SOCKMAP = 15;
export const BPF_MAP_TYPE_SOCKHASH = 18;
/** Name of the sock map added when the object has none. */
export const RUN_SOCKMAP_NAME = 'bpfvm_run_sockmap';

/** Default message of `bpfvm run` for sk_msg programs: 64 bytes 00 01 02 … 3f (so moved bytes are visible). */
export const DEFAULT_MSG_INPUT = (): Uint8Array => Uint8Array.from({ length: 64 }, (_, i) => i);

/** A set-up or input problem, named precisely (program, map, key, socket). */
export class BpfMsgRunError extends Error {
  override name = 'BpfMsgRunError';
}

export type KeyInput = number | bigint | Uint8Array;

/** Sockets, sock map slots and attachments for a run. */
export interface MsgTopology {
  /** TCP connections over loopback: `client` connects to a listener on `port`, `peer` is the accepted socket. */
  connections: { client: string; peer: string; port: number }[];
  /** The socket whose sends run the program. */
  sender: string;
  /**
   * Maps the program is attached to (BPF_SK_MSG_VERDICT) before any socket is inserted. As in the kernel, a
   * socket takes the program from one map only: inserting it again into a map with a program fails (EBUSY).
   */
  attach: string[];
  /** Sock map entries, inserted in this order (BPF_ANY). */
  slots: { map: string; key: KeyInput; socket: string }[];
}

/** An entry written into a plain map before the program is loaded. Numbers are little-endian in the map's sizes. */
export interface MapEntryInput {
  map: string;
  key: KeyInput;
  value: KeyInput;
}

export interface MsgRunOptions {
  /** One send() of these bytes (default DEFAULT_MSG_INPUT). Ignored when `sends` is given. */
  data?: Uint8Array;
  /** Several sendmsg() calls from the sender, each a list of iovecs. */
  sends?: readonly (readonly Uint8Array[])[];
  /** Default: defaultMsgTopology(collection, program). */
  topology?: MsgTopology;
  /** Plain map contents written before the run. */
  mapEntries?: readonly MapEntryInput[];
  /** Timed extra runs of the program on fresh copies of the first send's message (0 or absent: 1). */
  repeat?: number;
  tier?: Tier;
}

export type MsgVerdict = 'pass' | 'drop' | 'redirect';

export interface MsgRedirect {
  /** The sock map the redirect helper used. */
  map: string;
  /** The key: a number for keys of up to 6 bytes (little-endian), else lowercase hex. */
  key: number | string;
  /** The helper's flags argument (0 or BPF_F_INGRESS = 1). */
  flags: number;
  /** 'ingress' (BPF_F_INGRESS: the target's receive queue) or 'egress' (sent out on the target). */
  direction: 'ingress' | 'egress';
  /** Name of the target socket in the topology. */
  socket: string;
}

/** One run of the program (sk_psock_msg_verdict). */
export interface MsgProgRun {
  /** r0 as a u32 (SK_PASS = 1, SK_DROP = 0). */
  retval: number;
  /** What the kernel makes of it: SK_PASS with a redirect target → redirect, SK_PASS → pass, else drop. */
  verdict: MsgVerdict;
  /** The target when verdict is redirect (also when a held message keeps an earlier run's target). */
  redirect: MsgRedirect | null;
  /** bpf_msg_apply_bytes value in the message after the run (0 = the whole message). */
  applyBytes: number;
  /** bpf_msg_cork_bytes value in the message after the run (0 = none). */
  corkBytes: number;
  /** Message size before and after the run (push/pop change it). */
  sizeIn: number;
  sizeOut: number;
  /** The message bytes after the run: after pull/push/pop and direct writes. */
  dataOut: Uint8Array;
  insns: number;
}

export interface MsgRunResult extends MsgProgRun {
  /** Every program run during the sends, in order; the top-level fields are the first one's. */
  runs: MsgProgRun[];
  /** Each send: the bytes handed to sendmsg and its result (bytes, or -errno). */
  sends: { bytes: number; ret: number }[];
  /** Bytes each socket's reader got by recv() after the sends (sockets that got nothing are listed with 0 bytes). */
  delivered: Record<string, Uint8Array>;
  /** Bytes held back in the sender's cork message. */
  held: number;
  /** Bytes sitting unsent in a socket's TCP write queue (MSG_MORE from an apply_bytes chunk), by socket. */
  unsent: Record<string, number>;
  /** bpf_trace_printk messages. */
  trace: string[];
  /** Ring buffer samples a consumer would read after the sends (before the timed runs). */
  ringbuf: RingbufRecord[];
  /** Timed runs and their average duration in ns. */
  repeat: number;
  duration: number;
}

// ---- topology -----------------------------------------------------------------------------------------------

const isSockMap = (m: MapSpec): boolean => m.type === BPF_MAP_TYPE_SOCKMAP || m.type === BPF_MAP_TYPE_SOCKHASH;

/** The maps a program refers to with lddw (BPF_PSEUDO_MAP_IDX), in order of first use. */
export function referencedMaps(prog: ProgramSpec, maps: readonly MapSpec[]): MapSpec[] {
  const out: MapSpec[] = [];
  const dv = new DataView(prog.insns.buffer, prog.insns.byteOffset, prog.insns.byteLength);
  for (let o = 0; o + 16 <= prog.insns.length; o += 8) {
    if (prog.insns[o] === 0x18 && prog.insns[o + 1]! >> 4 === BPF_PSEUDO_MAP_IDX) {
      const m = maps[dv.getInt32(o + 4, true)];
      if (m !== undefined && !out.includes(m)) out.push(m);
      o += 8;
    }
  }
  return out;
}

/** The sock maps a run uses: the object's, or the one added sock map when it has none. */
export function runMaps(collection: Pick<CollectionSpec, 'maps'>): MapSpec[] {
  if (collection.maps.some(isSockMap)) return [...collection.maps];
  return [
    ...collection.maps,
    { name: RUN_SOCKMAP_NAME, type: BPF_MAP_TYPE_SOCKMAP, typeName: 'sockmap', keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, section: '.maps' },
  ];
}

/** The default topology (see the file header). */
export function defaultMsgTopology(collection: Pick<CollectionSpec, 'maps'>, prog: ProgramSpec): MsgTopology {
  const maps = runMaps(collection);
  const sockMaps = maps.filter(isSockMap);
  // One map only: a socket can take an sk_msg program from one map (a second insert into a map with a program
  // fails with EBUSY, as in the kernel).
  // sk_skb programs are not attached: they run on their own on one skb (runSkSkbOnce).
  const attach = prog.type === BPF_PROG_TYPE_SK_SKB ? [] : [(referencedMaps(prog, maps).find(isSockMap) ?? sockMaps[0]!).name];
  const order = ['c1', 'p1', 'c2', 'p2'];
  const slots: MsgTopology['slots'] = [];
  for (const m of sockMaps) {
    order.forEach((socket, key) => {
      if (key < m.maxEntries && (m.keySize >= 4 || key < 2 ** (8 * m.keySize))) slots.push({ map: m.name, key, socket });
    });
  }
  return {
    connections: [
      { client: 'c1', peer: 'p1', port: 10000 },
      { client: 'c2', peer: 'p2', port: 10001 },
    ],
    sender: 'c1',
    attach,
    slots,
  };
}

// ---- set-up -------------------------------------------------------------------------------------------------

function encode(v: KeyInput, size: number, what: string): Uint8Array {
  if (v instanceof Uint8Array) {
    if (v.length > size) throw new BpfMsgRunError(`${what}: ${v.length} bytes given, the map takes ${size}`);
    const out = new Uint8Array(size);
    out.set(v);
    return out;
  }
  let x = BigInt(v);
  if (x < 0n || (size < 8 && x >= 1n << BigInt(8 * size)) || x >= 1n << 64n) throw new BpfMsgRunError(`${what}: ${v} does not fit in ${size} bytes`);
  const out = new Uint8Array(size);
  for (let i = 0; i < size && i < 8; i++, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
}

function keyForReport(key: Uint8Array): number | string {
  if (key.length <= 6) {
    let v = 0;
    for (let i = key.length - 1; i >= 0; i--) v = v * 256 + key[i]!;
    return v;
  }
  return Buffer.from(key).toString('hex');
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(Errno).map(([k, v]) => [v, k]));
const errnoText = (r: number): string => ERRNO_NAMES.get(-r) ?? `errno ${-r}`;

/** A kernel with the topology built and the program attached; the building block of runs and benchmarks. */
export interface MsgSetup {
  kernel: Kernel;
  program: KProgram;
  sockets: Map<string, Socket>;
  sender: Socket;
  trace: string[];
}

export function setupMsgRun(collection: CollectionSpec, prog: ProgramSpec, opts: Omit<MsgRunOptions, 'data' | 'sends' | 'repeat'> = {}): MsgSetup {
  if (prog.type !== BPF_PROG_TYPE_SK_MSG && prog.type !== BPF_PROG_TYPE_SK_SKB) {
    throw new BpfMsgRunError(`program ${prog.name} is a ${prog.typeName} program, not sk_msg or sk_skb`);
  }
  if (prog.loadError !== undefined) throw new BpfMsgRunError(`program ${prog.name} cannot run: ${prog.loadError}`);
  const topo = opts.topology ?? defaultMsgTopology(collection, prog);
  const kernel = new Kernel(opts.tier !== undefined ? { tier: opts.tier } : {});
  // The Kernel's generic helpers (sock-helpers.ts): virtual clock, seeded PRNG, trace_printk captured here.
  const trace = kernel.helperOutput.trace;
  const specs = runMaps(collection);
  const maps = kernel.createMaps(specs);
  const mapNamed = (name: string, what: string): BpfMap => {
    const i = specs.findIndex((m) => m.name === name);
    if (i < 0) throw new BpfMsgRunError(`${what}: no map named "${name}" (maps: ${specs.map((m) => m.name).join(', ')})`);
    return maps.get(i);
  };
  for (const e of opts.mapEntries ?? []) {
    const m = mapNamed(e.map, 'map entry');
    if (m instanceof SockMapBase) throw new BpfMsgRunError(`map entry: ${e.map} is a sock map; put sockets in it with topology slots`);
    const what = `map ${e.map}`;
    const r = kernel.mapUpdate(m, encode(e.key, m.keySize, `${what} key`), encode(e.value, m.valueSize, `${what} value`));
    if (r < 0) throw new BpfMsgRunError(`${what}: update of key ${String(e.key instanceof Uint8Array ? Buffer.from(e.key).toString('hex') : e.key)} fails with ${errnoText(r)}`);
  }
  const skMsg = prog.type === BPF_PROG_TYPE_SK_MSG;
  const program = kernel.loadProgram({ insns: prog.insns, type: prog.type, name: prog.name, expectedAttachType: prog.attachType ?? (skMsg ? BPF_SK_MSG_VERDICT : 0) });
  if (!skMsg && topo.attach.length > 0) throw new BpfMsgRunError(`attach: ${prog.name} is an sk_skb program, which runs on its own on one skb (it is not attached)`);
  for (const name of topo.attach) {
    const m = mapNamed(name, 'attach');
    if (!(m instanceof SockMapBase)) throw new BpfMsgRunError(`attach: ${name} is not a SOCKMAP or SOCKHASH`);
    const r = kernel.attach(program, m, BPF_SK_MSG_VERDICT);
    if (r < 0) throw new BpfMsgRunError(`attach ${prog.name} to ${name} fails with ${errnoText(r)}`);
  }
  const sockets = new Map<string, Socket>();
  const named = (s: Socket, name: string): void => {
    if (sockets.has(name)) throw new BpfMsgRunError(`topology: socket name "${name}" is used twice`);
    s.name = name;
    sockets.set(name, s);
  };
  for (const c of topo.connections) {
    const l = kernel.listen(c.port);
    l.name = `listener:${c.port}`;
    const client = kernel.connect(l);
    if (typeof client === 'number') throw new BpfMsgRunError(`topology: connect to port ${c.port} fails with ${errnoText(client)}`);
    const peer = kernel.accept(l);
    if (typeof peer === 'number') throw new BpfMsgRunError(`topology: accept on port ${c.port} fails with ${errnoText(peer)}`);
    named(client, c.client);
    named(peer, c.peer);
  }
  const sock = (name: string, what: string): Socket => {
    const s = sockets.get(name);
    if (s === undefined) throw new BpfMsgRunError(`${what}: no socket "${name}" (sockets: ${[...sockets.keys()].join(', ')})`);
    return s;
  };
  for (const sl of topo.slots) {
    const m = mapNamed(sl.map, 'slot');
    if (!(m instanceof SockMapBase)) throw new BpfMsgRunError(`slot: ${sl.map} is not a SOCKMAP or SOCKHASH`);
    const key = encode(sl.key, m.keySize, `slot ${sl.map} key`);
    const r = kernel.mapUpdateSocket(m, key, sock(sl.socket, `slot ${sl.map}:${String(sl.key)}`));
    if (r < 0) {
      const why =
        r === -Errno.EBUSY
          ? ' (the socket already has an sk_msg program from a map: it can sit in only one slot of the maps the program is attached to)'
          : r === -Errno.E2BIG
            ? ` (max_entries is ${m.maxEntries})`
            : '';
      throw new BpfMsgRunError(`slot ${sl.map}:${keyForReport(key)} = ${sl.socket} fails with ${errnoText(r)}${why}`);
    }
  }
  const sender = sock(topo.sender, 'sender');
  if (skMsg && sender.psock?.progs.msgParser !== program) {
    throw new BpfMsgRunError(
      `the sender ${topo.sender} is not in a sock map the program is attached to (${topo.attach.join(', ') || 'none'}), so ${prog.name} would not run on its sends`,
    );
  }
  return { kernel, program, sockets, sender, trace };
}

// ---- running ------------------------------------------------------------------------------------------------

const VERDICTS: Record<number, MsgVerdict> = { [__SK_PASS]: 'pass', [__SK_DROP]: 'drop', [__SK_REDIRECT]: 'redirect' };

function describeRun(e: MsgRunEvent, sizeIn: number, redirects: WeakMap<SkMsg, MsgRedirect>): MsgProgRun {
  const msg = e.msg;
  const verdict = VERDICTS[e.result.verdict] ?? 'drop';
  if (e.redirect !== null) {
    const target = msg.skRedir as Socket | null;
    redirects.set(msg, {
      map: e.redirect.map.name,
      key: keyForReport(e.redirect.key.slice()),
      flags: e.redirect.flags,
      direction: (e.redirect.flags & BPF_F_INGRESS) !== 0 ? 'ingress' : 'egress',
      socket: target?.name ?? '?',
    });
  }
  return {
    retval: Number(e.result.r0 & 0xffffffffn),
    verdict,
    redirect: verdict === 'redirect' ? (redirects.get(msg) ?? null) : null,
    applyBytes: msg.applyBytes,
    corkBytes: msg.corkBytes,
    sizeIn,
    sizeOut: msg.size,
    dataOut: msg.bytes(),
    insns: e.result.insns,
  };
}


/**
 * A run set up once whose program can be run many times on fresh copies of one message (for --repeat and
 * bpfvm bench): each runOnce builds the message the way the first send does (same element layout) and runs the
 * program for the sender.
 */
export interface PreparedMsgRun {
  readonly setup: MsgSetup;
  runOnce(): RunResult & { verdict: number };
}

export function prepareMsgRun(setup: MsgSetup, data: Uint8Array): PreparedMsgRun {
  if (data.length === 0) throw new BpfMsgRunError('an sk_msg program runs on at least 1 byte (a send of 0 bytes does not run it)');
  const { kernel, program, sender } = setup;
  // One page fragment, restarted at offset 0 for every copy: the kernel reuses the task's fragment page the
  // same way once the previous message let go of it (skb_page_frag_refill), and the layout is that of a fresh page.
  const frag = new PageFrag();
  // One sk_msg too: free() leaves it as sk_msg_init() does (everything zeroed), like a fresh one.
  const msg = new SkMsg();
  return {
    setup,
    runOnce: () => {
      frag.offset = 0;
      const r = msg.appendFromUser(frag, data);
      // More than one sk_msg holds (17 elements): the first message's worth, like the first run of the send.
      if (r.err !== 0) throw new BpfMsgRunError(`cannot build an sk_msg of ${data.length} bytes (error ${r.err})`);
      const saved = kernel.msgRunObserver;
      let res: (RunResult & { verdict: number }) | null = null;
      kernel.msgRunObserver = (e) => void (res = { ...e.result });
      try {
        kernel.runMsgProgram(program, msg, sender);
      } finally {
        kernel.msgRunObserver = saved;
        msg.free();
      }
      return res!;
    },
  };
}

/** Runs an sk_msg program on a message (or several sends) through the socket model. */
export function runSkMsg(collection: CollectionSpec, prog: ProgramSpec, opts: MsgRunOptions = {}): MsgRunResult {
  const setup = setupMsgRun(collection, prog, opts);
  const { kernel, sender, sockets } = setup;
  const sends = opts.sends ?? [[opts.data ?? DEFAULT_MSG_INPUT()]];
  if (sends.length === 0 || concatBytes(sends.map(concatBytes)).length === 0) {
    throw new BpfMsgRunError('nothing to send: an sk_msg program runs on at least 1 byte (a send of 0 bytes does not run it)');
  }
  const runs: MsgProgRun[] = [];
  const redirects = new WeakMap<SkMsg, MsgRedirect>();
  const sizes = new WeakMap<SkMsg, number>();
  kernel.msgRunObserver = (e) => runs.push(describeRun(e, sizes.get(e.msg) ?? e.msg.size, redirects));
  // The size before the run: tcp_bpf_send_verdict runs the program right after the copy, so the message's size
  // at the start of the run is what the copy left; record it by wrapping the VM entry through the env hook.
  const origRun = kernel.env.runMsgProgram;
  kernel.env.runMsgProgram = (p, msg, sk) => {
    sizes.set(msg, msg.size);
    return origRun(p, msg, sk);
  };
  const sendResults: { bytes: number; ret: number }[] = [];
  try {
    for (const iov of sends) {
      const bytes = iov.reduce((a, b) => a + b.length, 0);
      sendResults.push({ bytes, ret: kernel.sendmsg(sender, iov) });
    }
  } finally {
    kernel.msgRunObserver = null;
    kernel.env.runMsgProgram = origRun;
  }
  if (runs.length === 0) throw new BpfMsgRunError(`${prog.name} did not run (the sends were ${sendResults.map((s) => s.ret).join(', ')})`);
  const delivered: Record<string, Uint8Array> = {};
  const unsent: Record<string, number> = {};
  for (const [name, s] of sockets) {
    const parts: Uint8Array[] = [];
    for (;;) {
      const got = kernel.recv(s, 1 << 20);
      if (typeof got === 'number' || got.length === 0) break;
      parts.push(got);
    }
    delivered[name] = concatBytes(parts);
    if (s.writeQueueBytes > 0) unsent[name] = s.writeQueueBytes;
  }
  const held = sender.psock?.cork?.size ?? 0;
  const trace = [...setup.trace];
  const ringbuf = ringbufRecords(setup.kernel.maps!);
  // Timing: `repeat` runs of the program on fresh copies of the first send's message.
  const repeat = Math.max(1, opts.repeat ?? 1);
  const prepared = prepareMsgRun(setup, concatBytes(sends[0]!));
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < repeat; k++) prepared.runOnce();
  const duration = Math.round(Number(process.hrtime.bigint() - t0) / repeat);
  return { ...runs[0]!, runs, sends: sendResults, delivered, held, unsent, trace, ringbuf, repeat, duration };
}

// ---- sk_skb: one skb through a parser or verdict program --------------------------------------------------------

/** BPF_SK_SKB_STREAM_PARSER: the program's result is a message length, not a verdict. */
export const BPF_SK_SKB_STREAM_PARSER = 4;

export interface SkbRunResult {
  /** 'stream_parser' (r0 = message length, or 0 = need more, < 0 = error) or 'verdict' (stream/skb verdict). */
  role: 'stream_parser' | 'verdict';
  /** r0 as a u32 (SK_PASS = 1, SK_DROP = 0; parsers: the length). */
  retval: number;
  /** sk_psock_map_verd of r0 for verdict programs; null for parsers. */
  verdict: MsgVerdict | null;
  redirect: MsgRedirect | null;
  /** skb->sk: the socket the skb arrived at (the sender's peer). */
  socket: string;
  sizeIn: number;
  sizeOut: number;
  /** The skb bytes after the program (store_bytes, change_tail/head, adjust_room). */
  dataOut: Uint8Array;
  insns: number;
  trace: string[];
  /** Ring buffer samples a consumer would read after the run (before the timed runs). */
  ringbuf: RingbufRecord[];
  repeat: number;
  duration: number;
}

/**
 * Runs an sk_skb program on ONE skb holding `data` (Kernel.runSkSkb): the skb the sender's bytes become at its
 * peer (default c1 → p1; skb->sk = p1; payload in page fragments, data_end - data = 0, as TCP delivers it on
 * loopback). The sockets sit in the sock maps as the topology says, so redirects find their targets; nothing is
 * delivered (the receive path with strparser and backlog is the socket model's, e.g. through Kernel.send).
 */
export function runSkSkbOnce(collection: CollectionSpec, prog: ProgramSpec, opts: Omit<MsgRunOptions, 'sends'> = {}): SkbRunResult {
  if (prog.type !== BPF_PROG_TYPE_SK_SKB) throw new BpfMsgRunError(`program ${prog.name} is a ${prog.typeName} program, not sk_skb`);
  const data = opts.data ?? DEFAULT_MSG_INPUT();
  const setup = setupMsgRun(collection, prog, opts);
  const receiver = setup.sender.peer;
  if (receiver === null) throw new BpfMsgRunError(`the sender ${setup.sender.name} is not connected`);
  const run = () => setup.kernel.runSkSkb(setup.program, data, { sock: receiver });
  const r = run(); // prepareSkbRun's runOnce, keeping the whole outcome
  const trace = [...setup.trace];
  const ringbuf = ringbufRecords(setup.kernel.maps!);
  const repeat = Math.max(1, opts.repeat ?? 1);
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < repeat; k++) run();
  const duration = Math.round(Number(process.hrtime.bigint() - t0) / repeat);
  const parser = prog.attachType === BPF_SK_SKB_STREAM_PARSER;
  const verdict = parser ? null : (VERDICTS[r.verdict] ?? 'drop');
  return {
    role: parser ? 'stream_parser' : 'verdict',
    retval: r.ret >>> 0,
    verdict,
    redirect:
      !parser && r.redirect !== null
        ? {
            map: r.redirect.map.name,
            key: keyForReport(r.redirect.key.slice()),
            flags: r.redirect.flags,
            direction: (r.redirect.flags & BPF_F_INGRESS) !== 0 ? 'ingress' : 'egress',
            socket: r.redirect.target.name,
          }
        : null,
    socket: receiver.name,
    sizeIn: data.length,
    sizeOut: r.data.length,
    dataOut: r.data,
    insns: r.insns,
    trace,
    ringbuf,
    repeat,
    duration,
  };
}

/** sk_skb counterpart of prepareMsgRun: each runOnce runs the program on a fresh skb holding `data`, received by the sender's peer. */
export function prepareSkbRun(setup: MsgSetup, data: Uint8Array): { readonly setup: MsgSetup; runOnce(): RunResult } {
  const receiver = setup.sender.peer;
  if (receiver === null) throw new BpfMsgRunError(`the sender ${setup.sender.name} is not connected`);
  return { setup, runOnce: () => setup.kernel.runSkSkb(setup.program, data, { sock: receiver }) };
}
