// `bpfvm bench FILE --program NAME [--data-in FILE] [--tier interp|js|auto] [--json]
//                 [--baseline FILE --max-regression PCT]`
// Runs a program many times the way BPF_PROG_TEST_RUN does (see src/kernel/testrun.ts) and reports the median
// time per run, ns per instruction, and the exact number of instructions per run. For CI: with --baseline
// (a file written by an earlier `--json` run) the instruction count must be unchanged, and the time, taken
// as a ratio to a calibration loop measured in the same run (so a slower or busier machine does not count as
// a regression), may not grow by more than PCT percent. Exit 1 on a regression.

import { readFileSync, writeFileSync } from 'node:fs';
import type { Tier } from '../../vm/interpreter.js';
import { CliError, UsageError, isElf, parse, readBytes } from './common.js';
import { MSG_OPTIONS, MSG_OPTIONS_HELP, msgRunInputs } from './msg-options.js';

const USAGE = `usage: bpfvm bench FILE [--program NAME] [--data-in FILE] [--tier interp|js|auto] [--batches N]
                   [--json] [--out FILE] [--baseline FILE --max-regression PCT]
                   [--attach MAP] [--map-slot MAP:KEY=SOCK] [--map-set MAP:KEY=VALUE]

Runs one socket filter, tc, xdp, cgroup skb, sk_msg or sk_skb program of the object FILE many times on
--data-in (default: 64 zero bytes; sk_msg / sk_skb: 64 bytes 00 01 … 3f, one message set up as bpfvm run does)
and prints the median time per run, ns per instruction and the instructions per run. --json prints
the result as JSON (also written to --out FILE); such a file is a baseline for --baseline: the run fails (exit
1) when the instruction count differs, or when time relative to the calibration loop grew by more than
--max-regression percent (default 10).

${MSG_OPTIONS_HELP}`;

export interface BenchResult {
  file: string;
  program: string;
  type: string;
  tier: string;
  insnsPerRun: number;
  /** Median over batches of the mean wall-clock time of one run. */
  medianNs: number;
  nsPerInsn: number;
  batches: number;
  runsPerBatch: number;
  /** Median time of one pass of the calibration loop, measured in the same process. */
  calibrationNs: number;
  /** medianNs / calibrationNs: what --baseline compares. */
  ratio: number;
  retval: number;
  node: string;
}

/** A fixed pure-JavaScript workload (xorshift + multiply over 2^16 steps): the yardstick for time ratios. */
function calibrationPass(): number {
  let x = 0x9e3779b9 | 0;
  let acc = 0;
  for (let i = 0; i < 65536; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    acc = (Math.imul(acc, 31) + (x & 0xff)) | 0;
  }
  return acc;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function calibrate(batches: number): number {
  let sink = 0;
  for (let k = 0; k < 20; k++) sink ^= calibrationPass();
  const times: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < 20; k++) sink ^= calibrationPass();
    times.push(Number(process.hrtime.bigint() - t0) / 20);
  }
  if (sink === 0x7fffffff) process.stdout.write(''); // keep the loop observable
  return median(times);
}

