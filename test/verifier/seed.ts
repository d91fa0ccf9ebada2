// One seed for the randomised verifier tests (fast-check properties), so a CI run is reproducible:
// fixed by default, BPFVM_TEST_SEED=<n> picks another one for a by-hand run (without it, the suite-wide
// BPFVM_FC_SEED of test/fc-seed.ts applies to the fast-check properties). fast-check prints the seed and
// the shrunk counterexample of a failing property; `seedNote` goes into the messages of the other checks.
import fc from 'fast-check';
import { propertySeed } from '../fc-seed.js';

export const TEST_SEED = process.env.BPFVM_TEST_SEED !== undefined ? Number(process.env.BPFVM_TEST_SEED) : propertySeed(20261206);
if (!Number.isSafeInteger(TEST_SEED)) throw new Error(`BPFVM_TEST_SEED must be an integer, got ${process.env.BPFVM_TEST_SEED}`);
fc.configureGlobal({ seed: TEST_SEED });
export const seedNote = `(seed ${TEST_SEED}; rerun with BPFVM_TEST_SEED=${TEST_SEED})`;
