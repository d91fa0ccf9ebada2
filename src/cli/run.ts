// `bpfvm run FILE [--program NAME] [--data-in FILE] [--ctx-in FILE] [--data-out FILE] [--ctx-out FILE]
// [--repeat N] [--json] [--tier interp|js|auto]`: one BPF_PROG_TEST_RUN of a program from an object, the way
// `bpftool prog run` does it in the kernel (src/kernel/testrun.ts has the model).

import { writeFileSync } from 'node:fs';
import type { Tier } from '../../vm/interpreter.js';
import type { CollectionSpec, ProgramSpec } from '../spec.js';
import type { MsgProgRun } from '../kernel/prog-run.js';
import { toHex } from '../bytes.js';
import { CliError, UsageError, isElf, parse, readBytes, tierOption, type ParsedArgs } from './common.js';
import { MSG_OPTIONS, MSG_OPTIONS_HELP, msgRunInputs } from './msg-options.js';

const USAGE = `usage: bpfvm run FILE [--program NAME] [--data-in FILE] [--ctx-in FILE] [--data-out FILE]
                 [--ctx-out FILE] [--repeat N] [--json] [--tier interp|js|auto]
                 [--attach MAP] [--map-slot MAP:KEY=SOCK] [--map-set MAP:KEY=VALUE]

Runs one program of the BPF ELF object FILE like BPF_PROG_TEST_RUN (bpftool prog run): socket_filter,
sched_cls, sched_act, xdp and cgroup_skb programs. --program may be left out when the object has one program.
The packet is --data-in (raw bytes; default 64 zero bytes); --ctx-in is a raw __sk_buff / xdp_md. --data-out
and --ctx-out write what the kernel would copy back (asking for --ctx-out without --ctx-in runs with an
all-zero context, as the kernel does). --repeat N runs N times on the same packet (0 = 1).
Prints "Return value: R, duration: Dns" (" (average)" after duration when N > 1) and one
"bpf_trace_printk: MSG" line per bpf_trace_printk call and one "ringbuf MAP: HEX" line per ring buffer sample
(what a ring_buffer__consume reader gets after the run); --json prints
{ "retval", "duration", "insns", "dataOut", "ctxOut"?, "trace", "ringbuf": [{ "map", "data" }], "signals"? }
instead ("signals": the { sig, thread } that bpf_send_signal(_thread) sent, when there are any).

${MSG_OPTIONS_HELP}
Prints the return value and duration, the verdict, the redirect target, apply/cork bytes (sk_msg), the bytes
after the program (--data-out writes them) and, for sk_msg, the bytes each socket received; --json adds insns
(and for sk_msg every run of the program during the send).`;

const SOCKET_MODEL_TYPES: Record<number, string> = { 13: 'sock_ops' };

