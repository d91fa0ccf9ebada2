// The test annotations of BPF selftest-style objects: BTF decl tags on a program's FUNC (component_idx -1),
// as written by the kernel's `tools/testing/selftests/bpf/progs/bpf_misc.h` macros and by our own
// `fixtures/include/bpfvm_test.h`. This module turns a program's tags into a typed TestSpec, the way the
// kernel's selftest loader (test_loader.c) interprets them; `engine.ts` runs the spec.
//
// Tag forms accepted (all versions of the selftest loader we know of):
//  - `comment:test_expect_msg=MSG`            (before Linux 6.8: no counter)
//  - `comment:test_expect_msg=<N>=MSG`        (6.8 .. 6.18: __COUNTER__ after the '=', so identical tags stay
//                                              distinct; the "<N>=" is stripped)
//  - `comment:<N>:test_expect_msg=MSG`        (newer kernels: every tag carries the counter in front; the tags
//                                              are then taken in counter order, i.e. source order)
// Message tags: test_expect_msg, test_expect_not_msg, test_expect_regex (a whole POSIX ERE, 6.8 .. 6.11),
// their _unpriv forms; `{{…}}` inside a message is a regular expression (6.11+). Other tags: success/failure
// (± _unpriv), retval (± _unpriv; a number, 0x-hex, INT_MIN/_INT_MIN, TEST_DATA_LEN, POINTER_VALUE = any),
// description, log_level, prog_flags (names or numbers, `!` clears), auxiliary (± _unpriv), arch, btf_path,
// btf_func_path, caps_unpriv, load_mode, linear_size, xlated/jited/stderr/stdout (± _unpriv).
// A malformed tag (bad number, unknown flag or arch, unterminated `{{`, bad regex) is a BpfAnnotationError
// naming the file, the program and the tag.

import type { ProgramSpec } from '../spec.js';

/** A malformed test annotation: names the file, the program and the tag. */
export class BpfAnnotationError extends Error {
  override name = 'BpfAnnotationError';
  constructor(
    readonly file: string,
    readonly program: string,
    readonly tag: string,
    readonly detail: string,
  ) {
    super(`${file}: program ${program}: annotation "${tag}": ${detail}`);
  }
}

/** One expected (or, with `negative`, forbidden) piece of verifier log text. */
export interface ExpectedMessage {
  /** The pattern as written in the tag. */
  text: string;
  /** Compiled form when the pattern contains `{{regex}}` parts or came from a regex tag; null = substring. */
  regex: RegExp | null;
  /** `test_expect_not_msg`: must not appear (between the neighbouring positive matches). */
  negative: boolean;
}

export interface ModeSpec {
  /** Test name: the program name, plus " @unpriv" for the unprivileged run (as test_progs names subtests). */
  name: string;
  /** `__description` (plus " @unpriv"), when given. */
  description: string | null;
  expectFailure: boolean;
  messages: ExpectedMessage[];
  /** `__xlated` / `__jited` / `__stderr` / `__stdout` patterns (bpfvm cannot check these; the test is skipped). */
  xlated: number;
  jited: number;
  streams: number;
  /** Run with BPF_PROG_TEST_RUN and compare r0 (as a signed 32-bit value) when `execute`. */
  execute: boolean;
  retval: number;
  /** `POINTER_VALUE`: any return value passes. */
  retvalAny: boolean;
  /** The retval tag text as written (for reports). */
  retvalText: string | null;
  /** Capabilities (bit numbers) given back to the unprivileged run by `__caps_unpriv`. */
  caps: number[];
}

export interface TestSpec {
  program: string;
  /** `__description` text, or null. */
  description: string | null;
  /** Privileged run (null when no tag asks for it and some tag asks for the unprivileged one). */
  priv: ModeSpec | null;
  /** Unprivileged run (null when no `_unpriv` tag asks for it). */
  unpriv: ModeSpec | null;
  /** `__log_level`, default 0 (libbpf then asks for a level-1 log only when the load fails). */
  logLevel: number;
  /** BPF_F_* program flags: the selftest loader's defaults (RND_HI32 | REG_INVARIANTS) with `__flag`s applied. */
  progFlags: number;
  /** `__auxiliary` / `__auxiliary_unpriv`: loaded with every test of its mode, not a test itself. */
  auxiliary: boolean;
  /** `__arch_*` names; empty = any architecture. */
  arch: string[];
  /** `__load_if_JITed` / `__load_if_no_JITed`. */
  loadMode: 'jited' | 'no_jited' | null;
  btfPath: string | null;
  btfFuncPath: string | null;
  /** `__linear_size` (skb types: the linear part of the test-run packet). */
  linearSize: number | null;
  /** True when at least one test tag was present. */
  annotated: boolean;
  /** `comment:` tags this parser does not know (ignored, as the kernel's loader ignores them). */
  unknownTags: string[];
}

