// bpfvm's BPF_PROG_TEST_RUN against the host kernel's, byte for byte: retval (or the errno of a refused run),
// data_out and ctx_out. Programs are hand-assembled (kernel syntax): readers of every context field each program
// type may read (full and narrow loads, stored into cb[] so ctx_out carries them), and helper programs with
// random arguments; inputs are random packets (fast-check, fixed seed) with random valid — and some invalid —
// ctx_in. Both execution tiers (interpreter and JS) are compared. Everything skips, with the reason in the suite name, where the kernel oracle is unavailable.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ProgramSpec } from '../../src/spec.js';
import { BpfTestRunError, testRun } from '../../src/kernel/testrun.js';
import { assemble } from '../../vm/asm.js';
import { kernelAvailability, kernelRunBatch, type KernelProgRequest } from './oracle.js';
import { propertySeed } from '../fc-seed.js';

const avail = kernelAvailability();
const skipReason = avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`;
const BATCH = 100;
const SEED = propertySeed(0x7e57);

const SF = 1;
const TC = 3;
const ACT = 4;
const XDP = 6;
const CG = 8;
const TYPE_NAMES: Record<number, string> = { 1: 'socket_filter', 3: 'sched_cls', 4: 'sched_act', 6: 'xdp', 8: 'cgroup_skb' };

interface DiffCase {
  name: string;
  type: number;
  insns: Uint8Array;
  dataIn: Uint8Array;
  ctxIn?: Uint8Array;
  ctxOut?: boolean;
  repeat?: number;
}

interface Outcome {
  errno: number;
  retval?: number;
  dataOut?: string;
  ctxOut?: string;
}

const hex = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

function spec(c: DiffCase): ProgramSpec {
  return {
    name: 'p', section: 'test', type: c.type, typeName: TYPE_NAMES[c.type]!, insns: c.insns, license: 'GPL',
    funcInfo: [], lineInfo: [], annotations: [],
  } as ProgramSpec;
}

function model(c: DiffCase, tier: 'interp' | 'js'): Outcome {
  try {
    const r = testRun(spec(c), c.dataIn, { ctxIn: c.ctxIn, ctxOut: c.ctxOut, repeat: c.repeat, tier });
    return { errno: 0, retval: r.retval, dataOut: hex(r.dataOut), ctxOut: hex(r.ctxOut) };
  } catch (e) {
    if (e instanceof BpfTestRunError) return { errno: e.errno };
    throw new Error(`${c.name}: ${(e as Error).message}`);
  }
}

function ctxSize(c: DiffCase): number {
  return c.ctxIn !== undefined || c.ctxOut ? (c.type === XDP ? 24 : 192) : 0;
}

/** Runs every case in the kernel and in bpfvm; returns the mismatches (and how many cases ran). */
function compare(cases: DiffCase[]): { mismatches: unknown[]; ran: number; refused: number } {
  const mismatches: unknown[] = [];
  let refused = 0;
  for (let i = 0; i < cases.length; i += BATCH) {
    const chunk = cases.slice(i, i + BATCH);
    const reqs: KernelProgRequest[] = chunk.map((c) => ({
      progType: c.type,
      insns: c.insns,
      run: {
        dataIn: c.dataIn,
        ...(c.ctxIn !== undefined ? { ctxIn: c.ctxIn } : {}),
        ctxSizeOut: ctxSize(c),
        dataSizeOut: c.dataIn.length + 70000,
        repeat: c.repeat ?? 1,
      },
    }));
    const res = kernelRunBatch(reqs);
    chunk.forEach((c, k) => {
      const kr = res[k]!;
      if (!kr.loaded) {
        mismatches.push({ case: c.name, problem: 'kernel refused to load the test program', log: kr.log.split('\n').slice(-4).join('\n') });
        return;
      }
      const run = kr.run!;
      const want: Outcome = run.errno !== 0 ? { errno: run.errno } : { errno: 0, retval: run.retval, dataOut: hex(run.dataOut), ctxOut: hex(run.ctxOut) };
      if (want.errno !== 0) refused++;
      for (const tier of ['interp', 'js'] as const) {
        const got = model(c, tier);
        if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ case: c.name, tier, kernel: want, bpfvm: got });
      }
    });
  }
  return { mismatches, ran: cases.length, refused };
}

// ---- random inputs ----------------------------------------------------------------------------------------

const arbDst = fc.oneof(
  fc.constant([0, 0, 0, 0, 0, 0]),
  fc.constant([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }),
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }).map((a) => [a[0]! | 1, ...a.slice(1)]),
);
const arbEtherType = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0x0800) },
  { weight: 3, arbitrary: fc.constant(0x86dd) },
  { weight: 2, arbitrary: fc.constant(0x8100) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x5ff }) },
);
const arbLen = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 14, max: 80 }) },
  { weight: 3, arbitrary: fc.integer({ min: 54, max: 600 }) },
  { weight: 1, arbitrary: fc.integer({ min: 600, max: 3712 }) },
);

const arbPacket = (maxLen = 3712): fc.Arbitrary<Uint8Array> =>
  fc.tuple(arbLen.map((n) => Math.min(n, maxLen)), arbDst, arbEtherType, fc.integer({ min: 0, max: 0xffffffff }), fc.boolean()).map(([len, dst, et, seed, ffff]) => {
    const p = new Uint8Array(len);
    let s = seed >>> 0 || 1;
    for (let i = 0; i < len; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      p[i] = s & 0xff;
    }
    p.set(dst, 0);
    p[12] = et >> 8;
    p[13] = et & 0xff;
    if (ffff && len >= 16) p[14] = p[15] = 0xff;
    return p;
  });

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

/** A valid __sk_buff ctx_in for a packet whose skb->len will be `len` (with occasional invalid variants). */
function arbSkbCtx(len: number): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      mark: u32, priority: u32, iif: u32, ifindex: fc.constantFrom(0, 1, 1), cb: fc.array(u32, { minLength: 5, maxLength: 5 }),
      tstamp: u64, wire: fc.oneof(fc.constant(0), fc.integer({ min: len, max: 65536 })), segs: fc.integer({ min: 0, max: 65535 }),
      gsoSize: fc.oneof(fc.constant(0), u32), hwtstamp: u64, size: fc.constantFrom(192, 192, 192, 100, 200),
      bad: fc.oneof({ weight: 12, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 199 }) }),
      badWire: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    })
    .map((r) => {
      const c = new Uint8Array(r.size);
      const full = new Uint8Array(200);
      const dv = new DataView(full.buffer);
      dv.setUint32(8, r.mark, true);
      dv.setUint32(32, r.priority, true);
      dv.setUint32(36, r.iif, true);
      dv.setUint32(40, r.ifindex, true);
      r.cb.forEach((v, i) => dv.setUint32(48 + 4 * i, v, true));
      dv.setBigUint64(152, r.tstamp, true);
      dv.setUint32(160, r.badWire ? Math.max(1, len - 1) : r.wire, true);
      dv.setUint32(164, r.segs, true);
      dv.setUint32(176, r.gsoSize, true);
      dv.setBigUint64(184, r.hwtstamp, true);
      if (r.bad >= 0) full[r.bad] = (full[r.bad]! + 1) & 0xff || 1;
      c.set(full.subarray(0, r.size));
      return c;
    });
}

function arbXdpCtx(len: number): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      meta: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 0, max: 54 }).map((x) => x * 4) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 260 }) }),
      end: fc.integer({ min: 0, max: len }),
      full: fc.boolean(),
      ifindex: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(0, 1) }, { weight: 1, arbitrary: fc.constant(5000) }),
      rxq: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
      egress: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
    })
    .map((r) => {
      const meta = Math.min(r.meta, len);
      const end = r.full ? len : Math.max(meta, r.end);
      return new Uint8Array(new Uint32Array([meta, end, 0, r.ifindex, r.rxq, r.egress]).buffer);
    });
}

// ---- ctx field readers ---------------------------------------------------------------------------------

/** A reader leaves a u32 in r2 (r6 = ctx). */
interface Reader {
  name: string;
  asm: string;
}
const ld = (name: string, off: number, size: 'u8' | 'u16' | 'u32' = 'u32'): Reader => ({ name, asm: `r2 = *(${size} *)(r6 +${off})` });
const ld64 = (name: string, off: number, half: 0 | 1): Reader => ({ name: `${name}.${half ? 'hi' : 'lo'}`, asm: `r2 = *(u64 *)(r6 +${off})${half ? '\nr2 >>= 32' : ''}` });

const U32_FIELDS: [string, number][] = [
  ['len', 0], ['pkt_type', 4], ['mark', 8], ['queue_mapping', 12], ['protocol', 16], ['vlan_present', 20], ['vlan_tci', 24],
  ['vlan_proto', 28], ['priority', 32], ['ingress_ifindex', 36], ['ifindex', 40], ['tc_index', 44], ['cb0', 48], ['cb1', 52],
  ['cb2', 56], ['cb3', 60], ['cb4', 64], ['hash', 68], ['tc_classid', 72], ['napi_id', 84], ['family', 88], ['remote_port', 132],
  ['local_port', 136], ['wire_len', 160], ['gso_segs', 164], ['gso_size', 176],
];
const NO_NARROW = new Set(['remote_ip4', 'local_ip4']);

function readersFor(type: number): Reader[] {
  const denied = new Set<string>();
  const sockFields = ['family', 'remote_ip4', 'local_ip4', 'remote_port', 'local_port', ...[0, 1, 2, 3].flatMap((i) => [`remote_ip6_${i}`, `local_ip6_${i}`])];
  if (type === SF) ['tc_classid', 'data', 'data_meta', 'tstamp', 'wire_len', 'hwtstamp', ...sockFields].forEach((f) => denied.add(f));
  if (type === CG) ['tc_classid', 'data_meta', 'wire_len'].forEach((f) => denied.add(f));
  if (type === TC || type === ACT) sockFields.forEach((f) => denied.add(f));
  const out: Reader[] = [];
  const fields: [string, number][] = [...U32_FIELDS, ['remote_ip4', 92], ['local_ip4', 96], ...[0, 1, 2, 3].flatMap((i): [string, number][] => [[`remote_ip6_${i}`, 100 + 4 * i], [`local_ip6_${i}`, 116 + 4 * i]])];
  for (const [name, off] of fields) {
    if (denied.has(name)) continue;
    out.push(ld(name, off));
    if (NO_NARROW.has(name) || name.includes('ip6')) continue;
    for (let b = 0; b < 4; b++) out.push(ld(`${name}.u8@${b}`, off + b, 'u8'));
    out.push(ld(`${name}.u16@0`, off, 'u16'), ld(`${name}.u16@2`, off + 2, 'u16'));
  }
  if (!denied.has('data')) out.push({ name: 'data_end-data', asm: 'r2 = *(u32 *)(r6 +80)\nr3 = *(u32 *)(r6 +76)\nr2 -= r3' });
  if (!denied.has('data_meta') && type !== CG) out.push({ name: 'data-data_meta', asm: 'r2 = *(u32 *)(r6 +76)\nr3 = *(u32 *)(r6 +140)\nr2 -= r3' });
  if (!denied.has('tstamp')) out.push(ld64('tstamp', 152, 0), ld64('tstamp', 152, 1));
  if (!denied.has('hwtstamp')) out.push(ld64('hwtstamp', 184, 0), ld64('hwtstamp', 184, 1));
  out.push({ name: 'sk!=NULL', asm: 'r2 = *(u64 *)(r6 +168)\nif r2 == 0 goto pc+1\nr2 = 1' });
  if (type === TC || type === ACT) out.push(ld('tstamp_type', 180, 'u8'));
  return out;
}

/** Programs that store up to 5 readers into cb[0..4] (in order) and return the first (cg_skb: 1). */
function readerPrograms(type: number): { name: string; insns: Uint8Array }[] {
  const rs = readersFor(type);
  const progs: { name: string; insns: Uint8Array }[] = [];
  for (let i = 0; i < rs.length; i += 5) {
    const group = rs.slice(i, i + 5);
    // Read everything first (cb readers must see ctx_in's cb), keep results in r7..r9 and the stack.
    const lines = ['r6 = r1'];
    group.forEach((r, k) => lines.push(r.asm, `*(u32 *)(r10 -${4 * (k + 1)}) = r2`));
    group.forEach((_, k) => lines.push(`r2 = *(u32 *)(r10 -${4 * (k + 1)})`, `*(u32 *)(r6 +${48 + 4 * k}) = r2`));
    lines.push(type === CG ? 'r0 = 1' : 'r0 = *(u32 *)(r10 -4)', 'exit');
    progs.push({ name: group.map((r) => r.name).join(','), insns: assemble(lines.join('\n')) });
  }
  return progs;
}

const XDP_READER = assemble(`
  r2 = *(u32 *)(r1 +0)
  r3 = *(u32 *)(r1 +4)
  r4 = *(u32 *)(r1 +8)
  r5 = *(u32 *)(r1 +12)
  r0 = *(u32 *)(r1 +16)
  r0 <<= 28
  r5 <<= 24
  r0 |= r5
  r3 -= r2
  r0 |= r3
  r2 -= r4
  r2 <<= 16
  r0 |= r2
  exit`);

function sample<T>(arb: fc.Arbitrary<T>, n: number, seed: number): T[] {
  return fc.sample(arb, { numRuns: n, seed });
}

function skbLen(type: number, p: Uint8Array): number {
  return type === TC || type === ACT ? p.length : p.length - 14;
}

describe(`BPF_PROG_TEST_RUN differential: context fields${skipReason}`, () => {
  it.skipIf(!avail.ok)('skb types: every readable __sk_buff field, full and narrow loads, with and without ctx_in', () => {
    const cases: DiffCase[] = [];
    let seed = SEED;
    for (const type of [SF, TC, ACT, CG]) {
      const progs = readerPrograms(type);
      const packets = sample(arbPacket(), progs.length * 3, seed++);
      progs.forEach((p, i) => {
        for (let k = 0; k < 3; k++) {
          const pkt = packets[i * 3 + k]!;
          const base = { name: `${TYPE_NAMES[type]} [${p.name}] #${k}`, type, insns: p.insns, dataIn: pkt };
          if (k === 0) cases.push(base); // no ctx at all
          else if (k === 1) cases.push({ ...base, ctxOut: true }); // ctx_out only: the kernel uses a zero ctx
          else cases.push({ ...base, ctxIn: sample(arbSkbCtx(skbLen(type, pkt)), 1, seed + i)[0]! });
        }
      });
    }
    const r = compare(cases);
    console.log(`context fields (skb): ${r.ran - r.mismatches.length}/${r.ran} agree with the kernel (${r.refused} refused by both)`);
    expect(r.mismatches).toEqual([]);
  });

  it.skipIf(!avail.ok)('skb types: random packets and ctx_in, repeat', () => {
    const cases: DiffCase[] = [];
    let n = 0;
    for (const type of [SF, TC, ACT, CG]) {
      const progs = readerPrograms(type);
      const inputs = sample(fc.tuple(arbPacket(), fc.integer({ min: 0, max: progs.length - 1 }), fc.integer({ min: 0, max: 3 }), u32), 60, SEED + 100 + type);
      for (const [pkt, pi, rep, s] of inputs) {
        const ctxIn = sample(arbSkbCtx(skbLen(type, pkt)), 1, s)[0]!;
        cases.push({ name: `${TYPE_NAMES[type]} random #${n++} [${progs[pi]!.name}]`, type, insns: progs[pi]!.insns, dataIn: pkt, ctxIn, repeat: rep });
      }
    }
    // Sizes at the limits.
    for (const len of [0, 13, 14, 33, 34, 3712, 3713]) {
      const p = new Uint8Array(len).fill(0x45);
      if (len >= 14) p[12] = 0x08, p[13] = 0;
      cases.push({ name: `tc len ${len}`, type: TC, insns: assemble('r0 = *(u32 *)(r1 +0)\nexit'), dataIn: p });
      cases.push({ name: `sf len ${len}`, type: SF, insns: assemble('r0 = *(u32 *)(r1 +0)\nexit'), dataIn: p });
    }
    const r = compare(cases);
    console.log(`random skb runs: ${r.ran - r.mismatches.length}/${r.ran} agree with the kernel (${r.refused} refused by both)`);
    expect(r.mismatches).toEqual([]);
  });

  it.skipIf(!avail.ok)('skb types: program writes reach ctx_out (mark, priority, cb, tc_index, tc_classid, queue_mapping, tstamp)', () => {
    const tcWrites = assemble(`
      r2 = 0x11223344 ll
      *(u32 *)(r1 +8) = r2
      r2 = 7
      *(u32 *)(r1 +32) = r2
      *(u32 *)(r1 +44) = r2
      r3 = 0x12345
      *(u32 *)(r1 +72) = r3
      *(u32 *)(r1 +12) = r3
      r4 = 0xfffe
      *(u32 *)(r1 +12) = r4
      r4 = 0xffff
      *(u32 *)(r1 +12) = r4
      r5 = 0x123456789a ll
      *(u64 *)(r1 +152) = r5
      *(u64 *)(r1 +48) = r5
      *(u8 *)(r1 +67) = r2
      r0 = *(u32 *)(r1 +44)
      r2 = *(u32 *)(r1 +72)
      r0 <<= 16
      r0 |= r2
      r2 = *(u32 *)(r1 +12)
      r0 += r2
      r2 = *(u32 *)(r1 +8)
      r0 += r2
      exit`);
    const cgWrites = assemble(`
      r2 = 99
      *(u32 *)(r1 +8) = r2
      *(u32 *)(r1 +32) = r2
      *(u16 *)(r1 +50) = r2
      r5 = 0x123456789a ll
      *(u64 *)(r1 +152) = r5
      r0 = 1
      exit`);
    const sfWrites = assemble(`
      r2 = 99
      *(u32 *)(r1 +48) = r2
      *(u8 *)(r1 +64) = r2
      r0 = *(u32 *)(r1 +0)
      exit`);
    const cases: DiffCase[] = [];
    const pkts = sample(arbPacket(), 30, SEED + 7);
    pkts.forEach((p, i) => {
      const ctxIn = sample(arbSkbCtx(p.length), 1, i)[0]!;
      cases.push({ name: `tc writes #${i}`, type: TC, insns: tcWrites, dataIn: p, ctxIn, repeat: i % 3 });
      cases.push({ name: `act writes #${i}`, type: ACT, insns: tcWrites, dataIn: p, ctxOut: true });
      cases.push({ name: `cg writes #${i}`, type: CG, insns: cgWrites, dataIn: p, ctxIn: sample(arbSkbCtx(p.length - 14), 1, i)[0]! });
      cases.push({ name: `sf writes #${i}`, type: SF, insns: sfWrites, dataIn: p, ctxOut: true });
    });
    const r = compare(cases);
    console.log(`ctx writes: ${r.ran - r.mismatches.length}/${r.ran} agree with the kernel (${r.refused} refused by both)`);
    expect(r.mismatches).toEqual([]);
  });

  it.skipIf(!avail.ok)('xdp: xdp_md fields, metadata, frags and ctx_in rules', () => {
    const cases: DiffCase[] = [];
    const inputs = sample(fc.tuple(arbPacket(8000).chain((p) => fc.tuple(fc.constant(p), arbXdpCtx(p.length))), fc.integer({ min: 0, max: 3 })), 150, SEED + 9);
    inputs.forEach(([[p, ctx], mode], i) => {
      const base = { name: `xdp #${i}`, type: XDP, insns: XDP_READER, dataIn: p };
      if (mode === 0) cases.push(base);
      else if (mode === 1) cases.push({ ...base, ctxOut: true });
      else cases.push({ ...base, ctxIn: ctx });
    });
    for (const len of [0, 13, 14, 3520, 3521, 8000, 20000]) cases.push({ name: `xdp len ${len}`, type: XDP, insns: XDP_READER, dataIn: new Uint8Array(len).fill(7) });
    const r = compare(cases);
    console.log(`xdp runs: ${r.ran - r.mismatches.length}/${r.ran} agree with the kernel (${r.refused} refused by both)`);
    expect(r.mismatches).toEqual([]);
  });
});

