// Every test annotation of our fixtures holds in the host kernel: the selftest engine runs each object's tests
// with the kernel as its backend (BPF_PROG_LOAD and BPF_PROG_TEST_RUN through the bpfrun oracle), applying
// exactly the checks `bpfvm test` applies (verdict, messages in order, __not_msg, regexes, retval). Then bpfvm
// and the kernel must give the same status for every test neither of them skips.
// Skips, with the reason in the suite name, where bpf() is not permitted.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import { runSelftests } from '../../src/selftest/engine.js';
import { kernelAvailability } from './oracle.js';
import { kernelBackend, prefetch } from './selftest-backend.js';

const root = join(import.meta.dirname, '..', '..');
const avail = kernelAvailability();

describe.skipIf(!avail.ok)(`fixture annotations hold in the host kernel${avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`}`, () => {
  for (const cpu of ['v3', 'v4']) {
    it(`${cpu}: every annotated test passes in the kernel, and bpfvm agrees`, () => {
      const dir = join(root, 'fixtures', cpu);
      const failures: string[] = [];
      const disagreements: string[] = [];
      let kernelPassed = 0;
      let compared = 0;
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.o')).sort()) {
        const coll = loadCollectionFile(join(dir, f));
        prefetch(coll, f);
        const k = runSelftests(coll, f, { backend: kernelBackend }).tests;
        const b = runSelftests(coll, f).tests;
        k.forEach((kt, i) => {
          const bt = b[i]!;
          expect(bt.name).toBe(kt.name);
          if (kt.status === 'fail') failures.push(`${f} ${kt.name}: ${kt.reason}`);
          if (kt.status === 'pass') kernelPassed++;
          if (kt.status !== 'skip' && bt.status !== 'skip') {
            compared++;
            if (kt.status !== bt.status || kt.actual.verdict !== bt.actual.verdict || (kt.expected.retval !== 'any' && kt.actual.retval !== bt.actual.retval)) {
              disagreements.push(`${f} ${kt.name}: kernel ${kt.status}/${kt.actual.verdict}/${kt.actual.retval} bpfvm ${bt.status}/${bt.actual.verdict}/${bt.actual.retval} ${bt.reason ?? ''}`);
            }
          }
        });
      }
      console.log(`${cpu}: ${kernelPassed} tests pass in the kernel; bpfvm agrees on ${compared - disagreements.length}/${compared} compared`);
      expect(failures).toEqual([]);
      expect(disagreements).toEqual([]);
      expect(kernelPassed).toBeGreaterThanOrEqual(90);
    });
  }
});
