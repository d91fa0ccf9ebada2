// Kernel-differential tests of the map model: the same random sequences of create / update(flags) / lookup /
// delete / get_next_key run against real kernel maps (test/kernel/mapops.c, one process per batch) and against
// createMap, comparing errno and bytes. Hash maps are created with BPF_F_ZERO_SEED in both (the model always
// hashes with seed 0), so get_next_key order is compared exactly; a second run without ZERO_SEED compares key
// sets. Skipped with the reason when bpf() is not usable here.

import { describe, expect, it } from 'vitest';
import { kernelAvailability } from '../kernel/oracle.js';
import { kernelMapOps, type KernelMapCmd, type KernelMapResult } from '../kernel/mapops.js';
import { createMap, hexKey } from '../../src/kernel/maps/index.js';
import { runModelMapOps } from './map-ops-model.js';
import { rng } from '../kernel/rng.js';

const avail = kernelAvailability();
const kit = avail.ok ? it : it.skip;
if (!avail.ok) console.warn(`maps-kernel tests skipped: ${avail.reason}`);

const CPUS = avail.ok ? kernelMapOps([]).cpus : 2;
const runModel = (cmds: KernelMapCmd[]): KernelMapResult[] => runModelMapOps(cmds, CPUS);

interface MapShape {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

const percpu = (t: number): boolean => t === 5 || t === 6 || t === 10;
const sysValueSize = (s: MapShape): number => (percpu(s.type) ? Math.ceil(s.valueSize / 8) * 8 * CPUS : s.valueSize);

/** A random sequence on one map: `nOps` operations over a small key space so that collisions, E2BIG etc. happen. */
function sequence(shape: MapShape, nOps: number, rand: () => number, opts: { exactOrder: boolean; nKeys: number }): KernelMapCmd[] {
  const cmds: KernelMapCmd[] = [{ op: 'reset' }, { op: 'create', ...shape }];
  const isArray = shape.type === 2 || shape.type === 6;
  const keys: Uint8Array[] = [];
  for (let i = 0; i < opts.nKeys; i++) {
    const k = new Uint8Array(shape.keySize);
    if (isArray) new DataView(k.buffer).setUint32(0, i, true); // 0 .. nKeys-1, some beyond max_entries
    else for (let j = 0; j < k.length; j++) k[j] = Math.floor(rand() * 256);
    keys.push(k);
  }
  if (isArray) keys.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
  const pick = (): Uint8Array => keys[Math.floor(rand() * keys.length)]!;
  const flagsPool = [0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 8];
  for (let i = 0; i < nOps; i++) {
    const r = rand();
    if (r < 0.4) {
      const v = new Uint8Array(sysValueSize(shape));
      for (let j = 0; j < v.length; j++) v[j] = Math.floor(rand() * 256);
      cmds.push({ op: 'update', map: 0, key: pick(), value: v, flags: flagsPool[Math.floor(rand() * flagsPool.length)]! });
    } else if (r < 0.6) cmds.push({ op: 'lookup', map: 0, key: pick() });
    else if (r < 0.72) cmds.push({ op: 'delete', map: 0, key: pick() });
    else if (r < 0.9) {
      if (opts.exactOrder || isArray) cmds.push({ op: 'next', map: 0, key: rand() < 0.2 ? null : pick() });
      else cmds.push({ op: 'keys', map: 0 });
    } else cmds.push({ op: 'keys', map: 0 });
  }
  cmds.push({ op: 'keys', map: 0 });
  return cmds;
}

/** For maps without ZERO_SEED: the key list as a sorted set of hex strings. */
function keySet(r: KernelMapResult, keySize: number): string[] {
  const out: string[] = [];
  const b = r.bytes ?? new Uint8Array(0);
  for (let o = 0; o < b.length; o += keySize) out.push(hexKey(b.subarray(o, o + keySize)));
  return out.sort();
}

function compare(cmds: KernelMapCmd[], kernel: KernelMapResult[], model: KernelMapResult[], shapes: (MapShape | null)[], exactOrder: boolean): { ops: number; agree: number; diffs: string[] } {
  let agree = 0;
  const diffs: string[] = [];
  cmds.forEach((c, i) => {
    const k = kernel[i]!;
    const m = model[i]!;
    let same = k.errno === m.errno;
    if (same && c.op !== 'create') {
      if (c.op === 'keys' && !exactOrder) same = keySet(k, shapes[i]!.keySize).join() === keySet(m, shapes[i]!.keySize).join();
      else same = hexKey(k.bytes ?? new Uint8Array(0)) === hexKey(m.bytes ?? new Uint8Array(0));
    }
    if (same) agree++;
    else if (diffs.length < 10) {
      diffs.push(`#${i} ${c.op}${'key' in c && c.key ? ' ' + hexKey(c.key) : ''}${'flags' in c ? ` flags ${c.flags}` : ''}: kernel ${k.errno} ${hexKey(k.bytes ?? new Uint8Array(0))} / model ${m.errno} ${hexKey(m.bytes ?? new Uint8Array(0))}`);
    }
  });
  return { ops: cmds.length, agree, diffs };
}

function differential(shapes: MapShape[], seqsPerShape: number, opsPerSeq: number, opts: { exactOrder: boolean; nKeys: (s: MapShape) => number }, seed: number) {
  const rand = rng(seed);
  const cmds: KernelMapCmd[] = [];
  const shapeOf: (MapShape | null)[] = [];
  for (const s of shapes) {
    for (let q = 0; q < seqsPerShape; q++) {
      const seq = sequence(s, opsPerSeq, rand, { exactOrder: opts.exactOrder, nKeys: opts.nKeys(s) });
      cmds.push(...seq);
      for (let i = 0; i < seq.length; i++) shapeOf.push(s);
    }
  }
  const { results } = kernelMapOps(cmds);
  const model = runModel(cmds);
  return compare(cmds, results, model, shapeOf, opts.exactOrder);
}

const ZERO_SEED = 64;

describe('maps vs the kernel (bpf syscall)', () => {
  kit('ARRAY and PERCPU_ARRAY: random update/lookup/delete/get_next_key sequences agree', () => {
    const shapes: MapShape[] = [
      { type: 2, keySize: 4, valueSize: 8, maxEntries: 6, flags: 0 },
      { type: 2, keySize: 4, valueSize: 5, maxEntries: 3, flags: 0 },
      { type: 6, keySize: 4, valueSize: 12, maxEntries: 5, flags: 0 },
      { type: 6, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 },
    ];
    const r = differential(shapes, 3, 60, { exactOrder: true, nKeys: (s) => s.maxEntries + 2 }, 1);
    console.log(`ARRAY/PERCPU_ARRAY: ${r.agree}/${r.ops} kernel results agree`);
    expect(r.diffs).toEqual([]);
  });

  kit('HASH, PERCPU_HASH, LRU_HASH with BPF_F_ZERO_SEED: errno, values and exact get_next_key order agree', () => {
    const shapes: MapShape[] = [
      { type: 1, keySize: 4, valueSize: 8, maxEntries: 8, flags: ZERO_SEED },
      { type: 1, keySize: 6, valueSize: 3, maxEntries: 5, flags: ZERO_SEED },
      { type: 1, keySize: 16, valueSize: 16, maxEntries: 4, flags: ZERO_SEED | 1 /* NO_PREALLOC */ },
      { type: 5, keySize: 4, valueSize: 12, maxEntries: 6, flags: ZERO_SEED },
      // LRU with room to spare: the kernel's LRU evicts early (see the eviction test), so these stay below that.
      { type: 9, keySize: 8, valueSize: 8, maxEntries: 64, flags: ZERO_SEED },
      { type: 10, keySize: 4, valueSize: 4, maxEntries: 64, flags: ZERO_SEED },
    ];
    const r = differential(shapes, 3, 70, { exactOrder: true, nKeys: (s) => (s.maxEntries >= 64 ? 10 : s.maxEntries + 3) }, 2);
    console.log(`HASH family (ZERO_SEED): ${r.agree}/${r.ops} kernel results agree`);
    expect(r.diffs).toEqual([]);
  });

  kit('hash maps with a random seed: same errno/values and the same key sets', () => {
    const shapes: MapShape[] = [
      { type: 1, keySize: 4, valueSize: 8, maxEntries: 8, flags: 0 },
      { type: 9, keySize: 4, valueSize: 8, maxEntries: 64, flags: 0 },
    ];
    const r = differential(shapes, 2, 60, { exactOrder: false, nKeys: (s) => (s.maxEntries >= 64 ? 10 : s.maxEntries + 3) }, 3);
    console.log(`HASH/LRU (random seed): ${r.agree}/${r.ops} kernel results agree`);
    expect(r.diffs).toEqual([]);
  });

  kit('creation checks agree with map_create for valid and invalid attributes', () => {
    const shapes: MapShape[] = [];
    const add = (type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0) => shapes.push({ type, keySize, valueSize, maxEntries, flags });
    for (const t of [1, 2, 3, 5, 6, 9, 10]) {
      add(t, 4, 4, 1);
      add(t, 8, 4, 4);
      add(t, 4, 0, 4);
      add(t, 0, 4, 4);
      add(t, 4, 4, 0);
      add(t, 4, 8, 4);
      add(t, 4, 32768, 2);
      add(t, 4, 32769, 2);
      add(t, 4, 4, 4, 1); // NO_PREALLOC
      add(t, 4, 4, 4, 2); // NO_COMMON_LRU
      add(t, 4, 4, 4, 3);
      add(t, 4, 4, 5, 2);
      add(t, 4, 4, 4, 8 | 16); // RDONLY|WRONLY
      add(t, 4, 4, 4, 128 | 256); // RDONLY_PROG|WRONLY_PROG
      add(t, 4, 4, 4, 128);
      add(t, 4, 4, 4, 1024); // MMAPABLE
      add(t, 4, 4, 4, 4096); // INNER_MAP
      add(t, 4, 4, 4, 2048); // PRESERVE_ELEMS
      add(t, 4, 4, 4, 1 << 20); // unknown
      add(t, 4, 4, 4, 64); // ZERO_SEED
      add(t, 4, 4, 4, 4); // NUMA_NODE (node 0)
      add(t, 4, 4, 4, 4 | 2);
    }
    add(1, 4096, 4194304 - 48 - 4096, 1);
    add(1, 4096, 4194304 - 48 - 4096 - 1, 1);
    add(99, 4, 4, 4);
    const cmds: KernelMapCmd[] = shapes.flatMap((s): KernelMapCmd[] => [{ op: 'reset' }, { op: 'create', ...s }]);
    const { results } = kernelMapOps(cmds);
    const model = runModel(cmds);
    const diffs: string[] = [];
    let agree = 0;
    cmds.forEach((c, i) => {
      if (c.op !== 'create') return;
      if (results[i]!.errno === model[i]!.errno) agree++;
      else diffs.push(`create ${JSON.stringify(c)}: kernel ${results[i]!.errno}, model ${model[i]!.errno}`);
    });
    console.log(`map_create: ${agree}/${shapes.length} agree`);
    expect(diffs).toEqual([]);
  });

  kit('freeze, prog-array flags, and map-in-map template checks agree', () => {
    const k = (n: number) => new Uint8Array([n, 0, 0, 0]);
    const cmds: KernelMapCmd[] = [
      { op: 'reset' },
      { op: 'create', type: 2, keySize: 4, valueSize: 4, maxEntries: 2 }, // 0 inner template
      { op: 'create', type: 12, keySize: 4, valueSize: 4, maxEntries: 3, inner: 0 }, // 1 array of maps
      { op: 'create', type: 2, keySize: 4, valueSize: 4, maxEntries: 2 }, // 2 compatible
      { op: 'create', type: 2, keySize: 4, valueSize: 4, maxEntries: 3 }, // 3 wrong max_entries
      { op: 'create', type: 2, keySize: 4, valueSize: 8, maxEntries: 2 }, // 4 wrong value size
      { op: 'updateMap', map: 1, key: k(0), inner: 2, flags: 0 },
      { op: 'updateMap', map: 1, key: k(1), inner: 3, flags: 0 },
      { op: 'updateMap', map: 1, key: k(1), inner: 4, flags: 0 },
      { op: 'updateMap', map: 1, key: k(1), inner: 2, flags: 1 },
      { op: 'updateMap', map: 1, key: k(5), inner: 2, flags: 0 },
      { op: 'next', map: 1, key: null },
      { op: 'delete', map: 1, key: k(1) },
      { op: 'delete', map: 1, key: k(0) },
      { op: 'delete', map: 1, key: k(7) },
      { op: 'create', type: 13, keySize: 8, valueSize: 4, maxEntries: 2, inner: 0 }, // 5 hash of maps
      { op: 'updateMap', map: 5, key: new Uint8Array(8), inner: 2, flags: 2 },
      { op: 'updateMap', map: 5, key: new Uint8Array(8), inner: 2, flags: 1 },
      { op: 'updateMap', map: 5, key: new Uint8Array(8), inner: 2, flags: 1 },
      { op: 'updateMap', map: 5, key: new Uint8Array(8), inner: 3, flags: 0 },
      { op: 'create', type: 12, keySize: 4, valueSize: 4, maxEntries: 2, inner: 1 }, // nested: EINVAL
      { op: 'create', type: 3, keySize: 4, valueSize: 4, maxEntries: 2 }, // 6 prog array
      { op: 'create', type: 12, keySize: 4, valueSize: 4, maxEntries: 2, inner: 6 }, // prog array inner: ENOTSUPP
      { op: 'lookup', map: 6, key: k(0) },
      { op: 'delete', map: 6, key: k(0) },
      { op: 'delete', map: 6, key: k(9) },
      { op: 'next', map: 6, key: k(0) },
      { op: 'freeze', map: 2 },
      { op: 'update', map: 2, key: k(0), value: k(1), flags: 0 },
      { op: 'delete', map: 2, key: k(0) },
      { op: 'lookup', map: 2, key: k(0) },
      { op: 'freeze', map: 2 },
      { op: 'create', type: 2, keySize: 4, valueSize: 4, maxEntries: 2, flags: 8 }, // RDONLY
      { op: 'update', map: 7, key: k(0), value: k(1), flags: 0 },
      { op: 'lookup', map: 7, key: k(0) },
      { op: 'create', type: 1, keySize: 4, valueSize: 4, maxEntries: 2, flags: 16 }, // WRONLY
      { op: 'update', map: 8, key: k(0), value: k(1), flags: 0 },
      { op: 'lookup', map: 8, key: k(0) },
      { op: 'next', map: 8, key: null },
    ];
    const { results } = kernelMapOps(cmds);
    const model = runModel(cmds);
    const diffs = cmds.flatMap((c, i) => (results[i]!.errno === model[i]!.errno && (c.op !== 'lookup' || hexKey(results[i]!.bytes ?? new Uint8Array(0)) === hexKey(model[i]!.bytes ?? new Uint8Array(0))) ? [] : [`#${i} ${JSON.stringify(c)}: kernel ${results[i]!.errno} model ${model[i]!.errno}`]));
    expect(diffs).toEqual([]);
  });

  kit('LRU eviction: both keep at most max_entries elements and keep the newest key; the kernel evicts earlier', () => {
    const key = (n: number) => new Uint8Array([n, 0, 0, 0]);
    const cmds: KernelMapCmd[] = [{ op: 'reset' }, { op: 'create', type: 9, keySize: 4, valueSize: 8, maxEntries: 8, flags: ZERO_SEED }];
    for (let i = 0; i < 20; i++) {
      cmds.push({ op: 'update', map: 0, key: key(i), value: new Uint8Array(8).fill(i), flags: 0 });
      cmds.push({ op: 'keys', map: 0 });
    }
    const { results } = kernelMapOps(cmds);
    const model = runModel(cmds);
    const counts = (rs: KernelMapResult[]) => cmds.flatMap((c, i) => (c.op === 'keys' ? [(rs[i]!.bytes?.length ?? 0) / 4] : []));
    const kc = counts(results);
    const mc = counts(model);
    console.log(`LRU element counts after each insert: kernel ${kc.join(',')} / model ${mc.join(',')}`);
    for (const rs of [results, model]) {
      cmds.forEach((c, i) => {
        if (c.op === 'update') expect(rs[i]!.errno).toBe(0); // LRU never fails with E2BIG
        if (c.op === 'keys') {
          const n = (rs[i]!.bytes?.length ?? 0) / 4;
          expect(n).toBeLessThanOrEqual(8);
          const last = (cmds[i - 1] as { key: Uint8Array }).key;
          expect(keySet(rs[i]!, 4)).toContain(hexKey(last));
        }
      });
    }
    // The model fills the map completely before evicting.
    expect(mc.slice(7)).toEqual(new Array(mc.length - 7).fill(8));
  });
});
