/**
 * bpf_sk_lookup_tcp / bpf_sk_lookup_udp / bpf_skc_lookup_tcp / bpf_sk_release and the skc_to_* casts in an SK_SKB
 * verdict program, bpf_tcp_sock in a SOCK_OPS program, `msg->sk` in an SK_MSG program and `skb->sk` of UDP and
 * AF_UNIX sockets: the model (src/kernel/sk-lookup.ts) against the host
 * kernel over real loopback sockets (test/kernel/sockrun.c, in a private network namespace so that the fixed
 * ports 10000-10002 are free). The verdict program looks up, on every skb, its own socket, the peer, the listener,
 * the first connection's two ends (kept in a map: later runs see them in CLOSE_WAIT, time-wait, closed) and two
 * UDP sockets, and logs what it reads through each pointer; the logs are compared field by field, with the
 * clients' ephemeral ports replaced by their names. Skipped with the reason when bpf() is not permitted.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/model.js';
import { assemble } from '../../vm/asm.js';
import { AttachType, MapType, ProgType, runScenario, sockAvailability, type Scenario, type ScenarioResult } from '../kernel/sockrun.js';
import { runModelScenario } from './sockmap-harness.js';
import { NEXT_LOG_SLOT, logRecords } from './asm-snippets.js';

const avail = sockAvailability();
const suite = avail.ok ? describe : describe.skip;
if (!avail.ok) console.warn(`socket lookup differential tests skipped: ${avail.reason}`);

const LISTEN_PORT = 10000;
const CLIENTS = ['c2', 'c3', 'c4', 'c5'];
const UDP1 = 10001;
const UDP2 = 10002;
/** 127.0.0.1 as the u32 a little-endian load of its network-order bytes gives. */
const LO_LE = 0x0100007f;
const be16le = (p: number): number => ((p & 0xff) << 8) | (p >>> 8);

/** One program generator: `slot(name)` gives the next log offset and remembers its name. */
class Gen {
  names: string[] = [];
  code = '';
  private label = 0;
  slot(name: string): number {
    this.names.push(name);
    return 4 * (this.names.length - 1);
  }
  lbl(): string {
    return `L${this.label++}`;
  }
  emit(s: string): void {
    this.code += s + '\n';
  }
}

/** Tuples, written at r10-64 (12 bytes). */
const TUPLE = -64;
const PREV = -96;
type TupleSrc = 'self' | 'peer' | 'listener' | 'prevSelf' | 'prevPeer' | { s: number; d: number; sp: number; dp: number };

function writeTuple(g: Gen, t: TupleSrc): void {
  const st = (off: number, reg = 'r2', size = 'u32'): void => g.emit(`*(${size} *)(r10 - ${-(TUPLE + off)}) = ${reg}`);
  if (typeof t === 'object') {
    g.emit(`*(u32 *)(r10 - ${-(TUPLE)}) = ${t.s}`);
    g.emit(`*(u32 *)(r10 - ${-(TUPLE + 4)}) = ${t.d}`);
    g.emit(`*(u16 *)(r10 - ${-(TUPLE + 8)}) = ${be16le(t.sp)}`);
    g.emit(`*(u16 *)(r10 - ${-(TUPLE + 10)}) = ${be16le(t.dp)}`);
    return;
  }
  if (t === 'prevSelf' || t === 'prevPeer') {
    const swap = t === 'prevPeer';
    g.emit(`r2 = *(u32 *)(r10 - ${-(PREV + (swap ? 4 : 0))})`); st(0);
    g.emit(`r2 = *(u32 *)(r10 - ${-(PREV + (swap ? 0 : 4))})`); st(4);
    g.emit(`r2 = *(u16 *)(r10 - ${-(PREV + (swap ? 10 : 8))})`); st(8, 'r2', 'u16');
    g.emit(`r2 = *(u16 *)(r10 - ${-(PREV + (swap ? 8 : 10))})`); st(10, 'r2', 'u16');
    return;
  }
  const swap = t === 'peer';
  g.emit(`r2 = *(u32 *)(r6 + ${swap ? 96 : 92})`); st(0);
  g.emit(`r2 = *(u32 *)(r6 + ${swap ? 92 : 96})`); st(4);
  // remote_port: the network-order port in the upper 16 bits; local_port: host order.
  const remote = 'r2 = *(u32 *)(r6 + 132)\nr2 >>= 16';
  const local = 'r2 = *(u32 *)(r6 + 136)\nr2 = be16 r2';
  g.emit(swap ? local : remote); st(8, 'r2', 'u16');
  g.emit(swap ? remote : local); st(10, 'r2', 'u16');
  if (t === 'listener') g.emit(`*(u16 *)(r10 - ${-(TUPLE + 8)}) = ${be16le(1)}`);
}

