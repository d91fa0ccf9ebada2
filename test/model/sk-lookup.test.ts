/**
 * Model-only tests of src/kernel/sk-lookup.ts: the argument and NULL cases of the socket lookups, time-wait
 * sockets after the different ways a connection ends, the reference rules of bpf_sk_release, the access rules
 * of the bpf_sock / bpf_tcp_sock / BTF views and the skc_to_* casts on non-TCP sockets. The kernel comparison is
 * sk-lookup-kernel.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/model.js';
import { BPF_SOCK, SKL, bpfSkcLookup, bpfSkLookup, TimeWaitSock, udpLookup, type SockTable } from '../../src/kernel/sk-lookup.js';
import { helperId } from '../../helpers/ids.js';
import type { Socket } from '../../src/kernel/socket.js';
import type { Tier } from '../../vm/interpreter.js';
import { assemble } from '../../vm/asm.js';

const LO = 0x7f000001;
const be16le = (p: number): number => ((p & 0xff) << 8) | (p >>> 8);

/** A TCP tuple (ipv4) as bytes: saddr:sport is the remote end of the socket to find. */
function tuple(saddr: number, sport: number, daddr: number, dport: number): Uint8Array {
  const b = new Uint8Array(12);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, saddr);
  dv.setUint32(4, daddr);
  dv.setUint16(8, sport);
  dv.setUint16(10, dport);
  return b;
}

function conn(k: Kernel, port = 7000): { l: Socket; c: Socket; p: Socket } {
  const l = k.listen(port);
  const c = k.connect(l);
  const p = k.accept(l);
  if (typeof c === 'number' || typeof p === 'number') throw new Error('connect / accept');
  return { l, c, p };
}

/** Stack code writing the ipv4 tuple of (remote → local) of `s` at r10-64. */
const tupleAsm = (s: { remotePort: number; localPort: number }): string => `
  *(u32 *)(r10 - 64) = ${0x0100007f}
  *(u32 *)(r10 - 60) = ${0x0100007f}
  *(u16 *)(r10 - 56) = ${be16le(s.remotePort)}
  *(u16 *)(r10 - 54) = ${be16le(s.localPort)}`;
const call = (helper: string, len = 12): string => `
  r1 = r6
  r2 = r10
  r2 += -64
  r3 = ${len}
  r4 = -1
  r5 = 0
  call ${helper}`;

/** An SK_SKB program: r6 = ctx, the tuple of `of`, then `body`; returns r0 as the body leaves it. */
function prog(k: Kernel, of: { remotePort: number; localPort: number }, body: string): ReturnType<Kernel['loadProgram']> {
  return k.loadProgram({ type: 14, insns: assemble(`r6 = r1\n${tupleAsm(of)}\n${body}\nexit`) });
}