/** Ring buffer samples in --json: [{ "map", "data" (hex) }], in the order a consumer reads them. */
const ringbufJson = (rs: readonly { map: string; data: Uint8Array }[]): { map: string; data: string }[] => rs.map((r) => ({ map: r.map, data: toHex(r.data) }));
/** Ring buffer samples in the text output: one "ringbuf MAP: HEX" line each. */
const ringbufLines = (rs: readonly { map: string; data: Uint8Array }[]): string[] => rs.map((r) => `ringbuf ${r.map}: ${toHex(r.data)}`);

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
    ...MSG_OPTIONS,
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
  const tier = tierOption(r);
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
  if (prog.type === 16 || prog.type === 14) return runMsg(r, spec, prog, repeat, tier);
  const social = SOCKET_MODEL_TYPES[prog.type];
  if (social !== undefined) {
    throw new CliError(
      `program ${prog.name} is a ${social} program: ${social} programs run through bpfvm's socket model (sockmap/sockhash, ` +
        `the sk_msg and sk_skb data paths, sock_ops events), which is not available yet; the kernel's BPF_PROG_TEST_RUN does not run them either`,
    );
  }
  for (const o of ['attach', 'map-slot', 'map-set']) {
    if (r.list(o).length > 0) throw new UsageError(`--${o} is for sk_msg programs; ${prog.name} is a ${prog.typeName} program`);
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
    ...(tier !== undefined ? { tier } : {}),
  });
  const dataOutPath = r.str('data-out');
  if (dataOutPath !== undefined) writeOut(dataOutPath, res.dataOut);
  if (ctxOutPath !== undefined && res.ctxOut !== undefined) writeOut(ctxOutPath, res.ctxOut);
  if (r.bool('json')) {
    const out: Record<string, unknown> = { retval: res.retval, duration: res.duration, insns: res.insns, dataOut: toHex(res.dataOut) };
    if (res.ctxOut !== undefined) out['ctxOut'] = toHex(res.ctxOut);
    out['trace'] = res.trace;
    out['ringbuf'] = ringbufJson(res.ringbuf);
    if (res.signals.length > 0) out['signals'] = res.signals;
    process.stdout.write(JSON.stringify(out) + '\n');
  } else {
    let text = `Return value: ${res.retval}, duration${res.repeat > 1 ? ' (average)' : ''}: ${res.duration}ns\n`;
    for (const t of res.trace) text += `bpf_trace_printk: ${t}\n`;
    for (const l of ringbufLines(res.ringbuf)) text += `${l}\n`;
    process.stdout.write(text);
  }
  return 0;
}

