// `bpfvm test`: the kernel selftest loader (tools/testing/selftests/bpf/test_loader.c) re-done on bpfvm's
// verifier and test run. Per object, every program that is not `__auxiliary` is a test; it runs privileged
// and/or unprivileged as its annotations say (see annotations.ts). One run:
//   1. load the program with the object's maps and the auxiliary programs of that mode, in object order, the
//      way libbpf does (the first program that fails ends the load; log level 0 means "no log unless the load
//      fails, then a level-1 log");
//   2. check the verdict (`__success` / `__failure`), then the expected messages in the tested program's log
//      (in order; `__not_msg` absent between its neighbours; `{{regex}}` parts);
//   3. when `__retval` is given and the load was expected to succeed: BPF_PROG_TEST_RUN with 64 zero bytes of
//      data and a 256-byte data_out buffer (the loader's defaults), retval compared as a signed 32-bit value.
// What bpfvm does not model is reported as a skip with the reason, never guessed: program types, kfuncs,
// features the verifier reports as not modelled, `__xlated`/`__jited`, stream output, some flags, truly
// unprivileged loads (no CAP_BPF), JIT-dependent load modes, custom BTF.
//
// The load and the run go through a `SelftestBackend`, so the same checks can run against the host kernel
// (test/kernel/selftest-kernel.test.ts does that for our fixtures).

import { verify } from '../../verifier/index.js';
import { BpfExecutionError } from '../../vm/errors.js';
import { BpfTestRunError, TEST_RUN_TYPES, testRun } from '../kernel/testrun.js';
import type { CollectionSpec, MapSpec, ProgramSpec } from '../spec.js';
import {
  BPF_F_ANY_ALIGNMENT, BPF_F_TEST_REG_INVARIANTS, BPF_F_TEST_RND_HI32, BpfAnnotationError, CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON, CAP_SYS_ADMIN, PROG_FLAG_NAMES,
  displayName, matchMessages, parseTestAnnotations, type ModeSpec, type TestSpec,
} from './annotations.js';

export type TestStatus = 'pass' | 'fail' | 'skip';

/** Verifier profile of one load: root, or CAP_BPF (+ CAP_NET_ADMIN) without CAP_PERFMON / CAP_SYS_ADMIN. */
export type Privilege = 'root' | 'bpf';

export interface TestResult {
  file: string;
  program: string;
  /** Display name: the description (or program name), with " @unpriv" for unprivileged runs. */
  name: string;
  mode: 'priv' | 'unpriv';
  type: string;
  status: TestStatus;
  /** Why it failed or was skipped (null for a pass). */
  reason: string | null;
  expected: { verdict: 'success' | 'failure'; messages: { text: string; negative: boolean; regex: boolean }[]; retval: number | 'any' | null };
  actual: { verdict: 'success' | 'failure' | null; error: { pc: number; message: string } | null; retval: number | null; log: string };
  durationMs: number;
}

export interface FileResult {
  file: string;
  /** The object could not be loaded at all (no tests then). */
  error: string | null;
  tests: TestResult[];
  durationMs: number;
}

export interface LoadRequest {
  collection: CollectionSpec;
  /** Programs to load, in object order (the tested program and the auxiliary ones of this mode). */
  programs: ProgramSpec[];
  target: ProgramSpec;
  /** null = root (the privileged run); else the capabilities the unprivileged run keeps (`__caps_unpriv`). */
  caps: number[] | null;
  /** Log level to ask for (1 or 2; the engine handles libbpf's level-0 rule). */
  logLevel: 1 | 2;
  progFlags: number;
}

export interface LoadOutcome {
  /** Every program loaded. */
  loaded: boolean;
  /** The tested program's log ('' when it was not reached). */
  log: string;
  /** The tested program's rejection, or the first failing program's. */
  error: { pc: number; message: string } | null;
  /** Name of the program that failed (may be an auxiliary one). */
  failedProgram: string | null;
  /** The backend cannot model this load: the test is skipped with this reason. */
  skip?: string;
}

export interface RunOutcome {
  /** r0 as BPF_PROG_TEST_RUN reports it (u32). */
  retval?: number;
  /** The run failed as the kernel's would (errno name and detail). */
  error?: string;
  /** The backend cannot run it: skip with this reason. */
  skip?: string;
}