describe('socket lookups (argument and NULL cases)', () => {
  it('helper ids are the uapi ones', () => {
    for (const [name, id] of Object.entries(SKL)) expect(helperId(name)).toBe(id);
  });

  const k = new Kernel();
  const { l, c, p } = conn(k);
  const table: SockTable = { sockets: () => [l, c, p], timeWait: () => [] };
  const t = tuple(LO, c.localPort, LO, p.localPort); // p, as a packet from c sees it
  const look = (o: Partial<Parameters<typeof bpfSkcLookup>[1]>) => bpfSkcLookup(table, { proto: 6, tuple: t, netnsId: -1n, flags: 0n, ...o });

  it('finds the established socket, the peer, the listener; NULL for other addresses / ports / protocols', () => {
    expect(look({})).toBe(p);
    expect(look({ tuple: tuple(LO, p.localPort, LO, c.localPort) })).toBe(c);
    expect(look({ tuple: tuple(LO, 1, LO, p.localPort) })).toBe(l);
    expect(look({ tuple: tuple(LO, 1, LO + 1, p.localPort) })).toBeNull();
    expect(look({ tuple: tuple(LO, 1, LO, 7001) })).toBeNull();
    expect(look({ proto: 17 })).toBeNull();
  });

  it('tuple length, flags and netns id', () => {
    for (const len of [0, 11, 13, 35, 37]) expect(look({ tuple: new Uint8Array(len) })).toBeNull();
    expect(look({ tuple: new Uint8Array(36) })).toBeNull(); // ipv6: no IPv6 sockets in the model
    expect(look({ flags: 1n })).toBeNull();
    // (s32)netns_id < 0 → the current namespace; [0, S32_MAX] → a peer namespace id (none); above → NULL.
    for (const id of [-1n, 0xffffffffn, 0x80000000n, 0x1ffffffffn, 0xffffffff80000000n]) expect(look({ netnsId: BigInt.asUintN(64, id) })).toBe(p);
    for (const id of [0n, 1n, 0x7fffffffn, 0x100000000n, 0x17fffffffn]) expect(look({ netnsId: id })).toBeNull();
  });

  it('a time-wait socket hides the listener behind it: skc finds it, sk (full sockets only) returns NULL', () => {
    const tw = new TimeWaitSock(LO, 7000, LO, 40000, 6);
    const tt: SockTable = { sockets: () => [l], timeWait: () => [tw] };
    const tu = tuple(LO, 40000, LO, 7000);
    expect(bpfSkcLookup(tt, { proto: 6, tuple: tu, netnsId: -1n, flags: 0n })).toBe(tw);
    expect(bpfSkLookup(tt, { proto: 6, tuple: tu, netnsId: -1n, flags: 0n })).toBeNull();
    expect(bpfSkLookup(tt, { proto: 6, tuple: tuple(LO, 40001, LO, 7000), netnsId: -1n, flags: 0n })).toBe(l);
  });

  it('UDP: connected sockets match only their peer and win over unconnected ones on the same port', () => {
    const k2 = new Kernel();
    const a = k2.udpSocket();
    const b = k2.udpSocket();
    const peer = k2.udpSocket();
    expect(k2.bind(a, 9000)).toBe(0);
    expect(k2.bind(peer, 9001)).toBe(0);
    expect(k2.udpConnect(b, peer)).toBe(0);
    const ut: SockTable = { sockets: () => [a, b, peer], timeWait: () => [] };
    expect(udpLookup(ut, LO, 1, LO, 9000)).toBe(a);
    expect(udpLookup(ut, LO, 9001, LO, b.localPort)).toBe(b);
    expect(udpLookup(ut, LO, 1, LO, b.localPort)).toBeNull();
    expect(udpLookup(ut, LO, 1, LO + 1, 9000)).toBeNull();
  });
});

describe('time-wait sockets in the Kernel', () => {
  // state of the socket found by skc_lookup_tcp (0: NULL), and whether sk_lookup_tcp found a full socket
  const probe = (k: Kernel, p: Socket, of: { remotePort: number; localPort: number }) => {
    const pr = prog(k, of, `${call('bpf_skc_lookup_tcp#99')}
      if r0 == 0 goto none
      r7 = *(u32 *)(r0 + ${BPF_SOCK.state})
      r1 = r0
      call bpf_sk_release#86
      ${call('bpf_sk_lookup_tcp#84')}
      if r0 == 0 goto nofull
      r8 = *(u32 *)(r0 + ${BPF_SOCK.state})
      r1 = r0
      call bpf_sk_release#86
      r0 = r8
      r0 <<= 8
      r0 |= r7
      goto end
    nofull:
      r0 = r7
      goto end
    none:
      r0 = 0
    end:`);
    const r = k.runSkSkb(pr, new Uint8Array(1), { sock: p }).ret;
    return { skc: r & 0xff, full: r >> 8 };
  };

  it('active close: the closer becomes a time-wait socket; sk_lookup_tcp of its tuple is NULL, not the listener', () => {
    const k = new Kernel();
    const { c, p } = conn(k);
    const cTuple = { remotePort: p.localPort, localPort: c.localPort };
    expect(probe(k, p, cTuple)).toEqual({ skc: 1, full: 1 });
    k.close(c);
    expect(probe(k, p, cTuple)).toEqual({ skc: 6, full: 0 });
    expect(probe(k, p, { remotePort: c.localPort, localPort: p.localPort })).toEqual({ skc: 8, full: 8 }); // p: CLOSE_WAIT
    k.close(p);
    expect(probe(k, c, cTuple)).toEqual({ skc: 6, full: 0 });
    expect(probe(k, c, { remotePort: c.localPort, localPort: p.localPort })).toEqual({ skc: 10, full: 10 }); // gone: the listener
  });

  it('shutdown(SHUT_WR) then the peer closes: time-wait while the socket itself stays open (CLOSE)', () => {
    const k = new Kernel();
    const { c, p } = conn(k);
    const cTuple = { remotePort: p.localPort, localPort: c.localPort };
    expect(k.shutdown(c, 1)).toBe(0);
    expect(probe(k, p, cTuple)).toEqual({ skc: 5, full: 5 }); // FIN_WAIT2
    k.close(p);
    expect(probe(k, c, cTuple)).toEqual({ skc: 6, full: 0 });
  });

  it('a close with unread data resets the connection: no time-wait socket', () => {
    const k = new Kernel();
    const { c, p } = conn(k);
    expect(k.send(c, new Uint8Array(3))).toBe(3);
    k.close(p); // RST
    expect(probe(k, c, { remotePort: c.localPort, localPort: p.localPort })).toEqual({ skc: 10, full: 10 });
    k.close(c);
    expect(probe(k, p, { remotePort: p.localPort, localPort: c.localPort })).toEqual({ skc: 0, full: 0 });
  });
});

