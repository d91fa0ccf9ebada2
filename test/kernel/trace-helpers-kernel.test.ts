// The CAP_PERFMON helpers of src/kernel/trace-helpers.ts against the 6.18 host: BPF_PROG_TEST_RUN on SCHED_CLS
// (bpf_base_func_proto gives SCHED_CLS the same helpers as SK_SKB / SK_MSG / SOCK_OPS, and the same
// implementation runs in the socket model), bpfvm's testRun on the same bytes. Each program calls the helper,
// copies its output buffer into the packet (bpf_skb_store_bytes) and returns r0, so retval and data_out carry
// the helper's return value and every byte it wrote. bpf_snprintf covers the formatter shared with
// bpf_trace_printk and bpf_trace_vprintk (whose return values and trace text are compared too). bpfvm runs
// each program in both execution tiers. Skips without bpf().

import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CollectionSpec, MapSpec } from '../../src/spec.js';
import { testRun } from '../../src/kernel/testrun.js';
import { BpfExecutionError } from '../../vm/errors.js';
import { bprintfFormatCheck } from '../../src/kernel/trace-helpers.js';
import { assemble } from '../../vm/asm.js';
import { kernelAvailability, kernelRunBatch, type KernelMapDef, type KernelProgRequest } from './oracle.js';
import { rawProgram } from './raw-spec.js';

const avail = kernelAvailability();
const skipReason = avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`;
const TC = 3;
const SF = 1;
const OUT = 128; // bytes of the output buffer (at r10 - 512) copied into the packet

interface MapDef {
  type: number;
  valueSize: number;
  maxEntries?: number;
  flags?: number;
  value?: Uint8Array;
}

interface Case {
  name: string;
  /** Instructions after the prologue (r6 = ctx, r10-512.. zeroed or 0xff-filled); must leave r0 in r7. */
  body: string;
  maps?: MapDef[];
  /** Fill the output buffer with 0xff instead of zeroes (to see what a helper zeroes). */
  ff?: boolean;
  /** SOCKET_FILTER (1) instead of SCHED_CLS: no bpf_skb_store_bytes, so only r0 is compared. */
  socketFilter?: boolean;
  /** bpf_snprintf cases: the format (the verifier checks it). */
  fmt?: Fmt;
}

const strBytes = (s: string, size: number): Uint8Array => {
  const b = new Uint8Array(size);
  b.set(Buffer.from(s, 'latin1'));
  return b;
};

/** Stores `bytes` at r10 + off (8-byte stores; off a multiple of 8). */
function stackBytes(bytes: Uint8Array, off: number): string {
  const b = new Uint8Array(Math.ceil(bytes.length / 8) * 8);
  b.set(bytes);
  const out: string[] = [];
  for (let k = 0; k < b.length; k += 8) {
    const v = new DataView(b.buffer).getBigUint64(k, true);
    out.push(`r1 = 0x${v.toString(16)} ll`, `*(u64 *)(r10 ${off + k}) = r1`);
  }
  return out.join('\n');
}

function program(c: Case): Uint8Array {
  const fill = c.ff ? 'r1 = -1' : 'r1 = 0';
  const zero = Array.from({ length: OUT / 8 }, (_, k) => `*(u64 *)(r10 ${-512 + 8 * k}) = r1`).join('\n');
  const copy = c.socketFilter ? '' : `r1 = r6\nr2 = 0\nr3 = r10\nr3 += -512\nr4 = ${OUT}\nr5 = 0\ncall bpf_skb_store_bytes#9\n`;
  return assemble(`r6 = r1\n${fill}\n${zero}\n${c.body}\n${copy}r0 = r7\nexit`);
}

const mapSpec = (m: MapDef, i: number): MapSpec => ({
  name: `m${i}`, type: m.type, typeName: '', keySize: 4, valueSize: m.valueSize, maxEntries: m.maxEntries ?? 1, flags: m.flags ?? 0,
  section: '.maps', ...(m.value ? { contents: [{ key: new Uint8Array(4), value: m.value }] } : {}),
});

