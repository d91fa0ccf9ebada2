// The verifier log beyond verdicts: BTF line-info source lines (`; <source> @ <file>:<line>`, verbose_linfo) and
// the level-2 live-register dump with its SCC column, checked on fixtures and against the host kernel's own
// log. The kernel's log for an ELF object with BTF comes from `bpftool -d prog loadall` (libbpf loads it with
// BTF and line info at log level 1|2|4 and prints every program's log).

import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import { verify } from '../../verifier/index.js';
import { kernelAvailability, kernelRunBatch } from '../kernel/oracle.js';
import { assemble } from '../../vm/asm.js';

const root = join(import.meta.dirname, '..', '..');
const fixture = (cpu: string, file: string) => loadCollectionFile(join(root, 'fixtures', cpu, file));
const linfoLines = (log: string) => log.split('\n').filter((l) => l.startsWith('; '));
const liveRegsBlock = (log: string) => {
  const lines = log.split('\n');
  const at = lines.indexOf('Live regs before insn:');
  if (at < 0) return [];
  let end = at + 1;
  while (end < lines.length && /^ {0,3}\d* +\d+: /.test(lines[end]!)) end++;
  // lddw operands are map addresses in the kernel's log: compare the rest of the line only
  return lines.slice(at, end).map((l) => l.replace(/\(18\) (r\d+) = .*/, '(18) $1 = MAP'));
};

describe('verifier log: BTF line info and the live-register dump', () => {
  it('prints the source line of each new line-info record before its instruction (pkt_parse.o sock_filter_tcp4)', () => {
    const c = fixture('v3', 'pkt_parse.o');
    const prog = c.programs.find((p) => p.name === 'sock_filter_tcp4')!;
    const log = verify(prog, { maps: c.maps, logLevel: 2 }).log;
    // observed in the host kernel's log (bpftool -d prog loadall fixtures/v3/pkt_parse.o ...)
    expect(linfoLines(log)).toEqual([
      '; int sock_filter_tcp4(struct __sk_buff *skb) @ pkt_parse.bpf.c:75',
      '; if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip))) @ pkt_parse.bpf.c:79',
      '; if ((ip.ver_ihl >> 4) != 4 || ip.protocol != IPPROTO_TCP_) @ pkt_parse.bpf.c:81',
      '; return skb->len; @ pkt_parse.bpf.c:83',
      '; } @ pkt_parse.bpf.c:84',
    ]);
    expect(log).toContain('0: R1=ctx() R10=fp0\n; int sock_filter_tcp4(struct __sk_buff *skb) @ pkt_parse.bpf.c:75\n0: (bf) r7 = r1 ');
    // the record that is still current when another path resumes at insn 14 is not printed again
    expect(log).toContain('\nfrom 12 to 14: ');
    expect(log.split('\n; } @ pkt_parse.bpf.c:84\n').length).toBe(2);
  });

  it('a program without line info logs no source lines', () => {
    const c = fixture('v3', 'pkt_parse.o');
    const prog = c.programs.find((p) => p.name === 'sock_filter_tcp4')!;
    expect(linfoLines(verify({ ...prog, lineInfo: [] }, { maps: c.maps, logLevel: 2 }).log)).toEqual([]);
  });

  it('numbers loops (SCCs) in the live-register dump as the kernel does (bounded_loops.o loop_nested)', () => {
    const c = fixture('v4', 'bounded_loops.o');
    const prog = c.programs.find((p) => p.name === 'loop_nested')!;
    const block = liveRegsBlock(verify(prog, { maps: c.maps, logLevel: 2 }).log);
    // observed on the host kernel: the second loop nest completes first in Tarjan's order, so it is SCC 1
    expect(block).toContain('      8: .123...... (05) goto pc+13');
    expect(block).toContain('  2   9: .1234..... (bf) r5 = r3');
    expect(block).toContain('  2  23: .1234..... (05) goto pc-15');
    expect(block).toContain('  1  24: 0123...... (bf) r4 = r2');
    expect(block).toContain('     34: 0......... (95) exit');
    expect(block).toContain('  1  36: 0123...... (05) goto pc-13');
  });
});