describe('references and views', () => {
  for (const tier of ['interp', 'js'] as Tier[]) {
    it(`lookup returns the skb's own socket pointer, reads bpf_sock fields (${tier})`, () => {
      const k = new Kernel({ tier });
      const { c, p } = conn(k, 7100);
      const pr = prog(k, { remotePort: c.localPort, localPort: p.localPort }, `${call('bpf_sk_lookup_tcp#84')}
        if r0 == 0 goto end
        r9 = *(u64 *)(r6 + 168)
        r7 = 0
        if r0 != r9 goto ne
        r7 = 1
      ne:
        r2 = *(u16 *)(r0 + ${BPF_SOCK.dst_port})
        r2 = be16 r2
        r7 <<= 16
        r7 |= r2
        r2 = *(u8 *)(r0 + ${BPF_SOCK.state})
        r7 <<= 8
        r7 |= r2
        r1 = r0
        call bpf_sk_release#86
        r0 = r7
      end:`);
      for (let i = 0; i < 3; i++) expect(k.runSkSkb(pr, new Uint8Array(1), { sock: p }).ret).toBe((1 << 24) | (c.localPort << 8) | 1);
    });
  }

  it('bpf_sk_release needs a reference from a lookup (the verifier refuses anything else)', () => {
    const k = new Kernel();
    const { c, p } = conn(k);
    const of = { remotePort: c.localPort, localPort: p.localPort };
    const skbSk = prog(k, of, 'r1 = *(u64 *)(r6 + 168)\ncall bpf_sk_release#86');
    expect(() => k.runSkSkb(skbSk, new Uint8Array(1), { sock: p })).toThrow(/bpf_sk_release: r1 is not a socket reference from a lookup/);
    const twice = prog(k, of, `${call('bpf_sk_lookup_tcp#84')}\nif r0 == 0 goto end\nr7 = r0\nr1 = r7\ncall bpf_sk_release#86\nr1 = r7\ncall bpf_sk_release#86\nend:`);
    expect(() => k.runSkSkb(twice, new Uint8Array(1), { sock: p })).toThrow(/bpf_sk_release/);
    const two = prog(k, of, `${call('bpf_sk_lookup_tcp#84')}\nif r0 == 0 goto end\nr7 = r0\n${call('bpf_skc_lookup_tcp#99')}\nif r0 == 0 goto end\nr1 = r0\ncall bpf_sk_release#86\nr1 = r7\ncall bpf_sk_release#86\nend:`);
    expect(k.runSkSkb(two, new Uint8Array(1), { sock: p }).ret).toBe(0); // two references to one socket, both released
  });

  it('bpf_sock access rules: refused reads stop the run with the offset', () => {
    const k = new Kernel();
    const { c, p } = conn(k);
    const read = (insn: string, target: { remotePort: number; localPort: number } = { remotePort: c.localPort, localPort: p.localPort }, helper = 'bpf_sk_lookup_tcp#84') =>
      () => k.runSkSkb(prog(k, target, `${call(helper)}\nif r0 == 0 goto end\n${insn}\nr1 = r0\ncall bpf_sk_release#86\nend:`), new Uint8Array(1), { sock: p });
    expect(read(`r2 = *(u16 *)(r0 + 50)`)).toThrow(/offset 50.*padding after dst_port/);
    expect(read(`r2 = *(u16 *)(r0 + 0)`)).toThrow(/offset 0.*only 4-byte reads/);
    expect(read(`r2 = *(u16 *)(r0 + 18)`)).toThrow(/offset 18.*only 4-byte reads/);
    expect(read(`r2 = *(u64 *)(r0 + 80)`)).toThrow(/invalid load of 8 bytes/);
    // a time-wait socket is a sock_common: no type, and its IPv6 addresses are not initialised by the kernel
    const cTuple = { remotePort: p.localPort, localPort: c.localPort };
    k.close(c);
    expect(read(`r2 = *(u32 *)(r0 + 8)`, cTuple, 'bpf_skc_lookup_tcp#99')).toThrow(/not a field of sock_common/);
    expect(read(`r2 = *(u32 *)(r0 + 40)`, cTuple, 'bpf_skc_lookup_tcp#99')).toThrow(/uninitialised/);
    expect(read(`r2 = *(u32 *)(r0 + 72)`, cTuple, 'bpf_skc_lookup_tcp#99')()).toMatchObject({ ret: 0 });
  });

  it('skc_to_* casts: unix and UDP sockets; reads outside the modelled fields of a BTF view stop the run', () => {
    const k = new Kernel();
    const [a] = k.socketpair('stream');
    const u = k.udpSocket();
    expect(k.bind(u, 9100)).toBe(0);
    const casts = k.loadProgram({ type: 14, insns: assemble(`
      r6 = *(u64 *)(r1 + 168)
      r7 = 0
      r1 = r6
      call bpf_skc_to_unix_sock#178
      if r0 == 0 goto t
      r7 = *(u16 *)(r0 + 16)
    t:
      r1 = r6
      call bpf_skc_to_tcp_sock#137
      if r0 == 0 goto u6
      r7 |= 0x100
    u6:
      r1 = r6
      call bpf_skc_to_udp6_sock#140
      if r0 == 0 goto end
      r7 |= 0x200
    end:
      r0 = r7
      exit`) });
    expect(k.runSkSkb(casts, new Uint8Array(1), { sock: a! }).ret).toBe(1); // AF_UNIX
    expect(k.runSkSkb(casts, new Uint8Array(1), { sock: u }).ret).toBe(0); // UDP over IPv4: none of these
    const { p } = conn(k);
    expect(k.runSkSkb(casts, new Uint8Array(1), { sock: p }).ret).toBe(0x100);
    const far = k.loadProgram({ type: 14, insns: assemble('r1 = *(u64 *)(r1 + 168)\ncall bpf_skc_to_tcp_sock#137\nif r0 == 0 goto e\nr0 = *(u32 *)(r0 + 100)\ne:\nexit') });
    expect(() => k.runSkSkb(far, new Uint8Array(1), { sock: p })).toThrow(/struct tcp_sock offset 100.*bpfvm models only the fields/);
  });

  it('SOCK_OPS: bpf_tcp_sock reads 4-byte fields and the two u64 counters with 8-byte loads only', () => {
    const k = new Kernel();
    k.createMaps([{ name: 'out', type: 2, typeName: '', keySize: 4, valueSize: 8, maxEntries: 1, flags: 0, section: '.maps' }]);
    const bad = k.loadProgram({ type: 13, insns: assemble('r1 = *(u64 *)(r1 + 184)\nif r1 == 0 goto e\ncall bpf_tcp_sock#96\nif r0 == 0 goto e\nr0 = *(u32 *)(r0 + 80)\ne:\nr0 = 1\nexit') });
    expect(k.cgroupAttach(bad)).toBe(0);
    expect(() => k.listen(7200)).toThrow(/struct bpf_tcp_sock offset 80/);
  });
});
