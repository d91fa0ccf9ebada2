/**
 * Runs a test/kernel/sockrun.ts Scenario in the bpfvm model (src/kernel/model.ts) and returns a result of the
 * same shape, so that one scenario can be run in the host kernel and in the model and compared field by field.
 *
 * Model counterparts of the harness semantics: maps created first (index = position) with their entries, then
 * programs loaded (lddw map[idx:N] → map N); steps in order with the same return conventions (ret >= 0 or
 * -errno); `sleep` and a `recv` step's poll timeout let virtual time pass (Kernel.advance: the TCP timers of
 * socket.ts fire); the final drain reads SO_ERROR of every open socket, then recv(65536, non-blocking) on every
 * open non-listening socket until it returns <= 0, letting 50 ms pass after each round while rounds bring bytes.
 * cgroupAttach attaches to the model's root cgroup (every model socket is in it, as every harness socket is in
 * the helper's private cgroup). Not supported (throws): link, unixPair of type seqpacket.
 */
import { Kernel, type KProgram } from '../../src/kernel/model.js';
import { SockMapBase } from '../../src/kernel/sockmap.js';
import { Socket } from '../../src/kernel/socket.js';
import type { MapSpec } from '../../src/spec.js';
import {
  patternBytes,
  type Key,
  type MapDump,
  type Scenario,
  type ScenarioResult,
  type SocketReport,
  type StepResult,
} from '../kernel/sockrun.js';