/** bpf_sock fields read through a full-socket pointer: [name, offset, size]. */
const FULL_FIELDS: [string, number, number][] = [
  ['bound_dev_if', 0, 4], ['family', 4, 4], ['type', 8, 4], ['protocol', 12, 4], ['mark', 16, 4], ['priority', 20, 4],
  ['src_ip4', 24, 4], ['src_ip6_0', 28, 4], ['src_ip6_1', 32, 4], ['src_ip6_2', 36, 4], ['src_ip6_3', 40, 4],
  ['src_port', 44, 4], ['dst_port', 48, 4], ['dst_port16', 48, 2], ['dst_ip4', 52, 4],
  ['dst_ip6_2', 64, 4], ['dst_ip6_3', 68, 4], ['state', 72, 4], ['state8', 72, 1], ['rx_queue_mapping', 76, 4],
  ['family16', 4, 2], ['src_ip4_hi16', 26, 2],
];
/**
 * The sock_common subset (what PTR_TO_SOCK_COMMON may read), without the IPv6 addresses: an IPv4 time-wait
 * socket's are uninitialised memory in the kernel.
 */
const COMMON_FIELDS = FULL_FIELDS.filter(([n]) => !['type', 'protocol', 'mark', 'priority', 'rx_queue_mapping'].includes(n) && !n.includes('ip6'));
/** struct tcp_sock fields read through bpf_skc_to_tcp_sock: [name, offset, size]. */
const TCP_SOCK_BTF: [string, number, number][] = [
  ['tp.skc_family', 16, 2], ['tp.skc_state', 18, 1], ['tp.skc_num', 14, 2], ['tp.skc_dport', 12, 2], ['tp.skc_daddr', 0, 4],
  ['tp.sk_type', 534, 2], ['tp.sk_protocol', 532, 2], ['tp.bytes_received', 1752, 8], ['tp.bytes_acked', 1824, 8],
  ['tp.data_segs_in', 1764, 4], ['tp.data_segs_out', 1540, 4],
];
const TW_BTF: [string, number, number][] = [['tw.skc_family', 16, 2], ['tw.skc_state', 18, 1], ['tw.skc_num', 14, 2], ['tw.skc_dport', 12, 2]];

const SZ: Record<number, string> = { 1: 'u8', 2: 'u16', 4: 'u32', 8: 'u64' };

/** Reads fields through the pointer in r0 into the log (r0 preserved in r1 scratch: uses r2). */
function readFields(g: Gen, prefix: string, fields: [string, number, number][]): void {
  for (const [n, off, size] of fields) {
    if (size === 8) {
      g.emit(`r2 = *(u64 *)(r0 + ${off})`);
      const at = g.slot(`${prefix}.${n}.lo`);
      g.slot(`${prefix}.${n}.hi`);
      g.emit(`*(u64 *)(r7 + ${at}) = r2`);
    } else {
      g.emit(`r2 = *(${SZ[size]} *)(r0 + ${off})`);
      g.emit(`*(u32 *)(r7 + ${g.slot(`${prefix}.${n}`)}) = r2`);
    }
  }
}

