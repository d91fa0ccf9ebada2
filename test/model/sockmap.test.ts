// Unit tests of the socket / sockmap / sk_msg egress model (src/kernel/{socket,psock,sockmap,tcp_bpf,model}.ts),
// one rule per test, no host kernel needed. Rules: docs/sockmap-datapath.md §3, §4, §5.5; the numbers in the
// [exp] cases are the kernel's (also checked against the host kernel in sockmap-kernel.test.ts).
import { describe, expect, it } from 'vitest';
import { BpfMapError, createMap } from '../../src/kernel/maps/index.js';
import { Kernel, type KProgram } from '../../src/kernel/model.js';
import { SockHash, SockMap, SockMapBase } from '../../src/kernel/sockmap.js';
import { Errno, type Socket } from '../../src/kernel/socket.js';
import type { MapSpec } from '../../src/spec.js';
import { assemble } from '../../vm/asm.js';

const spec = (type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0, name = 'm'): MapSpec => ({
  name, type, typeName: '', keySize, valueSize, maxEntries, flags, section: '.maps',
});
const SOCKMAP = (max = 8, vs = 8, name = 'sm') => spec(15, 4, vs, max, 0, name);
const SOCKHASH = (max = 8, vs = 8, name = 'sh') => spec(18, 4, vs, max, 0, name);
const seq = (n: number, base = 0) => Uint8Array.from({ length: n }, (_, i) => (base + i) & 0xff);
const createErr = (s: MapSpec): string => {
  try {
    createMap(s);
    return 'ok';
  } catch (e) {
    return (e as BpfMapError).code;
  }
};

/** k = kernel with maps [sockmap 0 (prog attached), extra...], pair c1→p1, c1 in map 0 key 0. */
function setup(prog: string, extraMaps: MapSpec[] = []) {
  const k = new Kernel({ tier: 'interp' });
  k.createMaps([SOCKMAP(8, 8, 'sm0'), ...extraMaps]);
  const p = k.loadProgram({ insns: assemble(prog), type: 16 });
  expect(k.attach(p, k.map(0), 7)).toBe(0);
  const l1 = k.listen(10000);
  const c1 = k.connect(l1) as Socket;
  const p1 = k.accept(l1) as Socket;
  expect(k.mapUpdateSocket(k.map(0), 0, c1)).toBe(0);
  const pair = () => {
    const l = k.listen();
    const c = k.connect(l) as Socket;
    return { l, c, p: k.accept(l) as Socket };
  };
  const read = (s: Socket, n = 1 << 20): string => {
    const r = k.recv(s, n, 0);
    return typeof r === 'number' ? `err ${r}` : Buffer.from(r).toString('hex');
  };
  return { k, p, l1, c1, p1, pair, read };
}

describe('SOCKMAP / SOCKHASH creation (§3.1)', () => {
  it('checks key, value, max_entries and flags with the kernel errnos', () => {
    expect(createErr(spec(15, 4, 4, 1))).toBe('ok');
    expect(createErr(spec(15, 4, 8, 0))).toBe('EINVAL');
    expect(createErr(spec(15, 8, 8, 4))).toBe('EINVAL');
    expect(createErr(spec(15, 4, 2, 4))).toBe('EINVAL');
    expect(createErr(spec(15, 4, 8, 4, 1))).toBe('EINVAL'); // BPF_F_NO_PREALLOC
    expect(createErr(spec(15, 4, 8, 4, 1 << 3))).toBe('ok'); // BPF_F_RDONLY
    expect(createErr(spec(18, 0, 8, 4))).toBe('EINVAL');
    expect(createErr(spec(18, 513, 8, 4))).toBe('E2BIG');
    expect(createErr(spec(18, 512, 8, 4))).toBe('ok');
    expect(createErr(spec(18, 4, 16, 4))).toBe('EINVAL');
    expect(createMap(SOCKMAP())).toBeInstanceOf(SockMap);
    expect(createMap(SOCKHASH())).toBeInstanceOf(SockHash);
  });
});

