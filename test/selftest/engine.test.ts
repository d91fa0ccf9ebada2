// The selftest engine on bpfvm's verifier and test run: every annotated fixture passes (or is skipped with a
// reason), and changing an annotation to something the kernel does not do makes exactly that test fail with
// a reason that says what differs.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import { runSelftests, summarize, type TestResult } from '../../src/selftest/engine.js';
import type { CollectionSpec } from '../../src/spec.js';

const root = join(import.meta.dirname, '..', '..');
const fx = (cpu: string, f: string): string => join(root, 'fixtures', cpu, f);

/** The object with the annotations of `program` replaced. */
function withAnnotations(coll: CollectionSpec, program: string, annotations: string[]): CollectionSpec {
  return { ...coll, programs: coll.programs.map((p) => (p.name === program ? { ...p, annotations } : p)) };
}
const one = (coll: CollectionSpec, program: string): TestResult[] => runSelftests(coll, 'x.o', { filter: (t) => t.program === program }).tests;

describe.each(['v3', 'v4'])('fixtures/%s', (cpu) => {
  it('every test of every object passes or is skipped with a reason', () => {
    const dir = join(root, 'fixtures', cpu);
    const files = readdirSync(dir).filter((f) => f.endsWith('.o')).sort().map((f) => runSelftests(loadCollectionFile(join(dir, f)), f));
    const all = files.flatMap((f) => f.tests);
    expect(all.filter((t) => t.status === 'fail').map((t) => `${t.file} ${t.name}: ${t.reason}`)).toEqual([]);
    for (const t of all.filter((x) => x.status === 'skip')) expect(t.reason).toMatch(/\S/);
    const s = summarize(files, 0);
    expect(s.passed).toBeGreaterThanOrEqual(90);
    expect(s.total).toBe(s.passed + s.skipped);
  });
});

