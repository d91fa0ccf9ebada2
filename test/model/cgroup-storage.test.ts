/**
 * CGROUP_STORAGE (19) / PERCPU_CGROUP_STORAGE (21) maps (src/kernel/maps/cgroup-storage.ts): creation rules and
 * user-space operations on maps no program is attached with, against the host kernel (test/kernel/mapops.c),
 * the model's attach / detach life cycle of storages with bpf_get_local_storage (src/kernel/cgroup-storage.ts), and
 * BPF_PROG_TEST_RUN's own storage for CGROUP_SKB programs against the kernel (test/kernel/bpfrun.c).
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import { kernelAvailability, kernelRunBatch } from '../kernel/oracle.js';
import { testRun } from '../../src/kernel/testrun.js';
import { kernelMapOps, type KernelMapCmd } from '../kernel/mapops.js';
import { CgroupStorageMap, Maps } from '../../src/kernel/maps/index.js';
import { Kernel } from '../../src/kernel/model.js';
import { recordValue } from './asm-snippets.js';
import { runModelMapOps } from './map-ops-model.js';

const avail = kernelAvailability();

describe.skipIf(!avail.ok)(`cgroup storage maps: creation and user-space ops = kernel${avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`}`, () => {
  it('errnos of BPF_MAP_CREATE and of lookup / update / delete / get_next_key without an attachment', () => {
    const creates: [number, number, number, number, number][] = [];
    for (const type of [19, 21]) {
      for (const [k, v, max, flags] of [
        [16, 8, 0, 0], [8, 8, 0, 0], [12, 8, 0, 0], [4, 8, 0, 0], [16, 0, 0, 0], [16, 8, 1, 0], [16, 8, 0, 1], [16, 8, 0, 4],
        [16, 8, 0, 0x80], [16, 8, 0, 0x180], [16, 8, 0, 0x8], [16, 40000, 0, 0], [16, 65535, 0, 0], [16, 32768, 0, 0], [16, 32769, 0, 0],
      ] as const) creates.push([type, k, v, max, flags]);
    }
    const cmds: KernelMapCmd[] = [];
    const key16 = new Uint8Array(16);
    key16[0] = 1;
    key16[8] = 3;
    for (const [type, keySize, valueSize, maxEntries, flags] of creates) {
      cmds.push({ op: 'reset' }, { op: 'create', type, keySize, valueSize, maxEntries, flags });
      if (keySize === 16 && valueSize === 8 && maxEntries === 0 && flags === 0) {
        const vs = type === 21 ? 8 * (avail.ok ? kernelMapOps([]).cpus : 2) : 8;
        cmds.push(
          { op: 'lookup', map: 0, key: key16 },
          { op: 'update', map: 0, key: key16, value: new Uint8Array(vs), flags: 0 },
          { op: 'update', map: 0, key: key16, value: new Uint8Array(vs), flags: 1 },
          { op: 'update', map: 0, key: key16, value: new Uint8Array(vs), flags: 2 },
          { op: 'update', map: 0, key: key16, value: new Uint8Array(vs), flags: 4 },
          { op: 'delete', map: 0, key: key16 },
          { op: 'next', map: 0, key: null },
          { op: 'next', map: 0, key: key16 },
        );
      }
    }
    const { cpus, results } = kernelMapOps(cmds);
    const model = runModelMapOps(cmds, cpus).map((r) => r.errno);
    const kernel = results.map((r) => r.errno);
    const same = kernel.filter((e, i) => e === model[i]).length;
    console.log(`cgroup storage map ops: ${same}/${cmds.length} errnos agree with the kernel`);
    expect(model).toEqual(kernel);
  });
});

describe('cgroup storage life cycle (model)', () => {
  const counter = (mapIdx: number): Uint8Array => assemble(`
    r1 = map[idx:${mapIdx}]
    r2 = 0
    call bpf_get_local_storage#81
    r1 = *(u64 *)(r0 + 0)
    r1 += 1
    *(u64 *)(r0 + 0) = r1
    r0 = 1
    exit`);
  const u64 = (b: Uint8Array | number): bigint => (typeof b === 'number' ? BigInt(b) : new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));

  it('storages per attach point: shared by programs at one cgroup, separate per cgroup, gone after detach', () => {
    const k = new Kernel();
    k.createMaps([{ name: 'cs', type: 19, typeName: '', keySize: 16, valueSize: 8, maxEntries: 0, flags: 0, section: '.maps' }]);
    const m = k.map('cs') as CgroupStorageMap;
    const a = k.loadProgram({ type: 13, name: 'a', insns: counter(0) });
    const b = k.loadProgram({ type: 13, name: 'b', insns: counter(0) });
    const key = (cg: string): Uint8Array => m.storageKey(k.cgroupIds.id(cg), 3);
    expect(k.cgroupAttach(a, '/', 2)).toBe(0);
    expect(k.cgroupAttach(b, '/', 2)).toBe(0);
    expect(k.cgroupAttach(a, '/x', 2)).toBe(0);
    k.listen(); // root: a and b, one shared storage → 2
    k.currentCgroup = '/x';
    k.listen(); // /x: a (its /x storage), then a and b at / → 1 and 2 more
    expect(u64(k.mapLookup(m, key('/')) as Uint8Array)).toBe(4n);
    expect(u64(k.mapLookup(m, key('/x')) as Uint8Array)).toBe(1n);
    // get_next_key: newest first
    expect(m.keys().map((x) => Buffer.from(x).toString('hex'))).toEqual([key('/x'), key('/')].map((x) => Buffer.from(x).toString('hex')));
    // user space may overwrite an existing storage (BPF_EXIST), never create or delete one
    expect(k.mapUpdate(m, key('/'), new Uint8Array(8).fill(0), 2)).toBe(0);
    expect(k.mapUpdate(m, key('/y'), new Uint8Array(8), 0)).toBe(-2);
    expect(k.mapDelete(m, key('/'))).toBe(-22);
    // detaching a keeps the root storage (b still uses the map); detaching b too drops it
    expect(k.cgroupDetach(a, '/')).toBe(0);
    expect(u64(k.mapLookup(m, key('/')) as Uint8Array)).toBe(0n);
    expect(k.cgroupDetach(b, '/')).toBe(0);
    expect(k.mapLookup(m, key('/'))).toBe(-2);
    // a re-attach starts from zeroes
    expect(k.cgroupAttach(b, '/')).toBe(0);
    k.currentCgroup = '/';
    k.listen();
    expect(u64(k.mapLookup(m, key('/')) as Uint8Array)).toBe(1n);
  });
});

describe.skipIf(!avail.ok)(`bpf_get_local_storage in BPF_PROG_TEST_RUN (CGROUP_SKB) = kernel${avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`}`, () => {
  it('a zeroed storage per test run, shared by its repetitions, never linked into the map', () => {
    // out[0] = ++shared->n, out[1] = ++percpu->n (key 0 / 1 of ARRAY map 2); r0 = 1
    const insns = assemble(`
      r1 = map[idx:0]
      r2 = 0
      call bpf_get_local_storage#81
      r6 = *(u64 *)(r0 + 0)
      r6 += 1
      *(u64 *)(r0 + 0) = r6
      r1 = map[idx:1]
      r2 = 0
      call bpf_get_local_storage#81
      r7 = *(u64 *)(r0 + 0)
      r7 += 1
      *(u64 *)(r0 + 0) = r7
      ${recordValue(2, 0, 'r6')}
      ${recordValue(2, 1, 'r7')}
      r0 = 1
      exit`);
    const mapDefs = [
      { type: 19, keySize: 16, valueSize: 8, maxEntries: 0 },
      { type: 21, keySize: 8, valueSize: 8, maxEntries: 0 },
      { type: 2, keySize: 4, valueSize: 8, maxEntries: 2 },
    ];
    const cases = [1, 5];
    const k = kernelRunBatch(cases.map((repeat) => ({ progType: 8, insns, license: 'GPL', maps: mapDefs, run: { dataIn: new Uint8Array(64), repeat }, readMapsAfter: true })));
    const got = cases.map((repeat) => {
      const specs = mapDefs.map((m, i) => ({ name: `m${i}`, typeName: '', flags: 0, section: '.maps', ...m }));
      const maps = Maps.fromSpec({ maps: specs });
      const r = testRun({ name: 'ls', type: 8, typeName: 'cgroup_skb', insns, license: 'GPL', section: 'cgroup/skb' } as never, new Uint8Array(64), { maps, repeat });
      return { retval: r.retval, out: maps.get(2).keys().map((key) => Buffer.from(maps.get(2).lookup(key)).toString('hex')), storages: [maps.get(0).count, maps.get(1).count] };
    });
    const want = k.map((r) => ({
      retval: r.run!.retval,
      out: r.maps![2]!.entries.map((e) => Buffer.from(e.value).toString('hex')),
      storages: [r.maps![0]!.entries.length, r.maps![1]!.entries.length],
    }));
    console.log(`test-run cgroup storage: kernel ${JSON.stringify(want)}`);
    expect(got).toEqual(want);
    // what the test's name says: each run starts from zero (1 after one repetition), the repetitions share it (5
    // after five) and neither storage map holds an entry afterwards
    expect(want).toEqual([
      { retval: 1, out: ['0100000000000000', '0100000000000000'], storages: [0, 0] },
      { retval: 1, out: ['0500000000000000', '0500000000000000'], storages: [0, 0] },
    ]);
  });
});
