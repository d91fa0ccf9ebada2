// Every fast-check property in the suite runs from a fixed seed, so `npm test` is reproducible: a failure
// seen in CI is the same failure on a laptop. To search further, run with another seed or a random one:
//   BPFVM_FC_SEED=12345 npx vitest run test/loader/fuzz.test.ts
//   BPFVM_FC_SEED=random npx vitest run            (fast-check picks and prints the seed of a failure)
// Properties and samples with their own default seed take it from propertySeed (test/fc-seed.ts), which the
// same variable overrides.
import fc from 'fast-check';

const DEFAULT_SEED = 20261207;
const env = process.env.BPFVM_FC_SEED;
if (env !== 'random') {
  const seed = env === undefined || env === '' ? DEFAULT_SEED : Number(env);
  if (!Number.isInteger(seed)) throw new Error(`BPFVM_FC_SEED must be an integer or "random", got "${env}"`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}