interface Outcome {
  retval?: number;
  dataOut?: string;
  /** The kernel refused to load the program (the verifier runs bpf_bprintf_prepare on a constant format). */
  refused?: boolean;
  /** bpfvm stopped the run: what it does not model. */
  notModelled?: string;
}

function model(c: Case): Outcome {
  const insns = program(c);
  const prog = c.socketFilter ? rawProgram(insns, SF, 'socket_filter') : rawProgram(insns, TC);
  const collection: CollectionSpec = { license: 'GPL', programs: [prog], maps: (c.maps ?? []).map(mapSpec) };
  const [a, b] = (['interp', 'js'] as const).map((tier): Outcome => {
    try {
      const r = testRun(prog, new Uint8Array(OUT + 16), { collection, tier });
      return { retval: r.retval, dataOut: Buffer.from(r.dataOut).toString('hex') };
    } catch (e) {
      if (e instanceof BpfExecutionError && /not modelled/.test(e.message)) return { notModelled: e.message };
      throw e;
    }
  });
  return JSON.stringify(a) === JSON.stringify(b) ? a! : { ...a, jsTier: b } as Outcome;
}

function compare(cases: Case[]): { mismatches: unknown[]; refused: number; notModelled: number } {
  const reqs: KernelProgRequest[] = cases.map((c) => ({
    progType: c.socketFilter ? SF : TC,
    insns: program(c),
    maps: (c.maps ?? []).map((m): KernelMapDef => ({
      type: m.type, keySize: 4, valueSize: m.valueSize, maxEntries: m.maxEntries ?? 1, flags: m.flags ?? 0,
      ...(m.value ? { entries: [{ key: new Uint8Array(4), value: m.value }] } : {}),
    })),
    run: { dataIn: new Uint8Array(OUT + 16) },
  }));
  const res = kernelRunBatch(reqs);
  const mismatches: unknown[] = [];
  let refused = 0;
  let notModelled = 0;
  cases.forEach((c, i) => {
    const kr = res[i]!;
    const got = model(c);
    if (got.notModelled !== undefined && kr.loaded) {
      notModelled++;
      return;
    }
    if (!kr.loaded) {
      refused++;
      // The verifier checks bpf_snprintf's constant format with bpf_bprintf_prepare (no buffers): bprintfFormatCheck
      // must refuse it too, and bpfvm's run of it fail (-EINVAL, or -ENOSPC when the argument buffer fills up
      // before the bad conversion).
      const f = c.fmt;
      const check = f === undefined ? 0 : bprintfFormatCheck(Buffer.from(f.fmt + '\0', 'latin1'), f.dataLen ?? 8 * f.args.length);
      if (check !== -22 || (got.retval !== -22 >>> 0 && got.retval !== -28 >>> 0)) mismatches.push({ case: c.name, kernel: 'refused', log: kr.log.split('\n').slice(-3).join('\n'), bpfvm: got, check });
      return;
    }
    const want: Outcome = { retval: kr.run!.retval, dataOut: Buffer.from(kr.run!.dataOut ?? []).toString('hex') };
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      mismatches.push({ case: c.name, kernel: want, bpfvm: got, kernelText: Buffer.from(kr.run!.dataOut ?? []).toString('latin1').replace(/\0+$/, ''), bpfvmText: Buffer.from(got.dataOut ?? '', 'hex').toString('latin1').replace(/\0+$/, '') });
    }
  });
  return { mismatches, refused, notModelled };
}

// ---- bpf_snprintf / bpf_trace_vprintk / bpf_trace_printk ------------------------------------------------------

/** A stack string for %s at r10-128 (at most 31 bytes), an IPv4 / IPv6 address at r10-96 / r10-80. */
const DATA = [
  stackBytes(strBytes('hello', 32), -128),
  stackBytes(Uint8Array.of(10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), -96), // 16 bytes: %pi6 may read them
  stackBytes(Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), -80),
].join('\n');
const A = {
  str: 'r1 = r10\nr1 += -128',
  ip4: 'r1 = r10\nr1 += -96',
  ip6: 'r1 = r10\nr1 += -80',
  long: 'r1 = map[idx:1][0]+0',
  user: 'r1 = 0x1000',
};
/** A 600-byte string (599 'B's) in map 1. */
const LONG: MapDef = { type: 2, valueSize: 600, value: strBytes('B'.repeat(599), 600) };