export interface SkipQuery {
  spec: TestSpec;
  mode: ModeSpec;
  unpriv: boolean;
  target: ProgramSpec;
  /** The programs loaded together (target and auxiliary ones), in object order. */
  programs: ProgramSpec[];
  collection: CollectionSpec;
}

export interface SelftestBackend {
  /** Why this backend cannot do this test at all (checked before loading), or null. */
  cannot(q: SkipQuery): string | null;
  load(req: LoadRequest): LoadOutcome;
  /** BPF_PROG_TEST_RUN of the loaded target: 64 zero bytes in, a 256-byte data_out buffer, repeat 1. */
  run(req: LoadRequest): RunOutcome;
}

/** Default input of the selftest loader's test run. */
export const SELFTEST_DATA_IN = 64;
export const SELFTEST_DATA_OUT = 256;

const ENOTSUPP_TYPES = new Set([9, 13, 14, 16, 18, 19, 21]); // cgroup_sock, sock_ops, sk_skb, sk_msg, sock_addr, seg6local, reuseport
const NET_ADMIN_TYPES = new Set([3, 4, 6, 10, 11, 12, 19, 14, 16, 22, 15, 9, 18, 25, 23, 13, 28, 32]);
const UNPRIV_MAP_TYPES = new Set([1, 5, 13, 21, 2, 27, 3, 8, 6, 31, 12, 19, 4]); // is_unpriv_capable_map
const BPF_F_ZERO_SEED = 1 << 6;

/** bpfvm's own backend: `verify()` for loads, `testRun()` for runs. */
export const bpfvmBackend: SelftestBackend = {
  cannot: bpfvmCannot,
  load(req) {
    const refusal = capRefusal(req.caps, req.target);
    if (refusal) return { loaded: false, log: '', error: { pc: 0, message: refusal }, failedProgram: req.target.name };
    const privileged = privilegeOf(req.caps) === 'root';
    let log = '';
    for (const p of req.programs) {
      const r = verify({ ...p, license: req.collection.license }, { logLevel: req.logLevel, privileged, maps: req.collection.maps });
      if (p === req.target) log = r.log;
      if (!r.ok) {
        const msg = r.error?.message ?? '';
        if (/\bbpfvm\b/.test(msg)) return { loaded: false, log, error: r.error, failedProgram: p.name, skip: `${p === req.target ? '' : `auxiliary program ${p.name}: `}${msg}` };
        return { loaded: false, log, error: r.error, failedProgram: p.name };
      }
    }
    return { loaded: true, log, error: null, failedProgram: null };
  },
  run(req) {
    const prog = req.target;
    if (!TEST_RUN_TYPES.includes(prog.type)) {
      if (ENOTSUPP_TYPES.has(prog.type)) return { error: `BPF_PROG_TEST_RUN fails with ENOTSUPP: ${prog.typeName} programs have no test run in the kernel` };
      return { skip: `BPF_PROG_TEST_RUN of ${prog.typeName} programs is not modelled by bpfvm` };
    }
    try {
      // Tail calls reach only the programs the loader loaded (the tested one and the auxiliary ones).
      const r = testRun(prog, new Uint8Array(SELFTEST_DATA_IN), { collection: { ...req.collection, programs: req.programs } });
      if (r.dataOut.length > SELFTEST_DATA_OUT) return { error: `BPF_PROG_TEST_RUN fails with ENOSPC: data_out needs ${r.dataOut.length} bytes, the loader gives ${SELFTEST_DATA_OUT}` };
      return { retval: r.retval };
    } catch (e) {
      if (e instanceof BpfTestRunError) return { error: e.message };
      if ((e instanceof BpfExecutionError || (e as Error).name === 'BpfMapNotModelledError') && /does not provide|not supported|not modelled/.test((e as Error).message)) {
        return { skip: (e as Error).message };
      }
      return { error: `${(e as Error).name}: ${(e as Error).message}` };
    }
  },
};

export interface RunSelftestsOptions {
  /** Keep only these runs: `name` = display name (description or program, "… @unpriv"), `program` = function name. */
  filter?: (t: { name: string; program: string; mode: 'priv' | 'unpriv' }) => boolean;
  backend?: SelftestBackend;
}

