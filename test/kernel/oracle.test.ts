/**
 * Tests of the kernel oracle itself (not of bpfvm): they load small, bounded
 * programs into the host kernel.  Everything skips, with the reason in the
 * suite name, where bpf() is not permitted or no C compiler exists.
 */
import { describe, expect, it } from 'vitest';
import { errnoName, kernelAvailability, kernelRun, kernelRunBatch } from './oracle.js';

const avail = kernelAvailability();
const skipReason = avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`;

// ---- hand-written bytecode (independent of bpfvm's assembler) ----------

/** One 8-byte slot: opcode, dst/src nibbles, s16 offset, s32 imm (little-endian). */
function insn(code: number, dst: number, src: number, off: number, imm: number): number[] {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, code);
  v.setUint8(1, ((src & 0xf) << 4) | (dst & 0xf));
  v.setInt16(2, off, true);
  v.setInt32(4, imm | 0, true);
  return [...b];
}
const prog = (...slots: number[][]): Uint8Array => new Uint8Array(slots.flat());

const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R10 = 10;
const movImm = (dst: number, imm: number) => insn(0xb7, dst, 0, 0, imm); // BPF_ALU64|BPF_MOV|BPF_K
const movReg = (dst: number, src: number) => insn(0xbf, dst, src, 0, 0); // BPF_ALU64|BPF_MOV|BPF_X
const addImm = (dst: number, imm: number) => insn(0x07, dst, 0, 0, imm); // BPF_ALU64|BPF_ADD|BPF_K
const ldxw = (dst: number, src: number, off: number) => insn(0x61, dst, src, off, 0);
const ldxb = (dst: number, src: number, off: number) => insn(0x71, dst, src, off, 0);
const ldxdw = (dst: number, src: number, off: number) => insn(0x79, dst, src, off, 0);
const stw = (dst: number, off: number, imm: number) => insn(0x62, dst, 0, off, imm);
const jgtReg = (dst: number, src: number, off: number) => insn(0x2d, dst, src, off, 0);
const jeqImm = (dst: number, imm: number, off: number) => insn(0x15, dst, 0, off, imm);
const call = (helper: number) => insn(0x85, 0, 0, 0, helper);
const exit = () => insn(0x95, 0, 0, 0, 0);
/** lddw dst, <pseudo src> imm  (two slots; second imm = next). */
const lddw = (dst: number, src: number, imm: number, next = 0) => [
  ...insn(0x18, dst, src, 0, imm),
  ...insn(0, 0, 0, 0, next),
];

const PROG_SOCKET_FILTER = 1;
const PROG_XDP = 6;
const PROG_SK_MSG = 16;
const MAP_ARRAY = 2;
const MAP_HASH = 1;
const EACCES = 13;
const ENOSPC = 28;
const EINVAL = 22;

const u32le = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
};

describe.skipIf(!avail.ok)(`kernel oracle${skipReason}`, () => {
  it('reports the kernel as available on this machine', () => {
    expect(avail.ok, avail.reason).toBe(true);
    expect(kernelAvailability()).toBe(avail); // cached
  });

  it('runs a socket filter "r0 = 42; exit" and returns retval 42', () => {
    const res = kernelRun({ progType: PROG_SOCKET_FILTER, insns: prog(movImm(R0, 42), exit()), run: {} });
    expect(res.loaded, res.log).toBe(true);
    expect(res.errno).toBe(0);
    expect(res.stage).toBeUndefined();
    expect(res.run?.errno).toBe(0);
    expect(res.run?.retval).toBe(42);
    // Default input is 64 zero bytes, and a socket filter leaves it alone.
    expect(res.run?.dataOut).toEqual(new Uint8Array(64));
    // Level-1 logs of successful loads still carry the statistics line.
    expect(res.log).toMatch(/^processed 2 insns \(limit \d+\)/);
  });

  it('runs an XDP program that returns the first packet byte', () => {
    const insns = prog(
      ldxw(R2, R1, 0), // r2 = ctx->data
      ldxw(R3, R1, 4), // r3 = ctx->data_end
      movImm(R0, 0),
      movReg(R4, R2),
      addImm(R4, 1),
      jgtReg(R4, R3, 1), // if data + 1 > data_end: return 0
      ldxb(R0, R2, 0),
      exit(),
    );
    const packet = new Uint8Array(60);
    packet[0] = 0xab;
    packet[1] = 0xcd;
    const res = kernelRun({ progType: PROG_XDP, insns, run: { dataIn: packet } });
    expect(res.loaded, res.log).toBe(true);
    expect(res.run?.errno).toBe(0);
    // The kernel passes any value through as retval, even invalid XDP actions.
    expect(res.run?.retval).toBe(0xab);
    expect(res.run?.dataOut).toEqual(packet);
  });

  it('rejects a read of an uninitialised stack slot with EACCES (restricted caps)', () => {
    const insns = prog(ldxdw(R0, R10, -8), exit());
    const res = kernelRun({ progType: PROG_SOCKET_FILTER, insns, restricted: true });
    expect(res.loaded).toBe(false);
    expect(res.errno, errnoName(res.errno)).toBe(EACCES);
    expect(res.stage).toBe('prog_load');
    expect(res.log).toContain('invalid read from stack');
    expect(res.run).toBeUndefined();
  });

  it('shows that full root (CAP_PERFMON) may read uninitialised stack', () => {
    // Documents a kernel fact bpfvm's privileged mode must mirror.
    const insns = prog(ldxdw(R0, R10, -8), movImm(R0, 0), exit());
    const res = kernelRun({ progType: PROG_SOCKET_FILTER, insns });
    expect(res.loaded, res.log).toBe(true);
  });

  it('looks up an array map through lddw src=5 and sees/updates its value', () => {
    const insns = prog(
      stw(R10, -4, 2), // key = 2
      movReg(R2, R10),
      addImm(R2, -4),
      lddw(R1, 5, 0), // r1 = &maps[0]  (BPF_PSEUDO_MAP_IDX)
      call(1), // bpf_map_lookup_elem
      jeqImm(R0, 0, 4),
      ldxw(R1, R0, 0), // r1 = value[0..4]
      stw(R0, 4, 0x77), // value[4..8] = 0x77
      movReg(R0, R1),
      exit(),
      movImm(R0, 1),
      exit(),
    );
    const value = new Uint8Array([0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0]);
    const res = kernelRun({
      progType: PROG_SOCKET_FILTER,
      insns,
      maps: [{ type: MAP_ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, name: 'oracle_arr', entries: [{ key: u32le(2), value }] }],
      run: {},
      readMapsAfter: true,
    });
    expect(res.loaded, res.log).toBe(true);
    expect(res.run?.errno).toBe(0);
    expect(res.run?.retval).toBe(0xdeadbeef); // unsigned u32
    const entries = res.maps?.[0]?.entries ?? [];
    expect(entries.map((e) => e.key)).toEqual([0, 1, 2, 3].map(u32le));
    expect(entries[2]?.value).toEqual(new Uint8Array([0xef, 0xbe, 0xad, 0xde, 0x77, 0, 0, 0]));
    expect(entries[0]?.value).toEqual(new Uint8Array(8));
  });

  it('resolves lddw src=6 (map value) and dumps hash maps', () => {
    const insns = prog(
      lddw(R1, 6, 0, 4), // r1 = &maps[0].value[0] + 4
      ldxw(R0, R1, 0),
      exit(),
    );
    const res = kernelRun({
      progType: PROG_SOCKET_FILTER,
      insns,
      maps: [
        { type: MAP_ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, entries: [{ key: u32le(0), value: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }] },
        { type: MAP_HASH, keySize: 4, valueSize: 4, maxEntries: 8, entries: [1, 5, 9].map((k) => ({ key: u32le(k), value: u32le(k * 100) })) },
      ],
      run: {},
      readMapsAfter: true,
    });
    expect(res.loaded, res.log).toBe(true);
    expect(res.run?.retval).toBe(0x08070605);
    const hash = res.maps?.[1]?.entries ?? [];
    const asNum = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0, true);
    const pairs = hash.map((e) => [asNum(e.key), asNum(e.value)]).sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
    expect(pairs).toEqual([[1, 100], [5, 500], [9, 900]]);
  });

  it('runs a batch of 50 programs in one process, quickly', () => {
    const reqs = Array.from({ length: 50 }, (_, i) => ({
      progType: PROG_SOCKET_FILTER,
      insns: prog(movImm(R0, i * 3), exit()),
      run: { repeat: 1 },
    }));
    const t0 = performance.now();
    const res = kernelRunBatch(reqs);
    const ms = performance.now() - t0;
    expect(res.map((r) => r.run?.retval)).toEqual(reqs.map((_, i) => i * 3));
    expect(res.every((r) => r.loaded && r.run?.errno === 0)).toBe(true);
    expect(ms).toBeLessThan(10_000);
  });

  it('reports kernel log truncation as ENOSPC and keeps what was written', () => {
    const insns = prog(movImm(R0, 1), movImm(R1, 2), movImm(R2, 3), exit());
    const res = kernelRun({ progType: PROG_SOCKET_FILTER, insns, logLevel: 2, logSize: 128 });
    expect(res.loaded).toBe(false);
    expect(res.errno, errnoName(res.errno)).toBe(ENOSPC);
    expect(res.log.length).toBeGreaterThan(0);
    expect(res.log.length).toBeLessThan(128);
    // Without BPF_LOG_FIXED the kernel log is rotating: the tail survives.
    expect(res.log).toContain('processed 4 insns');
  });

  it('leaves an out-of-range map index alone so the kernel rejects it', () => {
    const res = kernelRun({ progType: PROG_SOCKET_FILTER, insns: prog(lddw(R1, 5, 3), movImm(R0, 0), exit()), maps: [] });
    expect(res.loaded).toBe(false);
    expect(res.errno).toBeGreaterThan(0); // EPROTO (71) on 6.18: "fd_idx without fd_array is invalid"
    expect(res.stage).toBe('prog_load');
  });

  it('reports map creation failures with stage map_create', () => {
    const res = kernelRun({
      progType: PROG_SOCKET_FILTER,
      insns: prog(movImm(R0, 0), exit()),
      maps: [{ type: MAP_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 }, { type: MAP_ARRAY, keySize: 3, valueSize: 4, maxEntries: 1 }],
    });
    expect(res).toMatchObject({ loaded: false, errno: EINVAL, stage: 'map_create', failedMap: 1 });
  });

  it('reports test_run failures in run.errno (sk_msg has no test_run)', () => {
    const res = kernelRun({ progType: PROG_SK_MSG, insns: prog(movImm(R0, 1), exit()), run: {} });
    expect(res.loaded, res.log).toBe(true);
    expect(res.errno).toBe(0);
    expect(res.stage).toBe('test_run');
    expect(res.run?.errno).toBe(524); // kernel-internal ENOTSUPP
  });

  it('kills the helper and throws when a batch exceeds its timeout', () => {
    const spin = { progType: PROG_SOCKET_FILTER, insns: prog(movImm(R0, 0), exit()), run: { repeat: 10_000_000 } };
    const t0 = performance.now();
    expect(() => kernelRunBatch([spin, spin, spin, spin, spin, spin, spin, spin], { timeoutMs: 300 })).toThrow(/timed out/);
    expect(performance.now() - t0).toBeLessThan(5_000);
    // The oracle still works afterwards.
    expect(kernelRun({ progType: PROG_SOCKET_FILTER, insns: prog(movImm(R0, 5), exit()), run: {} }).run?.retval).toBe(5);
  });

  it('rejects malformed requests before they reach the helper', () => {
    expect(() => kernelRun({ progType: 1, insns: new Uint8Array(7) })).toThrow(RangeError);
    expect(() => kernelRun({ progType: -1, insns: prog(exit()) })).toThrow(/progType/);
    expect(() => kernelRun({ progType: 1, insns: prog(exit()), run: { repeat: 1e9 } })).toThrow(/repeat/);
  });
});
