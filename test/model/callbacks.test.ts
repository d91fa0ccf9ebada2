/**
 * The model side of bpf_for_each_map_elem, bpf_spin_lock / unlock, BPF timers on the virtual clock and the
 * special fields of map values (src/kernel/base-helpers.ts, timers.ts, maps/fields.ts, btf/fields.ts): what the
 * kernel comparison (test/kernel/callbacks-kernel.test.ts) cannot show — firing order and times on the virtual
 * clock, callbacks from socket programs, the misuse the verifier normally prevents, map creation rules.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import { btfValueFields } from '../../src/btf/fields.js';
import type { Btf, BtfType } from '../../src/btf/types.js';
import { loadCollectionFile } from '../../src/elf/index.js';
import { Kernel } from '../../src/kernel/model.js';
import { BpfMapError, Maps, createMap } from '../../src/kernel/maps/index.js';
import { prepareTestRun } from '../../src/kernel/testrun.js';
import { REALTIME_OFFSET_NS } from '../../src/kernel/timers.js';
import { runScenarioFile } from '../../src/scenario/file.js';
import { SocketScenario } from '../../src/scenario/api.js';
import type { MapSpec } from '../../src/spec.js';
import { rawMap } from '../kernel/raw-spec.js';
import { insertZeroKey0, lookupKey0, recordValue, startTimer } from './asm-snippets.js';

const fixture = join(import.meta.dirname, '..', '..', 'fixtures', 'v3', 'callbacks.o');
const u64 = (b: Uint8Array, off: number): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
const key = (k: number): Uint8Array => Uint8Array.of(k & 0xff, (k >> 8) & 0xff, 0, 0);

/** A map spec with a struct bpf_timer at 8 (value: u64 fired; bpf_timer t; u64 last) or a lock at `lock`. */
const timed = (name: string, type: number, maxEntries: number): MapSpec => ({
  name, type, typeName: '', keySize: 4, valueSize: 32, maxEntries, flags: 0, section: '.maps',
  valueFields: { fields: [{ kind: 'timer', offset: 8, size: 16 }] },
});