interface Fmt {
  fmt: string;
  args: (number | bigint | string)[];
  size?: number;
  dataLen?: number;
}

const FORMATS: Fmt[] = [
  { fmt: 'hello %d %u %x %X %i', args: [-5, -5, 255, 255, 7] },
  { fmt: '%lld %llu %llx %lx %ld %li', args: [-1n, -1n, -1n, 0x123456789n, -2n, 1n << 40n] },
  { fmt: '%d %u %x', args: [0x1ffffffffn, -1n, 0x1234567890n] },
  { fmt: '%5d|%-5d|%05d|%+d|% d|%-05d|%+05d|%08x|', args: [42, 42, -42, 42, 42, 42, 42, 0xabc] },
  { fmt: '%c%c|%3c|%-3c|%c.', args: [65, 66, 67, 68, 0] },
  { fmt: '%s|%10s|%-10s|%1s', args: [A.str, A.str, A.str, A.str] },
  { fmt: '[%s]', args: [0] },
  { fmt: '%pks|%pus|%s', args: [A.str, A.str, A.user] },
  { fmt: '%pI4 %pi4 %pI4', args: [A.ip4, A.ip4, 0] },
  { fmt: '%pI6|%pi6|%pI6c|%20pI4|', args: [A.ip6, A.ip6, A.ip6, A.ip4] },
  { fmt: '%10pks|%-10pus|%10pB|%-6ps|%06pS|', args: [A.str, A.str, 0, 0, 0] },
  { fmt: '%p|%px|%pK|%20p|%-18px|', args: [0, 0, 0, 0, 0] },
  { fmt: '%ps|%pS|%pB|', args: [0, 0, 0] },
  { fmt: '%pKab|%pxyz.', args: [0, 0] },
  { fmt: '%s%s', args: [A.long, A.long] },
  { fmt: '%d%s', args: [1, A.long] },
  { fmt: '%s%c', args: [A.long, 65] },
  { fmt: '%d abcdef', args: [1234], size: 4 },
  { fmt: '%8000000d|%9000000d|%16777215p|%-8388608d|', args: [1, 2, 0, 3] },
  { fmt: '%4294967297d|%3000000000d|%8388607x|', args: [1, 2, 3] },
  { fmt: '%d abcdef', args: [1234], size: 0 },
  // past the end of the output, bstr_printf neither copies nor steps over what prepare formatted (%pI4, %pks,
  // %pB): the next argument is read from those bytes
  { fmt: '%s:%pI4', args: [A.str, A.ip4], size: 4 },
  { fmt: '%s:%pI4 %c%c%c', args: [A.str, A.ip4, 65, 66, 67], size: 4 },
  { fmt: '%pks|%d', args: [A.str, 7], size: 0 },
  { fmt: '%5d%pB%s', args: [1, 0x1234, A.str], size: 3 },
  { fmt: '%%|100%%|%d', args: [3] },
  { fmt: 'caf\xc3\xa9 %d', args: [1] },
  { fmt: '%d %d %d %d %d %d %d %d %d %d %d %d', args: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] },
  { fmt: 'tab\there\n', args: [] },
  // refused formats: the verifier (snprintf) or the run (vprintk) says -EINVAL
  { fmt: '%q', args: [1] },
  { fmt: '%.2d', args: [1] },
  { fmt: '%#x', args: [1] },
  { fmt: '%hd', args: [1] },
  { fmt: '%sa', args: [A.str] },
  { fmt: '%pZ', args: [0] },
  { fmt: '%5%', args: [1] },
  { fmt: '%d %d', args: [1] },
  { fmt: 'ctl\x01', args: [] },
  { fmt: '%\xc3', args: [1] },
  // data_len rules
  { fmt: '%d', args: [1], dataLen: 12 },
  { fmt: '%d', args: [1], dataLen: 104 },
];

