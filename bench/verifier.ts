// `node dist/bench/verifier.js [--quick] [--cpu]`: only the verifier throughput section of `npm run bench`
// (processed instructions per second), for profiling the verifier (`node --cpu-prof dist/bench/verifier.js`).
// --cpu: the main figure per CPU second of this process rather than per wall-clock second (for a loaded machine);
// every line also shows both.
import { formatVerifierResult, runVerifierBench } from './model.js';

for (const r of runVerifierBench({ quick: process.argv.includes('--quick'), cpu: process.argv.includes('--cpu') })) {
  console.log(formatVerifierResult(r));
}
