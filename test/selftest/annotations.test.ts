// The selftest annotation parser (src/selftest/annotations.ts): the three tag forms of the kernel's loader,
// retval and flag values, unprivileged inheritance, typed errors for malformed tags, and message matching in
// the loader's order (positive messages in sequence, negative ones between their neighbours).

import { describe, expect, it } from 'vitest';
import {
  BPF_F_ANY_ALIGNMENT, BPF_F_STRICT_ALIGNMENT, BPF_F_TEST_REG_INVARIANTS, BPF_F_TEST_RND_HI32, BpfAnnotationError,
  compileMessage, matchMessages, parseTestAnnotations, type ExpectedMessage,
} from '../../src/selftest/annotations.js';

const parse = (annotations: string[], name = 'prog') => parseTestAnnotations({ name, annotations }, 'obj.o');
const msgs = (...m: (string | [string, 'not'])[]): ExpectedMessage[] =>
  m.map((x) => (typeof x === 'string' ? { text: x, regex: compileMessage(x), negative: false } : { text: x[0], regex: compileMessage(x[0]), negative: true }));

describe('tag forms', () => {
  it('6.8..6.18 form: the "<N>=" counter after the prefix is stripped, BTF order kept', () => {
    const s = parse(['comment:test_expect_failure', 'comment:test_expect_msg=3=R1 type=ctx', 'comment:test_expect_msg=4=second']);
    expect(s.priv!.expectFailure).toBe(true);
    expect(s.priv!.messages.map((m) => m.text)).toEqual(['R1 type=ctx', 'second']);
  });
  it('old form without a counter keeps the whole message', () => {
    expect(parse(['comment:test_expect_msg=R1 type=ctx']).priv!.messages[0]!.text).toBe('R1 type=ctx');
  });
  it('newest form "comment:<N>:tag": counter order, message taken verbatim', () => {
    const s = parse(['comment:12:test_expect_msg=b', 'comment:3:test_expect_failure', 'comment:10:test_expect_msg=7=a']);
    expect(s.priv!.expectFailure).toBe(true);
    expect(s.priv!.messages.map((m) => m.text)).toEqual(['7=a', 'b']);
  });
  it('non-comment decl tags are not test tags; unknown comment tags are listed', () => {
    const s = parse(['kfunc', 'comment:test_something_new=1']);
    expect(s.annotated).toBe(true);
    expect(s.unknownTags).toEqual(['comment:test_something_new=1']);
    expect(parse(['kfunc']).annotated).toBe(false);
  });
});

describe('values', () => {
  it('retval: decimal, 0x-hex truncated to int, INT_MIN, _INT_MIN, TEST_DATA_LEN, POINTER_VALUE', () => {
    expect(parse(['comment:test_retval=42']).priv!.retval).toBe(42);
    expect(parse(['comment:test_retval=-1']).priv!.retval).toBe(-1);
    expect(parse(['comment:test_retval=0xffffffff']).priv!.retval).toBe(-1);
    expect(parse(['comment:test_retval=INT_MIN']).priv!.retval).toBe(-2147483648);
    expect(parse(['comment:7:test_retval=_INT_MIN']).priv!.retval).toBe(-2147483648);
    expect(parse(['comment:test_retval=TEST_DATA_LEN']).priv!.retval).toBe(64);
    expect(parse(['comment:test_retval=POINTER_VALUE']).priv!.retvalAny).toBe(true);
    expect(parse(['comment:test_retval=0xbadcafe']).priv!.retvalAny).toBe(true);
    expect(parse(['comment:test_retval=1']).priv!.execute).toBe(true);
  });
  it('flags: the loader defaults, names, numbers and "!" to clear', () => {
    expect(parse([]).progFlags).toBe(BPF_F_TEST_RND_HI32 | BPF_F_TEST_REG_INVARIANTS);
    const s = parse(['comment:test_prog_flags=BPF_F_STRICT_ALIGNMENT', 'comment:test_prog_flags=0x2', 'comment:test_prog_flags=!BPF_F_TEST_REG_INVARIANTS']);
    expect(s.progFlags).toBe(BPF_F_TEST_RND_HI32 | BPF_F_STRICT_ALIGNMENT | BPF_F_ANY_ALIGNMENT);
  });
  it('log level, description, arch, load mode, caps, auxiliary', () => {
    const s = parse(['comment:test_log_level=2', 'comment:test_description=hello', 'comment:test_arch=ARM64', 'comment:load_mode=jited', 'comment:test_auxiliary']);
    expect(s).toMatchObject({ logLevel: 2, description: 'hello', arch: ['ARM64'], loadMode: 'jited', auxiliary: true });
    expect(s.priv!.description).toBe('hello');
    const u = parse(['comment:test_caps_unpriv=39|12', 'comment:test_expect_success_unpriv']);
    expect(u.unpriv!.caps).toEqual([39, 12]);
    expect(u.priv).toBeNull();
  });
});