/** args at r10-384.. (up to 13 u64), then the helper call; r7 = r0. */
function argStores(args: Fmt['args']): string {
  return args.map((a, k) => `${typeof a === 'string' ? a : `r1 = ${BigInt.asUintN(64, BigInt(a))} ll`}\n*(u64 *)(r10 ${-384 + 8 * k}) = r1`).join('\n');
}

function fmtMap(f: Fmt): MapDef {
  const b = Buffer.from(f.fmt + '\0', 'latin1');
  return { type: 2, valueSize: b.length, flags: 0x80, value: new Uint8Array(b) };
}

function snprintfCase(f: Fmt): Case {
  const dataLen = f.dataLen ?? 8 * f.args.length;
  return {
    name: `snprintf "${f.fmt}"`,
    fmt: f,
    maps: [fmtMap(f), LONG],
    body: `${DATA}\n${argStores(f.args)}\nr1 = r10\nr1 += -512\nr2 = ${f.size ?? OUT}\nr3 = map[idx:0][0]+0\nr4 = r10\nr4 += -384\nr5 = ${dataLen}\ncall bpf_snprintf#165\nr7 = r0`,
  };
}

function vprintkCase(f: Fmt): Case {
  const dataLen = f.dataLen ?? 8 * f.args.length;
  const fmtLen = Buffer.from(f.fmt, 'latin1').length + 1;
  return {
    name: `trace_vprintk "${f.fmt}"`,
    maps: [{ ...fmtMap(f), flags: 0 }, LONG],
    body: `${DATA}\n${argStores(f.args)}\nr1 = map[idx:0][0]+0\nr2 = ${fmtLen}\nr3 = r10\nr3 += -384\nr4 = ${dataLen}\ncall bpf_trace_vprintk#177\nr7 = r0`,
  };
}

function printkCase(f: Fmt): Case {
  const fmtLen = Buffer.from(f.fmt, 'latin1').length + 1;
  const regs = [...f.args, 0, 0, 0].slice(0, 3).map((a, k) => `${typeof a === 'string' ? a : `r1 = ${BigInt.asUintN(64, BigInt(a))} ll`}\n*(u64 *)(r10 ${-384 + 8 * k}) = r1`);
  return {
    name: `trace_printk "${f.fmt}"`,
    maps: [{ ...fmtMap(f), flags: 0 }, LONG],
    body: `${DATA}\n${regs.join('\n')}\nr3 = *(u64 *)(r10 -384)\nr4 = *(u64 *)(r10 -376)\nr5 = *(u64 *)(r10 -368)\nr1 = map[idx:0][0]+0\nr2 = ${fmtLen}\ncall bpf_trace_printk#6\nr7 = r0`,
  };
}

describe(`trace helpers against the kernel: bpf_snprintf, bpf_trace_vprintk, bpf_trace_printk${skipReason}`, () => {
  it.skipIf(!avail.ok)('bpf_snprintf writes the bytes and returns the length the kernel does (refused formats: -EINVAL)', () => {
    const r = compare(FORMATS.map(snprintfCase));
    console.log(`snprintf: ${FORMATS.length - r.mismatches.length}/${FORMATS.length} agree with the kernel (${r.refused} formats refused at load by the kernel, -EINVAL in bpfvm)`);
    expect(r.notModelled).toBe(0);
    expect(r.mismatches).toEqual([]);
  });

  it.skipIf(!avail.ok)('bpf_trace_vprintk and bpf_trace_printk return what the kernel returns', () => {
    const printk = FORMATS.filter((f) => f.dataLen === undefined).map(printkCase);
    const cases = [...FORMATS.map(vprintkCase), ...printk];
    const r = compare(cases);
    console.log(`trace_vprintk / trace_printk: ${cases.length - r.mismatches.length}/${cases.length} agree with the kernel`);
    expect(r.notModelled).toBe(0);
    expect(r.mismatches).toEqual([]);
  });
});

// ---- random formats -------------------------------------------------------------------------------------------

