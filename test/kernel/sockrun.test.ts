/**
 * Socket scenario oracle tests: reproduce the [exp] facts of /work/shared/docs/sockmap-datapath.md against the
 * real host kernel over loopback sockets (test/kernel/sockrun.ts). Programs are written by hand in kernel
 * assembler syntax and assembled with bpfvm's own assembler. Where the kernel and the spec disagree the
 * kernel wins; such places are marked "KERNEL vs SPEC".
 *
 * Skipped (with the reason) where the oracle is unavailable: not Linux, no C compiler, not root, no sockmap
 * support, or BPFVM_NO_KERNEL=1.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import {
  AttachType, E, MapType, MsgFlags, ProgType, SockOpt, UpdateFlags, patternBytes, runScenario, sockAvailability,
  tcpPair, type Scenario, type ScenarioResult, type ScenarioStep,
} from './sockrun.js';
import { DROP, PASS, applyCork, bytes, hexOf, msgRedirect, msgScenario, skMsg, sockhash, sockmap } from './sockrun-scenarios.js';

const avail = sockAvailability();
const suite = avail.ok ? describe : describe.skip;
if (!avail.ok) console.warn(`sockrun tests skipped: ${avail.reason}`);

function expectSetupOk(r: ScenarioResult): void {
  if (!r.ok) throw new Error(`setup failed: ${JSON.stringify(r.setupError)}`);
  // Every socket-creation / insert step must have worked for the scenario to mean anything.
  r.steps.forEach((s, i) => {
    if (['attach', 'listen', 'connect', 'accept'].includes(s.op)) expect(s.ret, `step ${i} (${s.op})`).toBe(0);
  });
  expect(r.byLabel.insert?.ret ?? 0).toBe(0);
}

suite('sockrun: socket scenario oracle (real kernel)', () => {
  it('availability probe says why', () => {
    expect(avail.ok).toBe(true);
    expect(avail.reason).toMatch(/ready/);
  });

  // (1) spec §4.3/§4.4 PASS
  it('(1) sk_msg SK_PASS: send(N) returns N and the peer receives the bytes', () => {
    const data = patternBytes(100);
    const r = runScenario(
      msgScenario(PASS, [
        { op: 'send', sock: 'c1', data, label: 's1' },
        { op: 'recv', sock: 'p1', maxLen: 1000, timeoutMs: 500, label: 'r1' },
        { op: 'sendmsg', sock: 'c1', iovLen: 10, iovCount: 3, label: 's2' },
        { op: 'sendfile', sock: 'c1', len: 5000, label: 's3' },
      ]),
    );
    expectSetupOk(r);
    expect(r.byLabel.s1!.ret).toBe(100);
    expect(hexOf(r.byLabel.r1!.data)).toBe(hexOf(data));
    expect(r.byLabel.s2!.ret).toBe(30);
    // §4.1: sendfile also goes through tcp_bpf_sendmsg.
    expect(r.byLabel.s3!.ret).toBe(5000);
    expect(hexOf(r.sockets.p1!.data)).toBe(hexOf(patternBytes(30)) + hexOf(patternBytes(5000)));
    expect(r.sockets.c1!.data.length).toBe(0);
    if (r.statsEnabled) expect(r.progs[0]!.runCnt).toBe(3);
    // Final dump: c1 is the only member.
    expect(r.maps[0]!.socks).toEqual([{ key: bytes(0, 0, 0, 0), sock: 'c1' }]);
  });

  // (2) spec §4.7: DROP → EACCES, sticky, program not re-run
  it('(2) sk_msg SK_DROP: send returns -EACCES and the drop is sticky', () => {
    const r = runScenario(
      msgScenario(DROP, [
        { op: 'send', sock: 'c1', data: patternBytes(10), label: 's1' },
        { op: 'send', sock: 'c1', data: patternBytes(20), label: 's2' },
        { op: 'sendfile', sock: 'c1', len: 100, label: 's3' },
      ]),
    );
    expectSetupOk(r);
    expect(r.byLabel.s1!.ret).toBe(-E.EACCES);
    expect(r.byLabel.s2!.ret).toBe(-E.EACCES);
    expect(r.byLabel.s3!.ret).toBe(-E.EACCES);
    expect(r.sockets.p1!.data.length).toBe(0);
    // Sticky: the program ran once for three sends.
    if (r.statsEnabled) expect(r.progs[0]!.runCnt).toBe(1);
  });

  // (3) spec §4.7: DROP with apply_bytes 10 on send(100) → 90
  it('(3) apply_bytes(10) + SK_DROP: send(100) returns 90, the next send -EACCES', () => {
    const prog = `
      r2 = 10
      call bpf_msg_apply_bytes#61
      r0 = 0
      exit`;
    const r = runScenario(
      msgScenario(prog, [
        { op: 'send', sock: 'c1', data: patternBytes(100), label: 's1' },
        { op: 'send', sock: 'c1', data: patternBytes(10), label: 's2' },
      ]),
    );
    expectSetupOk(r);
    expect(r.byLabel.s1!.ret).toBe(90);
    expect(r.byLabel.s2!.ret).toBe(-E.EACCES);
    expect(r.sockets.p1!.data.length).toBe(0);
    if (r.statsEnabled) expect(r.progs[0]!.runCnt).toBe(1);
  });

  // spec §4.5 worked example: apply 10 + PASS, five send(4)
  it('apply_bytes(10) + SK_PASS over five send(4): 20 bytes delivered, program runs twice', () => {
    const prog = `
      r2 = 10
      call bpf_msg_apply_bytes#61
      r0 = 1
      exit`;
    const steps: ScenarioStep[] = [];
    for (let i = 0; i < 5; i++) steps.push({ op: 'send', sock: 'c1', data: bytes(4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3) });
    const r = runScenario(msgScenario(prog, steps));
    expectSetupOk(r);
    expect(r.steps.slice(-5).map((s) => s.ret)).toEqual([4, 4, 4, 4, 4]);
    expect(hexOf(r.sockets.p1!.data)).toBe(hexOf(patternBytes(20)));
    if (r.statsEnabled) expect(r.progs[0]!.runCnt).toBe(2);
  });

  // (4) spec §4.8: cork 100, four send(30)
  it('(4) cork_bytes(100) + SK_PASS: three send(30) are held, the fourth flushes 120 bytes', () => {
    const prog = `
      r2 = 100
      call bpf_msg_cork_bytes#62
      r0 = 1
      exit`;
    const chunk = (i: number) => patternBytes(120).slice(30 * i, 30 * i + 30);
    const r = runScenario(
      msgScenario(prog, [
        { op: 'send', sock: 'c1', data: chunk(0), label: 's1' },
        { op: 'send', sock: 'c1', data: chunk(1), label: 's2' },
        { op: 'send', sock: 'c1', data: chunk(2), label: 's3' },
        { op: 'recv', sock: 'p1', maxLen: 1000, timeoutMs: 50, label: 'held' },
        { op: 'runCount', prog: 0, label: 'runsHeld' },
        { op: 'send', sock: 'c1', data: chunk(3), label: 's4' },
        { op: 'recv', sock: 'p1', maxLen: 1000, timeoutMs: 500, label: 'flushed' },
      ]),
    );
    expectSetupOk(r);
    expect(['s1', 's2', 's3', 's4'].map((l) => r.byLabel[l]!.ret)).toEqual([30, 30, 30, 30]);
    expect(r.byLabel.held!.ret).toBe(-E.EAGAIN);
    const got = hexOf(r.byLabel.flushed!.data) + hexOf(r.sockets.p1!.data);
    expect(got).toBe(hexOf(patternBytes(120)));
    if (r.statsEnabled) {
      expect(r.byLabel.runsHeld!.ret).toBe(1);
      expect(r.progs[0]!.runCnt).toBe(2);
    }
  });

  // spec §4.8: cork 100 + apply 10 + PASS, four send(30) → 30 delivered, 5 runs, 90 held again.
  // KERNEL vs SPEC: the program does run 5 times and 30 bytes are handed to TCP, but they do NOT arrive while
  // c1 stays open: tcp_bpf_push sends each 10-byte apply chunk that is shorter than its scatterlist element
  // with MSG_MORE, so TCP keeps them in c1's write queue (even with TCP_NODELAY) until more data or a FIN
  // pushes them — or, with nothing in flight, the probe timer after ~200 ms (test/model/tcp-timers-kernel.test.ts);
  // the 50 ms wait here is shorter. Only after shutdown(c1, SHUT_WR) does p1 receive exactly those 30 bytes.
  // Extra observation (not in the spec): the next send() after the cork re-engaged returns 0 (not its length)
  // and its bytes never arrive; a further 1-byte send returns 1 and is held.
  it('cork_bytes(100) + apply_bytes(10) + SK_PASS: 30 bytes pushed (stuck behind MSG_MORE), 90 held again', () => {
    const prog = applyCork();
    const steps: ScenarioStep[] = [0, 1, 2, 3].map((i) => ({ op: 'send', sock: 'c1', data: patternBytes(120).slice(30 * i, 30 * i + 30) }));
    const r = runScenario(
      msgScenario(prog, [
        ...steps,
        { op: 'recv', sock: 'p1', maxLen: 1000, timeoutMs: 50, label: 'open' },
        { op: 'runCount', prog: 0, label: 'runs' },
        { op: 'send', sock: 'c1', data: bytes(0xee, 0xee, 0xee), label: 'after' },
        { op: 'send', sock: 'c1', data: bytes(0xdd), label: 'after2' },
        { op: 'shutdown', sock: 'c1', how: 'wr' },
      ]),
    );
    expectSetupOk(r);
    expect(r.steps.slice(5, 9).map((s) => s.ret)).toEqual([30, 30, 30, 30]);
    expect(r.byLabel.open!.ret).toBe(-E.EAGAIN);
    if (r.statsEnabled) {
      expect(r.byLabel.runs!.ret).toBe(5);
      expect(r.progs[0]!.runCnt).toBe(5);
    }
    expect(r.byLabel.after!.ret).toBe(0);
    expect(r.byLabel.after2!.ret).toBe(1);
    expect(hexOf(r.sockets.p1!.data)).toBe(hexOf(patternBytes(30)));
    expect(r.sockets.p1!.eof).toBe(true);
  });

  // (5) spec §4.6 egress redirect
  it('(5) msg_redirect_map egress: bytes arrive at the target socket\'s peer', () => {
    // map 1 = redirect targets (no programs); c2 at key 0.
    const prog = msgRedirect(1, 0, 0);
    const data = patternBytes(64);
    const r = runScenario(
      msgScenario(
        prog,
        [
          ...tcpPair('l2', 'c2', 'p2'),
          { op: 'sockUpdate', map: 1, key: 0, sock: 'c2', label: 'target' },
          { op: 'send', sock: 'c1', data, label: 's1' },
          { op: 'recv', sock: 'p2', maxLen: 1000, timeoutMs: 500, label: 'r2' },
          // Empty target slot → helper returns SK_DROP → EACCES (and then sticky).
          { op: 'mapDelete', map: 1, key: 0, label: 'del' },
          { op: 'send', sock: 'c1', data, label: 's2' },
        ],
        { maps: [sockmap()] },
      ),
    );
    expectSetupOk(r);
    expect(r.byLabel.target!.ret).toBe(0);
    expect(r.byLabel.s1!.ret).toBe(64);
    expect(hexOf(r.byLabel.r2!.data)).toBe(hexOf(data));
    expect(r.byLabel.del!.ret).toBe(0);
    expect(r.byLabel.s2!.ret).toBe(-E.EACCES);
    expect(r.sockets.p1!.data.length).toBe(0);
    expect(r.sockets.c2!.data.length).toBe(0);
    expect(r.sockets.p2!.data.length).toBe(0);
  });

  // spec §4.4 REDIRECT quirk: cork + apply under redirect delivers only the first apply chunk; the other 110
  // bytes are discarded although every send() returned 30. The program runs twice (the detached cork
  // message is freed after the first chunk). KERNEL vs SPEC (as above): the 10 bytes sit in c2's write
  // queue behind MSG_MORE until c2 sends more or shuts down; with c2 left alone nothing arrives at p2.
  it('cork_bytes(100) + apply_bytes(10) + redirect: only 10 of 120 bytes reach the target', () => {
    const prog = applyCork(`r1 = r6\n${msgRedirect(1, 0, 0)}`);
    const sends: ScenarioStep[] = [0, 1, 2, 3].map((i) => ({ op: 'send', sock: 'c1', data: patternBytes(120).slice(30 * i, 30 * i + 30) }));
    const r = runScenario(
      msgScenario(
        prog,
        [
          ...tcpPair('l2', 'c2', 'p2'),
          { op: 'sockUpdate', map: 1, key: 0, sock: 'c2' },
          ...sends,
          { op: 'recv', sock: 'p2', maxLen: 1000, timeoutMs: 50, label: 'open' },
          { op: 'shutdown', sock: 'c2', how: 'wr' },
        ],
        { maps: [sockmap()] },
      ),
    );
    expectSetupOk(r);
    expect(r.steps.slice(9, 13).map((s) => s.ret)).toEqual([30, 30, 30, 30]);
    expect(r.byLabel.open!.ret).toBe(-E.EAGAIN);
    expect(hexOf(r.sockets.p2!.data)).toBe(hexOf(patternBytes(10)));
    expect(r.sockets.p2!.eof).toBe(true);
    expect(r.sockets.p1!.data.length).toBe(0);
    if (r.statsEnabled) expect(r.progs[0]!.runCnt).toBe(2);
  });

  // (6) spec §4.6 ingress redirect + §5.5 reading
  it('(6) msg_redirect_map with BPF_F_INGRESS: bytes are readable on the target socket itself', () => {
    const prog = msgRedirect(1, 0, 1);
    const r = runScenario(
      msgScenario(
        prog,
        [
          ...tcpPair('l2', 'c2', 'p2'),
          { op: 'sockUpdate', map: 1, key: 0, sock: 'p2', label: 'target' },
          { op: 'send', sock: 'c1', data: patternBytes(30), label: 's1' },
          { op: 'send', sock: 'c1', data: patternBytes(30), label: 's2' },
          { op: 'fionread', sock: 'p2', label: 'fion' },
          // §5.5: MSG_PEEK walks across messages without consuming; recv merges queued messages.
          { op: 'recv', sock: 'p2', maxLen: 45, peek: true, timeoutMs: 500, label: 'peek' },
          { op: 'recv', sock: 'p2', maxLen: 100, timeoutMs: 500, label: 'r' },
        ],
        { maps: [sockmap()] },
      ),
    );
    expectSetupOk(r);
    expect(r.byLabel.target!.ret).toBe(0);
    expect(r.byLabel.s1!.ret).toBe(30);
    expect(r.byLabel.s2!.ret).toBe(30);
    expect(r.byLabel.fion!.ret).toBe(60);
    expect(hexOf(r.byLabel.peek!.data)).toBe(hexOf(patternBytes(30)) + hexOf(patternBytes(15)));
    expect(r.byLabel.r!.ret).toBe(60);
    expect(hexOf(r.byLabel.r!.data)).toBe(hexOf(patternBytes(30)) + hexOf(patternBytes(30)));
    // Nothing went over the wire anywhere.
    for (const n of ['p1', 'c2', 'p2']) expect(r.sockets[n]!.data.length, n).toBe(0);
  });

  // spec §3.10: removing the target from its last map discards unread redirected data
  it('ingress-redirected data is lost when the target leaves its last map', () => {
    const prog = msgRedirect(1, 0, 1);
    const r = runScenario(
      msgScenario(
        prog,
        [
          ...tcpPair('l2', 'c2', 'p2'),
          { op: 'sockUpdate', map: 1, key: 0, sock: 'p2' },
          { op: 'send', sock: 'c1', data: patternBytes(30), label: 's1' },
          { op: 'sleep', ms: 20 },
          { op: 'mapDelete', map: 1, key: 0, label: 'del' },
          { op: 'sleep', ms: 20 },
          { op: 'recv', sock: 'p2', maxLen: 100, timeoutMs: 50, label: 'r' },
        ],
        { maps: [sockmap()] },
      ),
    );
    expectSetupOk(r);
    expect(r.byLabel.s1!.ret).toBe(30);
    expect(r.byLabel.del!.ret).toBe(0);
    expect(r.byLabel.r!.ret).toBe(-E.EAGAIN);
    expect(r.sockets.p2!.data.length).toBe(0);
  });

  // (7) spec §4.10–4.12
  it('(7) msg_pop_data(1,2) on 01 02 03 04 05 delivers 01 04 05', () => {
    const prog = `
      r2 = 1
      r3 = 2
      r4 = 0
      call bpf_msg_pop_data#91
      r0 = 1
      exit`;
    const r = runScenario(msgScenario(prog, [{ op: 'send', sock: 'c1', data: bytes(1, 2, 3, 4, 5), label: 's' }]));
    expectSetupOk(r);
    expect(r.byLabel.s!.ret).toBe(5); // push/pop do not change the send() result (§4.9)
    expect(hexOf(r.sockets.p1!.data)).toBe('010405');
  });

  it('(7) msg_push_data(1,3) inserts 3 bytes after the first (content undefined, not compared)', () => {
    const prog = `
      r2 = 1
      r3 = 3
      r4 = 0
      call bpf_msg_push_data#90
      r0 = 1
      exit`;
    const r = runScenario(msgScenario(prog, [{ op: 'send', sock: 'c1', data: bytes(1, 2, 3, 4, 5), label: 's' }]));
    expectSetupOk(r);
    expect(r.byLabel.s!.ret).toBe(5);
    const got = r.sockets.p1!.data;
    expect(got.length).toBe(8);
    expect(got[0]).toBe(1);
    expect(hexOf(got.slice(4))).toBe('02030405');
  });

  it('(7) msg_pull_data(2,3) points data at offset 2: a write through data lands on byte 2', () => {
    // Stores the helper's return value in array map 1 [0], then writes 0xff at data[0] if in bounds.
    const prog = `
      r6 = r1
      r2 = 2
      r3 = 3
      r4 = 0
      call bpf_msg_pull_data#63
      *(u64 *)(r10 - 8) = r0
      r1 = 0
      *(u32 *)(r10 - 12) = r1
      r1 = map[idx:1]
      r2 = r10
      r2 += -12
      r3 = r10
      r3 += -8
      r4 = 0
      call bpf_map_update_elem#2
      r2 = *(u64 *)(r6 + 0)
      r3 = *(u64 *)(r6 + 8)
      r4 = r2
      r4 += 1
      if r4 > r3 goto out
      r5 = 255
      *(u8 *)(r2 + 0) = r5
    out:
      r0 = 1
      exit`;
    const r = runScenario(
      msgScenario(prog, [{ op: 'send', sock: 'c1', data: bytes(1, 2, 3, 4, 5), label: 's' }], {
        maps: [{ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 }],
      }),
    );
    expectSetupOk(r);
    expect(r.byLabel.s!.ret).toBe(5);
    expect(hexOf(r.sockets.p1!.data)).toBe('0102ff0405');
    expect(r.maps[1]!.entries).toEqual([{ key: bytes(0, 0, 0, 0), value: new Uint8Array(8) }]);
  });

  it('(7) msg_pull_data error returns: pull(5,5) → -EINVAL, pull(40,60) on 50 bytes → -EINVAL', () => {
    // array map 1: [0] = pull(5,5) result, [1] = pull(40,60) result
    const store = (idx: number) => `
      *(u64 *)(r10 - 8) = r0
      r1 = ${idx}
      *(u32 *)(r10 - 12) = r1
      r1 = map[idx:1]
      r2 = r10
      r2 += -12
      r3 = r10
      r3 += -8
      r4 = 0
      call bpf_map_update_elem#2`;
    const prog = `
      r6 = r1
      r2 = 5
      r3 = 5
      r4 = 0
      call bpf_msg_pull_data#63
      ${store(0)}
      r1 = r6
      r2 = 40
      r3 = 60
      r4 = 0
      call bpf_msg_pull_data#63
      ${store(1)}
      r0 = 1
      exit`;
    const r = runScenario(
      msgScenario(prog, [{ op: 'send', sock: 'c1', data: patternBytes(50), label: 's' }], {
        maps: [{ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2 }],
      }),
    );
    expectSetupOk(r);
    expect(r.byLabel.s!.ret).toBe(50);
    const vals = r.maps[1]!.entries!.map((e) => Buffer.from(e.value).readBigInt64LE(0));
    expect(vals).toEqual([-22n, -22n]);
    expect(hexOf(r.sockets.p1!.data)).toBe(hexOf(patternBytes(50)));
  });

  // (8) spec §5.1/§5.2 strparser mode
  it('(8) sk_skb stream_parser (returns skb->len) + stream_verdict SK_PASS: bytes readable at the receiver', () => {
    const data = new TextEncoder().encode('hello sk_skb');
    const r = runScenario({
      maps: [sockmap()],
      progs: [
        { progType: ProgType.SK_SKB, expectedAttachType: AttachType.SK_SKB_STREAM_PARSER, insns: assemble('r0 = *(u32 *)(r1 + 0)\nexit') },
        { progType: ProgType.SK_SKB, expectedAttachType: AttachType.SK_SKB_STREAM_VERDICT, insns: assemble(PASS) },
      ],
      steps: [
        { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_SKB_STREAM_PARSER },
        { op: 'attach', prog: 1, map: 0, attachType: AttachType.SK_SKB_STREAM_VERDICT },
        ...tcpPair('l1', 'c1', 'p1'),
        { op: 'sockUpdate', map: 0, key: 0, sock: 'p1', label: 'insert' },
        { op: 'send', sock: 'c1', data, label: 's' },
        { op: 'fionread', sock: 'p1', label: 'fion' },
        { op: 'recv', sock: 'p1', maxLen: 100, timeoutMs: 500, label: 'r' },
        { op: 'send', sock: 'c1', data: bytes(1, 2, 3), label: 's2' },
      ],
    });
    expectSetupOk(r);
    expect(r.byLabel.s!.ret).toBe(data.length);
    expect(hexOf(r.byLabel.r!.data)).toBe(hexOf(data));
    expect(r.sockets.p1!.data).toEqual(bytes(1, 2, 3));
    if (r.statsEnabled) {
      expect(r.progs[0]!.runCnt).toBeGreaterThanOrEqual(2);
      expect(r.progs[1]!.runCnt).toBe(2);
    }
  });

  it('sk_skb stream_verdict sk_redirect_map egress: bytes received by p1 go out of c2 to p2', () => {
    const verdict = `
      r2 = map[idx:0]
      r3 = 1
      r4 = 0
      call bpf_sk_redirect_map#52
      exit`;
    const r = runScenario({
      maps: [sockmap()],
      progs: [
        { progType: ProgType.SK_SKB, expectedAttachType: AttachType.SK_SKB_STREAM_PARSER, insns: assemble('r0 = *(u32 *)(r1 + 0)\nexit') },
        { progType: ProgType.SK_SKB, expectedAttachType: AttachType.SK_SKB_STREAM_VERDICT, insns: assemble(verdict) },
      ],
      steps: [
        { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_SKB_STREAM_PARSER },
        { op: 'attach', prog: 1, map: 0, attachType: AttachType.SK_SKB_STREAM_VERDICT },
        ...tcpPair('l1', 'c1', 'p1'),
        ...tcpPair('l2', 'c2', 'p2'),
        { op: 'sockUpdate', map: 0, key: 0, sock: 'p1', label: 'insert' },
        { op: 'sockUpdate', map: 0, key: 1, sock: 'c2', label: 'insert2' },
        { op: 'send', sock: 'c1', data: patternBytes(200), label: 's' },
        { op: 'recv', sock: 'p2', maxLen: 1000, timeoutMs: 500, label: 'r' },
      ],
    });
    expectSetupOk(r);
    expect(r.byLabel.insert2!.ret).toBe(0);
    expect(r.byLabel.s!.ret).toBe(200);
    expect(hexOf(r.byLabel.r!.data) + hexOf(r.sockets.p2!.data)).toBe(hexOf(patternBytes(200)));
    expect(r.sockets.p1!.data.length).toBe(0);
  });

  // spec §5.4 quirk: verdict mode, peer FIN redirected egress → target SO_ERROR = EPIPE.
  // KERNEL vs SPEC (precision): "direct send() on it still works" holds only once the error was consumed:
  // the first direct send() after the FIN returns -EPIPE (and clears sk_err); later sends work. Reading
  // SO_ERROR first (→ EPIPE, cleared) lets the next direct send succeed.
  it('verdict mode: the peer\'s FIN redirected egress gives the target SO_ERROR = EPIPE', () => {
    const verdict = `
      r2 = map[idx:0]
      r3 = 1
      r4 = 0
      call bpf_sk_redirect_map#52
      exit`;
    const run = (afterFin: ScenarioStep[]) =>
      runScenario({
        maps: [sockmap()],
        progs: [{ progType: ProgType.SK_SKB, expectedAttachType: AttachType.SK_SKB_VERDICT, insns: assemble(verdict) }],
        steps: [
          { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_SKB_VERDICT },
          ...tcpPair('l1', 'c1', 'p1'),
          ...tcpPair('l2', 'c2', 'p2'),
          { op: 'sockUpdate', map: 0, key: 0, sock: 'p1', label: 'insert' },
          { op: 'sockUpdate', map: 0, key: 1, sock: 'c2' },
          { op: 'send', sock: 'c1', data: patternBytes(10), label: 's' },
          { op: 'recv', sock: 'p2', maxLen: 100, timeoutMs: 500, label: 'r' },
          { op: 'close', sock: 'c1' },
          { op: 'sleep', ms: 50 },
          { op: 'runCount', prog: 0, label: 'runs' },
          ...afterFin,
        ],
      });
    const a = run([
      { op: 'getsockopt', sock: 'c2', opt: SockOpt.SO_ERROR, label: 'soerr' },
      { op: 'send', sock: 'c2', data: bytes(7), label: 'direct' },
    ]);
    expectSetupOk(a);
    expect(a.byLabel.s!.ret).toBe(10);
    expect(hexOf(a.byLabel.r!.data)).toBe(hexOf(patternBytes(10)));
    // The zero-length FIN skb ran through the verdict too (§5.3).
    if (a.statsEnabled) expect(a.byLabel.runs!.ret).toBe(2);
    expect(a.byLabel.soerr!.ret).toBe(E.EPIPE);
    expect(a.byLabel.direct!.ret).toBe(1);
    expect(a.sockets.p2!.data).toEqual(bytes(7));
    expect(a.sockets.p1!.eof).toBe(true); // recv → 0 after the peer closed

    const b = run([
      { op: 'send', sock: 'c2', data: bytes(9), label: 'direct1' },
      { op: 'send', sock: 'c2', data: bytes(7), label: 'direct2' },
    ]);
    expectSetupOk(b);
    expect(b.byLabel.direct1!.ret).toBe(-E.EPIPE);
    expect(b.byLabel.direct2!.ret).toBe(1);
    expect(b.sockets.c2!.soError).toBe(0);
    expect(b.sockets.p2!.data).toEqual(bytes(7));
  });

  // spec §5.2: framing with a parser that returns 10, and what parser/verdict see
  const storeR0 = (idx: number) => `
      *(u64 *)(r10 - 8) = r0
      r1 = ${idx}
      *(u32 *)(r10 - 12) = r1
      r1 = map[idx:1]
      r2 = r10
      r2 += -12
      r3 = r10
      r3 += -8
      r4 = 0
      call bpf_map_update_elem#2`;
  const strpScenario = (parserRet: number, steps: ScenarioStep[]): Scenario => ({
    // map 1 (array): [0] = skb->len seen by the last parser run, [1] = by the last verdict run
    maps: [sockmap(), { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2 }],
    progs: [
      {
        progType: ProgType.SK_SKB,
        expectedAttachType: AttachType.SK_SKB_STREAM_PARSER,
        insns: assemble(`r6 = r1\nr0 = *(u32 *)(r6 + 0)\n${storeR0(0)}\nr0 = ${parserRet}\nexit`),
      },
      {
        progType: ProgType.SK_SKB,
        expectedAttachType: AttachType.SK_SKB_STREAM_VERDICT,
        insns: assemble(`r6 = r1\nr0 = *(u32 *)(r6 + 0)\n${storeR0(1)}\nr0 = 1\nexit`),
      },
    ],
    steps: [
      { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_SKB_STREAM_PARSER },
      { op: 'attach', prog: 1, map: 0, attachType: AttachType.SK_SKB_STREAM_VERDICT },
      ...tcpPair('l1', 'c1', 'p1'),
      { op: 'sockUpdate', map: 0, key: 0, sock: 'p1', label: 'insert' },
      ...steps,
    ],
  });
  const lens = (r: ScenarioResult) => r.maps[1]!.entries!.map((e) => Number(Buffer.from(e.value).readBigInt64LE(0)));

  it('strparser framing: parser returns 10 on 25 bytes → two messages, the third waits for 5 more bytes', () => {
    const r = runScenario(
      strpScenario(10, [
        { op: 'send', sock: 'c1', data: patternBytes(25), label: 's1' },
        { op: 'sleep', ms: 20 },
        { op: 'runCount', prog: 0, label: 'parser1' },
        { op: 'runCount', prog: 1, label: 'verdict1' },
        { op: 'recv', sock: 'p1', maxLen: 100, timeoutMs: 300, label: 'r1' },
        { op: 'send', sock: 'c1', data: patternBytes(5), label: 's2' },
        { op: 'sleep', ms: 20 },
        { op: 'runCount', prog: 0, label: 'parser2' },
        { op: 'runCount', prog: 1, label: 'verdict2' },
        { op: 'recv', sock: 'p1', maxLen: 100, timeoutMs: 300, label: 'r2' },
      ]),
    );
    expectSetupOk(r);
    expect(hexOf(r.byLabel.r1!.data)).toBe(hexOf(patternBytes(20)));
    expect(hexOf(r.byLabel.r2!.data)).toBe(hexOf(patternBytes(25).slice(20)) + hexOf(patternBytes(5)));
    if (r.statsEnabled) {
      expect([r.byLabel.parser1!.ret, r.byLabel.verdict1!.ret]).toEqual([3, 2]);
      // No new parser run for the completing 5 bytes (need_bytes), one more verdict run.
      expect([r.byLabel.parser2!.ret, r.byLabel.verdict2!.ret]).toEqual([3, 3]);
    }
    // The programs see the whole underlying segment(s): the parser saw len 25; the verdict for the third
    // message (starting at offset 20 of the first segment, ending in the second) saw 25 + 5 = 30.
    expect(lens(r)).toEqual([25, 30]);
  });

  it('strparser: a parser returning -22 stops framing, SO_ERROR = 22, recv keeps returning EAGAIN', () => {
    const r = runScenario(
      strpScenario(-22, [
        { op: 'send', sock: 'c1', data: patternBytes(25), label: 's1' },
        { op: 'recv', sock: 'p1', maxLen: 100, timeoutMs: 50, label: 'r1' },
        { op: 'send', sock: 'c1', data: patternBytes(5), label: 's2' },
        { op: 'recv', sock: 'p1', maxLen: 100, timeoutMs: 50, label: 'r2' },
        { op: 'getsockopt', sock: 'p1', opt: SockOpt.SO_ERROR, label: 'err' },
      ]),
    );
    expectSetupOk(r);
    expect(r.byLabel.s2!.ret).toBe(5);
    expect(r.byLabel.r1!.ret).toBe(-E.EAGAIN);
    expect(r.byLabel.r2!.ret).toBe(-E.EAGAIN);
    expect(r.byLabel.err!.ret).toBe(E.EINVAL);
    if (r.statsEnabled) expect(r.progs.map((p) => p.runCnt)).toEqual([1, 0]);
    expect(r.sockets.p1!.data.length).toBe(0);
  });

  // spec §4.2: data/data_end cover the first scatterlist element only.
  // KERNEL vs SPEC (wording): the spec says a new fragment page is taken "when fewer than 32 bytes remain or
  // the page is still referenced". Observed (and what skb_page_frag_refill does): a page that is still
  // referenced (here: by p1's unread skbs) is CONTINUED at the current offset when the chunk fits; only an
  // unreferenced page restarts at 0. So with 9197 bytes sent earlier a 40000-byte send saw 23571 (= 32768 -
  // 9197), not 32768. Sending the big message first makes the spec's numbers deterministic; a 20000-byte
  // send at the end then starts at offset 40000 - 32768 + 1 + 100 + 4096 + 5000 = 16429 → 32768 - 16429.
  it('sk_msg data_end - data: 40000→32768, 1→1, 100→100, 4096→4096, sendfile 5000→5000, then mid-page', () => {
    // hash map 1: key = msg->size, value = data_end - data
    const prog = `
      r6 = r1
      r2 = *(u64 *)(r6 + 0)
      r3 = *(u64 *)(r6 + 8)
      r3 -= r2
      *(u64 *)(r10 - 8) = r3
      r2 = *(u32 *)(r6 + 68)
      *(u32 *)(r10 - 12) = r2
      r1 = map[idx:1]
      r2 = r10
      r2 += -12
      r3 = r10
      r3 += -8
      r4 = 0
      call bpf_map_update_elem#2
      r0 = 1
      exit`;
    const r = runScenario(
      msgScenario(
        prog,
        [
          { op: 'send', sock: 'c1', data: patternBytes(40000) },
          { op: 'send', sock: 'c1', data: patternBytes(1) },
          { op: 'send', sock: 'c1', data: patternBytes(100) },
          { op: 'send', sock: 'c1', data: patternBytes(4096) },
          { op: 'sendfile', sock: 'c1', len: 5000 },
          { op: 'send', sock: 'c1', data: patternBytes(20000) },
        ],
        { maps: [{ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16 }] },
      ),
    );
    expectSetupOk(r);
    expect(r.steps.slice(5).map((s) => s.ret)).toEqual([40000, 1, 100, 4096, 5000, 20000]);
    const seen = new Map(r.maps[1]!.entries!.map((e) => [Buffer.from(e.key).readUInt32LE(0), Number(Buffer.from(e.value).readBigInt64LE(0))]));
    expect(Object.fromEntries(seen)).toEqual({ 40000: 32768, 1: 1, 100: 100, 4096: 4096, 5000: 5000, 20000: 32768 - 16429 });
    expect(r.sockets.p1!.data.length).toBe(40000 + 1 + 100 + 4096 + 5000 + 20000);
  });

  // spec §4.6: redirect to oneself with INGRESS loops data back to the sender's own receive side
  it('msg_redirect_map INGRESS to the sender itself: the sender reads its own bytes', () => {
    const prog = msgRedirect(0, 0, 1);
    const r = runScenario(
      msgScenario(prog, [
        { op: 'send', sock: 'c1', data: bytes(5, 6, 7), label: 's' },
        { op: 'recv', sock: 'c1', maxLen: 100, timeoutMs: 300, label: 'r' },
      ]),
    );
    expectSetupOk(r);
    expect(r.byLabel.s!.ret).toBe(3);
    expect(r.byLabel.r!.data).toEqual(bytes(5, 6, 7));
    expect(r.sockets.p1!.data.length).toBe(0);
  });

  // spec §3.9 / §4.7: sticky DROP survives delete + re-insert while the socket stays in another map
  it('sticky SK_DROP survives delete + re-insert while the socket is still in another map', () => {
    const r = runScenario(
      msgScenario(
        DROP,
        [
          { op: 'sockUpdate', map: 1, key: 0, sock: 'c1', label: 'other' },
          { op: 'send', sock: 'c1', data: bytes(1), label: 's1' },
          { op: 'mapDelete', map: 0, key: 0, label: 'del' },
          { op: 'send', sock: 'c1', data: bytes(2), label: 's2' },
          { op: 'sockUpdate', map: 0, key: 0, sock: 'c1', label: 'again' },
          { op: 'send', sock: 'c1', data: bytes(3), label: 's3' },
        ],
        { maps: [sockmap()] },
      ),
    );
    expectSetupOk(r);
    expect(r.byLabel.other!.ret).toBe(0);
    expect(r.byLabel.s1!.ret).toBe(-E.EACCES);
    expect(r.byLabel.del!.ret).toBe(0);
    // The msg_parser is never cleared by a delete (§3.10), so the socket is still dropped...
    expect(r.byLabel.s2!.ret).toBe(-E.EACCES);
    // ...and re-inserting into the map with the program conflicts with the kept msg_parser (§3.7).
    expect(r.byLabel.again!.ret).toBe(-E.EBUSY);
    expect(r.byLabel.s3!.ret).toBe(-E.EACCES);
    if (r.statsEnabled) expect(r.progs[0]!.runCnt).toBe(1);
    expect(r.sockets.p1!.data.length).toBe(0);
  });

  // spec §3.2 / §5.5 for UDP and AF_UNIX
  it('UDP and AF_UNIX: verdict PASS merges datagrams on recv; parser maps and seqpacket refuse them', () => {
    const r = runScenario({
      maps: [sockmap(), sockmap()],
      progs: [
        { progType: ProgType.SK_SKB, expectedAttachType: AttachType.SK_SKB_VERDICT, insns: assemble(PASS) },
        { progType: ProgType.SK_SKB, expectedAttachType: AttachType.SK_SKB_STREAM_PARSER, insns: assemble('r0 = *(u32 *)(r1 + 0)\nexit') },
        { progType: ProgType.SK_SKB, expectedAttachType: AttachType.SK_SKB_STREAM_VERDICT, insns: assemble(PASS) },
      ],
      steps: [
        { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_SKB_VERDICT },
        { op: 'attach', prog: 1, map: 1, attachType: AttachType.SK_SKB_STREAM_PARSER },
        { op: 'attach', prog: 2, map: 1, attachType: AttachType.SK_SKB_STREAM_VERDICT },
        { op: 'udp', name: 'a' },
        { op: 'udp', name: 'b' },
        { op: 'udpConnect', sock: 'b', to: 'a' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'a', label: 'udpIn' },
        { op: 'sockUpdate', map: 1, key: 0, sock: 'b', label: 'udpParser' },
        { op: 'send', sock: 'b', data: patternBytes(5) },
        { op: 'send', sock: 'b', data: patternBytes(7) },
        { op: 'sleep', ms: 20 },
        { op: 'fionread', sock: 'a', label: 'fion' },
        { op: 'recv', sock: 'a', maxLen: 100, timeoutMs: 300, label: 'r' },
        { op: 'unixPair', names: ['u1', 'u2'] },
        { op: 'unixPair', names: ['d1', 'd2'], type: 'dgram' },
        { op: 'unixPair', names: ['q1', 'q2'], type: 'seqpacket' },
        { op: 'sockUpdate', map: 1, key: 1, sock: 'u1', label: 'unixParser' },
        { op: 'sockUpdate', map: 0, key: 1, sock: 'u1', label: 'unixStream' },
        { op: 'sockUpdate', map: 0, key: 2, sock: 'd1', label: 'unixDgram' },
        { op: 'sockUpdate', map: 0, key: 3, sock: 'q1', label: 'unixSeqpacket' },
      ],
    });
    expect(r.ok).toBe(true);
    const ret = (l: string) => r.byLabel[l]!.ret;
    expect(ret('udpIn')).toBe(0);
    expect(ret('udpParser')).toBe(-E.EOPNOTSUPP);
    expect(ret('fion')).toBe(5); // UDP FIONREAD: first queued message only
    expect(hexOf(r.byLabel.r!.data)).toBe(hexOf(patternBytes(5)) + hexOf(patternBytes(7)));
    expect(ret('unixParser')).toBe(-E.EOPNOTSUPP);
    expect(ret('unixStream')).toBe(0);
    expect(ret('unixDgram')).toBe(0);
    expect(ret('unixSeqpacket')).toBe(-E.EOPNOTSUPP);
  });

  // (9) spec §3.3–3.7 map update/delete errors
  it('(9) SOCKMAP errors: delete empty → -EINVAL, key ≥ max → -E2BIG, same socket twice with progs → -EBUSY, flags', () => {
    const r = runScenario({
      maps: [sockmap(4), sockmap(4), sockhash(4), { type: MapType.SOCKMAP, keySize: 4, valueSize: 4, maxEntries: 4 }],
      progs: [skMsg(PASS)],
      steps: [
        { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_MSG_VERDICT },
        ...tcpPair('l1', 'c1', 'p1'),
        { op: 'tcp', name: 'unbound' },
        { op: 'mapDelete', map: 0, key: 2, label: 'delEmpty' },
        { op: 'mapDelete', map: 0, key: 9, label: 'delRange' },
        { op: 'sockUpdate', map: 0, key: 4, sock: 'c1', label: 'e2big' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'c1', flags: 3, label: 'badFlags' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'c1', flags: UpdateFlags.EXIST, label: 'existEmpty' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'unbound', label: 'unbound' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'l1', label: 'listener' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'c1', label: 'ok' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'p1', flags: UpdateFlags.NOEXIST, label: 'noexist' },
        { op: 'sockUpdate', map: 0, key: 1, sock: 'c1', label: 'twice' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'c1', label: 'sameSlot' },
        // map 1 has no programs: same socket twice, and the same slot again, are fine.
        { op: 'sockUpdate', map: 1, key: 0, sock: 'c1', label: 'np1' },
        { op: 'sockUpdate', map: 1, key: 1, sock: 'c1', label: 'np2' },
        { op: 'sockUpdate', map: 1, key: 1, sock: 'c1', label: 'np3' },
        { op: 'mapUpdate', map: 1, key: 2, value: 0xffffffff, label: 'fdHuge' },
        { op: 'mapUpdate', map: 1, key: 2, value: 1000, label: 'fdClosed' },
        // SOCKHASH: delete of a missing key → -ENOENT
        { op: 'mapDelete', map: 2, key: 5, label: 'hashDel' },
        // lookups: valueSize 8 → cookie; valueSize 4 → -ENOSPC; empty → -ENOENT
        { op: 'cookie', sock: 'c1', label: 'cookie' },
        { op: 'mapLookup', map: 1, key: 0, label: 'lookup' },
        { op: 'mapLookup', map: 1, key: 3, label: 'lookupEmpty' },
        { op: 'sockUpdate', map: 3, key: 0, sock: 'p1', label: 'v4' },
        { op: 'mapLookup', map: 3, key: 0, label: 'lookupV4' },
        // get_next_key on SOCKMAP: walks every index
        { op: 'mapNextKey', map: 1, key: null, label: 'next0' },
        { op: 'mapNextKey', map: 1, key: 3, label: 'nextEnd' },
      ],
    });
    expectSetupOk(r);
    const ret = (l: string) => r.byLabel[l]!.ret;
    expect(ret('delEmpty')).toBe(-E.EINVAL);
    expect(ret('delRange')).toBe(-E.EINVAL);
    expect(ret('e2big')).toBe(-E.E2BIG);
    expect(ret('badFlags')).toBe(-E.EINVAL);
    expect(ret('existEmpty')).toBe(-E.ENOENT);
    expect(ret('unbound')).toBe(-E.EOPNOTSUPP);
    expect(ret('listener')).toBe(0); // LISTEN is an allowed state (replaced by c1 next)
    expect(ret('ok')).toBe(0);
    expect(ret('noexist')).toBe(-E.EEXIST);
    expect(ret('twice')).toBe(-E.EBUSY);
    expect(ret('sameSlot')).toBe(-E.EBUSY);
    expect(ret('np1')).toBe(0);
    expect(ret('np2')).toBe(0);
    expect(ret('np3')).toBe(0);
    expect(ret('fdHuge')).toBe(-E.EINVAL);
    expect(ret('fdClosed')).toBe(-E.EBADF);
    expect(ret('hashDel')).toBe(-E.ENOENT);
    expect(ret('lookup')).toBe(0);
    expect(hexOf(r.byLabel.lookup!.data)).toBe(hexOf(r.byLabel.cookie!.data));
    expect(ret('lookupEmpty')).toBe(-E.ENOENT);
    expect(ret('v4')).toBe(0);
    expect(ret('lookupV4')).toBe(-E.ENOSPC);
    expect(ret('next0')).toBe(0);
    expect(r.byLabel.next0!.data).toEqual(bytes(0, 0, 0, 0));
    expect(ret('nextEnd')).toBe(-E.ENOENT);
    expect(r.maps[0]!.socks).toEqual([{ key: bytes(0, 0, 0, 0), sock: 'c1' }]);
    expect(r.maps[1]!.socks).toEqual([
      { key: bytes(0, 0, 0, 0), sock: 'c1' },
      { key: bytes(1, 0, 0, 0), sock: 'c1' },
    ]);
    expect(r.maps[3]!.lookupErrno).toBe(E.ENOSPC);
  });

  // spec §3.7: programs are copied at insert time
  it('programs attached after the insert do not apply; detaching does not remove them from members', () => {
    const r = runScenario({
      maps: [sockmap(), sockmap()],
      progs: [skMsg(DROP), skMsg(DROP)],
      steps: [
        ...tcpPair('l1', 'c1', 'p1'),
        ...tcpPair('l2', 'c2', 'p2'),
        // c1 inserted before attach: unaffected.
        { op: 'sockUpdate', map: 0, key: 0, sock: 'c1' },
        { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_MSG_VERDICT },
        { op: 'send', sock: 'c1', data: bytes(1, 2), label: 'late' },
        // c2 inserted after attach, then the program detached: still dropped.
        { op: 'attach', prog: 1, map: 1, attachType: AttachType.SK_MSG_VERDICT },
        { op: 'sockUpdate', map: 1, key: 0, sock: 'c2' },
        { op: 'detach', prog: 1, map: 1, attachType: AttachType.SK_MSG_VERDICT, label: 'detach' },
        { op: 'detach', prog: 1, map: 1, attachType: AttachType.SK_MSG_VERDICT, label: 'detach2' },
        { op: 'send', sock: 'c2', data: bytes(3, 4), label: 'detached' },
      ],
    });
    expectSetupOk(r);
    expect(r.byLabel.late!.ret).toBe(2);
    expect(r.sockets.p1!.data).toEqual(bytes(1, 2));
    expect(r.byLabel.detach!.ret).toBe(0);
    expect(r.byLabel.detach2!.ret).toBe(-E.ENOENT);
    expect(r.byLabel.detached!.ret).toBe(-E.EACCES);
    expect(r.sockets.p2!.data.length).toBe(0);
  });

  // spec §6 (not exercised experimentally by the spec author): sock_ops inserts on ESTABLISHED callbacks
  it('sock_ops on a cgroup: ACTIVE/PASSIVE_ESTABLISHED insert both ends with bpf_sock_map_update', (ctx) => {
    const prog = `
      r6 = r1
      r2 = *(u32 *)(r6 + 0)
      if r2 == 4 goto active
      if r2 == 5 goto passive
      goto out
    active:
      r3 = 1
      goto upd
    passive:
      r3 = 0
    upd:
      *(u32 *)(r10 - 4) = r3
      r1 = r6
      r2 = map[idx:0]
      r3 = r10
      r3 += -4
      r4 = 1
      call bpf_sock_map_update#53
    out:
      r0 = 1
      exit`;
    const r = runScenario({
      maps: [sockmap(), { type: MapType.SOCKMAP, keySize: 4, valueSize: 8, maxEntries: 2 }],
      progs: [{ progType: ProgType.SOCK_OPS, expectedAttachType: AttachType.CGROUP_SOCK_OPS, insns: assemble(prog) }, skMsg(DROP)],
      steps: [
        { op: 'attach', prog: 1, map: 0, attachType: AttachType.SK_MSG_VERDICT },
        { op: 'cgroupAttach', prog: 0, label: 'cg' },
        ...tcpPair('l1', 'c1', 'p1'),
        { op: 'send', sock: 'c1', data: bytes(1), label: 's' },
        { op: 'send', sock: 'p1', data: bytes(2), label: 'sp' },
      ],
    });
    if (!r.cgroup?.ok) {
      ctx.skip(`no usable cgroup v2: ${r.cgroup?.reason}`);
      return;
    }
    expect(r.byLabel.cg!.ret).toBe(0);
    expect(r.maps[0]!.socks).toEqual([
      { key: bytes(0, 0, 0, 0), sock: 'p1' },
      { key: bytes(1, 0, 0, 0), sock: 'c1' },
    ]);
    // Both ends got the SK_MSG DROP program through the insert.
    expect(r.byLabel.s!.ret).toBe(-E.EACCES);
    expect(r.byLabel.sp!.ret).toBe(-E.EACCES);
  });

  it('SO_RCVBUF step and flags plumbing work (sanity of the harness itself)', () => {
    const r = runScenario({
      steps: [
        ...tcpPair('l1', 'c1', 'p1'),
        { op: 'setsockopt', sock: 'p1', opt: SockOpt.SO_RCVBUF, value: 4096, label: 'set' },
        { op: 'getsockopt', sock: 'p1', opt: SockOpt.SO_RCVBUF, label: 'get' },
        { op: 'send', sock: 'c1', data: bytes(9, 8, 7), flags: MsgFlags.DONTWAIT, label: 's' },
        { op: 'recv', sock: 'p1', maxLen: 2, timeoutMs: 500, label: 'r' },
        { op: 'shutdown', sock: 'c1', how: 'wr' },
      ],
    });
    expect(r.ok).toBe(true);
    expect(r.byLabel.set!.ret).toBe(0);
    expect(r.byLabel.get!.ret).toBe(8192); // the kernel doubles SO_RCVBUF
    expect(r.byLabel.s!.ret).toBe(3);
    expect(r.byLabel.r!.data).toEqual(bytes(9, 8));
    expect(r.sockets.p1!.data).toEqual(bytes(7));
    expect(r.sockets.p1!.eof).toBe(true);
  });
});