describe('user-space update / delete / lookup (§3.3, §3.5, §3.6)', () => {
  const base = () => {
    const k = new Kernel();
    k.createMaps([SOCKMAP(4), SOCKHASH(2), SOCKMAP(4, 4, 'v4')]);
    const l = k.listen();
    const c = k.connect(l) as Socket;
    const p = k.accept(l) as Socket;
    return { k, l, c, p, sm: k.map(0), sh: k.map(1), v4: k.map(2) };
  };

  it('the ordered rule list: fd > S32_MAX, bad fd, state, flags, E2BIG, EEXIST, ENOENT', () => {
    const { k, l, c, p, sm } = base();
    const fd8 = (v: bigint) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, v, true);
      return b;
    };
    expect(k.mapUpdate(sm, 0, fd8(0xffffffffffffffffn))).toBe(-Errno.EINVAL);
    expect(k.mapUpdate(sm, 0, fd8(1000n))).toBe(-Errno.EBADF);
    expect(k.mapUpdate(sm, 0, fd8(BigInt(c.fd)))).toBe(0);
    expect(k.mapUpdateSocket(sm, 1, null)).toBe(-Errno.EBADF);
    expect(k.mapUpdateSocket(sm, 1, k.tcpSocket())).toBe(-Errno.EOPNOTSUPP);
    expect(k.mapUpdateSocket(sm, 1, p, 3)).toBe(-Errno.EINVAL);
    expect(k.mapUpdateSocket(sm, 4, p)).toBe(-Errno.E2BIG);
    expect(k.mapUpdateSocket(sm, 0, p, 1)).toBe(-Errno.EEXIST);
    expect(k.mapUpdateSocket(sm, 1, p, 2)).toBe(-Errno.ENOENT);
    expect(k.mapUpdateSocket(sm, 1, l)).toBe(0); // LISTEN is allowed
    // A failed insert does not leave a psock behind on a socket that had none.
    const lone = base();
    expect(lone.k.mapUpdateSocket(lone.sm, 1, lone.p, 2)).toBe(-Errno.ENOENT);
    expect(lone.p.psock).toBeNull();
  });

  it('SOCKMAP delete of an empty slot is -EINVAL; SOCKHASH missing key -ENOENT; SOCKHASH full -E2BIG', () => {
    const { k, c, p, l, sm, sh } = base();
    expect(k.mapDelete(sm, 1)).toBe(-Errno.EINVAL);
    expect(k.mapDelete(sm, 9)).toBe(-Errno.EINVAL);
    expect(k.mapDelete(sh, 1)).toBe(-Errno.ENOENT);
    expect(k.mapUpdateSocket(sh, 1, c)).toBe(0);
    expect(k.mapUpdateSocket(sh, 2, p)).toBe(0);
    expect(k.mapUpdateSocket(sh, 3, l)).toBe(-Errno.E2BIG);
    expect(k.mapUpdateSocket(sh, 2, l)).toBe(0); // replace at max: fine
    expect(sh.count).toBe(2);
    expect(p.psock).toBeNull(); // replaced out of its only map
  });

  it('lookup returns the cookie (8-byte values), -ENOSPC with 4-byte values, -ENOENT when empty', () => {
    const { k, c, p, sm, v4 } = base();
    k.mapUpdateSocket(sm, 2, c);
    k.mapUpdateSocket(v4, 0, p);
    const got = k.mapLookup(sm, 2) as Uint8Array;
    expect(new DataView(got.buffer).getBigUint64(0, true)).toBe(k.cookie(c));
    expect(k.cookie(c)).toBeGreaterThan(0n);
    expect(k.mapLookup(sm, 1)).toBe(-Errno.ENOENT);
    expect(k.mapLookup(v4, 0)).toBe(-Errno.ENOSPC);
    expect(k.mapLookup(v4, 3)).toBe(-Errno.ENOSPC);
  });

  it('get_next_key: SOCKMAP walks every index; SOCKHASH bucket order, unknown key restarts', () => {
    const { k, c, p, sm, sh } = base();
    expect(Array.from(k.mapNextKey(sm, null) as Uint8Array)).toEqual([0, 0, 0, 0]);
    expect(Array.from(k.mapNextKey(sm, 1) as Uint8Array)).toEqual([2, 0, 0, 0]);
    expect(k.mapNextKey(sm, 3)).toBe(-Errno.ENOENT);
    expect(Array.from(k.mapNextKey(sm, 99) as Uint8Array)).toEqual([0, 0, 0, 0]);
    expect(k.mapNextKey(sh, null)).toBe(-Errno.ENOENT);
    k.mapUpdateSocket(sh, 5, c);
    k.mapUpdateSocket(sh, 6, p);
    const first = k.mapNextKey(sh, null) as Uint8Array;
    expect(k.mapNextKey(sh, 77)).toEqual(first);
    const second = k.mapNextKey(sh, first) as Uint8Array;
    expect([first[0], second[0]].sort()).toEqual([5, 6]);
    expect(k.mapNextKey(sh, second)).toBe(-Errno.ENOENT);
  });

  it('close removes the socket from every map and drops the psock', () => {
    const { k, c, sm, sh } = base();
    k.mapUpdateSocket(sm, 0, c);
    k.mapUpdateSocket(sh, 9, c);
    expect(c.psock!.links.length).toBe(2);
    const ps = c.psock!;
    k.close(c);
    expect(k.mapLookup(sm, 0)).toBe(-Errno.ENOENT);
    expect((sh as SockMapBase).count).toBe(0);
    expect(ps.dropped).toBe(true);
  });
});

