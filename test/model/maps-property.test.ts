// Property tests: random operation sequences on HASH and ARRAY maps against a small reference model (a JS Map
// keyed by hex with the documented flag rules), for both the user-space and the program-side operations.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMap, errnoOf, hexKey, u32Bytes, type BpfMap } from '../../src/kernel/maps/index.js';

type Op =
  | { kind: 'update'; key: number; value: number; flags: number; prog: boolean }
  | { kind: 'lookup'; key: number; prog: boolean }
  | { kind: 'delete'; key: number; prog: boolean }
  | { kind: 'next'; key: number | null };

const opArb = (nKeys: number): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.record({ kind: fc.constant('update' as const), key: fc.nat(nKeys - 1), value: fc.nat(255), flags: fc.constantFrom(0, 1, 2, 3, 4), prog: fc.boolean() }),
    fc.record({ kind: fc.constant('lookup' as const), key: fc.nat(nKeys - 1), prog: fc.boolean() }),
    fc.record({ kind: fc.constant('delete' as const), key: fc.nat(nKeys - 1), prog: fc.boolean() }),
    fc.record({ kind: fc.constant('next' as const), key: fc.option(fc.nat(nKeys - 1)) }),
  );

const val = (v: number, size: number): Uint8Array => new Uint8Array(size).fill(v);

/** Runs one op on the map; returns [errno, bytes-as-hex] (errno positive, as user space sees it). */
function apply(m: BpfMap, op: Op): [number, string] {
  const key = u32Bytes(op.key ?? 0);
  switch (op.kind) {
    case 'update':
      if (op.prog) return [-m.updateElem(key, val(op.value, m.valueSize), op.flags, 0) | 0, ''];
      return [errnoOf(() => m.update(key, val(op.value, m.valueSize), op.flags)), ''];
    case 'lookup':
      if (op.prog) {
        const r = m.lookupElem(key, 0);
        return r === null ? [2, ''] : [0, hexKey(r as Uint8Array)];
      }
      try {
        return [0, hexKey(m.lookup(key))];
      } catch (e) {
        return [(e as { errno: number }).errno, ''];
      }
    case 'delete':
      if (op.prog) return [-m.deleteElem(key, 0) | 0, ''];
      return [errnoOf(() => m.delete(key)), ''];
    case 'next':
      try {
        return [0, hexKey(m.getNextKey(op.key === null ? null : key))];
      } catch (e) {
        return [(e as { errno: number }).errno, ''];
      }
  }
}

describe('HASH vs a reference model', () => {
  it('agrees on errno, values, counts; get_next_key visits every key once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(opArb(10), { maxLength: 80 }), (max, ops) => {
        const m = createMap({ name: 'h', type: 1, keySize: 4, valueSize: 8, maxEntries: max, flags: 0 });
        const ref = new Map<string, Uint8Array>();
        for (const op of ops) {
          const [errno, bytes] = apply(m, op);
          const k = hexKey(u32Bytes(op.key ?? 0));
          let want: [number, string | null];
          switch (op.kind) {
            case 'update': {
              const has = ref.has(k);
              if (op.flags > 2 || op.flags === 4) want = [22, ''];
              else if (has && op.flags === 1) want = [17, ''];
              else if (!has && op.flags === 2) want = [2, ''];
              else if (!has && ref.size >= max) want = [7, ''];
              else {
                ref.set(k, val(op.value, 8));
                want = [0, ''];
              }
              break;
            }
            case 'lookup':
              want = ref.has(k) ? [0, hexKey(ref.get(k)!)] : [2, ''];
              break;
            case 'delete':
              want = ref.delete(k) ? [0, ''] : [2, ''];
              break;
            case 'next':
              // Order is the hash order; the reference only knows whether a next key exists.
              want = ref.size === 0 ? [2, ''] : [errno, null];
              if (errno === 0) expect(ref.has(bytes)).toBe(true);
              break;
          }
          expect(errno).toBe(want[0]);
          if (want[1] !== null) expect(bytes).toBe(want[1]);
          expect(m.count).toBe(ref.size);
        }
        const ks = m.keys().map(hexKey);
        expect(new Set(ks).size).toBe(ks.length);
        expect([...ks].sort()).toEqual([...ref.keys()].sort());
      }),
      { numRuns: 300 },
    );
  });
});

describe('ARRAY vs a reference model', () => {
  it('agrees on errno, values and get_next_key', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(opArb(8), { maxLength: 80 }), (max, ops) => {
        const m = createMap({ name: 'a', type: 2, keySize: 4, valueSize: 8, maxEntries: max, flags: 0 });
        const ref: Uint8Array[] = Array.from({ length: max }, () => new Uint8Array(8));
        for (const op of ops) {
          const [errno, bytes] = apply(m, op);
          const i = op.key ?? 0;
          let want: [number, string];
          switch (op.kind) {
            case 'update':
              // bpf(2) refuses BPF_F_LOCK (no spin lock) before the array looks at the index; a program's
              // update reaches array_map_update_elem, which checks the index and NOEXIST first.
              if (op.flags > 2 && (op.flags !== 4 || !op.prog)) want = [22, ''];
              else if (i >= max) want = [7, ''];
              else if (op.flags & 1) want = [17, ''];
              else if (op.flags === 4) want = [22, ''];
              else {
                ref[i] = val(op.value, 8);
                want = [0, ''];
              }
              break;
            case 'lookup':
              want = i < max ? [0, hexKey(ref[i]!)] : [2, ''];
              break;
            case 'delete':
              want = [22, ''];
              break;
            case 'next': {
              const idx = op.key === null ? Infinity : i;
              want = idx >= max ? [0, hexKey(u32Bytes(0))] : idx === max - 1 ? [2, ''] : [0, hexKey(u32Bytes(idx + 1))];
              break;
            }
          }
          expect([errno, bytes]).toEqual(want);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('LRU_HASH invariants', () => {
  it('never fails with E2BIG, never exceeds max_entries, and the last inserted key survives', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(opArb(12), { maxLength: 80 }), (max, ops) => {
        const m = createMap({ name: 'l', type: 9, keySize: 4, valueSize: 8, maxEntries: max, flags: 0 });
        for (const op of ops) {
          const [errno] = apply(m, op);
          expect(errno).not.toBe(7);
          expect(m.count).toBeLessThanOrEqual(max);
          if (op.kind === 'update' && errno === 0) expect(m.lookup(u32Bytes(op.key))).toEqual(val(op.value, 8));
        }
      }),
      { numRuns: 200 },
    );
  });
});
