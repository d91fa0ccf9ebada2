// The queue / stack, ring buffer and dynptr helpers (src/kernel/map-kind-helpers.ts) against the host kernel:
// random hand-assembled SCHED_CLS programs call bpf_map_push / pop / peek_elem, bpf_ringbuf_output / reserve /
// submit / discard / query, bpf_ringbuf_reserve / submit / discard_dynptr and bpf_dynptr_from_mem / read / write
// / data with random sizes, offsets and flags, and store every return value (and the bytes they read) in an
// array map. One BPF_PROG_TEST_RUN each in the kernel and in bpfvm's testRun; compared: retval, the array map,
// the queue / stack contents (popped after the run) and every ring buffer record (header word and sample bytes,
// read from the mmap-ed area). Skips, with the reason in the suite name, where the kernel oracle is unavailable.
// bpf_user_ringbuf_drain: random sets of samples (some discarded) written through the user ring buffer's mmap-ed
// area (bpfrun.c) / UserRingBufMap's producer API, drained by a callback described by a minimal BTF
// (func-btf.ts) that reads each sample through its dynptr.

import { describe, expect, it } from 'vitest';
import type { MapSpec } from '../../src/spec.js';
import { testRun } from '../../src/kernel/testrun.js';
import { Maps } from '../../src/kernel/maps/collection.js';
import { ArrayMap, QueueStackMap, RingBufMap, UserRingBufMap, u32Bytes } from '../../src/kernel/maps/index.js';
import { assemble } from '../../vm/asm.js';
import { kernelAvailability, kernelRunBatch, type KernelProgRequest } from './oracle.js';
import { funcBtf } from './func-btf.js';
import { rng } from './rng.js';
import { rawProgram } from './raw-spec.js';
import { lookupKey0 } from '../model/asm-snippets.js';

const avail = kernelAvailability();
const OUT_SIZE = 1024;
/** The array map's bytes from DATA on are the source of written data (random, set before the run). */
const DATA = 768;

interface Case {
  name: string;
  maps: MapSpec[];
  text: string;
}

const mapSpec = (name: string, type: number, keySize: number, valueSize: number, maxEntries: number, contents?: MapSpec['contents']): MapSpec =>
  ({ name, type, typeName: '', keySize, valueSize, maxEntries, flags: 0, section: '.maps', ...(contents ? { contents } : {}) }) as MapSpec;

/** r7 = the result array (key 0 of map 0). */
const PROLOGUE = lookupKey0(0, 'r7');
const EPILOGUE = `
out:
  r0 = 0
  exit`;

class Gen {
  slot = 0;
  lines: string[] = [];
  label = 0;
  constructor(readonly pick: <T>(xs: readonly T[]) => T) {}
  /** Stores r0 (or `reg`) in the next result slot. */
  save(reg = 'r0'): void {
    if (this.slot * 8 >= DATA) throw new Error('too many results');
    this.lines.push(`*(u64 *)(r7 + ${8 * this.slot++}) = ${reg}`);
  }
  emit(s: string): void {
    this.lines.push(s);
  }
  fresh(): string {
    return `L${this.label++}`;
  }
}

const PATTERN = ['0x1122334455667788', '0xa5a5a5a5a5a5a5a5', '0x0102030405060708', '0xfedcba9876543210'];

function queueCase(rand: () => number, i: number): Case {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const type = pick([22, 23]);
  const valueSize = pick([4, 8]);
  const maxEntries = pick([1, 2, 3, 5]);
  const g = new Gen(pick);
  for (let k = 0; k < 12; k++) {
    const r = rand();
    if (r < 0.5) {
      g.emit(`r1 = ${pick(PATTERN)} ll\n*(u64 *)(r10 - 24) = r1\nr1 = map[idx:1]\nr2 = r10\nr2 += -24\nr3 = ${pick([0, 0, 2, 2, 1, 3, 4])}\ncall bpf_map_push_elem#87`);
      g.save();
    } else {
      g.emit(`r1 = 0xbbbbbbbbbbbbbbbb ll\n*(u64 *)(r10 - 32) = r1\nr1 = map[idx:1]\nr2 = r10\nr2 += -32\ncall ${r < 0.8 ? 'bpf_map_pop_elem#88' : 'bpf_map_peek_elem#89'}`);
      g.save();
      g.emit('r1 = *(u64 *)(r10 - 32)');
      g.save('r1');
    }
  }
  return { name: `queue#${i} type ${type} value ${valueSize} max ${maxEntries}`, maps: [outMap(rand), mapSpec('q', type, 0, valueSize, maxEntries)], text: `${PROLOGUE}\n${g.lines.join('\n')}\n${EPILOGUE}` };
}