/**
 * Random formats: literal text, %% and conversions with random flags and widths, each followed by a random
 * character (so that %s / %p rules are hit both ways), with arguments the conversion can take reproducibly:
 * any value for numbers, %c and %px; NULL or an error pointer for %p / %pK (the kernel hashes other pointers);
 * small user-range values for %ps / %pS / %pB (not kernel symbols); stack pointers (or NULL, or a user address)
 * for strings and addresses.
 */
const CONVS = ['d', 'i', 'u', 'x', 'X', 'ld', 'lld', 'lu', 'llx', 'lX', 'li', 'c', 's', 'p', 'px', 'pK', 'ps', 'pS', 'pB', 'pks', 'pus', 'pI4', 'pi4', 'pI6', 'pi6', 'q', 'hd', 'lc'] as const;
const arbConv = fc.record({
  flags: fc.subarray(['0', '+', '-', ' ']),
  width: fc.oneof(fc.constant(''), fc.integer({ min: 1, max: 40 }).map(String)),
  conv: fc.constantFrom(...CONVS),
  after: fc.constantFrom('', ' ', '|', ':', 'a', '9', '.', '\n'),
  value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  ptr: fc.constantFrom(A.str, A.ip4, A.ip6, A.long, 'r1 = 0', A.user),
  errPtr: fc.constantFrom(0n, 2n ** 64n - 1n, 2n ** 64n - 22n, 2n ** 64n - 4095n),
  small: fc.bigInt({ min: 0n, max: 0xffffn }),
});
const arbFormat = fc.array(fc.oneof(
  { weight: 3, arbitrary: arbConv },
  { weight: 1, arbitrary: fc.constantFrom('ab', ' = ', '%%', ',', 'x\ty') },
), { minLength: 1, maxLength: 6 }).map((parts): Fmt => {
  let fmt = '';
  const args: Fmt['args'] = [];
  for (const p of parts) {
    if (typeof p === 'string') {
      fmt += p;
      continue;
    }
    fmt += `%${p.flags.join('')}${p.width}${p.conv}${p.after}`;
    const c = p.conv;
    if (c === 's' || c === 'pks' || c === 'pus' || c.startsWith('pI') || c.startsWith('pi')) args.push(p.ptr);
    else if (c === 'p' || c === 'pK') args.push(p.errPtr);
    else if (c === 'ps' || c === 'pS' || c === 'pB') args.push(p.small);
    else args.push(p.value);
  }
  return { fmt, args: args.slice(0, MAX_ARGS) };
});
const MAX_ARGS = 12;

describe(`trace helpers against the kernel: random formats${skipReason}`, () => {
  it.skipIf(!avail.ok)('bpf_snprintf and bpf_trace_vprintk agree with the kernel on 150 random formats', () => {
    const fmts = fc.sample(arbFormat, { numRuns: 150, seed: 0x5bf });
    const cases = fmts.flatMap((f) => [snprintfCase(f), vprintkCase(f)]);
    const r = compare(cases);
    console.log(`random formats: ${cases.length - r.mismatches.length - r.notModelled}/${cases.length} snprintf / trace_vprintk calls agree with the kernel (${r.refused} snprintf formats refused at load by the kernel, -EINVAL in bpfvm; ${r.notModelled} runs bpfvm stops as not modelled)`);
    // The seed is fixed: bpfvm models every run of this sample (a run it stops as not modelled agrees with nothing).
    expect(r.notModelled).toBe(0);
    expect(r.mismatches.slice(0, 10)).toEqual([]);
  });
});

// ---- probe_read_*, and the helpers with machine-independent results --------------------------------------------