describe('modes', () => {
  it('no tag: a privileged run that must load', () => {
    const s = parse([]);
    expect(s.priv).toMatchObject({ name: 'prog', expectFailure: false, execute: false });
    expect(s.unpriv).toBeNull();
  });
  it('the unprivileged run inherits verdict, messages and retval it does not set', () => {
    const s = parse(['comment:test_expect_failure', 'comment:test_expect_msg=1=boom', 'comment:test_retval=3', 'comment:test_expect_msg_unpriv=2=other']);
    expect(s.unpriv).toMatchObject({ name: 'prog @unpriv', expectFailure: true, execute: true, retval: 3 });
    expect(s.unpriv!.messages.map((m) => m.text)).toEqual(['other']);
    const t = parse(['comment:test_expect_success', 'comment:test_expect_msg=1=x', 'comment:test_expect_failure_unpriv']);
    expect(t.unpriv!.expectFailure).toBe(true);
    expect(t.unpriv!.messages.map((m) => m.text)).toEqual(['x']);
  });
  it('__retval_unpriv alone asks only for the unprivileged run', () => {
    const s = parse(['comment:test_retval_unpriv=1']);
    expect(s.priv).toBeNull();
    expect(s.unpriv).toMatchObject({ execute: true, retval: 1 });
  });
  it('__jited is collected only after an x86-64 __arch', () => {
    expect(parse(['comment:test_arch=ARM64', 'comment:test_jited=1=mov x0']).priv!.jited).toBe(0);
    expect(parse(['comment:test_arch=X86_64', 'comment:test_jited=1=endbr64']).priv!.jited).toBe(1);
  });
});

describe('malformed tags are errors naming the file, program and tag', () => {
  const cases: [string, RegExp][] = [
    ['comment:test_retval=12abc', /not a number/],
    ['comment:test_log_level=high', /not a number/],
    ['comment:test_prog_flags=BPF_F_NOPE', /neither a BPF_F_\* flag name nor a number/],
    ['comment:test_arch=PDP11', /unknown architecture "PDP11"/],
    ['comment:test_expect_msg=1=abc{{[0-9]', /opening '\{\{' but no closing/],
    ['comment:test_expect_msg=1={{(}}', /bad regular expression/],
    ['comment:test_caps_unpriv=CAP_BPF', /must be given as its number/],
    ['comment:load_mode=sometimes', /load mode must be/],
    ['comment:test_jited=1=endbr64', /__jited used before __arch_\*/],
    ['comment:test_description', /a value is missing/],
  ];
  it.each(cases)('%s', (tag, detail) => {
    let err: unknown;
    try {
      parse([tag], 'my_prog');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfAnnotationError);
    const e = err as BpfAnnotationError;
    expect(e).toMatchObject({ file: 'obj.o', program: 'my_prog', tag });
    expect(e.message).toContain(`obj.o: program my_prog: annotation "${tag}"`);
    expect(e.message).toMatch(detail);
  });
});

describe('message matching', () => {
  const log = '0: R1=ctx() R10=fp0\n0: (b7) r0 = 0\n1: (0f) r0 += r5\nR5 !read_ok\nprocessed 2 insns (limit 1000000)\n';
  it('positive messages in order, each after the previous match', () => {
    expect(matchMessages(log, msgs('r0 = 0', 'R5 !read_ok', 'processed 2 insns'))).toBeNull();
    expect(matchMessages(log, msgs('R5 !read_ok', 'r0 = 0'))).toMatchObject({ index: 1, problem: 'missing' });
    expect(matchMessages(log, msgs('nothing like this'))).toMatchObject({ index: 0, problem: 'missing' });
  });
  it('{{regex}} parts; the rest literal (brackets, dots, parentheses)', () => {
    expect(matchMessages(log, msgs('R{{[0-9]}} !read_ok', 'processed {{[0-9]+}} insns (limit'))).toBeNull();
    expect(matchMessages(log, msgs('R1=ctx(.'))).not.toBeNull();
    expect(compileMessage('a.b{{x+}}(c)')!.source).toBe('a\\.bx+\\(c\\)');
  });
  it('POSIX classes inside a regex', () => {
    expect(matchMessages(log, msgs('processed {{[[:digit:]]+}} insns'))).toBeNull();
  });
  it('a negative message fails only between its neighbouring positive matches', () => {
    expect(matchMessages(log, msgs('r0 = 0', ['R5 !read_ok', 'not'], 'processed'))).toMatchObject({ index: 1, problem: 'unexpected' });
    // "R1=ctx()" occurs only before the first positive match: allowed
    expect(matchMessages(log, msgs('r0 = 0', ['R1=ctx()', 'not'], 'processed'))).toBeNull();
    // negative message at the end: searched up to the end of the log
    expect(matchMessages(log, msgs('r0 = 0', ['processed', 'not']))).toMatchObject({ index: 1, problem: 'unexpected' });
    expect(matchMessages(log, msgs(['R7', 'not']))).toBeNull();
  });
});
