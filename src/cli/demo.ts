// `bpfvm demo`: a tour on the bundled fixtures, no root and no compiler needed.
//  1. load our object with the layout of the kernel's test_sockmap (fixtures/v3/sockmap_layout.o) and list
//     its programs and maps, as `bpfvm inspect` will;
//  2. disassemble its stream parser with the source lines from BTF, in the kernel's syntax;
//  3. run the annotated packet programs of fixtures/v3/pkt_parse.o the way BPF_PROG_TEST_RUN does, on the
//     kernel's default input, and compare each return value with the one the kernel gave (the object's
//     `test_retval` annotation, recorded on Linux 6.18);
//  4. check fixtures/v3/verifier_reject.o with bpfvm's verifier and compare each verdict and message with the
//     one the kernel gave (the object's `test_expect_*` annotations);
//  5. run nine test_sockmap cases (pass, redirect, drop, ingress, apply, cork, pop, push, skb redirect) through
//     the socket model with the layout object — sock_ops fills sock_map, the sk_msg and sk_skb programs move the
//     bytes — and compare every send's return value and the bytes arriving at p2 with what the Linux 6.18 host
//     kernel gave for the same case on real loopback sockets (recorded below).

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatLine } from '../../vm/disasm.js';
import { decode } from '../../vm/isa.js';
import { loadCollectionFile } from '../elf/index.js';
import { testRun } from '../kernel/testrun.js';
import { parseTestAnnotations } from '../selftest/annotations.js';
import { runSockmapCase } from '../sockmap-test/engine.js';
import { defaultCaseOptions, describeCase, type SockmapCaseOptions } from '../sockmap-test/options.js';
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

  out();
  out("== 5. test_sockmap cases on fixtures/v3/sockmap_layout.o through the socket model, against the kernel's results");
  out('  4 sendmsg calls of 3 x 100 bytes from c1; the kernel column was recorded on Linux 6.18 with real loopback sockets');
  let sockSame = 0;
  for (const c of SOCKMAP_CASES) {
    const o: SockmapCaseOptions = { ...defaultCaseOptions(), rate: 4, iovCount: 3, length: 100, dataTest: true, ...c.options };
    const r = runSockmapCase(layout, o, { receive: 'after' });
    const p2 = r.sockets.p2;
    // Pushed bytes are uninitialised page memory in the kernel, so only their count is comparable.
    const ok = r.sends.join(',') === c.sends.join(',') && p2.bytes === c.p2Bytes && (c.p2Fnv === undefined || p2.fnv1a64 === c.p2Fnv);
    if (ok) sockSame++;
    const sends = [...new Set(r.sends)].length === 1 ? `${r.sends.length} x ${r.sends[0]}` : r.sends.join(',');
    out(`  ${c.name.padEnd(8)} ${describeCase(o).padEnd(50)} sends ${sends.padEnd(10)} p2 ${String(p2.bytes).padStart(5)} bytes ${c.p2Fnv === undefined ? '(length only)   ' : p2.fnv1a64}  ${ok ? 'same as the kernel' : `kernel: sends ${c.sends.join(',')} p2 ${c.p2Bytes} bytes ${c.p2Fnv ?? ''}`}`);
  }
  out(`  ${sockSame}/${SOCKMAP_CASES.length} cases equal the kernel's send results and bytes`);
  return agree === total && same === rej.programs.length && sockSame === SOCKMAP_CASES.length ? 0 : 1;
}

interface RecordedSockmapCase {
  name: string;
  options: Partial<SockmapCaseOptions>;
  /** What the host kernel returned for each sendmsg and delivered at p2 (FNV-1a-64 of the bytes). */
  sends: number[];
  p2Bytes: number;
  p2Fnv?: string;
}

const FOUR_SENDS = [300, 300, 300, 300];
const SENT = 'f0acd88c36dc02f5'; // the 1200 bytes test_sockmap's data pattern sends
const SOCKMAP_CASES: RecordedSockmapCase[] = [
  { name: 'pass', options: { txmsg: true }, sends: FOUR_SENDS, p2Bytes: 1200, p2Fnv: SENT },
  { name: 'redir', options: { txmsgRedir: true }, sends: FOUR_SENDS, p2Bytes: 1200, p2Fnv: SENT },
  { name: 'drop', options: { txmsgDrop: true }, sends: [-13, -13, -13, -13], p2Bytes: 0, p2Fnv: 'cbf29ce484222325' },
  { name: 'ingress', options: { txmsgRedir: true, txmsgIngress: true }, sends: FOUR_SENDS, p2Bytes: 1200, p2Fnv: SENT },
  { name: 'apply', options: { txmsg: true, txmsgApply: 10 }, sends: FOUR_SENDS, p2Bytes: 1200, p2Fnv: SENT },
  { name: 'cork', options: { txmsg: true, txmsgCork: 600 }, sends: FOUR_SENDS, p2Bytes: 1200, p2Fnv: SENT },
  { name: 'pop', options: { txmsg: true, txmsgStartPop: 1, txmsgPop: 3 }, sends: FOUR_SENDS, p2Bytes: 1188, p2Fnv: 'd740a2bc061bcee5' },
  { name: 'push', options: { txmsgRedir: true, txmsgStartPush: 1, txmsgEndPush: 4 }, sends: FOUR_SENDS, p2Bytes: 1216 },
  { name: 'skb', options: { txmsgRedirSkb: true }, sends: FOUR_SENDS, p2Bytes: 1200, p2Fnv: SENT },
];