/** A lookup of the tuple at r10-64; logs found / the fields / skb->sk equality, then releases. */
function lookup(g: Gen, name: string, helper: 'tcp' | 'udp' | 'skc', opts: { len?: number; netns?: string; flags?: number; fields?: boolean } = {}): void {
  const id = helper === 'tcp' ? 'bpf_sk_lookup_tcp#84' : helper === 'udp' ? 'bpf_sk_lookup_udp#85' : 'bpf_skc_lookup_tcp#99';
  const done = g.lbl();
  g.emit(`r1 = r6\nr2 = r10\nr2 += ${TUPLE}\nr3 = ${opts.len ?? 12}\nr4 = ${opts.netns ?? '0xffffffffffffffff ll'}\nr5 = ${opts.flags ?? 0}`);
  g.emit(`call ${id}`);
  g.emit(`if r0 == 0 goto ${done}`);
  g.emit(`*(u32 *)(r7 + ${g.slot(`${name}.found`)}) = 1`);
  if (opts.fields !== false) {
    g.emit(`r2 = 0\nif r0 != r9 goto ${done}x\nr2 = 1\n${done}x:`);
    g.emit(`*(u32 *)(r7 + ${g.slot(`${name}.isSkbSk`)}) = r2`);
    readFields(g, name, helper === 'skc' ? COMMON_FIELDS : FULL_FIELDS);
    g.emit(`*(u64 *)(r10 - 104) = r0`);
    const casts: [string, string, [string, number, number][]][] = [
      ['bpf_skc_to_tcp_sock#137', 'toTcp', TCP_SOCK_BTF], ['bpf_skc_to_tcp_timewait_sock#138', 'toTw', TW_BTF],
      ['bpf_skc_to_tcp_request_sock#139', 'toReq', []], ['bpf_skc_to_tcp6_sock#136', 'toTcp6', []], ['bpf_skc_to_udp6_sock#140', 'toUdp6', []],
      ['bpf_skc_to_unix_sock#178', 'toUnix', []], ['bpf_skc_to_mptcp_sock#196', 'toMptcp', []],
    ];
    for (const [call, n, fields] of casts) {
      const skip = g.lbl();
      g.emit(`r1 = *(u64 *)(r10 - 104)\ncall ${call}\nif r0 == 0 goto ${skip}`);
      g.emit(`*(u32 *)(r7 + ${g.slot(`${name}.${n}`)}) = 1`);
      readFields(g, name, fields);
      g.emit(`${skip}:`);
    }
    g.emit(`r0 = *(u64 *)(r10 - 104)`);
  }
  g.emit(`r1 = r0\ncall bpf_sk_release#86`);
  g.emit(`${done}:`);
}

