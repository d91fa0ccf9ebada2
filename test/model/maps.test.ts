// Rules of the map model (src/kernel/maps): creation checks, user-space operations and errno per type, per-CPU
// layout, LRU policy, prog arrays, map-in-maps, the Maps collection, and the VM adapter (helpers, lddw, an
// end-to-end counter program, also run in the real kernel when bpf() is available).

import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import { Vm } from '../../vm/interpreter.js';
import { BpfExecutionError, BpfMemoryFault } from '../../vm/errors.js';
import { kernelAvailability, kernelRun } from '../kernel/oracle.js';
import type { MapSpec } from '../../src/spec.js';
import {
  ArrayMap,
  BpfMapError,
  BpfMapNotModelledError,
  HashMap,
  Maps,
  ProgArrayMap,
  createMap,
  errnoOf,
  u32Bytes,
  type BpfMap,
  type BpfProgRef,
} from '../../src/kernel/maps/index.js';
import { MapsVm } from '../../src/kernel/maps/vm.js';

const k32 = u32Bytes;
const spec = (over: Partial<MapSpec> & { type: number }): MapSpec => ({
  name: 'm',
  typeName: '',
  keySize: 4,
  valueSize: 8,
  maxEntries: 4,
  flags: 0,
  section: '.maps',
  ...over,
});
const u64 = (n: number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
};
const createErr = (s: Partial<MapSpec> & { type: number }): string => {
  try {
    createMap(spec(s));
    return 'ok';
  } catch (e) {
    return (e as BpfMapError).code;
  }
};

