// Assembly snippets shared by the socket-model tests' hand-written programs (kernel syntax, see README).

import type { ScenarioResult } from '../kernel/sockrun.js';

/**
 * Stores 64-bit register `value` at u32 key `key` (an immediate or a register) of the ARRAY map with index
 * `mapIdx` through bpf_map_update_elem. Uses the stack at r10-8 (value) and r10-12 (key); clobbers r0-r5.
 */
export function recordValue(mapIdx: number, key: number | string, value: string): string {
  return `
  *(u64 *)(r10 - 8) = ${value}
  *(u32 *)(r10 - 12) = ${key}
  r1 = map[idx:${mapIdx}]
  r2 = r10
  r2 += -12
  r3 = r10
  r3 += -8
  r4 = 0
  call bpf_map_update_elem#2
`;
}

/**
 * The sock_ops tracers' prologue: r6 = ctx; n = counter[0] of ARRAY map 1 (post-incremented); r7 = &log[n] in
 * map 0. Jumps to `out` when either lookup fails.
 */
export const NEXT_LOG_SLOT = `
  r6 = r1
  *(u32 *)(r10 - 4) = 0
  r1 = map[idx:1]
  r2 = r10
  r2 += -4
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
  r8 = *(u32 *)(r0 + 0)
  r3 = r8
  r3 += 1
  *(u32 *)(r0 + 0) = r3
  *(u32 *)(r10 - 8) = r8
  r1 = map[idx:0]
  r2 = r10
  r2 += -8
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
  r7 = r0
`;

/**
 * The records NEXT_LOG_SLOT's programs wrote in a scenario run: map 0's values in key order, as many as map 1's
 * counter says, each as a DataView.
 */
export function logRecords(r: ScenarioResult): DataView[] {
  const counter = r.maps[1]!.entries![0]!.value;
  const n = new DataView(counter.buffer, counter.byteOffset).getUint32(0, true);
  return [...r.maps[0]!.entries!]
    .sort((a, b) => a.key[0]! - b.key[0]!)
    .slice(0, n)
    .map((e) => new DataView(e.value.buffer, e.value.byteOffset, e.value.byteLength));
}

/**
 * Arms the struct bpf_timer at offset 8 of the map value r6 points to (a value of map `mapIdx`):
 * bpf_timer_init(clock `clockId`), bpf_timer_set_callback(the subprogram at label `cb`), bpf_timer_start(`ns`,
 * `startFlags`). `ns` is an immediate as the assembler reads it (append ` ll` for a 64-bit one). Clobbers r0-r5.
 */
export function startTimer(mapIdx: number, clockId: number, ns: string, startFlags: number): string {
  return `
  r1 = r6
  r1 += 8
  r2 = map[idx:${mapIdx}]
  r3 = ${clockId}
  call bpf_timer_init#169
  r1 = r6
  r1 += 8
  r2 = func[cb]
  call bpf_timer_set_callback#170
  r1 = r6
  r1 += 8
  r2 = ${ns}
  r3 = ${startFlags}
  call bpf_timer_start#171
`;
}

/**
 * Points `dst` at the value of u32 key 0 of map `mapIdx` (bpf_map_lookup_elem, the key at r10-4); jumps to
 * `miss` when the lookup fails. Clobbers r0-r5.
 */
export function lookupKey0(mapIdx: number, dst: string, miss = 'out'): string {
  return `
  *(u32 *)(r10 - 4) = 0
  r1 = map[idx:${mapIdx}]
  r2 = r10
  r2 += -4
  call bpf_map_lookup_elem#1
  if r0 == 0 goto ${miss}
  ${dst} = r0
`;
}

/**
 * Inserts a zeroed 32-byte value at u32 key 0 of map `mapIdx` (bpf_map_update_elem with `flags`, the value at
 * r10-40), then points `dst` at it as lookupKey0 does (jumping to `miss` when the lookup fails). Clobbers r0-r5.
 */
export function insertZeroKey0(mapIdx: number, flags: number, dst: string, miss = 'out'): string {
  return `
  *(u32 *)(r10 - 4) = 0
  *(u64 *)(r10 - 40) = 0
  *(u64 *)(r10 - 32) = 0
  *(u64 *)(r10 - 24) = 0
  *(u64 *)(r10 - 16) = 0
  r1 = map[idx:${mapIdx}]
  r2 = r10
  r2 += -4
  r3 = r10
  r3 += -40
  r4 = ${flags}
  call bpf_map_update_elem#2
${lookupKey0(mapIdx, dst, miss)}`;
}
