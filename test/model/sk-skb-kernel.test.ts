/**
 * SK_SKB differential tests: the same sk_skb scenarios (strparser and verdict mode, PASS / DROP / redirect
 * ingress and egress through SOCKMAP and SOCKHASH, framing, helpers, FIN, unusable targets) run on real
 * loopback sockets in the host kernel (test/kernel/sockrun.ts) and in the model (src/kernel/sk_skb_rx.ts);
 * send/recv results, bytes at every socket, SO_ERROR, run counts and map contents must agree
 * (test/model/differential.ts). Skipped with the reason when the kernel oracle is unavailable.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import { AttachType, MapType, SockOpt, patternBytes, sockAvailability, tcpPair, type Scenario, type ScenarioStep } from '../kernel/sockrun.js';
import { DROP, PASS, PARSE_LEN, bytes, redirectVerdict, skSkb, skbScenario, sockhash, sockmap } from '../kernel/sockrun-scenarios.js';
import { differential, differentialStats } from './differential.js';
import { recordValue } from './asm-snippets.js';

const avail = sockAvailability();
const suite = avail.ok ? describe : describe.skip;
if (!avail.ok) console.warn(`sk_skb differential tests skipped: ${avail.reason}`);

const send = (sock: string, data: Uint8Array, label?: string): ScenarioStep => ({ op: 'send', sock, data, ...(label ? { label } : {}) });
const recv = (sock: string, maxLen = 1000, extra: Partial<{ peek: boolean; timeoutMs: number }> = {}): ScenarioStep => ({ op: 'recv', sock, maxLen, timeoutMs: extra.timeoutMs ?? 200, ...(extra.peek ? { peek: true } : {}) });
const runs: ScenarioStep[] = [{ op: 'sleep', ms: 20 }, { op: 'runCount', prog: 0 }, { op: 'runCount', prog: 1 }];
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** An ARRAY map (index 1) of `n` u64 slots the programs record into. */
const recMap = (n = 4) => ({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: n });
/** Stores r0 (as u64) into slot `idx` of map 1; clobbers r1-r5 and the stack below r10-16. */
const storeR0 = (idx: number): string => recordValue(1, idx, 'r0');

const lin = (i: number): string => `r1 = *(u32 *)(r6 + 76)\nr0 = *(u32 *)(r6 + 80)\nr0 -= r1\n${storeR0(i)}`;
const len = (i: number): string => `r0 = *(u32 *)(r6 + 0)\n${storeR0(i)}`;
const call = (c: string, i: number): string => `r1 = r6\n${c}\n${storeR0(i)}`;
/** Verdict bodies calling SK_SKB helpers; each records return values, data_end - data and len in map 1. */
const HELPER_PROGS: Record<string, string> = {
  'pull_data(5), pull_data(1000), store_bytes(1, "AB")': [call('r2 = 5\ncall bpf_skb_pull_data#39', 0), lin(1), len(2), call('r2 = 1000\ncall bpf_skb_pull_data#39', 3), call('*(u16 *)(r10 - 16) = 0x4241\nr2 = 1\nr3 = r10\nr3 += -16\nr4 = 2\nr5 = 0\ncall bpf_skb_store_bytes#9', 4), lin(5)].join('\n'),
  'change_tail(3) (trim)': [call('r2 = 3\nr3 = 0\ncall bpf_skb_change_tail#38', 0), lin(1), len(2)].join('\n'),
  'change_tail(14), (16384) → -EINVAL, (16000), (14)': [call('r2 = 14\nr3 = 0\ncall bpf_skb_change_tail#38', 0), lin(1), len(2), call('r2 = 16384\nr3 = 0\ncall bpf_skb_change_tail#38', 3), call('r2 = 16000\nr3 = 0\ncall bpf_skb_change_tail#38', 4), len(5), call('r2 = 14\nr3 = 0\ncall bpf_skb_change_tail#38', 6)].join('\n'),
  'adjust_room(+4), (4096) → -EFAULT, bad mode / flags → -EINVAL': [call('r2 = 4\nr3 = 0\nr4 = 0\ncall bpf_skb_adjust_room#50', 0), lin(1), len(2), call('r2 = 4096\nr3 = 0\nr4 = 0\ncall bpf_skb_adjust_room#50', 3), call('r2 = 1\nr3 = 1\nr4 = 0\ncall bpf_skb_adjust_room#50', 4), call('r2 = 1\nr3 = 0\nr4 = 1\ncall bpf_skb_adjust_room#50', 5)].join('\n'),
  'adjust_room(-2), (-100) → -ENOMEM': [call('r2 = -2\nr3 = 0\nr4 = 0\ncall bpf_skb_adjust_room#50', 0), lin(1), len(2), call('r2 = -100\nr3 = 0\nr4 = 0\ncall bpf_skb_adjust_room#50', 3), len(4)].join('\n'),
  'change_head(3), flags 1 → -EINVAL': [call('r2 = 3\nr3 = 0\ncall bpf_skb_change_head#43', 0), lin(1), len(2), call('r2 = 3\nr3 = 1\ncall bpf_skb_change_head#43', 3)].join('\n'),
  'load_bytes(2, 4), (8, 4) → -EFAULT, get_socket_uid': [call('r2 = 2\nr3 = r10\nr3 += -24\nr4 = 4\ncall bpf_skb_load_bytes#26', 0), `r0 = *(u32 *)(r10 - 24)\n${storeR0(1)}`, call('r2 = 8\nr3 = r10\nr3 += -24\nr4 = 4\ncall bpf_skb_load_bytes#26', 2), `r0 = *(u32 *)(r10 - 24)\n${storeR0(3)}`, lin(4), call('call bpf_get_socket_uid#47', 5)].join('\n'),
};

