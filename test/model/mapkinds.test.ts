// Queue / stack, ring buffer, user ring buffer and dynptr behaviour beyond the kernel-differential tests: the
// libbpf-style consumer and producer APIs, records that wrap around the end of the ring (kernel test runs never
// consume, so their rings never wrap), bpf_user_ringbuf_drain details, and the same helpers in the socket model
// (SOCK_OPS) as in the test run. The kernel comparisons are in test/model/mapkinds-kernel.test.ts (user-space
// operations) and test/kernel/mapkinds-testrun.test.ts (helpers, the drain included).

import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import { Kernel } from '../../src/kernel/model.js';
import { testRun } from '../../src/kernel/testrun.js';
import { Maps } from '../../src/kernel/maps/collection.js';
import { BpfMapError, QueueStackMap, RingBufMap, UserRingBufMap, consumeRingbufs, createMap, u32Bytes } from '../../src/kernel/maps/index.js';
import type { ProgramSpec } from '../../src/spec.js';
import { rawMap, rawProgram } from '../kernel/raw-spec.js';
import { lookupKey0 } from './asm-snippets.js';

const prog = (text: string): ProgramSpec => rawProgram(assemble(text));
const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const errOf = (fn: () => unknown): string | null => {
  try {
    fn();
    return null;
  } catch (e) {
    return e instanceof BpfMapError ? e.code : String(e);
  }
};

describe('ring buffer consumer (RingBufMap)', () => {
  it('hands out committed samples in order, skips discarded ones, stops at a record still reserved', () => {
    const rb = createMap(rawMap('rb', 27, 0, 0, 4096)) as RingBufMap;
    const a = rb.reserve(3)!;
    a.bytes.set([1, 2, 3]);
    const b = rb.reserve(9)!;
    const c = rb.reserve(1)!;
    c.bytes.set([7]);
    rb.commit(a, false);
    rb.commit(c, false);
    expect(rb.query(0n)).toBe(16n + 24n + 16n); // AVAIL_DATA: every record, the busy one included
    expect(rb.consume()).toEqual([bytes(1, 2, 3)]); // b is still BUSY
    expect(rb.consumerPos).toBe(16);
    rb.commit(b, true); // discarded
    expect(rb.records().map((r) => r.header.toString(16))).toEqual(['40000009', '1']);
    expect(rb.consume()).toEqual([bytes(7)]);
    expect([rb.query(2n), rb.query(3n), rb.query(1n), rb.query(9n)]).toEqual([56n, 56n, 4096n, 0n]);
    expect(rb.output(bytes(5, 6), 4n)).toBe(-22);
    expect(rb.output(new Uint8Array(4096 - 8), 0n)).toBe(-11); // -EAGAIN: the producer may not get size bytes ahead
    expect(rb.output(new Uint8Array(4096 - 16), 0n)).toBe(0);
    expect(rb.consume(1)).toHaveLength(1);
  });

  it('records that cross the end of the ring come out whole, and reserved wrapping samples show the ring bytes', () => {
    const rb = createMap(rawMap('rb', 27, 0, 0, 4096)) as RingBufMap;
    for (let i = 0; i < 3; i++) expect(rb.output(new Uint8Array(1000).fill(i + 1), 0n)).toBe(0);
    expect(rb.consume()).toHaveLength(3); // positions 0..3024
    const big = new Uint8Array(2000).map((_, i) => i & 0xff);
    expect(rb.output(big, 0n)).toBe(0); // 3024 + 8 .. 5032: wraps at 4096
    expect(rb.consume()).toEqual([big]);
    const s = rb.reserve(2000)!; // 5032.. → ring 936..2944: not wrapped; shows what earlier records left there
    expect(s.wrapped).toBe(false);
    expect([s.bytes[0], s.bytes[1999]]).toEqual([1, 3]);
    rb.commit(s, true);
    const w = rb.reserve(1500)!; // 7040.. → ring 2952..4452: wraps; the copy holds the ring bytes
    expect(w.wrapped).toBe(true);
    expect([w.bytes[0], w.bytes[1144]]).toEqual([3, 1064 & 0xff]);
    w.bytes.fill(0x77);
    rb.commit(w, false);
    expect(rb.consume()).toEqual([new Uint8Array(1500).fill(0x77)]); // the discarded one skipped
  });
});