describe('BPF timers on the virtual clock', () => {
  it('fire in order of expiry (ties: start order) when time is advanced; a callback re-arms its timer', () => {
    const spec = loadCollectionFile(fixture);
    const maps = Maps.fromSpec(spec);
    const pr = prepareTestRun(spec.programs.find((p) => p.name === 'timer_arm')!, new Uint8Array(64), { collection: spec, maps });
    const T = 1_000_000_000n; // the virtual clock's start; timer_arm reads no clock
    pr.runOnce(); // slot 0: +1000 ns, slot 1: +500 ns (its callback re-arms it twice, +500), hash key 7: +2000 ns
    expect(pr.timers.nowNs).toBe(T);
    expect(pr.timers.pending().map((p) => `${p.map}:${p.key}@${p.expiryNs - T}`)).toEqual(['tarr:01000000@500', 'tarr:00000000@1000', 'thash:07000000@2000']);
    expect(pr.timers.advance(400n)).toEqual([]);
    const fired = pr.timers.advance(10_000n);
    // Each callback reads bpf_ktime_get_ns (a read steps the clock 1000 ns): slot 1 at 500 reads 500 and re-arms
    // for 1500 + 500 = 2000; slot 0 (due at 1000) runs late, at 1500; at 2000 the hash timer (started first)
    // goes before slot 1's re-armed one, which reads 3500 and re-arms for 5000.
    expect(fired.map((f) => `${f.map}:${f.key}@${f.atNs - T}`)).toEqual([
      'tarr:01000000@500', 'tarr:00000000@1000', 'thash:07000000@2000', 'tarr:01000000@2000', 'tarr:01000000@5000',
    ]);
    const tarr = maps.get('tarr');
    expect([u64(tarr.lookup(key(0)), 0), u64(tarr.lookup(key(0)), 24) - T]).toEqual([1n, 1500n]);
    expect([u64(tarr.lookup(key(1)), 0), u64(tarr.lookup(key(1)), 24) - T]).toEqual([3n, 5000n]);
    expect([u64(maps.get('thash').lookup(key(7)), 0), u64(maps.get('thash').lookup(key(7)), 24) - T]).toEqual([1n, 2500n]);
    expect(pr.timers.nowNs).toBe(T + 10_400n);
    expect(pr.timers.pending()).toEqual([]);
  });

  it('a timer armed by a sock_ops program fires from Kernel.advanceTime; cgroup ids follow the current cgroup', () => {
    const k = new Kernel();
    const { programs } = k.loadCollection(loadCollectionFile(fixture));
    expect(k.cgroupAttach(programs.ops_timer!, '/')).toBe(0);
    k.listen(); // TCP_LISTEN_CB arms tarr[2] at +3000 ns
    const bss = (): Uint8Array => k.map('.bss').lookup(key(0));
    expect(u64(bss(), 20 * 8)).toBe(0n);
    expect(u64(bss(), 21 * 8)).toBe(1n); // the root cgroup
    const start = k.timeNs;
    expect(k.advanceTime(2000)).toEqual([]);
    const f = k.advanceTime(5000);
    expect(f.map((x) => [x.map, x.key])).toEqual([['tarr', '02000000']]);
    expect(f[0]!.atNs).toBeLessThanOrEqual(start + 3000n);
    expect(k.timeNs).toBe(start + 7000n);
    expect(u64(k.map('tarr').lookup(key(2)), 0)).toBe(1n);
    k.currentCgroup = '/a/b';
    k.listen();
    expect(u64(bss(), 21 * 8)).toBe(3n); // /a = 2, /a/b = 3
    expect(() => k.advanceTime(-1)).toThrow(/negative/);
  });

  it('deleting or updating the element cancels and frees its timer; cancel from its own callback is -EDEADLK', () => {
    const k = new Kernel();
    k.createMaps([timed('t', 2, 2), timed('h', 1, 2)]);
    // r6 = value of t[0] (or h[0]); init, set_callback(cb), start(100); cb: cancel(own) → value.last, fired++.
    const prog = (mapIdx: number): Uint8Array => assemble(`
      ${insertZeroKey0(mapIdx, 1, 'r6')}
      ${startTimer(mapIdx, 1, '100', 0)}
    out:
      r0 = 1
      exit
    cb:
      r6 = r3
      r1 = r3
      r1 += 8
      call bpf_timer_cancel#172
      *(u64 *)(r6 + 24) = r0
      r1 = *(u64 *)(r6 + 0)
      r1 += 1
      *(u64 *)(r6 + 0) = r1
      r0 = 0
      exit`);
    const pa = k.loadProgram({ type: 13, name: 'arm_t', insns: prog(0) });
    const ph = k.loadProgram({ type: 13, name: 'arm_h', insns: prog(1) });
    expect(k.cgroupAttach(pa, '/', 2)).toBe(0);
    expect(k.cgroupAttach(ph, '/', 2)).toBe(0);
    k.listen();
    expect(k.timers.pending().map((p) => p.map)).toEqual(['t', 'h']);
    expect(k.advanceTime(1000).map((f) => f.map)).toEqual(['t', 'h']);
    const t0 = k.mapLookup(k.map('t'), 0) as Uint8Array;
    expect([u64(t0, 0), BigInt.asIntN(64, u64(t0, 24))]).toEqual([1n, -35n]); // -EDEADLK
    // Armed again by the next listen; then user space deletes h[0] and overwrites t[0]: nothing fires.
    k.listen();
    expect(k.timers.pending().length).toBe(2);
    expect(k.mapDelete(k.map('h'), 0)).toBe(0);
    expect(k.mapUpdate(k.map('t'), 0, new Uint8Array(32).fill(0xee))).toBe(0);
    expect(k.timers.pending()).toEqual([]);
    expect(k.advanceTime(1000)).toEqual([]);
    // copy_map_value skipped the timer field: user space reads zeroes there, the rest was written.
    const t1 = k.mapLookup(k.map('t'), 0) as Uint8Array;
    expect(Buffer.from(t1).toString('hex')).toBe('ee'.repeat(8) + '00'.repeat(16) + 'ee'.repeat(8));
  });
});

