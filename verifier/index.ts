// Public entry point of the verifier: structural passes (structure.ts), then the symbolic executor (check.ts),
// with the kernel's log. Rejections are values: `verify` never throws for a bad program.

import type { MapSpec, ProgramSpec } from '../src/spec.js';
import { CTX_DEFAULT_ATTACH } from './ctx.js';
import { Verifier } from './check.js';

export interface VerifyOptions {
  /** 0 = no log text, 1 = BPF_LOG_LEVEL1, 2 = BPF_LOG_LEVEL2. Default 1. */
  logLevel?: 0 | 1 | 2;
  /** Root (CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON + CAP_SYS_ADMIN). Default true. */
  privileged?: boolean;
  /** Maps referenced by lddw src=1/2/5/6 (imm = index into this array). */
  maps?: MapSpec[];
}

export interface VerifyResult {
  ok: boolean;
  log: string;
  error: { pc: number; message: string } | null;
  /** Kernel errno of the rejection (EACCES 13, EINVAL 22, E2BIG 7, ...), 0 when accepted. */
  errno: number;
  stats: { processed: number; states: number; peakStates: number; maxStatesPerInsn: number };
}

export type VerifyInput = ProgramSpec | { insns: Uint8Array; type: number; attachType?: number; name?: string; license?: string };

/** Line-info records by instruction offset (the loader's are already in order: then no copy is made). */
function sortedLineInfo<T extends { insnOff: number }>(li: readonly T[]): readonly T[] {
  for (let i = 1; i < li.length; i++) if (li[i - 1]!.insnOff > li[i]!.insnOff) return [...li].sort((a, b) => a.insnOff - b.insnOff);
  return li;
}

export function verify(prog: VerifyInput, options: VerifyOptions = {}): VerifyResult {
  const attachType = prog.attachType ?? CTX_DEFAULT_ATTACH[prog.type];
  const v = new Verifier(prog.insns, {
    progType: prog.type,
    ...(attachType !== undefined ? { attachType } : {}),
    logLevel: options.logLevel ?? 1,
    privileged: options.privileged ?? true,
    maps: options.maps ?? [],
    license: prog.license ?? 'GPL',
    lineInfo: 'lineInfo' in prog ? sortedLineInfo(prog.lineInfo) : [],
  });
  return v.run();
}

export { Verifier, VerifierError, computeLiveRegs } from './check.js';