function outMap(rand: () => number): MapSpec {
  const v = new Uint8Array(OUT_SIZE);
  for (let j = DATA; j < OUT_SIZE; j++) v[j] = Math.floor(rand() * 256);
  return mapSpec('out', 2, 4, OUT_SIZE, 1, [{ key: u32Bytes(0), value: v }]);
}

const SIZES = [0, 1, 7, 8, 16, 24, 100, 255, 256, 1000, 2000, 4000, 4080, 4088, 4089, 5000];

/** Write / read / data calls on the dynptr at r10 - 16 (16 bytes), results saved. */
function dynptrUse(g: Gen, rand: () => number, size: number): void {
  const pick = g.pick;
  const offs = [0, 1, 8, size > 0 ? size - 1 : 0, size, size + 1, 0x7fffffff, 0xffffffff];
  for (let k = 0; k < 3; k++) {
    const r = rand();
    if (r < 0.35) {
      const len = pick([0, 1, 8, 16, 64, 256]);
      g.emit(`r1 = r10\nr1 += -16\nr2 = ${pick(offs) | 0}\nr3 = r7\nr3 += ${DATA}\nr4 = ${len}\nr5 = ${pick([0, 0, 0, 1])}\ncall bpf_dynptr_write#202`);
      g.save();
    } else if (r < 0.7) {
      const len = pick([0, 1, 8, 16]);
      g.emit(`r1 = 0xcccccccccccccccc ll\n*(u64 *)(r10 - 48) = r1\n*(u64 *)(r10 - 40) = r1`);
      g.emit(`r1 = r10\nr1 += -48\nr2 = ${len}\nr3 = r10\nr3 += -16\nr4 = ${pick(offs) | 0}\nr5 = ${pick([0, 0, 0, 2])}\ncall bpf_dynptr_read#201`);
      g.save();
      g.emit('r1 = *(u64 *)(r10 - 48)');
      g.save('r1');
      g.emit('r1 = *(u64 *)(r10 - 40)');
      g.save('r1');
    } else {
      const len = pick([1, 8, 16]);
      const l = g.fresh();
      g.emit(`r1 = r10\nr1 += -16\nr2 = ${pick(offs) | 0}\nr3 = ${len}\ncall bpf_dynptr_data#203\nr2 = 0\nif r0 == 0 goto ${l}\nr2 = *(u8 *)(r0 + 0)\nr2 += 1\n*(u8 *)(r0 + 0) = 0x5a\n${l}:`);
      g.save('r2');
    }
  }
}