describe('bpf_spin_lock', () => {
  const lockedSpec = (type: number, flags = 0): MapSpec => ({
    name: 'l', type, typeName: '', keySize: 4, valueSize: 16, maxEntries: 2, flags, section: '.maps',
    valueFields: { fields: [{ kind: 'spin_lock', offset: 4, size: 4 }] },
  });
  const run = (body: string): unknown => {
    const k = new Kernel();
    k.createMaps([lockedSpec(2)]);
    const p = k.loadProgram({ type: 13, name: 'lk', insns: assemble(`
      ${lookupKey0(0, 'r6')}
      r6 += 4
      ${body}
    out:
      r0 = 1
      exit`) });
    k.cgroupAttach(p);
    try {
      k.listen();
      return k.mapLookup(k.map(0), 0);
    } catch (e) {
      return (e as Error).message;
    }
  };

  it('takes and releases the lock word; misuse the verifier prevents stops the run', () => {
    const ok = run('r1 = r6\ncall bpf_spin_lock#93\n*(u32 *)(r6 + 4) = 7\nr1 = r6\ncall bpf_spin_unlock#94');
    expect(Buffer.from(ok as Uint8Array).toString('hex')).toBe('00000000' + '00000000' + '07000000' + '00000000');
    expect(run('r1 = r6\ncall bpf_spin_lock#93\nr1 = r6\ncall bpf_spin_lock#93')).toMatch(/bpf_spin_lock: the lock is already held/);
    expect(run('r1 = r6\ncall bpf_spin_unlock#94')).toMatch(/bpf_spin_unlock: the lock is not held/);
  });

  it('BPF_F_LOCK needs a bpf_spin_lock in the value; map types and flags are checked at creation', () => {
    const m = createMap(lockedSpec(2));
    m.update(key(1), new Uint8Array(16).fill(1), 4);
    expect(Buffer.from(m.lookup(key(1), 4)).toString('hex')).toBe('01010101' + '00000000' + '0101010101010101');
    const plain = createMap({ ...lockedSpec(2), valueFields: undefined });
    expect(() => plain.update(key(1), new Uint8Array(16), 4)).toThrow(/BPF_F_LOCK needs a bpf_spin_lock/);
    const err = (s: MapSpec): string => {
      try {
        createMap(s);
        return 'ok';
      } catch (e) {
        return (e as BpfMapError).code;
      }
    };
    expect(err(lockedSpec(6))).toBe('EOPNOTSUPP'); // PERCPU_ARRAY
    expect(err(lockedSpec(9))).toBe('EOPNOTSUPP'); // LRU_HASH
    expect(err(lockedSpec(2, 1 << 7))).toBe('EACCES'); // BPF_F_RDONLY_PROG
    expect(err({ ...timed('x', 6, 1) })).toBe('EOPNOTSUPP'); // a timer in a PERCPU_ARRAY
    expect(err({ ...timed('x', 9, 1) })).toBe('ok'); // ... in an LRU_HASH
    // A hash update with BPF_F_LOCK of an existing key is made in place.
    const h = createMap(lockedSpec(1));
    h.update(key(3), new Uint8Array(16).fill(2), 0);
    h.update(key(3), new Uint8Array(16).fill(3), 4 | 2);
    expect(h.lookup(key(3))[0]).toBe(3);
  });
});

describe('bpf_for_each_map_elem', () => {
  it('walks an LRU hash without touching its recency, and refuses maps without a walk', () => {
    const k = new Kernel();
    k.createMaps([
      rawMap('lru', 9, 4, 8, 4),
      rawMap('out', 2, 4, 8, 1),
      rawMap('sm', 15, 4, 4, 1),
    ]);
    for (const i of [1, 2, 3]) expect(k.mapUpdate(k.map('lru'), i, new Uint8Array(8).fill(i))).toBe(0);
    const before = (k.map('lru') as unknown as { lruOrder(): Uint8Array[] }).lruOrder().map((x) => x[0]);
    const p = k.loadProgram({ type: 13, name: 'fe', insns: assemble(`
      r1 = map[idx:0]
      r2 = func[cb]
      r3 = 0
      r4 = 0
      call bpf_for_each_map_elem#164
      ${recordValue(1, 0, 'r0')}
      r0 = 1
      exit
    cb:
      r0 = 0
      exit`) });
    k.cgroupAttach(p);
    k.listen();
    expect(u64(k.mapLookup(k.map('out'), 0) as Uint8Array, 0)).toBe(3n);
    expect((k.map('lru') as unknown as { lruOrder(): Uint8Array[] }).lruOrder().map((x) => x[0])).toEqual(before);
    const bad = k.loadProgram({ type: 13, name: 'bad', insns: assemble(`
      r1 = map[idx:2]
      r2 = func[cb]
      r3 = 0
      r4 = 0
      call bpf_for_each_map_elem#164
      r0 = 1
      exit
    cb:
      r0 = 0
      exit`) });
    expect(k.cgroupDetach(p)).toBe(0);
    k.cgroupAttach(bad);
    expect(() => k.listen()).toThrow(/bpf_for_each_map_elem: a sockmap map has no for_each callback/);
  });
});

