// BPF_PROG_TEST_RUN for packet programs, as net/bpf/test_run.c builds its input: the packet is copied into a
// fresh buffer, and the context points into it. What is modelled so far:
//  - XDP: `struct xdp_md` with data / data_end / data_meta as 32-bit fields that the kernel turns into
//    packet pointers; data_meta == data; ingress_ifindex 1 (loopback), rx_queue_index 0.
//  - SCHED_CLS / SCHED_ACT: `struct __sk_buff` whose data starts at the Ethernet header (L2 program types);
//    len = packet length; protocol from the EtherType, in network order as the kernel stores it.
//  - SOCKET_FILTER / CGROUP_SKB: like tc, but the kernel pulls the Ethernet header first, so data starts
//    14 bytes in and len = packet length - 14; LD_ABS / LD_IND read from there too.
// Maps and helpers are not wired here yet: a program that calls a helper fails with a typed error naming it.

import { helperName } from '../../helpers/ids.js';
import { BpfExecutionError } from '../../vm/errors.js';
import { Vm, type RunResult } from '../../vm/interpreter.js';
import type { Region } from '../../vm/memory.js';
import type { ProgramSpec } from '../spec.js';

export const BPF_PROG_TYPE_SOCKET_FILTER = 1;
export const BPF_PROG_TYPE_SCHED_CLS = 3;
export const BPF_PROG_TYPE_SCHED_ACT = 4;
export const BPF_PROG_TYPE_XDP = 6;
export const BPF_PROG_TYPE_CGROUP_SKB = 8;

export const ETH_HLEN = 14;
/** The kernel's BPF_PROG_TEST_RUN rejects skb input shorter than an Ethernet header. */
export const MIN_SKB_DATA = ETH_HLEN;
/** The input bpfvm uses when none is given: 64 zero bytes, as the kernel selftests' default. */
export const DEFAULT_TEST_INPUT = (): Uint8Array => new Uint8Array(64);

export interface TestRunResult extends RunResult {
  /** r0 truncated to 32 bits, as BPF_PROG_TEST_RUN reports `retval`. */
  retval: number;
  /** The packet after the run (programs may write it). */
  dataOut: Uint8Array;
}

/** A 32-bit ctx field that reads as a pointer into `region` at `offset()`. */
function pointerField(region: Region, offset: () => number): (out: Int32Array) => void {
  return (out) => {
    out[0] = offset();
    out[1] = region.hi;
  };
}

export function testRun(prog: ProgramSpec, dataIn: Uint8Array = DEFAULT_TEST_INPUT(), opts: { budget?: number } = {}): TestRunResult {
  const vm = new Vm({ budget: opts.budget, helperName });
  const bound = vm.load(prog.insns, undefined, prog.name);
  // Fail at load time, as the kernel would, for helpers that are not available here.
  for (let pc = 0; pc < bound.exe.slots; pc++) {
    if (bound.exe.op[pc] === 0x85 && bound.exe.variant[pc] === 0) {
      const id = bound.exe.imm[pc]!;
      throw new BpfExecutionError(pc, `program ${prog.name} calls ${helperName(id)}#${id}, which bpfvm's test run does not provide yet`);
    }
  }
  const packet = dataIn.slice();
  const pkt = vm.space.map('packet', 'packet', packet, true);
  let ctx: Region;
  const fields = new Map<number, (out: Int32Array) => void>();
  const skbStart = prog.type === BPF_PROG_TYPE_SOCKET_FILTER || prog.type === BPF_PROG_TYPE_CGROUP_SKB ? ETH_HLEN : 0;
  switch (prog.type) {
    case BPF_PROG_TYPE_XDP: {
      ctx = vm.space.map('ctx (xdp_md)', 'ctx', new Uint8Array(24), false);
      const dv = ctx.dv;
      dv.setUint32(12, 1, true); // ingress_ifindex: loopback
      fields.set(0, pointerField(pkt, () => 0));
      fields.set(4, pointerField(pkt, () => packet.length));
      fields.set(8, pointerField(pkt, () => 0));
      break;
    }
    case BPF_PROG_TYPE_SCHED_CLS:
    case BPF_PROG_TYPE_SCHED_ACT:
    case BPF_PROG_TYPE_SOCKET_FILTER:
    case BPF_PROG_TYPE_CGROUP_SKB: {
      if (packet.length < MIN_SKB_DATA) {
        throw new BpfExecutionError(0, `test input of ${packet.length} bytes is shorter than an Ethernet header (${ETH_HLEN}); the kernel refuses it (EINVAL)`);
      }
      ctx = vm.space.map('ctx (__sk_buff)', 'ctx', new Uint8Array(192), true);
      const dv = ctx.dv;
      dv.setUint32(0, packet.length - skbStart, true); // len
      dv.setUint8(16, packet[12]!); // protocol, network order as stored by the kernel
      dv.setUint8(17, packet[13]!);
      dv.setUint32(36, 1, true); // ingress_ifindex
      dv.setUint32(40, 1, true); // ifindex
      fields.set(76, pointerField(pkt, () => skbStart));
      fields.set(80, pointerField(pkt, () => packet.length));
      fields.set(140, pointerField(pkt, () => skbStart));
      vm.setLdAbsPacket(packet, skbStart, ETH_HLEN);
      break;
    }
    default:
      throw new BpfExecutionError(0, `BPF_PROG_TEST_RUN is not supported for program type ${prog.typeName}`);
  }
  ctx.load = (offset, size, out) => {
    const f = fields.get(offset);
    if (f === undefined || size !== 4) return false;
    f(out);
    return true;
  };
  const r = vm.run(bound, [ctx.address(0)]);
  return { ...r, retval: Number(r.r0 & 0xffffffffn), dataOut: packet };
}