export async function main(argv: string[]): Promise<number> {
  const r = parse(argv, {
    program: { type: 'string', short: 'p' },
    'data-in': { type: 'string' },
    tier: { type: 'string' },
    batches: { type: 'string' },
    json: { type: 'boolean' },
    out: { type: 'string' },
    baseline: { type: 'string' },
    'max-regression': { type: 'string' },
    ...MSG_OPTIONS,
  }, USAGE);
  if (!r) return 0;
  const [file] = r.positionals;
  if (!file || r.positionals.length > 1) throw new UsageError(USAGE);
  const tier = (r.str('tier') ?? 'auto') as Tier;
  if (!['interp', 'js', 'auto'].includes(tier)) throw new UsageError(`--tier takes interp, js or auto (got "${tier}")`);
  const batches = Number(r.str('batches') ?? '15');
  if (!Number.isInteger(batches) || batches < 3 || batches > 1000) throw new UsageError('--batches takes a whole number from 3 to 1000');
  const maxRegression = Number(r.str('max-regression') ?? '10');
  if (!Number.isFinite(maxRegression) || maxRegression < 0) throw new UsageError('--max-regression takes a percentage ≥ 0');
  if (r.str('max-regression') !== undefined && r.str('baseline') === undefined) throw new UsageError('--max-regression goes with --baseline');

  const bytes = readBytes(file);
  if (!isElf(bytes)) throw new CliError(`${file} is not an ELF object (bpfvm bench takes a clang -target bpf object)`);
  const { loadCollection } = await import('../elf/index.js');
  const { prepareTestRun, TEST_RUN_TYPES, DEFAULT_TEST_INPUT } = await import('../kernel/testrun.js');
  const spec = loadCollection(bytes, { file });
  const name = r.str('program');
  let prog = name !== undefined ? spec.programs.find((p) => p.name === name) : spec.programs.length === 1 ? spec.programs[0] : undefined;
  if (!prog) {
    const list = spec.programs.map((p) => p.name).join(', ') || 'none';
    if (name === undefined) throw new UsageError(`${file} has several programs; choose one with --program (programs: ${list})`);
    throw new CliError(`${file}: no program named "${name}" (programs: ${list})`);
  }
  const social = prog.type === 16 || prog.type === 14;
  if (!TEST_RUN_TYPES.includes(prog.type) && !social) {
    throw new CliError(`${prog.name} is a ${prog.typeName} program; bench runs socket filter, tc, xdp, cgroup skb, sk_msg and sk_skb programs`);
  }
  if (!social) {
    for (const o of ['attach', 'map-slot', 'map-set']) {
      if (r.list(o).length > 0) throw new UsageError(`--${o} is for sk_msg and sk_skb programs; ${prog.name} is a ${prog.typeName} program`);
    }
  }
  const dataInPath = r.str('data-in');

  // One prepared run (program bound once, so the automatic tier compiles once), warmed up, then batches
  // sized to take about 50 ms each. sk_msg: the program runs on fresh copies of one message sent by c1 in the
  // topology bpfvm run builds; sk_skb: on fresh copies of one skb received by p1 (src/kernel/prog-run.ts).
  let runner: { runOnce(): { r0: bigint; insns: number } };
  if (social) {
    const { setupMsgRun, prepareMsgRun, prepareSkbRun, defaultMsgTopology, DEFAULT_MSG_INPUT } = await import('../kernel/prog-run.js');
    if (prog.type === 14 && r.list('attach').length > 0) throw new UsageError('--attach is for sk_msg programs: an sk_skb program runs on its own on one skb');
    const inputs = msgRunInputs(r.list, spec, prog, defaultMsgTopology);
    const data = dataInPath !== undefined ? readBytes(dataInPath) : DEFAULT_MSG_INPUT();
    const setup = setupMsgRun(spec, prog, { tier, mapEntries: inputs.mapEntries, ...(inputs.topology !== undefined ? { topology: inputs.topology } : {}) });
    runner = prog.type === 16 ? prepareMsgRun(setup, data) : prepareSkbRun(setup, data);
  } else {
    const dataIn = dataInPath !== undefined ? readBytes(dataInPath) : DEFAULT_TEST_INPUT();
    runner = prepareTestRun(prog, dataIn, { collection: spec, tier });
  }
  let last = runner.runOnce();
  const w0 = process.hrtime.bigint();
  let warmRuns = 0;
  while (Number(process.hrtime.bigint() - w0) < 300e6 && warmRuns < 1_000_000) {
    last = runner.runOnce();
    warmRuns++;
  }
  const perRun = Math.max(Number(process.hrtime.bigint() - w0) / Math.max(warmRuns, 1), 1);
  const runsPerBatch = Math.max(10, Math.min(10_000_000, Math.round(50e6 / perRun)));
  const times: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < runsPerBatch; k++) last = runner.runOnce();
    times.push(Number(process.hrtime.bigint() - t0) / runsPerBatch);
  }
  const medianNs = median(times);
  const calibrationNs = calibrate(batches);
  const result: BenchResult = {
    file,
    program: prog.name,
    type: prog.typeName,
    tier,
    insnsPerRun: last.insns,
    medianNs,
    nsPerInsn: last.insns > 0 ? medianNs / last.insns : 0,
    batches,
    runsPerBatch,
    calibrationNs,
    ratio: medianNs / calibrationNs,
    retval: Number(last.r0 & 0xffffffffn),
    node: process.version,
  };

  let failures: string[] = [];
  const baselinePath = r.str('baseline');
  let comparison: { baselineRatio: number; regressionPct: number; insnsBaseline: number } | undefined;
  if (baselinePath !== undefined) {
    let base: Partial<BenchResult>;
    try {
      base = JSON.parse(readFileSync(baselinePath, 'utf8')) as Partial<BenchResult>;
    } catch (e) {
      throw new CliError(`cannot read baseline ${baselinePath}: ${(e as Error).message}`);
    }
    if (typeof base.insnsPerRun !== 'number' || typeof base.ratio !== 'number') {
      throw new CliError(`${baselinePath} is not a bpfvm bench --json result (needs insnsPerRun and ratio)`);
    }
    const regressionPct = (result.ratio / base.ratio - 1) * 100;
    comparison = { baselineRatio: base.ratio, regressionPct, insnsBaseline: base.insnsPerRun };
    failures = [];
    if (base.insnsPerRun !== result.insnsPerRun) failures.push(`instructions per run changed: ${base.insnsPerRun} in the baseline, ${result.insnsPerRun} now`);
    if (regressionPct > maxRegression) failures.push(`time relative to the calibration loop grew by ${regressionPct.toFixed(1)}% (limit ${maxRegression}%)`);
  }

  const json = JSON.stringify({ ...result, ...(comparison ? { baseline: comparison, regressions: failures } : {}) }, null, 2) + '\n';
  const outPath = r.str('out');
  if (outPath !== undefined) writeFileSync(outPath, json);
  if (r.bool('json')) process.stdout.write(json);
  else {
    const out = (s: string): void => void process.stdout.write(s + '\n');
    out(`${prog.name} (${prog.typeName}, tier ${tier}): ${result.insnsPerRun} instructions per run, retval ${result.retval}`);
    out(`median ${result.medianNs.toFixed(1)} ns per run, ${result.nsPerInsn.toFixed(2)} ns per instruction (${batches} batches of ${runsPerBatch} runs)`);
    out(`calibration loop ${result.calibrationNs.toFixed(0)} ns; ratio ${result.ratio.toFixed(4)}`);
    if (comparison) {
      out(`baseline ratio ${comparison.baselineRatio.toFixed(4)}: ${comparison.regressionPct >= 0 ? '+' : ''}${comparison.regressionPct.toFixed(1)}%`);
      for (const f of failures) out(`REGRESSION: ${f}`);
      if (failures.length === 0) out('no regression');
    }
  }
  return failures.length > 0 ? 1 : 0;
}