describe('map creation', () => {
  it('checks array attributes like array_map_alloc_check', () => {
    expect(createErr({ type: 2 })).toBe('ok');
    expect(createErr({ type: 2, keySize: 8 })).toBe('EINVAL');
    expect(createErr({ type: 2, valueSize: 0 })).toBe('EINVAL');
    expect(createErr({ type: 2, maxEntries: 0 })).toBe('EINVAL');
    expect(createErr({ type: 2, flags: 1 })).toBe('EINVAL'); // NO_PREALLOC
    expect(createErr({ type: 2, flags: 1024 | 4096 })).toBe('ok'); // MMAPABLE | INNER_MAP
    expect(createErr({ type: 6, flags: 1024 })).toBe('EINVAL');
    expect(createErr({ type: 6, valueSize: 32768 })).toBe('ok');
    expect(createErr({ type: 6, valueSize: 32769 })).toBe('E2BIG');
    expect(createErr({ type: 2, flags: 128 | 256 })).toBe('EINVAL');
    expect(createErr({ type: 2, flags: 8 | 16 })).toBe('EINVAL');
    expect(createErr({ type: 2, mapExtra: 1n })).toBe('EINVAL');
    // map_create allows map_extra for bloom filters and arenas (the model has neither: not modelled, not EINVAL)
    expect(() => createMap(spec({ type: 33, mapExtra: 1n << 44n }))).toThrow(/type arena \(33\) is not modelled/);
    expect(() => createMap(spec({ type: 30, mapExtra: 3n }))).toThrow(/type bloom_filter \(30\) is not modelled/);
    expect(createErr({ type: 2, flags: 4, numaNode: 3 })).toBe('EINVAL');
    expect(createErr({ type: 6, flags: 4, numaNode: 0 })).toBe('EINVAL');
  });

  it('checks hash attributes like htab_map_alloc_check', () => {
    expect(createErr({ type: 1, keySize: 0 })).toBe('EINVAL');
    expect(createErr({ type: 1, keySize: 100, valueSize: 1 })).toBe('ok');
    expect(createErr({ type: 1, flags: 1 })).toBe('ok');
    expect(createErr({ type: 1, flags: 2 })).toBe('EINVAL');
    expect(createErr({ type: 9, flags: 1 })).toBe('ENOTSUPP');
    expect(createErr({ type: 9, flags: 2 })).toBe('ok');
    expect(createErr({ type: 1, flags: 1024 })).toBe('EINVAL');
    expect(createErr({ type: 1, keySize: 4096, valueSize: (1 << 22) - 48 - 4096 })).toBe('E2BIG');
    expect(createErr({ type: 1, maxEntries: 2 ** 31 + 1 })).toBe('E2BIG');
    expect(createErr({ type: 13, valueSize: 8, innerMap: spec({ type: 2 }) })).toBe('EINVAL');
    expect((createMap(spec({ type: 9, flags: 2, maxEntries: 5 }), { nrCpus: 4 }) as HashMap).maxEntries).toBe(8);
  });

  it('checks fd arrays and map-in-map templates', () => {
    expect(createErr({ type: 3, valueSize: 4 })).toBe('ok');
    expect(createErr({ type: 3, valueSize: 8 })).toBe('EINVAL');
    expect(createErr({ type: 3, valueSize: 4, flags: 128 })).toBe('EINVAL');
    expect(createErr({ type: 12, valueSize: 4 })).toBe('EBADF');
    expect(createErr({ type: 12, valueSize: 4, innerMap: spec({ type: 2 }) })).toBe('ok');
    expect(createErr({ type: 12, valueSize: 4, innerMap: spec({ type: 3, valueSize: 4 }) })).toBe('ENOTSUPP');
    expect(createErr({ type: 12, valueSize: 4, innerMap: spec({ type: 12, valueSize: 4, innerMap: spec({ type: 2 }) }) })).toBe('EINVAL');
  });

  it('names the map, the errno and the supported types', () => {
    const e = (() => {
      try {
        createMap(spec({ type: 2, name: 'counts', keySize: 8 }));
      } catch (x) {
        return x as BpfMapError;
      }
    })()!;
    expect(e).toBeInstanceOf(BpfMapError);
    expect(e.errno).toBe(22);
    expect(e.message).toBe('map "counts": create: key_size must be 4 for array (got 8) (EINVAL)');
    let nm: unknown;
    try {
      createMap(spec({ type: 15, name: 'sock_map' }));
    } catch (x) {
      nm = x;
    }
    expect(nm).toBeInstanceOf(BpfMapNotModelledError);
    expect((nm as Error).message).toMatch(/^map "sock_map": create: type sockmap \(15\) is not modelled yet; supported: hash \(1\), array \(2\), prog_array \(3\), perf_event_array \(4\), percpu_hash \(5\), percpu_array \(6\), cgroup_array \(8\), lru_hash \(9\), lru_percpu_hash \(10\), array_of_maps \(12\), hash_of_maps \(13\)/);
    expect(createErr({ type: 200 })).toBe('EINVAL');
  });
});

describe('ARRAY', () => {
  it('update flags, E2BIG, delete, lookup', () => {
    const m = createMap(spec({ type: 2, maxEntries: 3 }));
    expect(m.lookup(k32(1))).toEqual(new Uint8Array(8));
    expect(errnoOf(() => m.update(k32(1), u64(7), 1))).toBe(17); // NOEXIST: always EEXIST
    expect(errnoOf(() => m.update(k32(1), u64(7), 2))).toBe(0); // EXIST: fine
    expect(errnoOf(() => m.update(k32(3), u64(7), 0))).toBe(7); // E2BIG
    expect(errnoOf(() => m.update(k32(3), u64(7), 1))).toBe(7); // E2BIG before EEXIST
    expect(errnoOf(() => m.update(k32(1), u64(7), 3))).toBe(22);
    expect(errnoOf(() => m.update(k32(1), u64(7), 4))).toBe(22); // F_LOCK without a spin lock
    expect(errnoOf(() => m.delete(k32(1)))).toBe(22);
    expect(errnoOf(() => m.lookup(k32(3)))).toBe(2);
    expect(m.lookup(k32(1))).toEqual(u64(7));
    expect(errnoOf(() => m.lookup(new Uint8Array(8)))).toBe(14);
  });

  it('get_next_key: NULL or out of range → 0, last → ENOENT', () => {
    const m = createMap(spec({ type: 2, maxEntries: 3 }));
    expect(m.getNextKey(null)).toEqual(k32(0));
    expect(m.getNextKey(k32(0))).toEqual(k32(1));
    expect(m.getNextKey(k32(99))).toEqual(k32(0));
    expect(errnoOf(() => m.getNextKey(k32(2)))).toBe(2);
    expect(m.keys().length).toBe(3);
  });

  it('program side: stable views, NOEXIST → -EEXIST, delete → -EINVAL', () => {
    const m = createMap(spec({ type: 2 })) as ArrayMap;
    const a = m.lookupElem(k32(2), 0)!;
    expect(m.lookupElem(k32(2), 1)).toBe(a);
    (a as Uint8Array)[0] = 9;
    expect(m.lookup(k32(2))[0]).toBe(9);
    expect(m.lookupElem(k32(4), 0)).toBeNull();
    expect(m.updateElem(k32(0), u64(1), 1, 0)).toBe(-17);
    expect(m.updateElem(k32(9), u64(1), 0, 0)).toBe(-7);
    expect(m.updateElem(k32(0), u64(1), 2n ** 40n, 0)).toBe(-22);
    expect(m.deleteElem(k32(0), 0)).toBe(-22);
  });
});

