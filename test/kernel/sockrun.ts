/**
 * Socket scenario oracle: run sockmap/sockhash scenarios against the REAL host kernel over loopback sockets,
 * so that bpfvm's sockmap model can be compared with Linux byte for byte (send() return values, bytes arriving
 * at each socket, map update errnos, program run counts).
 *
 * The work is done by test/kernel/sockrun.c (raw bpf(2) + socket syscalls, libc and <linux/bpf.h> only). It is
 * compiled on first use into a cache directory keyed by a hash of its source (same scheme as oracle.ts does
 * for bpfrun.c) and run once per scenario: the scenario goes to its stdin as text, one JSON object comes back.
 * The file header of sockrun.c documents the text format and the exact semantics of every step (timeouts,
 * the final drain, the cgroup used for sock_ops, ...); the types below mirror it one to one.
 *
 * Model of a scenario:
 *  - `maps` are created first (index = position), then their `entries` are written, then `progs` are loaded
 *    (index = position). In program bytecode, `lddw` with src_reg 5 (BPF_PSEUDO_MAP_IDX, the assembler's
 *    `r1 = map[idx:N]`) is rewritten to the fd of map N. A failing map creation / program load stops the
 *    scenario: the result then has `ok: false` and `setupError` (with the verifier log for loads).
 *  - `steps` run in order; each yields one StepResult (same index) with `ret` = return value (>= 0) or -errno.
 *  - After the last step every open socket is drained (non-blocking recv, until 50 ms without new bytes or
 *    `drainMs`, default 200 ms) and reported in `sockets[name]` together with its SO_ERROR (read before the
 *    drain); then every map is dumped (sock maps as key → socket name; they need valueSize 8 for that).
 *
 * Sockets are named by the step that creates them (`listen`, `tcp`, `connect`, `accept`, `udp`, `unixPair`).
 * TCP sockets are blocking with SO_SNDTIMEO 1 s (so a full send buffer gives -EAGAIN, never a hang); recv
 * steps poll for up to `timeoutMs` and then read with MSG_DONTWAIT. SIGPIPE is ignored (EPIPE → -32).
 * The helper kills itself after `timeoutSec` (default 10) and runScenario then throws.
 *
 * `BPFVM_NO_KERNEL=1` makes everything unavailable.
 */
import { spawnSync } from 'node:child_process';
import { buildCHelper } from './cbuild.js';
import { fileURLToPath } from 'node:url';

// ---- constants ----------------------------------------------------------

export const MapType = { HASH: 1, ARRAY: 2, SOCKMAP: 15, SOCKHASH: 18 } as const;
export const ProgType = { SOCK_OPS: 13, SK_SKB: 14, SK_MSG: 16 } as const;
export const AttachType = {
  CGROUP_SOCK_OPS: 3,
  SK_SKB_STREAM_PARSER: 4,
  SK_SKB_STREAM_VERDICT: 5,
  SK_MSG_VERDICT: 7,
  SK_SKB_VERDICT: 38,
} as const;
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;
export const MsgFlags = { PEEK: 0x2, DONTWAIT: 0x40, NOSIGNAL: 0x4000 } as const;
export const SOL_SOCKET = 1;
export const SockOpt = { SO_SNDBUF: 7, SO_RCVBUF: 8, SO_ERROR: 4, SO_RCVTIMEO: 20, SO_SNDTIMEO: 21 } as const;
/** errno values as positive numbers (step results carry them negated). */
export const E = {
  EPERM: 1, ENOENT: 2, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EBUSY: 16, EEXIST: 17, EINVAL: 22,
  ENOSPC: 28, EPIPE: 32, ENOTSOCK: 88, EOPNOTSUPP: 95, E2BIG: 7,
} as const;

// ---- scenario types --------------------------------------------------------

/** A map key: a number is encoded little-endian in the map's keySize (<= 8 bytes); bytes are zero-padded. */
export type Key = number | Uint8Array;

