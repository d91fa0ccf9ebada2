/**
 * src/kernel/trace-helpers.ts without the kernel: the error cases and stand-ins the kernel comparisons
 * (test/kernel/trace-helpers-kernel.test.ts, test/model/trace-helpers-kernel.test.ts) cannot reach — bpf_find_vma
 * (its callback needs BTF func_info the raw-instruction harnesses cannot give), bpf_task_pt_regs, an opened
 * perf event slot, the argument buffer's limits, and the runs bpfvm stops rather than make a value up.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import { Kernel } from '../../src/kernel/model.js';
import { testRun } from '../../src/kernel/testrun.js';
import { Maps } from '../../src/kernel/maps/collection.js';
import { PerfEventArrayMap } from '../../src/kernel/maps/perf-event-array.js';
import { CURRENT_PT_REGS_ADDR, CURRENT_TASK_ADDR, kernelAddressAllowed } from '../../src/kernel/trace-helpers.js';
import type { MapSpec, ProgramSpec } from '../../src/spec.js';
import { rawProgram } from '../kernel/raw-spec.js';

const prog = (src: string): ProgramSpec => rawProgram(assemble(src));
const run = (src: string, maps?: Maps): ReturnType<typeof testRun> => testRun(prog(src), new Uint8Array(64), maps ? { maps } : {});
const r0 = (src: string, maps?: Maps): bigint => run(src, maps).r0;
const i64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const mapSpec = (type: number, valueSize: number, maxEntries: number): MapSpec => ({ name: 'm', type, typeName: '', keySize: 4, valueSize, maxEntries, flags: 0, section: '.maps' });

/** Stores `s` + NUL at r10 + off (8-byte stores). */
function str(s: string, off: number): string {
  const b = Buffer.alloc(Math.ceil((s.length + 1) / 8) * 8);
  b.write(s, 'latin1');
  const out: string[] = [];
  for (let k = 0; k < b.length; k += 8) out.push(`r1 = 0x${b.readBigUInt64LE(k).toString(16)} ll`, `*(u64 *)(r10 ${off + k}) = r1`);
  return out.join('\n');
}

