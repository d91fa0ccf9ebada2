/**
 * The CAP_PERFMON helpers of src/kernel/trace-helpers.ts in socket programs on real loopback sockets: an SK_MSG
 * verdict (process context: sendmsg), an SK_SKB verdict (softirq) and a SOCK_OPS program (every callback of a
 * connection) each log, per run, the return values of a fixed series of calls (send_signal, probe_read_*,
 * branch snapshot, trace_vprintk / trace_printk, get_current_task) in the host kernel
 * (test/kernel/sockrun.c) and in the model; the logs must agree. Skipped with the reason when the kernel oracle
 * (or, for SOCK_OPS, a cgroup v2 hierarchy) is unavailable.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/model.js';
import { assemble } from '../../vm/asm.js';
import { AttachType, MapType, ProgType, runScenario, sockAvailability, tcpPair, type Scenario, type ScenarioResult, type ScenarioStep } from '../kernel/sockrun.js';
import { runModelScenario } from './sockmap-harness.js';
import { NEXT_LOG_SLOT, logRecords } from './asm-snippets.js';

const avail = sockAvailability();
const suite = avail.ok ? describe : describe.skip;
if (!avail.ok) console.warn(`trace helper socket tests skipped: ${avail.reason}`);

/** Each call leaves r0; its slot in the log record follows the op / ctx word of slot 0. */
const CALLS: string[] = [
  'r1 = 0\ncall bpf_send_signal#109',
  'r1 = 65\ncall bpf_send_signal#109',
  'r1 = 28\ncall bpf_send_signal_thread#117', // SIGWINCH: ignored by default, so the kernel's delivery is harmless
  '*(u64 *)(r10 - 32) = 0\nr1 = 0x6f6c6c6568 ll\n*(u64 *)(r10 - 32) = r1\nr1 = r10\nr1 += -48\nr2 = 16\nr3 = r10\nr3 += -32\ncall bpf_probe_read_kernel_str#115',
  'r1 = r10\nr1 += -48\nr2 = 8\nr3 = r10\nr3 += -32\ncall bpf_probe_read_user#112',
  'r1 = r10\nr1 += -48\nr2 = 8\nr3 = 0\ncall bpf_probe_read_kernel#113',
  'r1 = r10\nr1 += -48\nr2 = 16\nr3 = 0\ncall bpf_get_branch_snapshot#176',
  // trace_vprintk("v=%d %s|", 9, {7, "hello"}, 16)
  'r1 = 0x7c7325206425 ll\n*(u64 *)(r10 - 64) = r1\nr1 = 0x3d76\n*(u16 *)(r10 - 66) = r1\n*(u64 *)(r10 - 96) = 7\nr1 = r10\nr1 += -32\n*(u64 *)(r10 - 88) = r1\nr1 = r10\nr1 += -66\nr2 = 9\nr3 = r10\nr3 += -96\nr4 = 16\ncall bpf_trace_vprintk#177',
  // trace_printk("x=%u", 5, 99)
  'r1 = 0x0075253d78 ll\n*(u64 *)(r10 - 64) = r1\nr1 = r10\nr1 += -64\nr2 = 5\nr3 = 99\ncall bpf_trace_printk#6',
  'call bpf_get_current_task#35\nr0 >>= 47',
];
const SLOTS = 1 + CALLS.length;

function program(first: string): string {
  const body = CALLS.map((c, i) => `${c}\n*(u32 *)(r7 + ${4 * (i + 1)}) = r0`).join('\n');
  return `${NEXT_LOG_SLOT}\n${first}\n*(u32 *)(r7 + 0) = r2\n${body}\nout:\nr0 = 1\nexit`;
}

const MAPS: Scenario['maps'] = [
  { type: MapType.ARRAY, keySize: 4, valueSize: 4 * SLOTS, maxEntries: 40 },
  { type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 },
  { type: MapType.SOCKMAP, keySize: 4, valueSize: 8, maxEntries: 2 },
];

function rows(r: ScenarioResult): number[][] {
  return logRecords(r).map((dv) => Array.from({ length: SLOTS }, (_, i) => dv.getInt32(4 * i, true)));
}

const t = (s: string): Uint8Array => new TextEncoder().encode(s);
const data: ScenarioStep[] = [
  { op: 'send', sock: 'c1', data: t('hello') },
  { op: 'sleep', ms: 20 },
  { op: 'recv', sock: 'p1', maxLen: 100, timeoutMs: 50 },
];

const SCENARIOS: { name: string; s: Scenario; runs: number }[] = [
  {
    name: 'SK_MSG verdict (sendmsg, process context)',
    runs: 1,
    s: {
      maps: MAPS,
      progs: [{ progType: ProgType.SK_MSG, insns: assemble(program('r2 = *(u32 *)(r6 + 16)')) }], // msg->family
      steps: [{ op: 'attach', prog: 0, map: 2, attachType: AttachType.SK_MSG_VERDICT }, ...tcpPair('l1', 'c1', 'p1'), { op: 'sockUpdate', map: 2, key: 0, sock: 'c1' }, ...data],
    },
  },
  {
    name: 'SK_SKB verdict (softirq)',
    runs: 1,
    s: {
      maps: MAPS,
      progs: [{ progType: ProgType.SK_SKB, expectedAttachType: AttachType.SK_SKB_VERDICT, insns: assemble(program('r2 = *(u32 *)(r6 + 0)')) }], // skb->len
      steps: [{ op: 'attach', prog: 0, map: 2, attachType: AttachType.SK_SKB_VERDICT }, ...tcpPair('l1', 'c1', 'p1'), { op: 'sockUpdate', map: 2, key: 0, sock: 'p1' }, ...data],
    },
  },
  {
    name: 'SOCK_OPS (every callback of a connection and its close)',
    runs: 0,
    s: {
      maps: MAPS,
      progs: [{ progType: ProgType.SOCK_OPS, expectedAttachType: AttachType.CGROUP_SOCK_OPS, insns: assemble(program('r2 = *(u32 *)(r6 + 0)')) }], // op
      steps: [{ op: 'cgroupAttach', prog: 0 }, ...tcpPair('l1', 'c1', 'p1'), { op: 'close', sock: 'c1' }, { op: 'sleep', ms: 50 }],
    },
  },
];

suite('trace helpers in socket programs: model vs kernel', () => {
  for (const { name, s, runs } of SCENARIOS) {
    it(name, (ctx) => {
      const kernel = runScenario(s);
      if (kernel.cgroup && !kernel.cgroup.ok) return ctx.skip(`no usable cgroup v2: ${kernel.cgroup.reason}`);
      expect(kernel.ok).toBe(true);
      const k = rows(kernel);
      const km = new Kernel();
      const m = rows(runModelScenario(s, km).result);
      expect(m).toEqual(k);
      if (runs > 0) expect(k.length).toBe(runs);
      else expect(k.length).toBeGreaterThan(2);
      // the model recorded the SIGWINCH of every run (the kernel delivered it to sockrun, which ignores it)
      expect(km.helperOutput.signals).toEqual(k.map(() => ({ sig: 28, thread: true })));
      expect(km.helperOutput.trace.filter((l) => l === 'v=7 hello|').length).toBe(k.length);
      console.log(`${name}: ${k.length} runs x ${CALLS.length} calls agree; first run ${JSON.stringify(k[0])}`);
    });
  }
});