function verdictProgram(): Gen {
  const g = new Gen();
  g.emit(NEXT_LOG_SLOT);
  g.emit(`r2 = *(u32 *)(r6 + 0)\n*(u32 *)(r7 + ${g.slot('len')}) = r2`);
  g.emit(`r9 = *(u64 *)(r6 + 168)\nif r9 == 0 goto out`);
  // Bit 7 of the receiving socket's snd_una (= the ack number of the skb): see the KERNEL note in the test below.
  g.emit(`r1 = r9\ncall bpf_skc_to_tcp_sock#137\nif r0 == 0 goto out\nr2 = *(u32 *)(r0 + 1672)\nr2 &= 0x80\n*(u32 *)(r7 + ${g.slot('l3slave')}) = r2`);
  g.emit(`r2 = *(u32 *)(r0 + 1668)\nr3 = *(u32 *)(r0 + 1672)\nr2 -= r3\n*(u32 *)(r7 + ${g.slot('skbSk.tp.inFlight')}) = r2`);
  // skb->sk read as a bpf_sock (sock_common fields)
  g.emit('r0 = r9');
  readFields(g, 'skbSk', COMMON_FIELDS.filter(([n]) => ['family', 'state', 'src_port', 'dst_port', 'src_ip4', 'dst_ip6_3'].includes(n)));
  // The first connection's tuple, kept in map 3 (stored by the first run).
  writeTuple(g, 'self');
  g.emit(`*(u32 *)(r10 - 4) = 0\nr1 = map[idx:3]\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem#1\nif r0 == 0 goto out`);
  g.emit(`r2 = *(u32 *)(r0 + 0)\nif r2 != 0 goto have`);
  for (const o of [0, 4, 8]) g.emit(`r2 = *(u32 *)(r10 - ${-(TUPLE + o)})\n*(u32 *)(r0 + ${o}) = r2`);
  g.emit('have:');
  for (const o of [0, 4, 8]) g.emit(`r2 = *(u32 *)(r0 + ${o})\n*(u32 *)(r10 - ${-(PREV + o)}) = r2`);
  for (const t of ['self', 'peer', 'listener', 'prevSelf', 'prevPeer'] as const) {
    writeTuple(g, t);
    lookup(g, `${t}.tcp`, 'tcp');
    lookup(g, `${t}.skc`, 'skc');
    lookup(g, `${t}.udp`, 'udp', { fields: false });
  }
  // Argument cases on the own tuple: found or not.
  writeTuple(g, 'self');
  g.emit(`*(u64 *)(r10 - ${-(TUPLE + 16)}) = 0\n*(u64 *)(r10 - ${-(TUPLE + 24)}) = 0\n*(u32 *)(r10 - ${-(TUPLE + 32)}) = 0\n*(u32 *)(r10 - ${-(TUPLE + 12)}) = 0`);
  const cases: [string, { len?: number; netns?: string; flags?: number }][] = [
    ['len0', { len: 0 }], ['len11', { len: 11 }], ['len13', { len: 13 }], ['len36', { len: 36 }], ['flags1', { flags: 1 }],
    ['netns0', { netns: '0' }], ['netns7fffffff', { netns: '0x7fffffff ll' }], ['netns80000000', { netns: '0x80000000 ll' }],
    ['netnsFFFFFFFF', { netns: '0xffffffff ll' }], ['netns1_00000000', { netns: '0x100000000 ll' }],
    ['netns1_FFFFFFFF', { netns: '0x1ffffffff ll' }], ['netns1_7FFFFFFF', { netns: '0x17fffffff ll' }],
  ];
  for (const [n, o] of cases) {
    lookup(g, `arg.${n}`, 'tcp', { ...o, fields: false });
    lookup(g, `arg.${n}.skc`, 'skc', { ...o, fields: false });
  }
  // UDP: the unconnected socket on 10001, the one on 10002 connected to 10001 (matches only that source).
  const udp: [string, { s: number; d: number; sp: number; dp: number }][] = [
    ['udp1', { s: LO_LE, d: LO_LE, sp: 1, dp: UDP1 }], ['udp2conn', { s: LO_LE, d: LO_LE, sp: UDP1, dp: UDP2 }],
    ['udp2other', { s: LO_LE, d: LO_LE, sp: 1, dp: UDP2 }], ['udp1otherAddr', { s: LO_LE, d: 0x0200007f, sp: 1, dp: UDP1 }],
    ['tcpOnUdpPort', { s: LO_LE, d: LO_LE, sp: 1, dp: UDP1 }], ['listenerOtherAddr', { s: LO_LE, d: 0x0200007f, sp: 1, dp: LISTEN_PORT }],
  ];
  for (const [n, t] of udp) {
    writeTuple(g, t);
    if (n === 'tcpOnUdpPort' || n === 'listenerOtherAddr') lookup(g, n, 'tcp');
    else lookup(g, n, 'udp');
  }
  g.emit('out:\nr0 = 1\nexit');
  return g;
}

const enc = (t: string): Uint8Array => new TextEncoder().encode(t);

/** Map 0: the Gen's log (`rows` records of its slots, filled through NEXT_LOG_SLOT); map 1: its record counter. */
const logMaps = (g: Gen, rows: number): NonNullable<Scenario['maps']> => [
  { type: MapType.ARRAY, keySize: 4, valueSize: 4 * g.names.length, maxEntries: rows },
  { type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 },
];