describe('bpf_trace_printk / bpf_trace_vprintk / bpf_snprintf formatting', () => {
  it('captures trace_vprintk like trace_printk, without the trailing newline; 0 arguments with NULL data', () => {
    const r = run(`${str('n=%d %s\n', -64)}\n${str('abc', -32)}\n*(u64 *)(r10 - 80) = -3\nr1 = r10\nr1 += -32\n*(u64 *)(r10 - 72) = r1
      r1 = r10\nr1 += -64\nr2 = 9\nr3 = r10\nr3 += -80\nr4 = 16\ncall bpf_trace_vprintk#177\nr6 = r0
      ${str('plain', -64)}\nr1 = r10\nr1 += -64\nr2 = 6\nr3 = 0\nr4 = 0\ncall bpf_trace_vprintk#177\nr0 += r6\nexit`);
    expect(r.trace).toEqual(['n=-3 abc', 'plain']);
    expect(r.r0).toBe(9n + 5n);
  });

  it('data_len rules: -EINVAL for a length not a multiple of 8, above 12 arguments, or with NULL data', () => {
    const call = (len: number, data: string): bigint => i64(r0(`${str('x', -16)}\nr1 = r10\nr1 += -16\nr2 = 2\n${data}\nr4 = ${len}\ncall bpf_trace_vprintk#177\nexit`));
    expect(call(8, 'r3 = 0')).toBe(-22n);
    expect(call(4, 'r3 = r10\nr3 += -128')).toBe(-22n);
    expect(call(104, 'r3 = r10\nr3 += -128')).toBe(-22n);
    expect(call(96, 'r3 = r10\nr3 += -128')).toBe(1n);
  });

  it('strings share the 512-byte argument buffer: cut to what is left, then -ENOSPC', () => {
    // a 600-byte string in a map value: %s prints 511 bytes; %d%s 507 (4 bytes of int, 1 of NUL)
    const maps = Maps.fromSpec({ maps: [mapSpec(2, 600, 1)] });
    maps.get(0).update(new Uint8Array(4), new Uint8Array(600).fill(0x41).fill(0, 599));
    const go = (fmt: string, args: string[]): { r0: bigint; trace: string[] } => {
      const stores = args.map((a, k) => `${a}\n*(u64 *)(r10 ${-128 + 8 * k}) = r1`).join('\n');
      const r = run(`${str(fmt, -64)}\n${stores}\nr1 = r10\nr1 += -64\nr2 = ${fmt.length + 1}\nr3 = r10\nr3 += -128\nr4 = ${8 * args.length}\ncall bpf_trace_vprintk#177\nexit`, maps);
      return { r0: i64(r.r0), trace: r.trace };
    };
    const long = 'r1 = map[idx:0][0]+0';
    expect(go('%s', [long])).toEqual({ r0: 511n, trace: ['A'.repeat(511)] });
    expect(go('%d%s', ['r1 = 7', long]).r0).toBe(508n);
    expect(go('%s%s', [long, long])).toEqual({ r0: -28n, trace: [] });
    expect(go('%s%d', [long, 'r1 = 1'])).toEqual({ r0: -28n, trace: [] });
  });

  it('bpf_snprintf: cut to str_size - 1 and a NUL, returns the full length + 1; size 0 writes nothing', () => {
    const maps = Maps.fromSpec({ maps: [{ ...mapSpec(2, 8, 1), flags: 0x80 }] });
    maps.get(0).update(new Uint8Array(4), Buffer.from('v=%d\0\0\0\0', 'latin1'));
    const go = (size: number, dst: string): { r0: bigint; out: Buffer } => {
      const r = run(`r6 = r1\n*(u64 *)(r10 - 16) = -1\n*(u64 *)(r10 - 8) = 12345\n${dst}\nr2 = ${size}\nr3 = map[idx:0][0]+0\nr4 = r10\nr4 += -8\nr5 = 8\ncall bpf_snprintf#165
        r7 = r0\nr1 = r6\nr2 = 0\nr3 = r10\nr3 += -16\nr4 = 8\nr5 = 0\ncall bpf_skb_store_bytes#9\nr0 = r7\nexit`, maps);
      return { r0: r.r0, out: Buffer.from(r.dataOut.subarray(0, 8)) };
    };
    expect(go(4, 'r1 = r10\nr1 += -16')).toEqual({ r0: 8n, out: Buffer.from([0x76, 0x3d, 0x31, 0, 0xff, 0xff, 0xff, 0xff]) });
    expect(go(8, 'r1 = r10\nr1 += -16').out.toString('latin1')).toBe('v=12345\0');
    expect(go(0, 'r1 = 0').r0).toBe(8n);
  });

  it('%pS of a kernel address bpfvm does not know stops the run; of NULL it prints 0x0', () => {
    const fmt = (arg: string): string => `${str('%pS', -16)}\nr1 = r10\nr1 += -16\nr2 = 4\n${arg}\ncall bpf_trace_printk#6\nexit`;
    expect(run(fmt('r3 = 0')).trace).toEqual(['0x0']);
    expect(() => run(fmt('r3 = 0xffffffff81000000 ll'))).toThrow(/bpf_trace_printk: %pS of kernel address 0xffffffff81000000 is not modelled/);
  });
});