export const BPF_F_STRICT_ALIGNMENT = 1 << 0;
export const BPF_F_ANY_ALIGNMENT = 1 << 1;
export const BPF_F_TEST_RND_HI32 = 1 << 2;
export const BPF_F_TEST_STATE_FREQ = 1 << 3;
export const BPF_F_SLEEPABLE = 1 << 4;
export const BPF_F_XDP_HAS_FRAGS = 1 << 5;
export const BPF_F_XDP_DEV_BOUND_ONLY = 1 << 6;
export const BPF_F_TEST_REG_INVARIANTS = 1 << 7;

/** Flag names `__flag` accepts. */
export const PROG_FLAG_NAMES: Readonly<Record<string, number>> = {
  BPF_F_STRICT_ALIGNMENT, BPF_F_ANY_ALIGNMENT, BPF_F_TEST_RND_HI32, BPF_F_TEST_STATE_FREQ, BPF_F_SLEEPABLE,
  BPF_F_XDP_HAS_FRAGS, BPF_F_XDP_DEV_BOUND_ONLY, BPF_F_TEST_REG_INVARIANTS,
};

/** The flags the selftest loader starts from (testing_prog_flags() on a kernel that knows both). */
export const DEFAULT_TEST_PROG_FLAGS = BPF_F_TEST_RND_HI32 | BPF_F_TEST_REG_INVARIANTS;

/** `__arch_*` values. */
export const ARCH_NAMES = ['X86_64', 'ARM64', 'RISCV64', 's390x', 'LOONGARCH', 'POWERPC64'] as const;

/** Linux capability numbers used with `__caps_unpriv`. */
export const CAP_NET_ADMIN = 12;
export const CAP_SYS_ADMIN = 21;
export const CAP_PERFMON = 38;
export const CAP_BPF = 39;

/** Magic `__retval` values of bpf_misc.h. */
export const TEST_DATA_LEN = 64;
const POINTER_VALUES = new Set([0xcafe4a, 0xbadcafe]);

// Tags whose value is a message list: the counter after '=' (6.8..6.18 form) is stripped.
const MSG_TAGS = new Set([
  'test_expect_msg', 'test_expect_msg_unpriv', 'test_expect_not_msg', 'test_expect_not_msg_unpriv',
  'test_expect_regex', 'test_expect_regex_unpriv', 'test_expect_xlated', 'test_expect_xlated_unpriv',
  'test_jited', 'test_jited_unpriv', 'test_expect_stderr', 'test_expect_stderr_unpriv', 'test_expect_stdout',
  'test_expect_stdout_unpriv',
]);

interface RawTag {
  /** The decl tag as stored in BTF. */
  tag: string;
  /** Tag name (`test_expect_msg`, `load_mode`, …). */
  key: string;
  /** Text after `key=` (null for flag-like tags without '='). */
  value: string | null;
}

/** Splits the program's decl tags into test tags, in the order the selftest loader uses. */
function rawTags(annotations: readonly string[]): RawTag[] {
  const counted: { n: number; idx: number; body: string; tag: string }[] = [];
  const plain: { body: string; tag: string; counterForm: boolean }[] = [];
  annotations.forEach((tag, idx) => {
    if (!tag.startsWith('comment:')) return;
    const m = /^comment:(\d+):(.*)$/s.exec(tag);
    if (m) counted.push({ n: Number(m[1]), idx, body: m[2]!, tag });
    else plain.push({ body: tag.slice('comment:'.length), tag, counterForm: false });
  });
  counted.sort((a, b) => a.n - b.n || a.idx - b.idx);
  const out: RawTag[] = [];
  const add = (body: string, tag: string, newest: boolean): void => {
    const eq = body.indexOf('=');
    const key = eq < 0 ? body : body.slice(0, eq);
    let value = eq < 0 ? null : body.slice(eq + 1);
    if (!newest && value !== null && MSG_TAGS.has(key)) {
      // 6.8 .. 6.18: "<N>=" follows the prefix (a consumer strips up to the first '=' after it).
      const c = /^\d+=/.exec(value);
      if (c) value = value.slice(c[0].length);
    }
    out.push({ tag, key, value });
  };
  for (const p of plain) add(p.body, p.tag, false);
  for (const c of counted) add(c.body, c.tag, true);
  return out;
}

