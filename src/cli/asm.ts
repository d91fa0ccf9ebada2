// `bpfvm asm FILE [-o OUT] [--hex]`: assembles kernel-syntax text into raw bytecode.

import { writeFileSync } from 'node:fs';
import { assemble } from '../../vm/asm.js';
import { CliError, UsageError, hex, parse, readBytes } from './common.js';

const USAGE = `usage: bpfvm asm FILE [-o OUT] [--hex]

Assembles a program written in the kernel's instruction syntax (as printed by verifier logs, bpftool and
\`bpfvm disasm\`) into raw bytecode, 8 bytes per instruction slot. Writes OUT, or hex to standard output.`;

export function main(argv: string[]): number {
  const r = parse(argv, { output: { type: 'string', short: 'o' }, hex: { type: 'boolean' } }, USAGE);
  if (!r) return 0;
  const [file] = r.positionals;
  if (!file || r.positionals.length > 1) throw new UsageError(USAGE);
  const text = new TextDecoder().decode(readBytes(file));
  let code: Uint8Array;
  try {
    code = assemble(text);
  } catch (e) {
    if (e instanceof Error && e.name === 'BpfAsmError') throw new CliError(`${file}: ${e.message}`);
    throw e;
  }
  const output = r.str('output');
  if (output !== undefined && !r.bool('hex')) writeFileSync(output, code);
  else process.stdout.write(hex(code) + '\n');
  return 0;
}