describe('bpf_probe_read_kernel(_str) / bpf_probe_read_user(_str)', () => {
  const read = (helper: string, size: number, src: string): string => `r1 = r10\nr1 += -64\nr2 = ${size}\n${src}\ncall ${helper}\nexit`;

  it('classifies addresses as x86-64 copy_from_kernel_nofault_allowed does', () => {
    expect(kernelAddressAllowed(0n)).toBe(false);
    expect(kernelAddressAllowed(0x00007fffffffffffn)).toBe(false);
    expect(kernelAddressAllowed(0x0000800000000000n)).toBe(false); // non-canonical
    expect(kernelAddressAllowed(0xffff800000000000n)).toBe(true);
    expect(kernelAddressAllowed(0xffffffffff600010n)).toBe(false); // vsyscall page
    expect(kernelAddressAllowed(CURRENT_TASK_ADDR)).toBe(true);
  });

  it('stops the run for memory bpfvm does not model: the context, past a region, unknown kernel addresses', () => {
    expect(() => run(`r6 = r1\n${read('bpf_probe_read_kernel#113', 8, 'r3 = r6')}`)).toThrow(/bpf_probe_read_kernel: .* is not plain memory in the kernel/);
    expect(() => run(read('bpf_probe_read_kernel#113', 16, 'r3 = r10\nr3 += -8'))).toThrow(/runs past the region's 512 bytes/);
    expect(() => run(`*(u64 *)(r10 - 8) = -1\n${read('bpf_probe_read_kernel_str#115', 16, 'r3 = r10\nr3 += -8')}`)).toThrow(/bpf_probe_read_kernel_str: the read at .* runs past/);
    expect(() => run(read('bpf_probe_read_kernel#113', 8, 'call bpf_get_current_task#35\nr3 = r0\nr1 = r10\nr1 += -64\nr2 = 8'))).toThrow(/kernel address 0xffff888004a1c000 holds memory that is not modelled/);
    // a string that ends inside the region is fine even when size reaches past it
    expect(r0(`*(u64 *)(r10 - 8) = 0x6968\n${read('bpf_probe_read_kernel_str#115', 32, 'r3 = r10\nr3 += -8')}`)).toBe(3n);
  });

  it('user reads fail with -EFAULT and zero the destination (the model\'s task has no user memory)', () => {
    const r = run(`r6 = r1\n*(u64 *)(r10 - 64) = -1\n${read('bpf_probe_read_user#112', 8, 'r3 = 0x10000').replace('exit', '')}
      r7 = r0\nr1 = r6\nr2 = 0\nr3 = r10\nr3 += -64\nr4 = 8\nr5 = 0\ncall bpf_skb_store_bytes#9\nr0 = r7\nexit`);
    expect(i64(r.r0)).toBe(-14n);
    expect(Array.from(r.dataOut.subarray(0, 8))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(r0(read('bpf_probe_read_user#112', 0, 'r3 = 0x10000'))).toBe(0n);
  });
});

describe('current task, perf counters, signals', () => {
  it('bpf_task_pt_regs(current) is the stand-in; another task stops the run', () => {
    expect(r0('call bpf_get_current_task_btf#158\nr1 = r0\ncall bpf_task_pt_regs#175\nexit')).toBe(CURRENT_PT_REGS_ADDR);
    expect(() => run('r1 = 0xffff888000001000 ll\ncall bpf_task_pt_regs#175\nexit')).toThrow(/bpf_task_pt_regs: task 0xffff888000001000 is not the current task/);
  });

  it('bpf_perf_event_read(_value): an event on another CPU is -EINVAL, one on CPU 0 is not modelled', () => {
    const maps = Maps.fromSpec({ maps: [mapSpec(4, 4, 4)] });
    const pe = maps.get(0) as PerfEventArrayMap;
    pe.open(1, 1);
    pe.open(2, 0);
    const read = (idx: number): bigint => i64(r0(`r1 = map[idx:0]\nr2 = ${idx}\ncall bpf_perf_event_read#22\nexit`, maps));
    expect(read(0)).toBe(-2n);
    expect(read(1)).toBe(-22n);
    expect(read(4)).toBe(-7n);
    expect(() => read(2)).toThrow(/bpf_perf_event_read: the counter of the perf event in slot 2 is not modelled/);
    const value = i64(r0(`*(u64 *)(r10 - 24) = -1\nr1 = map[idx:0]\nr2 = 1\nr3 = r10\nr3 += -24\nr4 = 24\ncall bpf_perf_event_read_value#55\nr1 = *(u64 *)(r10 - 24)\nr0 += r1\nexit`, maps));
    expect(value).toBe(-22n); // buffer zeroed
  });

  it('send_signal(_thread) records valid signals; bpf_find_vma finds no VMA; sock_ops sees the same helpers', () => {
    const k = new Kernel();
    k.createMaps([{ ...mapSpec(2, 16, 1), name: 'out' }]);
    const p = k.loadProgram({
      type: 13, name: 'sig', insns: assemble(`
        r1 = 10
        call bpf_send_signal#109
        r6 = r0
        r1 = 0
        call bpf_send_signal_thread#117
        r6 += r0
        r1 = 12
        call bpf_send_signal_thread#117
        r6 += r0
        call bpf_get_current_task_btf#158
        r7 = r0
        r1 = r0
        r2 = 0x400000
        r3 = func[cb]
        r4 = 0
        r5 = 0
        call bpf_find_vma#180
        r8 = r0
        r1 = r7
        r2 = 0x400000
        r3 = func[cb]
        r4 = 0
        r5 = 1
        call bpf_find_vma#180
        r9 = r0
        *(u32 *)(r10 - 4) = 0
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem#1
        if r0 == 0 goto out
        *(u64 *)(r0 + 0) = r6
        *(u32 *)(r0 + 8) = r8
        *(u32 *)(r0 + 12) = r9
      out:
        r0 = 1
        exit
      cb:
        r0 = 0
        exit`),
    });
    expect(k.cgroupAttach(p)).toBe(0);
    k.listen(); // TCP_LISTEN_CB: one run
    const v = k.mapLookup(k.map(0), 0) as Uint8Array;
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    expect(dv.getBigInt64(0, true)).toBe(0n);
    expect([dv.getInt32(8, true), dv.getInt32(12, true)]).toEqual([-2, -22]); // -ENOENT, then -EINVAL for flags
    expect(k.helperOutput.signals).toEqual([{ sig: 10, thread: false }, { sig: 12, thread: true }]);
  });
});
