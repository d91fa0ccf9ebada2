/**
 * Kernel oracle: load and run BPF programs in the real host kernel so that
 * tests can compare bpfvm's verifier verdicts and results with Linux's.
 *
 * The work is done by a tiny C helper (test/kernel/bpfrun.c) that issues raw
 * bpf(2) syscalls.  It is compiled on first use into a cache directory keyed
 * by a hash of its source, and one helper process serves a whole batch of
 * requests (spawnSync, requests on stdin, one JSON line per result on stdout).
 *
 * BPF_PROG_TEST_RUN input notes (the kernel's rules, checked by the kernel):
 *  - skb-based types (1 socket filter, 3 sched_cls, 4 sched_act, 8 cgroup_skb,
 *    14 sk_skb, ...) and XDP (6) need data_in of at least 14 bytes (ETH_HLEN),
 *    otherwise test_run fails with EINVAL.  When `run.dataIn` is omitted we
 *    send 64 zero bytes; pass an empty Uint8Array to send no data at all
 *    (needed by types whose test_run refuses data, e.g. raw tracepoints).
 *  - XDP packets may be at most about PAGE_SIZE - headroom - tailroom.
 *  - The output buffer must be big enough for the packet after the program
 *    ran (XDP may grow it); by default it is dataIn.length + 4096 bytes.  If it
 *    is too small the kernel returns ENOSPC but still reports retval and the
 *    bytes that fit.
 *  - Some program types (e.g. 13 sock_ops, 16 sk_msg) have no test_run at
 *    all: run.errno is then 524 (the kernel-internal ENOTSUPP).
 *
 * Privileges: requests run as whatever user runs the tests (root here).  As
 * root the verifier relaxes several checks (uninitialised stack reads are
 * allowed, pointer leaks are allowed, no Spectre sanitation).  Set
 * `restricted: true` to load with CAP_SYS_ADMIN and CAP_PERFMON dropped from
 * the effective set (CAP_BPF and CAP_NET_ADMIN kept), which gives the strict
 * verifier behaviour.
 */
import { spawnSync } from 'node:child_process';
import { buildCHelper } from './cbuild.js';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface KernelAvailability {
  ok: boolean;
  reason: string;
}

export interface KernelMapDef {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  /** At most 15 characters; the kernel only accepts [A-Za-z0-9_.]. */
  name?: string;
  /** Key and value type ids in the request's BTF (KernelProgRequest.btf): the map is created with that BTF. */
  btfIds?: { key: number; value: number };
  /**
   * Written with BPF_MAP_UPDATE_ELEM (BPF_ANY) before the program is loaded.
   * Shorter keys/values are zero-padded; for per-CPU maps the value is
   * round_up(valueSize, 8) bytes per possible CPU.
   */
  entries?: { key: Uint8Array; value: Uint8Array }[];
}

export interface KernelProgRequest {
  /** BPF_PROG_TYPE_*: 1 socket filter, 3 sched_cls, 6 xdp, 8 cgroup_skb, 13 sock_ops, 14 sk_skb, 16 sk_msg. */
  progType: number;
  expectedAttachType?: number;
  /** Raw bytecode, 8 bytes per slot. */
  insns: Uint8Array;
  /**
   * Raw BTF (loaded with BPF_BTF_LOAD) and its bpf_func_info records (8 bytes each: insn_off, type_id), for
   * programs with subprograms the verifier wants described (callbacks).
   */
  btf?: { data: Uint8Array; funcInfo: Uint8Array };
  /** Default "GPL". */
  license?: string;
  /**
   * Created before load.  Any lddw (opcode 0x18) with src_reg 5
   * (BPF_PSEUDO_MAP_IDX) or 6 (BPF_PSEUDO_MAP_IDX_VALUE) and imm = index into
   * this array is rewritten to src 1 (MAP_FD) / 2 (MAP_VALUE) with imm = fd.
   * Out-of-range indices are left as they are (the kernel then rejects them).
   */
  maps?: KernelMapDef[];
  /** Default 1; 0 = no log buffer at all. */
  logLevel?: number;
  /** Default 1 MiB.  The kernel requires >= 128 when logLevel != 0. */
  logSize?: number;
  progFlags?: number;
  /** BPF_PROG_TEST_RUN, performed only if the program loaded. */
  run?: {
    dataIn?: Uint8Array;
    ctxIn?: Uint8Array;
    /** Default dataIn.length + 4096; 0 = do not ask for output data. */
    dataSizeOut?: number;
    /** Default ctxIn.length (0 when no ctxIn, i.e. no ctx output). */
    ctxSizeOut?: number;
    /** Default 1; at most 10,000,000. */
    repeat?: number;
  };
  /** Dump every map's entries after the run (arrays: every index; hashes: via get_next_key). */
  readMapsAfter?: boolean;
  /** Extension: load with CAP_SYS_ADMIN/CAP_PERFMON dropped (strict verifier). */
  restricted?: boolean;
}