/** strtol-like parse of `__log_level` / `__flag` / `__linear_size` numbers: decimal or 0x-hex, whole string, truncated to int. */
function parseIntTag(text: string): number | null {
  const t = text.trim();
  let v: bigint;
  if (/^0x[0-9a-f]+$/i.test(t)) v = BigInt(t);
  else if (/^[+-]?\d+$/.test(t)) v = BigInt(t);
  else return null;
  return Number(BigInt.asIntN(32, v));
}

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'A-Za-z', digit: '0-9', alnum: '0-9A-Za-z', upper: 'A-Z', lower: 'a-z', space: ' \\t\\n\\r\\f\\v',
  xdigit: '0-9A-Fa-f', punct: '!-\\/:-@\\[-`{-~', blank: ' \\t', cntrl: '\\x00-\\x1f\\x7f', print: ' -~', graph: '!-~',
};

/** A POSIX extended regular expression as a JavaScript one (classes like [[:digit:]] translated). */
function posixToJs(re: string): string {
  return re.replace(/\[:(\w+):\]/g, (m, name: string) => POSIX_CLASSES[name] ?? m);
}

/**
 * Compiles a message pattern: verbatim text with `{{regex}}` parts (the selftest loader's syntax). Returns null
 * for a plain substring. Throws a string describing the problem for malformed patterns.
 */
export function compileMessage(pattern: string, wholeRegex = false): RegExp | null {
  let src: string;
  if (wholeRegex) {
    src = posixToJs(pattern);
  } else {
    if (!pattern.includes('{{')) return null;
    src = '';
    let i = 0;
    let inRe = false;
    while (i < pattern.length) {
      if (!inRe && pattern.startsWith('{{', i)) {
        inRe = true;
        i += 2;
        continue;
      }
      if (inRe && pattern.startsWith('}}', i)) {
        inRe = false;
        i += 2;
        continue;
      }
      if (inRe) {
        const close = pattern.indexOf('}}', i);
        const part = close < 0 ? pattern.slice(i) : pattern.slice(i, close);
        src += posixToJs(part);
        i += part.length;
        continue;
      }
      const ch = pattern[i]!;
      src += '.[]\\()*+?{}|^$/'.includes(ch) ? `\\${ch}` : ch;
      i++;
    }
    if (inRe) throw new Error(`regular expression has an opening '{{' but no closing '}}'`);
  }
  try {
    // REG_NEWLINE: '.' and [^…] do not cross lines, ^ and $ match at line boundaries.
    return new RegExp(src, 'm');
  } catch (e) {
    throw new Error(`bad regular expression /${src}/: ${(e as Error).message}`);
  }
}

function emptyMode(name: string, description: string | null): ModeSpec {
  return { name, description, expectFailure: false, messages: [], xlated: 0, jited: 0, streams: 0, execute: false, retval: 0, retvalAny: false, retvalText: null, caps: [] };
}

/** The value of `__retval`: number, 0x-hex, INT_MIN, TEST_DATA_LEN, or POINTER_VALUE (any). */
function parseRetval(text: string): { value: number; any: boolean } | null {
  if (text === 'INT_MIN' || text === '_INT_MIN') return { value: -0x80000000, any: false };
  if (text === 'TEST_DATA_LEN') return { value: TEST_DATA_LEN, any: false };
  if (text === 'POINTER_VALUE') return { value: 0, any: true };
  const v = parseIntTag(text);
  if (v === null) return null;
  return { value: v, any: POINTER_VALUES.has(v) };
}

/**
 * Parses the test annotations of one program. `file` is used in error messages only.
 * Programs without any test tag get a spec with `annotated: false` (privileged success expected, as the
 * kernel's loader assumes).
 */
