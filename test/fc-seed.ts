// The seed of a fast-check property or sample that has its own fixed default seed. `npm test` always uses the
// default, so a CI failure reproduces on a laptop; BPFVM_FC_SEED=<n> replaces every such default (and the
// global seed, test/setup-fast-check.ts) to search further, BPFVM_FC_SEED=random picks one random seed per
// test process and prints it. Tests put the returned seed into their failure messages.
const env = process.env.BPFVM_FC_SEED;
let randomSeed: number | undefined;

export function propertySeed(defaultSeed: number): number {
  if (env === undefined || env === '') return defaultSeed;
  if (env === 'random') {
    if (randomSeed === undefined) {
      randomSeed = (Math.random() * 0x7fffffff) | 0;
      console.log(`BPFVM_FC_SEED=random: this test file uses seed ${randomSeed}`);
    }
    return randomSeed;
  }
  const seed = Number(env);
  if (!Number.isInteger(seed)) throw new Error(`BPFVM_FC_SEED must be an integer or "random", got "${env}"`);
  return seed;
}
