// `bpfvm disasm FILE [--program NAME]`: the kernel's instruction syntax, with source lines from BTF line
// info interleaved (like `bpftool prog dump xlated linum`) when FILE is an object with line info.

import { formatLine } from '../../vm/disasm.js';
import { decode } from '../../vm/isa.js';
import { CliError, UsageError, isElf, parse, readBytes, readProgram } from './common.js';

const USAGE = `usage: bpfvm disasm FILE [--program NAME] [--no-source]

FILE is a BPF ELF object (clang -target bpf), raw bytecode, hex, or assembly text. For objects every
program is printed (or only --program NAME), with source lines from BTF line info where present.`;

export async function main(argv: string[]): Promise<number> {
  const r = parse(argv, { program: { type: 'string', short: 'p' }, 'no-source': { type: 'boolean' } }, USAGE);
  if (!r) return 0;
  const [file] = r.positionals;
  if (!file || r.positionals.length > 1) throw new UsageError(USAGE);
  const bytes = readBytes(file);
  if (!isElf(bytes)) {
    if (r.str('program')) throw new UsageError('--program applies to ELF objects only');
    const code = await readProgram(file);
    for (const insn of decode(code)) process.stdout.write(`${String(insn.pc).padStart(4)}: ${formatLine(insn).replace(/^\d+: /, '')}\n`);
    return 0;
  }
  const { loadCollection } = await import('../elf/index.js');
  const spec = loadCollection(bytes, { file });
  const progs = r.str('program') ? spec.programs.filter((p) => p.name === r.str('program')) : spec.programs;
  if (progs.length === 0) {
    throw new CliError(`${file}: no program named "${r.str('program')}" (programs: ${spec.programs.map((p) => p.name).join(', ') || 'none'})`);
  }
  const withSource = !r.bool('no-source');
  let first = true;
  for (const p of progs) {
    if (!first) process.stdout.write('\n');
    first = false;
    process.stdout.write(`${p.name}: section ${p.section}, type ${p.typeName}\n`);
    const lines = new Map<number, { source: string; file: string; line: number; col: number }>();
    if (withSource) for (const l of p.lineInfo) lines.set(l.insnOff, l);
    const funcs = new Map<number, string>();
    for (const f of p.funcInfo) funcs.set(f.insnOff, f.name);
    for (const insn of decode(p.insns)) {
      const fn = funcs.get(insn.pc);
      if (fn !== undefined && insn.pc !== 0) process.stdout.write(`${fn}:\n`);
      const li = lines.get(insn.pc);
      if (li && li.source) process.stdout.write(`; ${li.source.trim()} @ ${li.file}:${li.line}\n`);
      process.stdout.write(`${String(insn.pc).padStart(4)}: ${formatLine(insn).replace(/^\d+: /, '')}\n`);
    }
  }
  return 0;
}