function scenario(g: Gen): Scenario {
  return {
    netns: true,
    maps: [
      ...logMaps(g, 16),
      { type: MapType.SOCKMAP, keySize: 4, valueSize: 8, maxEntries: 4 },
      { type: MapType.ARRAY, keySize: 4, valueSize: 12, maxEntries: 1 },
    ],
    progs: [{ progType: ProgType.SK_SKB, expectedAttachType: AttachType.SK_SKB_VERDICT, insns: assemble(g.code) }],
    steps: [
      { op: 'listen', name: 'l1', port: LISTEN_PORT },
      { op: 'udp', name: 'u1', port: UDP1 },
      { op: 'udp', name: 'u2', port: UDP2 },
      { op: 'udpConnect', sock: 'u2', to: 'u1' },
      { op: 'attach', prog: 0, map: 2, attachType: AttachType.SK_SKB_VERDICT },
      { op: 'connect', name: 'c1', listener: 'l1', label: 'c1' },
      { op: 'accept', name: 'p1', listener: 'l1' },
      { op: 'sockUpdate', map: 2, key: 0, sock: 'p1' },
      { op: 'send', sock: 'c1', data: new TextEncoder().encode('hello') },
      { op: 'sleep', ms: 20 },
      { op: 'close', sock: 'c1' },
      // p1 acknowledges the FIN with a delayed ACK (up to 40 ms): then c1 becomes a time-wait socket.
      { op: 'sleep', ms: 100 },
      // Phase A (6-byte sends): c1 is a time-wait socket, p1 in CLOSE_WAIT.
      ...CLIENTS.flatMap((c, i): Scenario['steps'] => [
        { op: 'connect', name: c, listener: 'l1', label: c },
        { op: 'accept', name: `p${c}`, listener: 'l1' },
        { op: 'sockUpdate', map: 2, key: i + 1, sock: `p${c}` },
        { op: 'send', sock: c, data: new TextEncoder().encode('world!') },
        { op: 'sleep', ms: 10 },
      ]),
      // Phase B (5-byte sends): p1 closed too; its tuple now leads to the listener.
      { op: 'close', sock: 'p1' },
      { op: 'sleep', ms: 50 },
      ...CLIENTS.flatMap((c): Scenario['steps'] => [{ op: 'send', sock: c, data: new TextEncoder().encode('again') }, { op: 'sleep', ms: 10 }]),
    ],
  };
}

/** The log as records of name → value, with the clients' ports named. */
function view(r: ScenarioResult, names: string[], clients = ['c1', ...CLIENTS]): Record<string, number | string>[] {
  const ports = new Map<number, string>();
  for (const l of clients) ports.set(r.byLabel[l]!.port!, l);
  const portName = (v: number): number | string => ports.get(v) ?? v;
  return logRecords(r).map((dv) => {
    const rec: Record<string, number | string> = {};
    names.forEach((name, i) => {
      const v = dv.getUint32(4 * i, true);
      if (v === 0) return; // zeroes (not found, not read) are left out
      if (/(src_port|skc_num)$/.test(name)) rec[name] = portName(v);
      else if (/(dst_port|dst_port16|skc_dport)$/.test(name)) rec[name] = portName(be16le(v));
      else rec[name] = v;
    });
    return rec;
  });
}

/**
 * Runs `s` in the kernel (which must set it up; `kernel`: its result when the caller ran it already) and in the
 * model; asserts that both logs agree (see view) and returns the kernel's.
 */
function kernelAgreed(s: Scenario, names: string[], clients: string[], kernel = runScenario(s)): Record<string, number | string>[] {
  if (!kernel.ok) console.log(kernel.setupError?.log.slice(-3000));
  expect(kernel.ok).toBe(true);
  const k = view(kernel, names, clients);
  expect(view(runModelScenario(s, new Kernel()).result, names, clients)).toEqual(k);
  return k;
}