const PROBE: [string, string][] = [
  ['kernel: stack', 'r1 = r10\nr1 += -512\nr2 = 8\nr3 = r10\nr3 += -128\ncall bpf_probe_read_kernel#113'],
  ['kernel: map value', 'r1 = r10\nr1 += -512\nr2 = 24\nr3 = map[idx:0][0]+0\ncall bpf_probe_read_kernel#113'],
  // KERNEL vs SPEC: the issue expects -EFAULT for unreadable addresses; on x86-64 copy_from_kernel_nofault refuses
  // user-range (NULL included), non-canonical and vsyscall addresses with -ERANGE, even for size 0 (-EFAULT is
  // for unmapped kernel addresses).
  ['kernel: NULL', 'r1 = r10\nr1 += -512\nr2 = 16\nr3 = 0\ncall bpf_probe_read_kernel#113'],
  ['kernel: NULL size 0', 'r1 = r10\nr1 += -512\nr2 = 0\nr3 = 0\ncall bpf_probe_read_kernel#113'],
  ['kernel: user address', 'r1 = r10\nr1 += -512\nr2 = 16\nr3 = 0x7ffff000 ll\ncall bpf_probe_read_kernel#113'],
  ['kernel: non-canonical', 'r1 = r10\nr1 += -512\nr2 = 16\nr3 = 0x8000000000000000 ll\ncall bpf_probe_read_kernel#113'],
  ['kernel: vsyscall', 'r1 = r10\nr1 += -512\nr2 = 16\nr3 = 0xffffffffff600000 ll\ncall bpf_probe_read_kernel#113'],
  ['kernel_str: stack', 'r1 = r10\nr1 += -512\nr2 = 16\nr3 = r10\nr3 += -128\ncall bpf_probe_read_kernel_str#115'],
  ['kernel_str: cut', 'r1 = r10\nr1 += -512\nr2 = 3\nr3 = r10\nr3 += -128\ncall bpf_probe_read_kernel_str#115'],
  ['kernel_str: size 1', 'r1 = r10\nr1 += -512\nr2 = 1\nr3 = r10\nr3 += -128\ncall bpf_probe_read_kernel_str#115'],
  ['kernel_str: long', 'r1 = r10\nr1 += -512\nr2 = 100\nr3 = map[idx:1][0]+0\ncall bpf_probe_read_kernel_str#115'],
  ['kernel_str: NULL', 'r1 = r10\nr1 += -512\nr2 = 16\nr3 = 0\ncall bpf_probe_read_kernel_str#115'],
  ['kernel_str: NULL size 0', 'r1 = r10\nr1 += -512\nr2 = 0\nr3 = 0\ncall bpf_probe_read_kernel_str#115'],
  ['user: stack', 'r1 = r10\nr1 += -512\nr2 = 8\nr3 = r10\nr3 += -128\ncall bpf_probe_read_user#112'],
  ['user: NULL', 'r1 = r10\nr1 += -512\nr2 = 8\nr3 = 0\ncall bpf_probe_read_user#112'],
  ['user: size 0', 'r1 = r10\nr1 += -512\nr2 = 0\nr3 = r10\nr3 += -128\ncall bpf_probe_read_user#112'],
  ['user: NULL size 0', 'r1 = r10\nr1 += -512\nr2 = 0\nr3 = 0\ncall bpf_probe_read_user#112'],
  ['user_str: stack size 0', 'r1 = r10\nr1 += -512\nr2 = 0\nr3 = r10\nr3 += -128\ncall bpf_probe_read_user_str#114'],
  ['user_str: stack', 'r1 = r10\nr1 += -512\nr2 = 8\nr3 = r10\nr3 += -128\ncall bpf_probe_read_user_str#114'],
  ['user_str: NULL', 'r1 = r10\nr1 += -512\nr2 = 8\nr3 = 0\ncall bpf_probe_read_user_str#114'],
  ['user_str: size 0', 'r1 = r10\nr1 += -512\nr2 = 0\nr3 = 0\ncall bpf_probe_read_user_str#114'],
];