describe('attach and program inheritance (§3.7, §3.8)', () => {
  it('attach replaces silently; detach of another program → -ENOENT; verdict kinds conflict; type checks', () => {
    const k = new Kernel();
    k.createMaps([SOCKMAP(), spec(2, 4, 4, 1, 0, 'arr')]);
    const a = k.loadProgram({ insns: assemble('r0 = 1\nexit'), type: 16 });
    const b = k.loadProgram({ insns: assemble('r0 = 1\nexit'), type: 16 });
    const v = k.loadProgram({ insns: assemble('r0 = 1\nexit'), type: 14 });
    const w = k.loadProgram({ insns: assemble('r0 = 1\nexit'), type: 14 });
    expect(k.attach(a, k.map(0), 7)).toBe(0);
    expect(k.attach(b, k.map(0), 7)).toBe(0);
    expect(k.detach(a, k.map(0), 7)).toBe(-Errno.ENOENT);
    expect(k.detach(b, k.map(0), 7)).toBe(0);
    expect(k.detach(b, k.map(0), 7)).toBe(-Errno.ENOENT);
    expect(k.attach(v, k.map(0), 7)).toBe(-Errno.EINVAL);
    expect(k.attach(a, k.map(1), 7)).toBe(-Errno.EOPNOTSUPP);
    expect(k.attach(a, k.map(0), 7, 1)).toBe(-Errno.EINVAL);
    expect(k.attach(v, k.map(0), 5)).toBe(0);
    expect(k.attach(w, k.map(0), 38)).toBe(-Errno.EBUSY);
  });

  it('the same socket twice in a map with programs → -EBUSY (also same slot); without programs fine', () => {
    const { k, c1, pair } = setup('r0 = 1\nexit', [SOCKMAP(8, 8, 'plain')]);
    expect(k.mapUpdateSocket(k.map(0), 1, c1)).toBe(-Errno.EBUSY);
    expect(k.mapUpdateSocket(k.map(0), 0, c1)).toBe(-Errno.EBUSY);
    const { c } = pair();
    expect(k.mapUpdateSocket(k.map(1), 0, c)).toBe(0);
    expect(k.mapUpdateSocket(k.map(1), 0, c)).toBe(0);
    expect(k.mapUpdateSocket(k.map(1), 1, c)).toBe(0);
    expect(c.psock!.links.length).toBe(2);
  });
});