suite('socket lookup helpers: model vs kernel', () => {
  it('sk_lookup_tcp / sk_lookup_udp / skc_lookup_tcp / sk_release and the skc_to_* casts from an SK_SKB verdict program', () => {
    const g = verdictProgram();
    const s = scenario(g);
    const model = view(runModelScenario(s, new Kernel()).result, g.names);
    const key = (r: Record<string, number | string>): string => `${r['skbSk.dst_port']}/${r['len'] ?? 0}`;
    const byKey = new Map(model.map((r) => [key(r), r]));
    // KERNEL quirk: __bpf_skc_lookup takes sdif from inet_sdif(skb), which reads IPCB(skb)->flags — on an SK_SKB
    // skb those bytes are TCP_SKB_CB's ack_seq. When its bit 7 (IPSKB_L3SLAVE) is set, sdif = IPCB->iif (the
    // segment's seq, non-zero) and no socket bound to no device matches (tcp/udp_l3mdev_accept 0): every lookup
    // returns NULL. The ack number is random (the receiver's ISN), so half of the connections see only NULLs. The
    // model's sequence numbers start at 0 (cb seq reads 0, so sdif is 0): its lookups always search. Records whose
    // skb has the bit set are checked for "nothing found" only; the others are compared with the model. The
    // scenario is repeated (at most 4 times) until both phases have a connection without the bit.
    let compared: string[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const kernel = runScenario(s);
      if (!kernel.ok) console.log(kernel.setupError?.log.slice(-3000));
      expect(kernel.ok).toBe(true);
      expect(kernel.netns?.ok).toBe(true);
      const k = view(kernel, g.names);
      expect(k.map(key).sort()).toEqual(model.map(key).sort());
      compared = [];
      for (const kr of k) {
        if (kr['l3slave'] !== undefined) {
          expect(Object.keys(kr).filter((n) => n.endsWith('.found'))).toEqual([]);
          continue;
        }
        // KERNEL: a socket's rx_queue_mapping reads -1 (no queue recorded) in almost every run, but the host
        // has also shown 0 for the receiving socket (seen once in ~10 runs; it depends on the skb that last
        // reached it). The model keeps -1: a kernel 0 (left out of the record) is taken as agreeing.
        const m = { ...byKey.get(key(kr)) };
        for (const n of Object.keys(m)) if (n.endsWith('.rx_queue_mapping') && m[n] === 0xffffffff && kr[n] === undefined) delete m[n];
        expect(m, `verdict run ${key(kr)}`).toEqual(kr);
        compared.push(key(kr));
      }
      if (compared.some((c) => c.endsWith('/6')) && compared.some((c) => c !== 'c1/5' && c.endsWith('/5'))) break;
    }
    console.log(`socket lookups: ${compared.length} of ${model.length} verdict runs compared with the kernel (${compared.join(' ')}), ${g.names.length} log slots each`);
    expect(compared.some((c) => c.endsWith('/6'))).toBe(true);
    // The model found what the kernel finds in the interesting cases:
    const a = model.find((r) => key(r) === 'c2/6')!;
    expect([a['prevSelf.tcp.state'], a['prevPeer.skc.state'], a['prevPeer.skc.toTw'], a['prevPeer.tcp.found']]).toEqual([8, 6, 1, undefined]);
    const b = model.find((r) => key(r) === 'c2/5')!;
    expect([b['prevSelf.tcp.state'], b['prevPeer.skc.state']]).toEqual([10, 6]);
  });
});

/**
 * bpf_tcp_sock fields compared ([name, offset, size]). Left out: the clock- and ISN-dependent ones, snd_cwnd (the
 * kernel's grows with ACKs: 4, 10, 11, 12 in one run; the model keeps 10) and mss_cache (32768 in the kernel once
 * data flowed; the model keeps the handshake's value).
 */
const TCP_SOCK_FIELDS: [string, number, number][] = [
  ['snd_ssthresh', 12, 4], ['ecn_flags', 32, 4], ['retrans_out', 48, 4],
  ['total_retrans', 52, 4], ['data_segs_in', 60, 4], ['data_segs_out', 68, 4], ['lost_out', 72, 4], ['sacked_out', 76, 4],
  ['bytes_received', 80, 8], ['bytes_acked', 88, 8], ['dsack_dups', 96, 4], ['delivered_ce', 104, 4], ['icsk_retransmits', 108, 4],
];

/** SOCK_OPS: every callback logs op, args, skops->sk (NULL for request sockets) read as a bpf_sock, bpf_tcp_sock. */
function sockOpsProgram(): Gen {
  const g = new Gen();
  g.emit(NEXT_LOG_SLOT);
  for (const [n, off] of [['op', 0], ['arg0', 4], ['arg1', 8], ['fullsock', 72]] as const) g.emit(`r2 = *(u32 *)(r6 + ${off})\n*(u32 *)(r7 + ${g.slot(n)}) = r2`);
  // op 11 (LISTEN) / 3 (CONNECT) / 5 (PASSIVE_ESTABLISHED): ask for STATE_CB (flag 4) to follow the close.
  g.emit(`r2 = *(u32 *)(r6 + 0)\nif r2 == 11 goto fl\nif r2 == 3 goto fl\nif r2 == 5 goto fl\ngoto sk\nfl:\nr1 = r6\nr2 = 4\ncall bpf_sock_ops_cb_flags_set#59\nsk:`);
  g.emit(`r1 = *(u64 *)(r6 + 184)\nif r1 == 0 goto out`);
  g.emit(`*(u32 *)(r7 + ${g.slot('sk')}) = 1`);
  g.emit('r0 = r1');
  readFields(g, 'sk', FULL_FIELDS.filter(([n]) => ['family', 'type', 'protocol', 'state', 'src_port', 'dst_port', 'src_ip6_3'].includes(n)));
  g.emit(`call bpf_tcp_sock#96\nif r0 == 0 goto out`);
  g.emit(`*(u32 *)(r7 + ${g.slot('tp')}) = 1`);
  readFields(g, 'tp', TCP_SOCK_FIELDS);
  g.emit(`r2 = *(u32 *)(r0 + 20)\nr3 = *(u32 *)(r0 + 24)\nr2 -= r3\n*(u32 *)(r7 + ${g.slot('tp.snd_nxt-snd_una')}) = r2`);
  g.emit('out:\nr0 = 1\nexit');
  return g;
}