describe('user ring buffer producer (UserRingBufMap) and bpf_user_ringbuf_drain', () => {
  const drainProg = (flags = 0) => prog(`
      ${lookupKey0(0, 'r7')}
      r1 = map[idx:1]
      r2 = func[cb]
      r3 = r7
      r4 = ${flags}
      call bpf_user_ringbuf_drain#209
      *(u64 *)(r7 + 16) = r0
    out:
      r0 = 0
      exit
    cb:
      r6 = r2
      r3 = r1
      *(u64 *)(r10 - 8) = 0
      r1 = r10
      r1 += -8
      r2 = 4
      r4 = 0
      r5 = 0
      call bpf_dynptr_read#201
      r1 = *(u64 *)(r6 + 24)
      r1 += r0
      *(u64 *)(r6 + 24) = r1
      r1 = *(u64 *)(r10 - 8)
      r2 = *(u64 *)(r6 + 0)
      r2 += r1
      *(u64 *)(r6 + 0) = r2
      r2 = *(u64 *)(r6 + 8)
      r2 += 1
      *(u64 *)(r6 + 8) = r2
      r0 = 0
      if r1 != 0xff goto cbout
      r0 = 1
    cbout:
      exit`);

  const setup = () => {
    const maps = Maps.fromSpec({ maps: [rawMap('out', 2, 4, 32, 1), rawMap('urb', 31, 0, 0, 4096)] });
    return { maps, urb: maps.get('urb') as UserRingBufMap, out: () => new DataView(maps.get('out').lookup(u32Bytes(0)).buffer) };
  };

  it('drains submitted samples in order through a LOCAL dynptr, skipping discarded ones and stopping at a busy one', () => {
    const { maps, urb, out } = setup();
    urb.produce(bytes(1, 0, 0, 0, 9));
    const d = urb.reserve(4);
    urb.discard(d);
    urb.produce(bytes(2));
    const busy = urb.reserve(8);
    urb.produce(bytes(3, 0, 0, 0));
    testRun(drainProg(), undefined, { maps });
    // samples 1 and 2 (a 1-byte sample: dynptr_read of 4 bytes fails with -E2BIG and leaves the buffer 0)
    expect(out().getBigUint64(16, true)).toBe(2n); // the discarded sample is not counted
    expect(out().getBigUint64(8, true)).toBe(2n);
    expect(out().getBigUint64(0, true)).toBe(1n);
    expect(out().getBigInt64(24, true)).toBe(-7n);
    busy.bytes.set([4, 0, 0, 0, 0, 0, 0, 0]);
    urb.submit(busy);
    testRun(drainProg(), undefined, { maps });
    expect(out().getBigUint64(16, true)).toBe(2n);
    expect(out().getBigUint64(0, true)).toBe(1n + 4n + 3n);
    expect(urb.consumerPos).toBe(urb.producerPos);
    testRun(drainProg(), undefined, { maps });
    expect(out().getBigUint64(16, true)).toBe(0n); // nothing left
    testRun(drainProg(4), undefined, { maps });
    expect(out().getBigInt64(16, true)).toBe(-22n); // flags other than the wakeup ones
  });

  it('stops when the callback returns 1 (that sample counted), and user space gets E2BIG / ENOSPC', () => {
    const { maps, urb, out } = setup();
    urb.produce(bytes(5, 0, 0, 0));
    urb.produce(bytes(0xff, 0, 0, 0));
    urb.produce(bytes(6, 0, 0, 0));
    testRun(drainProg(), undefined, { maps });
    expect(out().getBigUint64(16, true)).toBe(2n);
    expect(urb.count).toBe(16);
    expect(errOf(() => urb.reserve(4096))).toBe('E2BIG');
    expect(errOf(() => urb.reserve(4096 - 8))).toBe('ENOSPC'); // 16 bytes still unconsumed
    testRun(drainProg(), undefined, { maps });
    expect(errOf(() => urb.reserve(4096 - 8))).toBe(null); // libbpf may fill the ring completely
  });

  it('samples that cross the end of the ring are passed whole', () => {
    const { maps, urb, out } = setup();
    urb.produce(new Uint8Array(4000));
    testRun(drainProg(), undefined, { maps });
    const s = new Uint8Array(200);
    s.set([0x10, 0x20, 0x30, 0x40]);
    urb.produce(s); // header at 4008, data at 4016..4216: wraps
    testRun(drainProg(), undefined, { maps });
    expect(out().getBigUint64(0, true)).toBe(0x40302010n);
  });
});

