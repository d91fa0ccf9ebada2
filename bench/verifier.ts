// `node dist/bench/verifier.js [--quick] [--cpu]`: only the verifier throughput section of `npm run bench`
// (processed instructions per second), for profiling the verifier (`node --cpu-prof dist/bench/verifier.js`).
// --cpu: per CPU second of this process rather than per wall-clock second (for a loaded machine).
import { runVerifierBench } from './model.js';

for (const r of runVerifierBench({ quick: process.argv.includes('--quick'), cpu: process.argv.includes('--cpu') })) {
  console.log(`verify ${r.name.padEnd(40)} ${String(r.processed).padStart(7)} processed insns  ${(r.insnsPerSec / 1e3).toFixed(0)} k insns/s`);
}