describe('sk_msg egress (§4)', () => {
  it('PASS: bytes go to the peer, one program run per send', () => {
    const { k, p, c1, p1, read } = setup('r0 = 1\nexit');
    expect(k.send(c1, seq(100))).toBe(100);
    expect(k.sendmsg(c1, [seq(10), seq(10, 10)])).toBe(20);
    expect(read(p1)).toBe(Buffer.from([...seq(100), ...seq(20)]).toString('hex'));
    expect(p.runCount).toBe(2);
  });

  it('DROP is sticky (one run, -EACCES each time); apply 10 + DROP: send(100) → 90', () => {
    const d = setup('r0 = 0\nexit');
    expect([d.k.send(d.c1, seq(10)), d.k.send(d.c1, seq(20))]).toEqual([-Errno.EACCES, -Errno.EACCES]);
    expect(d.p.runCount).toBe(1);
    const a = setup('r2 = 10\ncall bpf_msg_apply_bytes#61\nr0 = 0\nexit');
    expect(a.k.send(a.c1, seq(100))).toBe(90);
    expect(a.k.send(a.c1, seq(10))).toBe(-Errno.EACCES);
    expect(a.read(a.p1)).toBe(`err ${-Errno.EAGAIN}`);
  });

  it('apply 10 + PASS over five send(4): two runs, 20 bytes (§4.5 worked example)', () => {
    const { k, p, c1, p1, read } = setup('r2 = 10\ncall bpf_msg_apply_bytes#61\nr0 = 1\nexit');
    for (let i = 0; i < 5; i++) expect(k.send(c1, seq(4, 4 * i))).toBe(4);
    expect(p.runCount).toBe(2);
    expect(read(p1)).toBe(Buffer.from(seq(20)).toString('hex'));
  });

  it('cork 100, four send(30): held until the fourth, two runs (§4.8 worked example)', () => {
    const { k, p, c1, p1, read } = setup('r2 = 100\ncall bpf_msg_cork_bytes#62\nr0 = 1\nexit');
    for (let i = 0; i < 3; i++) expect(k.send(c1, seq(30, 30 * i))).toBe(30);
    expect(read(p1)).toBe(`err ${-Errno.EAGAIN}`);
    expect(p.runCount).toBe(1);
    expect(k.send(c1, seq(30, 90))).toBe(30);
    expect(read(p1)).toBe(Buffer.from(seq(120)).toString('hex'));
    expect(p.runCount).toBe(2);
  });

  it('cork 100 + apply 10 + PASS: 5 runs, 30 bytes stuck behind MSG_MORE until shutdown, next send(3) → 0', () => {
    const { k, p, c1, p1, read } = setup('r6 = r1\nr2 = 10\ncall bpf_msg_apply_bytes#61\nr1 = r6\nr2 = 100\ncall bpf_msg_cork_bytes#62\nr0 = 1\nexit');
    for (let i = 0; i < 4; i++) expect(k.send(c1, seq(30, 30 * i))).toBe(30);
    expect(p.runCount).toBe(5);
    expect(c1.writeQueueBytes).toBe(30);
    expect(read(p1)).toBe(`err ${-Errno.EAGAIN}`);
    expect(k.send(c1, Uint8Array.of(0xee, 0xee, 0xee))).toBe(0);
    expect(k.send(c1, Uint8Array.of(0xdd))).toBe(1);
    expect(k.shutdown(c1, 1)).toBe(0);
    expect(read(p1)).toBe(Buffer.from(seq(30)).toString('hex'));
    expect(k.recv(p1, 10)).toBe(0);
  });

  it('redirect egress: the bytes leave the target to its peer; the target\'s own program does not run', () => {
    const { k, p, c1, p1, pair, read } = setup('r2 = map[idx:1]\nr3 = 0\nr4 = 0\ncall bpf_msg_redirect_map#60\nexit', [SOCKMAP(8, 8, 'redir')]);
    const { c: c2, p: p2 } = pair();
    expect(k.mapUpdateSocket(k.map(1), 0, c2)).toBe(0);
    expect(k.mapUpdateSocket(k.map(0), 1, c2)).toBe(0); // c2 also gets the program …
    expect(k.send(c1, seq(64))).toBe(64);
    expect(read(p2)).toBe(Buffer.from(seq(64)).toString('hex'));
    expect(p.runCount).toBe(1); // … which did not run for the redirected bytes
    expect(read(p1)).toBe(`err ${-Errno.EAGAIN}`);
  });

  it('redirect ingress: queued on the target psock; FIONREAD, peek and merged recv', () => {
    const { k, c1, pair, read } = setup('r2 = map[idx:1]\nr3 = 0\nr4 = 1\ncall bpf_msg_redirect_map#60\nexit', [SOCKMAP(8, 8, 'redir')]);
    const { p: p2 } = pair();
    k.mapUpdateSocket(k.map(1), 0, p2);
    expect(k.send(c1, seq(30))).toBe(30);
    expect(k.send(c1, seq(30, 30))).toBe(30);
    expect(k.fionread(p2)).toBe(60);
    expect(Buffer.from(k.recv(p2, 45, 2) as Uint8Array).toString('hex')).toBe(Buffer.from(seq(45)).toString('hex'));
    expect(read(p2, 40)).toBe(Buffer.from(seq(40)).toString('hex'));
    expect(k.fionread(p2)).toBe(20);
    // leaving the last map loses the rest
    expect(k.mapDelete(k.map(1), 0)).toBe(0);
    expect(read(p2)).toBe(`err ${-Errno.EAGAIN}`);
  });

  it('redirect helper SK_DROP cases: empty slot, listener target, bad flags → -EACCES', () => {
    for (const [src, arrange] of [
      ['r2 = map[idx:1]\nr3 = 0\nr4 = 0\ncall bpf_msg_redirect_map#60\nexit', () => {}],
      ['r2 = map[idx:1]\nr3 = 0\nr4 = 0\ncall bpf_msg_redirect_map#60\nexit', (k: Kernel, l: Socket) => k.mapUpdateSocket(k.map(1), 0, l)],
      ['r2 = map[idx:0]\nr3 = 0\nr4 = 2\ncall bpf_msg_redirect_map#60\nexit', () => {}],
    ] as const) {
      const { k, c1, l1 } = setup(src, [SOCKMAP(8, 8, 'redir')]);
      arrange(k, l1);
      expect(k.send(c1, seq(5))).toBe(-Errno.EACCES);
    }
  });

  it('a large send is judged in 17-element sk_msgs (ENOSPC chunking)', () => {
    const { k, p, c1, p1 } = setup('r0 = 1\nexit');
    expect(k.send(c1, seq(600000))).toBe(600000);
    expect(p.runCount).toBe(2);
    expect((k.recv(p1, 1 << 20) as Uint8Array).length).toBe(600000);
  });

  it('shared page fragment: continued while referenced, restarted once everything was read', () => {
    const k = new Kernel();
    k.createMaps([SOCKMAP(), spec(1, 4, 8, 16, 0, 'sizes')]);
    const prog: KProgram = k.loadProgram({
      type: 16,
      insns: assemble(`r6 = r1\nr2 = *(u64 *)(r6 + 0)\nr3 = *(u64 *)(r6 + 8)\nr3 -= r2\n*(u64 *)(r10 - 8) = r3\nr2 = *(u32 *)(r6 + 68)\n*(u32 *)(r10 - 12) = r2\nr1 = map[idx:1]\nr2 = r10\nr2 += -12\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_map_update_elem#2\nr0 = 1\nexit`),
    });
    k.attach(prog, k.map(0), 7);
    const l = k.listen();
    const c = k.connect(l) as Socket;
    const p = k.accept(l) as Socket;
    k.mapUpdateSocket(k.map(0), 0, c);
    const seen = (size: number) => Number(new DataView((k.map(1).lookup(Uint8Array.of(size & 0xff, size >> 8 & 0xff, size >> 16, 0))).buffer).getBigUint64(0, true));
    k.send(c, seq(40000));
    k.send(c, seq(100));
    k.send(c, seq(30000));
    expect([seen(40000), seen(100), seen(30000)]).toEqual([32768, 100, 32768 - 7232 - 100]);
    k.recv(p, 1 << 20);
    k.send(c, seq(32700));
    expect(seen(32700)).toBe(32700);
  });
});

