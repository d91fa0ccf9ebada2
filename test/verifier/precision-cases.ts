// Directed programs for precision back-tracking (verifier/precision.ts): each exercises one way a scalar becomes
// precise (or stays imprecise and lets a state be pruned); the last one a stack slot that is dead at a join
// (verifier/stackliveness.ts). Used by verify-precision.test.ts, which compares the
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
    lines: [
      'mark_precise: frame0: last_idx 2 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs=r1 stack= before 1: (b7) r1 = 5',
    ],
  },
  {
    name: 'imprecise scalars are pruned', type: 1, processed: 13,
    asm: `${JOIN}r0 = r7\nr0 += r8\nr0 += r9\nexit`,
    lines: [
      '8: safe',
    ],
  },
  {
    name: 'a branch on the joined scalar keeps it precise', type: 1, processed: 17,
    asm: `${JOIN}r0 = 0\nif r7 == 1 goto pc+1\nr0 = 1\nr0 += r8\nexit`,
    lines: [
      'mark_precise: frame0: last_idx 9 first_idx 8 subseq_idx -1 ',
      'mark_precise: frame0: regs=r7 stack= before 8: (b7) r0 = 0',
      'mark_precise: frame0: parent state regs=r7 stack=:  R0=scalar(id=1) R6=scalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=10,var_off=(0x0; 0xf)) R7=P1 R8=0 R9=0 R10=fp0',
      'mark_precise: frame0: last_idx 6 first_idx 0 subseq_idx 8 ',
      'mark_precise: frame0: regs=r7 stack= before 6: (05) goto pc+1',
      'mark_precise: frame0: regs=r7 stack= before 5: (b7) r7 = 1',
      'mark_precise: frame0: last_idx 9 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs=r7 stack= before 8: (b7) r0 = 0',
      'mark_precise: frame0: regs=r7 stack= before 7: (b7) r7 = 2',
    ],
  },
  {
    name: 'return value checked (cgroup_skb)', type: 8, processed: 14,
    asm: `${JOIN}r0 = r7\nr0 &= 1\nexit`,
    lines: [
      'mark_precise: frame0: last_idx 10 first_idx 8 subseq_idx -1 ',
      'mark_precise: frame0: regs=r0 stack= before 9: (57) r0 &= 1',
      'mark_precise: frame0: regs=r0 stack= before 8: (bf) r0 = r7',
      'mark_precise: frame0: parent state regs=r7 stack=:  R0=scalar(id=1) R6=scalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=10,var_off=(0x0; 0xf)) R7=P1 R8=0 R9=0 R10=fp0',
      'mark_precise: frame0: last_idx 6 first_idx 0 subseq_idx 8 ',
      'mark_precise: frame0: regs=r7 stack= before 6: (05) goto pc+1',
      'mark_precise: frame0: regs=r7 stack= before 5: (b7) r7 = 1',
      'mark_precise: frame0: last_idx 10 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs=r0 stack= before 9: (57) r0 &= 1',
      'mark_precise: frame0: regs=r0 stack= before 8: (bf) r0 = r7',
      'mark_precise: frame0: regs=r7 stack= before 7: (b7) r7 = 2',
    ],
  },
  {
    name: 'precision propagated from a pruned path', type: 8, processed: 12,
    asm: 'call bpf_get_prandom_u32#7\nr6 = r0\nr7 = 1\nr9 = 0\nif r6 > 10 goto pc+2\nr8 = 1\ngoto pc+1\nr8 = 2\nr0 = r7\nr0 += r9\nexit',
    lines: [
      'mark_precise: frame0: last_idx 10 first_idx 8 subseq_idx -1 ',
      'mark_precise: frame0: regs=r0 stack= before 9: (0f) r0 += r9',
      'mark_precise: frame0: regs=r0,r9 stack= before 8: (bf) r0 = r7',
      'mark_precise: frame0: parent state regs=r7,r9 stack=:  R0=scalar(id=1) R6=scalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=10,var_off=(0x0; 0xf)) R7=P1 R8=1 R9=P0 R10=fp0',
      'mark_precise: frame0: last_idx 6 first_idx 0 subseq_idx 8 ',
      'mark_precise: frame0: regs=r7,r9 stack= before 6: (05) goto pc+1',
      'mark_precise: frame0: regs=r7,r9 stack= before 5: (b7) r8 = 1',
      'mark_precise: frame0: regs=r7,r9 stack= before 4: (25) if r6 > 0xa goto pc+2',
      'mark_precise: frame0: regs=r7,r9 stack= before 3: (b7) r9 = 0',
      'mark_precise: frame0: regs=r7 stack= before 2: (b7) r7 = 1',
      'frame 0: propagating r7,r9',
      'mark_precise: frame0: last_idx 8 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs=r7,r9 stack= before 7: (b7) r8 = 2',
      'mark_precise: frame0: regs=r7,r9 stack= before 4: (25) if r6 > 0xa goto pc+2',
      'mark_precise: frame0: regs=r7,r9 stack= before 3: (b7) r9 = 0',
      'mark_precise: frame0: regs=r7 stack= before 2: (b7) r7 = 1',
      '8: safe',
    ],
  },
  {
    name: 'pointer plus scalar', type: 1, processed: 12, maps: [AMAP],
    asm: '*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r0 == 0x0 goto pc+4\nr1 = 4\nr1 &= 7\nr0 += r1\nr0 = *(u8 *)(r0 +0)\nr0 = 0\nexit',
    lines: [
      'mark_precise: frame0: last_idx 9 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs=r1 stack= before 8: (57) r1 &= 7',
      'mark_precise: frame0: regs=r1 stack= before 7: (b7) r1 = 4',
    ],
  },
  {
    name: 'helper size through a stack spill', type: 3, processed: 11,
    asm: 'r6 = r1\nr2 = 8\n*(u64 *)(r10 -16) = r2\nr4 = *(u64 *)(r10 -16)\nr1 = r6\nr2 = 0\nr3 = r10\nr3 += -8\ncall bpf_skb_load_bytes#26\nr0 = 0\nexit',
    lines: [
      'mark_precise: frame0: last_idx 8 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs=r4 stack= before 7: (07) r3 += -8',
      'mark_precise: frame0: regs=r4 stack= before 6: (bf) r3 = r10',
      'mark_precise: frame0: regs=r4 stack= before 5: (b7) r2 = 0',
      'mark_precise: frame0: regs=r4 stack= before 4: (bf) r1 = r6',
      'mark_precise: frame0: regs=r4 stack= before 3: (79) r4 = *(u64 *)(r10 -16)',
      'mark_precise: frame0: regs= stack=-16 before 2: (7b) *(u64 *)(r10 -16) = r2',
      'mark_precise: frame0: regs=r2 stack= before 1: (b7) r2 = 8',
    ],
  },
  {
    name: 'zero stored as part of a slot', type: 1, processed: 4,
    asm: 'r1 = 0\n*(u32 *)(r10 -4) = r1\nr0 = *(u32 *)(r10 -4)\nexit',
    lines: [
      'mark_precise: frame0: last_idx 1 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs=r1 stack= before 0: (b7) r1 = 0',
    ],
  },
  {
    name: 'subprogram argument decides a branch', type: 1, processed: 7,
    asm: 'r1 = 5\ncall pc+2\nr0 = 0\nexit\nr0 = 0\nif r1 > 3 goto pc+1\nr0 = 1\nexit',
    lines: [
      'mark_precise: frame1: last_idx 5 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame1: regs=r1 stack= before 4: (b7) r0 = 0',
      'mark_precise: frame1: regs=r1 stack= before 1: (85) call pc+2',
      'mark_precise: frame0: regs=r1 stack= before 0: (b7) r1 = 5',
    ],
  },
  {
    name: 'subprogram return value checked', type: 8, processed: 7,
    asm: 'r6 = 1\ncall pc+3\nr0 &= r6\nr0 &= 1\nexit\nr0 = 1\nexit',
    lines: [
      'mark_precise: frame0: last_idx 4 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs=r0 stack= before 3: (57) r0 &= 1',
      'mark_precise: frame0: regs=r0 stack= before 2: (5f) r0 &= r6',
      'mark_precise: frame0: regs=r0,r6 stack= before 6: (95) exit',
      'mark_precise: frame1: regs=r0 stack= before 5: (b7) r0 = 1',
      'mark_precise: frame1: regs= stack= before 1: (85) call pc+3',
      'mark_precise: frame0: regs=r6 stack= before 0: (b7) r6 = 1',
    ],
  },
  {
    name: 'linked scalars', type: 1, processed: 10,
    asm: 'call bpf_get_prandom_u32#7\nr1 = r0\nr2 = r1\nif r2 > 7 goto pc+3\nr0 = r10\nr0 += -8\nr0 += r1\nr0 = 0\nexit',
    lines: [
      'mark_precise: frame0: last_idx 6 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs=r1 stack= before 5: (07) r0 += -8',
      'mark_precise: frame0: regs=r1 stack= before 4: (bf) r0 = r10',
      'mark_precise: frame0: regs=r1 stack= before 3: (25) if r2 > 0x7 goto pc+3',
      'mark_precise: frame0: regs=r1,r2 stack= before 2: (bf) r2 = r1',
      'mark_precise: frame0: regs=r1 stack= before 1: (bf) r1 = r0',
      'mark_precise: frame0: regs=r0 stack= before 0: (85) call bpf_get_prandom_u32#7',
      'from 3 to 7: safe',
    ],
  },
  {
    name: 'constant tail-call index', type: 3, processed: 5, maps: [PROGS],
    asm: 'r2 = map[idx:0]\nr3 = 1\ncall bpf_tail_call#12\nr0 = 0\nexit',
    lines: [
      'mark_precise: frame0: last_idx 3 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs=r3 stack= before 2: (b7) r3 = 1',
    ],
  },
  {
    name: 'constant map key on the stack', type: 1, processed: 8, maps: [AMAP],
    asm: 'r1 = 1\n*(u32 *)(r10 -8) = r1\nr2 = r10\nr2 += -8\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nr0 = *(u32 *)(r0 +0)\nexit',
    lines: [
      'mark_precise: frame0: last_idx 6 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs= stack=-8 before 4: (18) r1 = MAP',
      'mark_precise: frame0: regs= stack=-8 before 3: (07) r2 += -8',
      'mark_precise: frame0: regs= stack=-8 before 2: (bf) r2 = r10',
      'mark_precise: frame0: regs= stack=-8 before 1: (63) *(u32 *)(r10 -8) = r1',
      'mark_precise: frame0: regs=r1 stack= before 0: (b7) r1 = 1',
    ],
  },
  {
    name: 'a decided branch on a copied scalar marks only the copy chain', type: 1, processed: 6,
    asm: 'call bpf_get_prandom_u32#7\nr0 &= 0x3f\nr2 = r0\nif r2 < 0x80 goto pc+0\nr0 = 1\nexit',
    lines: [
      'mark_precise: frame0: last_idx 3 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs=r2 stack= before 2: (bf) r2 = r0',
      'mark_precise: frame0: regs=r0 stack= before 1: (57) r0 &= 63',
      'mark_precise: frame0: regs=r0 stack= before 0: (85) call bpf_get_prandom_u32#7',
    ],
  },
  {
    name: 'a subprogram branches on a value of its caller\'s stack', type: 1, processed: 11,
    asm: 'r1 = 5\n*(u64 *)(r10 -8) = r1\nr1 = r10\nr1 += -8\ncall pc+2\nr0 = 0\nexit\nr2 = *(u64 *)(r1 +0)\nr0 = 0\nif r2 > 3 goto pc+1\nr0 = 1\nexit',
    lines: [
      'mark_precise: frame1: last_idx 9 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame1: regs=r2 stack= before 8: (b7) r0 = 0',
      'mark_precise: frame1: regs=r2 stack= before 7: (79) r2 = *(u64 *)(r1 +0)',
      'mark_precise: frame1: regs= stack= before 4: (85) call pc+2',
      'mark_precise: frame0: regs= stack=-8 before 3: (07) r1 += -8',
      'mark_precise: frame0: regs= stack=-8 before 2: (bf) r1 = r10',
      'mark_precise: frame0: regs= stack=-8 before 1: (7b) *(u64 *)(r10 -8) = r1',
      'mark_precise: frame0: regs=r1 stack= before 0: (b7) r1 = 5',
    ],
  },
  {
    name: 'bounded loop', type: 1, processed: 15,
    asm: 'r1 = 0\nr0 = 0\nr0 += r1\nr1 += 1\nif r1 < 4 goto pc-3\nexit',
    lines: [
      'mark_precise: frame0: last_idx 4 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs=r1 stack= before 3: (07) r1 += 1',
      'mark_precise: frame0: regs=r1 stack= before 2: (0f) r0 += r1',
      'mark_precise: frame0: regs=r1 stack= before 1: (b7) r0 = 0',
      'mark_precise: frame0: regs=r1 stack= before 0: (b7) r1 = 0',
      'mark_precise: frame0: last_idx 4 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs=r1 stack= before 3: (07) r1 += 1',
      'mark_precise: frame0: regs=r1 stack= before 2: (0f) r0 += r1',
      'mark_precise: frame0: regs=r1 stack= before 4: (a5) if r1 < 0x4 goto pc-3',
      'mark_precise: frame0: regs=r1 stack= before 3: (07) r1 += 1',
      'mark_precise: frame0: regs=r1 stack= before 2: (0f) r0 += r1',
      'mark_precise: frame0: regs=r1 stack= before 1: (b7) r0 = 0',
      'mark_precise: frame0: regs=r1 stack= before 0: (b7) r1 = 0',
      'mark_precise: frame0: last_idx 4 first_idx 2 subseq_idx -1 ',
      'mark_precise: frame0: regs=r1 stack= before 3: (07) r1 += 1',
      'mark_precise: frame0: regs=r1 stack= before 2: (0f) r0 += r1',
      'mark_precise: frame0: parent state regs=r1 stack=:  R0=1 R1=P2 R10=fp0',
      'mark_precise: frame0: last_idx 4 first_idx 0 subseq_idx 2 ',
      'mark_precise: frame0: regs=r1 stack= before 4: (a5) if r1 < 0x4 goto pc-3',
      'mark_precise: frame0: regs=r1 stack= before 3: (07) r1 += 1',
      'mark_precise: frame0: regs=r1 stack= before 2: (0f) r0 += r1',
      'mark_precise: frame0: regs=r1 stack= before 4: (a5) if r1 < 0x4 goto pc-3',
      'mark_precise: frame0: regs=r1 stack= before 3: (07) r1 += 1',
      'mark_precise: frame0: regs=r1 stack= before 2: (0f) r0 += r1',
      'mark_precise: frame0: regs=r1 stack= before 1: (b7) r0 = 0',
      'mark_precise: frame0: regs=r1 stack= before 0: (b7) r1 = 0',
      'mark_precise: frame0: last_idx 4 first_idx 2 subseq_idx -1 ',
      'mark_precise: frame0: regs=r1 stack= before 3: (07) r1 += 1',
      'mark_precise: frame0: regs=r1 stack= before 2: (0f) r0 += r1',
      'mark_precise: frame0: regs=r1 stack= before 4: (a5) if r1 < 0x4 goto pc-3',
      'mark_precise: frame0: regs=r1 stack= before 3: (07) r1 += 1',
      'mark_precise: frame0: regs=r1 stack= before 2: (0f) r0 += r1',
      'mark_precise: frame0: parent state regs= stack=:  R0=1 R1=P2 R10=fp0',
    ],
  },
  {
    name: 'returned value spilled and filled (cgroup_skb)', type: 8, processed: 20,
    asm: 'call bpf_get_prandom_u32#7\nr6 = r0\nr7 = 0\nif r6 > 5 goto pc+1\nr7 = 1\n*(u64 *)(r10 -8) = r7\nr8 = 0\nr9 = 0\nif r6 > 9 goto pc+1\nr8 = 1\nr0 = *(u64 *)(r10 -8)\nexit',
    lines: [
      'mark_precise: frame0: last_idx 8 first_idx 8 subseq_idx -1 ',
      'mark_precise: frame0: parent state regs=r6 stack=:  R0=scalar(id=1) R6=Pscalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=5,var_off=(0x0; 0x7)) R7=1 R8=0 R9=0 R10=fp0 fp-8=1',
      'mark_precise: frame0: last_idx 7 first_idx 0 subseq_idx 8 ',
      'mark_precise: frame0: regs=r6 stack= before 7: (b7) r9 = 0',
      'mark_precise: frame0: regs=r6 stack= before 6: (b7) r8 = 0',
      'mark_precise: frame0: regs=r6 stack= before 5: (7b) *(u64 *)(r10 -8) = r7',
      'mark_precise: frame0: regs=r6 stack= before 4: (b7) r7 = 1',
      'mark_precise: frame0: regs=r6 stack= before 3: (25) if r6 > 0x5 goto pc+1',
      'mark_precise: frame0: regs=r6 stack= before 2: (b7) r7 = 0',
      'mark_precise: frame0: regs=r6 stack= before 1: (bf) r6 = r0',
      'mark_precise: frame0: regs=r0 stack= before 0: (85) call bpf_get_prandom_u32#7',
      'mark_precise: frame0: last_idx 11 first_idx 8 subseq_idx -1 ',
      'mark_precise: frame0: regs=r0 stack= before 10: (79) r0 = *(u64 *)(r10 -8)',
      'mark_precise: frame0: regs= stack=-8 before 9: (b7) r8 = 1',
      'mark_precise: frame0: regs= stack=-8 before 8: (25) if r6 > 0x9 goto pc+1',
      'mark_precise: frame0: parent state regs= stack=-8:  R0=scalar(id=1) R6=Pscalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=5,var_off=(0x0; 0x7)) R7=1 R8=0 R9=0 R10=fp0 fp-8=P1',
      'mark_precise: frame0: last_idx 7 first_idx 0 subseq_idx 8 ',
      'mark_precise: frame0: regs= stack=-8 before 7: (b7) r9 = 0',
      'mark_precise: frame0: regs= stack=-8 before 6: (b7) r8 = 0',
      'mark_precise: frame0: regs= stack=-8 before 5: (7b) *(u64 *)(r10 -8) = r7',
      'mark_precise: frame0: regs=r7 stack= before 4: (b7) r7 = 1',
      'mark_precise: frame0: last_idx 11 first_idx 10 subseq_idx -1 ',
      'mark_precise: frame0: regs=r0 stack= before 10: (79) r0 = *(u64 *)(r10 -8)',
      'mark_precise: frame0: parent state regs= stack=-8:  R0=scalar(id=1) R6=scalar(id=1,smin=umin=smin32=umin32=6,smax=umax=smax32=umax32=9,var_off=(0x0; 0xf)) R7=0 R8=1 R9=0 R10=fp0 fp-8=P0',
      'mark_precise: frame0: last_idx 9 first_idx 0 subseq_idx 10 ',
      'mark_precise: frame0: regs= stack=-8 before 9: (b7) r8 = 1',
      'mark_precise: frame0: regs= stack=-8 before 8: (25) if r6 > 0x9 goto pc+1',
      'mark_precise: frame0: regs= stack=-8 before 7: (b7) r9 = 0',
      'mark_precise: frame0: regs= stack=-8 before 6: (b7) r8 = 0',
      'mark_precise: frame0: regs= stack=-8 before 5: (7b) *(u64 *)(r10 -8) = r7',
      'mark_precise: frame0: regs=r7 stack= before 3: (25) if r6 > 0x5 goto pc+1',
      'mark_precise: frame0: regs=r7 stack= before 2: (b7) r7 = 0',
      'frame 0: propagating fp-8',
      'mark_precise: frame0: last_idx 10 first_idx 0 subseq_idx -1 ',
      'mark_precise: frame0: regs= stack=-8 before 8: (25) if r6 > 0x9 goto pc+1',
      'mark_precise: frame0: regs= stack=-8 before 7: (b7) r9 = 0',
      'mark_precise: frame0: regs= stack=-8 before 6: (b7) r8 = 0',
      'mark_precise: frame0: regs= stack=-8 before 5: (7b) *(u64 *)(r10 -8) = r7',
      'mark_precise: frame0: regs=r7 stack= before 3: (25) if r6 > 0x5 goto pc+1',
      'mark_precise: frame0: regs=r7 stack= before 2: (b7) r7 = 0',
      'from 8 to 10: safe',
    ],
  },
  {
    name: 'dead stack slots are ignored at the join', type: 1, processed: 12,
    asm: 'call bpf_get_prandom_u32#7\nr6 = r0\nr0 = 0\nif r6 > 100 goto pc+5\n*(u64 *)(r10 -8) = r6\nr1 = *(u64 *)(r10 -8)\n*(u32 *)(r10 -16) = r1\nr2 = *(u32 *)(r10 -16)\nr0 = r2\nr0 &= 1\nexit',
    lines: [
      'from 3 to 9: safe',
    ],
  },
];