// Programs whose level-2 logs take different paths through the program, so that the sequence of source lines
// differs: none since precision back-tracking and stack liveness.
const KNOWN_LINFO_DIFFS = new Set<string>([]);
// The precision trace (`mark_precise:` back-tracking, `frame N: propagating`, the `safe` lines) of every program
// is the kernel's, line for line; known exceptions:
const KNOWN_PRECISION_DIFFS = new Set<string>([]);
// Whole level-2 logs, without 6.18's stack-liveness debug lines (`(0) frame 0 insn 5 +live -8`, not printed by
// bpfvm), are identical except for the programs listed here (none now). libbpf names a global-data map
// `<first 8 characters of the object name>.bss` (`callback.bss`, `global_d.data`), bpfvm's loader names it after
// its section (`.bss`): the comparison normalises that name (see norm below). callbacks.o (for_each_map_elem
// callbacks verified as frame 1 and re-visited until they converge, timer callbacks, spin-lock regions) is
// compared like every other fixture.
const KNOWN_LOG_DIFFS = new Set<string>([]);
const withoutStackLiveness = (log: string) => log.replace(/^\([\d,]+\) .*\n/gm, '');
const precisionTrace = (log: string) => log.split('\n').filter((l) => /^mark_precise: |^frame \d+: propagating |^force_precise: |: safe$/.test(l));

const avail = kernelAvailability();
const bpftool = spawnSync('bpftool', ['version'], { encoding: 'utf8' });
const bpftoolOk = avail.ok && bpftool.status === 0 && process.getuid?.() === 0 && readdirSync('/sys/fs/bpf', { withFileTypes: true }) !== undefined;
const skipReason = !avail.ok ? avail.reason : bpftool.status !== 0 ? 'bpftool not installed' : 'needs root and /sys/fs/bpf';

