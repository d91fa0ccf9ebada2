/**
 * UDP and AF_UNIX differential tests: UDP sockets on loopback and AF_UNIX socketpairs (stream and datagram),
 * plain and in sock maps (which sockets may be inserted; SK_SKB verdict PASS / DROP / redirect ingress and
 * egress; SK_MSG programs that never run; recv merging; FIONREAD), run on real sockets in the host kernel
 * (test/kernel/sockrun.ts) and in the model (src/kernel/udp.ts, src/kernel/unix.ts); results must agree
 * (test/model/differential.ts). Skipped with the reason when the kernel oracle is unavailable.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { AttachType, MapType, SockOpt, patternBytes, runScenario, tcpPair, sockAvailability, type Scenario, type ScenarioStep } from '../kernel/sockrun.js';
import { DROP, PASS, PARSE_LEN, redirectVerdict, skMsg, skSkb, sockhash, sockmap } from '../kernel/sockrun-scenarios.js';
import { differential, differentialStats } from './differential.js';
import { recordValue } from './asm-snippets.js';

const avail = sockAvailability();
const suite = avail.ok ? describe : describe.skip;
if (!avail.ok) console.warn(`UDP / AF_UNIX differential tests skipped: ${avail.reason}`);

const t = (s: string): Uint8Array => new TextEncoder().encode(s);
const SV = AttachType.SK_SKB_VERDICT;
const STV = AttachType.SK_SKB_STREAM_VERDICT;
const STP = AttachType.SK_SKB_STREAM_PARSER;
const recv = (sock: string, maxLen = 100, peek = false): ScenarioStep => ({ op: 'recv', sock, maxLen, timeoutMs: 50, ...(peek ? { peek } : {}) });
const sendto = (sock: string, to: string, data: Uint8Array): ScenarioStep => ({ op: 'sendto', sock, to, data });
const send = (sock: string, data: Uint8Array): ScenarioStep => ({ op: 'send', sock, data });
const fionread = (sock: string): ScenarioStep => ({ op: 'fionread', sock });
const sleep: ScenarioStep = { op: 'sleep', ms: 20 };
/** UDP sockets `to` and `from` (both bound), `from` connected to `to`. */
const connectedUdp = (to: string, from: string): ScenarioStep[] => [{ op: 'udp', name: to }, { op: 'udp', name: from }, { op: 'udpConnect', sock: from, to }];

/** Records skb->len and skb->protocol of the last skb in ARRAY map 1 (slots 0, 1) and returns SK_PASS. */
const RECORD_LEN = `
  r6 = r1
  r0 = *(u32 *)(r6 + 0)
  ${recordValue(1, 0, 'r0')}
  r0 = *(u32 *)(r6 + 16)
  ${recordValue(1, 1, 'r0')}
  r0 = 1
  exit`;

/** UDP u1 (bound) in map 0 key 0 with `verdict` attached as `at` (and the parser too with `parser`); u0 unbound. */
function udpScenario(verdict: string, at: number, steps: ScenarioStep[], o: { parser?: boolean; hash?: boolean } = {}): Scenario {
  return {
    maps: [o.hash ? sockhash() : sockmap()],
    progs: [skSkb(PARSE_LEN, STP), skSkb(verdict, at)],
    steps: [
      ...(o.parser ? [{ op: 'attach', prog: 0, map: 0, attachType: STP } as ScenarioStep] : []),
      { op: 'attach', prog: 1, map: 0, attachType: at },
      { op: 'udp', name: 'u1' },
      { op: 'udpUnbound', name: 'u0' },
      { op: 'sockUpdate', map: 0, key: 0, sock: 'u1', label: 'insert' },
      ...steps,
    ],
  };
}

