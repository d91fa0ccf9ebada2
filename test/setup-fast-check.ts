// Every fast-check property in the suite runs from a fixed seed, so `npm test` is reproducible: a failure
// seen in CI is the same failure on a laptop. To search further, run with another seed or a random one:
//   BPFVM_FC_SEED=12345 npx vitest run test/loader/fuzz.test.ts
//   BPFVM_FC_SEED=random npx vitest run            (fast-check picks and prints the seed of a failure)
// Properties and samples with their own default seed take it from propertySeed (test/fc-seed.ts), which the
// same variable overrides.
import fc from 'fast-check';
import { propertySeed } from './fc-seed.js';

const DEFAULT_SEED = 20261207;
if (process.env.BPFVM_FC_SEED !== 'random') fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: propertySeed(DEFAULT_SEED) });