describe('native sockets', () => {
  it('recv merges, peek, EOF after shutdown, FIONREAD, SO_ERROR after sending to a closed peer', () => {
    const k = new Kernel();
    const l = k.listen(10000);
    expect(k.fionread(l)).toBe(-Errno.EINVAL);
    const c = k.connect(l) as Socket;
    const p = k.accept(l) as Socket;
    expect(k.accept(l)).toBe(-Errno.EAGAIN);
    k.send(c, seq(3));
    k.send(c, seq(4, 3));
    expect(k.fionread(p)).toBe(7);
    expect((k.recv(p, 5, 2) as Uint8Array).length).toBe(5);
    expect(Array.from(k.recv(p, 100) as Uint8Array)).toEqual(Array.from(seq(7)));
    k.shutdown(c, 1);
    expect(k.recv(p, 100)).toBe(0);
    k.close(p);
    expect(k.send(c, seq(1))).toBe(-Errno.EPIPE); // SHUT_WR already
    const c2 = k.connect(l) as Socket;
    const p2 = k.accept(l) as Socket;
    k.close(p2);
    expect(k.send(c2, seq(1))).toBe(1);
    expect(k.getsockopt(c2, 1, 4)).toBe(Errno.EPIPE);
    expect(k.getsockopt(c2, 1, 4)).toBe(0);
  });
});
