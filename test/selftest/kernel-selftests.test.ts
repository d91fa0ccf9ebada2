// Optional: `bpfvm test`'s engine on the kernel's own verifier selftest objects, when BPFVM_SELFTESTS_DIR
// points at a folder of them (build with test/selftest/build-kernel-selftests.sh; never committed). Checks
// that every object either loads or is reported with a clear error, that every failure and skip carries a
// reason, that the JUnit report is produced, and that the objects in BPFVM_SELFTESTS_CLEAN (default: the
// socket-program ones bpfvm models fully) have no failures. Prints the per-object counts.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import { runSelftests, summarize, type FileResult } from '../../src/selftest/engine.js';
import { toJUnit } from '../../src/selftest/junit.js';

const dir = process.env['BPFVM_SELFTESTS_DIR'];
const reason = !dir ? 'BPFVM_SELFTESTS_DIR is not set' : !existsSync(dir) ? `BPFVM_SELFTESTS_DIR=${dir} does not exist` : '';
const objects = reason ? [] : readdirSync(dir!).filter((f) => f.endsWith('.o')).sort();
const skip = reason !== '' || objects.length === 0;
const why = reason || (objects.length === 0 ? `no .o files in ${dir}` : '');
const clean = (process.env['BPFVM_SELFTESTS_CLEAN'] ?? 'verifier_ctx_sk_msg.o,verifier_direct_packet_access.o,verifier_sockmap_mutate.o,verifier_xdp_direct_packet_access.o,verifier_helper_packet_access.o,verifier_meta_access.o').split(',');

describe.skipIf(skip)(`kernel selftest objects through bpfvm test${skip ? ` [SKIPPED: ${why}]` : ''}`, () => {
  it(`${objects.length} objects: every test has a status and a reason when not passing`, () => {
    const files: FileResult[] = objects.map((f) => {
      try {
        return runSelftests(loadCollectionFile(join(dir!, f)), f);
      } catch (e) {
        expect((e as Error).name).toMatch(/^Bpf\w*Error$/);
        return { file: f, error: (e as Error).message, tests: [], durationMs: 0 };
      }
    });
    for (const f of files) {
      const c = (s: string): number => f.tests.filter((t) => t.status === s).length;
      console.log(`${f.file.padEnd(45)} pass ${String(c('pass')).padStart(4)} fail ${String(c('fail')).padStart(4)} skip ${String(c('skip')).padStart(4)}${f.error ? `  (not loadable: ${f.error.slice(0, 80)})` : ''}`);
      for (const t of f.tests) if (t.status !== 'pass') expect(t.reason, `${f.file} ${t.name}`).toMatch(/\S/);
    }
    const s = summarize(files, 0);
    console.log(`summary: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.fileErrors} objects not loadable`);
    expect(s.passed).toBeGreaterThan(0);
    expect(toJUnit(files)).toMatch(/<\/testsuites>\n$/);
    const dirty = files.filter((f) => clean.includes(f.file)).flatMap((f) => f.tests.filter((t) => t.status === 'fail').map((t) => `${f.file} ${t.name}: ${t.reason}`));
    expect(dirty).toEqual([]);
  });
});