function mapsReferenced(progs: ProgramSpec[], maps: MapSpec[]): MapSpec[] {
  const out = new Set<MapSpec>();
  for (const p of progs) {
    for (let o = 0; o + 8 <= p.insns.length; o += 8) {
      const src = p.insns[o + 1]! >> 4;
      if (p.insns[o] === 0x18 && (src === 5 || src === 6 || src === 1 || src === 2)) {
        const idx = new DataView(p.insns.buffer, p.insns.byteOffset + o + 4, 4).getInt32(0, true);
        const m = maps[idx];
        if (m) out.add(m);
        o += 8;
      }
    }
  }
  return [...out];
}

/** Why bpfvm cannot load this program (its type, kfuncs, kernel symbols), or null; `who` prefixes the text. */
function unsupportedReason(p: ProgramSpec, who: string): string | null {
  if (p.unsupported) return `${who}program type ${p.typeName} is not modelled by bpfvm`;
  if (p.loadError) return `${who}${p.loadError}`;
  const kf = p.externs?.find((e) => e.kind === 'kfunc');
  if (kf) return `${who}calls kfunc ${kf.name} (kfuncs are not modelled by bpfvm)`;
  const ex = p.externs?.[0];
  if (ex) return `${who}uses ${ex.kind} ${ex.name} (kernel symbols are not modelled by bpfvm)`;
  return null;
}

function flagNames(flags: number): string {
  const names = Object.entries(PROG_FLAG_NAMES).filter(([, v]) => flags & v).map(([n]) => n);
  const rest = flags & ~Object.values(PROG_FLAG_NAMES).reduce((a, b) => a | b, 0);
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.join(' | ');
}

/** The reason bpfvm cannot run this mode at all, or null. */
function bpfvmCannot({ spec, mode, unpriv, target, programs: progs, collection: coll }: SkipQuery): string | null {
  if (spec.loadMode) return `__load_if_${spec.loadMode === 'jited' ? 'JITed' : 'no_JITed'}: JIT-dependent verifier behaviour is not modelled by bpfvm`;
  if (spec.btfPath || spec.btfFuncPath) return `__btf_path: relocation against a custom BTF file is not modelled by bpfvm`;
  if (spec.linearSize !== null) return `__linear_size: non-linear test-run packets are not modelled by bpfvm`;
  // No effect on verdict, log or retval on an x86-64 host: ANY_ALIGNMENT, TEST_RND_HI32, TEST_REG_INVARIANTS (below).
  const unmodelledFlags = spec.progFlags & ~(BPF_F_ANY_ALIGNMENT | BPF_F_TEST_RND_HI32 | BPF_F_TEST_REG_INVARIANTS);
  if (unmodelledFlags) return `program flags ${flagNames(unmodelledFlags)} are not modelled by bpfvm's verifier`;
  // Log level 4 adds "verification time" and "stack depth" lines, which bpfvm's verifier does not print.
  if (spec.logLevel & 4 && mode.messages.some((m) => /verification time|stack depth/.test(m.text))) {
    return `log level ${spec.logLevel}: the verifier statistics lines (stack depth, verification time) are not modelled by bpfvm`;
  }
  for (const p of progs) {
    const r = unsupportedReason(p, p === target ? '' : `auxiliary program ${p.name}: `);
    if (r) return r;
  }
  if (unpriv) {
    if (!capabilities(mode.caps).bpf) {
      // Without CAP_BPF only socket filters and cgroup skb programs load; the others fail with EPERM (handled by
      // the caller); the truly unprivileged verifier itself is not modelled.
      if (target.type === 1 || target.type === 8) return 'unprivileged load without CAP_BPF: the unprivileged verifier is not modelled by bpfvm (add __caps_unpriv(CAP_BPF|CAP_NET_ADMIN) for the CAP_BPF profile)';
    }
    const bad = mapsReferenced(progs, coll.maps).find((m) => !UNPRIV_MAP_TYPES.has(m.type) || ((m.type === 1 || m.type === 5 || m.type === 13) && m.flags & BPF_F_ZERO_SEED));
    if (bad) return `unprivileged run: the loader does not create map ${bad.name} (${bad.typeName}) and libbpf poisons its references; not modelled by bpfvm`;
  }
  return null;
}

/** What a capability set grants, as the kernel's capability checks read it (CAP_SYS_ADMIN stands for all three). */
function capabilities(capList: readonly number[]): { bpf: boolean; netAdmin: boolean; perfmon: boolean } {
  const caps = new Set(capList);
  const sys = caps.has(CAP_SYS_ADMIN);
  return { bpf: sys || caps.has(CAP_BPF), netAdmin: sys || caps.has(CAP_NET_ADMIN), perfmon: sys || caps.has(CAP_PERFMON) };
}