// ---- helpers -------------------------------------------------------------------------------------------------

const s32 = fc.oneof(fc.integer({ min: -300, max: 300 }), fc.integer({ min: -5000, max: 5000 }), fc.integer({ min: -0x80000000, max: 0x7fffffff }));

/** Store the helper's r0 in r7, then fold it with the first word of the stack buffer. */
function helperCases(): DiffCase[] {
  const cases: DiffCase[] = [];
  const pk = sample(arbPacket(1500), 400, SEED + 11);
  const nums = sample(fc.tuple(fc.integer({ min: 0, max: 1600 }), fc.constantFrom(1, 2, 4, 8, 16, 64), fc.constantFrom(0, 0, 0, 1, 2, 3, 4), s32, u32, u32), 400, SEED + 12);
  pk.forEach((p, i) => {
    const [off, len, flags, sv, a, b] = nums[i]!;
    const offs = i % 2 === 0 ? Math.min(off, p.length) : off;
    const t = [TC, ACT][i % 2]!;
    const ret = 'r0 = r7\nexit';
    switch (i % 12) {
      case 0:
        cases.push({ name: `store_bytes off=${offs} len=${len} flags=${flags}`, type: t, dataIn: p, insns: assemble(`
          r2 = 0x0102030405060708 ll\n*(u64 *)(r10 -8) = r2\n*(u64 *)(r10 -16) = r2\n*(u64 *)(r10 -24) = r2\n*(u64 *)(r10 -32) = r2
          *(u64 *)(r10 -40) = r2\n*(u64 *)(r10 -48) = r2\n*(u64 *)(r10 -56) = r2\n*(u64 *)(r10 -64) = r2
          r2 = ${offs}\nr3 = r10\nr3 += -64\nr4 = ${len}\nr5 = ${flags}\ncall bpf_skb_store_bytes#9\nr7 = r0\n${ret}`) });
        break;
      case 1:
        for (const type of [SF, CG, TC]) {
          cases.push({ name: `load_bytes[${TYPE_NAMES[type]}] off=${offs} len=${len}`, type, dataIn: p, insns: assemble(`
            r2 = 0\n*(u64 *)(r10 -64) = r2\nr2 = ${offs}\nr3 = r10\nr3 += -64\nr4 = ${len}\ncall bpf_skb_load_bytes#26\nr7 = r0
            r0 = *(u32 *)(r10 -64)\nr0 ^= r7\n${type === CG ? 'r0 &= 1' : ''}\nexit`) });
        }
        break;
      case 2:
        cases.push({ name: `pull_data len=${off}`, type: t, dataIn: p, insns: assemble(`r2 = ${off % 3 === 0 ? 0 : off}\ncall bpf_skb_pull_data#39\nexit`) });
        break;
      case 3:
        cases.push({ name: `change_tail new_len=${i % 24 === 3 ? sv & 0xffff : off} flags=${flags & 1}`, type: t, dataIn: p, repeat: i % 3, ctxIn: i % 5 === 0 ? sample(arbSkbCtx(p.length), 1, i)[0]! : undefined, insns: assemble(`
          r6 = r1\nr2 = ${i % 24 === 3 ? sv & 0xffff : off}\nr3 = ${flags & 1}\ncall bpf_skb_change_tail#38\nr7 = r0\nr0 = *(u32 *)(r6 +0)\nr0 <<= 8\nr0 += r7\nexit`) });
        break;
      case 4:
        cases.push({ name: `change_head room=${i % 24 === 4 ? a : off % 200} flags=${flags & 1}`, type: t, dataIn: p, insns: assemble(`
          r6 = r1\nr2 = ${i % 24 === 4 ? a : off % 200} ll\nr3 = ${flags & 1}\ncall bpf_skb_change_head#43\nr7 = r0
          r1 = r6\nr2 = 0\nr3 = 0\ncall bpf_skb_change_tail#38\nr0 <<= 8\nr0 += r7\nexit`) });
        break;
      case 5: {
        const fs = [0, 4, 8, 12, 16, 20, 64, 3][len % 8]!;
        const ts = [0, 4, 8, 40, 64, 1][off % 6]!;
        cases.push({ name: `csum_diff from=${fs} to=${ts} seed=${a}`, type: [TC, XDP, ACT][i % 3]!, dataIn: p, insns: assemble(`
          r2 = ${a} ll\n*(u64 *)(r10 -8) = r2\n*(u64 *)(r10 -16) = r2\nr2 = ${b} ll\n*(u64 *)(r10 -24) = r2\n*(u64 *)(r10 -32) = r2
          *(u64 *)(r10 -40) = r2\n*(u64 *)(r10 -48) = r2\n*(u64 *)(r10 -56) = r2\n*(u64 *)(r10 -64) = r2
          *(u64 *)(r10 -72) = r2\n*(u64 *)(r10 -80) = r2\n*(u64 *)(r10 -88) = r2\n*(u64 *)(r10 -96) = r2\n*(u64 *)(r10 -104) = r2\n*(u64 *)(r10 -112) = r2\n*(u64 *)(r10 -120) = r2\n*(u64 *)(r10 -128) = r2
          r1 = r10\nr1 += -64\nr2 = ${fs}\nr3 = r10\nr3 += -128\nr4 = ${ts}\nr5 = ${b ^ a} ll\ncall bpf_csum_diff#28\nexit`) });
        break;
      }
      case 6:
      case 7: {
        const id = i % 12 === 6 ? 10 : 11;
        const fl = [0, 2, 4, 4, 2 | 0x10, 4 | 0x20, 0x20 | 0x40 | 2, 0x80 | 4, 8, 0x100][(off + flags) % 10]!;
        const o = [10, 24, 40, 50, 56, 3, 0xffff, off][len % 8]!;
        const from = fl % 16 === 0 && flags % 2 === 0 ? 0 : a;
        cases.push({ name: `l${id === 10 ? 3 : 4}_csum_replace off=${o} from=${from} to=${b} flags=${fl}`, type: t, dataIn: p, insns: assemble(`
          r2 = ${o}\nr3 = ${from} ll\nr4 = ${b} ll\nr5 = ${fl}\ncall ${id === 10 ? 'bpf_l3_csum_replace#10' : 'bpf_l4_csum_replace#11'}\nexit`) });
        break;
      }
      case 8:
        cases.push({ name: `xdp_adjust_head ${sv}`, type: XDP, dataIn: p, repeat: 1 + (i % 3), insns: assemble(`
          r6 = r1\nr2 = ${sv}\ncall bpf_xdp_adjust_head#44\nr7 = r0\nr2 = *(u32 *)(r6 +4)\nr3 = *(u32 *)(r6 +0)\nr2 -= r3\nr0 = r2\nr0 <<= 8\nr0 += r7\nexit`) });
        cases.push({ name: `xdp_adjust_meta ${sv % 300}`, type: XDP, dataIn: p, ctxIn: i % 2 ? new Uint8Array(new Uint32Array([0, p.length, 0, 0, 0, 0]).buffer) : undefined, insns: assemble(`
          r6 = r1\nr2 = ${sv % 300}\ncall bpf_xdp_adjust_meta#54\nr7 = r0\nr2 = ${(off % 100) - 50}\nr1 = r6\ncall bpf_xdp_adjust_head#44\nr2 = *(u32 *)(r6 +0)\nr3 = *(u32 *)(r6 +8)\nr2 -= r3\nr0 = r2\nr0 <<= 8\nr0 += r7\nexit`) });
        break;
      case 9: {
        const big = sample(arbPacket(3712).map((q) => { const r = new Uint8Array(q.length + [0, 3000, 6000, 9000][off % 4]!); r.set(q); return r; }), 1, i)[0]!;
        cases.push({ name: `xdp_adjust_tail ${sv} (len ${big.length})`, type: XDP, dataIn: big, repeat: 1 + (i % 2), insns: assemble(`
          r6 = r1\nr2 = ${sv}\ncall bpf_xdp_adjust_tail#65\nr7 = r0\nr1 = r6\ncall bpf_xdp_get_buff_len#188\nr0 <<= 8\nr0 += r7\nexit`) });
        break;
      }
      case 10:
      case 11: {
        const big = sample(arbPacket(3712).map((q) => { const r = new Uint8Array(q.length + [0, 5000][off % 2]!); r.set(q); return r; }), 1, i)[0]!;
        const o = i % 24 === 10 ? off % 100 : off * 5;
        cases.push({ name: `xdp_${i % 12 === 10 ? 'load' : 'store'}_bytes off=${o} len=${len} (len ${big.length})`, type: XDP, dataIn: big, insns: assemble(`
          r6 = r1\nr2 = 0x0102030405060708 ll\n*(u64 *)(r10 -8) = r2\n*(u64 *)(r10 -16) = r2\n*(u64 *)(r10 -24) = r2\n*(u64 *)(r10 -32) = r2
          *(u64 *)(r10 -40) = r2\n*(u64 *)(r10 -48) = r2\n*(u64 *)(r10 -56) = r2\n*(u64 *)(r10 -64) = r2
          r2 = ${o}\nr3 = r10\nr3 += -64\nr4 = ${len}\ncall ${i % 12 === 10 ? 'bpf_xdp_load_bytes#189' : 'bpf_xdp_store_bytes#190'}\nr7 = r0
          r0 = *(u32 *)(r10 -64)\nr0 ^= r7\nexit`) });
        break;
      }
    }
  });
  // LD_ABS / LD_IND through the classic offsets, and load_bytes_relative.
  for (const [k, p] of sample(arbPacket(200), 20, SEED + 13).entries()) {
    for (const type of [SF, TC, CG]) {
      if (type !== CG) cases.push({ name: `ld_abs[${TYPE_NAMES[type]}] #${k}`, type, dataIn: p, insns: assemble(`
        r6 = r1\nr0 = *(u8 *)skb[${k % 20}]\nr7 = r0\nr0 = *(u16 *)skb[${-0x100000 + (k % 7)}]\nr7 += r0\nr0 = *(u32 *)skb[${-0x200000 + k * 3}]\nr7 += r0\nr0 = r7\n${type === CG ? 'r0 &= 1' : ''}\nexit`) });
      cases.push({ name: `load_bytes_relative[${TYPE_NAMES[type]}] #${k}`, type, dataIn: p, insns: assemble(`
        r2 = 0\n*(u64 *)(r10 -16) = r2\nr2 = ${k * 7}\nr3 = r10\nr3 += -16\nr4 = 8\nr5 = ${k % 3}\ncall bpf_skb_load_bytes_relative#68\nr7 = r0\nr0 = *(u32 *)(r10 -12)\nr0 ^= r7\n${type === CG ? 'r0 &= 1' : ''}\nexit`) });
    }
  }
  return cases;
}

