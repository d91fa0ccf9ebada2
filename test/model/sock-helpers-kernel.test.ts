/**
 * bpf_setsockopt / bpf_getsockopt / bpf_store_hdr_opt / bpf_reserve_hdr_opt in SOCK_OPS programs: the model
 * against the host kernel (test/kernel/sockrun.c, a private cgroup v2). A program logs, for every callback of a
 * loopback connection and its close, the return values of a fixed series of calls and the values read back;
 * user space then reads SO_SNDBUF / SO_RCVBUF of each socket. Skipped with the reason when the kernel oracle or
 * a cgroup v2 hierarchy is unavailable.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/model.js';
import { assemble } from '../../vm/asm.js';
import { AttachType, MapType, ProgType, cgroupSkipReason, runScenario, sockAvailability, tcpPair, type Scenario, type ScenarioResult } from '../kernel/sockrun.js';
import { runModelScenario } from './sockmap-harness.js';
import { NEXT_LOG_SLOT, logRecords } from './asm-snippets.js';

const avail = sockAvailability();
const suite = avail.ok ? describe : describe.skip;
if (!avail.ok) console.warn(`sock_ops sockopt differential tests skipped: ${avail.reason}`);

type Call =
  | { set: true; level: number; opt: number; value: number; len?: number }
  | { set: false; level: number; opt: number; len?: number }
  | { hdr: 'store' | 'reserve' };

/** The calls, in order: each logs its return value; a get also logs the value read (0 when it failed). */
const CALLS: Call[] = [
  { set: true, level: 1, opt: 7, value: 50000 }, // SO_SNDBUF
  { set: false, level: 1, opt: 7 },
  { set: true, level: 1, opt: 8, value: 1 << 30 }, // SO_RCVBUF: clamped to rmem_max
  { set: false, level: 1, opt: 8 },
  { set: true, level: 1, opt: 36, value: 77 }, // SO_MARK
  { set: false, level: 1, opt: 36 },
  { set: true, level: 1, opt: 36, value: 5, len: 2 }, // optlen 2
  { set: true, level: 1, opt: 12, value: 3 }, // SO_PRIORITY
  { set: false, level: 1, opt: 12 },
  { set: false, level: 1, opt: 9 }, // SO_KEEPALIVE (default)
  { set: true, level: 1, opt: 9, value: 1 },
  { set: false, level: 1, opt: 9 },
  { set: true, level: 1, opt: 4, value: 1 }, // SO_ERROR: not in the list
  { set: false, level: 1, opt: 4 },
  { set: true, level: 6, opt: 1, value: 1 }, // TCP_NODELAY
  { set: false, level: 6, opt: 1 },
  { set: false, level: 6, opt: 4 }, // TCP_KEEPIDLE default
  { set: true, level: 6, opt: 4, value: 0 },
  { set: true, level: 6, opt: 4, value: 100 },
  { set: false, level: 6, opt: 4 },
  { set: true, level: 6, opt: 6, value: 200 }, // TCP_KEEPCNT out of range
  { set: false, level: 6, opt: 6 },
  { set: true, level: 6, opt: 5, value: 30 }, // TCP_KEEPINTVL
  { set: false, level: 6, opt: 5 },
  { set: true, level: 6, opt: 25, value: 4096 }, // TCP_NOTSENT_LOWAT
  { set: false, level: 6, opt: 25 },
  { set: true, level: 6, opt: 9999, value: 1 },
  { set: false, level: 6, opt: 9999 },
  { set: true, level: 99, opt: 1, value: 1 },
  { hdr: 'store' },
  { hdr: 'reserve' },
];
const SLOTS = 2 + CALLS.length * 2; // op, is_fullsock, then ret/value pairs
const SLOT = 4 * SLOTS;

