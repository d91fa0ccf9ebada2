// Property test: corrupted real objects (byte flips, random 32-bit words, truncations) give either a
// CollectionSpec or a BpfLoadError — never another exception, never a hang. Mutations are aimed at the
// parts the loader interprets (headers, section table, symbols, relocations, BTF, code), not uniformly
// at the file, so most cases reach deep into the loader.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BpfLoadError } from '../../src/errors.js';
import { loadCollection } from '../../src/elf/index.js';
import { readElf } from '../../src/elf/elf.js';
import { dataObject, fixtureObjects } from './helpers.js';

interface Target { bytes: Uint8Array; regions: [number, number][] }

const objects = [
  ...fixtureObjects().map((o) => o.bytes),
  dataObject('link_misc.o'),
  dataObject('core_ctx.o'),
];

const targets: Target[] = objects.map((bytes) => {
  const elf = readElf(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(dv.getBigUint64(40, true));
  const regions: [number, number][] = [[0, 64], [shoff, elf.sections.length * 64]];
  for (const s of elf.sections) if (s.data.length > 0) regions.push([s.offset, s.data.length]);
  return { bytes, regions };
});

type Mutation = { kind: 'byte' | 'word' | 'truncate'; region: number; at: number; value: number };

const mutation = fc.record({
  kind: fc.constantFrom<Mutation['kind']>('byte', 'byte', 'word', 'word', 'truncate'),
  region: fc.nat(),
  at: fc.nat(),
  value: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 1, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff)),
});

function mutate(t: Target, ms: Mutation[]): Uint8Array {
  let b = t.bytes.slice();
  for (const m of ms) {
    const [start, len] = t.regions[m.region % t.regions.length]!;
    const at = start + (len > 0 ? m.at % len : 0);
    if (m.kind === 'truncate') b = b.slice(0, Math.min(b.length, at));
    else if (at < b.length) {
      if (m.kind === 'byte') b[at] = m.value & 0xff;
      else for (let i = 0; i < 4 && at + i < b.length; i++) b[at + i] = (m.value >>> (8 * i)) & 0xff;
    }
  }
  return b;
}

function check(bytes: Uint8Array): void {
  const t0 = performance.now();
  try {
    const spec = loadCollection(bytes);
    expect(Array.isArray(spec.programs)).toBe(true);
    expect(Array.isArray(spec.maps)).toBe(true);
  } catch (e) {
    if (!(e instanceof BpfLoadError)) throw new Error(`non-BpfLoadError escaped: ${e instanceof Error ? e.stack : String(e)}`);
    // The boundary converts stray exceptions; a TypeError/RangeError inside means a missing check.
    if (e.cause instanceof TypeError || e.cause instanceof RangeError) throw new Error(`internal error wrapped: ${e.cause.stack}`);
    expect(typeof e.message).toBe('string');
  }
  const ms = performance.now() - t0;
  if (ms > 2000) throw new Error(`load took ${ms.toFixed(0)} ms`);
}

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
    expect(() => loadCollection(mutate(targets[21]!, [
      { kind: 'byte', region: 741255504, at: 154929904, value: 0 },
      { kind: 'byte', region: 310999, at: 0, value: 0 },
    ]))).toThrow(/runs past the end of its function/);
  });

  it('random garbage and tiny inputs', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => check(b)), { numRuns: 500 });
    check(new Uint8Array(0));
  });
});
