// `node dist/bench/verifier.js [--quick]`: only the verifier throughput section of `npm run bench`
// (processed instructions per second), for profiling the verifier (`node --cpu-prof dist/bench/verifier.js`).
import { runVerifierBench } from './model.js';

for (const r of runVerifierBench({ quick: process.argv.includes('--quick') })) {
  console.log(`verify ${r.name.padEnd(40)} ${String(r.processed).padStart(7)} processed insns  ${(r.insnsPerSec / 1e3).toFixed(0)} k insns/s`);
}