export interface ScenarioMap {
  /** BPF_MAP_TYPE_*: 15 SOCKMAP, 18 SOCKHASH, 2 ARRAY, 1 HASH, ... */
  type: number;
  keySize: number;
  /** For sock maps 4 or 8; use 8 if you want the final dump to name the member sockets. */
  valueSize: number;
  maxEntries: number;
  flags?: number;
  /** At most 15 bytes, [A-Za-z0-9_.]. */
  name?: string;
  /** Written with BPF_ANY before programs are loaded (plain maps; values zero-padded). */
  entries?: { key: Key; value: Uint8Array | number }[];
}

export interface ScenarioProg {
  /** BPF_PROG_TYPE_*: 13 sock_ops, 14 sk_skb, 16 sk_msg. */
  progType: number;
  expectedAttachType?: number;
  /** Raw bytecode (e.g. from vm/asm.ts `assemble`). */
  insns: Uint8Array;
  /** Default "GPL". */
  license?: string;
}

interface StepBase {
  /** Optional name; the result is then also available as `result.byLabel[label]`. */
  label?: string;
}

export type ScenarioStep = StepBase &
  (
    | { op: 'attach' | 'detach' | 'link'; prog: number; map: number; attachType: number }
    /** Attach a sock_ops program (type 3) to the helper's private cgroup v2; put it before creating sockets. */
    | { op: 'cgroupAttach'; prog: number; flags?: number }
    /** TCP listener on 127.0.0.1:port (0/absent = ephemeral; result.port). */
    | { op: 'listen'; name: string; port?: number }
    /** Unbound, unconnected TCP socket. */
    | { op: 'tcp'; name: string }
    /** New TCP socket `name` connected to `listener` (result.port = local, result.peerPort). */
    | { op: 'connect'; name: string; listener: string }
    /** Accept one pending connection on `listener` as socket `name` (waits up to 1 s). */
    | { op: 'accept'; name: string; listener: string }
    /** UDP socket bound to 127.0.0.1:port. */
    | { op: 'udp'; name: string; port?: number }
    | { op: 'udpConnect'; sock: string; to: string }
    /** UDP socket neither bound nor connected. */
    | { op: 'udpUnbound'; name: string }
    /** sendto() `to`'s address (UDP); default flags MSG_NOSIGNAL. */
    | { op: 'sendto'; sock: string; to: string; data: Uint8Array; flags?: number }
    | { op: 'unixPair'; names: [string, string]; type?: 'stream' | 'dgram' | 'seqpacket' }
    /** BPF_MAP_UPDATE_ELEM with the socket's fd as value. */
    | { op: 'sockUpdate'; map: number; key: Key; sock: string; flags?: number }
    | { op: 'mapUpdate'; map: number; key: Key; value: Uint8Array | number; flags?: number }
    | { op: 'mapDelete'; map: number; key: Key }
    /** result.data = value (sock maps: the 8-byte cookie). */
    | { op: 'mapLookup'; map: number; key: Key }
    /** result.data = next key. */
    | { op: 'mapNextKey'; map: number; key: Key | null }
    /** send(); default flags MSG_NOSIGNAL. */
    | { op: 'send'; sock: string; data: Uint8Array; flags?: number }
    /** One sendmsg of iovCount buffers of iovLen bytes, bytes 0,1,2,… (mod 256) across the whole call. */
    | { op: 'sendmsg'; sock: string; iovLen: number; iovCount: number; flags?: number }
    /** sendfile() of len bytes 0,1,2,… (mod 256) from a memfd. */
    | { op: 'sendfile'; sock: string; len: number }
    /** poll up to timeoutMs (default 100) then recv(maxLen, flags | MSG_DONTWAIT). peek adds MSG_PEEK. */
    | { op: 'recv'; sock: string; maxLen: number; flags?: number; peek?: boolean; timeoutMs?: number }
    | { op: 'shutdown'; sock: string; how?: 'rd' | 'wr' | 'rdwr' }
    | { op: 'close'; sock: string }
    /** Integer option; SO_RCVTIMEO/SO_SNDTIMEO values are milliseconds. level defaults to SOL_SOCKET. */
    | { op: 'setsockopt'; sock: string; level?: number; opt: number; value: number }
    /** ret = the int value. Note SO_ERROR clears the pending error. */
    | { op: 'getsockopt'; sock: string; level?: number; opt: number }
    | { op: 'fionread'; sock: string }
    /** result.data = SO_COOKIE (8 bytes LE). */
    | { op: 'cookie'; sock: string }
    /** ret = how often program `prog` has run so far (needs result.statsEnabled). */
    | { op: 'runCount'; prog: number }
    | { op: 'sleep'; ms: number }
  );

