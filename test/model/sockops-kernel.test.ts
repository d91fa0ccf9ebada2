/**
 * sock_ops differential tests: a tracing SOCK_OPS program attached to a cgroup records every callback it sees
 * (op, args, family, addresses, ports, is_fullsock, callback flags, state, mss_cache, data_segs_in / _out,
 * bytes_received / bytes_acked, the result of bpf_sock_ops_cb_flags_set and of a sock map insert) in an ARRAY, in
 * the host kernel (test/kernel/sockrun.c, a private cgroup v2) and in the model (root cgroup). Both logs, the sock
 * map contents and the step results must agree.
 *
 * Not compared: port numbers as such (both are mapped to "listener" / "client" names), mss_cache in STATE_CB
 * and the other TCP fields (snd_cwnd, sequence numbers and friends depend on real TCP). Skipped with the
 * reason when the kernel oracle or a cgroup v2 hierarchy is unavailable.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import {
  AttachType, MapType, ProgType, cgroupSkipReason, runScenario, sockAvailability, tcpPair, type Scenario, type ScenarioResult, type ScenarioStep,
} from '../kernel/sockrun.js';
import { bytes, skMsg, DROP } from '../kernel/sockrun-scenarios.js';
import { runModelScenario } from './sockmap-harness.js';
import { NEXT_LOG_SLOT, logRecords, recordValue } from './asm-snippets.js';

const avail = sockAvailability();
const suite = avail.ok ? describe : describe.skip;
if (!avail.ok) console.warn(`sock_ops differential tests skipped: ${avail.reason}`);

// ctx offsets recorded, in log order: op, args[0], args[1], family, remote_ip4, local_ip4, remote_port,
// local_port, is_fullsock, bpf_sock_ops_cb_flags, state, mss_cache, data_segs_in, data_segs_out, then the low
// halves of the u64 fields bytes_received and bytes_acked (U64_FIELDS: the kernel takes only 8-byte loads there)
const FIELDS = [0, 4, 8, 20, 24, 28, 64, 68, 72, 84, 88, 112, 144, 152, 168, 176];
const U64_FIELDS = new Set([168, 176]);
const NAMES = [
  'op', 'arg0', 'arg1', 'family', 'remoteIp4', 'localIp4', 'remotePort', 'localPort', 'fullsock', 'cbFlags', 'state', 'mss',
  'dataSegsIn', 'dataSegsOut', 'bytesReceived', 'bytesAcked', 'cbSetRet', 'insertRet',
];
const SLOT = 4 * NAMES.length;

/**
 * The tracer: log[n] = the fields above; on ops in `flagOps` (bit mask of op numbers) it calls
 * bpf_sock_ops_cb_flags_set(skops, cbFlags); then inserts the socket into map 2 at key n (a SOCKMAP with
 * bpf_sock_map_update, or a SOCKHASH with bpf_sock_hash_update) with `insertFlags`. Returns 1.
 */
function tracer(cbFlags: number, flagOps: number, hash: boolean, insertFlags = 0): string {
  let body = '';
  FIELDS.forEach((f, i) => (body += `r2 = *(${U64_FIELDS.has(f) ? 'u64' : 'u32'} *)(r6 + ${f})\n*(u32 *)(r7 + ${4 * i}) = r2\n`));
  return `
  ${NEXT_LOG_SLOT}
  ${body}
  r2 = *(u32 *)(r6 + 0)
  r3 = 1
  r3 <<= r2
  r3 &= ${flagOps}
  if r3 == 0 goto ins
  r1 = r6
  r2 = ${cbFlags}
  call bpf_sock_ops_cb_flags_set#59
  *(u32 *)(r7 + ${4 * NAMES.indexOf('cbSetRet')}) = r0
ins:
  *(u32 *)(r10 - 12) = r8
  r1 = r6
  r2 = map[idx:2]
  r3 = r10
  r3 += -12
  r4 = ${insertFlags}
  call ${hash ? 'bpf_sock_hash_update#70' : 'bpf_sock_map_update#53'}
  *(u32 *)(r7 + ${4 * NAMES.indexOf('insertRet')}) = r0
out:
  r0 = 1
  exit`;
}

