// `bpfvm test FILE... [--json] [--junit FILE] [--filter PATTERN] [-v]`: the kernel selftest loader's checks
// (verdict, messages, retval from the objects' BTF decl-tag annotations) on bpfvm's verifier and test run.
// Engine: src/selftest/engine.ts; annotation parser: src/selftest/annotations.ts; JUnit: src/selftest/junit.ts.

import { writeFileSync } from 'node:fs';
import { CliError, UsageError, isElf, parse, readBytes } from './common.js';

const USAGE = `usage: bpfvm test FILE... [--json] [--junit FILE] [--filter PATTERN] [-v]

Runs the tests annotated in BPF ELF objects the way the kernel's selftest loader (test_progs) does: each
program that is not __auxiliary is loaded alone (with the object's maps and its auxiliary programs) through
bpfvm's verifier, privileged and/or unprivileged as its annotations ask; the verdict (__success/__failure)
and the expected messages (__msg in order, __not_msg absent, {{regex}} parts) are checked against the log,
and accepted programs with __retval are run like BPF_PROG_TEST_RUN (64 zero bytes) and their return value
compared. What bpfvm does not model (program types, kfuncs, __xlated/__jited, ...) is skipped with the reason.

options:
  --json            one JSON document: { files, tests, summary } (see README)
  --junit FILE      also write JUnit XML (one testsuite per object, one testcase per test) to FILE
  --filter PATTERN  only tests whose name, program name or description contains PATTERN (glob with * and ?);
                    may be repeated (a test runs when any pattern matches)
  -v, --verbose     print the verifier log of failed tests (and every expected message)

Output: one line per test, PASS / FAIL / SKIP, the object, the test name and for FAIL/SKIP the reason, then a
summary line. Exit status: 0 when nothing failed, 1 when a test failed or an object could not be loaded,
2 for a usage error.`;

function matcher(patterns: string[]): ((t: { name: string; program: string; mode: 'priv' | 'unpriv' }) => boolean) | undefined {
  if (patterns.length === 0) return undefined;
  const tests = patterns.map((p) => {
    if (/[*?]/.test(p)) {
      const re = new RegExp('^' + p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
      return (s: string): boolean => re.test(s);
    }
    return (s: string): boolean => s.includes(p);
  });
  return (t) => tests.some((f) => f(t.name) || f(t.program) || (t.mode === 'unpriv' && f(`${t.program} @unpriv`)));
}

export async function main(argv: string[]): Promise<number> {
  const r = parse(argv, {
    json: { type: 'boolean' },
    junit: { type: 'string' },
    filter: { type: 'string', multiple: true },
    verbose: { type: 'boolean', short: 'v' },
  }, USAGE);
  if (!r) return 0;
  if (r.positionals.length === 0) throw new UsageError(`bpfvm test needs at least one object file\n\n${USAGE}`);
  const junit = r.str('junit');
  if (junit === '') throw new UsageError('--junit needs a file name');
  const { loadCollection } = await import('../elf/index.js');
  const { runSelftests, summarize } = await import('../selftest/engine.js');
  type FileResult = import('../selftest/engine.js').FileResult;
  const filter = matcher(r.list('filter'));
  const json = r.bool('json');
  const verbose = r.bool('verbose');
  const out = (s: string): void => void process.stdout.write(s + '\n');
  const t0 = performance.now();
  const files: FileResult[] = [];
  for (const file of r.positionals) {
    let res: FileResult;
    try {
      const bytes = readBytes(file);
      if (!isElf(bytes)) throw new CliError(`${file} is not an ELF object (bpfvm test takes clang -target bpf objects)`);
      res = runSelftests(loadCollection(bytes, { file }), file, filter ? { filter } : {});
    } catch (e) {
      if (!(e instanceof CliError) && !(e instanceof Error && /^Bpf\w*Error$/.test(e.name))) throw e;
      res = { file, error: e.message, tests: [], durationMs: 0 };
    }
    files.push(res);
    if (json) continue;
    if (res.error) out(`FAIL  ${file}: cannot load the object: ${res.error}`);
    for (const t of res.tests) {
      const tag = t.status === 'pass' ? 'PASS' : t.status === 'fail' ? 'FAIL' : 'SKIP';
      out(`${tag}  ${file}  ${t.name}${t.reason ? `: ${t.reason}` : ''}`);
      if (verbose && t.status === 'fail') {
        for (const m of t.expected.messages) out(`        expected ${m.negative ? 'absent' : 'message'}${m.regex ? ' (regex)' : ''}: ${JSON.stringify(m.text)}`);
        if (t.actual.log) out(`        verifier log:\n${t.actual.log.replace(/\s+$/, '').replace(/^/gm, '          ')}`);
      }
    }
  }
  const summary = summarize(files, performance.now() - t0);
  if (json) {
    process.stdout.write(JSON.stringify({ files: files.map((f) => ({ file: f.file, error: f.error, durationMs: f.durationMs })), tests: files.flatMap((f) => f.tests).map((t) => (t.status === 'fail' ? t : { ...t, actual: { ...t.actual, log: '' } })), summary }, null, 2) + '\n');
  } else {
    out(
      `summary: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped (${summary.total} tests in ${summary.files} file${summary.files === 1 ? '' : 's'}` +
        `${summary.fileErrors ? `, ${summary.fileErrors} not loadable` : ''}) in ${(summary.durationMs / 1000).toFixed(2)} s`,
    );
  }
  if (junit !== undefined) {
    const { toJUnit } = await import('../selftest/junit.js');
    try {
      writeFileSync(junit, toJUnit(files));
    } catch (e) {
      throw new CliError(`cannot write the JUnit report to ${junit}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return summary.failed > 0 || summary.fileErrors > 0 ? 1 : 0;
}