describe('selftest_annotations.o', () => {
  const coll = loadCollectionFile(fx('v3', 'selftest_annotations.o'));
  const res = runSelftests(coll, 'selftest_annotations.o').tests;
  const byName = (n: string): TestResult => res.find((t) => t.program === n && t.mode === 'priv') ?? res.find((t) => t.program === n)!;

  it('auxiliary programs are not tests; unprivileged runs are named "@unpriv"', () => {
    expect(res.some((t) => t.program.startsWith('aux_'))).toBe(false);
    expect(res.filter((t) => t.program === 'unpriv_both').map((t) => t.name)).toEqual([
      'unpriv: accepted both ways, retval inherited', 'unpriv: accepted both ways, retval inherited @unpriv',
    ]);
    expect(res.filter((t) => t.program === 'unpriv_only').map((t) => t.mode)).toEqual(['unpriv']);
  });
  it('retvals of socket filter, tc, xdp and cgroup skb runs on the default input', () => {
    expect(byName('rv_socket_len').actual.retval).toBe(50);
    expect(byName('rv_tc_len').actual.retval).toBe(64);
    expect(byName('rv_xdp_len').actual.retval).toBe(64);
    expect(byName('rv_cgskb_len').actual.retval).toBe(1);
    expect(byName('rv_int_min').actual.retval).toBe(-2147483648);
    for (const n of ['rv_socket_len', 'rv_tc_len', 'rv_xdp_len', 'rv_cgskb_len', 'rv_minus_one', 'rv_hex', 'rv_int_min']) expect(byName(n).status).toBe('pass');
  });
  it('privileged and CAP_BPF-only runs differ as the kernel does', () => {
    const leak = res.filter((t) => t.program === 'unpriv_ptr_leak');
    expect(leak.map((t) => [t.status, t.actual.verdict])).toEqual([['pass', 'success'], ['pass', 'failure']]);
    expect(leak[1]!.actual.error?.message).toBe('R0 leaks addr as return value');
  });
  it('what bpfvm does not model is skipped with the reason', () => {
    expect(byName('flag_strict_alignment')).toMatchObject({ status: 'skip', reason: expect.stringMatching(/BPF_F_STRICT_ALIGNMENT are not modelled/) });
    expect(byName('arch_arm64_only')).toMatchObject({ status: 'skip', reason: expect.stringMatching(/only for ARM64/) });
  });

  it('a wrong verdict fails', () => {
    const r = one(withAnnotations(coll, 'ok_level1', ['comment:test_expect_failure']), 'ok_level1');
    expect(r).toMatchObject([{ status: 'fail', reason: 'expected the load to fail, but it succeeded' }]);
    const f = one(withAnnotations(coll, 'fail_regex', ['comment:test_expect_success']), 'fail_regex');
    expect(f[0]!.status).toBe('fail');
    expect(f[0]!.reason).toMatch(/^expected the load to succeed, but it failed: R4 !read_ok$/);
  });
  it('a missing message, a message out of order and an unexpected message fail', () => {
    const base = ['comment:test_expect_failure'];
    const miss = one(withAnnotations(coll, 'fail_uninit_reg', [...base, 'comment:test_expect_msg=1=R6 !read_ok']), 'fail_uninit_reg');
    expect(miss[0]!.reason).toBe('expected message "R6 !read_ok" not found in the verifier log');
    const order = one(withAnnotations(coll, 'fail_uninit_reg', [...base, 'comment:test_expect_msg=1=R5 !read_ok', 'comment:test_expect_msg=2=r0 += r5']), 'fail_uninit_reg');
    expect(order[0]!.reason).toBe('expected message "r0 += r5" not found in the verifier log after the 1 message(s) before it');
    const neg = one(withAnnotations(coll, 'fail_uninit_reg', [...base, 'comment:test_expect_not_msg=1=!read_ok']), 'fail_uninit_reg');
    expect(neg[0]!.reason).toBe('unexpected message "!read_ok" found in the verifier log');
  });
  it('messages of an accepted program need a log level (libbpf asks for no log at level 0)', () => {
    const r = one(withAnnotations(coll, 'ok_level1', ['comment:test_expect_success', 'comment:test_expect_msg=1=processed']), 'ok_level1');
    expect(r[0]!.reason).toMatch(/the log is empty: the load succeeded and __log_level is 0/);
  });
  it('a wrong retval fails with both values', () => {
    const r = one(withAnnotations(coll, 'rv_tc_len', ['comment:test_expect_success', 'comment:test_retval=63']), 'rv_tc_len');
    expect(r[0]).toMatchObject({ status: 'fail', reason: 'retval 64 (0x40), expected 63' });
  });
  it('a malformed annotation fails that program only, naming the tag', () => {
    const res2 = runSelftests(withAnnotations(coll, 'rv_hex', ['comment:test_retval=0xzz']), 'x.o').tests;
    const bad = res2.filter((t) => t.status === 'fail');
    expect(bad).toHaveLength(1);
    expect(bad[0]!.reason).toBe('cannot parse the test annotations: x.o: program rv_hex: annotation "comment:test_retval=0xzz": "0xzz" is not a number, INT_MIN, TEST_DATA_LEN or POINTER_VALUE');
  });
  it('a failing auxiliary program fails the tests it is loaded with', () => {
    const c = withAnnotations(coll, 'fail_regex', ['comment:test_auxiliary']);
    const r = one(c, 'rv_minus_one');
    expect(r[0]!.status).toBe('fail');
    expect(r[0]!.reason).toMatch(/\(auxiliary program fail_regex\): R4 !read_ok/);
  });
  it('__xlated cannot be checked: skipped after the other checks passed', () => {
    const r = one(withAnnotations(coll, 'ok_level1', ['comment:test_expect_success', 'comment:test_expect_xlated=1=r0 = 7']), 'ok_level1');
    expect(r[0]).toMatchObject({ status: 'skip', reason: expect.stringMatching(/__xlated pattern/) });
  });
  it('an sk_msg program with __retval fails like the kernel: no test run for the type', () => {
    const rej = loadCollectionFile(fx('v3', 'verifier_reject.o'));
    const r = one(withAnnotations(rej, 'stale_ptr_unpriv_view', ['comment:test_retval=1']), 'stale_ptr_unpriv_view');
    expect(r[0]).toMatchObject({ status: 'fail', reason: expect.stringMatching(/ENOTSUPP/) });
  });
  it('unprivileged without CAP_BPF: EPERM for a tc program, skipped for a socket filter', () => {
    const c = withAnnotations(coll, 'unpriv_both', ['comment:test_expect_failure_unpriv']);
    expect(one(c, 'unpriv_both')[0]).toMatchObject({ status: 'pass', actual: { verdict: 'failure', error: { message: expect.stringMatching(/EPERM/) } } });
    const s = withAnnotations(coll, 'rv_minus_one', ['comment:test_expect_success_unpriv']);
    expect(one(s, 'rv_minus_one')[0]).toMatchObject({ status: 'skip', reason: expect.stringMatching(/without CAP_BPF/) });
  });
});