const PERF: MapDef = { type: 4, valueSize: 4, maxEntries: 2 };
const OTHERS: [string, string, MapDef[]?][] = [
  ['get_branch_snapshot', 'r1 = r10\nr1 += -512\nr2 = 96\nr3 = 0\ncall bpf_get_branch_snapshot#176'],
  ['get_branch_snapshot: flags', 'r1 = r10\nr1 += -512\nr2 = 96\nr3 = 1\ncall bpf_get_branch_snapshot#176'],
  ['get_branch_snapshot: size 0', 'r1 = r10\nr1 += -512\nr2 = 0\nr3 = 0\ncall bpf_get_branch_snapshot#176'],
  ['send_signal 0', 'r1 = 0\ncall bpf_send_signal#109'],
  ['send_signal 65', 'r1 = 65\ncall bpf_send_signal#109'],
  ['send_signal_thread 0', 'r1 = 0\ncall bpf_send_signal_thread#117'],
  ['send_signal_thread 99', 'r1 = 99\ncall bpf_send_signal_thread#117'],
  ['perf_event_read: empty slot', 'r1 = map[idx:0]\nr2 = 1\ncall bpf_perf_event_read#22', [PERF]],
  ['perf_event_read: current CPU', 'r1 = map[idx:0]\nr2 = 0xffffffff ll\ncall bpf_perf_event_read#22', [PERF]],
  ['perf_event_read: index past the end', 'r1 = map[idx:0]\nr2 = 2\ncall bpf_perf_event_read#22', [PERF]],
  ['perf_event_read: flags', 'r1 = map[idx:0]\nr2 = 0x100000000 ll\ncall bpf_perf_event_read#22', [PERF]],
  ['perf_event_read_value: empty slot', 'r1 = map[idx:0]\nr2 = 0\nr3 = r10\nr3 += -512\nr4 = 24\ncall bpf_perf_event_read_value#55', [PERF]],
  ['perf_event_read_value: size 16', 'r1 = map[idx:0]\nr2 = 0\nr3 = r10\nr3 += -512\nr4 = 16\ncall bpf_perf_event_read_value#55', [PERF]],
  ['perf_event_read_value: index past the end', 'r1 = map[idx:0]\nr2 = 7\nr3 = r10\nr3 += -512\nr4 = 24\ncall bpf_perf_event_read_value#55', [PERF]],
  ['get_current_task is a kernel address', 'call bpf_get_current_task#35\nr0 >>= 47\nif r0 == 0x1ffff goto kern\nr0 = 0\nkern:'],
  ['get_current_task_btf / task_pt_regs are not NULL', 'call bpf_get_current_task_btf#158\nr1 = r0\ncall bpf_task_pt_regs#175\nr1 = 0\nif r0 == 0 goto null\nr1 = 1\nnull:\nr0 = r1'],
];

describe(`trace helpers against the kernel: probe_read_*, perf_event_read, send_signal, branch snapshot${skipReason}`, () => {
  it.skipIf(!avail.ok)('return values and destination bytes agree (failures zero the destination)', () => {
    const mv = new Uint8Array(24).map((_, i) => i + 1);
    const probe = PROBE.map(([n, b]): Case => ({ name: `probe_read_${n}`, ff: true, maps: [{ type: 2, valueSize: 24, value: mv }, LONG], body: `${DATA}\n${b}\nr7 = r0` }));
    const others = OTHERS.map(([n, b, maps]): Case => ({ name: n, ff: true, ...(maps ? { maps } : {}), body: `${b}\nr7 = r0` }));
    // the same calls from a SOCKET_FILTER program (bpf_sk_base_func_proto too): r0 only
    const sf = [...probe, ...others].map((c): Case => ({ ...c, name: `${c.name} [socket_filter]`, socketFilter: true }));
    const cases = [...probe, ...others, ...sf];
    const r = compare(cases);
    console.log(`probe_read / perf_event_read / send_signal / branch snapshot / task: ${cases.length - r.mismatches.length}/${cases.length} agree with the kernel`);
    expect(r.notModelled).toBe(0);
    expect(r.mismatches).toEqual([]);
  });
});

// ---- the trace text itself --------------------------------------------------------------------------------

/**
 * The kernel's own record of bpf_trace_printk / bpf_trace_vprintk messages: a tracefs instance of this test
 * (created, with its bpf_trace_printk event enabled, from a private mount namespace so that no tracefs mount is
 * left behind; instances are kernel-global, so it is removed afterwards). Every event of the system lands there
 * too, so each message carries this run's token. Returns null (with the reason) where that is not possible.
 */