/** Two socketpairs a1-b1, a2-b2 of `type`; b1 at key 0 and b2 at key 1 of map 0 with `verdict` attached. */
function unixScenario(type: 'stream' | 'dgram', verdict: string, steps: ScenarioStep[], at = SV, maps: Scenario['maps'] = []): Scenario {
  return {
    maps: [sockmap(), ...(maps ?? [])],
    progs: [skSkb(verdict, at)],
    steps: [
      { op: 'attach', prog: 0, map: 0, attachType: at },
      { op: 'unixPair', names: ['a1', 'b1'], type },
      { op: 'unixPair', names: ['a2', 'b2'], type },
      { op: 'sockUpdate', map: 0, key: 0, sock: 'b1' },
      { op: 'sockUpdate', map: 0, key: 1, sock: 'b2' },
      ...steps,
    ],
  };
}

const UNIX_STEPS: ScenarioStep[] = [
  send('a1', t('hello')),
  send('a1', t('world!')),
  sleep,
  fionread('b1'),
  fionread('b2'),
  recv('b1', 3),
  fionread('b1'),
  recv('b1'),
  recv('b2', 3),
  recv('b2'),
  recv('a2'),
  { op: 'runCount', prog: 0 },
];

suite('UDP and AF_UNIX model vs host kernel (differential)', () => {
  afterAll(() => console.log(`UDP/AF_UNIX differential: ${differentialStats.agreed}/${differentialStats.scenarios} scenarios agree with the kernel`));

  it('which sockets may be inserted: unbound UDP no, bound / connected / autobound UDP yes, unix stream and dgram pairs yes, seqpacket no', () => {
    // The model has no SOCK_SEQPACKET: the kernel alone shows it is refused.
    const seq = runScenario({ maps: [sockmap()], steps: [{ op: 'unixPair', names: ['q1', 'q2'], type: 'seqpacket' }, { op: 'sockUpdate', map: 0, key: 0, sock: 'q1' }] });
    expect(seq.steps.map((s) => s.ret)).toEqual([0, -95]);
    differential({
      maps: [sockmap()],
      steps: [
        { op: 'udpUnbound', name: 'u0' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'u0' },
        { op: 'udp', name: 'u1' },
        { op: 'sockUpdate', map: 0, key: 1, sock: 'u1' },
        { op: 'udp', name: 'u2' },
        { op: 'udpConnect', sock: 'u2', to: 'u1' },
        { op: 'sockUpdate', map: 0, key: 2, sock: 'u2' },
        { op: 'unixPair', names: ['s1', 's2'], type: 'stream' },
        { op: 'sockUpdate', map: 0, key: 3, sock: 's1' },
        { op: 'unixPair', names: ['d1', 'd2'], type: 'dgram' },
        { op: 'sockUpdate', map: 0, key: 4, sock: 'd1' },
        { op: 'udpUnbound', name: 'u3' },
        sendto('u3', 'u1', t('x')),
        { op: 'sockUpdate', map: 0, key: 6, sock: 'u3' },
        { op: 'close', sock: 'u2' },
        { op: 'mapLookup', map: 0, key: 2 },
      ],
    });
  });

  it('plain UDP: EDESTADDRREQ, datagram boundaries, truncation, peek, zero-length datagram, FIONREAD, shutdown of an unconnected socket', () => {
    differential({
      steps: [
        { op: 'udp', name: 'u1' },
        { op: 'udpUnbound', name: 'u0' },
        send('u0', t('a')),
        sendto('u0', 'u1', t('hello')),
        sendto('u0', 'u1', t('world!')),
        sendto('u0', 'u1', new Uint8Array(0)),
        fionread('u1'),
        recv('u1', 3, true),
        recv('u1', 3),
        recv('u1'),
        { op: 'udp', name: 'u2' },
        { op: 'udpConnect', sock: 'u2', to: 'u1' },
        send('u2', t('c')),
        recv('u2'),
        { op: 'shutdown', sock: 'u1', how: 'wr' },
        sendto('u1', 'u2', t('z')),
        recv('u1'),
        recv('u1'),
      ],
    });
  });

  it('UDP: a receiver connected elsewhere does not get a datagram; binding a used port is -EADDRINUSE', () => {
    differential({
      steps: [
        { op: 'udp', name: 'u1' },
        { op: 'udp', name: 'u2' },
        { op: 'udp', name: 'u3' },
        { op: 'udpConnect', sock: 'u1', to: 'u2' },
        sendto('u3', 'u1', t('no')),
        send('u2', t('no')), // u2 is not connected: EDESTADDRREQ
        sendto('u2', 'u1', t('yes')),
        recv('u1'),
        recv('u1'),
        { op: 'udp', name: 'u4', port: 47123 },
        { op: 'udp', name: 'u5', port: 47123 },
      ],
    });
  });

  it('UDP to a closed port: the connected sender gets ECONNREFUSED once per ICMP error', () => {
    differential({
      steps: [
        ...connectedUdp('u1', 'u2'),
        { op: 'close', sock: 'u1' },
        send('u2', t('a')),
        send('u2', t('b')),
        send('u2', t('c')),
      ],
    });
  });

  it('AF_UNIX pairs without maps: close, shutdown(SHUT_WR), EOF, EPIPE / ECONNREFUSED, FIONREAD', () => {
    differential({
      steps: [
        { op: 'unixPair', names: ['a1', 'b1'], type: 'dgram' },
        { op: 'close', sock: 'a1' },
        send('b1', t('x')),
        recv('b1', 10),
        { op: 'unixPair', names: ['a2', 'b2'], type: 'dgram' },
        { op: 'shutdown', sock: 'a2', how: 'wr' },
        send('a2', t('x')),
        send('b2', t('y')),
        send('b2', t('zz')),
        fionread('a2'),
        recv('b2', 10),
        recv('a2', 10),
        { op: 'unixPair', names: ['a3', 'b3'], type: 'stream' },
        send('a3', t('xyz')),
        send('a3', t('uv')),
        fionread('b3'),
        { op: 'shutdown', sock: 'a3', how: 'wr' },
        send('a3', t('x')),
        recv('b3', 2),
        recv('b3', 10),
        recv('b3', 10),
        send('b3', t('q')),
        recv('a3', 10),
        { op: 'unixPair', names: ['a4', 'b4'], type: 'stream' },
        send('a4', t('abc')),
        { op: 'close', sock: 'a4' },
        recv('b4', 10),
        recv('b4', 10),
        send('b4', t('x')),
      ],
    });
  });

  for (const at of [SV, STV]) {
    const kind = at === SV ? 'SKB_VERDICT' : 'STREAM_VERDICT alone';
    it(`UDP ${kind} PASS: recv merges datagrams and keeps a partly read one; FIONREAD = first message; runs per datagram`, () => {
      differential(
        udpScenario(PASS, at, [
          sendto('u0', 'u1', t('hello')),
          sendto('u0', 'u1', t('world!')),
          sleep,
          fionread('u1'),
          recv('u1', 3, true),
          recv('u1', 3),
          fionread('u1'),
          recv('u1'),
          { op: 'runCount', prog: 1 },
        ]),
      );
    });
  }

  it('UDP verdict PASS of a zero-length datagram: the queue is stuck (-EFAULT, FIONREAD 0)', () => {
    differential(
      udpScenario(PASS, SV, [
        sendto('u0', 'u1', t('hello')),
        recv('u1', 3),
        sendto('u0', 'u1', new Uint8Array(0)),
        sleep,
        fionread('u1'),
        recv('u1'),
        recv('u1'),
        sendto('u0', 'u1', t('ab')),
        sleep,
        fionread('u1'),
        recv('u1'),
        { op: 'getsockopt', sock: 'u1', opt: 4 },
        { op: 'runCount', prog: 1 },
      ]),
    );
  });

  it('UDP verdict DROP: nothing to read; the sender does not notice', () => {
    differential(udpScenario(DROP, SV, [sendto('u0', 'u1', t('hello')), sleep, fionread('u1'), recv('u1'), { op: 'runCount', prog: 1 }]));
  });

  it('UDP into a map with stream parser + verdict: -EOPNOTSUPP (the socket stays plain)', () => {
    differential(udpScenario(PASS, STV, [sendto('u0', 'u1', t('hello')), recv('u1')], { parser: true }));
  });

  for (const hash of [false, true]) {
    it(`UDP verdict redirect ingress (${hash ? 'SOCKHASH' : 'SOCKMAP'}): an unconnected target drops, a connected one receives merged`, () => {
      differential(
        udpScenario(
          redirectVerdict(0, 1, 1, hash),
          SV,
          [
            { op: 'udp', name: 'u2' },
            { op: 'sockUpdate', map: 0, key: 1, sock: 'u2' },
            sendto('u0', 'u1', t('hello')),
            sleep,
            recv('u2'),
            { op: 'udpConnect', sock: 'u2', to: 'u0' },
            sendto('u0', 'u1', t('again')),
            sendto('u0', 'u1', t('more!')),
            sleep,
            fionread('u2'),
            recv('u2', 3),
            recv('u2'),
            { op: 'runCount', prog: 1 },
          ],
          { hash },
        ),
      );
    });
  }

  it('UDP verdict redirect egress: the datagram leaves the (connected) target towards its peer', () => {
    differential(
      udpScenario(redirectVerdict(0, 1, 0), SV, [
        { op: 'udp', name: 'u2' },
        { op: 'udp', name: 'u3' },
        { op: 'udpConnect', sock: 'u2', to: 'u3' },
        { op: 'sockUpdate', map: 0, key: 1, sock: 'u2' },
        sendto('u0', 'u1', t('hello')),
        sendto('u0', 'u1', t('world!')),
        sleep,
        recv('u3', 3),
        recv('u2'),
        { op: 'runCount', prog: 1 },
      ]),
    );
  });

  // __udp_enqueue_schedule_skb: drop when memory + truesize > SO_RCVBUF (doubled) unless the receiver holds
  // nothing; the truesize per payload size (udp.ts udpSkbTruesize) sits exactly at the thresholds below.
  const udpSends = (n: number, len: number, to = 'u1'): ScenarioStep[] => Array.from({ length: n }, () => sendto('u0', to, patternBytes(len)));
  it('plain UDP SO_RCVBUF: datagrams beyond the buffer are dropped silently (truesize 832 / 1280 / 2304 / 16640 / 16842 / 30832)', () => {
    const cases: [number, number][] = [[100, 1247], [100, 1248], [200, 1920], [1000, 4096], [16000, 16639], [16010, 16842], [30000, 30831]];
    for (const [len, rcvbuf] of cases) {
      differential({
        steps: [
          { op: 'udp', name: 'u1' },
          { op: 'udpUnbound', name: 'u0' },
          { op: 'setsockopt', sock: 'u1', opt: SockOpt.SO_RCVBUF, value: rcvbuf },
          ...udpSends(len >= 16000 ? 3 : 8, len),
          fionread('u1'),
          recv('u1', 100),
          ...udpSends(3, len),
        ],
      });
    }
  });

  it('UDP SO_RCVBUF in a sock map: data a verdict PASSed counts until read (later datagrams are dropped); an ingress redirect into a full UDP target waits in the backlog until the reader makes room', () => {
    differential(
      udpScenario(PASS, SV, [
        { op: 'setsockopt', sock: 'u1', opt: SockOpt.SO_RCVBUF, value: 1152 },
        ...udpSends(5, 100),
        sleep,
        recv('u1', 1000),
        ...udpSends(5, 100),
        sleep,
        recv('u1', 1000),
        { op: 'runCount', prog: 1 },
      ]),
    );
    differential(
      udpScenario(redirectVerdict(0, 1, 1), SV, [
        { op: 'udp', name: 'u2' },
        { op: 'udpConnect', sock: 'u2', to: 'u1' },
        { op: 'sockUpdate', map: 0, key: 1, sock: 'u2' },
        { op: 'setsockopt', sock: 'u2', opt: SockOpt.SO_RCVBUF, value: 1152 },
        ...udpSends(6, 100),
        { op: 'sleep', ms: 50 },
        recv('u2', 1000),
        { op: 'sleep', ms: 50 },
        recv('u2', 1000),
        { op: 'sleep', ms: 50 },
        recv('u2', 1000),
        { op: 'runCount', prog: 1 },
      ]),
    );
  });

  it('UDP verdict: skb->len is the payload, skb->protocol ETH_P_IP; AF_UNIX: protocol 0', () => {
    const rec = (steps: ScenarioStep[]): Scenario => ({
      maps: [sockmap(), { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2 }],
      progs: [skSkb(RECORD_LEN, SV)],
      steps: [{ op: 'attach', prog: 0, map: 0, attachType: SV }, ...steps],
    });
    differential(rec([{ op: 'udp', name: 'u1' }, { op: 'udpUnbound', name: 'u0' }, { op: 'sockUpdate', map: 0, key: 0, sock: 'u1' }, sendto('u0', 'u1', t('hello')), recv('u1')]));
    differential(rec([{ op: 'unixPair', names: ['a1', 'b1'], type: 'dgram' }, { op: 'sockUpdate', map: 0, key: 0, sock: 'b1' }, send('a1', t('hello!')), recv('b1')]));
  });

  it('SK_MSG on UDP and AF_UNIX senders: inserted, never run (a DROP program drops nothing); native FIONREAD / recv rules', () => {
    differential({
      maps: [sockmap()],
      progs: [skMsg(DROP)],
      steps: [
        { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_MSG_VERDICT },
        ...connectedUdp('u1', 'u2'),
        { op: 'sockUpdate', map: 0, key: 0, sock: 'u2' },
        { op: 'sockUpdate', map: 0, key: 2, sock: 'u1' },
        send('u2', t('hi')),
        send('u2', t('there')),
        fionread('u1'),
        recv('u1', 1),
        recv('u1', 10),
        { op: 'unixPair', names: ['a1', 'b1'], type: 'stream' },
        { op: 'sockUpdate', map: 0, key: 1, sock: 'b1' },
        send('a1', t('abc')),
        send('b1', t('def')),
        fionread('b1'),
        recv('a1', 100),
        { op: 'close', sock: 'a1' },
        recv('b1', 100),
        recv('b1', 100),
        send('b1', t('x')),
        { op: 'runCount', prog: 0 },
      ],
    });
  });

  it('SK_MSG redirect ingress from a TCP sender to a connected UDP socket', () => {
    const prog = redirectVerdict(0, 1, 1).replace('bpf_sk_redirect_map#52', 'bpf_msg_redirect_map#60');
    differential({
      maps: [sockmap()],
      progs: [skMsg(prog)],
      steps: [
        { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_MSG_VERDICT },
        ...tcpPair('l1', 'c1', 'p1'),
        ...connectedUdp('u1', 'u2'),
        { op: 'sockUpdate', map: 0, key: 1, sock: 'u2' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'c1' },
        send('c1', t('hello')),
        send('c1', t('world')),
        fionread('u2'),
        recv('u2'),
        recv('p1'),
        { op: 'runCount', prog: 0 },
      ],
    });
  });

  it('SK_MSG redirect egress to a UDP or AF_UNIX target: SK_DROP (-EACCES), and the drop verdict sticks', () => {
    const prog = redirectVerdict(0, 1, 0).replace('bpf_sk_redirect_map#52', 'bpf_msg_redirect_map#60');
    for (const target of ['udp', 'unix'] as const) {
      differential({
        maps: [sockmap()],
        progs: [skMsg(prog)],
        steps: [
          { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_MSG_VERDICT },
          ...tcpPair('l1', 'c1', 'p1'),
          ...(target === 'udp'
            ? ([...connectedUdp('u1', 'u2'), { op: 'sockUpdate', map: 0, key: 1, sock: 'u2' }] as ScenarioStep[])
            : ([{ op: 'unixPair', names: ['u1', 'u2'], type: 'stream' }, { op: 'sockUpdate', map: 0, key: 1, sock: 'u2' }] as ScenarioStep[])),
          { op: 'sockUpdate', map: 0, key: 0, sock: 'c1' },
          send('c1', t('hello')),
          send('c1', t('again')),
          recv('u1'),
          recv('p1'),
          { op: 'runCount', prog: 0 },
        ],
      });
    }
  });

  it('SK_SKB redirect ingress from a TCP receiver into a connected UDP socket and into an AF_UNIX stream end', () => {
    differential({
      maps: [sockmap()],
      progs: [skSkb(redirectVerdict(0, 1, 1), SV)],
      steps: [
        { op: 'attach', prog: 0, map: 0, attachType: SV },
        ...tcpPair('l1', 'c1', 'p1'),
        ...connectedUdp('u1', 'u2'),
        { op: 'sockUpdate', map: 0, key: 1, sock: 'u2' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'p1' },
        send('c1', t('hello')),
        send('c1', t('world!')),
        sleep,
        fionread('u2'),
        recv('u2'),
        { op: 'unixPair', names: ['a1', 'b1'], type: 'stream' },
        { op: 'sockUpdate', map: 0, key: 1, sock: 'b1' },
        send('c1', t('unix')),
        sleep,
        recv('b1'),
        { op: 'runCount', prog: 0 },
      ],
    });
  });

  const DONTWAIT = 0x40 | 0x4000;
  const sends = (sock: string, n: number, len: number): ScenarioStep[] => Array.from({ length: n }, () => ({ op: 'send', sock, data: new Uint8Array(len).fill(7), flags: DONTWAIT }));
  it('AF_UNIX SO_SNDBUF: sends charge their truesize until read; -EAGAIN at the limit (0 / 100 / 300 / 1000 / 3000 / 8000-byte skbs)', () => {
    const SNDBUF = { opt: 7 };
    differential({
      steps: [
        { op: 'unixPair', names: ['a1', 'b1'], type: 'dgram' },
        { op: 'setsockopt', sock: 'a1', ...SNDBUF, value: 1 },
        { op: 'getsockopt', sock: 'a1', ...SNDBUF },
        ...sends('a1', 8, 100),
        recv('b1', 1000),
        ...sends('a1', 2, 100),
        { op: 'unixPair', names: ['a2', 'b2'], type: 'dgram' },
        { op: 'setsockopt', sock: 'a2', ...SNDBUF, value: 20000 },
        ...sends('a2', 4, 8000),
        ...sends('a2', 1, 3000),
        { op: 'unixPair', names: ['a3', 'b3'], type: 'stream' },
        { op: 'setsockopt', sock: 'a3', ...SNDBUF, value: 1 },
        ...sends('a3', 7, 100),
        recv('b3', 150),
        ...sends('a3', 2, 100),
        { op: 'unixPair', names: ['a4', 'b4'], type: 'dgram' },
        { op: 'setsockopt', sock: 'a4', ...SNDBUF, value: 1 },
        ...sends('a4', 6, 0),
        ...sends('a4', 1, 300),
        { op: 'close', sock: 'b4' },
        ...sends('a4', 1, 300),
        { op: 'unixPair', names: ['a5', 'b5'], type: 'dgram' },
        { op: 'setsockopt', sock: 'a5', ...SNDBUF, value: 20000 },
        ...sends('a5', 11, 3000),
        ...sends('a5', 1, 1000),
      ],
    });
  });

  it('AF_UNIX defaults and large sends: SO_SNDBUF / SO_RCVBUF 212992; stream sends cut at 36544 bytes (and at SO_SNDBUF/2 - 64), partial when the buffer fills; page-fragment truesize', () => {
    const big = (n: number): Uint8Array => new Uint8Array(n).fill(3);
    differential(
      unixScenario(
        'stream',
        RECORD_LEN,
        [
          { op: 'getsockopt', sock: 'a1', opt: 7 },
          { op: 'getsockopt', sock: 'b1', opt: 8 },
          { op: 'send', sock: 'a1', data: big(40000), flags: DONTWAIT },
          sleep,
          { op: 'runCount', prog: 0 },
          recv('b1', 100000),
          { op: 'send', sock: 'a1', data: big(100000), flags: DONTWAIT },
          sleep,
          { op: 'runCount', prog: 0 },
          { op: 'fionread', sock: 'b1' },
        ],
        SV,
        [{ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2 }],
      ),
      { lengthOnly: ['b1'] },
    );
    differential({
      steps: [
        { op: 'udp', name: 'u1' },
        { op: 'getsockopt', sock: 'u1', opt: 7 },
        { op: 'getsockopt', sock: 'u1', opt: 8 },
        { op: 'unixPair', names: ['a1', 'b1'], type: 'stream' },
        { op: 'setsockopt', sock: 'a1', opt: 7, value: 20000 },
        ...sends('a1', 6, 8000),
        { op: 'unixPair', names: ['a2', 'b2'], type: 'stream' },
        { op: 'setsockopt', sock: 'a2', opt: 7, value: 20000 },
        ...sends('a2', 8, 5000),
        { op: 'unixPair', names: ['a3', 'b3'], type: 'stream' },
        { op: 'setsockopt', sock: 'a3', opt: 7, value: 20000 },
        ...sends('a3', 2, 40000),
        { op: 'unixPair', names: ['a4', 'b4'], type: 'dgram' },
        { op: 'setsockopt', sock: 'a4', opt: 7, value: 50000 },
        ...sends('a4', 4, 40000),
      ],
    }, { lengthOnly: ['b1', 'b2', 'b3', 'b4'] });
  });

  it('AF_UNIX SO_SNDBUF with a verdict program at the receiver: the verdict consumes each skb, the sender never fills up', () => {
    differential({
      maps: [sockmap()],
      progs: [skSkb(PASS, SV)],
      steps: [
        { op: 'attach', prog: 0, map: 0, attachType: SV },
        { op: 'unixPair', names: ['a1', 'b1'], type: 'dgram' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'b1' },
        { op: 'setsockopt', sock: 'a1', opt: 7, value: 1 },
        ...sends('a1', 12, 100),
        { op: 'fionread', sock: 'b1' },
        { op: 'mapDelete', map: 0, key: 0 },
        ...sends('a1', 8, 100),
        recv('b1', 2000),
        recv('b1', 2000),
        recv('b1', 2000),
      ],
    });
  });

  for (const type of ['stream', 'dgram'] as const) {
    it(`AF_UNIX ${type} SO_RCVBUF: redirect ingress into a full target waits in the backlog and arrives as the reader makes room`, () => {
      const pause: ScenarioStep = { op: 'sleep', ms: 50 };
      differential(
        unixScenario(type, redirectVerdict(0, 1, 1), [
          { op: 'setsockopt', sock: 'b2', opt: 8, value: 1 },
          ...sends('a1', 7, 1000),
          ...sends('a1', 1, 300),
          pause,
          fionread('b2'),
          recv('b2', 100000),
          pause,
          recv('b2', 1500),
          pause,
          recv('b2', 100000),
          pause,
          recv('b2', 100000),
          pause,
          recv('b2', 100000),
          { op: 'runCount', prog: 0 },
        ]),
      );
    });
    it(`AF_UNIX ${type}: parser + verdict map refuses the insert (-EOPNOTSUPP)`, () => {
      differential({
        maps: [sockmap()],
        progs: [skSkb(PARSE_LEN, STP), skSkb(PASS, STV)],
        steps: [
          { op: 'attach', prog: 0, map: 0, attachType: STP },
          { op: 'attach', prog: 1, map: 0, attachType: STV },
          { op: 'unixPair', names: ['a1', 'b1'], type },
          { op: 'sockUpdate', map: 0, key: 0, sock: 'b1' },
          send('a1', t('plain')),
          recv('b1'),
        ],
      });
    });
    for (const [what, verdict] of [
      ['PASS', PASS],
      ['DROP', DROP],
      ['redirect ingress', redirectVerdict(0, 1, 1)],
      ['redirect egress', redirectVerdict(0, 1, 0)],
    ] as const) {
      it(`AF_UNIX ${type} skb_verdict ${what}`, () => {
        differential(unixScenario(type, verdict, UNIX_STEPS));
      });
    }
  }
});