/** __sk_buff readable fields (u32 offsets) a verdict copies into map 1 (one 192-byte value). */
const CTX_FIELDS = [0, 4, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 84, 88, 92, 96, 100, 104, 108, 112, 116, 120, 124, 128, 132, 136, 164, 176];
const CTX_DUMP = `
  r6 = r1
  *(u32 *)(r10 - 4) = 0
  r1 = map[idx:1]
  r2 = r10
  r2 += -4
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
${CTX_FIELDS.map((f) => `  r1 = *(u32 *)(r6 + ${f})\n  *(u32 *)(r0 + ${f}) = r1`).join('\n')}
  r1 = *(u32 *)(r6 + 76)
  r2 = *(u32 *)(r6 + 80)
  r2 -= r1
  *(u32 *)(r0 + 76) = r2
  r1 = *(u64 *)(r6 + 168)
  if r1 == 0 goto nosk
  r1 = 1
  *(u32 *)(r0 + 168) = r1
nosk:
  r1 = *(u32 *)(r0 + 180)
  r1 += 1
  *(u32 *)(r0 + 180) = r1
out:
  r0 = 1
  exit`;

suite('sk_skb model vs host kernel (differential)', () => {
  afterAll(() => console.log(`sk_skb differential: ${differentialStats.agreed}/${differentialStats.scenarios} scenarios agree with the kernel`));

  it('strparser (parser = skb->len) + verdict PASS: send, FIONREAD, peek, merged recv, FIN → EOF', () => {
    differential(
      skbScenario({ parser: PARSE_LEN, verdict: PASS }, [
        send('c1', text('hello ')),
        send('c1', text('sk_skb')),
        { op: 'fionread', sock: 'p1' },
        recv('p1', 3, { peek: true }),
        recv('p1', 8),
        send('c1', patternBytes(3000)),
        recv('p1', 5000),
        ...runs,
        { op: 'shutdown', sock: 'c1', how: 'wr' },
        recv('p1'),
      ]),
    );
  });

  it('strparser + verdict DROP: nothing readable, send still succeeds', () => {
    differential(skbScenario({ parser: PARSE_LEN, verdict: DROP }, [send('c1', patternBytes(100)), recv('p1', 1000, { timeoutMs: 50 }), { op: 'fionread', sock: 'p1' }, ...runs]));
  });

  for (const hash of [false, true]) {
    for (const ingress of [false, true]) {
      const kind = `${hash ? 'SOCKHASH' : 'SOCKMAP'} ${ingress ? 'ingress' : 'egress'}`;
      it(`strparser + redirect ${kind}: bytes at ${ingress ? 'the target itself' : "the target's peer"}`, () => {
        differential(
          skbScenario({ parser: PARSE_LEN, verdict: redirectVerdict(0, 1, ingress ? 1 : 0, hash), hash, target: ingress ? 'p2' : 'c2' }, [
            send('c1', patternBytes(200)),
            send('c1', patternBytes(50)),
            { op: 'sleep', ms: 20 }, // the backlog worker runs asynchronously in the kernel
            { op: 'fionread', sock: ingress ? 'p2' : 'p1' },
            recv(ingress ? 'p2' : 'p2', 120),
            ...runs,
          ]),
        );
      });
      it(`verdict mode (skb_verdict) + redirect ${kind}`, () => {
        differential(
          skbScenario({ verdict: redirectVerdict(0, 1, ingress ? 1 : 0, hash), skbVerdict: true, hash, target: ingress ? 'p2' : 'c2' }, [
            send('c1', patternBytes(64)),
            send('c1', patternBytes(7)),
            { op: 'sleep', ms: 20 },
            { op: 'fionread', sock: 'p2' },
            recv('p2', 30),
            ...runs,
          ]),
        );
      });
    }
  }

  it('verdict mode: skb_verdict PASS per skb, stream_verdict without parser DROP', () => {
    differential(skbScenario({ verdict: PASS, skbVerdict: true }, [send('c1', patternBytes(10)), send('c1', patternBytes(20)), { op: 'fionread', sock: 'p1' }, recv('p1', 25), ...runs, { op: 'close', sock: 'c1' }, recv('p1')]));
    differential(skbScenario({ verdict: DROP }, [send('c1', patternBytes(10)), recv('p1', 100, { timeoutMs: 50 }), ...runs, { op: 'shutdown', sock: 'c1', how: 'wr' }, recv('p1'), ...runs]));
  });

  for (const mode of ['strparser', 'verdict'] as const) {
    it(`${mode} mode: __sk_buff fields the verdict sees (len, data_end - data = 0, protocol, ifindex, family, addresses, ports, gso, sk, cb flags)`, () => {
      const s = skbScenario({ parser: mode === 'strparser' ? PARSE_LEN : undefined, verdict: CTX_DUMP, skbVerdict: mode === 'verdict', maps: [{ type: MapType.ARRAY, keySize: 4, valueSize: 192, maxEntries: 1 }] }, [
        send('c1', patternBytes(100)),
        send('c1', patternBytes(33)),
        { op: 'sleep', ms: 20 },
      ]);
      const portsOk: boolean[] = [];
      // Ports and the random TCP sequence numbers (cb[0], cb[1]) and flow hash differ run to run: checked by relation, then blanked.
      const { kernel, model } = differential(s, {
        maskEntry: (m, _k, v, r) => {
          if (m !== 1) return v;
          const dv = Buffer.from(v);
          const listenPort = r.steps[s.steps.findIndex((x) => x.op === 'listen')]!.port!;
          const clientPort = r.steps[s.steps.findIndex((x) => x.op === 'connect')]!.port!;
          portsOk.push(dv.readUInt32LE(136) === listenPort && dv.readUInt32LE(132) === (((clientPort & 0xff) << 8) | (clientPort >> 8)) * 65536);
          const out = Buffer.from(v);
          for (const o of [48, 52, 68, 132, 136]) out.writeUInt32LE(0, o);
          return new Uint8Array(out);
        },
      });
      expect(portsOk).toEqual([true, true]);
      expect(Buffer.from(kernel.maps[1]!.entries![0]!.value).readUInt32LE(0)).toBe(33);
      void model;
    });
  }

  for (const [name, body] of Object.entries(HELPER_PROGS)) {
    for (const mode of ['verdict', 'strparser'] as const) {
      it(`helpers (${mode} mode): ${name}; delivered bytes follow`, () => {
        differential(
          skbScenario({ parser: mode === 'strparser' ? PARSE_LEN : undefined, verdict: `r6 = r1\n${body}\nr0 = 1\nexit`, skbVerdict: mode === 'verdict', maps: [recMap(8)] }, [
            send('c1', text('abcdefghij')),
            { op: 'sleep', ms: 20 },
            { op: 'fionread', sock: 'p1' },
            recv('p1', 100000, { timeoutMs: 100 }),
            { op: 'getsockopt', sock: 'p1', opt: SockOpt.SO_ERROR },
            ...runs,
          ]),
        );
      });
    }
  }

  // Framing (§5.2). The parser reads a 1-byte length header with skb_load_bytes at offset 0 of the skb, i.e.
  // of the first underlying SEGMENT (not of the message), returning 1 + header, or 0 (need more) if the skb is
  // empty; the verdict records skb->len. Frames split across sends and several frames in one send.
  const HDR_PARSER = `
    r6 = r1
    r1 = r6
    r2 = 0
    r3 = r10
    r3 += -8
    r4 = 1
    call bpf_skb_load_bytes#26
    if r0 != 0 goto more
    r0 = *(u8 *)(r10 - 8)
    r0 += 1
    r7 = r0
    ${storeR0(0)}
    r0 = r7
    exit
  more:
    r0 = 0
    exit`;
  const LEN_VERDICT = `r6 = r1\n${len(1)}\nr0 = 1\nexit`;
  const fixedParser = (n: number): string => `r6 = r1\n${len(0)}\nr0 = ${n}\nexit`;

  it('framing by a fixed length 10: 25 bytes → two messages, the third completes with 5 more bytes (no parser run)', () => {
    differential(
      skbScenario({ parser: fixedParser(10), verdict: LEN_VERDICT, maps: [recMap(2)] }, [send('c1', patternBytes(25)), ...runs, recv('p1'), send('c1', patternBytes(5)), ...runs, recv('p1'), send('c1', patternBytes(3)), send('c1', patternBytes(17)), ...runs, recv('p1')]),
    );
  });

  it('framing by a header: a frame split over three sends, three frames in one send, a frame + the start of the next', () => {
    const frame = (n: number, fill: number): number[] => [n, ...new Array<number>(n).fill(fill)];
    differential(
      skbScenario({ parser: HDR_PARSER, verdict: LEN_VERDICT, maps: [recMap(2)] }, [
        send('c1', bytes(...frame(9, 1).slice(0, 3))),
        send('c1', bytes(...frame(9, 1).slice(3, 6))),
        ...runs,
        send('c1', bytes(...frame(9, 1).slice(6))),
        ...runs,
        recv('p1'),
        send('c1', bytes(...frame(2, 2), ...frame(2, 3), ...frame(2, 4))),
        ...runs,
        recv('p1'),
        send('c1', bytes(...frame(4, 5), ...frame(6, 6).slice(0, 3))),
        ...runs,
        send('c1', bytes(...frame(6, 6).slice(3))),
        ...runs,
        recv('p1'),
      ]),
    );
  });

  it('framing: a frame spanning segments whose header sits mid-segment is framed by the wrong header byte (the parser sees the segment start)', () => {
    differential(
      skbScenario({ parser: HDR_PARSER, verdict: LEN_VERDICT, maps: [recMap(2)] }, [send('c1', bytes(2, 9, 9, 5, 7, 7)), ...runs, send('c1', bytes(7, 7, 7, 7, 7)), ...runs, recv('p1'), send('c1', patternBytes(9)), ...runs, recv('p1')]),
    );
  });

  // Segmentation on loopback (socket.ts LOOPBACK_SEGMENT): one send = one skb up to 32741 bytes (half the
  // initial window), larger sends cut every 32741 bytes; MSG_MORE data fills the tail skb; one sendmsg with
  // several iovecs is one skb. The verdict records skb->len per run (slots 0..14, run counter in slot 15).
  const SEG_VERDICT = `
    r6 = r1
    *(u32 *)(r10 - 4) = 15
    r1 = map[idx:1]
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem#1
    if r0 == 0 goto out
    r7 = *(u64 *)(r0 + 0)
    r1 = r7
    r1 += 1
    *(u64 *)(r0 + 0) = r1
    if r7 > 14 goto out
    r0 = *(u32 *)(r6 + 0)
    ${recordValue(1, 'r7', 'r0')}
  out:
    r0 = 1
    exit`;
  it('segmentation: sends of 1, 5000, 40000 and 65483 bytes, MSG_MORE + send, one sendmsg of 3 iovecs', () => {
    for (const n of [1, 40000, 65483]) {
      differential(skbScenario({ verdict: SEG_VERDICT, skbVerdict: true, maps: [recMap(16)], drainMs: 300 }, [send('c1', patternBytes(n)), { op: 'sleep', ms: 50 }, { op: 'sendmsg', sock: 'c1', iovLen: 100, iovCount: 3 }, { op: 'sleep', ms: 20 }]));
    }
    differential(
      skbScenario({ verdict: SEG_VERDICT, skbVerdict: true, maps: [recMap(16)] }, [
        send('c1', patternBytes(5000)),
        { op: 'send', sock: 'c1', data: patternBytes(10), flags: 0x8000 | 0x4000 },
        send('c1', patternBytes(20)),
        { op: 'sleep', ms: 20 },
        recv('p1', 100000),
      ]),
    );
  });

  // sk_psock_skb_ingress into another socket: refused (-EAGAIN, the skb waits in the backlog and is retried) while
  // the target's receive memory is above SO_RCVBUF; each skb charges its truesize (socket.ts tcpSkbTruesize:
  // 832 + bytes) until read. SO_RCVBUF 1152 (2304): two 1000-byte skbs (1832) or three 100-byte ones (932) at a
  // time; 1832 / 1831 and 1398 / 1397 sit at the thresholds; SO_RCVBUF 4096 takes one 10000-byte skb at a time.
  it('redirect INGRESS into a TCP socket with a full receive buffer: the backlog waits and retries as the reader makes room', () => {
    const cases: [number, number][] = [[1000, 1152], [1000, 1831], [1000, 1832], [100, 1397], [100, 1398], [10000, 4096]];
    const pause: ScenarioStep = { op: 'sleep', ms: 50 };
    for (const [n, rcvbuf] of cases) {
      differential(
        skbScenario({ verdict: redirectVerdict(0, 1, 1), skbVerdict: true, target: 'p2' }, [
          { op: 'setsockopt', sock: 'p2', opt: SockOpt.SO_RCVBUF, value: rcvbuf },
          ...Array.from({ length: 8 }, () => send('c1', patternBytes(n))),
          pause,
          recv('p2', 100000, { timeoutMs: 50 }),
          pause,
          recv('p2', 100000, { timeoutMs: 50 }),
          pause,
          recv('p2', 100000, { timeoutMs: 50 }),
          ...runs,
        ]),
      );
    }
  });

  it('redirect INGRESS to the receiving socket itself = PASS; a verdict returning 7 = DROP; a parser alone starts nothing', () => {
    differential(skbScenario({ verdict: redirectVerdict(0, 0, 1), skbVerdict: true }, [send('c1', patternBytes(10)), { op: 'sleep', ms: 20 }, { op: 'fionread', sock: 'p1' }, recv('p1'), ...runs]));
    differential(skbScenario({ parser: PARSE_LEN, verdict: redirectVerdict(0, 0, 1) }, [send('c1', patternBytes(10)), { op: 'sleep', ms: 20 }, recv('p1'), ...runs]));
    differential(skbScenario({ verdict: 'r0 = 7\nexit', skbVerdict: true }, [send('c1', patternBytes(10)), recv('p1', 100, { timeoutMs: 50 }), ...runs]));
    // KERNEL vs SPEC: §5.5 says FIONREAD adds the native queue when no verdict is attached; on 6.18 a psock
    // socket (here parser-only, bytes in the native queue) reports only its ingress queue: 0.
    const parserOnly: Scenario = {
      maps: [sockmap()],
      progs: [skSkb(PARSE_LEN, AttachType.SK_SKB_STREAM_PARSER)],
      steps: [
        { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_SKB_STREAM_PARSER },
        ...tcpPair('l1', 'c1', 'p1'),
        { op: 'sockUpdate', map: 0, key: 0, sock: 'p1' },
        send('c1', patternBytes(10)),
        { op: 'fionread', sock: 'p1' },
        recv('p1'),
        { op: 'runCount', prog: 0 },
      ],
    };
    differential(parserOnly);
  });

  it('SO_RCVBUF bounds a strparser message: a parser length above it is EMSGSIZE', () => {
    differential(
      skbScenario({ parser: fixedParser(3000), verdict: PASS, maps: [recMap(2)] }, [
        { op: 'setsockopt', sock: 'p1', opt: SockOpt.SO_RCVBUF, value: 1000 },
        { op: 'getsockopt', sock: 'p1', opt: SockOpt.SO_RCVBUF },
        send('c1', patternBytes(10)),
        { op: 'sleep', ms: 20 },
        { op: 'getsockopt', sock: 'p1', opt: SockOpt.SO_ERROR },
      ]),
    );
  });

  it('parser errors: -22 (SO_ERROR 22, data stays unread: recv -EAGAIN), EPROTO (length not past the earlier bytes), EMSGSIZE (> SO_RCVBUF)', () => {
    differential(skbScenario({ parser: fixedParser(-22), verdict: PASS, maps: [recMap(2)] }, [send('c1', patternBytes(25)), recv('p1', 100, { timeoutMs: 50 }), { op: 'fionread', sock: 'p1' }, send('c1', patternBytes(5)), recv('p1', 100, { timeoutMs: 50 }), ...runs, { op: 'getsockopt', sock: 'p1', opt: SockOpt.SO_ERROR }, recv('p1', 100, { timeoutMs: 50 })]));
    // Parser: 0 for the first 4 bytes, then 3 (not past the 4 accumulated bytes) → EPROTO (71).
    const eproto = `r6 = r1\n${len(0)}\nr0 = *(u32 *)(r6 + 0)\nif r0 < 5 goto zero\nr0 = 3\nexit\nzero:\nr0 = 0\nexit`;
    differential(skbScenario({ parser: eproto, verdict: PASS, maps: [recMap(2)] }, [send('c1', patternBytes(4)), send('c1', patternBytes(4)), ...runs, { op: 'getsockopt', sock: 'p1', opt: SockOpt.SO_ERROR }, recv('p1', 100, { timeoutMs: 50 })]));
    differential(skbScenario({ parser: fixedParser(1 << 24), verdict: PASS, maps: [recMap(2)] }, [send('c1', patternBytes(4)), ...runs, { op: 'getsockopt', sock: 'p1', opt: SockOpt.SO_ERROR }]));
  });

  it('data queued before the insert is not framed at insert; the first recv pushes it through (strparser: that recv still says -EAGAIN)', () => {
    for (const skbVerdict of [false, true]) {
      const s: Scenario = {
        maps: [sockmap()],
        progs: [skSkb(PARSE_LEN, AttachType.SK_SKB_STREAM_PARSER), skSkb(`r2 = 1\nr3 = 0\ncall bpf_skb_change_head#43\nr0 = 1\nexit`, skbVerdict ? AttachType.SK_SKB_VERDICT : AttachType.SK_SKB_STREAM_VERDICT)],
        steps: [
          ...(skbVerdict ? [] : [{ op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_SKB_STREAM_PARSER } as ScenarioStep]),
          { op: 'attach', prog: 1, map: 0, attachType: skbVerdict ? AttachType.SK_SKB_VERDICT : AttachType.SK_SKB_STREAM_VERDICT },
          ...tcpPair('l1', 'c1', 'p1'),
          send('c1', patternBytes(6)),
          { op: 'sleep', ms: 20 },
          { op: 'sockUpdate', map: 0, key: 0, sock: 'p1' },
          { op: 'sleep', ms: 20 },
          { op: 'runCount', prog: 1 },
          { op: 'fionread', sock: 'p1' },
          recv('p1'),
          { op: 'sleep', ms: 20 },
          { op: 'runCount', prog: 1 },
          recv('p1'),
        ],
      };
      differential(s);
    }
  });

  it('FIN: verdict mode runs the zero-length FIN skb (PASS → EOF after the data); strparser mode does not', () => {
    for (const skbVerdict of [false, true]) {
      differential(skbScenario({ parser: skbVerdict ? undefined : PARSE_LEN, verdict: PASS, skbVerdict }, [send('c1', patternBytes(5)), { op: 'shutdown', sock: 'c1', how: 'wr' }, ...runs, { op: 'fionread', sock: 'p1' }, recv('p1'), recv('p1'), recv('p1', 10, { peek: true })]));
    }
  });

  it("FIN redirected: egress gives the target SO_ERROR EPIPE and later redirects to it are dropped; ingress queues an empty message", () => {
    for (const ingress of [false, true]) {
      differential(
        skbScenario({ verdict: redirectVerdict(0, 1, ingress ? 1 : 0), skbVerdict: true, target: ingress ? 'p2' : 'c2' }, [
          send('c1', patternBytes(10)),
          { op: 'sleep', ms: 20 },
          recv(ingress ? 'p2' : 'p2', 100),
          { op: 'close', sock: 'c1' },
          { op: 'sleep', ms: 30 },
          { op: 'getsockopt', sock: ingress ? 'p2' : 'c2', opt: SockOpt.SO_ERROR },
          recv('p2', 100, { timeoutMs: 50 }),
          { op: 'fionread', sock: 'p2' },
          ...runs,
        ]),
      );
    }
  });

  it('FIN redirected ingress to a socket without a verdict (in a map without programs): its reader gets -EFAULT', () => {
    differential(
      skbScenario({ verdict: redirectVerdict(1, 0, 1), skbVerdict: true, maps: [sockmap()] }, [
        { op: 'sockUpdate', map: 1, key: 0, sock: 'p2' },
        send('c1', patternBytes(10)),
        { op: 'sleep', ms: 20 },
        recv('p2', 4),
        { op: 'close', sock: 'c1' },
        { op: 'sleep', ms: 30 },
        recv('p2', 100, { timeoutMs: 50 }),
        recv('p2', 100, { timeoutMs: 50 }),
        { op: 'getsockopt', sock: 'p2', opt: SockOpt.SO_ERROR },
        recv('p2', 100, { timeoutMs: 50 }),
        { op: 'fionread', sock: 'p2' },
      ]),
    );
  });

  // KERNEL vs SPEC: §3.8/§10 date this refusal to 7.x; the 6.18 host refuses already (attach and link).
  it('a stream parser that changes packet data (store_bytes, pull_data, change_tail) or tail-calls cannot be attached: -EINVAL', () => {
    differential({
      maps: [sockmap(), { type: 3, keySize: 4, valueSize: 4, maxEntries: 2 }],
      progs: [
        skSkb('r6 = r1\nr1 = r6\nr2 = map[idx:1]\nr3 = 0\ncall bpf_tail_call#12\nr0 = 1\nexit', AttachType.SK_SKB_STREAM_PARSER),
        skSkb('r6 = r1\nr1 = r6\nr2 = 0\nr3 = r10\nr3 += -8\nr4 = 1\ncall bpf_skb_load_bytes#26\nr0 = 1\nexit', AttachType.SK_SKB_STREAM_PARSER),
        skSkb('r5 = 0\n*(u64 *)(r10 - 8) = r5\nr2 = 0\nr3 = r10\nr3 += -8\nr4 = 1\ncall bpf_skb_store_bytes#9\nr0 = 1\nexit', AttachType.SK_SKB_STREAM_PARSER),
        skSkb('r2 = 1\ncall bpf_skb_pull_data#39\nr0 = 1\nexit', AttachType.SK_SKB_STREAM_PARSER),
        skSkb('r2 = 1\nr3 = 0\ncall bpf_skb_change_tail#38\nr0 = 1\nexit', AttachType.SK_SKB_STREAM_PARSER),
      ],
      steps: [
        ...[0, 1, 2, 3, 4].map((prog) => ({ op: 'attach', prog, map: 0, attachType: AttachType.SK_SKB_STREAM_PARSER }) as ScenarioStep),
        { op: 'attach', prog: 2, map: 0, attachType: AttachType.SK_SKB_STREAM_VERDICT },
      ],
    });
  });

  it('unusable targets: empty slot / listener / bad flags → SK_DROP (dropped); target closed; target TX disabled after EPIPE', () => {
    // Empty slot 1: the redirect fails, the verdict program returns its result (SK_DROP) → bytes dropped.
    differential(skbScenario({ verdict: redirectVerdict(0, 1, 0), skbVerdict: true }, [send('c1', patternBytes(10)), recv('p1', 100, { timeoutMs: 50 }), ...runs]));
    // A failed redirect followed by `return SK_PASS` passes locally (§5.3).
    differential(skbScenario({ verdict: `${redirectVerdict(0, 1, 0).replace('exit', '')}\nr0 = 1\nexit`, skbVerdict: true, target: 'l2' }, [send('c1', patternBytes(10)), recv('p1', 100), ...runs]));
    differential(skbScenario({ verdict: redirectVerdict(0, 1, 2), skbVerdict: true, target: 'c2' }, [send('c1', patternBytes(10)), recv('p2', 100, { timeoutMs: 50 }), recv('p1', 100, { timeoutMs: 50 }), ...runs]));
    // The target is closed (it leaves the map): later redirects find an empty slot.
    differential(skbScenario({ verdict: redirectVerdict(0, 1, 0), skbVerdict: true, target: 'c2' }, [send('c1', patternBytes(10)), { op: 'sleep', ms: 20 }, recv('p2', 100), { op: 'close', sock: 'c2' }, send('c1', patternBytes(4)), { op: 'sleep', ms: 20 }, recv('p2', 100, { timeoutMs: 50 }), ...runs]));
    // The target's peer closed: the egress send fails with EPIPE → target SO_ERROR, TX disabled, later data dropped.
    differential(skbScenario({ verdict: redirectVerdict(0, 1, 0), skbVerdict: true, target: 'c2' }, [{ op: 'close', sock: 'p2' }, { op: 'sleep', ms: 20 }, send('c1', patternBytes(10)), { op: 'sleep', ms: 20 }, send('c1', patternBytes(4)), { op: 'sleep', ms: 20 }, { op: 'getsockopt', sock: 'c2', opt: SockOpt.SO_ERROR }, send('c2', bytes(1)), ...runs]));
  });

  it('redirect egress into a socket with an SK_MSG program: the SK_MSG verdict runs on the redirected bytes', () => {
    differential(
      skbScenario(
        { verdict: redirectVerdict(0, 1, 0), skbVerdict: true, maps: [sockmap()], progs: [{ progType: 16, insns: skSkb('r0 = 1\nexit').insns }] },
        [
          { op: 'attach', prog: 2, map: 1, attachType: AttachType.SK_MSG_VERDICT },
          { op: 'sockUpdate', map: 1, key: 0, sock: 'c2' },
          { op: 'sockUpdate', map: 0, key: 1, sock: 'c2' },
          send('c1', patternBytes(12)),
          { op: 'sleep', ms: 20 },
          recv('p2'),
          { op: 'runCount', prog: 2 },
        ],
      ),
    );
  });

  it('deleting the socket from the map stops the verdict: native reads again, or never again after unread PASS data', () => {
    const steps: ScenarioStep[] = [
      send('c1', patternBytes(10)),
      { op: 'sleep', ms: 20 },
      { op: 'mapDelete', map: 0, key: 0 },
      send('c1', patternBytes(4)),
      { op: 'sleep', ms: 20 },
      { op: 'fionread', sock: 'p1' },
      recv('p1', 100, { timeoutMs: 50 }),
      send('c1', patternBytes(20)),
      { op: 'sleep', ms: 20 },
      { op: 'fionread', sock: 'p1' },
      recv('p1', 100, { timeoutMs: 50 }),
      ...runs,
    ];
    // DROP / redirect consumed the bytes in TCP terms: after the delete the socket reads natively again.
    differential(skbScenario({ verdict: DROP, skbVerdict: true }, steps));
    differential(skbScenario({ verdict: redirectVerdict(0, 1, 0), skbVerdict: true, target: 'c2' }, steps));
    // [quirk] PASSed bytes never read are purged with the psock, but TCP never consumed them: FIONREAD counts
    // them (14, then 34) and native reads return -EAGAIN for good.
    differential(skbScenario({ verdict: PASS, skbVerdict: true }, steps));
    differential(skbScenario({ parser: PARSE_LEN, verdict: PASS, hash: true }, steps));
  });

  it('fixture sk_skb_redirect.o: stream parser + verdicts redirecting through its SOCKMAP / SOCKHASH, skb_verdict_pass', () => {
    const spec = loadCollectionFile(new URL('../../fixtures/v3/sk_skb_redirect.o', import.meta.url).pathname);
    const maps = spec.maps.map((m) => ({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries }));
    const mi = (n: string) => spec.maps.findIndex((m) => m.name === n);
    const prog = (n: string, at: number) => ({ progType: 14, expectedAttachType: at, insns: spec.programs.find((p) => p.name === n)!.insns });
    const cfg = (key: number, value: number): ScenarioStep => ({ op: 'mapUpdate', map: mi('skb_cfg'), key, value });
    for (const [verdict, map, ingress] of [
      ['skb_verdict_map', 'skb_map', false], ['skb_verdict_map_in', 'skb_map', true], ['skb_verdict_hash', 'skb_hash', false], ['skb_verdict_hash_in', 'skb_hash', true],
    ] as const) {
      differential({
        maps,
        progs: [prog(verdict, AttachType.SK_SKB_VERDICT)],
        steps: [
          { op: 'attach', prog: 0, map: mi(map), attachType: AttachType.SK_SKB_VERDICT },
          cfg(1, 3),
          ...tcpPair('l1', 'c1', 'p1'),
          ...tcpPair('l2', 'c2', 'p2'),
          { op: 'sockUpdate', map: mi(map), key: 0, sock: 'p1' },
          { op: 'sockUpdate', map: mi(map), key: 3, sock: ingress ? 'p2' : 'c2' },
          send('c1', patternBytes(40)),
          { op: 'sleep', ms: 20 },
          recv('p2', 15),
          { op: 'runCount', prog: 0 },
        ],
      });
    }
    // Strparser pair: 4-byte big-endian length prefix frames (the parser reads it through data/data_end, which
    // is empty on loopback, so it falls back to skb->len), redirect egress to key 2 of skb_map.
    differential({
      maps,
      progs: [prog('skb_parser', AttachType.SK_SKB_STREAM_PARSER), prog('skb_stream_verdict', AttachType.SK_SKB_STREAM_VERDICT), prog('skb_verdict_pass', AttachType.SK_SKB_VERDICT)],
      steps: [
        { op: 'attach', prog: 0, map: mi('skb_map'), attachType: AttachType.SK_SKB_STREAM_PARSER },
        { op: 'attach', prog: 1, map: mi('skb_map'), attachType: AttachType.SK_SKB_STREAM_VERDICT },
        { op: 'attach', prog: 2, map: mi('skb_hash'), attachType: AttachType.SK_SKB_VERDICT },
        cfg(1, 2),
        ...tcpPair('l1', 'c1', 'p1'),
        ...tcpPair('l2', 'c2', 'p2'),
        { op: 'sockUpdate', map: mi('skb_map'), key: 0, sock: 'p1' },
        { op: 'sockUpdate', map: mi('skb_map'), key: 2, sock: 'c2' },
        { op: 'sockUpdate', map: mi('skb_hash'), key: 0, sock: 'p2' },
        send('c1', bytes(0, 0, 0, 3, 0x61, 0x62, 0x63)),
        send('c1', text('hello')),
        { op: 'sleep', ms: 20 },
        recv('p2'),
        cfg(0, 4),
        send('c1', text('wxyz1234')),
        { op: 'sleep', ms: 20 },
        recv('p2'),
        { op: 'runCount', prog: 0 }, { op: 'runCount', prog: 1 }, { op: 'runCount', prog: 2 },
      ],
    });
  });

  describe('fixture sk_skb_framing.o (our own programs)', () => {
    const spec = loadCollectionFile(new URL('../../fixtures/v3/sk_skb_framing.o', import.meta.url).pathname);
    const maps = spec.maps.map((m) => ({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries }));
    const mi = (n: string) => spec.maps.findIndex((m) => m.name === n);
    const prog = (n: string, at: number) => ({ progType: 14, expectedAttachType: at, insns: spec.programs.find((p) => p.name === n)!.insns });
    const cfg = (key: number, value: number): ScenarioStep => ({ op: 'mapUpdate', map: mi('frm_cfg'), key, value });
    const frame = (s: string): number[] => [0, s.length, ...text(s)];
    const base = (steps: ScenarioStep[]): Scenario => ({
      maps,
      progs: [prog('frm_parser', AttachType.SK_SKB_STREAM_PARSER), prog('frm_verdict', AttachType.SK_SKB_STREAM_VERDICT)],
      steps: [
        { op: 'attach', prog: 0, map: mi('frm_map'), attachType: AttachType.SK_SKB_STREAM_PARSER },
        { op: 'attach', prog: 1, map: mi('frm_map'), attachType: AttachType.SK_SKB_STREAM_VERDICT },
        ...tcpPair('l1', 'c1', 'p1'),
        ...tcpPair('l2', 'c2', 'p2'),
        { op: 'sockUpdate', map: mi('frm_map'), key: 0, sock: 'p1' },
        ...steps,
      ],
    });
    const framed: ScenarioStep[] = [
      send('c1', bytes(...frame('hello'), ...frame('sk'), ...frame('skb').slice(0, 3))),
      send('c1', bytes(...frame('skb').slice(3))),
      send('c1', bytes(...frame('split over sends').slice(0, 1))),
      send('c1', bytes(...frame('split over sends').slice(1, 9))),
      send('c1', bytes(...frame('split over sends').slice(9))),
      { op: 'sleep', ms: 20 },
    ];

    it('frm_parser + frm_verdict PASS / DROP: frames split across sends and several frames in one send', () => {
      differential(base([...framed, recv('p1'), { op: 'runCount', prog: 0 }, { op: 'runCount', prog: 1 }]));
      differential(base([cfg(0, 1), ...framed, recv('p1', 100, { timeoutMs: 50 }), { op: 'runCount', prog: 1 }]));
    });

    it('frm_verdict redirect egress (c2 → p2) and ingress (p2)', () => {
      for (const [action, target] of [[2, 'c2'], [3, 'p2']] as const) {
        differential(base([cfg(0, action), cfg(1, 1), { op: 'sockUpdate', map: mi('frm_map'), key: 1, sock: target }, ...framed, recv('p2'), { op: 'fionread', sock: 'p1' }]));
      }
    });

    for (const [op, what] of [[1, 'adjust_room(+2)'], [2, 'adjust_room(-1)'], [3, 'change_tail(len - 1)'], [4, 'change_head(1) + store_bytes'], [5, 'pull_data(4) + direct write']] as const) {
      it(`skb_edit: ${what} on every skb in verdict mode`, () => {
        differential({
          maps,
          progs: [prog('skb_edit', AttachType.SK_SKB_VERDICT)],
          steps: [
            { op: 'attach', prog: 0, map: mi('frm_map'), attachType: AttachType.SK_SKB_VERDICT },
            cfg(2, op),
            ...tcpPair('l1', 'c1', 'p1'),
            { op: 'sockUpdate', map: mi('frm_map'), key: 0, sock: 'p1' },
            send('c1', text('abcdef')),
            send('c1', text('xyz')),
            { op: 'sleep', ms: 20 },
            recv('p1'),
          ],
        });
      });
    }

    it('skb_owner: uid 0 and the socket cookie (= SO_COOKIE of the receiving socket)', () => {
      const s: Scenario = {
        maps,
        progs: [prog('skb_owner', AttachType.SK_SKB_VERDICT)],
        steps: [
          { op: 'attach', prog: 0, map: mi('frm_map'), attachType: AttachType.SK_SKB_VERDICT },
          ...tcpPair('l1', 'c1', 'p1'),
          { op: 'sockUpdate', map: mi('frm_map'), key: 0, sock: 'p1' },
          send('c1', text('abc')),
          { op: 'sleep', ms: 20 },
          { op: 'cookie', sock: 'p1' },
        ],
      };
      const cookieOk: boolean[] = [];
      differential(s, {
        maskEntry: (m, k, v, r) => {
          if (m !== mi('frm_stats') || k[0] !== 7) return v;
          cookieOk.push(Buffer.from(v).equals(Buffer.from(r.steps[r.steps.length - 1]!.data!)));
          return new Uint8Array(8);
        },
      });
      expect(cookieOk).toEqual([true, true]);
    });
  });

  it('test_sockmap layout (sockmap_layout.o / sockhash_layout.o bpf_prog1 + bpf_prog2): ports 10000/10001 in a private netns, redirect egress, then ingress with sock_skb_opts', () => {
    for (const file of ['sockmap_layout', 'sockhash_layout']) {
      const spec = loadCollectionFile(new URL(`../../fixtures/v3/${file}.o`, import.meta.url).pathname);
      const maps = spec.maps.map((m) => ({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries }));
      const mi = (n: string) => spec.maps.findIndex((m) => m.name === n);
      const prog = (n: string, at: number) => ({ progType: 14, expectedAttachType: at, insns: spec.programs.find((p) => p.name === n)!.insns });
      const steps = (ingress: boolean): ScenarioStep[] => [
        { op: 'attach', prog: 0, map: mi('sock_map'), attachType: AttachType.SK_SKB_STREAM_PARSER },
        { op: 'attach', prog: 1, map: mi('sock_map'), attachType: AttachType.SK_SKB_STREAM_VERDICT },
        ...(ingress ? [{ op: 'mapUpdate', map: mi('sock_skb_opts'), key: 0, value: 1 } as ScenarioStep] : []),
        ...tcpPair('l1', 'c1', 'p1', 10000),
        ...tcpPair('l2', 'c2', 'p2', 10001),
        { op: 'sockUpdate', map: mi('sock_map'), key: 1, sock: 'p1' },
        { op: 'sockUpdate', map: mi('sock_map'), key: ingress ? 3 : 10, sock: ingress ? 'p2' : 'c2' },
        send('c1', patternBytes(100)),
        send('c1', patternBytes(1000)),
        { op: 'sleep', ms: 20 },
        recv('p2', 600),
        { op: 'runCount', prog: 0 },
        { op: 'runCount', prog: 1 },
      ];
      for (const ingress of [false, true]) {
        // test_sockmap's fixed ports: a private network namespace keeps parallel test files from colliding
        differential({ maps, progs: [prog('bpf_prog1', AttachType.SK_SKB_STREAM_PARSER), prog('bpf_prog2', AttachType.SK_SKB_STREAM_VERDICT)], steps: steps(ingress), netns: true });
      }
    }
  });
});
