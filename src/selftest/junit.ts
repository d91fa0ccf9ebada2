// JUnit XML for `bpfvm test --junit FILE`: one <testsuite> per object file, one <testcase> per test run
// (program, or "program @unpriv"), <failure message="…"> for failures, <skipped message="…"/> for skips, and
// <error> for an object that could not be loaded. The format is the common subset Jenkins, GitLab, GitHub
// test reporters and xunit-viewer accept (the Ant JUnit schema).

import type { FileResult } from './engine.js';

function esc(s: string): string {
  // XML 1.0 cannot carry most control characters even escaped: replace them.
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const sec = (ms: number): string => (ms / 1000).toFixed(3);

/** The report for `files`; suites are named by the object paths as given, `name` names the whole run. */
export function toJUnit(files: FileResult[], opts: { name?: string; timestamp?: Date } = {}): string {
  const all = files.flatMap((f) => f.tests);
  const count = (f: FileResult, s: string): number => f.tests.filter((t) => t.status === s).length;
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const totalTime = files.reduce((a, f) => a + f.durationMs, 0);
  out.push(
    `<testsuites name="${esc(opts.name ?? 'bpfvm test')}" tests="${all.length + files.filter((f) => f.error).length}" ` +
      `failures="${all.filter((t) => t.status === 'fail').length}" errors="${files.filter((f) => f.error).length}" ` +
      `skipped="${all.filter((t) => t.status === 'skip').length}" time="${sec(totalTime)}">`,
  );
  const ts = (opts.timestamp ?? new Date()).toISOString().replace(/\.\d+Z$/, '');
  files.forEach((f, id) => {
    out.push(
      `  <testsuite name="${esc(f.file)}" id="${id}" tests="${f.tests.length + (f.error ? 1 : 0)}" failures="${count(f, 'fail')}" ` +
        `errors="${f.error ? 1 : 0}" skipped="${count(f, 'skip')}" time="${sec(f.durationMs)}" timestamp="${ts}" hostname="bpfvm">`,
    );
    if (f.error) {
      out.push(`    <testcase name="(load)" classname="${esc(f.file)}" time="0.000">`);
      out.push(`      <error message="${esc(f.error)}" type="BpfLoadError">${esc(f.error)}</error>`);
      out.push('    </testcase>');
    }
    for (const t of f.tests) {
      const head = `    <testcase name="${esc(t.name)}" classname="${esc(f.file)}" time="${sec(t.durationMs)}"`;
      if (t.status === 'pass') {
        out.push(`${head}/>`);
        continue;
      }
      out.push(`${head}>`);
      if (t.status === 'skip') {
        out.push(`      <skipped message="${esc(t.reason ?? '')}"/>`);
      } else {
        const body = [t.reason ?? '', t.actual.error ? `verifier: ${t.actual.error.message} (pc ${t.actual.error.pc})` : '', t.actual.log ? `verifier log:\n${t.actual.log}` : '']
          .filter(Boolean)
          .join('\n');
        out.push(`      <failure message="${esc(t.reason ?? '')}" type="${t.actual.verdict === null ? 'annotation' : 'mismatch'}">${esc(body)}</failure>`);
      }
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  });
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}
