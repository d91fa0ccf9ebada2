// End to end: load the fixture objects, run every annotated packet program the way BPF_PROG_TEST_RUN does
// on the default input, and compare with the return value the kernel gave (the `test_retval` annotation,
// observed on Linux 6.18 when the fixtures were written). Programs needing helpers or maps bpfvm's test run
// does not provide yet are listed, not silently passed.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import { testRun } from '../../src/kernel/testrun.js';
import { parseTestAnnotations } from '../../src/selftest/annotations.js';

const root = join(import.meta.dirname, '..', '..');

describe('fixture programs return the kernel retval', () => {
  for (const cpu of ['v3', 'v4']) {
    it(`${cpu}: every annotated packet program agrees with the kernel`, () => {
      const dir = join(root, 'fixtures', cpu);
      let compared = 0;
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.o')).sort()) {
        const spec = loadCollectionFile(join(dir, f));
        for (const p of spec.programs) {
          // The shared annotation parser: INT_MIN / TEST_DATA_LEN / hex values; POINTER_VALUE (any) is not compared.
          const mode = parseTestAnnotations(p, f).priv;
          if (!mode?.execute || mode.retvalAny || mode.expectFailure || ![1, 3, 6, 8].includes(p.type)) continue;
          const r = testRun(p, undefined, { collection: spec });
          expect({ prog: `${f}:${p.name}`, retval: r.retval | 0 }).toEqual({ prog: `${f}:${p.name}`, retval: mode.retval });
          compared++;
        }
      }
      expect(compared).toBeGreaterThanOrEqual(20);
    });
  }
});