suite('bpf_tcp_sock: model vs kernel', () => {
  it('a SOCK_OPS program reads skops->sk and bpf_tcp_sock in every callback of a connection with data and its close', (ctx) => {
    const g = sockOpsProgram();
    const s: Scenario = {
      netns: true,
      maps: logMaps(g, 48),
      progs: [{ progType: ProgType.SOCK_OPS, expectedAttachType: AttachType.CGROUP_SOCK_OPS, insns: assemble(g.code) }],
      steps: [
        { op: 'cgroupAttach', prog: 0 },
        { op: 'listen', name: 'l1', port: LISTEN_PORT },
        { op: 'connect', name: 'c1', listener: 'l1', label: 'c1' },
        { op: 'accept', name: 'p1', listener: 'l1' },
        { op: 'send', sock: 'c1', data: enc('0123456789') },
        { op: 'send', sock: 'p1', data: enc('abc') },
        { op: 'recv', sock: 'p1', maxLen: 100 },
        { op: 'recv', sock: 'c1', maxLen: 100 },
        { op: 'sleep', ms: 100 },
        { op: 'close', sock: 'c1' },
        { op: 'sleep', ms: 100 },
        { op: 'close', sock: 'p1' },
        { op: 'sleep', ms: 50 },
      ],
    };
    const kernel = runScenario(s);
    if (!kernel.cgroup?.ok) return ctx.skip(`no usable cgroup v2: ${kernel.cgroup?.reason}`);
    const k = kernelAgreed(s, g.names, ['c1'], kernel);
    console.log(`bpf_tcp_sock: ${k.length} sock_ops callbacks agree (ops ${k.map((r) => r['op']).join(',')})`);
    // request sockets: skops->sk is NULL; the established child reads its TCP fields
    expect(k.some((r) => r['fullsock'] === undefined && r['sk'] === undefined)).toBe(true);
    expect(k.some((r) => r['tp.bytes_received.lo'] === 11)).toBe(true); // 10 bytes + the FIN
  });
});

suite('sk_msg_md.sk as a bpf_sock: model vs kernel', () => {
  it('an SK_MSG program reads msg->sk and casts it with bpf_skc_to_tcp_sock', () => {
    const g = new Gen();
    g.emit(NEXT_LOG_SLOT);
    g.emit(`r2 = *(u32 *)(r6 + 68)\n*(u32 *)(r7 + ${g.slot('size')}) = r2`);
    g.emit('r1 = *(u64 *)(r6 + 72)\nr0 = r1');
    readFields(g, 'sk', FULL_FIELDS);
    g.emit(`call bpf_skc_to_tcp_sock#137\nif r0 == 0 goto out\n*(u32 *)(r7 + ${g.slot('toTcp')}) = 1`);
    readFields(g, 'sk', TCP_SOCK_BTF);
    g.emit('out:\nr0 = 1\nexit');
    const s: Scenario = {
      netns: true,
      maps: [
        ...logMaps(g, 8),
        { type: MapType.SOCKMAP, keySize: 4, valueSize: 8, maxEntries: 2 },
      ],
      progs: [{ progType: ProgType.SK_MSG, expectedAttachType: AttachType.SK_MSG_VERDICT, insns: assemble(g.code) }],
      steps: [
        { op: 'attach', prog: 0, map: 2, attachType: AttachType.SK_MSG_VERDICT },
        { op: 'listen', name: 'l1', port: LISTEN_PORT },
        { op: 'connect', name: 'c1', listener: 'l1', label: 'c1' },
        { op: 'accept', name: 'p1', listener: 'l1' },
        { op: 'sockUpdate', map: 2, key: 0, sock: 'c1' },
        { op: 'send', sock: 'c1', data: enc('hello') },
        { op: 'recv', sock: 'p1', maxLen: 100 },
        { op: 'send', sock: 'p1', data: enc('xy') },
        { op: 'recv', sock: 'c1', maxLen: 100 },
        { op: 'send', sock: 'c1', data: enc('world!') },
      ],
    };
    const k = kernelAgreed(s, g.names, ['c1']);
    expect(k.map((r) => r['sk.tp.bytes_acked.lo'])).toEqual([1, 6]);
    console.log(`sk_msg_md.sk: ${k.length} runs x ${g.names.length} values agree`);
  });
});

