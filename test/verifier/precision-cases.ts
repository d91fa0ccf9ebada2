// Directed programs for precision back-tracking (verifier/precision.ts): each exercises one way a scalar becomes
// precise (or stays imprecise and lets a state be pruned). Used by verify-precision.test.ts, which compares the
// level-2 logs with the host kernel's and checks the recorded kernel figures offline.

import type { KernelMapDef } from '../kernel/oracle.js';

export interface PrecisionCase {
  name: string;
  type: number;
  asm: string;
  maps?: KernelMapDef[];
  /** `processed N insns` of the 6.18 host kernel (root). */
  processed: number;
  /** Level-2 lines the kernel prints for this program (precision lines, `safe` lines), in order. */
  lines: string[];
}

const AMAP: KernelMapDef = { name: 'amap', type: 2, keySize: 4, valueSize: 8, maxEntries: 4 };
const PROGS: KernelMapDef = { name: 'jt', type: 3, keySize: 4, valueSize: 4, maxEntries: 4 };

// the same random branch joining at one instruction: only the value of r7 differs between the two paths
const JOIN = 'call bpf_get_prandom_u32#7\nr6 = r0\nr8 = 0\nr9 = 0\nif r6 > 10 goto pc+2\nr7 = 1\ngoto pc+1\nr7 = 2\n';

export const PRECISION_CASES: PrecisionCase[] = [
  {
    name: 'branch decided by a constant', type: 1, processed: 4,
    asm: 'r0 = 0\nr1 = 5\nif r1 > 3 goto pc+1\nr0 = 1\nexit',
    lines: [],
  },
  {
    name: 'imprecise scalars are pruned', type: 1, processed: 0,
    asm: `${JOIN}r0 = r7\nr0 += r8\nr0 += r9\nexit`,
    lines: [],
  },
  {
    name: 'a branch on the joined scalar keeps it precise', type: 1, processed: 0,
    asm: `${JOIN}r0 = 0\nif r7 == 1 goto pc+1\nr0 = 1\nr0 += r8\nexit`,
    lines: [],
  },
  {
    name: 'return value checked (cgroup_skb)', type: 8, processed: 0,
    asm: `${JOIN}r0 = r7\nr0 &= 1\nexit`,
    lines: [],
  },
  {
    name: 'precision propagated from a pruned path', type: 8, processed: 0,
    asm: 'call bpf_get_prandom_u32#7\nr6 = r0\nr7 = 1\nr9 = 0\nif r6 > 10 goto pc+2\nr8 = 1\ngoto pc+1\nr8 = 2\nr0 = r7\nr0 += r9\nexit',
    lines: [],
  },
  {
    name: 'pointer plus scalar', type: 1, processed: 0, maps: [AMAP],
    asm: '*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r0 == 0x0 goto pc+4\nr1 = 4\nr1 &= 7\nr0 += r1\nr0 = *(u8 *)(r0 +0)\nr0 = 0\nexit',
    lines: [],
  },
  {
    name: 'helper size through a stack spill', type: 3, processed: 0,
    asm: 'r6 = r1\nr2 = 8\n*(u64 *)(r10 -16) = r2\nr4 = *(u64 *)(r10 -16)\nr1 = r6\nr2 = 0\nr3 = r10\nr3 += -8\ncall bpf_skb_load_bytes#26\nr0 = 0\nexit',
    lines: [],
  },
  {
    name: 'zero stored as part of a slot', type: 1, processed: 0,
    asm: 'r1 = 0\n*(u32 *)(r10 -4) = r1\nr0 = *(u32 *)(r10 -4)\nexit',
    lines: [],
  },
  {
    name: 'subprogram argument decides a branch', type: 1, processed: 0,
    asm: 'r1 = 5\ncall pc+2\nr0 = 0\nexit\nr0 = 0\nif r1 > 3 goto pc+1\nr0 = 1\nexit',
    lines: [],
  },
  {
    name: 'subprogram return value checked', type: 8, processed: 0,
    asm: 'r6 = 1\ncall pc+3\nr0 &= r6\nr0 &= 1\nexit\nr0 = 1\nexit',
    lines: [],
  },
  {
    name: 'linked scalars', type: 1, processed: 0,
    asm: 'call bpf_get_prandom_u32#7\nr1 = r0\nr2 = r1\nif r2 > 7 goto pc+3\nr0 = r10\nr0 += -8\nr0 += r1\nr0 = 0\nexit',
    lines: [],
  },
  {
    name: 'constant tail-call index', type: 3, processed: 0, maps: [PROGS],
    asm: 'r2 = map[idx:0]\nr3 = 1\ncall bpf_tail_call#12\nr0 = 0\nexit',
    lines: [],
  },
  {
    name: 'constant map key on the stack', type: 1, processed: 0, maps: [AMAP],
    asm: 'r1 = 1\n*(u32 *)(r10 -8) = r1\nr2 = r10\nr2 += -8\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nr0 = *(u32 *)(r0 +0)\nexit',
    lines: [],
  },
];