export interface KernelProgResult {
  loaded: boolean;
  /** 0, or the positive errno of BPF_PROG_LOAD / map creation / map update (see `stage`). */
  errno: number;
  /**
   * The stage that failed; absent when everything succeeded.  For
   * 'test_run' the program did load, `errno` stays 0 and the failure is in
   * `run.errno`.
   */
  stage?: 'map_create' | 'map_update' | 'prog_load' | 'test_run';
  /** Extension: index of the map whose creation/update failed. */
  failedMap?: number;
  /** Verifier log text exactly as the kernel wrote it. */
  log: string;
  run?: {
    /** u32 as returned in attr.test.retval. */
    retval: number;
    errno: number;
    /** Present when run succeeded (or hit ENOSPC): the bytes that fit in dataSizeOut. */
    dataOut?: Uint8Array;
    ctxOut?: Uint8Array;
    /** Average ns per repetition, as reported by the kernel. */
    duration: number;
  };
  maps?: { entries: { key: Uint8Array; value: Uint8Array }[] }[];
}

const SOURCE_PATH = fileURLToPath(new URL('./bpfrun.c', import.meta.url));
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_LOG_SIZE = 1 << 20;
const DEFAULT_DATA_IN_LEN = 64;
const EXTRA_DATA_OUT = 4096;
// Keep in step with the caps in bpfrun.c so bad requests fail early and clearly.
const MAX_LOG_SIZE = 256 << 20;
const MAX_BUF = 16 << 20;
const MAX_MAPS = 64;
const MAX_REPEAT = 10_000_000;

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(osConstants.errno)) {
  if (!errnoNames.has(num)) errnoNames.set(num, name);
}
errnoNames.set(524, 'ENOTSUPP'); // kernel-internal, not in libc's table

/** "EACCES" for 13, etc.; "errno N" when unknown. */
export function errnoName(n: number): string {
  return errnoNames.get(n) ?? `errno ${n}`;
}

let helperPath: string | undefined;
let cachedAvailability: KernelAvailability | undefined;

/** Compile bpfrun.c unless a binary for this exact source already exists. */
function buildHelper(): { path?: string; reason?: string } {
  return buildCHelper(SOURCE_PATH);
}

/**
 * Whether the kernel oracle can be used here.  Cached for the process: builds
 * the helper on first call, then loads and test-runs a two-instruction socket
 * filter to make sure bpf() is actually permitted.
 */
export function kernelAvailability(): KernelAvailability {
  if (cachedAvailability) return cachedAvailability;
  cachedAvailability = probe();
  return cachedAvailability;
}