function program(): string {
  let body = '';
  CALLS.forEach((c, i) => {
    const at = 4 * (2 + 2 * i);
    if ('hdr' in c) {
      body += c.hdr === 'store'
        ? `*(u32 *)(r10 - 16) = 0x00000201\nr1 = r6\nr2 = r10\nr2 += -16\nr3 = 4\nr4 = 0\ncall bpf_store_hdr_opt#143\n`
        : `r1 = r6\nr2 = 4\nr3 = 0\ncall bpf_reserve_hdr_opt#144\n`;
      body += `*(u32 *)(r7 + ${at}) = r0\n`;
      return;
    }
    const len = c.len ?? 4;
    if (c.set) body += `*(u32 *)(r10 - 16) = ${c.value}\n`;
    else body += `*(u32 *)(r10 - 16) = 0x5a5a5a5a\n`;
    body += `r1 = r6\nr2 = ${c.level}\nr3 = ${c.opt}\nr4 = r10\nr4 += -16\nr5 = ${len}\n`;
    body += `call ${c.set ? 'bpf_setsockopt#49' : 'bpf_getsockopt#57'}\n*(u32 *)(r7 + ${at}) = r0\n`;
    if (!c.set) body += `r2 = *(u32 *)(r10 - 16)\n*(u32 *)(r7 + ${at + 4}) = r2\n`;
  });
  return `
  ${NEXT_LOG_SLOT}
  r2 = *(u32 *)(r6 + 0)
  *(u32 *)(r7 + 0) = r2
  r2 = *(u32 *)(r6 + 72)
  *(u32 *)(r7 + 4) = r2
  r2 = *(u32 *)(r6 + 0)
  if r2 == 11 goto flags
  if r2 == 3 goto flags
  goto calls
flags:
  r1 = r6
  r2 = 4
  call bpf_sock_ops_cb_flags_set#59
calls:
  ${body}
out:
  r0 = 1
  exit`;
}

function scenario(): Scenario {
  return {
    maps: [
      { type: MapType.ARRAY, keySize: 4, valueSize: SLOT, maxEntries: 40 },
      { type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 },
    ],
    progs: [{ progType: ProgType.SOCK_OPS, expectedAttachType: AttachType.CGROUP_SOCK_OPS, insns: assemble(program()) }],
    steps: [
      { op: 'cgroupAttach', prog: 0 },
      ...tcpPair('l1', 'c1', 'p1'),
      ...(['c1', 'p1'] as const).flatMap((s) => [{ op: 'getsockopt' as const, sock: s, level: 1, opt: 7 }, { op: 'getsockopt' as const, sock: s, level: 1, opt: 8 }]),
      { op: 'close', sock: 'c1' },
      { op: 'sleep', ms: 50 },
      { op: 'close', sock: 'p1' },
      { op: 'sleep', ms: 50 },
    ],
  };
}

function view(r: ScenarioResult): unknown {
  return {
    steps: r.steps.map((st) => [st.op, st.ret]),
    log: logRecords(r).map((dv) => {
      const rec: number[] = [];
      for (let i = 0; i < SLOTS; i++) rec.push(dv.getInt32(4 * i, true));
      return rec;
    }),
  };
}

suite('sock_ops socket-option helpers: model vs kernel', () => {
  it('setsockopt / getsockopt / store_hdr_opt / reserve_hdr_opt in every callback of a connection and its close', (ctx) => {
    const s = scenario();
    const kernel = runScenario(s);
    const noCgroup = cgroupSkipReason(kernel);
    if (noCgroup !== null) return ctx.skip(noCgroup);
    expect(kernel.ok).toBe(true);
    const km = new Kernel();
    // the host's clamps for SO_SNDBUF / SO_RCVBUF (this host: 4194304, not the kernel default 212992)
    km.sysctl.wmemMax = Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8'));
    km.sysctl.rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const model = runModelScenario(s, km).result;
    const k = view(kernel);
    const m = view(model);
    expect(m).toEqual(k);
    const log = (k as { log: number[][] }).log;
    console.log(`sock_ops sockopt log: ${log.length} callbacks x ${CALLS.length} calls agree; ops ${log.map((r) => r[0]).join(',')}`);
    // the request socket (is_fullsock 0) gets -EINVAL from every set/get; full sockets set SO_SNDBUF (ret 0)
    expect(log.some((r) => r[1] === 0 && r[2] === -22)).toBe(true);
    expect(log.some((r) => r[1] === 1 && r[2] === 0)).toBe(true);
  });
});

