/**
 * bpf_task_storage_get (156) / bpf_task_storage_delete (157) in the socket model (src/kernel/sock-helpers.ts) for
 * the model's one task, the current one (bpf_get_current_task_btf), over a TASK_STORAGE map
 * (src/kernel/maps/local-storage.ts): F_CREATE with an initial value, NULL for a NULL task or bad flags, the
 * existing value on later calls, -EINVAL / -ENOENT from delete.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import { Kernel } from '../../src/kernel/model.js';
import { CURRENT_TASK, TaskCgrpStorageMap } from '../../src/kernel/maps/local-storage.js';
import { rawMap } from '../kernel/raw-spec.js';
import { recordValue } from './asm-snippets.js';


/** r9 = (r0 != NULL), recorded at out[slot]. */
const recordNonNull = (slot: number, label: string): string => `
  r9 = 0
  if r0 == 0 goto ${label}
  r9 = 1
${label}:
  ${recordValue(1, slot, 'r9')}`;

// sock_ops, every callback: out[0] = get(ts, current, NULL, 0) != NULL; out[1] = the same with flags 3 (bad);
// out[2] = get(ts, NULL, NULL, F_CREATE) != NULL; v = get(ts, current, &42, F_CREATE), out[3] = *v, (*v)++;
// out[4] = delete(ts, NULL); when out[9] == 1: out[5], out[6] = delete(ts, current) twice.
const PROG = `
  call bpf_get_current_task_btf#158
  r7 = r0
  r1 = map[idx:0]
  r2 = r7
  r3 = 0
  r4 = 0
  call bpf_task_storage_get#156
  ${recordNonNull(0, 'a')}
  r1 = map[idx:0]
  r2 = r7
  r3 = 0
  r4 = 3
  call bpf_task_storage_get#156
  ${recordNonNull(1, 'b')}
  r1 = map[idx:0]
  r2 = 0
  r3 = 0
  r4 = 1
  call bpf_task_storage_get#156
  ${recordNonNull(2, 'c')}
  r1 = 42
  *(u64 *)(r10 - 24) = r1
  r1 = map[idx:0]
  r2 = r7
  r3 = r10
  r3 += -24
  r4 = 1
  call bpf_task_storage_get#156
  if r0 == 0 goto out
  r1 = *(u64 *)(r0 + 0)
  r2 = r1
  r2 += 1
  *(u64 *)(r0 + 0) = r2
  ${recordValue(1, 3, 'r1')}
  r1 = map[idx:0]
  r2 = 0
  call bpf_task_storage_delete#157
  ${recordValue(1, 4, 'r0')}
  *(u32 *)(r10 - 4) = 9
  r1 = map[idx:1]
  r2 = r10
  r2 += -4
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
  r1 = *(u64 *)(r0 + 0)
  if r1 != 1 goto out
  r1 = map[idx:0]
  r2 = r7
  call bpf_task_storage_delete#157
  ${recordValue(1, 5, 'r0')}
  r1 = map[idx:0]
  r2 = r7
  call bpf_task_storage_delete#157
  ${recordValue(1, 6, 'r0')}
out:
  r0 = 1
  exit`;

const u64le = (n: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, n), true);
  return b;
};

describe('bpf_task_storage_get / bpf_task_storage_delete (the current task)', () => {
  it('creates the value with F_CREATE from the initial value, finds it later, deletes it once', () => {
    const k = new Kernel();
    k.createMaps([rawMap('ts', 29, 4, 8, 0, 1 /* BPF_F_NO_PREALLOC */), rawMap('out', 2, 4, 8, 10)]);
    expect(k.cgroupAttach(k.loadProgram({ type: 13, name: 'task', insns: assemble(PROG) }), '/')).toBe(0);
    const ts = k.map('ts') as TaskCgrpStorageMap;
    const out = (): bigint[] => [0, 1, 2, 3, 4, 5, 6].map((i) => BigInt.asIntN(64, new DataView((k.mapLookup(k.map('out'), i) as Uint8Array).buffer).getBigUint64(0, true)));
    const value = (): bigint | null => {
      const v = ts.valueFor(CURRENT_TASK);
      return v === null ? null : new DataView(v.buffer, v.byteOffset).getBigUint64(0, true);
    };

    k.listen(); // one sock_ops run (TCP_LISTEN_CB)
    // no value yet; bad flags and a NULL task give NULL; created from 42; delete(NULL task) = -EINVAL
    expect(out()).toEqual([0n, 0n, 0n, 42n, -22n, 0n, 0n]);
    expect([value(), ts.count]).toEqual([43n, 1]);

    k.listen(); // the value exists now: found without F_CREATE; F_CREATE returns it (the initial value is unused)
    expect(out()).toEqual([1n, 0n, 0n, 43n, -22n, 0n, 0n]);
    expect(value()).toBe(44n);

    expect(k.mapUpdate(k.map('out'), 9, u64le(1n))).toBe(0);
    k.listen(); // then deleted: 0, and again: -ENOENT
    expect(out()).toEqual([1n, 0n, 0n, 44n, -22n, 0n, -2n]);
    expect([value(), ts.count]).toEqual([null, 0]);

    expect(k.mapUpdate(k.map('out'), 9, u64le(0n))).toBe(0);
    k.listen(); // created afresh
    expect(out().slice(0, 4)).toEqual([0n, 0n, 0n, 42n]);
    expect(value()).toBe(43n);
    // user space has no pidfds: lookups by fd fail with EBADF
    expect(() => ts.lookup(new Uint8Array(4))).toThrow(/EBADF/);
  });

  it('a pointer that is not the current task stops the run; a cgrp_storage map is refused', () => {
    const k = new Kernel();
    k.createMaps([rawMap('ts', 29, 4, 8, 0, 1), rawMap('cs', 32, 4, 8, 0, 1)]);
    const other = k.loadProgram({ type: 13, name: 'other', insns: assemble('r1 = map[idx:0]\nr2 = 4096\nr3 = 0\nr4 = 1\ncall bpf_task_storage_get#156\nr0 = 1\nexit') });
    const cgrp = k.loadProgram({ type: 13, name: 'cgrp', insns: assemble('call bpf_get_current_task_btf#158\nr2 = r0\nr1 = map[idx:1]\nr3 = 0\nr4 = 1\ncall bpf_task_storage_get#156\nr0 = 1\nexit') });
    expect(k.cgroupAttach(other, '/')).toBe(0);
    expect(() => k.listen()).toThrow(/bpf_task_storage_get: task 0x1000 is not the current task/);
    expect(k.cgroupDetach(other, '/')).toBe(0);
    expect(k.cgroupAttach(cgrp, '/')).toBe(0);
    expect(() => k.listen()).toThrow(/bpf_task_storage_get: r1 is not a task_storage map/);
  });
});