function scenario(prog: string, hash: boolean, steps: ScenarioStep[], extra: Partial<Scenario> = {}): Scenario {
  return {
    maps: [
      { type: MapType.ARRAY, keySize: 4, valueSize: SLOT, maxEntries: 48 },
      { type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 },
      { type: hash ? MapType.SOCKHASH : MapType.SOCKMAP, keySize: 4, valueSize: 8, maxEntries: 48 },
      ...(extra.maps ?? []),
    ],
    progs: [{ progType: ProgType.SOCK_OPS, expectedAttachType: AttachType.CGROUP_SOCK_OPS, insns: assemble(prog) }, ...(extra.progs ?? [])],
    steps: [{ op: 'cgroupAttach', prog: 0, label: 'cg' }, ...steps],
  };
}

/** The log as records, ports replaced by the names of the sockets that own them. */
function log(r: ScenarioResult, ports: Map<number, string>): Record<string, number | string>[] {
  return logRecords(r).map((dv) => {
    const o: Record<string, number | string> = {};
    NAMES.forEach((nm, i) => {
      const v = dv.getUint32(4 * i, true);
      if (nm === 'remotePort') o[nm] = ports.get(((v >>> 24) | ((v >>> 8) & 0xff00)) & 0xffff) ?? (v === 0 ? 0 : `port ${v}`);
      else if (nm === 'localPort') o[nm] = ports.get(v) ?? `port ${v}`;
      else o[nm] = v | 0;
    });
    if (o.op === 10) delete o.mss; // mss_cache moves with real traffic
    return o;
  });
}

function portNames(s: Scenario, r: ScenarioResult): Map<number, string> {
  const m = new Map<number, string>();
  r.steps.forEach((st, i) => {
    const d = s.steps[i]! as { op: string; name?: string };
    if ((d.op === 'listen' || d.op === 'connect') && st.port !== undefined) m.set(st.port, d.name!);
  });
  return m;
}

function view(s: Scenario, r: ScenarioResult): unknown {
  return {
    steps: r.steps.map((st) => [st.op, st.ret]),
    log: log(r, portNames(s, r)),
    socks: r.maps[2]!.socks!.map((x) => [x.key[0], x.sock]),
    runs: r.progs.map((p) => p.runCnt),
    sockets: Object.fromEntries(Object.values(r.sockets).filter((k) => k.open).map((k) => [k.name, Buffer.from(k.data).toString('hex')])),
  };
}

function differential(s: Scenario, ctx: { skip: (why: string) => void }): { kernel: ScenarioResult; model: ScenarioResult } | null {
  const kernel = runScenario(s);
  const noCgroup = cgroupSkipReason(kernel);
  if (noCgroup !== null) {
    ctx.skip(noCgroup);
    return null;
  }
  expect(kernel.ok).toBe(true);
  const model = runModelScenario(s).result;
  const k = view(s, kernel) as { runs: number[] | null };
  const m = view(s, model) as { runs: number[] | null };
  if (!kernel.statsEnabled) k.runs = m.runs = null;
  expect(m).toEqual(k);
  return { kernel, model };
}

