// The loader fuzzing strategy, shared by test/loader/fuzz.test.ts (fast-check, fixed seed) and the
// hunting tool test/loader/fuzz-hunt.ts (many random seeds, prints failing ones): corrupted real objects
// (byte flips, random 32-bit words, truncations) aimed at the parts the loader interprets (headers, section
// table, section contents: symbols, relocations, BTF, code) rather than uniformly at the file.
import fc from 'fast-check';
import { BpfLoadError } from '../../src/errors.js';
import { loadCollection } from '../../src/elf/index.js';
import { readElf } from '../../src/elf/elf.js';
import { dataObject, fixtureObjects } from './helpers.js';

export interface Target { name: string; bytes: Uint8Array; regions: [number, number][] }

/** The fixture objects and two of the loader's test objects, plus `extra` objects of test/loader/data. */
export function loadTargets(extra: string[] = []): Target[] {
  const objects = [
    ...fixtureObjects(),
    ...['link_misc.o', 'core_ctx.o', ...extra].map((f) => ({ name: `test/loader/data/${f}`, bytes: dataObject(f) })),
  ];
  return objects.map(({ name, bytes }) => {
    const elf = readElf(bytes);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const shoff = Number(dv.getBigUint64(40, true));
    const regions: [number, number][] = [[0, 64], [shoff, elf.sections.length * 64]];
    for (const s of elf.sections) if (s.data.length > 0) regions.push([s.offset, s.data.length]);
    return { name, bytes, regions };
  });
}

export type Mutation = { kind: 'byte' | 'word' | 'truncate'; region: number; at: number; value: number };

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom<Mutation['kind']>('byte', 'byte', 'word', 'word', 'truncate'),
  region: fc.nat(),
  at: fc.nat(),
  value: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 1, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff)),
});

export function mutate(t: Target, ms: Mutation[]): Uint8Array {
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

/**
 * The property: loading `bytes` gives a CollectionSpec or a BpfLoadError whose cause is not an internal
 * TypeError/RangeError, within 2 s. Throws an Error describing the violation otherwise.
 */
export function checkLoad(bytes: Uint8Array): void {
  const t0 = performance.now();
  try {
    const spec = loadCollection(bytes);
    if (!Array.isArray(spec.programs) || !Array.isArray(spec.maps)) throw new Error('CollectionSpec without programs/maps arrays');
  } catch (e) {
    if (!(e instanceof BpfLoadError)) throw new Error(`non-BpfLoadError escaped: ${e instanceof Error ? e.stack : String(e)}`);
    // The boundary converts stray exceptions; a TypeError/RangeError inside means a missing check.
    if (e.cause instanceof TypeError || e.cause instanceof RangeError) throw new Error(`internal error wrapped: ${e.cause.stack}`);
    if (typeof e.message !== 'string') throw new Error('BpfLoadError without a message');
  }
  const ms = performance.now() - t0;
  if (ms > 2000) throw new Error(`load took ${ms.toFixed(0)} ms`);
}
