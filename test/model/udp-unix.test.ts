/**
 * Model-only tests of UDP sockets and AF_UNIX socketpairs (src/kernel/udp.ts, src/kernel/unix.ts): the Kernel
 * API directly, the rules the differential tests (udp-unix-kernel.test.ts) established, and bad input.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/model.js';
import { unixSkbTruesize } from '../../src/kernel/unix.js';
import { AF_INET, AF_UNIX, IPPROTO_UDP, SOCK_DGRAM, SOCK_STREAM } from '../../src/kernel/socket.js';
import { assemble } from '../../vm/asm.js';
import { AttachType, MapType } from '../kernel/sockrun.js';
import { PASS, redirectVerdict } from '../kernel/sockrun-scenarios.js';

const t = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (r: Uint8Array | number): string | number => (typeof r === 'number' ? r : new TextDecoder().decode(r));

function withMap(verdict?: string) {
  const k = new Kernel();
  const maps = k.createMaps([{ name: 'sm', type: MapType.SOCKMAP, typeName: '', keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, section: '.maps' }]);
  const map = maps.get(0);
  if (verdict !== undefined) {
    const prog = k.loadProgram({ insns: assemble(verdict), type: 14, name: 'verdict', expectedAttachType: AttachType.SK_SKB_VERDICT });
    expect(k.attach(prog, map, AttachType.SK_SKB_VERDICT)).toBe(0);
    return { k, map, prog };
  }
  return { k, map, prog: null };
}

describe('UDP sockets', () => {
  it('bind, sendto, datagram boundaries, truncation, zero-length datagrams, FIONREAD', () => {
    const k = new Kernel();
    const a = k.udpSocket();
    const b = k.udpSocket();
    expect([a.family, a.type, a.protocol]).toEqual([AF_INET, SOCK_DGRAM, IPPROTO_UDP]);
    expect(k.bind(b, 5555)).toBe(0);
    expect(k.bind(b, 5556)).toBe(-22); // already bound
    expect(k.bind(k.udpSocket(), 5555)).toBe(-98);
    expect(k.send(a, t('x'))).toBe(-89); // EDESTADDRREQ
    expect(k.sendto(a, t('hello'), b)).toBe(5);
    expect(a.localPort).not.toBe(0); // autobind
    expect(k.sendto(a, t('world!'), b)).toBe(6);
    expect(k.sendto(a, new Uint8Array(0), b)).toBe(0);
    expect(k.fionread(b)).toBe(5);
    expect(str(k.recv(b, 3, 2))).toBe('hel');
    expect(str(k.recv(b, 3))).toBe('hel');
    expect(str(k.recv(b, 100))).toBe('world!');
    expect(k.recv(b, 100)).toEqual(new Uint8Array(0));
    expect(k.recv(b, 100)).toBe(-11);
  });

  it('connected sockets: send() goes to the peer; a closed destination gives ECONNREFUSED on the next send only', () => {
    const k = new Kernel();
    const a = k.udpSocket();
    const b = k.udpSocket();
    const c = k.udpSocket();
    k.bind(b);
    k.bind(c);
    expect(k.udpConnect(a, b)).toBe(0);
    expect(k.send(a, t('hi'))).toBe(2);
    expect(k.sendto(c, t('no'), a)).toBe(2); // a is connected to b: c's datagram is not delivered
    expect(k.recv(a, 10)).toBe(-11);
    expect(str(k.recv(b, 10))).toBe('hi');
    k.close(b);
    expect([k.send(a, t('1')), k.send(a, t('2')), k.send(a, t('3'))]).toEqual([1, -111, 1]);
    expect(k.getsockopt(a, 1, 4)).toBe(111);
  });

  it('shutdown of an unconnected socket: -ENOTCONN, but sends fail with -EPIPE afterwards', () => {
    const k = new Kernel();
    const a = k.udpSocket();
    const b = k.udpSocket();
    k.bind(a);
    k.bind(b);
    expect(k.shutdown(a, 1)).toBe(-107);
    expect(k.sendto(a, t('z'), b)).toBe(-32);
  });

  it('sock map insert: unbound refused (-EOPNOTSUPP), bound accepted; parser + verdict maps refuse UDP', () => {
    const { k, map } = withMap();
    const u = k.udpSocket();
    expect(k.mapUpdateSocket(map, 0, u)).toBe(-95);
    k.bind(u);
    expect(k.mapUpdateSocket(map, 0, u)).toBe(0);
    const k2 = new Kernel();
    const m2 = k2.createMaps([{ name: 'sm', type: MapType.SOCKMAP, typeName: '', keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, section: '.maps' }]).get(0);
    const parser = k2.loadProgram({ insns: assemble('r0 = *(u32 *)(r1 + 0)\nexit'), type: 14 });
    const verdict = k2.loadProgram({ insns: assemble(PASS), type: 14 });
    expect(k2.attach(parser, m2, AttachType.SK_SKB_STREAM_PARSER)).toBe(0);
    expect(k2.attach(verdict, m2, AttachType.SK_SKB_STREAM_VERDICT)).toBe(0);
    const v = k2.udpSocket();
    k2.bind(v);
    expect(k2.mapUpdateSocket(m2, 0, v)).toBe(-95);
    expect(v.psock).toBeNull();
  });

  it('verdict PASS: recv merges datagrams; FIONREAD = first message; an empty datagram blocks the queue with -EFAULT', () => {
    const { k, map, prog } = withMap(PASS);
    const u = k.udpSocket();
    const s = k.udpSocket();
    k.bind(u);
    k.mapUpdateSocket(map, 0, u);
    k.sendto(s, t('hello'), u);
    k.sendto(s, t('world!'), u);
    expect(prog!.runCount).toBe(2);
    expect(k.fionread(u)).toBe(5);
    expect(str(k.recv(u, 3))).toBe('hel');
    expect(k.fionread(u)).toBe(2);
    expect(str(k.recv(u, 100))).toBe('loworld!');
    k.sendto(s, new Uint8Array(0), u);
    k.sendto(s, t('ab'), u);
    expect([k.fionread(u), k.recv(u, 100), k.recv(u, 100)]).toEqual([0, -14, -14]);
  });

  it('verdict redirect: an unconnected UDP target drops (sock_map_redirect_allowed), a connected one receives', () => {
    const { k, map } = withMap(redirectVerdict(0, 1, 1));
    const u1 = k.udpSocket();
    const u2 = k.udpSocket();
    const s = k.udpSocket();
    k.bind(u1);
    k.bind(u2);
    k.mapUpdateSocket(map, 0, u1);
    k.mapUpdateSocket(map, 1, u2);
    k.sendto(s, t('lost'), u1);
    expect(k.recv(u2, 100)).toBe(-11);
    k.udpConnect(u2, s);
    k.sendto(s, t('kept'), u1);
    expect(str(k.recv(u2, 100))).toBe('kept');
  });
});

describe('AF_UNIX socketpairs', () => {
  it('stream: bytes merge, shutdown(SHUT_WR) → EOF at the peer, close → EPIPE at the peer', () => {
    const k = new Kernel();
    const [a, b] = k.socketpair('stream');
    expect([a.family, a.type, a.protocol]).toEqual([AF_UNIX, SOCK_STREAM, 0]);
    k.send(a, t('xyz'));
    k.send(a, t('uv'));
    expect(k.fionread(b)).toBe(5);
    expect(str(k.recv(b, 4))).toBe('xyzu');
    expect(k.shutdown(a, 1)).toBe(0);
    expect(k.send(a, t('x'))).toBe(-32);
    expect(str(k.recv(b, 10))).toBe('v');
    expect(k.recv(b, 10)).toBe(0); // EOF
    k.close(a);
    expect(k.send(b, t('q'))).toBe(-32);
  });

  it('dgram: one datagram per recv; a closed peer refuses (-ECONNREFUSED)', () => {
    const k = new Kernel();
    const [a, b] = k.socketpair('dgram');
    k.send(a, t('hello'));
    k.send(a, t('world!'));
    expect(k.fionread(b)).toBe(5);
    expect(str(k.recv(b, 3))).toBe('hel');
    expect(str(k.recv(b, 100))).toBe('world!');
    k.close(b);
    expect(k.send(a, t('x'))).toBe(-111);
  });

  it('SO_SNDBUF: truesize charges until read, -EAGAIN at the limit; a verdict at the receiver frees each skb', () => {
    expect([0, 100, 300, 1000, 3000, 8000].map(unixSkbTruesize)).toEqual([768, 768, 1280, 2304, 4352, 16640]);
    const k = new Kernel();
    const [a, b] = k.socketpair('dgram');
    expect(k.setsockopt(a, 1, 7, 1)).toBe(0);
    const r = Array.from({ length: 8 }, () => k.send(a, new Uint8Array(100)));
    expect(r).toEqual([100, 100, 100, 100, 100, 100, -11, -11]);
    k.recv(b, 1000);
    expect(k.send(a, new Uint8Array(100))).toBe(100);
    const { k: k2, map } = withMap(PASS);
    const [c, d] = k2.socketpair('dgram');
    k2.mapUpdateSocket(map, 0, d);
    k2.setsockopt(c, 1, 7, 1);
    expect(Array.from({ length: 12 }, () => k2.send(c, new Uint8Array(100))).every((x) => x === 100)).toBe(true);
  });

  it('SO_RCVBUF: redirected skbs wait in the backlog while the target is above its receive buffer', () => {
    const { k, map } = withMap(redirectVerdict(0, 1, 1));
    const [a1, b1] = k.socketpair('stream');
    const [, b2] = k.socketpair('stream');
    k.setsockopt(b2, 1, 8, 1); // 2304
    k.mapUpdateSocket(map, 0, b1);
    k.mapUpdateSocket(map, 1, b2);
    for (let i = 0; i < 5; i++) expect(k.send(a1, new Uint8Array(1000).fill(i))).toBe(1000);
    expect((k.recv(b2, 100000) as Uint8Array).length).toBe(2000);
    expect((k.recv(b2, 100000) as Uint8Array).length).toBe(2000);
    expect((k.recv(b2, 100000) as Uint8Array)[0]).toBe(4);
    expect(k.recv(b2, 100000)).toBe(-11);
  });

  it('insert rules: stream and dgram ends accepted; parser + verdict maps refuse them; SK_MSG programs never run', () => {
    const { k, map } = withMap();
    const prog = k.loadProgram({ insns: assemble('r0 = 0\nexit'), type: 16 });
    expect(k.attach(prog, map, AttachType.SK_MSG_VERDICT)).toBe(0);
    const [a, b] = k.socketpair('stream');
    const [c] = k.socketpair('dgram');
    expect(k.mapUpdateSocket(map, 0, a)).toBe(0);
    expect(k.mapUpdateSocket(map, 1, c)).toBe(0);
    expect(k.send(a, t('abc'))).toBe(3);
    expect(str(k.recv(b, 10))).toBe('abc');
    expect(prog.runCount).toBe(0);
  });

  it('bad input: bind / sendto / udpConnect on the wrong kind of socket throw a clear error', () => {
    const k = new Kernel();
    const [a] = k.socketpair('dgram');
    const u = k.udpSocket();
    expect(() => k.bind(k.tcpSocket(), 1)).toThrow(/not a UDP socket/);
    expect(() => k.sendto(a, t('x'), u)).toThrow(/must be UDP sockets/);
    expect(() => k.udpConnect(u, a)).toThrow(/must be UDP sockets/);
    k.close(u);
    expect(k.bind(u)).toBe(-9);
  });
});