describe('special fields from BTF (btf/fields.ts)', () => {
  // A tiny BTF: 1 u32; 2 struct bpf_spin_lock {u32}; 3 struct bpf_timer (16 bytes); 4 struct inner {timer};
  // 5 struct v {u32 a; bpf_spin_lock l; inner arr[2]}; 6 struct w {lock; lock} (two locks: -E2BIG).
  const types: BtfType[] = [
    { id: 0, kind: 'VOID', name: '' },
    { id: 1, kind: 'INT', name: 'u32', size: 4, encoding: 0, bitOffset: 0, bits: 32 },
    { id: 2, kind: 'STRUCT', name: 'bpf_spin_lock', size: 4, members: [{ name: 'val', type: 1, bitOffset: 0, bitSize: 0 }] },
    { id: 3, kind: 'STRUCT', name: 'bpf_timer', size: 16, members: [] },
    { id: 4, kind: 'STRUCT', name: 'inner', size: 24, members: [{ name: 'x', type: 1, bitOffset: 0, bitSize: 0 }, { name: 't', type: 3, bitOffset: 64, bitSize: 0 }] },
    { id: 5, kind: 'ARRAY', name: '', type: 4, indexType: 1, nelems: 1 },
    { id: 6, kind: 'STRUCT', name: 'v', size: 32, members: [{ name: 'a', type: 1, bitOffset: 0, bitSize: 0 }, { name: 'l', type: 2, bitOffset: 32, bitSize: 0 }, { name: 'arr', type: 5, bitOffset: 64, bitSize: 0 }] },
    { id: 7, kind: 'STRUCT', name: 'w', size: 8, members: [{ name: 'a', type: 2, bitOffset: 0, bitSize: 0 }, { name: 'b', type: 2, bitOffset: 32, bitSize: 0 }] },
  ] as BtfType[];
  const btf = { types } as unknown as Btf;

  it('finds locks and timers in nested structs and arrays; two locks make the record invalid (no fields)', () => {
    expect(btfValueFields(btf, 6)).toEqual({ fields: [{ kind: 'spin_lock', offset: 4, size: 4 }, { kind: 'timer', offset: 16, size: 16 }] });
    const w = btfValueFields(btf, 7);
    expect(w.fields).toEqual([]);
    expect(w.error).toMatch(/second struct bpf_spin_lock/);
    expect(btfValueFields(btf, 1)).toEqual({ fields: [] });
  });

  it('the fixture maps carry their fields from the ELF loader', () => {
    const spec = loadCollectionFile(fixture);
    const f = Object.fromEntries(spec.maps.map((m) => [m.name, m.valueFields?.fields.map((x) => `${x.kind}@${x.offset}`) ?? []]));
    expect(f).toMatchObject({ larr: ['spin_lock@8'], lhash: ['spin_lock@8'], tarr: ['timer@8'], thash: ['timer@8'], arr: [], '.bss': [] });
  });
});

describe('scenario: virtual time', () => {
  it('{"op": "advance", "ns": N} runs due timer callbacks; maps take "timer" / "spinLock" offsets', () => {
    const cb = `
      ${lookupKey0(0, 'r6')}
      ${startTimer(0, 0, `${REALTIME_OFFSET_NS + 1_000_000_000n + 5000n} ll`, 1)}
    out:
      r0 = 1
      exit
    cb:
      r1 = *(u64 *)(r3 + 0)
      r1 += 1
      *(u64 *)(r3 + 0) = r1
      r0 = 0
      exit`;
    const r = runScenarioFile({
      maps: [{ name: 't', type: 'array', keySize: 4, valueSize: 32, maxEntries: 1, timer: 8 }],
      programs: [{ name: 'arm', type: 'sock_ops', asm: cb }],
      steps: [
        { op: 'cgroup_attach', prog: 'arm' },
        { op: 'listen', name: 'l' },
        { op: 'advance', ns: 4000, expect: { ret: 0 } },
        { op: 'advance', ns: 10_000, expect: { ret: 1 } },
        { op: 'lookup', map: 't', key: 0, expect: { data: '0100000000000000' + '00'.repeat(24) } },
      ],
    });
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(true);
    const sc = new SocketScenario({ maps: [rawMap('cga', 8, 4, 4, 1)] });
    expect(() => sc.advance(-5)).toThrow(/not a non-negative integer/);
    expect(sc.setCgroup('cga', 0, '/a')).toBe(0);
    expect(sc.setCgroup('cga', 1, '/a')).toBe(-7);
  });
});