describe('per-CPU maps', () => {
  it('PERCPU_ARRAY: round_up(value_size, 8) per CPU, CPU slot for programs', () => {
    const m = createMap(spec({ type: 6, valueSize: 4 }), { nrCpus: 3 });
    expect(m.sysValueSize).toBe(24);
    const v = new Uint8Array(24).map((_, i) => i);
    m.update(k32(1), v);
    expect(m.lookup(k32(1))).toEqual(v); // padding bytes kept, as copy_map_value_long does
    const c1 = m.lookupElem(k32(1), 1) as Uint8Array;
    expect([...c1]).toEqual([8, 9, 10, 11]);
    expect(m.updateElem(k32(1), new Uint8Array([1, 1, 1, 1]), 0, 2)).toBe(0);
    expect([...m.lookup(k32(1)).subarray(16)]).toEqual([1, 1, 1, 1, 20, 21, 22, 23]);
    expect(m.lookupPercpuElem(k32(1), 2)).toBe(m.lookupElem(k32(1), 2));
    expect(m.lookupPercpuElem(k32(1), 3)).toBeNull();
    expect(errnoOf(() => m.update(k32(1), new Uint8Array(4)))).toBe(14);
  });

  it('PERCPU_HASH: a program insert zeroes the other CPUs; updates stay in place', () => {
    const m = createMap(spec({ type: 5, valueSize: 8 }), { nrCpus: 2 }) as HashMap;
    expect(m.updateElem(k32(5), u64(3), 0, 1)).toBe(0);
    expect(m.lookup(k32(5))).toEqual(new Uint8Array([...new Uint8Array(8), ...u64(3)]));
    const p = m.lookupElem(k32(5), 1);
    expect(m.updateElem(k32(5), u64(4), 2, 1)).toBe(0);
    expect(m.lookupElem(k32(5), 1)).toBe(p);
    expect(p).toEqual(u64(4));
    expect(errnoOf(() => createMap(spec({ type: 1 })).lookupPercpuElem(k32(0), 0))).toBe(95);
  });
});

