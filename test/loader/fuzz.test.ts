// Property test: corrupted real objects (byte flips, random 32-bit words, truncations) give either a
// CollectionSpec or a BpfLoadError — never another exception, never a hang. Mutations are aimed at the
// parts the loader interprets (headers, section table, symbols, relocations, BTF, code), not uniformly
// at the file, so most cases reach deep into the loader.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadCollection } from '../../src/elf/index.js';
import { checkLoad as check, loadTargets, mutate, mutation } from './mutate.js';

const targets = loadTargets();

describe('loader robustness (fast-check)', () => {
  it('unmodified objects load', () => {
    for (const t of targets) loadCollection(t.bytes);
  });

  it('single mutations: CollectionSpec or BpfLoadError (6000 cases)', () => {
    fc.assert(
      fc.property(fc.nat(targets.length - 1), mutation, (oi, m) => check(mutate(targets[oi]!, [m]))),
      { numRuns: 6000 },
    );
  });

  it('several mutations at once (4000 cases)', () => {
    fc.assert(
      fc.property(fc.nat(targets.length - 1), fc.array(mutation, { minLength: 2, maxLength: 8 }), (oi, ms) => check(mutate(targets[oi]!, ms))),
      { numRuns: 4000 },
    );
  });

  it('regressions found by earlier runs', () => {
    // Two zeroed bytes shrink a function symbol's size so that the function ends inside an lddw that
    // carries a data relocation (CI seed -88004621): this raised a RangeError from a DataView.
    expect(() => loadCollection(mutate(targets.find((t) => t.name === 'fixtures/v4/callbacks.o')!, [
      { kind: 'byte', region: 741255504, at: 154929904, value: 0 },
      { kind: 'byte', region: 310999, at: 0, value: 0 },
    ]))).toThrow(/runs past the end of its function/);
  });

  it('random garbage and tiny inputs', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => check(b)), { numRuns: 500 });
    check(new Uint8Array(0));
  });
});
