// The command line, run as users run it: the compiled dist/ entry point (npm test builds it first).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const main = join(root, 'dist', 'src', 'cli', 'main.js');
const bpfvm = (args: string[], input?: string) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', input });
const tmp = mkdtempSync(join(tmpdir(), 'bpfvm-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('bpfvm CLI', () => {
  it('--version prints the package version', () => {
    const r = bpfvm(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^bpfvm \d+\.\d+\.\d+\n$/);
  });
  it('an unknown command is a usage error (exit 2) that lists the commands', () => {
    const r = bpfvm(['frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
    expect(r.stderr).toMatch(/conformance-plugin/);
  });
  it('an unknown option is a usage error', () => {
    const r = bpfvm(['disasm', '--bogus', 'x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bogus/);
  });

  describe('conformance-plugin', () => {
    // r0 = *(u32 *)(r1 + 0); r0 += r2; exit
    const prog = '61 10 00 00 00 00 00 00 0f 20 00 00 00 00 00 00 95 00 00 00 00 00 00 00';
    it('reads the program from stdin and the memory from the first argument, prints r0 in hex', () => {
      const r = bpfvm(['conformance-plugin', '01 02 03 04'], prog + '\n');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toBe((0x04030201 + 4).toString(16) + '\n');
    });
    it('accepts --program and no memory', () => {
      const r = bpfvm(['conformance-plugin', '--program', 'b7 00 00 00 ff ff ff ff 95 00 00 00 00 00 00 00']);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('ffffffffffffffff\n');
    });
    it('a fault exits non-zero with a message', () => {
      const r = bpfvm(['conformance-plugin', '01'], prog + '\n');
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/BpfMemoryFault: pc 0: invalid load of 4 bytes/);
    });
    it('malformed bytecode exits non-zero naming the pc', () => {
      const r = bpfvm(['conformance-plugin', '--program', 'ff 00 00 00 00 00 00 00']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/pc 0: unknown opcode 0xff/);
    });
    it('provides the suite helpers (gather_bytes)', () => {
      // r1..r5 = 1..5; call 0; exit
      const p = [1, 2, 3, 4, 5].map((k) => `b7 0${k} 00 00 0${k} 00 00 00`).join(' ') + ' 85 00 00 00 00 00 00 00 95 00 00 00 00 00 00 00';
      const r = bpfvm(['conformance-plugin', '--program', p]);
      expect(r.stdout).toBe('102030405\n');
    });
  });

  it('asm and disasm read each other\'s output', () => {
    const dir = mkdtempSync(join(tmp, 'case-'));
    const src = join(dir, 'p.s');
    writeFileSync(src, 'r0 = 0\nif r1 > 0x5 goto pc+1\nr0 = 1\nexit\n');
    const bin = join(dir, 'p.bin');
    expect(bpfvm(['asm', src, '-o', bin]).status).toBe(0);
    const d = bpfvm(['disasm', bin]);
    expect(d.stdout).toBe('   0: (b7) r0 = 0\n   1: (25) if r1 > 0x5 goto pc+1\n   2: (b7) r0 = 1\n   3: (95) exit\n');
  });
  it('asm reports the line of a syntax error', () => {
    const dir = mkdtempSync(join(tmp, 'case-'));
    const src = join(dir, 'bad.s');
    writeFileSync(src, 'r0 = 0\nr0 +== 1\nexit\n');
    const r = bpfvm(['asm', src]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/line 2: cannot parse instruction/);
  });
  it('exec runs a program on memory and reports r0 and the instruction count', () => {
    const dir = mkdtempSync(join(tmp, 'case-'));
    const src = join(dir, 'sum.s');
    writeFileSync(src, 'r0 = *(u8 *)(r1 +0)\nr3 = *(u8 *)(r1 +1)\nr0 += r3\nexit\n');
    const r = bpfvm(['exec', src, '--mem', '28 02', '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { r0: string; insns: number };
    expect(j.r0).toBe('42');
    expect(j.insns).toBe(4);
  });
  it('disasm of an object prints each program with source lines', () => {
    const r = bpfvm(['disasm', join(root, 'fixtures', 'v3', 'pkt_parse.o'), '--program', 'tc_len']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^tc_len: section classifier, type sched_cls\n/);
    expect(r.stdout).toMatch(/; .* @ \.\/src\/pkt_parse\.bpf\.c:\d+\n/);
    expect(r.stdout).toMatch(/\(95\) exit\n$/);
  });
  it('disasm of a missing program names the ones that exist', () => {
    const r = bpfvm(['disasm', join(root, 'fixtures', 'v3', 'pkt_parse.o'), '--program', 'nope']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no program named "nope" \(programs: .*tc_len/);
  });
  it('inspect lists programs, maps, BTF and annotations', () => {
    const r = bpfvm(['inspect', join(root, 'fixtures', 'v3', 'sockmap_layout.o')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/license "Dual MIT\/GPL"/);
    expect(r.stdout).toMatch(/bpf_prog1\s+sk_skb\/stream_parser\s+sk_skb\s+sk_skb_stream_parser\s+14\n/);
    expect(r.stdout).toMatch(/sock_map\s+sockmap\s+4\s+4\s+20\s+0x0/);
    expect(r.stdout).toMatch(/^BTF: \d+ types \(.*STRUCT \d+.*\); func info \d+, line info \d+/m);
  });
  it('inspect --json gives the same facts as data', () => {
    const r = bpfvm(['inspect', join(root, 'fixtures', 'v3', 'verifier_reject.o'), '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { programs: { name: string; type: string; typeId: number; annotations: string[] }[]; maps: { name: string }[] };
    const p = j.programs.find((x) => x.name === 'msg_stale_pkt_ptr')!;
    expect(p.type).toBe('sk_msg');
    expect(p.typeId).toBe(16);
    expect(p.annotations).toContain('comment:test_expect_failure');
  });
  it('inspect of a file that is not an object is a typed loader error', () => {
    const dir = mkdtempSync(join(tmp, 'case-'));
    const f = join(dir, 'junk.o');
    writeFileSync(f, 'not an elf file at all');
    const r = bpfvm(['inspect', f]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^bpfvm: BpfLoadError: /);
  });
  it('a missing file is a clear error', () => {
    const r = bpfvm(['disasm', '/nonexistent.o']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('bpfvm: cannot read /nonexistent.o: no such file\n');
  });
  it('demo runs and agrees with the kernel', () => {
    const r = bpfvm(['demo']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/(\d+)\/\1 return values equal the kernel's/);
    expect(r.stdout).toMatch(/(\d+)\/\1 verdicts equal the kernel's/);
    expect(r.stdout).toContain("9/9 cases equal the kernel's send results and bytes");
  });
});
