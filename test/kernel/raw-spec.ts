// ProgramSpec / MapSpec values built without an ELF object (no BTF, func_info or line_info), for the tests that
// hand assembled programs and their maps to testRun / prepareTestRun / the socket model.

import type { MapSpec, ProgramSpec } from '../../src/spec.js';

/** Program `p` of type `type` (SCHED_CLS by default) with the given instructions, GPL-licensed. */
export function rawProgram(insns: Uint8Array, type = 3, typeName = 'sched_cls'): ProgramSpec {
  return { name: 'p', section: 'tc', type, typeName, insns, license: 'GPL', funcInfo: [], lineInfo: [], annotations: [] };
}

/** A map of `type` named `name` (section .maps, no BTF). */
export function rawMap(name: string, type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0): MapSpec {
  return { name, type, typeName: '', keySize, valueSize, maxEntries, flags, section: '.maps' };
}