/**
 * bpf_load_hdr_opt cases: [search_res's first 4 bytes as a little-endian u32 (kind, search len, magic), len, flags].
 * (Searches for timestamps / window scale are left out: the model does not make up their values.)
 */
const HDR_LOAD: [number, number, number][] = [
  [0x9feb04fe, 8, 0], [0x9feb04fe, 8, 1], [0x9feb04fe, 1, 0], [0x9feb04fe, 8, 2], [0x00000001, 8, 0], [0x00000000, 8, 0],
  [0x00000002, 8, 0], [0x00000004, 8, 0], [0x00000002, 3, 0], [0x00000402, 8, 0], [0x00000002, 8, 1], [0x9feb06fe, 4, 0],
  [0x9feb03fe, 8, 0], [0x9feb06fd, 8, 0], [0x00000005, 8, 0],
];
const HDR_SLOTS = 2 + 3 * HDR_LOAD.length;

function loadHdrOptProgram(): string {
  let body = '';
  HDR_LOAD.forEach(([s, len, flags], i) => {
    body += `*(u64 *)(r10 - 16) = 0\n*(u64 *)(r10 - 24) = 0\n*(u32 *)(r10 - 24) = ${s}\nr1 = r6\nr2 = r10\nr2 += -24\nr3 = ${len}\nr4 = ${flags}\n`;
    body += `call bpf_load_hdr_opt#142\n*(u32 *)(r7 + ${8 + 12 * i}) = r0\nr2 = *(u32 *)(r10 - 24)\n*(u32 *)(r7 + ${12 + 12 * i}) = r2\nr2 = *(u32 *)(r10 - 20)\n*(u32 *)(r7 + ${16 + 12 * i}) = r2\n`;
  });
  return program().replace(/ {2}r2 = \*\(u32 \*\)\(r6 \+ 0\)\n {2}if r2 == 11[\s\S]*\n(out:)/, `${body}$1`);
}

suite('sock_ops bpf_load_hdr_opt: model vs kernel', () => {
  it('argument errors, -ENOENT for the SYN, -EPERM without a packet, the handshake packet\'s options in ESTABLISHED callbacks', (ctx) => {
    const prog = loadHdrOptProgram();
    expect(prog).toContain('bpf_load_hdr_opt#142');
    expect(prog).not.toContain('bpf_setsockopt');
    const s = scenario();
    s.maps![0]!.valueSize = 4 * HDR_SLOTS;
    s.progs![0]!.insns = assemble(prog);
    s.steps = s.steps.filter((st) => st.op !== 'getsockopt');
    const kernel = runScenario(s);
    const noCgroup = cgroupSkipReason(kernel);
    if (noCgroup !== null) return ctx.skip(noCgroup);
    expect(kernel.ok).toBe(true);
    const rows = (r: ScenarioResult): number[][] => logRecords(r).map((dv) => Array.from({ length: HDR_SLOTS }, (_, i) => dv.getInt32(4 * i, true)));
    const k = rows(kernel);
    const m = rows(runModelScenario(s, new Kernel()).result);
    expect(m).toEqual(k);
    // ACTIVE_ESTABLISHED_CB (4) found the SYN-ACK's MSS option (4 bytes: kind 2, len 4, 65495)
    expect(k.some((r) => r[0] === 4 && r[2 + 3 * 6] === 4 && r[3 + 3 * 6] === (0xd7ff0402 | 0))).toBe(true);
    console.log(`sock_ops load_hdr_opt: ${k.length} callbacks x ${HDR_LOAD.length} calls agree; ops ${k.map((r) => r[0]).join(',')}`);
  });
});