describe('HASH', () => {
  it('flags, E2BIG when full, replace when full, delete, get_next_key restart on unknown key', () => {
    const m = createMap(spec({ type: 1, maxEntries: 2 }));
    expect(errnoOf(() => m.update(k32(1), u64(1), 2))).toBe(2);
    expect(errnoOf(() => m.update(k32(1), u64(1), 1))).toBe(0);
    expect(errnoOf(() => m.update(k32(1), u64(2), 1))).toBe(17);
    expect(errnoOf(() => m.update(k32(2), u64(2), 0))).toBe(0);
    expect(errnoOf(() => m.update(k32(3), u64(3), 0))).toBe(7);
    expect(errnoOf(() => m.update(k32(2), u64(9), 2))).toBe(0);
    expect(errnoOf(() => m.update(k32(2), u64(9), 3))).toBe(22);
    expect(errnoOf(() => m.delete(k32(3)))).toBe(2);
    expect(m.getNextKey(k32(77))).toEqual(m.getNextKey(null));
    const ks = m.keys();
    expect(ks.length).toBe(2);
    expect(errnoOf(() => m.getNextKey(ks[1]!))).toBe(2);
    m.delete(k32(1));
    m.delete(k32(2));
    expect(errnoOf(() => m.getNextKey(null))).toBe(2);
  });

  it('replacing a key makes a new element (old program pointers detach)', () => {
    const m = createMap(spec({ type: 1 })) as HashMap;
    m.update(k32(1), u64(1));
    const p = m.lookupElem(k32(1), 0) as Uint8Array;
    expect(m.lookupElem(k32(1), 0)).toBe(p);
    p[0] = 5;
    expect(m.lookup(k32(1))).toEqual(u64(5));
    expect(m.updateElem(k32(1), u64(6), 0, 0)).toBe(0);
    expect(m.lookupElem(k32(1), 0)).not.toBe(p);
    expect(p).toEqual(u64(5));
    expect(m.deleteElem(k32(1), 0)).toBe(0);
    expect(m.deleteElem(k32(1), 0)).toBe(-2);
  });

  it('RDONLY / WRONLY / frozen follow the file permissions', () => {
    const ro = createMap(spec({ type: 1, flags: 8 }));
    expect(errnoOf(() => ro.update(k32(1), u64(1)))).toBe(1);
    expect(errnoOf(() => ro.lookup(k32(1)))).toBe(2);
    const wo = createMap(spec({ type: 1, flags: 16 }));
    expect(errnoOf(() => wo.update(k32(1), u64(1)))).toBe(0);
    expect(errnoOf(() => wo.lookup(k32(1)))).toBe(1);
    const f = createMap(spec({ type: 2 }));
    f.freeze();
    expect(errnoOf(() => f.update(k32(1), u64(1)))).toBe(1);
    expect(errnoOf(() => f.freeze())).toBe(1);
    expect(f.updateElem(k32(1), u64(1), 0, 0)).toBe(0); // programs still may write a frozen map
  });
});

describe('LRU', () => {
  it('evicts the least recently used when full; program lookups refresh, user lookups do not', () => {
    const m = createMap(spec({ type: 9, maxEntries: 3 })) as HashMap;
    for (const i of [1, 2, 3]) m.update(k32(i), u64(i));
    m.lookupElem(k32(1), 0); // program lookup: 1 is now most recent
    m.lookup(k32(2)); // user-space lookup: no effect
    m.update(k32(4), u64(4)); // evicts 2
    expect(m.lruOrder().map((k) => k[0])).toEqual([3, 1, 4]);
    expect(errnoOf(() => m.lookup(k32(2)))).toBe(2);
    // A failing NOEXIST update still takes a node first (and so evicts), like prealloc_lru_pop before check_flags.
    expect(errnoOf(() => m.update(k32(1), u64(9), 1))).toBe(17);
    expect(m.count).toBe(2);
    expect(errnoOf(() => m.update(k32(8), u64(9), 5))).toBe(22);
  });

  it('LRU_PERCPU_HASH with BPF_EXIST does not evict', () => {
    const m = createMap(spec({ type: 10, maxEntries: 2 }), { nrCpus: 1 }) as HashMap;
    m.update(k32(1), u64(1));
    m.update(k32(2), u64(2));
    expect(errnoOf(() => m.update(k32(1), u64(5), 2))).toBe(0);
    expect(m.count).toBe(2);
  });
});

