// `bpfvm test`: one line per test, the summary line, exit status, --json fields, --junit XML, --filter, -v.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const main = join(root, 'dist', 'src', 'cli', 'main.js');
const bpfvm = (args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
const fx = (f: string): string => join(root, 'fixtures', 'v3', f);
const tmp = mkdtempSync(join(tmpdir(), 'bpfvm-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Minimal XML well-formedness check: balanced elements, quoted attributes, no raw '<' or '&' in text. */
function checkXml(xml: string): { name: string; attrs: Record<string, string>; depth: number }[] {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const elems: { name: string; attrs: Record<string, string>; depth: number }[] = [];
  const re = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(body))) {
    pos = re.lastIndex;
    if (m[5] !== undefined) {
      expect(m[5]).not.toMatch(/&(?!(amp|lt|gt|quot|apos|#\d+);)/);
      continue;
    }
    const [, close, name, attrText, self] = m;
    if (close) {
      expect(stack.pop()).toBe(name);
      continue;
    }
    const attrs = Object.fromEntries([...attrText!.matchAll(/([\w:.-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!]));
    elems.push({ name: name!, attrs, depth: stack.length });
    if (!self) stack.push(name!);
  }
  expect(pos).toBe(body.length);
  expect(stack).toEqual([]);
  return elems;
}

describe('bpfvm test', () => {
  it('one PASS/SKIP line per test, a summary line, exit 0 when nothing fails', () => {
    const r = bpfvm(['test', fx('selftest_annotations.o'), fx('pkt_parse.o')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain(`PASS  ${fx('selftest_annotations.o')}  retval: tc sees data_end - data = TEST_DATA_LEN`);
    expect(lines).toContain(`PASS  ${fx('selftest_annotations.o')}  unpriv: uninitialised stack read @unpriv`);
    expect(lines.some((l) => l.startsWith(`SKIP  ${fx('selftest_annotations.o')}  skip: only for arm64: only for ARM64`))).toBe(true);
    expect(lines.every((l) => /^(PASS|SKIP)  /.test(l) || l.startsWith('summary: '))).toBe(true);
    expect(lines[lines.length - 1]).toMatch(/^summary: \d+ passed, 0 failed, 2 skipped \(\d+ tests in 2 files\) in \d+\.\d\d s$/);
  });
  it('a failing test: FAIL line with the reason, exit 1, -v prints the expectations and the log', () => {
    // An object whose annotation the kernel does not satisfy: the fixture, with one tag changed in the bytes.
    const bytes = readFileSync(fx('selftest_annotations.o'));
    const from = Buffer.from('comment:test_retval=TEST_DATA_LEN');
    const at = bytes.indexOf(from);
    expect(at).toBeGreaterThan(0);
    const patched = Buffer.from(bytes);
    patched.write('comment:test_retval=63\0', at, 'latin1');
    const f = join(tmp, 'patched.o');
    writeFileSync(f, patched);
    const r = bpfvm(['test', f, '-v', '--filter', 'rv_tc_len']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`FAIL  ${f}  retval: tc sees data_end - data = TEST_DATA_LEN: retval 64 (0x40), expected 63`);
    expect(r.stdout).toMatch(/summary: 0 passed, 1 failed, 0 skipped \(1 tests in 1 file\)/);
    const m = bytes.indexOf(Buffer.from('=R5 !read_ok'));
    expect(m).toBeGreaterThan(0);
    patched.write('=R6', m, 'latin1');
    writeFileSync(f, patched);
    const v = bpfvm(['test', f, '-v', '--filter', 'fail_uninit_reg']);
    expect(v.status).toBe(1);
    expect(v.stdout).toContain('expected message "R6 !read_ok" not found in the verifier log');
    expect(v.stdout).toContain('        expected message: "R6 !read_ok"');
    expect(v.stdout).toMatch(/^ {8}verifier log:\n {10}0: R1=ctx\(\) R10=fp0$/m);
  });
  it('--filter: substring or glob on the test name, program name or description; repeatable', () => {
    const r = bpfvm(['test', fx('selftest_annotations.o'), '--filter', 'rv_*_len', '--filter', 'leaks', '--filter', 'uninit_stack']);
    const names = r.stdout.trim().split('\n').filter((l) => !l.startsWith('summary')).map((l) => l.split('  ')[2]);
    expect(names).toEqual([
      'retval: socket filter sees skb->len 50', 'unpriv: uninitialised stack read', 'unpriv: uninitialised stack read @unpriv',
      'retval: tc sees data_end - data = TEST_DATA_LEN', 'retval: xdp sees 64 bytes', 'retval: cgroup skb sees skb->len 50 (returns 1 if so)',
    ]);
    const u = bpfvm(['test', fx('selftest_annotations.o'), '--filter', 'unpriv_b*@unpriv']);
    expect(u.stdout.trim().split('\n').filter((l) => !l.startsWith('summary')).map((l) => l.split('  ')[2])).toEqual(['unpriv: accepted both ways, retval inherited @unpriv']);
  });
  it('--json: { files, tests, summary } with the documented fields', () => {
    const r = bpfvm(['test', fx('verifier_reject.o'), '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { files: { file: string; error: string | null }[]; tests: Record<string, unknown>[]; summary: Record<string, number> };
    expect(j.files).toEqual([{ file: fx('verifier_reject.o'), error: null, durationMs: expect.any(Number) }]);
    expect(j.summary).toMatchObject({ passed: 14, failed: 0, skipped: 0, total: 14, files: 1, fileErrors: 0 });
    const t = j.tests.find((x) => x['name'] === 'uninitialised stack read (privilege dependent) @unpriv')!;
    expect(Object.keys(t).sort()).toEqual(['actual', 'durationMs', 'expected', 'file', 'mode', 'name', 'program', 'reason', 'status', 'type']);
    expect(t).toMatchObject({
      program: 'uninit_stack_read', mode: 'unpriv', type: 'socket_filter', status: 'pass', reason: null,
      expected: { verdict: 'failure', messages: [{ text: 'invalid read from stack R10 off=-8 size=8', negative: false, regex: false }], retval: null },
      actual: { verdict: 'failure', error: { message: 'invalid read from stack R10 off=-8 size=8' }, retval: null },
    });
  });
  it('--junit FILE: a testsuite per object, a testcase per test, skipped and failure elements', () => {
    const out = join(tmp, 'junit.xml');
    const bad = join(tmp, 'not-elf.o');
    writeFileSync(bad, 'hello');
    const r = bpfvm(['test', fx('selftest_annotations.o'), bad, '--junit', out]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`FAIL  ${bad}: cannot load the object: ${bad} is not an ELF object`);
    const xml = readFileSync(out, 'utf8');
    const el = checkXml(xml);
    expect(el[0]).toMatchObject({ name: 'testsuites', depth: 0, attrs: { errors: '1', failures: '0' } });
    const suites = el.filter((e) => e.name === 'testsuite');
    expect(suites.map((s) => s.attrs['name'])).toEqual([fx('selftest_annotations.o'), bad]);
    expect(suites[0]!.attrs).toMatchObject({ skipped: '2', failures: '0', errors: '0' });
    const cases = el.filter((e) => e.name === 'testcase');
    expect(Number(suites[0]!.attrs['tests'])).toBe(cases.filter((c) => c.attrs['classname'] === fx('selftest_annotations.o')).length);
    expect(el.filter((e) => e.name === 'skipped').map((e) => e.attrs['message'])).toContain('only for ARM64 (bpfvm stands for an x86-64 host)');
    expect(el.some((e) => e.name === 'error' && e.attrs['message']!.includes('is not an ELF object'))).toBe(true);
    expect(xml).toContain('name="retval: socket filter sees skb-&gt;len 50"');
  });
  it('usage: --help, no file, unknown option', () => {
    const h = bpfvm(['test', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/^usage: bpfvm test FILE\.\.\. \[--json\] \[--junit FILE\] \[--filter PATTERN\] \[-v\]/);
    expect(bpfvm(['test']).status).toBe(2);
    expect(bpfvm(['test', fx('pkt_parse.o'), '--nope']).status).toBe(2);
    expect(bpfvm(['--help']).stdout).toMatch(/^\s+test\s+run the selftest annotations/m);
  });
});