export interface Scenario {
  maps?: ScenarioMap[];
  progs?: ScenarioProg[];
  steps: ScenarioStep[];
  /** Final drain window in ms (default 200, max 2000). */
  drainMs?: number;
  /** Helper alarm in seconds (default 10, max 60). */
  timeoutSec?: number;
  /** Run in a private network namespace (fixed ports such as test_sockmap's 10000/10001 cannot collide). */
  netns?: boolean;
}

// ---- result types ------------------------------------------------------------

export interface StepResult {
  op: string;
  /** Return value, or -errno. */
  ret: number;
  /** recv: bytes received; mapLookup: value; mapNextKey: key; cookie: 8 bytes. */
  data?: Uint8Array;
  port?: number;
  peerPort?: number;
}

export interface SocketReport {
  name: string;
  open: boolean;
  /** Everything read during the final drain. */
  data: Uint8Array;
  /** Size of every successful recv() of the drain (shows message merging). */
  chunks: number[];
  chunksTruncated: boolean;
  /** A recv() returned 0. */
  eof: boolean;
  /** First recv() error other than EAGAIN (positive errno), else 0. */
  recvErrno: number;
  /** SO_ERROR read just before the drain (positive errno), else 0. */
  soError: number;
}

export interface MapDump {
  /** Plain maps. */
  entries?: { key: Uint8Array; value: Uint8Array }[];
  /** Sock maps: member sockets (name null = not one of the scenario's open sockets). */
  socks?: { key: Uint8Array; sock: string | null }[];
  /** Sock maps: first lookup error other than ENOENT (ENOSPC when valueSize is 4). */
  lookupErrno?: number;
}

export interface ScenarioResult {
  ok: boolean;
  /** When ok is false. */
  setupError?: { stage: 'map_create' | 'map_update' | 'prog_load'; index: number; errno: number; log: string };
  /** BPF_ENABLE_STATS worked, so run counts are meaningful. */
  statsEnabled: boolean;
  /** Present when the scenario has a cgroupAttach step. */
  cgroup?: { ok: boolean; reason: string };
  /** Present when the scenario asked for a private network namespace. */
  netns?: { ok: boolean; reason: string };
  steps: StepResult[];
  byLabel: Record<string, StepResult>;
  sockets: Record<string, SocketReport>;
  progs: { runCnt: number }[];
  maps: MapDump[];
}

export interface SockAvailability {
  ok: boolean;
  reason: string;
}

// ---- helper build ----------------------------------------------------------------

const SOURCE_PATH = fileURLToPath(new URL('./sockrun.c', import.meta.url));

let helperPath: string | undefined;
let cachedAvailability: SockAvailability | undefined;

function buildHelper(): { path?: string; reason?: string } {
  return buildCHelper(SOURCE_PATH);
}

/**
 * Whether socket scenarios can run here (cached per process): builds the helper, then runs a trivial
 * scenario — one SOCKMAP, one connected TCP pair, both ends inserted — which must succeed.
 */
export function sockAvailability(): SockAvailability {
  if (cachedAvailability) return cachedAvailability;
  cachedAvailability = probe();
  return cachedAvailability;
}