describe('bpf_kptr_xchg', () => {
  it('kptr fields always hold NULL in the model: exchanging NULL returns NULL; a non-NULL pointer stops the run', () => {
    const mk = (r2: string): Kernel => {
      const k = new Kernel();
      k.createMaps([{
        name: 'kp', type: 2, typeName: '', keySize: 4, valueSize: 16, maxEntries: 1, flags: 0, section: '.maps',
        valueFields: { fields: [{ kind: 'kptr', offset: 8, size: 8 }] },
      }]);
      const p = k.loadProgram({ type: 13, name: 'kx', insns: assemble(`
        ${lookupKey0(0, 'r6')}
        r1 = r6
        r1 += 8
        ${r2}
        call bpf_kptr_xchg#194
        r0 += 7
        *(u64 *)(r6 + 0) = r0
      out:
        r0 = 1
        exit`) });
      k.cgroupAttach(p);
      return k;
    };
    const k = mk('r2 = 0');
    k.listen();
    expect(u64(k.mapLookup(k.map(0), 0) as Uint8Array, 0)).toBe(7n);
    expect(() => mk('r2 = r10').listen()).toThrow(/bpf_kptr_xchg: storing a referenced kernel object/);
    // user space cannot put anything in a kptr field (copy_map_value skips it)
    const m = createMap({ name: 'k2', type: 1, keySize: 4, valueSize: 16, maxEntries: 1, flags: 0, valueFields: { fields: [{ kind: 'kptr', offset: 8, size: 8 }] } });
    m.update(key(0), new Uint8Array(16).fill(9), 0);
    expect(Buffer.from(m.lookup(key(0))).toString('hex')).toBe('09'.repeat(8) + '00'.repeat(8));
    // ... on every CPU of per-CPU maps too
    for (const type of [5, 6]) {
      const pc = createMap({ name: 'k3', type, keySize: 4, valueSize: 16, maxEntries: 1, flags: 0, valueFields: { fields: [{ kind: 'kptr', offset: 0, size: 8 }] } }, { nrCpus: 2 });
      pc.update(key(0), new Uint8Array(32).fill(6), 0);
      expect(Buffer.from(pc.lookup(key(0))).toString('hex')).toBe(('00'.repeat(8) + '06'.repeat(8)).repeat(2));
    }
  });
});

describe('bpf_current_task_under_cgroup', () => {
  it('1 for the CGROUP_ARRAY cgroup and its descendants, 0 elsewhere, -EAGAIN empty, -E2BIG past the end', () => {
    const k = new Kernel();
    k.createMaps([
      rawMap('cga', 8, 4, 4, 3),
      rawMap('out', 2, 4, 32, 1),
    ]);
    const cga = k.map('cga');
    expect(k.mapUpdate(cga, 0, Uint8Array.of(...[k.openCgroup('/a'), 0, 0, 0]))).toBe(0);
    expect(k.mapUpdate(cga, 1, Uint8Array.of(...[k.openCgroup('b'), 0, 0, 0]))).toBe(0);
    expect(k.mapUpdate(cga, 2, Uint8Array.of(250, 0, 0, 0))).toBe(-9); // not a cgroup fd
    expect(k.mapUpdate(cga, 2, Uint8Array.of(...[k.openCgroup('/'), 0, 0, 0]), 1)).toBe(-22); // BPF_ANY only
    expect(k.mapLookup(cga, 0)).toBe(-524);
    const calls = [0, 1, 2, 3].map((i) => `
      r1 = map[idx:0]
      r2 = ${i}
      call bpf_current_task_under_cgroup#37
      *(u64 *)(r6 + ${8 * i}) = r0`).join('\n');
    const p = k.loadProgram({ type: 13, name: 'under', insns: assemble(`
      ${lookupKey0(1, 'r6')}
      ${calls}
    out:
      r0 = 1
      exit`) });
    k.cgroupAttach(p);
    const seen = (cg: string): bigint[] => {
      k.currentCgroup = cg;
      k.listen();
      const v = k.mapLookup(k.map('out'), 0) as Uint8Array;
      return [0, 1, 2, 3].map((i) => BigInt.asIntN(64, u64(v, 8 * i)));
    };
    expect(seen('/a/x')).toEqual([1n, 0n, -11n, -7n]);
    expect(seen('/b')).toEqual([0n, 1n, -11n, -7n]);
    expect(seen('/')).toEqual([0n, 0n, -11n, -7n]);
    expect(seen('/ab')).toEqual([0n, 0n, -11n, -7n]);
  });
});
