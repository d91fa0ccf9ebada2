// `npm run bench`: runs every benchmark and writes bench/results.json. Add --quick for a short smoke run.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInterpBench } from './interp.js';
import { runJsTierBench } from './jstier.js';
import { formatVerifierResult, runLoadBench, runModelBench, runVerifierBench } from './model.js';
import { packageRoot } from './lib.js';
import { runProgRunBench } from './progrun.js';
import { runReprBench } from './repr.js';
import { runStartupBench } from './startup.js';

const quick = process.argv.includes('--quick');
const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: (await import('node:os')).cpus()[0]?.model ?? 'unknown',
  representation: runReprBench({ quick }),
  interpreter: runInterpBench({ quick }),
  jsTier: runJsTierBench({ quick }),
  socketModel: runModelBench({ quick }),
  progRun: runProgRunBench({ quick }),
  elfLoad: runLoadBench({ quick }),
  verifier: runVerifierBench({ quick }),
  cliStartup: runStartupBench(quick ? 5 : 15),
};

for (const r of results.representation) console.log(`repr   ${r.representation.padEnd(40)} ${r.nsPerByte.toFixed(2)} ns/byte (FNV-1a-64 step)`);
for (const r of results.interpreter) {
  console.log(
    `interp ${r.name.padEnd(16)} ${String(r.insnsPerRun).padStart(7)} insns/run  ${(r.nsPerRun / 1000).toFixed(1).padStart(8)} us/run  ` +
      `${r.nsPerInsn.toFixed(2).padStart(6)} ns/insn  ${(r.insnsPerSec / 1e6).toFixed(1).padStart(6)} M insns/s`,
  );
}
for (const r of results.jsTier) {
  const interp = results.interpreter.find((x) => x.name === r.name);
  console.log(
    `js     ${r.name.padEnd(16)} ${String(r.insnsPerRun).padStart(7)} insns/run  ${(r.nsPerRun / 1000).toFixed(1).padStart(8)} us/run  ` +
      `${r.nsPerInsn.toFixed(2).padStart(6)} ns/insn  ${(r.insnsPerSec / 1e6).toFixed(1).padStart(6)} M insns/s` +
      (interp ? `  ${(interp.nsPerRun / r.nsPerRun).toFixed(1)}x the interpreter` : '') +
      (r.matchesInterpreter ? '' : '  MISMATCH with the interpreter'),
  );
}
for (const r of results.socketModel) {
  console.log(`model  ${(r.name + ', ' + r.messageBytes + ' B').padEnd(34)} ${(r.nsPerMessage / 1000).toFixed(2).padStart(7)} us/msg  ${(r.messagesPerSec / 1e3).toFixed(1).padStart(7)} k msg/s  ${r.mbPerSec.toFixed(1).padStart(7)} MB/s`);
}
for (const r of results.progRun) {
  console.log(`run    ${(r.name + ', ' + r.messageBytes + ' B').padEnd(34)} ${(r.nsPerRun / 1000).toFixed(2).padStart(7)} us/run  ${String(r.insnsPerRun).padStart(5)} insns/run`);
}
for (const r of results.elfLoad) console.log(`elf    ${r.file.padEnd(34)} ${String(r.bytes).padStart(7)} bytes  ${r.msPerLoad.toFixed(3)} ms/load`);
for (const r of results.verifier) console.log(formatVerifierResult(r));
if (results.cliStartup) console.log(`cli    bpfvm --version: median ${results.cliStartup.medianMs.toFixed(1)} ms (min ${results.cliStartup.minMs.toFixed(1)}, max ${results.cliStartup.maxMs.toFixed(1)})`);
const out = join(packageRoot(), 'bench', 'results.json');
writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
console.log(`wrote ${out}`);