function probe(): SockAvailability {
  if (process.env.BPFVM_NO_KERNEL === '1') {
    return { ok: false, reason: 'kernel oracle disabled by BPFVM_NO_KERNEL=1' };
  }
  if (process.platform !== 'linux') return { ok: false, reason: `sockmap needs Linux (platform is ${process.platform})` };
  const built = buildHelper();
  if (!built.path) return { ok: false, reason: built.reason ?? 'helper build failed' };
  helperPath = built.path;
  let res: ScenarioResult;
  try {
    res = execScenario(helperPath, {
      maps: [{ type: MapType.SOCKMAP, keySize: 4, valueSize: 8, maxEntries: 2 }],
      steps: [
        { op: 'listen', name: 'l' },
        { op: 'connect', name: 'c', listener: 'l' },
        { op: 'accept', name: 'p', listener: 'l' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'c' },
        { op: 'sockUpdate', map: 0, key: 1, sock: 'p' },
      ],
      drainMs: 0,
    });
  } catch (e) {
    return { ok: false, reason: `sockrun helper failed: ${(e as Error).message}` };
  }
  if (!res.ok) {
    const err = res.setupError!;
    if (err.errno === 1) return { ok: false, reason: 'bpf() not permitted: EPERM (needs root / CAP_BPF+CAP_NET_ADMIN)' };
    if (err.errno === 22) return { ok: false, reason: 'SOCKMAP not supported by this kernel (map create EINVAL; CONFIG_BPF_STREAM_PARSER/NET_SOCK_MSG?)' };
    return { ok: false, reason: `SOCKMAP creation failed: errno ${err.errno}` };
  }
  const bad = res.steps.find((s) => s.ret < 0);
  if (bad) return { ok: false, reason: `trivial sockmap scenario failed: ${bad.op} returned ${bad.ret}` };
  return { ok: true, reason: `socket scenario oracle ready (${helperPath})` };
}

/**
 * Why a kernel run of a scenario with a cgroupAttach step cannot be compared (the helper found no usable cgroup
 * v2), or null. A run whose setup failed before the cgroup (a map or program the kernel refused) has no `cgroup`
 * report: that is a failure for the caller's `expect(r.ok)`, not a reason to skip.
 */
export function cgroupSkipReason(r: ScenarioResult): string | null {
  return r.cgroup !== undefined && !r.cgroup.ok ? `no usable cgroup v2: ${r.cgroup.reason}` : null;
}

/** Run one scenario in the host kernel. Throws if unavailable, malformed, timed out or crashed. */
export function runScenario(s: Scenario): ScenarioResult {
  const avail = sockAvailability();
  if (!avail.ok || !helperPath) throw new Error(`socket scenario oracle unavailable: ${avail.reason}`);
  return execScenario(helperPath, s);
}

// ---- encoding ---------------------------------------------------------------------