const leBytes = (v: number, size: number): Uint8Array => {
  const out = new Uint8Array(size);
  let x = BigInt(v);
  for (let i = 0; i < size; i++, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
};

export interface ModelRun {
  result: ScenarioResult;
  kernel: Kernel;
  sockets: Map<string, Socket>;
}

export function runModelScenario(s: Scenario, kernel = new Kernel()): ModelRun {
  const mapsIn = s.maps ?? [];
  const specs: MapSpec[] = mapsIn.map((m, i) => ({
    name: m.name ?? `map${i}`,
    type: m.type,
    typeName: '',
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    flags: m.flags ?? 0,
    section: '.maps',
  }));
  const result: ScenarioResult = { ok: true, statsEnabled: true, steps: [], byLabel: {}, sockets: {}, progs: [], maps: [] };
  const socks = new Map<string, Socket>();
  const listeners = new Set<string>();
  let maps;
  try {
    maps = kernel.createMaps(specs);
  } catch (e) {
    return { result: { ...result, ok: false, setupError: { stage: 'map_create', index: -1, errno: (e as { errno?: number }).errno ?? 0, log: String(e) } }, kernel, sockets: socks };
  }
  const keyOf = (mi: number, k: Key): Uint8Array => {
    const m = mapsIn[mi]!;
    if (typeof k === 'number') return leBytes(k, m.keySize);
    const out = new Uint8Array(m.keySize);
    out.set(k);
    return out;
  };
  mapsIn.forEach((m, i) => {
    for (const e of m.entries ?? []) {
      const v = typeof e.value === 'number' ? leBytes(e.value, m.valueSize) : e.value;
      const vv = new Uint8Array(m.valueSize);
      vv.set(v);
      maps.get(i).update(keyOf(i, e.key), vv, 0);
    }
  });
  const progs: KProgram[] = (s.progs ?? []).map((p, i) =>
    kernel.loadProgram({ insns: p.insns, type: p.progType, name: `prog${i}`, ...(p.expectedAttachType !== undefined ? { expectedAttachType: p.expectedAttachType } : {}) }),
  );
  const sock = (n: string): Socket => {
    const k = socks.get(n);
    if (k === undefined) throw new Error(`model scenario: no socket ${n}`);
    return k;
  };
  const dataResult = (r: Uint8Array | number): StepResult => (typeof r === 'number' ? { op: '', ret: r } : { op: '', ret: r.length, data: r });
  for (const st of s.steps) {
    let sr: StepResult;
    switch (st.op) {
      case 'attach':
        sr = { op: 'attach', ret: kernel.attach(progs[st.prog]!, maps.get(st.map), st.attachType) };
        break;
      case 'detach':
        sr = { op: 'detach', ret: kernel.detach(progs[st.prog]!, maps.get(st.map), st.attachType) };
        break;
      case 'listen': {
        const l = kernel.listen(st.port ?? 0);
        l.name = st.name;
        socks.set(st.name, l);
        listeners.add(st.name);
        sr = { op: 'listen', ret: 0, port: l.localPort };
        break;
      }
      case 'tcp': {
        const t = kernel.tcpSocket();
        t.name = st.name;
        socks.set(st.name, t);
        sr = { op: 'tcp', ret: 0 };
        break;
      }
      case 'connect': {
        const c = kernel.connect(sock(st.listener));
        if (typeof c === 'number') throw new Error(`model connect failed: ${c}`);
        c.name = st.name;
        socks.set(st.name, c);
        sr = { op: 'connect', ret: 0, port: c.localPort, peerPort: c.remotePort };
        break;
      }
      case 'accept': {
        const a = kernel.accept(sock(st.listener));
        if (typeof a === 'number') throw new Error(`model accept failed: ${a}`);
        a.name = st.name;
        socks.set(st.name, a);
        sr = { op: 'accept', ret: 0 };
        break;
      }
      case 'udp':
      case 'udpUnbound': {
        const u = kernel.udpSocket();
        u.name = st.name;
        socks.set(st.name, u);
        const ret = st.op === 'udp' ? kernel.bind(u, st.port ?? 0) : 0;
        sr = { op: st.op === 'udp' ? 'udp' : 'udp_unbound', ret, ...(st.op === 'udp' ? { port: u.localPort } : {}) };
        break;
      }
      case 'udpConnect':
        sr = { op: 'udp_connect', ret: kernel.udpConnect(sock(st.sock), sock(st.to)) };
        break;
      case 'sendto':
        sr = { op: 'sendto', ret: kernel.sendto(sock(st.sock), st.data, sock(st.to)) };
        break;
      case 'unixPair': {
        if (st.type === 'seqpacket') throw new Error('model scenario: AF_UNIX SOCK_SEQPACKET is not modelled');
        const [a, b] = kernel.socketpair(st.type ?? 'stream');
        a.name = st.names[0];
        b.name = st.names[1];
        socks.set(a.name, a);
        socks.set(b.name, b);
        sr = { op: 'unix_pair', ret: 0 };
        break;
      }
      case 'sockUpdate':
        sr = { op: 'sock_update', ret: kernel.mapUpdateSocket(maps.get(st.map), keyOf(st.map, st.key), sock(st.sock), st.flags ?? 0) };
        break;
      case 'mapUpdate': {
        const m = mapsIn[st.map]!;
        const v = typeof st.value === 'number' ? leBytes(st.value, m.valueSize) : st.value;
        sr = { op: 'map_update', ret: kernel.mapUpdate(maps.get(st.map), keyOf(st.map, st.key), v, st.flags ?? 0) };
        break;
      }
      case 'mapDelete':
        sr = { op: 'map_delete', ret: kernel.mapDelete(maps.get(st.map), keyOf(st.map, st.key)) };
        break;
      case 'mapLookup': {
        const r = kernel.mapLookup(maps.get(st.map), keyOf(st.map, st.key));
        sr = typeof r === 'number' ? { op: 'map_lookup', ret: r } : { op: 'map_lookup', ret: 0, data: r };
        break;
      }
      case 'mapNextKey': {
        const r = kernel.mapNextKey(maps.get(st.map), st.key === null ? null : keyOf(st.map, st.key));
        sr = typeof r === 'number' ? { op: 'map_next', ret: r } : { op: 'map_next', ret: 0, data: r };
        break;
      }
      case 'send':
        sr = { op: 'send', ret: kernel.send(sock(st.sock), st.data, st.flags ?? 0x4000) };
        break;
      case 'sendmsg': {
        const all = patternBytes(st.iovLen * st.iovCount);
        const iov = Array.from({ length: st.iovCount }, (_, i) => all.subarray(i * st.iovLen, (i + 1) * st.iovLen));
        sr = { op: 'sendmsg', ret: kernel.sendmsg(sock(st.sock), iov, st.flags ?? 0x4000) };
        break;
      }
      case 'sendfile':
        sr = { op: 'sendfile', ret: kernel.send(sock(st.sock), patternBytes(st.len), 0) };
        break;
      case 'recv':
        // The harness polls up to timeoutMs (default 100): virtual time passes while nothing is readable.
        kernel.waitReadable(sock(st.sock), st.timeoutMs ?? 100);
        sr = { ...dataResult(kernel.recv(sock(st.sock), st.maxLen, (st.flags ?? 0) | (st.peek ? 2 : 0))), op: 'recv' };
        if (sr.ret === 0) sr.data = new Uint8Array(0); // the harness reports the (empty) bytes of an EOF read
        break;
      case 'shutdown':
        sr = { op: 'shutdown', ret: kernel.shutdown(sock(st.sock), ({ rd: 0, wr: 1, rdwr: 2 } as const)[st.how ?? 'rdwr']) };
        break;
      case 'close':
        sr = { op: 'close', ret: kernel.close(sock(st.sock)) };
        break;
      case 'setsockopt':
        sr = { op: 'setsockopt', ret: kernel.setsockopt(sock(st.sock), st.level ?? 1, st.opt, st.value) };
        break;
      case 'getsockopt':
        sr = { op: 'getsockopt', ret: kernel.getsockopt(sock(st.sock), st.level ?? 1, st.opt) };
        break;
      case 'fionread':
        sr = { op: 'fionread', ret: kernel.fionread(sock(st.sock)) };
        break;
      case 'cookie':
        sr = { op: 'cookie', ret: 0, data: leBytes(Number(kernel.cookie(sock(st.sock))), 8) };
        break;
      case 'runCount':
        sr = { op: 'runcnt', ret: progs[st.prog]!.runCount };
        break;
      case 'sleep':
        kernel.advance(st.ms);
        sr = { op: 'sleep_ms', ret: 0 };
        break;
      case 'cgroupAttach':
        result.cgroup = { ok: true, reason: 'model root cgroup' };
        sr = { op: 'cgroup_attach', ret: kernel.cgroupAttach(progs[st.prog]!, '/', st.flags ?? 0) };
        break;
      default:
        throw new Error(`model scenario: step ${st.op} is not supported by the model yet`);
    }
    result.steps.push(sr);
    if (st.label !== undefined) result.byLabel[st.label] = sr;
  }
  // Final drain: SO_ERROR of every open socket first, then reads. The kernel harness polls until 50 ms pass
  // without new bytes; the model lets 50 ms of virtual time pass (TCP timers fire) after each round of reads and
  // stops when a round brings nothing.
  const reports = new Map<string, { rep: SocketReport; parts: Uint8Array[]; done: boolean }>();
  for (const [name, k] of socks) {
    const rep: SocketReport = { name, open: k.open, data: new Uint8Array(0), chunks: [], chunksTruncated: false, eof: false, recvErrno: 0, soError: 0 };
    if (k.open) rep.soError = kernel.getsockopt(k, 1, 4);
    reports.set(name, { rep, parts: [], done: !k.open || listeners.has(name) });
  }
  for (let round = 0; round < 64; round++) {
    let progress = false;
    for (const [name, d] of reports) {
      if (d.done) continue;
      const k = socks.get(name)!;
      // The kernel harness keeps polling for 50 ms after the last progress, so work a -EAGAIN read deferred
      // (the strparser's work item) gets to run: the model retries a few times.
      let again = 0;
      for (let guard = 0; guard < 10000; guard++) {
        const r = kernel.recv(k, 65536, 0x40);
        if (r === -11 && ++again < 8) continue;
        if (typeof r === 'number') {
          if (r === 0) d.rep.eof = true;
          else if (r !== -11) d.rep.recvErrno = -r;
          if (r !== -11) d.done = true;
          break;
        }
        if (r.length === 0) {
          d.rep.eof = true;
          d.done = true;
          break;
        }
        d.parts.push(r);
        d.rep.chunks.push(r.length);
        progress = true;
      }
    }
    if (!progress && round > 0) break;
    kernel.advance(50);
  }
  for (const [name, d] of reports) {
    const total = d.parts.reduce((a, p) => a + p.length, 0);
    d.rep.data = new Uint8Array(total);
    let o = 0;
    for (const p of d.parts) {
      d.rep.data.set(p, o);
      o += p.length;
    }
    result.sockets[name] = d.rep;
  }
  result.progs = progs.map((p) => ({ runCnt: p.runCount }));
  const nameOfCookie = (c: bigint): string | null => {
    for (const [n, k] of socks) if (k.open && k.cookie === c) return n;
    return null;
  };
  result.maps = maps.list.map((m): MapDump => {
    if (m instanceof SockMapBase) {
      const d: MapDump = { socks: [] };
      if (m.valueSize !== 8) {
        // The harness looks up every key get_next_key yields: SOCKMAP walks every index, SOCKHASH only members.
        if (m.type === 15 || m.count > 0) d.lookupErrno = 28;
        return d;
      }
      for (const { key, sock: k } of m.members()) d.socks!.push({ key, sock: nameOfCookie(k.cookie) });
      return d;
    }
    // As the kernel harness: keys whose lookup fails with ENOENT (empty PROG_ARRAY slots) are left out.
    const entries: { key: Uint8Array; value: Uint8Array }[] = [];
    for (const key of m.keys()) {
      try {
        entries.push({ key, value: m.lookup(key) });
      } catch (e) {
        if ((e as { errno?: number }).errno !== 2) throw e;
      }
    }
    return { entries };
  });
  return { result, kernel, sockets: socks };
}