suite('skb->sk of UDP and AF_UNIX sockets: model vs kernel', () => {
  it('an SK_SKB verdict program reads skb->sk and tries every skc_to_* cast on it', () => {
    const g = new Gen();
    g.emit(NEXT_LOG_SLOT);
    g.emit(`r2 = *(u32 *)(r6 + 0)\n*(u32 *)(r7 + ${g.slot('len')}) = r2`);
    g.emit('r9 = *(u64 *)(r6 + 168)\nif r9 == 0 goto out\nr0 = r9');
    readFields(g, 'skbSk', COMMON_FIELDS);
    const casts: [string, string, [string, number, number][]][] = [
      ['bpf_skc_to_unix_sock#178', 'toUnix', [['skc_family', 16, 2], ['skc_state', 18, 1], ['sk_type', 534, 2], ['sk_protocol', 532, 2]]],
      ['bpf_skc_to_tcp_sock#137', 'toTcp', []], ['bpf_skc_to_udp6_sock#140', 'toUdp6', []], ['bpf_skc_to_tcp6_sock#136', 'toTcp6', []],
      ['bpf_skc_to_tcp_timewait_sock#138', 'toTw', []], ['bpf_skc_to_tcp_request_sock#139', 'toReq', []], ['bpf_skc_to_mptcp_sock#196', 'toMptcp', []],
    ];
    for (const [c, n, fields] of casts) {
      const skip = g.lbl();
      g.emit(`r1 = r9\ncall ${c}\nif r0 == 0 goto ${skip}\n*(u32 *)(r7 + ${g.slot(n)}) = 1`);
      readFields(g, n, fields);
      g.emit(`${skip}:`);
    }
    g.emit('out:\nr0 = 1\nexit');
    const s: Scenario = {
      netns: true,
      maps: [
        ...logMaps(g, 8),
        { type: MapType.SOCKMAP, keySize: 4, valueSize: 8, maxEntries: 4 },
      ],
      progs: [{ progType: ProgType.SK_SKB, expectedAttachType: AttachType.SK_SKB_VERDICT, insns: assemble(g.code) }],
      steps: [
        { op: 'attach', prog: 0, map: 2, attachType: AttachType.SK_SKB_VERDICT },
        { op: 'udp', name: 'u1', port: UDP1 },
        { op: 'udp', name: 'u2', port: UDP2 },
        { op: 'udpConnect', sock: 'u1', to: 'u2' },
        { op: 'sockUpdate', map: 2, key: 0, sock: 'u1' },
        { op: 'sendto', sock: 'u2', to: 'u1', data: enc('hi') },
        { op: 'unixPair', names: ['a', 'b'], type: 'stream' },
        { op: 'sockUpdate', map: 2, key: 1, sock: 'a' },
        { op: 'send', sock: 'b', data: enc('yo!') },
        { op: 'unixPair', names: ['d1', 'd2'], type: 'dgram' },
        { op: 'sockUpdate', map: 2, key: 2, sock: 'd1' },
        { op: 'send', sock: 'd2', data: enc('dgram') },
        { op: 'sleep', ms: 20 },
      ],
    };
    const k = kernelAgreed(s, g.names, []);
    expect(k.map((r) => [r['len'], r['skbSk.family'], r['toUnix'] ?? 0])).toEqual([[2, 2, 0], [3, 1, 1], [5, 1, 1]]);
    console.log(`skb->sk of UDP / AF_UNIX: ${k.length} runs agree: ${JSON.stringify(k)}`);
  });
});
