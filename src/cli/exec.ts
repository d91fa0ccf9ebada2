// `bpfvm exec PROGRAM [--mem HEX | --mem-file FILE] [--budget N] [--json]`: runs a raw, hex or assembly
// program in the interpreter with r1 pointing at a writable copy of the memory and r2 holding its length
// (the same convention as the conformance plugin). No helpers are available; use an object and
// `bpfvm run` for programs that need a context, maps or helpers.

import { Vm } from '../../vm/interpreter.js';
import { UsageError, hex, parse, parseHex, readBytes, readProgram } from './common.js';

const USAGE = `usage: bpfvm exec PROGRAM [--mem HEX | --mem-file FILE] [--budget N] [--json]

PROGRAM is raw bytecode, hex, or assembly in the kernel's syntax. r1 = address of the memory, r2 = its
length. Prints r0 and the number of instructions executed.`;

export async function main(argv: string[]): Promise<number> {
  const r = parse(argv, {
    mem: { type: 'string' },
    'mem-file': { type: 'string' },
    budget: { type: 'string' },
    json: { type: 'boolean' },
  }, USAGE);
  if (!r) return 0;
  const [file] = r.positionals;
  if (!file || r.positionals.length > 1) throw new UsageError(USAGE);
  if (r.str('mem') !== undefined && r.str('mem-file') !== undefined) throw new UsageError('give --mem or --mem-file, not both');
  const code = await readProgram(file);
  const memFile = r.str('mem-file');
  const memory = memFile !== undefined ? readBytes(memFile) : parseHex(r.str('mem') ?? '', '--mem');
  let budget: number | undefined;
  if (r.str('budget') !== undefined) {
    budget = Number(r.str('budget'));
    if (!Number.isInteger(budget) || budget <= 0) throw new UsageError('--budget takes a positive whole number');
  }
  const vm = new Vm({ budget });
  const prog = vm.load(code, undefined, file);
  const region = vm.space.map('memory', 'memory', memory.slice(), true);
  const t0 = process.hrtime.bigint();
  const res = vm.run(prog, [memory.length > 0 ? region.address(0) : 0n, BigInt(memory.length)]);
  const ns = Number(process.hrtime.bigint() - t0);
  if (r.bool('json')) {
    process.stdout.write(JSON.stringify({ r0: res.r0.toString(), r0Hex: '0x' + res.r0.toString(16), insns: res.insns, durationNs: ns, memory: hex(region.bytes) }) + '\n');
  } else {
    process.stdout.write(`r0 = ${res.r0} (0x${res.r0.toString(16)})\ninstructions executed: ${res.insns}\nduration: ${(ns / 1000).toFixed(1)} us\n`);
  }
  return 0;
}
