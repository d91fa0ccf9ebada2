/**
 * The socket program types' helper table (what the 6.18 kernel allows as root, what the model implements), the
 * shared load-time refusal of SK_SKB / SK_MSG / SOCK_OPS programs that call a helper the model lacks, and the
 * generic / sock_ops / sk_storage helpers of src/kernel/sock-helpers.ts. The kernel comparison of the sock_ops
 * socket-option helpers is in sock-helpers-kernel.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import { Kernel } from '../../src/kernel/model.js';
import { SOCKET_PROG_TYPES, bpfStrtoull, socketHelperTable, INITIAL_JIFFIES } from '../../src/kernel/sock-helpers.js';
import { SkStorageMap } from '../../src/kernel/maps/sk-storage.js';
import { PerfEventArrayMap } from '../../src/kernel/maps/perf-event-array.js';
import { createMap } from '../../src/kernel/maps/index.js';
import { rawMap } from '../kernel/raw-spec.js';
import { lookupKey0, recordValue } from './asm-snippets.js';

const TYPE_NAMES: Record<number, string> = { 13: 'SOCK_OPS', 14: 'SK_SKB', 16: 'SK_MSG' };

/** What the model implements per type (kept in step with README.md "Helpers in the socket model"). */
const EXPECTED_IMPLEMENTED: Record<number, number[]> = {
  14: [1, 2, 3, 5, 6, 7, 8, 9, 12, 14, 15, 16, 17, 25, 26, 37, 38, 39, 42, 43, 46, 47, 50, 52, 72, 80, 84, 85, 86, 87, 88, 89, 93, 94, 99, 105, 106, 118, 120, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 156, 157, 160, 164, 169, 170, 171, 172, 178, 181, 182, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209],
  16: [1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 25, 37, 42, 60, 61, 62, 63, 71, 80, 87, 88, 89, 90, 91, 93, 94, 105, 106, 107, 108, 118, 120, 122, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 156, 157, 160, 164, 169, 170, 171, 172, 178, 181, 182, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209],
  13: [1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 25, 37, 42, 46, 49, 53, 57, 59, 70, 80, 81, 87, 88, 89, 93, 94, 96, 105, 106, 107, 108, 118, 120, 122, 123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 142, 143, 144, 156, 157, 160, 164, 169, 170, 171, 172, 178, 181, 182, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 208, 209],
};

/** The CAP_PERFMON helpers of src/kernel/trace-helpers.ts, implemented for every type (on top of the lists above). */
const TRACE_IMPLEMENTED = [22, 35, 55, 109, 112, 113, 114, 115, 117, 158, 165, 175, 176, 177, 180];
const expectedImplemented = (t: number): number[] => [...new Set([...EXPECTED_IMPLEMENTED[t]!, ...TRACE_IMPLEMENTED])].sort((a, b) => a - b);