describe('prog arrays and map-in-maps', () => {
  const p1: BpfProgRef = { name: 'a', type: 3, id: 11 };
  const p2: BpfProgRef = { name: 'b', type: 3, id: 12 };
  const px: BpfProgRef = { name: 'x', type: 6, id: 13 };

  it('PROG_ARRAY: BPF_ANY only, program type compatibility, ids on lookup, delete', () => {
    const m = createMap(spec({ type: 3, valueSize: 4, maxEntries: 2 })) as ProgArrayMap;
    expect(errnoOf(() => m.lookup(k32(0)))).toBe(2);
    m.update(k32(0), p1);
    expect(errnoOf(() => m.update(k32(1), p2, 1))).toBe(22);
    expect(errnoOf(() => m.update(k32(2), p2))).toBe(7);
    expect(errnoOf(() => m.update(k32(1), px))).toBe(22);
    expect(errnoOf(() => m.update(k32(1), u64(1)))).toBe(9);
    m.update(k32(1), p2);
    expect(m.lookup(k32(1))).toEqual(k32(12));
    expect(m.program(0)).toBe(p1);
    expect(errnoOf(() => m.delete(k32(5)))).toBe(7);
    m.delete(k32(0));
    expect(errnoOf(() => m.delete(k32(0)))).toBe(2);
    expect(errnoOf(() => m.updateElem())).toBe(95);
  });

  it('ARRAY_OF_MAPS / HASH_OF_MAPS: inner template check, ids, program lookup gives the inner map', () => {
    const inner = spec({ type: 2, maxEntries: 2 });
    const aom = createMap(spec({ type: 12, valueSize: 4, innerMap: inner }));
    const good = createMap({ ...inner, name: 'good' }, { id: 40 });
    const bad = createMap({ ...inner, name: 'bad', maxEntries: 3 });
    aom.update(k32(0), good);
    expect(errnoOf(() => aom.update(k32(1), bad))).toBe(22);
    expect(aom.lookup(k32(0))).toEqual(k32(40));
    expect(aom.lookupElem(k32(0), 0)).toBe(good);
    expect(aom.lookupElem(k32(1), 0)).toBeNull();
    const flexible = createMap(spec({ type: 12, valueSize: 4, innerMap: { ...inner, flags: 4096 } }));
    flexible.update(k32(0), createMap({ ...inner, flags: 4096, maxEntries: 9 }));
    const hom = createMap(spec({ type: 13, valueSize: 4, keySize: 8, innerMap: inner }));
    expect(errnoOf(() => hom.update(new Uint8Array(8), bad, 1))).toBe(22); // template check before flags
    expect(errnoOf(() => hom.update(new Uint8Array(8), good, 2))).toBe(2);
    hom.update(new Uint8Array(8), good, 1);
    expect(hom.lookupElem(new Uint8Array(8), 0)).toBe(good);
  });
});

describe('Maps collection', () => {
  it('builds maps in spec order with data, contents, refs and frozen rodata', () => {
    const maps = Maps.fromSpec({
      maps: [
        spec({ name: '.rodata', type: 2, valueSize: 6, maxEntries: 1, flags: 128 | 1024, data: new Uint8Array([1, 2, 3]), frozen: true }),
        spec({ name: 'h', type: 1, contents: [{ key: k32(1), value: u64(10) }] }),
        spec({ name: 'jmp', type: 3, valueSize: 4, contents: [{ key: k32(1), value: k32(0) }], contentRefs: [{ key: 1, program: 'tail' }] }),
        spec({ name: 'outer', type: 12, valueSize: 4, innerMap: spec({ type: 1 }), contentRefs: [{ key: 0, map: 'h' }] }),
        spec({ name: 'pc', type: 6, contents: [{ key: k32(0), value: u64(3) }] }),
      ],
      programs: [{ name: 'main', type: 3 } as never, { name: 'tail', type: 3 } as never],
    });
    expect(maps.list.map((m) => m.name)).toEqual(['.rodata', 'h', 'jmp', 'outer', 'pc']);
    expect(maps.get(0).lookup(k32(0))).toEqual(new Uint8Array([1, 2, 3, 0, 0, 0]));
    expect(maps.get(0).frozen).toBe(true);
    expect(maps.get('h').lookup(k32(1))).toEqual(u64(10));
    expect((maps.get('jmp') as ProgArrayMap).program(1)?.name).toBe('tail');
    expect(maps.get('outer').lookupElem(k32(0), 0)).toBe(maps.get('h'));
    expect(maps.get('pc').lookup(k32(0))).toEqual(new Uint8Array([...u64(3), ...u64(3)]));
    expect(() => maps.get('nope')).toThrow(/no map "nope"/);
    expect(() => new Maps([spec({ name: 'j', type: 3, valueSize: 4, contentRefs: [{ key: 0, program: 'ghost' }] })])).toThrow(/map "j": initial contents: initialise: slot 0 names program "ghost"/);
  });
});

