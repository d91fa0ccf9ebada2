// `bpfvm demo`: a tour on the bundled fixtures, no root and no compiler needed.
//  1. load our object with the layout of the kernel's test_sockmap (fixtures/v3/sockmap_layout.o) and list
//     its programs and maps, as `bpfvm inspect` will;
//  2. disassemble its stream parser with the source lines from BTF, in the kernel's syntax;
//  3. run the annotated packet programs of fixtures/v3/pkt_parse.o the way BPF_PROG_TEST_RUN does, on the
//     kernel's default input, and compare each return value with the one the kernel gave (the object's
//     `test_retval` annotation, recorded on Linux 6.18);
//  4. check fixtures/v3/verifier_reject.o with bpfvm's verifier and compare each verdict and message with the
//     one the kernel gave (the object's `test_expect_*` annotations).

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatLine } from '../../vm/disasm.js';
import { decode } from '../../vm/isa.js';
import { loadCollectionFile } from '../elf/index.js';
import { testRun } from '../kernel/testrun.js';
import { parseTestAnnotations } from '../selftest/annotations.js';
import { verify } from '../../verifier/index.js';
import { CliError } from './common.js';

function fixturesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 5; k++) {
    if (existsSync(join(dir, 'fixtures', 'v3'))) return join(dir, 'fixtures');
    dir = dirname(dir);
  }
  throw new CliError('cannot find the bundled fixtures folder');
}

export function main(argv: string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: bpfvm demo\n\nA tour of bpfvm on the bundled fixture objects.\n');
    return 0;
  }
  const fx = fixturesDir();
  const out = (s = ''): void => void process.stdout.write(s + '\n');

  const layoutPath = join(fx, 'v3', 'sockmap_layout.o');
  const layout = loadCollectionFile(layoutPath);
  out(`== 1. ${layoutPath.slice(fx.length - 'fixtures'.length)}: an object with test_sockmap's layout (license "${layout.license}")`);
  for (const p of layout.programs) out(`  program ${p.name.padEnd(12)} section ${p.section.padEnd(22)} type ${p.typeName.padEnd(8)} ${p.insns.length / 8} insns`);
  for (const m of layout.maps) out(`  map     ${m.name.padEnd(18)} ${m.typeName.padEnd(8)} key ${m.keySize} value ${m.valueSize} max_entries ${m.maxEntries}`);

  const parser = layout.programs.find((p) => p.name === 'bpf_prog1');
  if (parser) {
    out();
    out(`== 2. bpf_prog1 (${parser.section}), disassembled with source lines`);
    const lines = new Map(parser.lineInfo.map((l) => [l.insnOff, l] as const));
    for (const insn of decode(parser.insns)) {
      const li = lines.get(insn.pc);
      if (li?.source) out(`  ; ${li.source.trim()} @ ${li.file}:${li.line}`);
      out(`  ${String(insn.pc).padStart(4)}: ${formatLine(insn).replace(/^\d+: /, '')}`);
    }
  }

  out();
  const pktPath = join(fx, 'v3', 'pkt_parse.o');
  const pkt = loadCollectionFile(pktPath);
  out('== 3. fixtures/v3/pkt_parse.o run like BPF_PROG_TEST_RUN on 64 zero bytes, against the kernel\'s retval');
  let agree = 0;
  let total = 0;
  for (const p of pkt.programs) {
    const mode = parseTestAnnotations(p, pktPath).priv;
    if (!mode?.execute) continue;
    const expected = mode.retval;
    try {
      const r = testRun(p, undefined, { collection: pkt });
      total++;
      const ok = r.retval === expected;
      if (ok) agree++;
      out(`  ${p.name.padEnd(18)} ${p.typeName.padEnd(14)} retval ${String(r.retval).padStart(4)}  kernel ${String(expected).padStart(4)}  ${ok ? 'same' : 'DIFFERENT'}  (${r.insns} insns)`);
    } catch (e) {
      out(`  ${p.name.padEnd(18)} ${p.typeName.padEnd(14)} not run: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  out(`  ${agree}/${total} return values equal the kernel's`);

  out();
  const rejPath = join(fx, 'v3', 'verifier_reject.o');
  const rej = loadCollectionFile(rejPath);
  out("== 4. fixtures/v3/verifier_reject.o through bpfvm's verifier, against the kernel's recorded verdicts");
  let same = 0;
  for (const p of rej.programs) {
    const mode = parseTestAnnotations(p, rejPath).priv;
    const expectFail = mode?.expectFailure ?? false;
    const expected = mode?.messages.find((m) => !m.negative)?.text ?? null;
    const r = verify({ ...p, license: rej.license }, { maps: rej.maps });
    const ours = r.ok ? 'accepted' : `rejected: ${r.error?.message ?? ''}`;
    const kernel = expectFail ? `rejected: ${expected ?? '?'}` : 'accepted';
    if (ours === kernel) same++;
    out(`  ${p.name.padEnd(30)} ${ours.padEnd(60)} ${ours === kernel ? 'same as the kernel' : `kernel: ${kernel}`}`);
  }
  out(`  ${same}/${rej.programs.length} verdicts equal the kernel's`);
  return agree === total && same === rej.programs.length ? 0 : 1;
}
