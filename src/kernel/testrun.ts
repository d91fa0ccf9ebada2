// BPF_PROG_TEST_RUN for packet programs, as net/bpf/test_run.c builds its input: the packet is copied into a
// fresh buffer, and the context points into it. What is modelled so far:
//  - XDP: `struct xdp_md` with data / data_end / data_meta as 32-bit fields that the kernel turns into
//    packet pointers; data_meta == data; ingress_ifindex 1 (loopback), rx_queue_index 0.
//  - SCHED_CLS / SCHED_ACT: `struct __sk_buff` whose data starts at the Ethernet header (L2 program types);
//    len = packet length; protocol from the EtherType, in network order as the kernel stores it.
//  - SOCKET_FILTER / CGROUP_SKB: like tc, but the kernel pulls the Ethernet header first, so data starts
//    14 bytes in and len = packet length - 14; LD_ABS / LD_IND read from there too.
// Maps come from the program's collection (src/kernel/maps): the map helpers, global data and tail calls
// work. Of the packet helpers, bpf_skb_load_bytes is provided. A program that calls any other helper is
// refused before it runs, with the helper's name and id — never run with a wrong result.

import { helperName } from '../../helpers/ids.js';
import { BpfExecutionError } from '../../vm/errors.js';
import { Vm, type BoundProgram, type HelperFn, type RunResult } from '../../vm/interpreter.js';
import type { Region } from '../../vm/memory.js';
import type { CollectionSpec, ProgramSpec } from '../spec.js';
import { Maps } from './maps/collection.js';
import { MapsVm } from './maps/vm.js';

const BPF_FUNC_skb_load_bytes = 26;
const EFAULT = 14;

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

export interface TestRunOptions {
  budget?: number;
  /** The object the program came from: its maps (and the programs tail calls reach) are created from it. */
  collection?: CollectionSpec;
  /** Live maps to use instead of creating them from `collection` (to inspect them after the run). */
  maps?: Maps;
}

/** Refuses, before running, a program that calls a helper not in `helpers`: name and id in the message. */
function checkHelpers(prog: BoundProgram, name: string, helpers: (HelperFn | undefined)[]): void {
  const exe = prog.exe;
  for (let pc = 0; pc < exe.slots; pc++) {
    if (exe.op[pc] === 0x85 && exe.variant[pc] === 0) {
      const id = exe.imm[pc]!;
      if (id !== 12 && helpers[id] === undefined) {
        throw new BpfExecutionError(pc, `program ${name} calls ${helperName(id)}#${id}, which bpfvm's test run does not provide yet`);
      }
    }
  }
}

export function testRun(prog: ProgramSpec, dataIn: Uint8Array = DEFAULT_TEST_INPUT(), opts: TestRunOptions = {}): TestRunResult {
  const vm = new Vm({ budget: opts.budget, helperName });
  const maps = opts.maps ?? (opts.collection ? Maps.fromSpec(opts.collection) : Maps.fromSpec({ maps: [] }));
  const bound = new Map<string, BoundProgram>();
  const mapsVm: MapsVm = new MapsVm(maps, vm.space, {
    tailCallTarget: (ref) => {
      const cached = bound.get(ref.name);
      if (cached) return cached;
      const spec = opts.collection?.programs.find((p) => p.name === ref.name);
      if (!spec) return null;
      const b = vm.load(spec.insns, mapsVm.resolver, spec.name);
      checkHelpers(b, spec.name, vm.helpers);
      bound.set(ref.name, b);
      return b;
    },
  });
  mapsVm.install(vm);
  const main = vm.load(prog.insns, mapsVm.resolver, prog.name);
  bound.set(prog.name, main);
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
      vm.helpers[BPF_FUNC_skb_load_bytes] = skbLoadBytes(packet, skbStart);
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
  checkHelpers(main, prog.name, vm.helpers);
  const r = vm.run(main, [ctx.address(0)]);
  return { ...r, retval: Number(r.r0 & 0xffffffffn), dataOut: packet };
}

/**
 * bpf_skb_load_bytes(skb, offset, to, len): copies `len` packet bytes from `offset` (relative to skb->data);
 * out of range, the destination is zeroed and -EFAULT returned (net/core/filter.c).
 */
function skbLoadBytes(packet: Uint8Array, dataStart: number): HelperFn {
  return (vm, pc) => {
    const offset = vm.lo[2]! >>> 0;
    const len = vm.lo[4]! >>> 0;
    const avail = packet.length - dataStart;
    if (offset > 0x7fffffff || offset + len > avail) {
      vm.space.write(pc, vm.lo[3]!, vm.hi[3]!, new Uint8Array(len));
      vm.setR0Int(-EFAULT);
      return;
    }
    vm.space.write(pc, vm.lo[3]!, vm.hi[3]!, packet.subarray(dataStart + offset, dataStart + offset + len));
    vm.setR0(0, 0);
  };
}