describe('dynptr layout', () => {
  it('struct bpf_dynptr_kern in the stack: data pointer, size | type << 28, offset; 16 zero bytes when NULL', () => {
    // (The kernel's verifier forbids reading a dynptr's stack slots directly; bpfvm runs without it, so the
    // bytes can be checked here.)
    const maps = Maps.fromSpec({ maps: [rawMap('out', 2, 4, 64, 1), rawMap('rb', 27, 0, 0, 4096)] });
    const copy = (from: number, to: number): string =>
      [0, 8].map((o) => `r1 = *(u64 *)(r10 - ${from - o})\n*(u64 *)(r7 + ${to + o}) = r1`).join('\n');
    const r = testRun(prog(`
      ${lookupKey0(0, 'r7')}
      r1 = r7
      r1 += 48
      r2 = 16
      r3 = 0
      r4 = r10
      r4 += -24
      call bpf_dynptr_from_mem#197
      ${copy(24, 0)}
      r1 = r7
      r2 = 16
      r3 = 1
      r4 = r10
      r4 += -24
      call bpf_dynptr_from_mem#197
      ${copy(24, 16)}
      r1 = map[idx:1]
      r2 = 10
      r3 = 0
      r4 = r10
      r4 += -24
      call bpf_ringbuf_reserve_dynptr#198
      ${copy(24, 32)}
      r1 = r10
      r1 += -24
      r2 = 0
      call bpf_ringbuf_submit_dynptr#199
    out:
      r0 = 0
      exit`), undefined, { maps });
    expect(r.retval).toBe(0);
    const v = maps.get('out').lookup(u32Bytes(0));
    const dv = new DataView(v.buffer);
    // LOCAL over out + 48: the pointer's low half is the offset 48 in the value's region, size 16 | 1 << 28
    expect(dv.getUint32(0, true)).toBe(48);
    expect(dv.getUint32(4, true)).not.toBe(0);
    expect(dv.getUint32(8, true)).toBe(16 | (1 << 28));
    expect(dv.getUint32(12, true)).toBe(0);
    expect(Buffer.from(v.subarray(16, 32)).toString('hex')).toBe('00'.repeat(16)); // flags → -EINVAL, NULL
    expect(dv.getUint32(32, true)).toBe(0); // a ring buffer sample region, offset 0
    expect(dv.getUint32(36, true)).not.toBe(0);
    expect(dv.getUint32(40, true)).toBe(10 | (2 << 28)); // RINGBUF
    expect((maps.get('rb') as RingBufMap).consume()).toEqual([new Uint8Array(10)]);
  });
});

describe('queue / stack maps', () => {
  it('push / peek / pop in FIFO and LIFO order; BPF_EXIST drops the oldest when full (for a stack too)', () => {
    for (const [type, order] of [[22, [2, 3]], [23, [3, 2]]] as const) {
      const q = createMap(rawMap('q', type, 0, 4, 2)) as QueueStackMap;
      q.update(new Uint8Array(0), u32Bytes(1));
      q.update(new Uint8Array(0), u32Bytes(2));
      expect(errOf(() => q.update(new Uint8Array(0), u32Bytes(3)))).toBe('E2BIG');
      q.update(new Uint8Array(0), u32Bytes(3), 2);
      expect(q.elements().map((v) => v[0])).toEqual(order);
      expect(q.lookup(new Uint8Array(0))[0]).toBe(order[0]);
      expect(q.lookupAndDelete(new Uint8Array(0))[0]).toBe(order[0]);
      expect(q.lookupAndDelete(new Uint8Array(0))[0]).toBe(order[1]);
      expect(errOf(() => q.lookupAndDelete(new Uint8Array(0)))).toBe('ENOENT');
      expect(errOf(() => q.delete(new Uint8Array(0)))).toBe('EINVAL');
    }
  });
});

describe('the same helpers in the socket model', () => {
  it('a SOCK_OPS program pushes to a queue and writes ring buffer records; user space reads them', () => {
    const k = new Kernel();
    const maps = k.createMaps([rawMap('q', 22, 0, 8, 4), rawMap('rb', 27, 0, 0, 4096)]);
    const p = k.loadProgram({
      type: 13, name: 'ops', insns: assemble(`
        r6 = r1
        r1 = *(u32 *)(r6 + 0)
        *(u64 *)(r10 - 8) = r1
        r1 = map[idx:0]
        r2 = r10
        r2 += -8
        r3 = 0
        call bpf_map_push_elem#87
        r1 = map[idx:1]
        r2 = r10
        r2 += -8
        r3 = 4
        r4 = 0
        call bpf_ringbuf_output#130
        r0 = 1
        exit`),
    });
    expect(k.cgroupAttach(p)).toBe(0);
    k.listen(); // BPF_SOCK_OPS_TCP_LISTEN_CB (11)
    const q = maps.get('q') as QueueStackMap;
    expect(q.elements().map((v) => v[0])).toEqual([11]);
    expect(k.consumeRingbuf('rb')).toEqual([{ map: 'rb', data: bytes(11, 0, 0, 0) }]);
    expect(k.consumeRingbuf()).toEqual([]);
    expect(consumeRingbufs(maps)).toEqual([]);
    expect(() => k.consumeRingbuf('q')).toThrow(/not a ringbuf/);
  });
});