export function parseTestAnnotations(prog: Pick<ProgramSpec, 'name' | 'annotations'>, file = '<object>'): TestSpec {
  const bad = (t: RawTag, detail: string): never => {
    throw new BpfAnnotationError(file, prog.name, t.tag, detail);
  };
  const priv = emptyMode(prog.name, null);
  const unpriv = emptyMode(`${prog.name} @unpriv`, null);
  let privMode = false;
  let unprivMode = false;
  let hasUnprivResult = false;
  let hasUnprivRetval = false;
  let description: string | null = null;
  const spec: TestSpec = {
    program: prog.name, description: null, priv: null, unpriv: null, logLevel: 0, progFlags: DEFAULT_TEST_PROG_FLAGS,
    auxiliary: false, arch: [], loadMode: null, btfPath: null, btfFuncPath: null, linearSize: null, annotated: false,
    unknownTags: [],
  };
  const msg = (t: RawTag, m: ModeSpec, negative: boolean, wholeRegex = false): void => {
    if (t.value === null) bad(t, 'a message is missing');
    let regex: RegExp | null;
    try {
      regex = compileMessage(t.value!, wholeRegex);
    } catch (e) {
      return bad(t, (e as Error).message);
    }
    m.messages.push({ text: t.value!, regex, negative });
  };
  const need = (t: RawTag): string => (t.value === null ? bad(t, 'a value is missing') : t.value);

  for (const t of rawTags(prog.annotations)) {
    spec.annotated = true;
    switch (t.key) {
      case 'test_description': description = need(t); break;
      case 'test_expect_failure': priv.expectFailure = true; privMode = true; break;
      case 'test_expect_success': priv.expectFailure = false; privMode = true; break;
      case 'test_expect_failure_unpriv': unpriv.expectFailure = true; unprivMode = true; hasUnprivResult = true; break;
      case 'test_expect_success_unpriv': unpriv.expectFailure = false; unprivMode = true; hasUnprivResult = true; break;
      case 'test_auxiliary': spec.auxiliary = true; privMode = true; break;
      case 'test_auxiliary_unpriv': spec.auxiliary = true; unprivMode = true; break;
      case 'test_expect_msg': msg(t, priv, false); privMode = true; break;
      case 'test_expect_not_msg': msg(t, priv, true); privMode = true; break;
      case 'test_expect_regex': msg(t, priv, false, true); privMode = true; break;
      case 'test_expect_msg_unpriv': msg(t, unpriv, false); unprivMode = true; break;
      case 'test_expect_not_msg_unpriv': msg(t, unpriv, true); unprivMode = true; break;
      case 'test_expect_regex_unpriv': msg(t, unpriv, false, true); unprivMode = true; break;
      case 'test_expect_xlated': need(t); priv.xlated++; privMode = true; break;
      case 'test_expect_xlated_unpriv': need(t); unpriv.xlated++; unprivMode = true; break;
      case 'test_jited':
      case 'test_jited_unpriv':
        need(t);
        if (spec.arch.length === 0) bad(t, '__jited used before __arch_*');
        // Only collected when the last __arch_* is the host's; bpfvm stands for an x86-64 host.
        if (spec.arch[spec.arch.length - 1] === 'X86_64') {
          if (t.key === 'test_jited') { priv.jited++; privMode = true; } else { unpriv.jited++; unprivMode = true; }
        }
        break;
      case 'test_expect_stderr': case 'test_expect_stdout': need(t); priv.streams++; break;
      case 'test_expect_stderr_unpriv': case 'test_expect_stdout_unpriv': need(t); unpriv.streams++; break;
      case 'test_retval':
      case 'test_retval_unpriv': {
        const text = need(t);
        const r = parseRetval(text);
        if (!r) bad(t, `"${text}" is not a number, INT_MIN, TEST_DATA_LEN or POINTER_VALUE`);
        const m = t.key === 'test_retval' ? priv : unpriv;
        m.execute = true;
        m.retval = r!.value;
        m.retvalAny = r!.any;
        m.retvalText = text;
        if (t.key === 'test_retval') privMode = true;
        else { unprivMode = true; hasUnprivRetval = true; }
        break;
      }
      case 'test_log_level': {
        const v = parseIntTag(need(t));
        if (v === null) bad(t, `"${t.value}" is not a number`);
        spec.logLevel = v!;
        break;
      }
      case 'test_prog_flags': {
        let v = need(t);
        const clear = v.startsWith('!');
        if (clear) v = v.slice(1);
        const f = PROG_FLAG_NAMES[v] ?? parseIntTag(v);
        if (f === null || f === undefined) bad(t, `"${v}" is neither a BPF_F_* flag name nor a number`);
        spec.progFlags = clear ? spec.progFlags & ~f! : spec.progFlags | f!;
        break;
      }
      case 'test_arch': {
        const v = need(t);
        if (!(ARCH_NAMES as readonly string[]).includes(v)) bad(t, `unknown architecture "${v}" (known: ${ARCH_NAMES.join(', ')})`);
        spec.arch.push(v);
        break;
      }
      case 'test_btf_path': spec.btfPath = need(t); break;
      case 'test_btf_func_path': spec.btfFuncPath = need(t); break;
      case 'test_caps_unpriv': {
        const v = need(t);
        for (const part of v.split('|')) {
          const p = part.trim();
          if (p.startsWith('CAP_')) bad(t, `${p} must be given as its number (bpf_misc.h defines CAP_* constants)`);
          const n = parseIntTag(p);
          if (n === null || n <= 0 || n > 63) bad(t, `"${p}" is not a capability number`);
          if (!unpriv.caps.includes(n!)) unpriv.caps.push(n!);
        }
        unprivMode = true;
        break;
      }
      case 'load_mode': {
        const v = need(t);
        if (v !== 'jited' && v !== 'no_jited') bad(t, `load mode must be "jited" or "no_jited", not "${v}"`);
        spec.loadMode = v as 'jited' | 'no_jited';
        break;
      }
      case 'test_linear_size': {
        const v = parseIntTag(need(t));
        if (v === null) bad(t, `"${t.value}" is not a number`);
        spec.linearSize = v;
        break;
      }
      default:
        spec.unknownTags.push(t.tag);
    }
  }
  if (!privMode && !unprivMode) privMode = true;
  spec.description = description;
  if (description !== null) {
    priv.description = description;
    unpriv.description = `${description} @unpriv`;
  }
  // The unprivileged run inherits what it does not set itself.
  if (!hasUnprivResult) unpriv.expectFailure = priv.expectFailure;
  if (!hasUnprivRetval) {
    unpriv.execute = priv.execute;
    unpriv.retval = priv.retval;
    unpriv.retvalAny = priv.retvalAny;
    unpriv.retvalText = priv.retvalText;
  }
  if (unpriv.messages.length === 0) unpriv.messages = priv.messages.map((m) => ({ ...m }));
  if (unpriv.xlated === 0) unpriv.xlated = priv.xlated;
  if (unpriv.jited === 0) unpriv.jited = priv.jited;
  if (unpriv.streams === 0) unpriv.streams = priv.streams;
  spec.priv = privMode ? priv : null;
  spec.unpriv = unprivMode ? unpriv : null;
  return spec;
}