/** The kernel's load-time refusal before the verifier runs (EPERM, no log), or null. */
export function capRefusal(capList: number[] | null, target: ProgramSpec): string | null {
  if (capList === null) return null;
  const { bpf, netAdmin } = capabilities(capList);
  if (!bpf && target.type !== 1 && target.type !== 8) return `BPF_PROG_LOAD fails with EPERM: ${target.typeName} programs need CAP_BPF`;
  if (NET_ADMIN_TYPES.has(target.type) && !netAdmin) return `BPF_PROG_LOAD fails with EPERM: ${target.typeName} programs need CAP_NET_ADMIN`;
  return null;
}

/** The verifier profile of a capability set (null = root). */
export function privilegeOf(capList: number[] | null): Privilege {
  if (capList === null) return 'root';
  const { bpf, perfmon } = capabilities(capList);
  return bpf && perfmon ? 'root' : 'bpf';
}

function runOne(file: string, coll: CollectionSpec, specs: Map<ProgramSpec, TestSpec>, target: ProgramSpec, spec: TestSpec, unpriv: boolean, backend: SelftestBackend): TestResult {
  const t0 = performance.now();
  const mode = (unpriv ? spec.unpriv : spec.priv)!;
  const result: TestResult = {
    file, program: target.name, name: displayName(mode), mode: unpriv ? 'unpriv' : 'priv', type: target.typeName, status: 'pass', reason: null,
    expected: {
      verdict: mode.expectFailure ? 'failure' : 'success',
      messages: mode.messages.map((m) => ({ text: m.text, negative: m.negative, regex: m.regex !== null })),
      retval: mode.execute && !mode.expectFailure ? (mode.retvalAny ? 'any' : mode.retval) : null,
    },
    actual: { verdict: null, error: null, retval: null, log: '' },
    durationMs: 0,
  };
  const finish = (status: TestStatus, reason: string | null): TestResult => {
    result.status = status;
    result.reason = reason;
    result.durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
    return result;
  };
  // Loaded together: the tested program and every auxiliary program of this mode, in object order.
  const progs = coll.programs.filter((p) => p === target || (specs.get(p)?.auxiliary && (unpriv ? specs.get(p)!.unpriv : specs.get(p)!.priv)));
  // The selftest loader on an x86-64 host (which bpfvm stands for) skips tests for other architectures.
  if (spec.arch.length && !spec.arch.includes('X86_64')) return finish('skip', `only for ${spec.arch.join('/')} (bpfvm stands for an x86-64 host)`);
  const pre = backend.cannot({ spec, mode, unpriv, target, programs: progs, collection: coll });
  if (pre) return finish('skip', pre);

  const req: LoadRequest = { collection: coll, programs: progs, target, caps: unpriv ? mode.caps : null, logLevel: (spec.logLevel & 3) === 2 ? 2 : 1, progFlags: spec.progFlags };
  const outcome = backend.load(req);
  if (outcome.skip) return finish('skip', outcome.skip);
  // libbpf asks for no log at level 0 and retries with level 1 only when the load fails.
  if (spec.logLevel === 0 && outcome.loaded) outcome.log = '';
  result.actual.verdict = outcome.loaded ? 'success' : 'failure';
  result.actual.error = outcome.error;
  result.actual.log = outcome.log;
  if (mode.expectFailure && outcome.loaded) return finish('fail', 'expected the load to fail, but it succeeded');
  if (!mode.expectFailure && !outcome.loaded) {
    const where = outcome.failedProgram && outcome.failedProgram !== target.name ? ` (auxiliary program ${outcome.failedProgram})` : '';
    return finish('fail', `expected the load to succeed, but it failed${where}: ${outcome.error?.message ?? 'no message'}`);
  }
  const miss = matchMessages(outcome.log, mode.messages);
  if (miss) {
    const kind = miss.message.regex ? 'regex' : 'message';
    if (miss.problem === 'missing') {
      const prev = mode.messages.slice(0, miss.index).filter((m) => !m.negative).length;
      return finish('fail', `expected ${kind} ${JSON.stringify(miss.message.text)} not found in the verifier log${prev ? ` after the ${prev} message(s) before it` : ''}${outcome.log === '' ? (outcome.loaded ? ' (the log is empty: the load succeeded and __log_level is 0)' : ' (the log is empty)') : ''}`);
    }
    return finish('fail', `unexpected ${kind} ${JSON.stringify(miss.message.text)} found in the verifier log`);
  }
  if (outcome.loaded && spec.progFlags & BPF_F_TEST_REG_INVARIANTS && outcome.log.includes('REG INVARIANTS VIOLATION')) {
    return finish('skip', 'register invariant violation with BPF_F_TEST_REG_INVARIANTS: the kernel fails such a load, bpfvm\'s verifier only warns');
  }
  if (mode.execute && !mode.expectFailure) {
    const run = backend.run(req);
    if (run.skip) return finish('skip', run.skip);
    if (run.error !== undefined) return finish('fail', `test run failed: ${run.error}`);
    const got = run.retval! | 0;
    result.actual.retval = got;
    if (!mode.retvalAny && got !== mode.retval) return finish('fail', `retval ${got} (0x${(got >>> 0).toString(16)}), expected ${mode.retval}${mode.retvalText !== String(mode.retval) ? ` (${mode.retvalText})` : ''}`);
  }
  const unchecked: string[] = [];
  if (mode.xlated) unchecked.push(`${mode.xlated} __xlated pattern(s)`);
  if (mode.jited) unchecked.push(`${mode.jited} __jited pattern(s)`);
  if (mode.streams) unchecked.push(`${mode.streams} __stderr/__stdout pattern(s)`);
  if (unchecked.length) {
    const checked = ['verdict', ...(mode.messages.length ? ['messages'] : []), ...(mode.execute ? ['retval'] : [])];
    const what = checked.length === 1 ? 'the verdict agrees' : `${checked.slice(0, -1).join(', ')} and ${checked[checked.length - 1]} agree`;
    return finish('skip', `${what}, but ${unchecked.join(' and ')} cannot be checked by bpfvm (no JIT, no instruction rewriting)`);
  }
  return finish('pass', null);
}