describe.skipIf(!bpftoolOk)(`verifier log vs the host kernel's (bpftool, BTF line info)${bpftoolOk ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('live-register dumps are identical and source lines agree outside the known list', { timeout: 120_000 }, () => {
    let programs = 0;
    let identical = 0;
    let sameLinfo = 0;
    let samePrecision = 0;
    let sameModuloLiveness = 0;
    const problems: string[] = [];
    const norm = (s: string) => s.replace(/^verification time \d+ usec\n/m, '').replace(/^stack depth .*\n/m, '')
      .replace(/^(\d+: \(18\) r\d+ = )\S+ *;/gm, '$1MAP ;').replace(/\(18\) (r\d+) = \S+/g, '(18) $1 = MAP')
      .replace(/map=\w{1,8}\.(bss|data|rodata)\b/g, 'map=.$1');
    let n = 0;
    for (const cpu of ['v3', 'v4']) {
      for (const file of readdirSync(join(root, 'fixtures', cpu)).filter((f) => f.endsWith('.o')).sort()) {
        const pin = `/sys/fs/bpf/bpfvm-verify-log-${process.pid}-${n++}`;
        const r = spawnSync('bpftool', ['-d', 'prog', 'loadall', join(root, 'fixtures', cpu, file), pin], { encoding: 'utf8', timeout: 60_000 });
        rmSync(pin, { recursive: true, force: true });
        const logs = new Map<string, string>();
        const re = /libbpf: prog '([^']+)': -- BEGIN PROG LOAD LOG --\n([\s\S]*?)-- END PROG LOAD LOG --/g;
        for (let m; (m = re.exec(r.stderr)); ) logs.set(m[1]!, m[2]!);
        const spec = fixture(cpu, file);
        for (const prog of spec.programs) {
          const k = logs.get(prog.name);
          if (k === undefined) continue; // libbpf stops at the first program the kernel rejects
          programs++;
          const name = `${cpu}/${file}/${prog.name}`;
          const ours = verify(prog, { maps: spec.maps, logLevel: 2 }).log;
          if (norm(k) === norm(ours)) identical++;
          if (withoutStackLiveness(norm(k)) === norm(ours)) sameModuloLiveness++;
          else if (!KNOWN_LOG_DIFFS.has(name)) problems.push(`${name}: level-2 log differs (beyond the stack-liveness debug lines)`);
          const kb = liveRegsBlock(k);
          if (JSON.stringify(kb) !== JSON.stringify(liveRegsBlock(ours))) problems.push(`${name}: live-register dump differs`);
          const pk = precisionTrace(norm(k));
          const po = precisionTrace(norm(ours));
          if (JSON.stringify(pk) === JSON.stringify(po)) samePrecision++;
          else if (!KNOWN_PRECISION_DIFFS.has(name)) problems.push(`${name}: precision trace differs\nkernel ${pk.join('\n')}\nours ${po.join('\n')}`);
          const same = JSON.stringify(linfoLines(k)) === JSON.stringify(linfoLines(ours));
          if (same) sameLinfo++;
          else if (!KNOWN_LINFO_DIFFS.has(name)) problems.push(`${name}: source lines differ\nkernel ${linfoLines(k).join('\n')}\nours ${linfoLines(ours).join('\n')}`);
        }
      }
    }
    console.log(`verifier log vs kernel (level 1|2 with BTF): ${programs} programs, ${identical} logs identical, ` +
      `${sameModuloLiveness} identical without the stack-liveness debug lines, ${sameLinfo} with identical source lines, ` +
      `${samePrecision} with an identical precision trace`);
    expect(programs).toBeGreaterThan(80);
    expect(problems).toEqual([]);
  });
});

// Linked scalars (BPF_ADD_CONST, 64- and 32-bit, negative deltas, SUB) and the ids register copies get: every
// instruction line with a state column that the host kernel prints at level 2 must appear in our log.
const LINKED: string[] = [
  'r2 = *(u32 *)(r1 +0)\nr3 = r2\nr3 += 6\nw4 = w2\nw4 += -6\nif w4 > 0xfffffffd goto out\nr5 = r2\nw5 += 10\nif w5 < 20 goto out',
  'r2 = *(u32 *)(r1 +0)\nw3 = w2\nw3 += -6\nif w3 > 100 goto out\nr0 = r2',
  'r2 = *(u32 *)(r1 +0)\nr3 = r2\nr3 += -6\nr4 = r2\nr4 -= 6\nw5 = w2\nw5 -= 6\nr6 = r2\nr6 -= -2147483648\nr7 = r2\nr7 += 1\nr7 += 1\n' +
    'r8 = r2\nr8 += 1\nw8 += 1\nif r2 > 100 goto out\nr0 = r3\nr0 = r4\nr0 = r5',
  'r2 = *(u32 *)(r1 +0)\nw3 = w2\nw3 += 10\nr4 = r3\nif w2 < 20 goto out\nr0 = r3\nr0 = r4',
  'r2 = *(u32 *)(r1 +0)\nr2 <<= 32\nr3 = *(u32 *)(r1 +0)\nr2 |= r3\nw3 = w2\nw3 += 10\nif r3 > 20 goto out\nr0 = r2',
  'r2 = *(u32 *)(r1 +0)\nr3 = r2\nr3 += -6\nw5 = w2\nw5 += 3\nif r2 > 100 goto out\nif r2 > 50 goto out\nr0 = r3',
  'r2 = *(u32 *)(r1 +0)\nr3 = r2\nr3 += 4\nw5 = w2\nw5 += 3\nif w5 > 100 goto out\nr0 = r2\nr0 = r3',
  'r2 = *(u32 *)(r1 +0)\nw3 = w2\nw3 += 4\nw4 = w3\nr5 = r3\nif w2 > 100 goto out\nr0 = r3',
].map((s) => `${s}\nr0 = 0\nexit\nout:\nr0 = 0\nexit`);

describe.skipIf(!avail.ok)(`linked scalars against the host kernel${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, () => {
  it('32-bit and negative add/sub links, their syncing and register copies print as in the kernel', () => {
    const res = kernelRunBatch(LINKED.map((s) => ({ progType: 1, insns: assemble(s), logLevel: 2 })));
    const stateLines = (log: string) => log.split('\n').filter((l) => /^\d+: \(.*; /.test(l));
    res.forEach((k, i) => {
      expect(k.loaded, k.log).toBe(true);
      const ours = stateLines(verify({ insns: assemble(LINKED[i]!), type: 1 }, { logLevel: 2 }).log);
      for (const line of stateLines(k.log)) expect(ours, `program ${i}`).toContain(line);
    });
  });
});