describe('socket helper table', () => {
  it('lists, per socket program type, the helpers the kernel allows and the ones the model implements', () => {
    const k = new Kernel();
    k.createMaps([rawMap('st', 24, 4, 8, 0, 1)]); // the maps install bpf_sk_storage_* / bpf_task_storage_*
    for (const t of SOCKET_PROG_TYPES) {
      const rows = socketHelperTable(k.vm, t);
      const impl = rows.filter((r) => r.implemented);
      console.log(`${TYPE_NAMES[t]} (${t}): kernel allows ${rows.length}, model implements ${impl.length}: ${impl.map((r) => `${r.name}#${r.id}`).join(' ')}`);
      console.log(`  not implemented (refused at load): ${rows.filter((r) => !r.implemented).map((r) => `${r.name}#${r.id}`).join(' ')}`);
      expect(impl.map((r) => r.id)).toEqual(expectedImplemented(t));
      // every implemented helper is one the kernel allows
      expect(rows.length).toBeGreaterThan(impl.length);
    }
  });

  it('refuses at load time, for SK_MSG and SOCK_OPS as for SK_SKB, a helper the model lacks or the type may not call', () => {
    const k = new Kernel();
    const prog = (id: number): Uint8Array => assemble(`r2 = 0\nr3 = 0\nr4 = 0\nr5 = 0\ncall ${id}\nr0 = 1\nexit`);
    for (const type of [14, 16, 13]) {
      // the storage helpers come with the maps (no maps yet: not installed)
      expect(() => k.loadProgram({ type, name: 'ts', insns: prog(156) })).toThrow(/bpf_task_storage_get#156/);
    }
    expect(() => k.loadProgram({ type: 16, name: 'ops', insns: prog(49) })).toThrow(/bpf_setsockopt#49 \(the kernel refuses to load it\)|cannot use helper bpf_setsockopt#49/);
    expect(() => k.loadProgram({ type: 13, name: 'msg', insns: prog(61) })).toThrow(/cannot use helper bpf_msg_apply_bytes#61/);
    // sk_storage helpers need an sk_storage map (no maps yet: not installed)
    expect(() => k.loadProgram({ type: 16, name: 'st', insns: prog(107) })).toThrow(/bpf_sk_storage_get#107/);
    expect(() => k.loadProgram({ type: 16, name: 'lk', insns: prog(84) })).toThrow(/cannot use helper bpf_sk_lookup_tcp#84/);
    expect(() => k.loadProgram({ type: 16, name: 'rel', insns: prog(86) })).toThrow(/cannot use helper bpf_sk_release#86/);
    expect(() => k.loadProgram({ type: 14, name: 'ts', insns: prog(96) })).toThrow(/cannot use helper bpf_tcp_sock#96/);
    for (const type of [14, 16, 13]) {
      // not modelled (trace-helpers.ts): the real task's stack addresses; kernel types from vmlinux BTF
      expect(() => k.loadProgram({ type, name: 'ts', insns: prog(141) })).toThrow(/bpf_get_task_stack#141, which bpfvm's socket model does not provide/);
      expect(() => k.loadProgram({ type, name: 'sb', insns: prog(149) })).toThrow(/bpf_snprintf_btf#149, which bpfvm's socket model does not provide/);
      // sleepable-only: the kernel's verifier message
      expect(() => k.loadProgram({ type, name: 'cu', insns: prog(148) })).toThrow(/program cu: helper call might sleep in a non-sleepable prog \(bpf_copy_from_user#148; the kernel refuses to load it\)/);
      expect(() => k.loadProgram({ type, name: 'ct', insns: prog(191) })).toThrow(/helper call might sleep in a non-sleepable prog \(bpf_copy_from_user_task#191/);
    }
    expect(k.loadProgram({ type: 13, name: 'ok', insns: prog(49) }).name).toBe('ok');
    expect(k.loadProgram({ type: 16, name: 'ok2', insns: prog(25) }).name).toBe('ok2');
  });
});

describe('generic helpers', () => {
  it('bpf_strtol / bpf_strtoul parse like the kernel', () => {
    const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');
    expect(bpfStrtoull(enc('  -123abc'), 10n)).toEqual({ consumed: 6, value: 123n, negative: true });
    expect(bpfStrtoull(enc('0x1fz'), 0n)).toEqual({ consumed: 4, value: 0x1fn, negative: false });
    expect(bpfStrtoull(enc('0x1f'), 16n)).toEqual({ consumed: 4, value: 0x1fn, negative: false });
    expect(bpfStrtoull(enc('017'), 0n)).toEqual({ consumed: 3, value: 15n, negative: false });
    expect(bpfStrtoull(enc('0x'), 0n)).toEqual({ consumed: 1, value: 0n, negative: false }); // octal "0", then "x"
    expect(bpfStrtoull(enc('x'), 10n)).toBe(-22);
    expect(bpfStrtoull(enc('   '), 10n)).toBe(-22);
    expect(bpfStrtoull(enc('12'), 7n)).toBe(-22);
    expect(bpfStrtoull(enc('12'), 0x20n)).toBe(-22);
    expect(bpfStrtoull(enc('18446744073709551616'), 10n)).toBe(-34);
    expect(bpfStrtoull(enc('18446744073709551615'), 10n)).toEqual({ consumed: 20, value: 2n ** 64n - 1n, negative: false });
  });

  it('strtol / strtoul / strncmp / jiffies64 / get_current_comm / trace_printk from a SOCK_OPS program', () => {
    const k = new Kernel();
    k.createMaps([rawMap('out', 2, 4, 64, 1)]);
    // out[0..8) strtol("-42 ") res, [8..12) its ret, [12..16) strtoul("-1") ret, [16..20) strncmp("abd","abc"),
    // [24..32) jiffies64, [32..48) comm, [48..52) trace_printk ret
    const p = k.loadProgram({
      type: 13, name: 'gen', insns: assemble(`
        r6 = r1
        ${lookupKey0(0, 'r7')}
        r1 = 0x20323434
        *(u32 *)(r10 - 16) = r1
        *(u8 *)(r10 - 16) = 0x2d
        r1 = r10
        r1 += -16
        r2 = 4
        r3 = 10
        r4 = r7
        call bpf_strtol#105
        *(u32 *)(r7 + 8) = r0
        *(u16 *)(r10 - 24) = 0x312d
        r1 = r10
        r1 += -24
        r2 = 2
        r3 = 0
        r4 = r10
        r4 += -32
        call bpf_strtoul#106
        *(u32 *)(r7 + 12) = r0
        *(u32 *)(r10 - 40) = 0x00646261
        *(u32 *)(r10 - 48) = 0x00636261
        r1 = r10
        r1 += -40
        r2 = 3
        r3 = r10
        r3 += -48
        call bpf_strncmp#182
        *(u32 *)(r7 + 16) = r0
        call bpf_jiffies64#118
        *(u64 *)(r7 + 24) = r0
        r1 = r7
        r1 += 32
        r2 = 16
        call bpf_get_current_comm#16
        *(u32 *)(r10 - 56) = 0x000a6968
        r1 = r10
        r1 += -56
        r2 = 4
        call bpf_trace_printk#6
        *(u32 *)(r7 + 48) = r0
      out:
        r0 = 1
        exit`),
    });
    expect(k.cgroupAttach(p)).toBe(0);
    k.listen(); // TCP_LISTEN_CB: one run
    const v = k.mapLookup(k.map(0), 0) as Uint8Array;
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    expect(dv.getBigInt64(0, true)).toBe(-42n);
    expect(dv.getInt32(8, true)).toBe(3); // "-42" consumed, the space stops it
    expect(dv.getInt32(12, true)).toBe(-22); // strtoul of a negative number
    expect(dv.getInt32(16, true)).toBe(1); // "abd" > "abc"
    expect(dv.getBigUint64(24, true)).toBeGreaterThanOrEqual(INITIAL_JIFFIES + 250n); // 1 s of virtual clock
    expect(Buffer.from(v.subarray(32, 48)).toString('latin1')).toBe('bpfvm' + '\0'.repeat(11));
    expect(dv.getInt32(48, true)).toBe(3);
    expect(k.helperOutput.trace).toEqual(['hi']);
  });
});

const codeOf = (fn: () => unknown): string | null => {
  try {
    fn();
    return null;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
};

describe('sk_storage', () => {
  it('creates maps with the kernel attribute rules', () => {
    expect(createMap(rawMap('st', 24, 4, 8, 0, 1))).toBeInstanceOf(SkStorageMap);
    expect(createMap(rawMap('st', 24, 4, 8, 0, 1 | (1 << 9)))).toBeInstanceOf(SkStorageMap); // BPF_F_CLONE
    expect(codeOf(() => createMap(rawMap('st', 24, 4, 8, 0, 0)))).toBe('EINVAL');
    expect(codeOf(() => createMap(rawMap('st', 24, 4, 8, 1, 1)))).toBe('EINVAL');
    expect(codeOf(() => createMap(rawMap('st', 24, 8, 8, 0, 1)))).toBe('EINVAL');
    expect(codeOf(() => createMap(rawMap('st', 24, 4, 0, 0, 1)))).toBe('EINVAL');
    expect(codeOf(() => createMap(rawMap('st', 24, 4, 70000, 0, 1)))).toBe('E2BIG');
  });

  it('sock_ops creates and counts per-socket values, sk_msg reads and deletes them, user space sees them by fd', () => {
    const k = new Kernel();
    k.createMaps([rawMap('st', 24, 4, 8, 0, 1), rawMap('sm', 15, 4, 4, 4), rawMap('out', 2, 4, 8, 4)]);
    // sock_ops: every callback on a full socket: v = sk_storage_get(st, skops->sk, NULL, F_CREATE); v[0]++.
    // On the request socket skops->sk is NULL: get returns NULL and delete -EINVAL (logged in out[1]).
    const ops = k.loadProgram({
      type: 13, name: 'count', insns: assemble(`
        r6 = r1
        r2 = *(u64 *)(r6 + 184)
        r1 = map[idx:0]
        r3 = 0
        r4 = 1
        call bpf_sk_storage_get#107
        if r0 == 0 goto nostore
        r1 = *(u32 *)(r0 + 0)
        r1 += 1
        *(u32 *)(r0 + 0) = r1
        r1 = *(u32 *)(r6 + 0)
        if r1 != 4 goto done
        r1 = r6
        r2 = map[idx:1]
        *(u32 *)(r10 - 4) = 0
        r3 = r10
        r3 += -4
        r4 = 0
        call bpf_sock_map_update#53
        goto done
      nostore:
        r2 = *(u64 *)(r6 + 184)
        r1 = map[idx:0]
        call bpf_sk_storage_delete#108
        ${recordValue(2, 1, 'r0')}
      done:
        r0 = 1
        exit`),
    });
    // sk_msg: out[0] = the sender's counter (get without F_CREATE), then delete twice: out[2], out[3] = rets
    const msg = k.loadProgram({
      type: 16, name: 'peek', insns: assemble(`
        r6 = r1
        r2 = *(u64 *)(r6 + 72)
        r1 = map[idx:0]
        r3 = 0
        r4 = 0
        call bpf_sk_storage_get#107
        if r0 == 0 goto out
        r1 = *(u32 *)(r0 + 0)
        ${recordValue(2, 0, 'r1')}
        r2 = *(u64 *)(r6 + 72)
        r1 = map[idx:0]
        call bpf_sk_storage_delete#108
        ${recordValue(2, 2, 'r0')}
        r2 = *(u64 *)(r6 + 72)
        r1 = map[idx:0]
        call bpf_sk_storage_delete#108
        ${recordValue(2, 3, 'r0')}
      out:
        r0 = 1
        exit`),
    });
    expect(k.cgroupAttach(ops)).toBe(0);
    expect(k.attach(msg, k.map(1), 7)).toBe(0);
    const l = k.listen();
    const c = k.connect(l);
    if (typeof c === 'number') throw new Error(`connect: ${c}`);
    const p = k.accept(l);
    if (typeof p === 'number') throw new Error(`accept: ${p}`);
    const st = k.map(0) as SkStorageMap;
    const u32 = (v: Uint8Array | number): number => (typeof v === 'number' ? v : new DataView(v.buffer, v.byteOffset).getUint32(0, true));
    const key = (fd: number): Uint8Array => new Uint8Array(new Uint32Array([fd]).buffer);
    // client: CONNECT, RWND_INIT, TIMEOUT_INIT, NEEDS_ECN, ACTIVE_ESTABLISHED = 5; listener: LISTEN_CB = 1;
    // child: PASSIVE_ESTABLISHED = 1 (its request socket's 3 callbacks had no socket)
    expect(u32(k.mapLookup(st, key(c.fd)))).toBe(5);
    expect(u32(k.mapLookup(st, key(l.fd)))).toBe(1);
    expect(u32(k.mapLookup(st, key(p.fd)))).toBe(1);
    expect(st.count).toBe(3);
    expect(u32(k.mapLookup(k.map(2), 1))).toBe(-22 >>> 0);
    expect(k.send(c, new Uint8Array([1, 2, 3]))).toBe(3);
    const out = k.map(2);
    expect(u32(k.mapLookup(out, 0))).toBe(5);
    expect(u32(k.mapLookup(out, 2))).toBe(0);
    expect(u32(k.mapLookup(out, 3))).toBe(-2 >>> 0); // ENOENT
    expect(k.mapLookup(st, key(c.fd))).toBe(-2);
    // user space: update / lookup by fd, get_next_key unsupported, values go with the socket
    expect(k.mapUpdate(st, key(p.fd), new Uint8Array(8).fill(9), 1)).toBe(-17); // BPF_NOEXIST, value exists
    expect(k.mapUpdate(st, key(c.fd), new Uint8Array(8).fill(7), 2)).toBe(-2); // BPF_EXIST, none
    expect(k.mapUpdate(st, key(c.fd), new Uint8Array(8).fill(7), 0)).toBe(0);
    expect(Array.from(k.mapLookup(st, key(c.fd)) as Uint8Array)).toEqual([7, 7, 7, 7, 7, 7, 7, 7]);
    expect(k.mapLookup(st, key(999))).toBe(-9); // EBADF
    expect(k.mapNextKey(st, null)).toBe(-524);
    expect(k.close(p)).toBe(0);
    expect(st.count).toBe(2);
  });
});

describe('bpf_perf_event_output', () => {
  it('captures records of open slots, with the kernel errno for the others', () => {
    const k = new Kernel();
    k.createMaps([rawMap('events', 4, 4, 4, 2), rawMap('out', 2, 4, 8, 5)]);
    const perf = k.map(0) as PerfEventArrayMap;
    perf.open(0); // the CPU-0 reader
    perf.open(1); // a CPU-1 reader: a program on CPU 0 cannot write there
    const calls: [string, number][] = [['0xffffffff', 0], ['0', 1], ['1', 2], ['2', 3], ['0x100000000', 4]];
    let body = '';
    for (const [flags, slot] of calls) {
      body += `r1 = r6\nr2 = map[idx:0]\nr3 = ${flags} ll\nr4 = r10\nr4 += -8\nr5 = 4\ncall bpf_perf_event_output#25\n`;
      body += `*(u64 *)(r10 - 24) = r0\n*(u32 *)(r10 - 12) = ${slot}\nr1 = map[idx:1]\nr2 = r10\nr2 += -12\nr3 = r10\nr3 += -24\nr4 = 0\ncall bpf_map_update_elem#2\n`;
    }
    const p = k.loadProgram({ type: 13, name: 'perf', insns: assemble(`r6 = r1\n*(u32 *)(r10 - 8) = 0x64636261\n${body}r0 = 1\nexit`) });
    expect(k.cgroupAttach(p)).toBe(0);
    k.listen();
    const ret = (i: number): number => new DataView((k.mapLookup(k.map(1), i) as Uint8Array).buffer).getInt32(0, true);
    expect([0, 1, 2, 3, 4].map(ret)).toEqual([0, 0, -95, -7, -22]);
    expect(perf.records.map((r) => [r.index, Buffer.from(r.data).toString()])).toEqual([[0, 'abcd'], [0, 'abcd']]);
    expect(k.mapUpdate(perf, 0, new Uint8Array(4))).toBe(-9);
    expect(k.mapLookup(perf, 0)).toBe(-524);
    expect(k.mapDelete(perf, 1)).toBe(0);
    expect(k.mapDelete(perf, 1)).toBe(-2);
  });
});

describe('bpf_perf_event_output, SK_SKB flavour', () => {
  it('appends BPF_F_CTXLEN_MASK packet bytes after the data; -EFAULT past skb->len, -EINVAL for other bits', () => {
    const k = new Kernel();
    k.createMaps([rawMap('events', 4, 4, 4, 1)]);
    const perf = k.map(0) as PerfEventArrayMap;
    perf.open(0);
    const run = (flags: string): number => {
      const p = k.loadProgram({ type: 14, name: 'po', insns: assemble(`*(u32 *)(r10 - 8) = 0x64636261\nr2 = map[idx:0]\nr3 = ${flags} ll\nr4 = r10\nr4 += -8\nr5 = 2\ncall bpf_perf_event_output#25\nexit`) });
      return k.runSkSkb(p, Buffer.from('XYZW')).ret | 0;
    };
    expect(run('0x300000000')).toBe(0); // 3 packet bytes, index 0
    expect(run('0x4ffffffff')).toBe(0); // all 4, BPF_F_CURRENT_CPU
    expect(run('0x0')).toBe(0);
    expect(run('0x500000000')).toBe(-14); // 5 > skb->len
    expect(run('0x10000000000000')).toBe(-22); // bit 52: outside BPF_F_CTXLEN_MASK
    expect(run('0x1')).toBe(-7); // index past max_entries
    expect(perf.records.map((r) => Buffer.from(r.data).toString())).toEqual(['abXYZ', 'abXYZW', 'ab']);
  });
});

describe('bpf_load_hdr_opt (SOCK_OPS)', () => {
  /** A sock_ops program that, in callback `op`, searches for option `kind` (len 8, flags 0) and logs ret + bytes. */
  const run = (op: number, search: number, len = 8, flags = 0): { ret: number; bytes: number } | Error => {
    const k = new Kernel();
    k.createMaps([rawMap('out', 2, 4, 8, 1)]);
    const p = k.loadProgram({ type: 13, name: 'lh', insns: assemble(`
      r6 = r1
      r2 = *(u32 *)(r6 + 0)
      if r2 != ${op} goto out
      *(u64 *)(r10 - 16) = 0
      *(u32 *)(r10 - 16) = ${search}
      r1 = r6
      r2 = r10
      r2 += -16
      r3 = ${len}
      r4 = ${flags}
      call bpf_load_hdr_opt#142
      *(u32 *)(r10 - 8) = r0
      r2 = *(u32 *)(r10 - 16)
      *(u32 *)(r10 - 4) = r2
      *(u32 *)(r10 - 20) = 0
      r1 = map[idx:0]
      r2 = r10
      r2 += -20
      r3 = r10
      r3 += -8
      r4 = 0
      call bpf_map_update_elem#2
    out:
      r0 = 1
      exit`) });
    expect(k.cgroupAttach(p)).toBe(0);
    try {
      const l = k.listen();
      k.connect(l);
      k.accept(l);
    } catch (e) {
      return e as Error;
    }
    const v = k.mapLookup(k.map(0), 0) as Uint8Array;
    const dv = new DataView(v.buffer, v.byteOffset);
    return { ret: dv.getInt32(0, true), bytes: dv.getUint32(4, true) };
  };

  it('the SYN-ACK options in ACTIVE_ESTABLISHED_CB, -ENOMSG / -EPERM / -ENOENT / -EINVAL / -ENOSPC elsewhere', () => {
    expect(run(4, 2)).toEqual({ ret: 4, bytes: 0xd7ff0402 }); // MSS 65495
    expect(run(4, 4)).toEqual({ ret: 2, bytes: 0x0204 }); // SACK_PERM
    expect(run(4, 2, 3)).toEqual({ ret: -28, bytes: 0xff0402 }); // first 3 bytes, -ENOSPC
    expect(run(4, 0x9feb04fe)).toEqual({ ret: -42, bytes: 0x9feb04fe }); // no experimental option
    expect(run(5, 2)).toEqual({ ret: -42, bytes: 2 }); // the final ACK has no MSS
    expect(run(3, 2)).toEqual({ ret: -1, bytes: 2 }); // CONNECT_CB: no packet
    expect(run(4, 2, 8, 1)).toEqual({ ret: -2, bytes: 2 }); // no saved SYN
    expect(run(4, 2, 1)).toEqual({ ret: -22, bytes: 2 }); // len < 2
    expect(run(4, 0x402)).toEqual({ ret: -22, bytes: 0x402 }); // search length for a non-experimental kind
    // timestamps (clock-derived) and window scale are not made up: the run stops, naming the option
    expect(String(run(4, 8))).toMatch(/bpf_load_hdr_opt: TCP option kind 8 of the handshake packet is not modelled/);
    expect(run(5, 3)).toEqual({ ret: -42, bytes: 3 }); // the final ACK has no window scale
  });
});

describe('bpf_loop', () => {
  it('runs the callback until it returns 1 or nr_loops ends; -EINVAL for flags, -E2BIG above 1 << 23', () => {
    // (The kernel wants BTF func_info for callbacks, which the raw-instruction harness cannot give: model only.)
    const k = new Kernel();
    k.createMaps([rawMap('out', 2, 4, 48, 1)]);
    const cases: [number, number][] = [[5, 0], [3, 0], [0, 0], [2, 1], [(1 << 23) + 1, 0]];
    const body = cases.map(([n, f], i) => `*(u64 *)(r10 - 16) = 0
      r1 = ${n}
      r2 = func[cb]
      r3 = r10
      r3 += -16
      r4 = ${f}
      call bpf_loop#181
      *(u32 *)(r7 + ${8 * i}) = r0
      r2 = *(u32 *)(r10 - 16)
      *(u32 *)(r7 + ${8 * i + 4}) = r2`).join('\n');
    const p = k.loadProgram({ type: 13, name: 'loop', insns: assemble(`
      ${lookupKey0(0, 'r7')}
      ${body}
    out:
      r0 = 1
      exit
    cb:
      r3 = *(u64 *)(r2 + 0)
      r3 += r1
      *(u64 *)(r2 + 0) = r3
      r0 = 0
      if r1 != 3 goto cbout
      r0 = 1
    cbout:
      exit`) });
    expect(k.cgroupAttach(p)).toBe(0);
    k.listen();
    const v = k.mapLookup(k.map(0), 0) as Uint8Array;
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    const got = cases.map((_, i) => [dv.getInt32(8 * i, true), dv.getInt32(8 * i + 4, true)]);
    expect(got).toEqual([[4, 6], [3, 3], [0, 0], [-22, 0], [-7, 0]]);
  });
});
