// A ProgramSpec for raw instructions (no ELF object: no BTF, func_info or line_info), for the tests that hand
// assembled programs to testRun / prepareTestRun.

import type { ProgramSpec } from '../../src/spec.js';

/** Program `p` of type `type` (SCHED_CLS by default) with the given instructions, GPL-licensed. */
export function rawProgram(insns: Uint8Array, type = 3, typeName = 'sched_cls'): ProgramSpec {
  return { name: 'p', section: 'tc', type, typeName, insns, license: 'GPL', funcInfo: [], lineInfo: [], annotations: [] };
}