/** bpfvm run for an sk_msg program (one message through the socket model) or an sk_skb program (one skb); src/kernel/prog-run.ts. */
async function runMsg(r: ParsedArgs, spec: CollectionSpec, prog: ProgramSpec, repeat: number, tier: Tier | undefined): Promise<number> {
  for (const o of ['ctx-in', 'ctx-out']) {
    if (r.str(o) !== undefined) {
      throw new UsageError(
        prog.type === 16
          ? `--${o} does not apply to sk_msg programs: struct sk_msg_md is read-only and filled from the sending socket ` +
              `(family, addresses, ports of c1) and the message (data, data_end, size)`
          : `--${o} does not apply to sk_skb programs: the __sk_buff is that of a TCP skb received by p1 over loopback`,
      );
    }
  }
  const { runSkMsg, defaultMsgTopology, DEFAULT_MSG_INPUT } = await import('../kernel/prog-run.js');
  if (prog.type === 14 && r.list('attach').length > 0) throw new UsageError('--attach is for sk_msg programs: an sk_skb program runs on its own on one skb');
  const inputs = msgRunInputs(r.list, spec, prog, defaultMsgTopology);
  const dataInPath = r.str('data-in');
  const data = dataInPath !== undefined ? readBytes(dataInPath) : DEFAULT_MSG_INPUT();
  if (prog.type === 14) return runSkb(r, spec, prog, data, repeat, tier, inputs);
  const res = runSkMsg(spec, prog, socketRunOptions(data, repeat, tier, inputs));
  const dataOutPath = r.str('data-out');
  if (dataOutPath !== undefined) writeOut(dataOutPath, res.dataOut);
  const run = (x: MsgProgRun) => ({ ...x, dataOut: toHex(x.dataOut) });
  if (r.bool('json')) {
    const { runs, sends, delivered, held, unsent, trace, ringbuf, repeat: rep, duration, ...first } = res;
    const out = {
      ...run(first),
      duration,
      repeat: rep,
      runs: runs.map(run),
      sends,
      delivered: Object.fromEntries(Object.entries(delivered).map(([k, v]) => [k, toHex(v)])),
      held,
      unsent,
      trace,
      ringbuf: ringbufJson(ringbuf),
    };
    process.stdout.write(JSON.stringify(out) + '\n');
    return 0;
  }
  const lines = [`Return value: ${res.retval}, duration${res.repeat > 1 ? ' (average)' : ''}: ${res.duration}ns`];
  const rd = res.redirect;
  lines.push(
    `Verdict: ${res.verdict}` +
      (rd ? ` to ${rd.socket} (${rd.map}[${typeof rd.key === 'number' ? rd.key : `0x${rd.key}`}], flags 0x${rd.flags.toString(16)}, ${rd.direction})` : ''),
  );
  lines.push(`apply_bytes: ${res.applyBytes}, cork_bytes: ${res.corkBytes}`);
  lines.push(`Message: ${res.sizeIn} bytes in, ${res.sizeOut} bytes after the program${res.sizeOut === res.sizeIn && toHex(res.dataOut) === toHex(data) ? ' (unchanged)' : ''}`);
  if (res.runs.length > 1) lines.push(`Program runs during the send: ${res.runs.length} (apply_bytes / cork)`);
  lines.push(`send(${data.length} bytes) = ${res.sends[0]!.ret}`);
  const got = Object.entries(res.delivered).filter(([, v]) => v.length > 0);
  lines.push(`Delivered: ${got.length === 0 ? 'nothing' : got.map(([k, v]) => `${k} ${v.length} bytes`).join(', ')}`);
  if (res.held > 0) lines.push(`Held (corked): ${res.held} bytes`);
  for (const [k, n] of Object.entries(res.unsent)) lines.push(`Unsent in ${k}'s TCP write queue: ${n} bytes`);
  for (const t of res.trace) lines.push(`bpf_trace_printk: ${t}`);
  lines.push(...ringbufLines(res.ringbuf));
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

async function runSkb(
  r: ParsedArgs,
  spec: CollectionSpec,
  prog: ProgramSpec,
  data: Uint8Array,
  repeat: number,
  tier: Tier | undefined,
  inputs: ReturnType<typeof msgRunInputs>,
): Promise<number> {
  const { runSkSkbOnce } = await import('../kernel/prog-run.js');
  const res = runSkSkbOnce(spec, prog, socketRunOptions(data, repeat, tier, inputs));
  const dataOutPath = r.str('data-out');
  if (dataOutPath !== undefined) writeOut(dataOutPath, res.dataOut);
  if (r.bool('json')) {
    process.stdout.write(JSON.stringify({ ...res, dataOut: toHex(res.dataOut), ringbuf: ringbufJson(res.ringbuf) }) + '\n');
    return 0;
  }
  const lines = [`Return value: ${res.retval}, duration${res.repeat > 1 ? ' (average)' : ''}: ${res.duration}ns`];
  const rd = res.redirect;
  if (res.role === 'stream_parser') lines.push(`Stream parser: message length ${res.retval | 0} (0 = needs more bytes, < 0 = error)`);
  else {
    lines.push(
      `Verdict: ${res.verdict}` +
        (rd ? ` to ${rd.socket} (${rd.map}[${typeof rd.key === 'number' ? rd.key : `0x${rd.key}`}], flags 0x${rd.flags.toString(16)}, ${rd.direction})` : ''),
    );
  }
  lines.push(`skb: ${res.sizeIn} bytes received by ${res.socket}, ${res.sizeOut} bytes after the program${res.sizeOut === res.sizeIn && toHex(res.dataOut) === toHex(data) ? ' (unchanged)' : ''}`);
  for (const t of res.trace) lines.push(`bpf_trace_printk: ${t}`);
  lines.push(...ringbufLines(res.ringbuf));
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** The options `runSkMsg` and `runSkSkbOnce` share: the input bytes, repeat count, map set-up and tier. */
function socketRunOptions(data: Uint8Array, repeat: number, tier: Tier | undefined, inputs: ReturnType<typeof msgRunInputs>) {
  return {
    data,
    repeat,
    mapEntries: inputs.mapEntries,
    ...(inputs.topology !== undefined ? { topology: inputs.topology } : {}),
    ...(tier !== undefined ? { tier } : {}),
  };
}