function probe(): KernelAvailability {
  if (process.env.BPFVM_NO_KERNEL === '1') {
    return { ok: false, reason: 'kernel oracle disabled by BPFVM_NO_KERNEL=1' };
  }
  if (process.platform !== 'linux') {
    return { ok: false, reason: `bpf() needs Linux (platform is ${process.platform})` };
  }
  const built = buildHelper();
  if (!built.path) return { ok: false, reason: built.reason ?? 'helper build failed' };
  helperPath = built.path;
  // r0 = 7; exit
  const insns = new Uint8Array([0xb7, 0, 0, 0, 7, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  let res: KernelProgResult;
  try {
    [res] = runHelper(helperPath, [{ progType: 1, insns, run: {} }], 30_000) as [KernelProgResult];
  } catch (e) {
    return { ok: false, reason: `bpfrun helper failed: ${(e as Error).message}` };
  }
  if (!res.loaded) {
    if (res.errno === 1) {
      return { ok: false, reason: 'bpf() not permitted: EPERM (not root / unprivileged_bpf_disabled)' };
    }
    if (res.errno === 38) return { ok: false, reason: 'bpf() not available: ENOSYS (kernel without CONFIG_BPF_SYSCALL, or seccomp)' };
    return { ok: false, reason: `trivial BPF program failed to load: ${errnoName(res.errno)} (${res.errno})` };
  }
  if (!res.run || res.run.errno !== 0) {
    const n = res.run?.errno ?? -1;
    return { ok: false, reason: `BPF_PROG_TEST_RUN failed on a trivial program: ${errnoName(n)} (${n})` };
  }
  if (res.run.retval !== 7) {
    return { ok: false, reason: `BPF_PROG_TEST_RUN returned ${res.run.retval}, expected 7` };
  }
  return { ok: true, reason: `kernel oracle ready (${helperPath})` };
}

/**
 * Load (and optionally run) each request in the host kernel, all in one
 * helper process.  Throws if the oracle is unavailable, a request is
 * malformed, or the helper dies or times out.
 */
export function kernelRunBatch(reqs: KernelProgRequest[], opts?: { timeoutMs?: number }): KernelProgResult[] {
  const avail = kernelAvailability();
  if (!avail.ok || !helperPath) throw new Error(`kernel oracle unavailable: ${avail.reason}`);
  if (reqs.length === 0) return [];
  return runHelper(helperPath, reqs, opts?.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

export function kernelRun(req: KernelProgRequest): KernelProgResult {
  const [res] = kernelRunBatch([req]);
  if (!res) throw new Error('kernel oracle returned no result');
  return res;
}

// ---- encoding ---------------------------------------------------------

function hex(b: Uint8Array): string {
  return b.length === 0 ? '-' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function u32(v: number | undefined, dflt: number, what: string, i: number): number {
  const x = v ?? dflt;
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) {
    throw new RangeError(`kernel oracle request ${i}: ${what} must be a u32, got ${String(v)}`);
  }
  return x;
}

function encodeRequest(req: KernelProgRequest, i: number): string {
  const lines: string[] = ['REQ'];
  if (!(req.insns instanceof Uint8Array) || req.insns.length % 8 !== 0) {
    throw new RangeError(`kernel oracle request ${i}: insns must be a Uint8Array whose length is a multiple of 8`);
  }
  const logLevel = u32(req.logLevel, 1, 'logLevel', i);
  const logSize = logLevel === 0 ? 0 : u32(req.logSize, DEFAULT_LOG_SIZE, 'logSize', i);
  if (logSize > MAX_LOG_SIZE) throw new RangeError(`kernel oracle request ${i}: logSize above ${MAX_LOG_SIZE}`);
  lines.push(
    [
      'PROG',
      u32(req.progType, 0, 'progType', i),
      u32(req.expectedAttachType, 0, 'expectedAttachType', i),
      u32(req.progFlags, 0, 'progFlags', i),
      logLevel,
      logSize,
      req.readMapsAfter ? 1 : 0,
      req.restricted ? 1 : 0,
    ].join(' '),
  );
  const license = Buffer.from(req.license ?? 'GPL', 'utf8');
  if (license.includes(0)) throw new RangeError(`kernel oracle request ${i}: license contains NUL`);
  lines.push(`LICENSE ${hex(license)}`);
  lines.push(`INSNS ${hex(req.insns)}`);
  if (req.btf !== undefined) lines.push(`BTF ${hex(req.btf.data)}`, `FUNCINFO ${hex(req.btf.funcInfo)}`);
  const maps = req.maps ?? [];
  if (maps.length > MAX_MAPS) throw new RangeError(`kernel oracle request ${i}: more than ${MAX_MAPS} maps`);
  maps.forEach((m, j) => {
    const name = Buffer.from(m.name ?? '', 'utf8');
    if (name.length > 15) throw new RangeError(`kernel oracle request ${i}: map ${j} name longer than 15 bytes`);
    lines.push(
      [
        'MAP',
        u32(m.type, 0, `maps[${j}].type`, i),
        u32(m.keySize, 0, `maps[${j}].keySize`, i),
        u32(m.valueSize, 0, `maps[${j}].valueSize`, i),
        u32(m.maxEntries, 0, `maps[${j}].maxEntries`, i),
        u32(m.flags, 0, `maps[${j}].flags`, i),
        hex(name),
      ].join(' '),
    );
    if (m.btfIds) lines.push(`MAPBTF ${u32(m.btfIds.key, 0, `maps[${j}].btfIds.key`, i)} ${u32(m.btfIds.value, 0, `maps[${j}].btfIds.value`, i)}`);
    for (const e of m.entries ?? []) lines.push(`ELEM ${hex(e.key)} ${hex(e.value)}`);
  });
  if (req.run) {
    const dataIn = req.run.dataIn ?? new Uint8Array(DEFAULT_DATA_IN_LEN);
    const ctxIn = req.run.ctxIn ?? new Uint8Array(0);
    if (dataIn.length > MAX_BUF || ctxIn.length > MAX_BUF) {
      throw new RangeError(`kernel oracle request ${i}: dataIn/ctxIn above ${MAX_BUF} bytes`);
    }
    const dataSizeOut = u32(req.run.dataSizeOut, dataIn.length + EXTRA_DATA_OUT, 'run.dataSizeOut', i);
    const ctxSizeOut = u32(req.run.ctxSizeOut, ctxIn.length, 'run.ctxSizeOut', i);
    const repeat = u32(req.run.repeat, 1, 'run.repeat', i);
    if (repeat > MAX_REPEAT) throw new RangeError(`kernel oracle request ${i}: repeat above ${MAX_REPEAT}`);
    if (dataSizeOut > MAX_BUF || ctxSizeOut > MAX_BUF) {
      throw new RangeError(`kernel oracle request ${i}: dataSizeOut/ctxSizeOut above ${MAX_BUF}`);
    }
    lines.push(
      ['RUN', repeat, dataSizeOut, ctxSizeOut, hex(dataIn), hex(ctxIn)].join(' '),
    );
  }
  lines.push('END');
  return lines.join('\n') + '\n';
}

// ---- decoding ---------------------------------------------------------

interface RawResult {
  error?: string;
  loaded?: boolean;
  errno?: number;
  stage?: string;
  failedMap?: number;
  log?: string;
  run?: { retval: number; errno: number; duration: number; dataOut?: string; ctxOut?: string };
  maps?: { entries: [string, string][] }[];
}

function unhex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

const STAGES = new Set(['map_create', 'map_update', 'prog_load', 'test_run']);

function decodeResult(raw: RawResult, i: number): KernelProgResult {
  if (raw.error !== undefined) throw new Error(`kernel oracle request ${i}: helper rejected it: ${raw.error}`);
  if (typeof raw.loaded !== 'boolean' || typeof raw.errno !== 'number' || typeof raw.log !== 'string') {
    throw new Error(`kernel oracle request ${i}: malformed helper output`);
  }
  const out: KernelProgResult = {
    loaded: raw.loaded,
    errno: raw.errno,
    log: Buffer.from(raw.log, 'hex').toString('utf8'),
  };
  if (raw.stage !== undefined) {
    if (!STAGES.has(raw.stage)) throw new Error(`kernel oracle request ${i}: unknown stage ${raw.stage}`);
    out.stage = raw.stage as KernelProgResult['stage'];
  }
  if (raw.failedMap !== undefined) out.failedMap = raw.failedMap;
  if (raw.run) {
    out.run = { retval: raw.run.retval >>> 0, errno: raw.run.errno, duration: raw.run.duration };
    if (raw.run.dataOut !== undefined) out.run.dataOut = unhex(raw.run.dataOut);
    if (raw.run.ctxOut !== undefined) out.run.ctxOut = unhex(raw.run.ctxOut);
  }
  if (raw.maps) {
    out.maps = raw.maps.map((m) => ({ entries: m.entries.map(([k, v]) => ({ key: unhex(k), value: unhex(v) })) }));
  }
  return out;
}

function runHelper(bin: string, reqs: KernelProgRequest[], timeoutMs: number): KernelProgResult[] {
  const input = reqs.map((r, i) => encodeRequest(r, i)).join('');
  const res = spawnSync(bin, [], {
    input,
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 1 << 30,
  });
  if (res.error) {
    const code = (res.error as NodeJS.ErrnoException).code;
    if (code === 'ETIMEDOUT') throw new Error(`kernel oracle timed out after ${timeoutMs} ms (${reqs.length} requests)`);
    throw new Error(`kernel oracle helper failed: ${res.error.message}`);
  }
  if (res.signal) throw new Error(`kernel oracle helper killed by ${res.signal}: ${res.stderr}`);
  const lines = res.stdout.split('\n').filter((l) => l.length > 0);
  if (res.status !== 0 || lines.length !== reqs.length) {
    throw new Error(
      `kernel oracle helper: exit ${res.status}, ${lines.length} result lines for ${reqs.length} requests` +
        (res.stderr ? `: ${res.stderr}` : '') +
        (lines.length > reqs.length ? `: ${lines[lines.length - 1]}` : ''),
    );
  }
  return lines.map((l, i) => decodeResult(JSON.parse(l) as RawResult, i));
}