function tracefs(script: string): { ok: boolean; out: string; reason: string } {
  const r = spawnSync('unshare', ['-m', 'sh', '-c', `set -e; d=$(mktemp -d); mount -t tracefs nodev "$d"; cd "$d/instances"; ${script}; cd /; umount "$d"; rmdir "$d"`], { encoding: 'latin1', timeout: 10_000 });
  return { ok: r.status === 0, out: r.stdout ?? '', reason: (r.stderr || r.error?.message || `exit ${r.status}`).trim() };
}

describe(`trace helpers against the kernel: the trace text${skipReason}`, () => {
  it.skipIf(!avail.ok)('each bpf_trace_printk / bpf_trace_vprintk message is the kernel\'s trace event text, less one trailing newline', (ctx) => {
    const inst = `bpfvm_trc_${process.pid}`;
    const ev = `${inst}/events/bpf_trace/bpf_trace_printk/enable`;
    const on = tracefs(`mkdir ${inst}; echo 1 > ${ev}`);
    if (!on.ok) return ctx.skip(`no tracefs instance: ${on.reason}`);
    const token = `t${process.pid.toString(36)}`;
    const msgs: Fmt[] = [
      { fmt: '%s hi\n', args: [] }, { fmt: '%s no newline', args: [] }, { fmt: '%s two\n\n', args: [] }, { fmt: '%s mid\nline', args: [] },
      { fmt: '%s nul %c|after', args: [0] }, { fmt: '%s caf\xc3\xa9 %d %pI4 %s', args: [-7, A.ip4, A.str] }, { fmt: '%s %600s%600s|', args: [A.str, A.str] },
    ];
    // the token is the first %s argument: a string at r10-160
    const cases = msgs.flatMap((f, i) => {
      const tok = `${token}_${i}`;
      const g: Fmt = { ...f, args: ['r1 = r10\nr1 += -160', ...f.args] };
      const withTok = (c: Case): Case => ({ ...c, body: `${stackBytes(strBytes(tok, 16), -160)}\n${c.body}` });
      return [withTok(vprintkCase(g)), ...(g.args.length <= 3 ? [withTok(printkCase(g))] : [])];
    });
    let text = '';
    try {
      const r = compare(cases);
      expect(r.mismatches).toEqual([]);
    } finally {
      const off = tracefs(`cat ${inst}/trace; echo 0 > ${ev}; rmdir ${inst}`);
      expect(off.ok, off.reason).toBe(true);
      text = off.out;
    }
    // events: "<comm>-<pid> [cpu] flags ts: bpf_trace_printk: MSG\n", MSG possibly spanning lines
    const kernel = new Map<string, string[]>();
    const re = /^[ \t]*\S[^\n]*?-\d+ +\[\d+\] \S+ +\d+\.\d+: bpf_trace_printk: /gm;
    const starts = [...text.matchAll(re)];
    starts.forEach((m, k) => {
      const from = m.index! + m[0].length;
      const to = k + 1 < starts.length ? starts[k + 1]!.index! : text.length;
      const msg = text.slice(from, to).replace(/\n$/, ''); // the event printer's newline
      const id = new RegExp(`^${token}_(\\d+)`).exec(msg)?.[1];
      if (id !== undefined) kernel.set(id, [...(kernel.get(id) ?? []), msg]);
    });
    let n = 0;
    msgs.forEach((f, i) => {
      const tr: string[] = [];
      for (const k of cases.filter((x) => x.body.includes(stackBytes(strBytes(`${token}_${i}`, 16), -160)))) tr.push(...modelTrace(k));
      const want = (kernel.get(String(i)) ?? []).map((m) => Buffer.from(m, 'latin1').toString('utf8').replace(/\n$/, ''));
      expect(tr).toEqual(want);
      n += want.length;
    });
    console.log(`trace text: ${n} messages equal to the kernel's trace events`);
    expect(n).toBe(cases.length);
  });
});

function modelTrace(c: Case): string[] {
  const insns = program(c);
  const prog = rawProgram(insns, TC);
  const collection: CollectionSpec = { license: 'GPL', programs: [prog], maps: (c.maps ?? []).map(mapSpec) };
  return testRun(prog, new Uint8Array(OUT + 16), { collection }).trace;
}