function hex(b: Uint8Array): string {
  return b.length === 0 ? '-' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function unhex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function uint(v: number | undefined, dflt: number, what: string, max = 0xffffffff): number {
  const x = v ?? dflt;
  if (!Number.isInteger(x) || x < 0 || x > max) throw new RangeError(`sockrun: ${what} must be an integer in 0..${max}, got ${String(v)}`);
  return x;
}

function leBytes(v: number, size: number, what: string): Uint8Array {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`sockrun: ${what} ${v} is not a non-negative integer`);
  if (size > 8) throw new RangeError(`sockrun: numeric ${what} needs size <= 8 (is ${size}); pass bytes`);
  const out = new Uint8Array(size);
  let x = BigInt(v);
  for (let i = 0; i < size; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  if (x !== 0n) throw new RangeError(`sockrun: ${what} ${v} does not fit in ${size} bytes`);
  return out;
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,31}$/;

function encodeScenario(s: Scenario): string {
  const maps = s.maps ?? [];
  const progs = s.progs ?? [];
  const lines: string[] = [];
  lines.push(`TIMEOUT ${uint(s.timeoutSec, 10, 'timeoutSec', 60)}`);
  lines.push(`DRAIN ${uint(s.drainMs, 200, 'drainMs', 2000)}`);
  if (s.netns) lines.push('NETNS');
  maps.forEach((m, i) => {
    const name = Buffer.from(m.name ?? '', 'utf8');
    if (name.length > 15) throw new RangeError(`sockrun: maps[${i}].name longer than 15 bytes`);
    lines.push(
      ['MAP', uint(m.type, 0, 'map type'), uint(m.keySize, 0, 'keySize'), uint(m.valueSize, 0, 'valueSize'),
        uint(m.maxEntries, 0, 'maxEntries'), uint(m.flags, 0, 'map flags'), hex(name)].join(' '),
    );
    for (const e of m.entries ?? []) {
      const value = typeof e.value === 'number' ? leBytes(e.value, m.valueSize, 'value') : e.value;
      lines.push(`ELEM ${hex(keyBytes(m, e.key))} ${hex(value)}`);
    }
  });
  progs.forEach((p, i) => {
    if (!(p.insns instanceof Uint8Array) || p.insns.length === 0 || p.insns.length % 8 !== 0) {
      throw new RangeError(`sockrun: progs[${i}].insns must be a non-empty multiple of 8 bytes`);
    }
    const lic = Buffer.from(p.license ?? 'GPL', 'utf8');
    lines.push(`PROG ${uint(p.progType, 0, 'progType')} ${uint(p.expectedAttachType, 0, 'expectedAttachType')} ${hex(lic)} ${hex(p.insns)}`);
  });
  const declared = new Set<string>();
  const decl = (n: string): string => {
    if (!NAME_RE.test(n)) throw new RangeError(`sockrun: bad socket name ${JSON.stringify(n)}`);
    if (declared.has(n)) throw new RangeError(`sockrun: socket ${n} declared twice`);
    declared.add(n);
    return n;
  };
  const use = (n: string): string => {
    if (!declared.has(n)) throw new RangeError(`sockrun: socket ${n} used before it is created`);
    return n;
  };
  const map = (i: number): ScenarioMap => {
    const m = maps[i];
    if (!m) throw new RangeError(`sockrun: map index ${i} out of range`);
    return m;
  };
  const prog = (i: number): number => {
    if (!progs[i]) throw new RangeError(`sockrun: program index ${i} out of range`);
    return i;
  };
  for (const st of s.steps) {
    switch (st.op) {
      case 'attach':
      case 'detach':
      case 'link':
        map(st.map);
        lines.push(`${st.op} ${prog(st.prog)} ${st.map} ${uint(st.attachType, 0, 'attachType')}`);
        break;
      case 'cgroupAttach':
        lines.push(`cgroup_attach ${prog(st.prog)} ${uint(st.flags, 0, 'flags')}`);
        break;
      case 'listen':
        lines.push(`listen ${decl(st.name)} ${uint(st.port, 0, 'port', 65535)}`);
        break;
      case 'tcp':
        lines.push(`tcp ${decl(st.name)}`);
        break;
      case 'connect':
      case 'accept':
        use(st.listener);
        lines.push(`${st.op} ${decl(st.name)} ${st.listener}`);
        break;
      case 'udp':
        lines.push(`udp ${decl(st.name)} ${uint(st.port, 0, 'port', 65535)}`);
        break;
      case 'udpConnect':
        lines.push(`udp_connect ${use(st.sock)} ${use(st.to)}`);
        break;
      case 'udpUnbound':
        lines.push(`udp_unbound ${decl(st.name)}`);
        break;
      case 'sendto':
        lines.push(`sendto ${use(st.sock)} ${use(st.to)} ${hex(st.data)} ${uint(st.flags, MsgFlags.NOSIGNAL, 'flags')}`);
        break;
      case 'unixPair': {
        const t = { stream: 1, dgram: 2, seqpacket: 5 }[st.type ?? 'stream'];
        lines.push(`unix_pair ${decl(st.names[0])} ${decl(st.names[1])} ${t}`);
        break;
      }
      case 'sockUpdate':
        lines.push(`sock_update ${st.map} ${hex(keyBytes(map(st.map), st.key))} ${use(st.sock)} ${uint(st.flags, 0, 'flags', Number.MAX_SAFE_INTEGER)}`);
        break;
      case 'mapUpdate': {
        const m = map(st.map);
        const value = typeof st.value === 'number' ? leBytes(st.value, m.valueSize, 'value') : st.value;
        lines.push(`map_update ${st.map} ${hex(keyBytes(m, st.key))} ${hex(value)} ${uint(st.flags, 0, 'flags', Number.MAX_SAFE_INTEGER)}`);
        break;
      }
      case 'mapDelete':
        lines.push(`map_delete ${st.map} ${hex(keyBytes(map(st.map), st.key))}`);
        break;
      case 'mapLookup':
        lines.push(`map_lookup ${st.map} ${hex(keyBytes(map(st.map), st.key))}`);
        break;
      case 'mapNextKey':
        lines.push(`map_next ${st.map} ${st.key === null ? '-' : hex(keyBytes(map(st.map), st.key))}`);
        break;
      case 'send':
        lines.push(`send ${use(st.sock)} ${hex(st.data)} ${uint(st.flags, MsgFlags.NOSIGNAL, 'flags')}`);
        break;
      case 'sendmsg':
        lines.push(`sendmsg ${use(st.sock)} ${uint(st.iovLen, 0, 'iovLen')} ${uint(st.iovCount, 0, 'iovCount', 1024)} ${uint(st.flags, MsgFlags.NOSIGNAL, 'flags')}`);
        break;
      case 'sendfile':
        lines.push(`sendfile ${use(st.sock)} ${uint(st.len, 0, 'len')}`);
        break;
      case 'recv': {
        const flags = uint(st.flags, 0, 'flags') | (st.peek ? MsgFlags.PEEK : 0);
        lines.push(`recv ${use(st.sock)} ${uint(st.maxLen, 0, 'maxLen')} ${flags >>> 0} ${uint(st.timeoutMs, 100, 'timeoutMs', 5000)}`);
        break;
      }
      case 'shutdown':
        lines.push(`shutdown ${use(st.sock)} ${{ rd: 0, wr: 1, rdwr: 2 }[st.how ?? 'rdwr']}`);
        break;
      case 'close':
        lines.push(`close ${use(st.sock)}`);
        break;
      case 'setsockopt':
        lines.push(`setsockopt ${use(st.sock)} ${uint(st.level, SOL_SOCKET, 'level', 0x7fffffff)} ${uint(st.opt, 0, 'opt', 0x7fffffff)} ${uint(st.value, 0, 'value', 0x7fffffff)}`);
        break;
      case 'getsockopt':
        lines.push(`getsockopt ${use(st.sock)} ${uint(st.level, SOL_SOCKET, 'level', 0x7fffffff)} ${uint(st.opt, 0, 'opt', 0x7fffffff)}`);
        break;
      case 'fionread':
        lines.push(`fionread ${use(st.sock)}`);
        break;
      case 'cookie':
        lines.push(`cookie ${use(st.sock)}`);
        break;
      case 'runCount':
        lines.push(`runcnt ${prog(st.prog)}`);
        break;
      case 'sleep':
        lines.push(`sleep_ms ${uint(st.ms, 0, 'ms', 2000)}`);
        break;
      default: {
        const never: never = st;
        throw new RangeError(`sockrun: unknown step ${JSON.stringify(never)}`);
      }
    }
  }
  lines.push('END');
  return lines.join('\n') + '\n';
}

function keyBytes(m: ScenarioMap, key: Key): Uint8Array {
  if (typeof key === 'number') return leBytes(key, m.keySize, 'key');
  if (key.length > m.keySize) throw new RangeError(`sockrun: key of ${key.length} bytes for a map with keySize ${m.keySize}`);
  return key;
}

// ---- decoding ---------------------------------------------------------------------

interface RawResult {
  error?: string;
  step?: number;
  ok?: boolean;
  stage?: string;
  index?: number;
  errno?: number;
  log?: string;
  statsEnabled?: boolean;
  netns?: { ok: boolean; reason: string };
  cgroup?: { ok: boolean; reason: string };
  steps?: { op: string; ret: number; data?: string; port?: number; peerPort?: number }[];
  sockets?: {
    name: string; open: boolean; data: string; chunks: number[]; chunksTruncated: boolean; eof: boolean;
    recvErrno: number; soError: number;
  }[];
  progs?: { runCnt: number }[];
  maps?: { entries?: [string, string][]; socks?: [string, string | null][]; lookupErrno?: number }[];
}

function execScenario(bin: string, s: Scenario): ScenarioResult {
  const input = encodeScenario(s);
  const timeoutMs = (uint(s.timeoutSec, 10, 'timeoutSec', 60) + 10) * 1000;
  const res = spawnSync(bin, [], { input, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 28 });
  if (res.error) throw new Error(`sockrun helper failed: ${res.error.message}`);
  if (res.signal) throw new Error(`sockrun helper killed by ${res.signal}: ${res.stderr}`);
  const line = res.stdout.trim();
  let raw: RawResult;
  try {
    raw = JSON.parse(line) as RawResult;
  } catch {
    throw new Error(`sockrun helper: exit ${res.status}, unparsable output ${JSON.stringify(line.slice(0, 200))} ${res.stderr}`);
  }
  if (raw.error !== undefined) {
    const at = raw.step !== undefined && raw.step >= 0 ? ` (at step ${raw.step}: ${JSON.stringify(s.steps[raw.step] ?? 'final drain')})` : '';
    throw new Error(`sockrun: ${raw.error}${at}`);
  }
  const out: ScenarioResult = {
    ok: raw.ok === true,
    statsEnabled: raw.statsEnabled === true,
    steps: [],
    byLabel: {},
    sockets: {},
    progs: raw.progs ?? [],
    maps: [],
  };
  if (!out.ok) {
    out.setupError = {
      stage: raw.stage as 'map_create' | 'map_update' | 'prog_load',
      index: raw.index ?? -1,
      errno: raw.errno ?? 0,
      log: Buffer.from(raw.log ?? '', 'hex').toString('utf8'),
    };
    return out;
  }
  if (raw.cgroup) out.cgroup = raw.cgroup;
  if (raw.netns) out.netns = raw.netns;
  (raw.steps ?? []).forEach((r, i) => {
    const sr: StepResult = { op: r.op, ret: r.ret };
    if (r.data !== undefined) sr.data = unhex(r.data);
    if (r.port !== undefined) sr.port = r.port;
    if (r.peerPort !== undefined) sr.peerPort = r.peerPort;
    out.steps.push(sr);
    const label = s.steps[i]?.label;
    if (label !== undefined) out.byLabel[label] = sr;
  });
  if (out.steps.length !== s.steps.length) {
    throw new Error(`sockrun: ${out.steps.length} step results for ${s.steps.length} steps`);
  }
  for (const k of raw.sockets ?? []) {
    out.sockets[k.name] = {
      name: k.name, open: k.open, data: unhex(k.data), chunks: k.chunks, chunksTruncated: k.chunksTruncated,
      eof: k.eof, recvErrno: k.recvErrno, soError: k.soError,
    };
  }
  out.maps = (raw.maps ?? []).map((m) => {
    const d: MapDump = {};
    if (m.entries) d.entries = m.entries.map(([k, v]) => ({ key: unhex(k), value: unhex(v) }));
    if (m.socks) d.socks = m.socks.map(([k, n]) => ({ key: unhex(k), sock: n }));
    if (m.lookupErrno !== undefined) d.lookupErrno = m.lookupErrno;
    return d;
  });
  return out;
}

/** Convenience: a listener plus one connected pair (client `c`, accepted peer `p`). */
export function tcpPair(listener: string, client: string, peer: string, port?: number): ScenarioStep[] {
  return [
    { op: 'listen', name: listener, ...(port !== undefined ? { port } : {}) },
    { op: 'connect', name: client, listener },
    { op: 'accept', name: peer, listener },
  ];
}

/** Bytes 0,1,2,… (mod 256), the pattern sendmsg/sendfile steps use. */
export function patternBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i & 0xff;
  return b;
}