describe(`BPF_PROG_TEST_RUN differential: helpers${skipReason}`, () => {
  it.skipIf(!avail.ok)('packet helpers with random arguments agree with the kernel (retval, data_out, ctx_out)', () => {
    const r = compare(helperCases());
    console.log(`helpers: ${r.ran - r.mismatches.length}/${r.ran} agree with the kernel (${r.refused} refused by both)`);
    expect(r.mismatches.slice(0, 20)).toEqual([]);
  });

  it.skipIf(!avail.ok)('bpf_trace_printk returns the formatted length the kernel does', () => {
    const fmts: [string, string[]][] = [
      ['hi %d\\n', ['r3 = -5']], ['x=%x y=%u', ['r3 = 255', 'r4 = -1']], ['%lld|%llx|%lu', ['r3 = -1', 'r4 = -1', 'r5 = 7']],
      ['%5d|%-4u|%05x', ['r3 = 42', 'r4 = 1', 'r5 = 171']], ['%c%c', ['r3 = 65', 'r4 = 66']], ['100%%', []], ['%d %d %d %d', ['r3 = 1', 'r4 = 2', 'r5 = 3']],
      ['bad %q', ['r3 = 1']], ['%+d % d', ['r3 = 5', 'r4 = 6']], ['%X', ['r3 = 48879']], ['%pI4', ['r3 = r10', 'r3 += -64']],
      ['%s!', ['r3 = r10', 'r3 += -64']], ['ctl\\x01', []],
    ];
    const cases: DiffCase[] = fmts.map(([f, args], i) => {
      const bytes = [...Buffer.from(f.replace(/\\n/g, '\n').replace(/\\x01/g, '\x01'), 'latin1'), 0];
      while (bytes.length % 8) bytes.push(0);
      const stores: string[] = [];
      for (let k = 0; k < bytes.length; k += 8) {
        let v = 0n;
        for (let j = 7; j >= 0; j--) v = (v << 8n) | BigInt(bytes[k + j]!);
        stores.push(`r1 = 0x${v.toString(16)} ll`, `*(u64 *)(r10 -${128 - k}) = r1`);
      }
      return {
        name: `trace_printk "${f}"`, type: TC, dataIn: new Uint8Array(64),
        insns: assemble([
          'r1 = 0x6f6c6c6548 ll', '*(u64 *)(r10 -64) = r1', ...stores, 'r1 = r10', 'r1 += -128', `r2 = ${bytes.length}`, ...args, 'call bpf_trace_printk#6', 'exit',
        ].join('\n')),
      };
    });
    const r = compare(cases);
    expect(r.mismatches).toEqual([]);
    const t = testRun(spec(cases[0]!), new Uint8Array(64));
    expect(t.trace).toEqual(['hi -5']);
  });
});