function ringbufCase(rand: () => number, i: number): Case {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const size = pick([4096, 8192]);
  const g = new Gen(pick);
  for (let k = 0; k < 8; k++) {
    const r = rand();
    if (r < 0.25) {
      g.emit(`r1 = map[idx:1]\nr2 = r7\nr2 += ${DATA}\nr3 = ${pick(SIZES.filter((s) => s <= 256))}\nr4 = ${pick([0, 0, 1, 2, 3, 4])}\ncall bpf_ringbuf_output#130`);
      g.save();
    } else if (r < 0.5) {
      const s = pick(SIZES);
      const l = g.fresh();
      g.emit(`r1 = map[idx:1]\nr2 = ${s}\nr3 = ${pick([0, 0, 0, 1])}\ncall bpf_ringbuf_reserve#131\nr6 = 0\nif r0 == 0 goto ${l}`);
      if (s >= 16) g.emit('r6 = *(u64 *)(r0 + 8)'); // what the ring held there before (stale bytes)
      if (s >= 8) g.emit(`r1 = ${pick(PATTERN)} ll\n*(u64 *)(r0 + 0) = r1`);
      g.emit(`r1 = r0\nr2 = ${pick([0, 1, 2])}\ncall ${rand() < 0.75 ? 'bpf_ringbuf_submit#132' : 'bpf_ringbuf_discard#133'}\nr6 += 1\n${l}:`);
      g.save('r6');
    } else if (r < 0.65) {
      g.emit(`r1 = map[idx:1]\nr2 = ${pick([0, 1, 2, 3, 4, 5])}\ncall bpf_ringbuf_query#134`);
      g.save();
    } else if (r < 0.85) {
      const s = pick([...SIZES, 0x1000000]);
      g.emit(`r1 = map[idx:1]\nr2 = ${s}\nr3 = ${pick([0, 0, 0, 1])}\nr4 = r10\nr4 += -16\ncall bpf_ringbuf_reserve_dynptr#198`);
      g.save();
      dynptrUse(g, rand, s);
      g.emit(`r1 = r10\nr1 += -16\nr2 = 0\ncall ${rand() < 0.75 ? 'bpf_ringbuf_submit_dynptr#199' : 'bpf_ringbuf_discard_dynptr#200'}`); // returns void
    } else {
      const s = pick([0, 1, 8, 16, 100, 256]);
      g.emit(`r1 = r7\nr1 += ${DATA}\nr2 = ${s}\nr3 = ${pick([0, 0, 0, 1])}\nr4 = r10\nr4 += -16\ncall bpf_dynptr_from_mem#197`);
      g.save();
      dynptrUse(g, rand, s);
    }
  }
  return { name: `ringbuf#${i} size ${size}`, maps: [outMap(rand), mapSpec('rb', 27, 0, 0, size)], text: `${PROLOGUE}\n${g.lines.join('\n')}\n${EPILOGUE}` };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface Outcome {
  retval?: number;
  errno?: number;
  maps?: string[][];
}

function model(c: Case, insns: Uint8Array, tier: 'interp' | 'js'): Outcome {
  const maps = Maps.fromSpec({ maps: c.maps });
  const r = testRun(rawProgram(insns), new Uint8Array(64), { maps, tier });
  const dump = maps.list.map((m): string[] => {
    if (m instanceof ArrayMap) return [hex(m.lookup(u32Bytes(0)))];
    if (m instanceof QueueStackMap) return m.elements().map(hex);
    if (m instanceof RingBufMap) return m.records().map((x) => `${hex(u32Bytes(x.header))}:${hex(x.data)}`);
    return [];
  });
  return { retval: r.retval, maps: dump };
}

describe.skipIf(!avail.ok)(`queue / stack, ring buffer and dynptr helpers: bpfvm test run = kernel test run${avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`}`, () => {
  it('random programs: retval, result array, queue / stack contents and ring buffer records agree', () => {
    const rand = rng(0x4b1d);
    const cases: Case[] = [];
    for (let i = 0; i < 40; i++) cases.push(queueCase(rand, i));
    for (let i = 0; i < 80; i++) cases.push(ringbufCase(rand, i));
    const insns = cases.map((c) => assemble(c.text));
    const reqs: KernelProgRequest[] = cases.map((c, i) => ({
      progType: 3,
      insns: insns[i]!,
      maps: c.maps.map((m) => ({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, entries: m.contents ?? [] })),
      run: { dataIn: new Uint8Array(64) },
      readMapsAfter: true,
    }));
    const kernel = kernelRunBatch(reqs);
    let loaded = 0;
    let agree = 0;
    const diffs: string[] = [];
    cases.forEach((c, i) => {
      const k = kernel[i]!;
      if (!k.loaded) {
        diffs.push(`${c.name}: the kernel refused it (${k.errno}): ${k.log.split('\n').slice(-3).join(' | ')}`);
        return;
      }
      loaded++;
      const kout: Outcome = {
        retval: k.run!.retval,
        maps: (k.maps ?? []).map((m, j) => m.entries.map((e) => (c.maps[j]!.type === 27 ? `${hex(e.key)}:${hex(e.value)}` : hex(e.value)))),
      };
      for (const tier of ['interp', 'js'] as const) {
        const mout = model(c, insns[i]!, tier);
        if (JSON.stringify(kout) === JSON.stringify(mout)) agree++;
        else if (diffs.length < 5) diffs.push(`${c.name} (${tier} tier)\n${c.text}\nkernel ${JSON.stringify(kout)}\nmodel  ${JSON.stringify(mout)}`);
      }
    });
    console.log(`queue/ringbuf/dynptr programs: ${agree}/${2 * cases.length} (program, tier) runs agree (${loaded}/${cases.length} loaded by the kernel)`);
    expect(diffs).toEqual([]);
    expect(loaded).toBe(cases.length);
  });
});

/** A drain program: results at out + 0 (first drain), +8 sum, +16 count, +24 sum of dynptr_read results, +32 second drain. */
function drainText(flags: number, readOff: number, readLen: number): { main: string; cb: string } {
  const main = `${PROLOGUE}
  *(u64 *)(r10 - 40) = 0
  *(u64 *)(r10 - 32) = 0
  *(u64 *)(r10 - 24) = 0
  r1 = map[idx:1]
  r2 = func[cb]
  r3 = r10
  r3 += -40
  r4 = ${flags}
  call bpf_user_ringbuf_drain#209
  *(u64 *)(r7 + 0) = r0
  r1 = *(u64 *)(r10 - 40)
  *(u64 *)(r7 + 8) = r1
  r1 = *(u64 *)(r10 - 32)
  *(u64 *)(r7 + 16) = r1
  r1 = *(u64 *)(r10 - 24)
  *(u64 *)(r7 + 24) = r1
  r1 = map[idx:1]
  r2 = func[cb]
  r3 = r10
  r3 += -40
  r4 = 0
  call bpf_user_ringbuf_drain#209
  *(u64 *)(r7 + 32) = r0
${EPILOGUE}`;
  const cb = `cb:
  r6 = r2
  r3 = r1
  *(u64 *)(r10 - 8) = 0
  r1 = r10
  r1 += -8
  r2 = ${readLen}
  r4 = ${readOff}
  r5 = 0
  call bpf_dynptr_read#201
  r1 = *(u64 *)(r6 + 16)
  r1 += r0
  *(u64 *)(r6 + 16) = r1
  r2 = *(u64 *)(r6 + 8)
  r2 += 1
  *(u64 *)(r6 + 8) = r2
  r1 = *(u64 *)(r10 - 8)
  r2 = *(u64 *)(r6 + 0)
  r2 += r1
  *(u64 *)(r6 + 0) = r2
  r0 = 0
  r1 &= 0xff
  if r1 != 0xff goto cbout
  r0 = 1
cbout:
  exit`;
  return { main, cb };
}

describe.skipIf(!avail.ok)(`bpf_user_ringbuf_drain: bpfvm test run = kernel test run${avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`}`, () => {
  it('random samples (some discarded), flags and callbacks that stop early: the drain results agree', () => {
    const rand = rng(0x0ddba11);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const reqs: KernelProgRequest[] = [];
    const models: Outcome[] = [];
    const names: string[] = [];
    for (let i = 0; i < 40; i++) {
      const samples = Array.from({ length: Math.floor(rand() * 7) }, () => {
        const data = new Uint8Array(pick([0, 1, 3, 4, 5, 8, 16, 100])).map(() => Math.floor(rand() * 256));
        if (data.length > 0 && rand() < 0.2) data[0] = 0xff;
        return { data, discarded: rand() < 0.15 };
      });
      const t = drainText(pick([0, 0, 0, 1, 2, 4]), pick([0, 0, 1, 4]), pick([1, 4, 8]));
      const text = `${t.main}\n${t.cb}`;
      const insns = assemble(text);
      const cbOff = assemble(`${t.main}\ncb:\nexit`).length / 8 - 1;
      const maps = [outMap(rand), mapSpec('urb', 31, 0, 0, 4096)];
      reqs.push({
        progType: 3, insns, btf: funcBtf([{ name: 'main', insnOff: 0 }, { name: 'cb', insnOff: cbOff }]),
        maps: maps.map((m) => ({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, entries: m.type === 31 ? samples.map((x) => ({ key: x.discarded ? Uint8Array.of(1) : new Uint8Array(0), value: x.data })) : (m.contents ?? []) })),
        run: { dataIn: new Uint8Array(64) }, readMapsAfter: true,
      });
      const tiers = (['interp', 'js'] as const).map((tier): Outcome => {
        const live = Maps.fromSpec({ maps });
        const urb = live.get('urb') as UserRingBufMap;
        for (const x of samples) {
          const s = urb.reserve(x.data.length);
          s.bytes.set(x.data);
          urb.submit(s, x.discarded);
        }
        const r = testRun(rawProgram(insns), new Uint8Array(64), { maps: live, tier });
        return { retval: r.retval, maps: [[hex(live.get('out').lookup(u32Bytes(0)).subarray(0, 40))]] };
      });
      expect(tiers[1]).toEqual(tiers[0]); // the JS tier runs the callbacks as the interpreter does
      models.push(tiers[0]!);
      names.push(`drain#${i} ${samples.map((x) => `${x.data.length}${x.discarded ? 'd' : ''}`).join(',')}\n${text}`);
    }
    const kernel = kernelRunBatch(reqs);
    let agree = 0;
    const diffs: string[] = [];
    kernel.forEach((k, i) => {
      if (!k.loaded) {
        if (diffs.length < 3) diffs.push(`${names[i]}: refused (${k.errno} ${k.stage ?? ''}): ${k.log.split('\n').slice(-4).join(' | ')}`);
        return;
      }
      const kout: Outcome = { retval: k.run!.retval, maps: [[hex(k.maps![0]!.entries[0]!.value.subarray(0, 40))]] };
      if (JSON.stringify(kout) === JSON.stringify(models[i])) agree++;
      else if (diffs.length < 5) diffs.push(`${names[i]}\nkernel ${JSON.stringify(kout)}\nmodel  ${JSON.stringify(models[i])}`);
    });
    console.log(`bpf_user_ringbuf_drain programs: ${agree}/${reqs.length} agree`);
    expect(diffs).toEqual([]);
  });
});
