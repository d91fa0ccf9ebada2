// `bpfvm run FILE [--program NAME] [--data-in FILE] [--ctx-in FILE] [--data-out FILE] [--ctx-out FILE]
// [--repeat N] [--json] [--tier interp|js|auto]`: one BPF_PROG_TEST_RUN of a program from an object, the way
// `bpftool prog run` does it in the kernel (src/kernel/testrun.ts has the model).

import { writeFileSync } from 'node:fs';
import type { Tier } from '../../vm/interpreter.js';
import type { ProgramSpec } from '../spec.js';
import { CliError, UsageError, isElf, parse, readBytes } from './common.js';

const USAGE = `usage: bpfvm run FILE [--program NAME] [--data-in FILE] [--ctx-in FILE] [--data-out FILE]
                 [--ctx-out FILE] [--repeat N] [--json] [--tier interp|js|auto]

Runs one program of the BPF ELF object FILE like BPF_PROG_TEST_RUN (bpftool prog run): socket_filter,
sched_cls, sched_act, xdp and cgroup_skb programs. --program may be left out when the object has one program.
The packet is --data-in (raw bytes; default 64 zero bytes); --ctx-in is a raw __sk_buff / xdp_md. --data-out
and --ctx-out write what the kernel would copy back (asking for --ctx-out without --ctx-in runs with an
all-zero context, as the kernel does). --repeat N runs N times on the same packet (0 = 1).
Prints "Return value: R, duration: Dns" (" (average)" after duration when N > 1) and one
"bpf_trace_printk: MSG" line per bpf_trace_printk call; --json prints
{ "retval", "duration", "insns", "dataOut", "ctxOut"?, "trace" } instead.`;

const SOCKET_MODEL_TYPES: Record<number, string> = { 13: 'sock_ops', 14: 'sk_skb', 16: 'sk_msg' };
const TIERS: readonly Tier[] = ['interp', 'js', 'auto'];

function hexString(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function writeOut(path: string, data: Uint8Array): void {
  try {
    writeFileSync(path, data);
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const r = parse(argv, {
    program: { type: 'string', short: 'p' },
    'data-in': { type: 'string' },
    'ctx-in': { type: 'string' },
    'data-out': { type: 'string' },
    'ctx-out': { type: 'string' },
    repeat: { type: 'string' },
    json: { type: 'boolean' },
    tier: { type: 'string' },
  }, USAGE);
  if (!r) return 0;
  const [file] = r.positionals;
  if (!file || r.positionals.length > 1) throw new UsageError(USAGE);
  let repeat = 1;
  const rep = r.str('repeat');
  if (rep !== undefined) {
    repeat = /^\d+$/.test(rep) ? Number(rep) : NaN;
    if (!Number.isSafeInteger(repeat) || repeat > 0xffffffff) throw new UsageError('--repeat takes a whole number from 0 to 4294967295');
  }
  const tierArg = r.str('tier');
  if (tierArg !== undefined && !TIERS.includes(tierArg as Tier)) {
    throw new UsageError(`--tier takes ${TIERS.join(', ')} (got "${tierArg}")`);
  }
  const bytes = readBytes(file);
  if (!isElf(bytes)) {
    throw new CliError(`${file} is not a BPF ELF object; bpfvm run runs programs of objects (bpfvm exec runs raw bytecode or assembly)`);
  }
  const { loadCollection } = await import('../elf/index.js');
  const spec = loadCollection(bytes, { file });
  const names = spec.programs.map((p) => p.name).join(', ') || 'none';
  let prog: ProgramSpec | undefined;
  const want = r.str('program');
  if (want !== undefined) {
    prog = spec.programs.find((p) => p.name === want);
    if (!prog) throw new CliError(`${file}: no program named "${want}" (programs: ${names})`);
  } else if (spec.programs.length === 1) {
    prog = spec.programs[0]!;
  } else if (spec.programs.length === 0) {
    throw new CliError(`${file} has no programs`);
  } else {
    throw new UsageError(`${file} has ${spec.programs.length} programs; choose one with --program NAME (programs: ${names})`);
  }
  const social = SOCKET_MODEL_TYPES[prog.type];
  if (social !== undefined) {
    throw new CliError(
      `program ${prog.name} is a ${social} program: ${social} programs run through bpfvm's socket model (sockmap/sockhash, ` +
        `the sk_msg and sk_skb data paths, sock_ops events), which is not available yet; the kernel's BPF_PROG_TEST_RUN does not run them either`,
    );
  }
  const { TEST_RUN_TYPES, testRun, DEFAULT_TEST_INPUT } = await import('../kernel/testrun.js');
  if (!TEST_RUN_TYPES.includes(prog.type)) {
    throw new CliError(`program ${prog.name} is a ${prog.typeName} program; bpfvm run supports socket_filter, sched_cls, sched_act, xdp and cgroup_skb programs`);
  }
  const dataInPath = r.str('data-in');
  const ctxInPath = r.str('ctx-in');
  const dataIn = dataInPath !== undefined ? readBytes(dataInPath) : DEFAULT_TEST_INPUT();
  const ctxIn = ctxInPath !== undefined ? readBytes(ctxInPath) : undefined;
  const ctxOutPath = r.str('ctx-out');
  const res = testRun(prog, dataIn, {
    collection: spec,
    repeat,
    ...(ctxIn !== undefined ? { ctxIn } : {}),
    ...(ctxOutPath !== undefined ? { ctxOut: true } : {}),
    ...(tierArg !== undefined ? { tier: tierArg as Tier } : {}),
  });
  const dataOutPath = r.str('data-out');
  if (dataOutPath !== undefined) writeOut(dataOutPath, res.dataOut);
  if (ctxOutPath !== undefined && res.ctxOut !== undefined) writeOut(ctxOutPath, res.ctxOut);
  if (r.bool('json')) {
    const out: Record<string, unknown> = { retval: res.retval, duration: res.duration, insns: res.insns, dataOut: hexString(res.dataOut) };
    if (res.ctxOut !== undefined) out['ctxOut'] = hexString(res.ctxOut);
    out['trace'] = res.trace;
    process.stdout.write(JSON.stringify(out) + '\n');
  } else {
    let text = `Return value: ${res.retval}, duration${res.repeat > 1 ? ' (average)' : ''}: ${res.duration}ns\n`;
    for (const t of res.trace) text += `bpf_trace_printk: ${t}\n`;
    process.stdout.write(text);
  }
  return 0;
}