/** Runs every test of one loaded object. */
export function runSelftests(coll: CollectionSpec, file: string, opts: RunSelftestsOptions = {}): FileResult {
  const t0 = performance.now();
  const backend = opts.backend ?? bpfvmBackend;
  const specs = new Map<ProgramSpec, TestSpec>();
  const tests: TestResult[] = [];
  const bad = new Map<ProgramSpec, BpfAnnotationError>();
  for (const p of coll.programs) {
    try {
      specs.set(p, parseTestAnnotations(p, file));
    } catch (e) {
      if (!(e instanceof BpfAnnotationError)) throw e;
      bad.set(p, e);
    }
  }
  for (const p of coll.programs) {
    const err = bad.get(p);
    if (err) {
      if (opts.filter && !opts.filter({ name: p.name, program: p.name, mode: 'priv' })) continue;
      tests.push({
        file, program: p.name, name: p.name, mode: 'priv', type: p.typeName, status: 'fail', reason: `cannot parse the test annotations: ${err.message}`,
        expected: { verdict: 'success', messages: [], retval: null }, actual: { verdict: null, error: null, retval: null, log: '' }, durationMs: 0,
      });
      continue;
    }
    const spec = specs.get(p)!;
    if (spec.auxiliary) continue;
    for (const unpriv of [false, true]) {
      const mode = unpriv ? spec.unpriv : spec.priv;
      if (!mode) continue;
      if (opts.filter && !opts.filter({ name: displayName(mode), program: p.name, mode: unpriv ? 'unpriv' : 'priv' })) continue;
      tests.push(runOne(file, coll, specs, p, spec, unpriv, backend));
    }
  }
  return { file, error: null, tests, durationMs: Math.round(performance.now() - t0) };
}

export interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  total: number;
  files: number;
  /** Files that could not be loaded. */
  fileErrors: number;
  durationMs: number;
}

export function summarize(files: FileResult[], durationMs: number): Summary {
  const all = files.flatMap((f) => f.tests);
  return {
    passed: all.filter((t) => t.status === 'pass').length,
    failed: all.filter((t) => t.status === 'fail').length,
    skipped: all.filter((t) => t.status === 'skip').length,
    total: all.length,
    files: files.length,
    fileErrors: files.filter((f) => f.error !== null).length,
    durationMs: Math.round(durationMs),
  };
}
