// Hunting tool (not a test): runs the loader property of test/loader/fuzz.test.ts with many random seeds and
// prints every failing seed with its shrunk counterexample, ready to paste into a regression test.
//   nice -n 10 npx tsx test/loader/fuzz-hunt.ts [--cases 200000] [--batch 2000] [--seed <first seed>] [--max-mutations 8] [--small-values] [--extra-objects]
// Each batch is one fast-check run of `batch` cases from its own seed, alternating between single and
// several-mutation inputs (the two properties of fuzz.test.ts). Reproduce a failure with
//   BPFVM_FC_SEED=<seed> npx vitest run test/loader/fuzz.test.ts   (if the batch size matches the test's)
// or directly from the printed counterexample with `mutate(targets[oi], ms)`.
import fc from 'fast-check';
import { type Mutation, checkLoad, loadTargets, mutate, mutation } from './mutate.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v)) throw new Error(`--${name} needs an integer, got ${process.argv[i + 1]}`);
  return v;
}

const cases = arg('cases', 200_000);
const batch = arg('batch', 2000);
let seed = arg('seed', (Math.random() * 2 ** 31) | 0);
// --extra-objects: also mutate test/loader/data's objects that the test leaves out (CO-RE failures, partial loads).
const targets = loadTargets(process.argv.includes('--extra-objects') ? ['core_bad.o', 'loader_partial.o'] : []);
const maxMutations = arg('max-mutations', 8);
// --small-values: also write small numbers (0..512: indexes, sizes, offsets that stay inside the file), which
// reach checks that random 32-bit words miss. Not what the test runs; for deeper hunting.
const smallValues = process.argv.includes('--small-values');
const mut: fc.Arbitrary<Mutation> = smallValues
  ? fc.oneof(mutation, fc.record({ kind: fc.constantFrom<Mutation['kind']>('byte', 'word'), region: fc.nat(), at: fc.nat(), value: fc.nat(512) }))
  : mutation;
const prop = (ms: fc.Arbitrary<Mutation[]>) => fc.property(fc.nat(targets.length - 1), ms, (oi, m) => checkLoad(mutate(targets[oi]!, m)));
const single = prop(mut.map((m) => [m]));
const several = prop(fc.array(mut, { minLength: 2, maxLength: maxMutations }));

let done = 0;
let failures = 0;
const t0 = Date.now();
for (let b = 0; done < cases; b++, seed++) {
  const which = b % 2 === 0 ? 'single' : 'several';
  const r = fc.check(which === 'single' ? single : several, { numRuns: batch, seed });
  done += r.numRuns;
  if (r.failed) {
    failures++;
    console.log(`FAIL ${which} seed=${seed} counterexample=${JSON.stringify(r.counterexample)}`);
    console.log(String(r.errorInstance instanceof Error ? r.errorInstance.message : r.errorInstance).split('\n').slice(0, 8).join('\n'));
  }
}
console.log(`${done} cases, ${failures} failing batches, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
