/**
 * bpf_get_local_storage (81) from SOCK_OPS programs attached to a cgroup, with CGROUP_STORAGE and
 * PERCPU_CGROUP_STORAGE maps (src/kernel/cgroup-storage.ts, maps/cgroup-storage.ts), in the host kernel
 * (test/kernel/sockrun.c, a private cgroup v2) and in the model (root cgroup): each callback counts itself in
 * the shared storage (u64 at 0) and in the per-CPU one, and adds its op number at 8; the shared storage's value
 * (as user space reads it), the step results and the keys' attach type must agree (per-CPU values: see view). The key's cgroup id is the private cgroup's in the kernel and
 * the root's (1) in the model: not compared. Skips with the reason without the kernel oracle or cgroup v2.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import { AttachType, ProgType, cgroupSkipReason, runScenario, sockAvailability, tcpPair, type Scenario, type ScenarioResult } from '../kernel/sockrun.js';
import { runModelScenario } from './sockmap-harness.js';

const avail = sockAvailability();

const PROG = `
  r6 = r1
  r1 = map[idx:0]
  r2 = 0
  call bpf_get_local_storage#81
  r1 = *(u64 *)(r0 + 0)
  r1 += 1
  *(u64 *)(r0 + 0) = r1
  r2 = *(u32 *)(r6 + 0)
  r1 = *(u64 *)(r0 + 8)
  r1 += r2
  *(u64 *)(r0 + 8) = r1
  r1 = map[idx:1]
  r2 = 0
  call bpf_get_local_storage#81
  r1 = *(u64 *)(r0 + 0)
  r1 += 1
  *(u64 *)(r0 + 0) = r1
  r0 = 1
  exit`;

function view(r: ScenarioResult): unknown {
  const at = (k: Uint8Array): number => new DataView(k.buffer, k.byteOffset).getUint32(8, true);
  return {
    steps: r.steps.map((s) => [s.op, s.ret]),
    shared: r.maps[0]!.entries!.map((e) => ({ attachType: at(e.key), value: Buffer.from(e.value).toString('hex') })),
    // Per-CPU values are not compared: the kernel's callbacks run on whichever CPU, and the harness's dump reads
    // one CPU's slot (the test-run comparison in cgroup-storage.test.ts covers per-CPU values).
    percpu: r.maps[1]!.entries!.map((e) => ({ attachType: at(e.key) })),
  };
}

describe.skipIf(!avail.ok)(`cgroup storage from sock_ops: model vs kernel${avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`}`, () => {
  it('one storage per (cgroup, attach type) counts every callback of both connection ends and the listener', (ctx) => {
    const s: Scenario = {
      maps: [
        { type: 19, keySize: 16, valueSize: 16, maxEntries: 0 },
        { type: 21, keySize: 16, valueSize: 8, maxEntries: 0 },
      ],
      progs: [{ progType: ProgType.SOCK_OPS, expectedAttachType: AttachType.CGROUP_SOCK_OPS, insns: assemble(PROG) }],
      steps: [{ op: 'cgroupAttach', prog: 0, label: 'cg' }, ...tcpPair('l1', 'c1', 'p1'), ...tcpPair('l2', 'c2', 'p2')],
    };
    const kernel = runScenario(s);
    const noCgroup = cgroupSkipReason(kernel);
    if (noCgroup !== null) return ctx.skip(noCgroup);
    expect(kernel.ok).toBe(true);
    const model = runModelScenario(s).result;
    const k = view(kernel);
    console.log(`kernel: ${JSON.stringify(k, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
    expect(view(model)).toEqual(k);
  });
});