/** bpf_strtol / bpf_strtoul cases: [string, helper (105 strtol / 106 strtoul), flags]; buf_len = the string length. */
const STRTO: [string, number, number][] = [
  ['  -123ab', 105, 10], ['0x1fz', 105, 0], ['0x1f', 105, 16], ['017', 105, 0], ['0x', 105, 0], ['x', 105, 10],
  ['   ', 105, 10], ['12', 105, 7], ['12', 105, 0x20], ['-1', 106, 0], ['-1', 105, 0], ['+5', 105, 10],
  [' \t\n7', 106, 0], ['99999999999999999999', 106, 10], ['18446744073709551615', 106, 10],
  ['9223372036854775808', 105, 10], ['-9223372036854775808', 105, 10], ['ffffffffffffffff', 105, 16],
  ['ffffffffffffffff', 106, 16], ['0777', 106, 8], ['0X10', 106, 0], ['1234567890123456789012345678901234567890123456789012345678901234567890', 106, 10],
];

function strtoProgram(): string {
  let body = '';
  STRTO.forEach(([str, fn, flags], i) => {
    const b = Buffer.alloc(Math.ceil(str.length / 4) * 4);
    b.write(str, 'latin1');
    for (let o = 0; o < b.length; o += 4) body += `*(u32 *)(r10 - ${96 - o}) = ${b.readUInt32LE(o)}\n`;
    body += `*(u64 *)(r10 - 8) = 0\nr1 = r10\nr1 += -96\nr2 = ${str.length}\nr3 = ${flags}\nr4 = r10\nr4 += -8\ncall ${fn}\n`;
    body += `*(u32 *)(r7 + ${12 * i}) = r0\nr2 = *(u32 *)(r10 - 8)\n*(u32 *)(r7 + ${12 * i + 4}) = r2\nr2 = *(u32 *)(r10 - 4)\n*(u32 *)(r7 + ${12 * i + 8}) = r2\n`;
  });
  return `
  r6 = r1
  r2 = *(u32 *)(r6 + 0)
  if r2 != 11 goto out
  *(u32 *)(r10 - 12) = 0
  r1 = map[idx:0]
  r2 = r10
  r2 += -12
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
  r7 = r0
  ${body}
  r1 = r6
  call bpf_get_netns_cookie#122
  *(u64 *)(r7 + ${12 * STRTO.length}) = r0
out:
  r0 = 1
  exit`;
}

suite('generic helpers: model vs kernel', () => {
  it('bpf_strtol / bpf_strtoul results and bpf_get_netns_cookie of init_net, from a SOCK_OPS program', (ctx) => {
    const s: Scenario = {
      maps: [{ type: MapType.ARRAY, keySize: 4, valueSize: 12 * STRTO.length + 8, maxEntries: 1 }],
      progs: [{ progType: ProgType.SOCK_OPS, expectedAttachType: AttachType.CGROUP_SOCK_OPS, insns: assemble(strtoProgram()) }],
      steps: [{ op: 'cgroupAttach', prog: 0 }, { op: 'listen', name: 'l1' }],
    };
    const kernel = runScenario(s);
    expect(kernel.setupError?.log ?? '').toBe('');
    const noCgroup = cgroupSkipReason(kernel);
    if (noCgroup !== null) return ctx.skip(noCgroup);
    expect(kernel.ok).toBe(true);
    const cookieOf = (r: ScenarioResult): bigint => new DataView(r.maps[0]!.entries![0]!.value.buffer, r.maps[0]!.entries![0]!.value.byteOffset).getBigUint64(12 * STRTO.length, true);
    // The netns cookie is machine-dependent (init_net's was 3 on the 6.18 host, not 1): the model takes it as
    // an option (default 1); here it is given the host's value.
    const model = runModelScenario(s, new Kernel({ netnsCookie: cookieOf(kernel) })).result;
    expect(cookieOf(runModelScenario(s).result)).toBe(1n);
    const rows = (r: ScenarioResult): unknown[] => {
      const v = r.maps[0]!.entries![0]!.value;
      const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
      const out: unknown[] = STRTO.map(([str, fn, flags], i) => [str, fn, flags, dv.getInt32(12 * i, true), dv.getBigInt64(12 * i + 4, true)]);
      out.push(['netns cookie', dv.getBigUint64(12 * STRTO.length, true)]);
      return out;
    };
    const k = rows(kernel);
    console.log(`strtol/strtoul: ${STRTO.length} cases agree with the kernel; netns cookie ${String(cookieOf(kernel))}`);
    expect(rows(model)).toEqual(k);
  });
});
