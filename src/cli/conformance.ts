// `bpfvm conformance-plugin`: the plugin protocol of the public bpf_conformance suite.
//   stdin (first line) or --program HEX: the program as hex bytes;
//   first positional argument: the input memory as hex bytes (may be absent or empty);
//   r1 = address of a copy of that memory, r2 = its length; r0 is printed in hex (no 0x) on success;
//   any failure (bad program, fault, budget) prints a message and exits non-zero.
// The suite's helper functions are provided with the ids its other plugins use: 0 gather_bytes, 1 memfrob,
// 2 no_op, 3 sqrti, 4 strcmp_ext, 5 unwind (returning 0 from unwind ends the program with r0 = 0).

import { readFileSync } from 'node:fs';
import { Vm, type HelperFn } from '../../vm/interpreter.js';
import { CliError, UsageError, parseHex } from './common.js';

const USAGE = `usage: bpfvm conformance-plugin [MEMORY_HEX] [--program HEX] [--interpret|--jit] [--elf]

Runs one program for the bpf_conformance suite: the program's hex bytes come from --program or the first
line of standard input, the memory from the first argument. Prints r0 in hex.`;

function conformanceHelpers(): (HelperFn | undefined)[] {
  const h: (HelperFn | undefined)[] = [];
  const arg = (vm: Vm, k: number): bigint => vm.reg(k);
  h[0] = (vm) => {
    const b = (k: number): bigint => arg(vm, k) & 0xffn;
    vm.setR0Big((b(1) << 32n) | (b(2) << 24n) | (b(3) << 16n) | (b(4) << 8n) | b(5));
  };
  h[1] = (vm, pc) => {
    const len = Number(arg(vm, 2) & 0xffffffffn);
    const bytes = vm.space.read(pc, vm.lo[1]!, vm.hi[1]!, len);
    for (let i = 0; i < bytes.length; i++) bytes[i]! ^= 42;
    vm.space.write(pc, vm.lo[1]!, vm.hi[1]!, bytes);
    vm.setR0(0, 0);
  };
  h[2] = (vm) => vm.setR0(0, 0);
  h[3] = (vm) => {
    // Integer square root of an unsigned 64-bit value, truncated, as (uint64_t)sqrt((double)a).
    vm.setR0Big(BigInt(Math.floor(Math.sqrt(Number(arg(vm, 1))))));
  };
  h[4] = (vm, pc) => {
    const str = (k: number): Uint8Array => {
      const out: number[] = [];
      for (let i = 0; i < 65536; i++) {
        const lo = (vm.lo[k]! + i) | 0;
        const c = vm.space.read(pc, lo, vm.hi[k]!, 1)[0]!;
        if (c === 0) break;
        out.push(c);
      }
      return Uint8Array.from(out);
    };
    const a = str(1);
    const b = str(2);
    let r = 0;
    for (let i = 0; ; i++) {
      const x = i < a.length ? a[i]! : 0;
      const y = i < b.length ? b[i]! : 0;
      if (x !== y || x === 0) {
        r = x - y;
        break;
      }
    }
    vm.setR0Int(r);
  };
  h[5] = (vm) => {
    vm.setR0(vm.lo[1]!, vm.hi[1]!);
    if (vm.lo[1] === 0 && vm.hi[1] === 0) vm.stop();
  };
  return h;
}

export async function main(argv: string[]): Promise<number> {
  let memHex = '';
  let progHex: string | undefined;
  const args = [...argv];
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (args.length > 0 && !args[0]!.startsWith('--')) memHex = args.shift()!;
  while (args.length > 0) {
    const a = args.shift()!;
    if (a === '--program') {
      progHex = args.shift();
      if (progHex === undefined) throw new UsageError(`--program needs a value\n\n${USAGE}`);
    } else if (a === '--interpret' || a === '--jit') {
      // Both tiers give identical results; the interpreter is used.
    } else if (a === '--elf') {
      throw new CliError('ELF input is not supported by the conformance plugin; give the program as raw hex');
    } else if (a !== '') {
      throw new UsageError(`invalid argument: ${a}\n\n${USAGE}`);
    }
  }
  if (progHex === undefined) {
    const input = readFileSync(0, 'utf8');
    progHex = input.split('\n')[0] ?? '';
  }
  const code = parseHex(progHex, 'program');
  const memory = parseHex(memHex, 'memory');
  try {
    const vm = new Vm({ helpers: conformanceHelpers() });
    const prog = vm.load(code);
    let args2: bigint[] = [0n, 0n];
    if (memory.length > 0) {
      const region = vm.space.map('memory', 'memory', memory, true);
      args2 = [region.address(0), BigInt(memory.length)];
    }
    const r = vm.run(prog, args2);
    process.stdout.write(r.r0.toString(16) + '\n');
    return 0;
  } catch (e) {
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    process.stderr.write(msg + '\n');
    process.stdout.write(`Failed: ${msg}\n`);
    return 1;
  }
}