suite('sock_ops: model vs kernel', () => {
  it('handshake callbacks, context fields and inserts (SOCKMAP, BPF_ANY)', (ctx) => {
    const r = differential(scenario(tracer(0, 0, false), false, tcpPair('l1', 'c1', 'p1')), ctx);
    if (r === null) return;
    // listener (LISTEN_CB), client (ACTIVE), child (PASSIVE) are the members; every other op says EOPNOTSUPP
    expect(r.model.maps[2]!.socks!.map((x) => x.sock)).toEqual(['l1', 'c1', 'p1']);
    expect(log(r.model, new Map()).map((e) => e.op)).toEqual([11, 3, 2, 1, 6, 2, 1, 6, 4, 5]);
  });

  it('SOCKHASH inserts with BPF_NOEXIST; callback flags: unknown bits returned, request socket refused, child inherits', (ctx) => {
    // cb_flags_set(0x84) on TCP_LISTEN_CB (11), TCP_CONNECT_CB (3) and RWND_INIT (2, also on the request socket)
    differential(scenario(tracer(0x84, (1 << 11) | (1 << 3) | (1 << 2), true, 1), true, tcpPair('l1', 'c1', 'p1')), ctx);
  });

  it('STATE_CB through FIN on both sides (close, then close)', (ctx) => {
    differential(
      scenario(tracer(4, (1 << 11) | (1 << 3), false), false, [
        ...tcpPair('l1', 'c1', 'p1'),
        { op: 'close', sock: 'c1' },
        { op: 'sleep', ms: 50 },
        { op: 'close', sock: 'p1' },
        { op: 'sleep', ms: 50 },
        { op: 'close', sock: 'l1' },
      ]),
      ctx,
    );
  });

  it('STATE_CB through shutdown(SHUT_WR) on both sides, and a reset by closing with unread data', (ctx) => {
    differential(
      scenario(tracer(4, (1 << 11) | (1 << 3), false), false, [
        ...tcpPair('l1', 'c1', 'p1'),
        { op: 'shutdown', sock: 'c1', how: 'wr' },
        { op: 'sleep', ms: 50 },
        { op: 'shutdown', sock: 'p1', how: 'wr' },
        { op: 'sleep', ms: 50 },
        ...tcpPair('l2', 'c2', 'p2'),
        { op: 'send', sock: 'c2', data: bytes(1, 2, 3) },
        { op: 'sleep', ms: 50 },
        { op: 'close', sock: 'p2' },
        { op: 'sleep', ms: 50 },
      ]),
      ctx,
    );
  });

  it('sockets inserted by sock_ops take the map programs (SK_MSG DROP on both ends)', (ctx) => {
    const s = scenario(tracer(0, 0, false), false, [
      { op: 'attach', prog: 1, map: 2, attachType: AttachType.SK_MSG_VERDICT },
      ...tcpPair('l1', 'c1', 'p1'),
      { op: 'send', sock: 'c1', data: bytes(1) },
      { op: 'send', sock: 'p1', data: bytes(2) },
    ], { progs: [skMsg(DROP)] });
    const r = differential(s, ctx);
    if (r === null) return;
    expect(r.model.steps.slice(-2).map((x) => x.ret)).toEqual([-13, -13]);
  });

  it('bpf_get_socket_cookie(skops) is the SO_COOKIE of the listener, the client and the accepted child', (ctx) => {
    // cookies[op] = bpf_get_socket_cookie(skops) for TCP_LISTEN_CB (11), ACTIVE (4), PASSIVE (5)
    const prog = `
      r6 = r1
      r7 = *(u32 *)(r6 + 0)
      if r7 == 4 goto rec
      if r7 == 5 goto rec
      if r7 == 11 goto rec
      goto out
    rec:
      r1 = r6
      call bpf_get_socket_cookie#46
      ${recordValue(0, 'r7', 'r0')}
    out:
      r0 = 1
      exit`;
    const s: Scenario = {
      maps: [{ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 12 }],
      progs: [{ progType: ProgType.SOCK_OPS, expectedAttachType: AttachType.CGROUP_SOCK_OPS, insns: assemble(prog) }],
      steps: [{ op: 'cgroupAttach', prog: 0 }, ...tcpPair('l1', 'c1', 'p1'), { op: 'cookie', sock: 'l1' }, { op: 'cookie', sock: 'c1' }, { op: 'cookie', sock: 'p1' }],
    };
    for (const r of [runScenario(s), runModelScenario(s).result]) {
      const noCgroup = cgroupSkipReason(r);
      if (noCgroup !== null) {
        ctx.skip(noCgroup);
        return;
      }
      expect(r.ok, JSON.stringify(r.setupError)).toBe(true);
      const rec = (op: number): string => Buffer.from(r.maps[0]!.entries!.find((e) => e.key[0] === op)!.value).toString('hex');
      const so = (i: number): string => Buffer.from(r.steps[4 + i]!.data!).toString('hex');
      expect([rec(11), rec(4), rec(5)]).toEqual([so(0), so(1), so(2)]);
      expect(new Set([so(0), so(1), so(2)]).size).toBe(3);
    }
  });
});