// ---- VM ---------------------------------------------------------------------------------------------------

/** Looks up key 0 of map 0 (an ARRAY), increments the u64 in place, then writes the new count to key 1 of map 1
 *  (a HASH) with bpf_map_update_elem, and returns the helper's result (0). */
const COUNTER = `
  r1 = 0
  *(u32 *)(r10 -4) = r1
  r2 = r10
  r2 += -4
  r1 = map[idx:0]
  call bpf_map_lookup_elem#1
  if r0 == 0 goto miss
  r1 = *(u64 *)(r0 +0)
  r1 += 1
  *(u64 *)(r0 +0) = r1
  *(u64 *)(r10 -16) = r1
  r1 = 1
  *(u32 *)(r10 -4) = r1
  r1 = map[idx:1]
  r2 = r10
  r2 += -4
  r3 = r10
  r3 += -16
  r4 = 0
  call bpf_map_update_elem#2
  exit
miss:
  r0 = -1
  exit
`;

function vmWith(specs: MapSpec[]): { vm: Vm; maps: Maps; mv: MapsVm } {
  const maps = new Maps(specs);
  const vm = new Vm();
  const mv = new MapsVm(maps, vm.space);
  mv.install(vm);
  return { vm, maps, mv };
}

describe('maps in the VM', () => {
  const counterMaps = () => [spec({ name: 'arr', type: 2, maxEntries: 1 }), spec({ name: 'h', type: 1 })];

  it('runs a lookup / increment / update program', () => {
    const { vm, maps, mv } = vmWith(counterMaps());
    const prog = vm.load(assemble(COUNTER), mv.resolver);
    for (let i = 0; i < 3; i++) expect(vm.run(prog).r0).toBe(0n);
    expect(maps.get('arr').lookup(k32(0))).toEqual(u64(3));
    expect(maps.get('h').lookup(k32(1))).toEqual(u64(3));
  });

  it('helpers return -errno, NULL, and per-CPU slots', () => {
    const { vm, maps, mv } = vmWith([spec({ name: 'a', type: 2, maxEntries: 1 }), spec({ name: 'pc', type: 6, maxEntries: 1 })]);
    const upd = vm.load(assemble(`
      r1 = 0
      *(u32 *)(r10 -4) = r1
      *(u64 *)(r10 -16) = r1
      r1 = map[idx:0]
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -16
      r4 = 1
      call bpf_map_update_elem#2
      exit`), mv.resolver);
    expect(vm.run(upd).r0).toBe(BigInt.asUintN(64, -17n));
    const del = vm.load(assemble(`
      r1 = 5
      *(u32 *)(r10 -4) = r1
      r1 = map[idx:0]
      r2 = r10
      r2 += -4
      call bpf_map_lookup_elem#1
      exit`), mv.resolver);
    expect(vm.run(del).r0).toBe(0n);
    const percpu = vm.load(assemble(`
      r1 = 0
      *(u32 *)(r10 -4) = r1
      r1 = map[idx:1]
      r2 = r10
      r2 += -4
      r3 = 1
      call bpf_map_lookup_percpu_elem#195
      if r0 == 0 goto out
      r1 = 42
      *(u64 *)(r0 +0) = r1
      r0 = 0
    out:
      exit`), mv.resolver);
    expect(vm.run(percpu).r0).toBe(0n);
    expect(maps.get('pc').lookup(k32(0))).toEqual(new Uint8Array([...u64(0), ...u64(42)]));
  });

  it('global data: lddw map value, .rodata read-only for programs', () => {
    const { vm, mv } = vmWith([
      spec({ name: '.data', type: 2, valueSize: 8, maxEntries: 1, data: u64(5) }),
      spec({ name: '.rodata', type: 2, valueSize: 8, maxEntries: 1, flags: 128, data: u64(7), frozen: true }),
    ]);
    const read = vm.load(assemble(`
      r1 = map[idx:1][0]+0
      r0 = *(u64 *)(r1 +0)
      r2 = map[idx:0][0]+0
      r3 = *(u64 *)(r2 +0)
      r0 += r3
      exit`), mv.resolver);
    expect(vm.run(read).r0).toBe(12n);
    const write = vm.load(assemble(`
      r1 = map[idx:1][0]+0
      r2 = 1
      *(u64 *)(r1 +0) = r2
      exit`), mv.resolver);
    expect(() => vm.run(write)).toThrow(BpfMemoryFault);
    expect(() => vm.load(assemble('r1 = map[idx:0][0]+8\nexit'), mv.resolver)).toThrow(BpfExecutionError);
    expect(() => vm.load(assemble('r1 = map[idx:7]\nexit'), mv.resolver)).toThrow(/refers to map 7/);
  });

  it('BPF_F_WRONLY_PROG: the lookup helper returns the value pointer and stores through it reach the map (kernel selftest verifier_array_access "valid write map access into a write-only array")', () => {
    const { vm, maps, mv } = vmWith([spec({ name: 'wo', type: 2, valueSize: 8, maxEntries: 1, flags: 256 })]);
    const prog = vm.load(assemble(`
      r1 = 0
      *(u32 *)(r10 -4) = r1
      r1 = map[idx:0]
      r2 = r10
      r2 += -4
      call bpf_map_lookup_elem#1
      if r0 == 0 goto out
      r1 = 42
      *(u64 *)(r0 +0) = r1
      r0 = 1
    out:
      exit`), mv.resolver);
    expect(vm.run(prog).r0).toBe(1n);
    expect(maps.get('wo').lookup(k32(0))).toEqual(u64(42));
  });

  it('tail calls go through prog arrays', () => {
    const maps = new Maps([spec({ name: 'jmp', type: 3, valueSize: 4, maxEntries: 2 })]);
    const vm = new Vm();
    const target = vm.load(assemble('r0 = 77\nexit'));
    const mv = new MapsVm(maps, vm.space, { tailCallTarget: (p) => (p.name === 't' ? target : null) });
    mv.install(vm);
    (maps.get('jmp') as BpfMap).update(k32(1), { name: 't', type: 3, id: 1 });
    const prog = vm.load(assemble(`
      r2 = map[idx:0]
      r3 = 1
      call bpf_tail_call#12
      r0 = 1
      exit`), mv.resolver);
    expect(vm.run(prog).r0).toBe(77n);
  });

  const avail = kernelAvailability();
  (avail.ok ? it : it.skip)(`the counter program leaves the same map contents in the kernel${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, () => {
    const { vm, maps, mv } = vmWith(counterMaps());
    const insns = assemble(COUNTER);
    const prog = vm.load(insns, mv.resolver);
    for (let i = 0; i < 5; i++) vm.run(prog);
    const res = kernelRun({
      progType: 1,
      insns,
      maps: [
        { type: 2, keySize: 4, valueSize: 8, maxEntries: 1 },
        { type: 1, keySize: 4, valueSize: 8, maxEntries: 4 },
      ],
      run: { repeat: 5 },
      readMapsAfter: true,
    });
    expect(res.loaded, res.log).toBe(true);
    expect(res.run?.retval).toBe(0);
    const dump = (m: BpfMap) => m.keys().map((k) => ({ key: k, value: m.lookup(k) }));
    expect(res.maps![0]!.entries).toEqual(dump(maps.get(0)));
    expect(res.maps![1]!.entries).toEqual(dump(maps.get(1)));
    expect(maps.get(1).lookup(k32(1))).toEqual(u64(5));
  });
});