/** Display name of a run: the description when given, else the program name ("… @unpriv" for unprivileged). */
export function displayName(m: ModeSpec): string {
  return m.description ?? m.name;
}

/**
 * Finds the expected messages in a verifier log the way the selftest loader does: positive patterns in order,
 * each searched from the end of the previous match; a negative pattern must not occur between the positive
 * matches around it. Returns null when all hold, else a description of the first problem.
 */
export function matchMessages(log: string, messages: readonly ExpectedMessage[]): { index: number; problem: 'missing' | 'unexpected'; message: ExpectedMessage } | null {
  const find = (m: ExpectedMessage, from: number): { start: number; end: number } | null => {
    if (!m.regex) {
      const at = log.indexOf(m.text, from);
      return at < 0 ? null : { start: at, end: at + m.text.length };
    }
    const re = new RegExp(m.regex.source, m.regex.flags.includes('g') ? m.regex.flags : m.regex.flags + 'g');
    re.lastIndex = from;
    const r = re.exec(log);
    return r ? { start: r.index, end: r.index + r[0].length } : null;
  };
  const spans: ({ start: number; end: number } | null)[] = messages.map(() => null);
  let pos = 0;
  messages.forEach((m, i) => {
    if (m.negative) return;
    const s = find(m, pos);
    if (s) {
      spans[i] = s;
      pos = s.end;
    }
  });
  let spanStart = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (!m.negative) {
      const s = spans[i];
      if (!s) return { index: i, problem: 'missing', message: m };
      spanStart = s.end;
      continue;
    }
    let end = log.length;
    for (let j = i + 1; j < messages.length; j++) {
      if (!messages[j]!.negative) {
        end = spans[j]?.start ?? log.length;
        break;
      }
    }
    const s = find(m, spanStart);
    if (s && s.end <= end) return { index: i, problem: 'unexpected', message: m };
  }
  return null;
}
