/**
 * Model-only tests of the SK_SKB path (no kernel needed): every rule of docs/sockmap-datapath.md §5 that the
 * kernel differential tests (sk-skb-kernel.test.ts) showed, checked on the model directly, plus the API
 * `bpfvm run` uses (Kernel.runSkSkb) and the load-time refusal of helpers the model does not implement.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/model.js';
import { SockMapBase } from '../../src/kernel/sockmap.js';
import { Strparser, EPROTO, EMSGSIZE, ENODATA, ESTRPIPE } from '../../src/kernel/strparser.js';
import { assemble } from '../../vm/asm.js';
import { AttachType, MapType, SockOpt, patternBytes, type Scenario, type ScenarioStep } from '../kernel/sockrun.js';
import { DROP, PASS, PARSE_LEN, bytes, hexOf as hex, redirectVerdict, skbScenario } from '../kernel/sockrun-scenarios.js';
import { runModelScenario } from './sockmap-harness.js';
import { recordValue } from './asm-snippets.js';

const send = (sock: string, data: Uint8Array): ScenarioStep => ({ op: 'send', sock, data });
const recv = (sock: string, maxLen = 1000, peek = false): ScenarioStep => ({ op: 'recv', sock, maxLen, ...(peek ? { peek: true } : {}) });
const run = (s: Scenario) => runModelScenario(s).result;
const rets = (s: Scenario) => run(s).steps.map((x) => x.ret);
const fixedParser = (n: number) => `r0 = ${n}\nexit`;
const storeLen = `
  r6 = r1
  r0 = *(u32 *)(r6 + 0)
  ${recordValue(1, 0, 'r0')}
  r0 = 1
  exit`;

describe('Kernel.runSkSkb: one skb through an SK_SKB program', () => {
  const setup = () => {
    const k = new Kernel();
    const maps = k.createMaps([
      { name: 'sm', type: MapType.SOCKMAP, typeName: '', keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, section: '.maps' },
      { name: 'sh', type: MapType.SOCKHASH, typeName: '', keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, section: '.maps' },
    ]);
    const l = k.listen();
    const c = k.connect(l);
    if (typeof c === 'number') throw new Error('connect');
    const p = k.accept(l);
    if (typeof p === 'number') throw new Error('accept');
    return { k, maps, c, p };
  };

  it('returns r0, the mapped verdict, the redirect (map, key, flags, target) and the bytes after the program', () => {
    const { k, maps, c, p } = setup();
    expect(k.mapUpdateSocket(maps.get(0), 2, c)).toBe(0);
    expect(k.mapUpdateSocket(maps.get(1), 7, p)).toBe(0);
    const redir = k.loadProgram({ type: 14, insns: assemble(redirectVerdict(0, 2, 1)) });
    const r = k.runSkSkb(redir, patternBytes(10), { sock: p });
    expect([r.ret, r.verdict]).toEqual([1, 2]);
    expect(r.redirect!.target).toBe(c);
    expect(r.redirect!.map).toBe(maps.get(0));
    expect(hex(r.redirect!.key)).toBe('02000000');
    expect(r.redirect!.flags).toBe(1);
    const hash = k.loadProgram({ type: 14, insns: assemble(redirectVerdict(1, 7, 0, true)) });
    const h = k.runSkSkb(hash, patternBytes(3));
    expect([h.verdict, h.redirect!.target, h.redirect!.flags]).toEqual([2, p, 0]);
    // Bad flags / empty slot: SK_DROP, nothing recorded; a program returning 7 is DROP too (no range check).
    expect(k.runSkSkb(k.loadProgram({ type: 14, insns: assemble(redirectVerdict(0, 2, 2)) }), bytes(1)).verdict).toBe(0);
    expect(k.runSkSkb(k.loadProgram({ type: 14, insns: assemble(redirectVerdict(0, 3, 0)) }), bytes(1)).redirect).toBeNull();
    expect(k.runSkSkb(k.loadProgram({ type: 14, insns: assemble('r0 = 7\nexit') }), bytes(1)).verdict).toBe(0);
    expect(redir.runCount).toBe(1);
    expect(maps.get(0)).toBeInstanceOf(SockMapBase);
  });

  it('skb bytes after change_head / adjust_room; data_end - data is 0 on a loopback skb, `linear` changes that', () => {
    const { k } = setup();
    const head = k.loadProgram({ type: 14, insns: assemble('r6 = r1\nr2 = 2\nr3 = 0\ncall bpf_skb_change_head#43\nr1 = r6\nr2 = -1\nr3 = 0\nr4 = 0\ncall bpf_skb_adjust_room#50\nr0 = 1\nexit') });
    const r = k.runSkSkb(head, bytes(0xaa, 0xbb, 0xcc));
    expect(hex(r.data)).toBe('00aabbcc');
    const dl = k.loadProgram({ type: 14, insns: assemble('r2 = *(u32 *)(r1 + 76)\nr0 = *(u32 *)(r1 + 80)\nr0 -= r2\nexit') });
    expect(k.runSkSkb(dl, patternBytes(100)).ret).toBe(0);
    expect(k.runSkSkb(dl, patternBytes(100), { linear: 40 }).ret).toBe(40);
  });

  it('refuses at load time a helper SK_SKB may not call, and one the model does not implement, naming it', () => {
    const { k } = setup();
    expect(() => k.loadProgram({ type: 14, name: 'msgy', insns: assemble('r2 = 1\ncall bpf_msg_apply_bytes#61\nr0 = 1\nexit') })).toThrow(/msg_apply_bytes#61.*kernel refuses/);
    expect(() => k.loadProgram({ type: 14, name: 'bs', insns: assemble('r1 = 0\nr2 = 0\nr3 = 0\ncall bpf_get_task_stack#141\nr0 = 1\nexit') })).toThrow(/get_task_stack#141, which bpfvm's socket model does not provide/);
  });
});

describe('strparser framing (§5.2)', () => {
  const strp = (parser: (b: Uint8Array) => number, avail = () => 1000) => {
    const msgs: { offset: number; fullLen: number; len: number }[] = [];
    const errs: number[] = [];
    const sp = new Strparser({ parse: parser, rcvMsg: (m) => msgs.push({ offset: m.offset, fullLen: m.fullLen, len: m.bytes.length }), abort: (e) => errs.push(e), maxMsgSize: () => 131072, peekLen: avail });
    return { sp, msgs, errs };
  };

  it('messages inside one skb carry offsets into the whole skb; a message spanning skbs sees both', () => {
    let runs = 0;
    const { sp, msgs } = strp(() => (runs++, 10));
    expect(sp.recv(new Uint8Array(25), 0)).toBe(25);
    expect(msgs).toEqual([{ offset: 0, fullLen: 10, len: 25 }, { offset: 10, fullLen: 10, len: 25 }]);
    expect(sp.recv(new Uint8Array(5), 0)).toBe(5);
    expect(msgs[2]).toEqual({ offset: 20, fullLen: 10, len: 30 });
    expect(runs).toBe(3);
  });

  it('0 waits (the parser runs again on more bytes); errors stop it for good', () => {
    const lens: number[] = [];
    const { sp, msgs, errs } = strp((b) => (lens.push(b.length), b.length < 6 ? 0 : 6));
    sp.recv(new Uint8Array(4), 0);
    sp.recv(new Uint8Array(4), 0);
    // The second skb completes message 1 (bytes 0..6 of 4 + 4); its last 2 bytes start message 2 at offset 2.
    expect(lens).toEqual([4, 8, 4]);
    expect(msgs).toEqual([{ offset: 0, fullLen: 6, len: 8 }]);
    expect(sp.pending).toBe(2);
    expect(errs).toEqual([]);
    // EPROTO: a length not past the bytes accumulated before the newest skb.
    const e1 = strp((b) => (b.length < 5 ? 0 : 3));
    e1.sp.recv(new Uint8Array(4), 0);
    expect(e1.sp.recv(new Uint8Array(4), 0)).toBe(0);
    expect([e1.errs, e1.sp.stopped]).toEqual([[-EPROTO], true]);
    // EMSGSIZE above sk_rcvbuf; -ESTRPIPE with data accumulated becomes -ENODATA.
    const e2 = strp(() => 1 << 24);
    e2.sp.recv(new Uint8Array(4), 0);
    expect(e2.errs).toEqual([-EMSGSIZE]);
    const e3 = strp((b) => (b.length < 5 ? 0 : -ESTRPIPE));
    e3.sp.recv(new Uint8Array(4), 0);
    e3.sp.recv(new Uint8Array(4), 0);
    expect(e3.errs).toEqual([-ENODATA]);
  });

  it('a message longer than the socket holds sets need_bytes and stops reading after this skb', () => {
    const { sp } = strp(() => 100, () => 30);
    sp.recv(new Uint8Array(30), 0);
    expect([sp.needBytes, sp.keepReading, sp.pending]).toEqual([70, false, 30]);
  });
});

describe('the receive path in the model (kernel facts from sk-skb-kernel.test.ts)', () => {
  it('strparser PASS: parser 3 runs / verdict 2 runs for 25 bytes with r = 10; the third message completes with 5 more', () => {
    const r = run(skbScenario({ parser: fixedParser(10), verdict: storeLen, maps: [{ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 }] }, [
      send('c1', patternBytes(25)), { op: 'runCount', prog: 0 }, { op: 'runCount', prog: 1 }, recv('p1'), send('c1', patternBytes(5)), { op: 'runCount', prog: 0 }, { op: 'runCount', prog: 1 }, recv('p1'),
    ]));
    const st = r.steps.slice(-7);
    expect(st.map((x) => x.ret)).toEqual([3, 2, 20, 5, 3, 3, 10]);
    expect(hex(st[6]!.data)).toBe(hex(patternBytes(25).slice(20)) + hex(patternBytes(5)));
    expect(Buffer.from(r.maps[1]!.entries![0]!.value).readUInt32LE(0)).toBe(30); // the verdict saw both segments
  });

  it('a parser error sets SO_ERROR, leaves the bytes unread (recv -EAGAIN, FIONREAD 0)', () => {
    const r = rets(skbScenario({ parser: fixedParser(-22), verdict: PASS }, [send('c1', patternBytes(25)), recv('p1'), { op: 'fionread', sock: 'p1' }, { op: 'getsockopt', sock: 'p1', opt: SockOpt.SO_ERROR }, recv('p1')]));
    expect(r.slice(-4)).toEqual([-11, 0, 22, -11]);
  });

  it('verdict mode runs per skb (one send = one skb) and on the FIN; recv merges, peeks, then reads EOF', () => {
    const r = run(skbScenario({ verdict: PASS, skbVerdict: true }, [send('c1', patternBytes(10)), send('c1', patternBytes(20)), { op: 'fionread', sock: 'p1' }, recv('p1', 5, true), recv('p1', 100), { op: 'shutdown', sock: 'c1', how: 'wr' }, { op: 'runCount', prog: 1 }, recv('p1')]));
    expect(r.steps.slice(-6).map((x) => x.ret)).toEqual([30, 5, 30, 0, 3, 0]);
  });

  it('segmentSize splits a send into several skbs (the verdict runs per skb)', () => {
    const k = new Kernel({ segmentSize: 10 });
    const r = runModelScenario(skbScenario({ verdict: PASS, skbVerdict: true }, [send('c1', patternBytes(25)), { op: 'runCount', prog: 1 }, recv('p1')]), k).result;
    expect(r.steps.slice(-2).map((x) => x.ret)).toEqual([3, 25]);
  });

  it('DROP discards; redirect egress sends out of the target; ingress queues at the target (FIONREAD counts it)', () => {
    expect(rets(skbScenario({ verdict: DROP, skbVerdict: true }, [send('c1', patternBytes(10)), recv('p1')])).slice(-2)).toEqual([10, -11]);
    const eg = run(skbScenario({ parser: PARSE_LEN, verdict: redirectVerdict(0, 1, 0), target: 'c2' }, [send('c1', patternBytes(10)), recv('p2'), recv('p1')]));
    expect(eg.steps.slice(-2).map((x) => x.ret)).toEqual([10, -11]);
    const ing = run(skbScenario({ verdict: redirectVerdict(0, 1, 1, true), hash: true, skbVerdict: true, target: 'p2' }, [send('c1', patternBytes(10)), { op: 'fionread', sock: 'p2' }, recv('p2')]));
    expect(ing.steps.slice(-2).map((x) => x.ret)).toEqual([10, 10]);
  });

  it("a FIN redirected egress breaks the target (SO_ERROR EPIPE, TX disabled: later redirects dropped); ingress: the target (a verdict socket) reads EOF", () => {
    const eg = run(skbScenario({ verdict: redirectVerdict(0, 1, 0), skbVerdict: true, target: 'c2' }, [send('c1', patternBytes(3)), recv('p2'), { op: 'close', sock: 'c1' }, { op: 'getsockopt', sock: 'c2', opt: SockOpt.SO_ERROR }]));
    expect(eg.steps.slice(-1)[0]!.ret).toBe(32);
    expect(eg.sockets.p1!.eof).toBe(true);
    const ing = run(skbScenario({ verdict: redirectVerdict(0, 1, 1), skbVerdict: true, target: 'p2' }, [send('c1', patternBytes(3)), recv('p2'), { op: 'close', sock: 'c1' }, recv('p2'), { op: 'getsockopt', sock: 'p2', opt: SockOpt.SO_ERROR }]));
    expect(ing.steps.slice(-2).map((x) => x.ret)).toEqual([0, 32]);
  });

  it('a failed redirect with `return SK_PASS` passes locally; SK_PASS from a parser-mode verdict with a redirect to a listener too', () => {
    const s = skbScenario({ verdict: `${redirectVerdict(0, 1, 0).replace('exit', '')}\nr0 = 1\nexit`, skbVerdict: true, target: 'l2' }, [send('c1', patternBytes(4)), recv('p1')]);
    expect(rets(s).slice(-1)).toEqual([4]);
  });

  it('unread PASS data purged with the psock leaves a hole: FIONREAD counts it, native reads -EAGAIN', () => {
    const r = rets(skbScenario({ verdict: PASS, skbVerdict: true }, [send('c1', patternBytes(10)), { op: 'mapDelete', map: 0, key: 0 }, send('c1', patternBytes(4)), { op: 'fionread', sock: 'p1' }, recv('p1')]));
    expect(r.slice(-2)).toEqual([14, -11]);
    const d = rets(skbScenario({ verdict: DROP, skbVerdict: true }, [send('c1', patternBytes(10)), { op: 'mapDelete', map: 0, key: 0 }, send('c1', patternBytes(4)), { op: 'fionread', sock: 'p1' }, recv('p1')]));
    expect(d.slice(-2)).toEqual([4, 4]);
  });

  it('stream_verdict and skb_verdict exclude each other on a map (-EBUSY)', () => {
    const r = rets({
      maps: [{ type: MapType.SOCKMAP, keySize: 4, valueSize: 8, maxEntries: 2 }],
      progs: [{ progType: 14, insns: assemble(PASS) }],
      steps: [
        { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_SKB_STREAM_VERDICT },
        { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_SKB_VERDICT },
      ],
    });
    expect(r).toEqual([0, -16]);
  });

  it('a redirect loop (p2 egress-redirects into c2, whose peer is p2) is reported, not run forever', () => {
    const s = skbScenario({ verdict: redirectVerdict(0, 1, 0), skbVerdict: true, target: 'c2' }, [{ op: 'sockUpdate', map: 0, key: 2, sock: 'p2' }, send('c1', patternBytes(3))]);
    expect(() => run(s)).toThrow(/redirect loop/);
  });
});
