// The Kernel façade: one in-memory "machine" with a map collection, SK_MSG programs, TCP sockets on
// 127.0.0.1 and the sockmap/sockhash data path. Everything is synchronous and deterministic (see socket.ts for
// the TCP model and tcp_bpf.ts for the SK_MSG path). Results follow the syscalls: numbers >= 0, or -errno.
//
// Scope of this slice: SOCKMAP/SOCKHASH maps and their user-space API, SK_MSG verdict programs (attach,
// inheritance at insert, the sendmsg verdict loop, PASS / DROP / REDIRECT egress and ingress, apply, cork,
// pull/push/pop through skmsg.ts), psock-aware recv / FIONREAD, and the SK_SKB receive path (strparser and
// verdict mode, PASS / DROP / REDIRECT ingress and egress, the backlog: sk_skb_rx.ts, strparser.ts, sk_skb.ts).
// UDP sockets (udp.ts) and AF_UNIX socketpairs (unix.ts) share the Socket object, the sock maps and the SK_SKB
// verdict path; their send / recv / FIONREAD / shutdown / close rules live in those files.
// Not yet: sock_ops, links, TCP memory limits, blocking.
//
// One process: every socket shares one task page fragment (current->task_frag), as in the kernel harness,
// which makes sk_msg element sizes (data_end - data) depend on earlier sends exactly as on Linux. The kernel
// restarts that fragment page at offset 0 when nothing but the fragment references it (skb_page_frag_refill);
// the model decides that by scanning every place that holds message data: sockets' receive and write queues,
// psocks' held cork messages and ingress queues.

import type { CollectionSpec, MapSpec } from '../spec.js';
import { helperName } from '../../helpers/ids.js';
import { helperChangesPktData } from '../../helpers/protos.js';
import { Vm, type BoundProgram, type Tier } from '../../vm/interpreter.js';
import { BpfMap, BpfMapError, Maps, u32Bytes, ERRNO } from './maps/index.js';
import { MapsVm } from './maps/vm.js';
import { installMapKindHelpers } from './map-kind-helpers.js';
import { RingBufMap, consumeRingbufs, type RingbufRecord } from './maps/ringbuf.js';
import { installSkMsgHelpers, runSkMsgProgram, type SkMsgRunResult } from './skmsg-helpers.js';
import { PageFrag, type Page, type SkMsg, type SkMsgContextOptions } from './skmsg.js';
import {
  SockMapBase,
  skMsgRedirectTarget,
  sockMapAttach,
  sockMapDetach,
  type AttachableProg,
} from './sockmap.js';
import { psockRemoveAll } from './psock.js';
import {
  Errno,
  LOOPBACK_IP4,
  MSG_MORE,
  MSG_NOSIGNAL,
  RCV_SHUTDOWN,
  SEND_SHUTDOWN,
  SOL_SOCKET,
  SO_ERROR,
  SO_RCVBUF,
  SO_SNDBUF,
  Socket,
  TCP_CLOSE,
  TCP_CLOSE_WAIT,
  TCP_ESTABLISHED,
  TCP_LISTEN,
  TCP_SYN_SENT,
  releaseSkb,
  type SocketOptions,
} from './socket.js';
import { tcpBpfRecvmsg, tcpBpfSendmsg, tcpRecvNative, type TcpBpfEnv } from './tcp_bpf.js';
import { SkStorageMap } from './maps/sk-storage.js';
import { CgroupArrayMap, type CgroupRef } from './maps/cgroup-array.js';
import { CgroupIds, installBaseHelpers } from './base-helpers.js';
import type { ClockEvents, TimerFire, VirtualTimers } from './timers.js';
import { msToNs, type VirtualClock } from './clock.js';
import { CgroupStorages } from './cgroup-storage.js';
import { DEFAULT_SOCKOPT_SYSCTL, SOCKET_PROG_TYPES, inheritSockOpts, installGenericSocketHelpers, installLoadHdrOpt, installPerfEventOutput, installSkStorageHelpers, installSockOpsSockopt, socketHelperProvided, type SockoptSysctl, type SocketHelperOutput } from './sock-helpers.js';
import {
  BPF_SOCK_OPS_STATE_CB_FLAG,
  BpfTcpState,
  Cgroups,
  RequestSock,
  SockOp,
  cgroupPath,
  installSockOpsHelpers,
  runSockOps,
  sockOpsState,
  type SockOpsEnv,
} from './sockops.js';
import { TimeWaitSock, installSkLookupHelpers, sockPointer, sockViews, tcpStateOf } from './sk-lookup.js';
import { SkSkb, runSkSkbProgram, type SkSkbFields, type SkSkbRunResult } from './sk_skb.js';
import { SkSkbRx, hasVerdict } from './sk_skb_rx.js';
import { BPF_PROG_TYPE_SK_SKB, checkProgramHelpers } from './testrun.js';
import { udpBind, udpConnect, udpFionread, udpRecv, udpSendto, udpShutdown, type UdpEnv } from './udp.js';
import { unixFionread, unixPair, unixRecv, unixRelease, unixSend, unixShutdown } from './unix.js';
import type { SockKind } from './socket.js';

export { Socket } from './socket.js';
export { SockMap, SockHash, SockMapBase } from './sockmap.js';

export interface KernelOptions extends SocketOptions {
  /** VM tier for programs (default: Vm.defaultTier). */
  tier?: Tier;
  /** First ephemeral port (default 32768, counting up). */
  ephemeralBase?: number;
  /** What bpf_get_netns_cookie returns (default 1; the kernel's value depends on the machine). */
  netnsCookie?: bigint;
}

/** A loaded program. */
export class KProgram implements AttachableProg {
  runCount = 0;
  /** Calls a helper that changes packet data (bpf_helper_changes_pkt_data; tail_call included). */
  readonly changesPktData: boolean;
  constructor(
    readonly id: number,
    readonly name: string,
    readonly type: number,
    readonly expectedAttachType: number,
    readonly bound: BoundProgram,
  ) {
    const exe = bound.exe;
    let changes = false;
    for (let pc = 0; pc < exe.slots && !changes; pc++) {
      if (exe.op[pc] === 0x85 && exe.variant[pc] === 0 && helperChangesPktData(exe.imm[pc]!)) changes = true;
    }
    this.changesPktData = changes;
  }
}

export interface ProgramLoad {
  insns: Uint8Array;
  /** BPF_PROG_TYPE_* (16 sk_msg, 14 sk_skb). */
  type: number;
  name?: string;
  expectedAttachType?: number;
}

export type MapKey = number | Uint8Array;

/** One SK_MSG program run, as `Kernel.msgRunObserver` sees it (right after the run, before the verdict is applied). */
export interface MsgRunEvent {
  prog: KProgram;
  msg: SkMsg;
  sk: Socket;
  result: SkMsgRunResult;
  /** The last redirect helper call of this run that found a target: the map, the key bytes and the flags. */
  redirect: { map: BpfMap; key: Uint8Array; flags: number } | null;
}

/** Options of Kernel.runSkSkb (one skb through an SK_SKB program, outside any socket's receive path). */
export interface SkSkbRunOptions {
  /** skb->sk: the socket the skb belongs to (its cookie, addresses and ports); default none. */
  sock?: Socket;
  /** Bytes of the payload in the linear head (default 0, as TCP skbs on loopback). */
  linear?: number;
  /** Other __sk_buff field values (defaults: sk_skb.ts DEFAULT_SK_SKB_FIELDS). */
  fields?: Partial<SkSkbFields>;
}

export interface SkSkbRunOutcome extends SkSkbRunResult {
  /** The skb's bytes after the program (changed by store_bytes / change_tail / change_head / adjust_room). */
  data: Uint8Array;
}

/** net.core.wmem_default / rmem_default: SO_SNDBUF / SO_RCVBUF of new UDP and AF_UNIX sockets. */
const DGRAM_DEFAULT_BUF = 212992;

export class Kernel {
  readonly vm: Vm;
  /** The task page fragment every sendmsg copies into. */
  readonly frag = new PageFrag();
  /**
   * The backlog worker's page fragment: the kworker that runs sk_psock_backlog has its own task_frag, which an
   * egress redirect copies into when the target has an SK_MSG program (a native target references the skb's
   * pages instead). Never the process's fragment: the process may still hold a message on that page.
   */
  readonly workerFrag = new PageFrag();
  readonly programs: KProgram[] = [];
  maps: Maps | null = null;
  private mapsVm: MapsVm | null = null;
  private readonly fds = new Map<number, Socket>();
  private readonly all: Socket[] = [];
  /** Time-wait sockets left by TCP sockets that closed first (kept: the model has no 60 s timer; sk-lookup.ts). */
  private readonly timeWaitSocks: TimeWaitSock[] = [];
  private nextFd = 3;
  private nextPort: number;
  private readonly sockOpts: SocketOptions;
  readonly env: TcpBpfEnv;
  private readonly workerEnv: TcpBpfEnv;
  /** BPF_CGROUP_SOCK_OPS attachments (see sockops.ts for the model's cgroups). */
  readonly cgroups = new Cgroups();
  /** The cgroup new sockets are created in (the "process's" cgroup); accepted children take the listener's. */
  currentCgroup = '/';
  /** cgroup ids of the model's cgroup paths (bpf_get_current_cgroup_id; base-helpers.ts). */
  readonly cgroupIds = new CgroupIds();
  /** BPF timers on the virtual clock (timers.ts); advanceTime / advance run their callbacks. */
  readonly timers: VirtualTimers;
  /** Cgroup storage of cgroup attachments and bpf_get_local_storage (cgroup-storage.ts). */
  readonly cgroupStorages = new CgroupStorages(this.cgroupIds, () => this.maps);
  private readonly sockOpsEnv: SockOpsEnv = { cookieOf: (sk) => (sk instanceof RequestSock ? sk.cookie(() => this.tcpSocketCookie()) : sk.cookie) };
  /**
   * The Kernel's one virtual time (ns, clock.ts): bpf_ktime_get_ns & co read it, BPF timers and the sockets' TCP
   * timers are due on it; it moves through advanceTime() / advance() / waitReadable() (and a step per read).
   */
  readonly clock: VirtualClock;
  /** The SK_SKB receive path (data-ready, verdicts, backlogs). */
  readonly rx: SkSkbRx;
  /** Called after every SK_MSG program run (bpfvm run and bpfvm/testing report from it); null = nobody. */
  msgRunObserver: ((e: MsgRunEvent) => void) | null = null;
  /** What programs print: bpf_trace_printk messages (sock-helpers.ts). */
  readonly helperOutput: SocketHelperOutput;
  /** net.core.wmem_max / rmem_max as bpf_setsockopt(SO_SNDBUF / SO_RCVBUF) clamps to (kernel defaults; mutable). */
  readonly sysctl: SockoptSysctl = { ...DEFAULT_SOCKOPT_SYSCTL };

  constructor(opts: KernelOptions = {}) {
    this.vm = new Vm({ ...(opts.tier !== undefined ? { tier: opts.tier } : {}), helperName });
    installSkMsgHelpers(this.vm);
    installSockOpsHelpers(this.vm);
    // Generic helpers every socket program type may call (bpf_base_func_proto), deterministic here, and the
    // sock_ops socket-option helpers (sock-helpers.ts).
    this.helperOutput = installGenericSocketHelpers(this.vm, opts.netnsCookie !== undefined ? { netnsCookie: opts.netnsCookie } : {});
    installSockOpsSockopt(this.vm, this.sysctl);
    installLoadHdrOpt(this.vm);
    installPerfEventOutput(this.vm);
    installMapKindHelpers(this.vm); // queue / stack, ring buffers, dynptrs (map-kind-helpers.ts)
    installSkLookupHelpers(this.vm, { sockets: () => this.all, timeWait: () => this.timeWaitSocks });
    this.clock = this.helperOutput.clock;
    this.timers = installBaseHelpers(this.vm, {
      mapsVm: () => this.mapsVm, clock: this.helperOutput.clock, currentCgroup: () => this.currentCgroup, cgroupIds: this.cgroupIds,
    });
    this.cgroupStorages.install(this.vm, () => this.mapsVm);
    this.nextPort = opts.ephemeralBase ?? 32768;
    this.sockOpts = { ...(opts.segmentSize !== undefined ? { segmentSize: opts.segmentSize } : {}), ...(opts.mss !== undefined ? { mss: opts.mss } : {}) };
    this.env = {
      taskFrag: () => this.taskFrag(),
      runMsgProgram: (prog, msg, sk) => this.runMsgProgram(prog as KProgram, msg, sk),
    };
    this.workerEnv = { ...this.env, taskFrag: () => this.taskFrag(this.workerFrag) };
    this.rx = new SkSkbRx({
      vm: this.vm,
      bound: (prog) => (prog as KProgram).bound,
      send: (sk, data, flags, pages) => this.send(sk, data, flags, pages),
    });
  }

  // ---- virtual time ------------------------------------------------------------------------------------------

  /**
   * Lets `ns` nanoseconds of virtual time pass: every timer that falls due by then fires, in time order — BPF
   * timer callbacks (timers.ts) and the sockets' TCP timers (the peer's delayed ACK, which sends MSG_MORE-held
   * data behind it; the probe timer for data held with nothing in flight; socket.ts), a TCP timer first when
   * both are due at the same nanosecond. `until`, checked after each event, stops early (time stays at that
   * event). Returns the BPF timer callbacks that ran.
   */
  advanceTime(ns: bigint | number, until?: () => boolean): TimerFire[] {
    if (typeof ns === 'number' && !Number.isSafeInteger(ns)) throw new RangeError(`advanceTime: ${ns} is not a whole number of nanoseconds`);
    return this.timers.advance(BigInt(ns), this.tcpTimers, until);
  }

  /** advanceTime in milliseconds (`ms` finite and >= 0; fractions are rounded to whole nanoseconds). */
  advance(ms: number, until?: () => boolean): TimerFire[] {
    return this.advanceTime(msToNs(ms, 'advance'), until);
  }

  /** The sockets' TCP timers as events on the virtual clock (for VirtualTimers.advance). */
  private readonly tcpTimers: ClockEvents = {
    nextDueNs: () => this.nextTcpTimer()?.at ?? null,
    runNext: () => {
      const n = this.nextTcpTimer()!;
      if (n.probe) n.sock.probe();
      else {
        n.sock.delackDue = null;
        n.sock.ack();
      }
    },
  };

  private nextTcpTimer(): { sock: Socket; at: bigint; probe: boolean } | null {
    let next: { sock: Socket; at: bigint; probe: boolean } | null = null;
    for (const s of this.all) {
      if (s.delackDue !== null && (next === null || s.delackDue < next.at)) next = { sock: s, at: s.delackDue, probe: false };
      if (s.probeDue !== null && (next === null || s.probeDue < next.at)) next = { sock: s, at: s.probeDue, probe: true };
    }
    return next;
  }

  /** The virtual time now (ns; what the next bpf_ktime_get_ns returns). */
  get timeNs(): bigint {
    return this.timers.nowNs;
  }

  // ---- maps and programs -------------------------------------------------------------------------------------

  /** Creates the collection's maps (once per Kernel; lddw map[idx:N] refers to specs[N]). Throws BpfMapError. */
  createMaps(specs: readonly MapSpec[] | Pick<CollectionSpec, 'maps'>): Maps {
    if (this.maps !== null) throw new Error('Kernel.createMaps: this kernel already has its maps (one collection per Kernel)');
    const list = 'maps' in specs ? specs.maps : specs;
    const maps = new Maps(list);
    for (const m of maps.list) if (m instanceof SockMapBase || m instanceof SkStorageMap) m.fdResolver = (fd) => this.fds.get(fd) ?? null;
    for (const m of maps.list) if (m instanceof CgroupArrayMap) m.cgroupOfFd = (fd) => this.cgroupFds.get(fd) ?? null;
    this.maps = maps;
    this.mapsVm = new MapsVm(maps, this.vm.space);
    this.mapsVm.install(this.vm);
    installSkStorageHelpers(this.vm, this.mapsVm);
    return maps;
  }

  loadProgram(p: ProgramLoad): KProgram {
    const id = this.programs.length + 1;
    const name = p.name ?? `prog${id}`;
    const bound = this.vm.load(p.insns, this.mapsVm?.resolver, name);
    if (SOCKET_PROG_TYPES.includes(p.type)) {
      // A helper the kernel refuses for the type, or one the model does not implement, fails here (name and id).
      checkProgramHelpers(bound, name, p.type, (hid) => socketHelperProvided(this.vm, p.type, hid), "bpfvm's socket model");
    }
    const prog = new KProgram(id, name, p.type, p.expectedAttachType ?? 0, bound);
    this.programs.push(prog);
    return prog;
  }

  /** Maps and programs of a loaded ELF collection (programs by name). */
  loadCollection(spec: CollectionSpec): { maps: Maps; programs: Record<string, KProgram> } {
    const maps = this.createMaps(spec);
    const programs: Record<string, KProgram> = {};
    for (const p of spec.programs) {
      if (p.unsupported || p.loadError !== undefined) continue;
      programs[p.name] = this.loadProgram({ insns: p.insns, type: p.type, name: p.name, ...(p.attachType !== undefined ? { expectedAttachType: p.attachType } : {}) });
    }
    return { maps, programs };
  }

  map(which: number | string): BpfMap {
    if (this.maps === null) throw new Error('Kernel has no maps (createMaps first)');
    return this.maps.get(which);
  }

  /**
   * The ring buffer consumer (libbpf ring_buffer__consume): the samples programs submitted to the RINGBUF map
   * `which` (default: every ring buffer, in map order) since the last call, discarded ones skipped.
   */
  consumeRingbuf(which?: number | string): RingbufRecord[] {
    if (this.maps === null) throw new Error('Kernel has no maps (createMaps first)');
    if (which === undefined) return consumeRingbufs(this.maps);
    const m = this.maps.get(which);
    if (!(m instanceof RingBufMap)) throw new Error(`map "${m.name}" is a ${m.typeName} map, not a ringbuf`);
    return m.consume().map((data) => ({ map: m.name, data }));
  }

  /** BPF_PROG_ATTACH to a sock map: 0 or -errno. */
  attach(prog: KProgram, map: BpfMap, attachType: number, flags = 0): number {
    return sockMapAttach(map, prog, attachType, flags);
  }

  /** BPF_PROG_DETACH from a sock map: 0 or -errno. */
  detach(prog: KProgram, map: BpfMap, attachType: number): number {
    return sockMapDetach(map, prog, attachType);
  }

  /**
   * Runs an SK_SKB program (stream parser, stream verdict or skb verdict) on ONE skb holding `data`, outside
   * any receive path: returns r0 (`ret`), the verdict as the kernel maps it (__SK_PASS 1 / __SK_REDIRECT 2 /
   * __SK_DROP 0), the recorded redirect (map, key, flags, target socket) and the skb bytes afterwards. Nothing is
   * delivered; the program's run count grows by one.
   */
  runSkSkb(prog: KProgram, data: Uint8Array, opts: SkSkbRunOptions = {}): SkSkbRunOutcome {
    if (prog.type !== BPF_PROG_TYPE_SK_SKB) throw new Error(`runSkSkb: program ${prog.name} is not an SK_SKB program (type ${prog.type})`);
    const skb = new SkSkb(data, { ...(opts.linear !== undefined ? { linear: opts.linear } : {}), ...(opts.fields ? { fields: opts.fields } : {}) });
    skb.sk = opts.sock ?? null;
    prog.runCount++;
    const r = runSkSkbProgram(this.vm, prog.bound, skb);
    return { ...r, data: skb.bytes() };
  }

  /** sk_psock_msg_verdict's program run (public for bpfvm run's --repeat timing on copies of a message). */
  runMsgProgram(prog: KProgram, msg: SkMsg, sk: Socket): number {
    prog.runCount++;
    this.msgRedirect = null;
    // sk_msg_md.sk: the socket's bpf_sock pointer (the same address as its lookups and other contexts give).
    this.msgRunOpts.skAddress = sockPointer(this.vm.space, sk).address(0);
    const r = runSkMsgProgram(this.vm, prog.bound, msg, sk, this.msgRunOpts);
    this.msgRunObserver?.({ prog, msg, sk, result: r, redirect: this.msgRedirect });
    return r.verdict;
  }

  /** The last redirect helper call of the current SK_MSG run that found a target (for msgRunObserver). */
  private msgRedirect: MsgRunEvent['redirect'] = null;
  private msgRedirectFound(map: unknown, key: Uint8Array, flags: number): Socket | null {
    const t = skMsgRedirectTarget(map, key, flags);
    if (t !== null && this.msgRunObserver !== null) this.msgRedirect = { map: map as BpfMap, key, flags };
    return t;
  }
  /** The run options of every SK_MSG run (one object: runs happen once per byte with apply 1). */
  private readonly msgRunOpts: SkMsgContextOptions = {
    redirect: {
      sockMap: (map, key, flags) => this.msgRedirectFound(map, u32Bytes(key), flags),
      sockHash: (map, readKey, flags) => (map instanceof SockMapBase ? this.msgRedirectFound(map, readKey(map.keySize), flags) : null),
    },
  };

  // ---- sockets ---------------------------------------------------------------------------------------------------

  private newSocket(kind: SockKind = 'tcp', cgroup = this.currentCgroup): Socket {
    const s = new Socket(this.nextFd++, this.sockOpts, kind);
    s.clock = this.clock;
    if (kind !== 'tcp') s.sndBuf = s.rcvBuf = DGRAM_DEFAULT_BUF;
    sockOpsState(s, cgroupPath(cgroup));
    s.rxHook = (sk) => this.rx.dataReady(sk);
    this.fds.set(s.fd, s);
    this.all.push(s);
    return s;
  }

  socketByFd(fd: number): Socket | null {
    return this.fds.get(fd) ?? null;
  }

  /** An unbound, unconnected TCP socket (state CLOSE). */
  tcpSocket(): Socket {
    return this.newSocket();
  }

  private portInUse(port: number): boolean {
    return this.all.some((s) => s.open && s.isTcp && s.localPort === port && (s.state === TCP_LISTEN || s.peer === null));
  }

  /** A TCP listener on 127.0.0.1:port (0 = ephemeral). Throws EADDRINUSE as an Error. */
  listen(port = 0): Socket {
    const s = this.newSocket();
    if (port === 0) port = this.ephemeralPort();
    else if (this.portInUse(port)) throw new Error(`listen: 127.0.0.1:${port} is in use (EADDRINUSE)`);
    s.localIp4 = LOOPBACK_IP4;
    s.localPort = port;
    s.state = TCP_LISTEN;
    this.sockOps(s, SockOp.TCP_LISTEN_CB);
    return s;
  }

  private ephemeralPort(): number {
    for (;;) {
      const p = this.nextPort++;
      if (this.nextPort > 60999) this.nextPort = 32768;
      if (!this.all.some((s) => s.open && s.localPort === p)) return p;
    }
  }

  /**
   * connect() to a listener: completes at once (model: synchronous handshake). The client is returned
   * ESTABLISHED; the server side waits in the listener's accept queue. Returns -ECONNREFUSED (as a number) if
   * `listener` is not listening.
   */
  connect(listener: Socket): Socket | number {
    if (!listener.open || listener.state !== TCP_LISTEN) return -Errno.ECONNREFUSED;
    const c = this.newSocket();
    c.localIp4 = c.remoteIp4 = LOOPBACK_IP4;
    c.localPort = this.ephemeralPort();
    c.remotePort = listener.localPort;
    // The sock_ops callbacks of a loopback handshake, in the kernel's order (sockops.ts).
    const cs = sockOpsState(c);
    c.state = TCP_SYN_SENT;
    this.sockOps(c, SockOp.TCP_CONNECT_CB);
    cs.mss = 524;
    this.sockOps(c, SockOp.RWND_INIT);
    this.sockOps(c, SockOp.TIMEOUT_INIT);
    this.sockOps(c, SockOp.NEEDS_ECN);
    const req = new RequestSock(listener, listener.localPort, c.localPort);
    this.sockOps(req, SockOp.RWND_INIT);
    this.sockOps(req, SockOp.TIMEOUT_INIT);
    this.sockOps(req, SockOp.NEEDS_ECN);
    const ls = sockOpsState(listener);
    const child = this.newSocket('tcp', ls.cgroup);
    child.localIp4 = child.remoteIp4 = LOOPBACK_IP4;
    child.localPort = listener.localPort;
    child.remotePort = c.localPort;
    inheritSockOpts(child, listener);
    c.peer = child;
    child.peer = c;
    // The client's SYN is acknowledged: tcp_sock bytes_acked counts it (the child's SYN-ACK is not counted: observed).
    c.tcpCounters.bytesAcked = 1n;
    cs.mss = 32741;
    this.tcpSetState(c, BpfTcpState.ESTABLISHED);
    c.state = TCP_ESTABLISHED;
    this.sockOps(c, SockOp.ACTIVE_ESTABLISHED_CB);
    const chs = sockOpsState(child);
    chs.cbFlags = ls.cbFlags;
    chs.mss = 32768;
    chs.tcpState = BpfTcpState.SYN_RECV;
    child.state = TCP_ESTABLISHED;
    this.sockOps(child, SockOp.PASSIVE_ESTABLISHED_CB);
    this.tcpSetState(child, BpfTcpState.ESTABLISHED);
    listener.acceptQueue.push(child);
    return c;
  }

  // ---- sock_ops ---------------------------------------------------------------------------------------------

  /** BPF_PROG_ATTACH of a SOCK_OPS program to a cgroup (BPF_CGROUP_SOCK_OPS): 0 or -errno. */
  cgroupAttach(prog: KProgram, cgroup = '/', flags = 0): number {
    const before = [...this.cgroups.attached(cgroup)];
    const r = this.cgroups.attach(cgroup, prog, flags);
    if (r === 0) {
      // Cgroup storage (cgroup-storage.ts): linked for the new program, unlinked for a replaced one.
      const now = this.cgroups.attached(cgroup) as KProgram[];
      this.cgroupStorages.attached(prog, cgroup, now, (before as KProgram[]).filter((p) => !now.includes(p)));
    }
    return r;
  }

  /** BPF_PROG_DETACH from a cgroup: 0 or -ENOENT. */
  cgroupDetach(prog: KProgram, cgroup = '/'): number {
    const r = this.cgroups.detach(cgroup, prog);
    if (r === 0) this.cgroupStorages.detached(prog, cgroup, this.cgroups.attached(cgroup) as KProgram[]);
    return r;
  }

  /**
   * open() of a cgroup directory: an fd that stands for cgroup `path` (created on first use), as CGROUP_ARRAY
   * updates take it (maps/cgroup-array.ts).
   */
  openCgroup(path: string): number {
    const fd = this.nextFd++;
    this.cgroupFds.set(fd, { path: cgroupPath(path) });
    return fd;
  }
  private readonly cgroupFds = new Map<number, CgroupRef>();

  /** The cgroup a socket belongs to. */
  cgroupOf(sock: Socket): string {
    return sockOpsState(sock).cgroup;
  }

  /** tcp_call_bpf: runs the socket's cgroup programs for `op`; the reply TCP would use (-1 / 0 / reply). */
  sockOps(sk: Socket | RequestSock, op: number, args?: readonly number[]): number {
    const owner = sk instanceof RequestSock ? sk.listener : sk;
    const items = this.cgroups.effectiveItems(sockOpsState(owner).cgroup);
    if (items.length === 0) return 0;
    const env: SockOpsEnv = { ...this.sockOpsEnv, beforeRun: (i) => void (this.cgroupStorages.current = items[i]!.cgroup) };
    const outer = this.cgroupStorages.current;
    try {
      return runSockOps(this.vm, items.map((i) => i.prog), { op, sk, ...(args !== undefined ? { args } : {}) }, env);
    } finally {
      this.cgroupStorages.current = outer;
    }
  }

  /** tcp_set_state as sock_ops sees it: STATE_CB (old, new) when the socket asked for it, then the new state. */
  private tcpSetState(sk: Socket, state: number): void {
    const st = sockOpsState(sk);
    const old = st.tcpState ?? sk.state;
    if (old === state) return;
    if (st.cbFlags & BPF_SOCK_OPS_STATE_CB_FLAG) this.sockOps(sk, SockOp.STATE_CB, [old, state]);
    st.tcpState = state;
  }

  /**
   * tcp_time_wait: the socket (FIN sent and acknowledged) becomes CLOSE and a time-wait socket with its 4-tuple
   * takes its place in the established hash; substate FIN_WAIT2 (closed before the peer's FIN) or TIME_WAIT.
   */
  private enterTimeWait(sk: Socket, substate: number): void {
    this.timeWaitSocks.push(new TimeWaitSock(sk.localIp4, sk.localPort, sk.remoteIp4, sk.remotePort, substate));
    this.tcpSetState(sk, BpfTcpState.CLOSE);
  }

  private timeWaitOf(sk: Socket): TimeWaitSock | undefined {
    for (let i = this.timeWaitSocks.length - 1; i >= 0; i--) {
      const t = this.timeWaitSocks[i]!;
      if (t.localPort === sk.localPort && t.remotePort === sk.remotePort && t.localIp4 === sk.localIp4 && t.remoteIp4 === sk.remoteIp4) return t;
    }
    return undefined;
  }

  private tcpSocketCookie(): bigint {
    // Request sockets take a cookie from the same counter as sockets: a throwaway socket object does that.
    return new Socket(-1).cookie;
  }

  /** accept(): the oldest pending connection, or -EAGAIN (-EINVAL when not listening). */
  accept(listener: Socket): Socket | number {
    if (listener.state !== TCP_LISTEN) return -Errno.EINVAL;
    return listener.acceptQueue.shift() ?? -Errno.EAGAIN;
  }

  // ---- UDP and AF_UNIX (udp.ts, unix.ts) ---------------------------------------------------------------------

  private readonly udpEnv: UdpEnv = {
    ephemeralPort: () => this.ephemeralPort(),
    boundTo: (port) => this.all.find((s) => s.open && s.kind === 'udp' && s.localPort === port) ?? null,
  };

  /** A UDP socket, neither bound nor connected (bind / udpConnect / sendto bind it). */
  udpSocket(): Socket {
    return this.newSocket('udp');
  }

  /** bind() a UDP socket to 127.0.0.1:port (0 = ephemeral): 0 or -errno (-EINVAL bound already, -EADDRINUSE). */
  bind(sock: Socket, port = 0): number {
    if (!sock.open) return -Errno.EBADF;
    if (sock.kind !== 'udp') throw new Error(`bind: ${sock.name} is not a UDP socket (TCP: use listen())`);
    return udpBind(sock, port, this.udpEnv);
  }

  /** connect() a UDP socket to `to`'s address: 0 or -errno. */
  udpConnect(sock: Socket, to: Socket): number {
    if (!sock.open) return -Errno.EBADF;
    if (sock.kind !== 'udp' || to.kind !== 'udp') throw new Error(`udpConnect: ${sock.name} and ${to.name} must be UDP sockets`);
    return udpConnect(sock, to, this.udpEnv);
  }

  /** sendto() `to`'s address from a UDP socket: bytes or -errno. */
  sendto(sock: Socket, data: Uint8Array, to: Socket): number {
    if (!sock.open) return -Errno.EBADF;
    if (sock.kind !== 'udp' || to.kind !== 'udp') throw new Error(`sendto: ${sock.name} and ${to.name} must be UDP sockets`);
    return udpSendto(sock, data, to, this.udpEnv);
  }

  /** socketpair(AF_UNIX, SOCK_STREAM | SOCK_DGRAM): two connected ends. */
  socketpair(type: 'stream' | 'dgram'): [Socket, Socket] {
    const kind = type === 'stream' ? 'unix-stream' : 'unix-dgram';
    const a = this.newSocket(kind);
    const b = this.newSocket(kind);
    unixPair(a, b);
    return [a, b];
  }

  // ---- map operations with errno results -----------------------------------------------------------------------

  /** A MapKey as the map's key bytes: a number little-endian in key_size bytes, bytes cut or zero-padded to it. */
  key(map: BpfMap, key: MapKey): Uint8Array {
    if (key instanceof Uint8Array) {
      const k = new Uint8Array(map.keySize);
      k.set(key.subarray(0, map.keySize));
      return k;
    }
    const k = new Uint8Array(map.keySize);
    let x = BigInt(key);
    for (let i = 0; i < map.keySize; i++, x >>= 8n) k[i] = Number(x & 0xffn);
    return k;
  }

  private errno(fn: () => void): number {
    try {
      fn();
      return 0;
    } catch (e) {
      if (e instanceof BpfMapError) return -e.errno;
      throw e;
    }
  }

  /** BPF_MAP_UPDATE_ELEM of a socket (null: a closed / not-open fd → -EBADF). */
  mapUpdateSocket(map: BpfMap, key: MapKey, sock: Socket | null, flags: number | bigint = 0): number {
    if (!(map instanceof SockMapBase)) throw new Error(`map "${map.name}" is not a sock map`);
    return this.errno(() => map.updateSocket(this.key(map, key), sock, flags));
  }

  /** BPF_MAP_UPDATE_ELEM with raw value bytes (for sock maps: a file descriptor). */
  mapUpdate(map: BpfMap, key: MapKey, value: Uint8Array, flags: number | bigint = 0): number {
    return this.errno(() => map.update(this.key(map, key), value, flags));
  }

  mapDelete(map: BpfMap, key: MapKey): number {
    return this.errno(() => map.delete(this.key(map, key)));
  }

  /** BPF_MAP_LOOKUP_ELEM: the value (sock maps: the 8-byte cookie) or -errno. */
  mapLookup(map: BpfMap, key: MapKey): Uint8Array | number {
    let out: Uint8Array = new Uint8Array(0);
    const r = this.errno(() => (out = map.lookup(this.key(map, key))));
    return r < 0 ? r : out;
  }

  mapNextKey(map: BpfMap, key: MapKey | null): Uint8Array | number {
    let out: Uint8Array = new Uint8Array(0);
    const r = this.errno(() => (out = map.getNextKey(key === null ? null : this.key(map, key))));
    return r < 0 ? r : out;
  }

  // ---- data ----------------------------------------------------------------------------------------------------

  /**
   * send(2). Default flags MSG_NOSIGNAL (SIGPIPE is not modelled either way). `splice`: the backlog worker's
   * skb_send_sock, which sends in the worker's context (its own page fragment) and hands TCP the pages of the
   * skb (MSG_SPLICE_PAGES: referenced, not copied into a fragment).
   */
  send(sock: Socket, data: Uint8Array, flags: number = MSG_NOSIGNAL, splice?: readonly Page[]): number {
    if (!sock.open) return -Errno.EBADF;
    if (sock.kind === 'udp') return udpSendto(sock, data, null, this.udpEnv);
    if (!sock.isTcp) return unixSend(sock, data);
    if (sock.state === TCP_LISTEN || (sock.peer === null && sock.state === TCP_CLOSE)) return -Errno.EPIPE;
    const p = sock.psock;
    sock.lock();
    try {
      if (p !== null && p.progs.msgParser !== null) return tcpBpfSendmsg(splice ? this.workerEnv : this.env, sock, data, flags);
      return this.tcpSendmsg(sock, data, flags, splice);
    } finally {
      sock.release();
    }
  }

  /** sendmsg(2) with several buffers: one call over the concatenated iovecs. */
  sendmsg(sock: Socket, iov: readonly Uint8Array[], flags: number = MSG_NOSIGNAL): number {
    const total = iov.reduce((a, b) => a + b.length, 0);
    const data = new Uint8Array(total);
    let o = 0;
    for (const b of iov) {
      data.set(b, o);
      o += b.length;
    }
    return this.send(sock, data, flags);
  }

  /**
   * Native tcp_sendmsg: copies into the task fragment (so pages are referenced like the kernel's), then TCP;
   * with `splice` the data references those pages instead.
   */
  private tcpSendmsg(sock: Socket, data: Uint8Array, flags: number, splice?: readonly Page[]): number {
    const err = sock.sendError();
    if (err < 0) {
      const e = sock.takeError();
      return e !== 0 ? -e : err;
    }
    if (splice !== undefined) return sock.tcpSend(data, splice, (flags & MSG_MORE) !== 0);
    const pages: Page[] = [];
    let off = 0;
    while (off < data.length) {
      const f = this.taskFrag();
      f.refill();
      const use = Math.min(data.length - off, f.size - f.offset);
      f.page!.bytes.set(data.subarray(off, off + use), f.offset);
      f.offset += use;
      pages.push(f.page!);
      off += use;
    }
    return sock.tcpSend(data, pages, (flags & MSG_MORE) !== 0);
  }

  // ---- time (advance / advanceTime: "virtual time" above) --------------------------------------------------------

  /** poll(POLLIN) readiness: queued bytes, EOF or a pending error. */
  readable(sock: Socket): boolean {
    if (!sock.open) return false;
    return this.fionread(sock) > 0 || sock.rcvQueueBytes > 0 || sock.rcvFin || sock.skErr !== 0;
  }

  /** poll() with a timeout: waits (virtual time) up to `ms` for `sock` to become readable; returns readiness. */
  waitReadable(sock: Socket, ms: number): boolean {
    if (this.readable(sock)) return true;
    this.advance(ms, () => this.readable(sock));
    return this.readable(sock);
  }

  /** recv(2), non-blocking: bytes, 0 at EOF, or -errno (-EAGAIN when nothing is there). MSG_PEEK = 2. */
  recv(sock: Socket, len: number, flags = 0): Uint8Array | number {
    const r = this.recvNow(sock, len, flags);
    // Redirected data that waited for SO_RCVBUF room is retried once the reader has taken some (the kernel
    // retries every jiffy: the next read sees it).
    if (sock.psock !== null) this.rx.retry(sock.psock);
    return r;
  }

  private recvNow(sock: Socket, len: number, flags: number): Uint8Array | number {
    if (!sock.open) return -Errno.EBADF;
    if (sock.kind === 'udp') return udpRecv(sock, len, flags);
    if (!sock.isTcp) return unixRecv(sock, len, flags);
    const p = sock.psock;
    if (p !== null && sock.state !== TCP_LISTEN) {
      return hasVerdict(p) ? this.rx.recvmsgParser(sock, p, len, flags) : tcpBpfRecvmsg(sock, p, len, flags);
    }
    return tcpRecvNative(sock, len, flags);
  }

  /** ioctl(FIONREAD): a psock's ingressMsg bytes, else the native queue; -EINVAL on a listener. */
  fionread(sock: Socket): number {
    if (!sock.open) return -Errno.EBADF;
    if (sock.kind === 'udp') return udpFionread(sock);
    if (!sock.isTcp) return unixFionread(sock);
    if (sock.state === TCP_LISTEN) return -Errno.EINVAL;
    // tcp_bpf_ioctl (every psock config): the ingress queue only. KERNEL vs SPEC: §5.5 adds the native queue
    // when no verdict program is attached; the 6.18 host does not (a parser-only psock with 10 native bytes: 0).
    const p = sock.psock;
    if (p !== null) return p.msgTotLen;
    return sock.seqHole + sock.rcvQueueBytes;
  }

  /** shutdown(2): how 0 = SHUT_RD, 1 = SHUT_WR, 2 = SHUT_RDWR. */
  shutdown(sock: Socket, how: 0 | 1 | 2): number {
    if (!sock.open) return -Errno.EBADF;
    if (sock.kind === 'udp') return udpShutdown(sock, how);
    if (!sock.isTcp) return unixShutdown(sock, how);
    if (sock.state !== TCP_ESTABLISHED && sock.state !== TCP_CLOSE_WAIT && sock.state !== TCP_LISTEN) return -Errno.ENOTCONN;
    if (how === 0 || how === 2) sock.shutdownFlags |= RCV_SHUTDOWN;
    if ((how === 1 || how === 2) && !(sock.shutdownFlags & SEND_SHUTDOWN)) {
      sock.shutdownFlags |= SEND_SHUTDOWN;
      this.sendFin(sock);
    }
    return 0;
  }

  private sendFin(sock: Socket, closing = false): void {
    sock.pushWriteQueue();
    const peer = sock.peer;
    // TCP state changes sock_ops programs can observe (STATE_CB), in the kernel's order over loopback.
    const from = tcpStateOf(sock);
    // tcp_sock counters: the FIN counts as one byte received (before the peer's state changes), and as
    // acknowledged once the peer processed it (deliverFin).
    if (peer !== null && peer.open && peer.isTcp) peer.tcpCounters.bytesReceived += 1n;
    let delivered = false;
    const deliverFin = (): void => {
      delivered = true;
      if (peer === null) return;
      if (peer.open) {
        peer.rcvFin = true;
        if (peer.state === TCP_ESTABLISHED) peer.state = TCP_CLOSE_WAIT;
        peer.rxHook?.(peer);
      }
      // The peer (or the time-wait socket it left) acknowledges the FIN.
      if (sock.isTcp && (peer.open || this.timeWaitOf(peer) !== undefined)) sock.tcpCounters.bytesAcked += 1n;
    };
    if (from === BpfTcpState.ESTABLISHED) {
      this.tcpSetState(sock, BpfTcpState.FIN_WAIT1);
      if (peer !== null && peer.open && tcpStateOf(peer) === BpfTcpState.ESTABLISHED) this.tcpSetState(peer, BpfTcpState.CLOSE_WAIT);
      deliverFin();
      this.tcpSetState(sock, BpfTcpState.FIN_WAIT2);
      if (closing) this.enterTimeWait(sock, BpfTcpState.FIN_WAIT2);
    } else if (from === BpfTcpState.CLOSE_WAIT) {
      this.tcpSetState(sock, BpfTcpState.LAST_ACK);
      const peerWaiting = peer !== null && peer.open && tcpStateOf(peer) === BpfTcpState.FIN_WAIT2;
      deliverFin();
      if (peerWaiting) this.enterTimeWait(peer!, BpfTcpState.TIME_WAIT);
      else if (peer !== null && !peer.open) {
        // The peer closed first and is a time-wait socket: our FIN moves it from FIN_WAIT2 to TIME_WAIT.
        const tw = this.timeWaitOf(peer);
        if (tw !== undefined) tw.substate = BpfTcpState.TIME_WAIT;
      }
      this.tcpSetState(sock, BpfTcpState.CLOSE);
    }
    if (!delivered) deliverFin();
  }

  /** close(2): sock_map_close (leave every map, psock dropped with its queued data), then the TCP close. */
  close(sock: Socket): number {
    if (!sock.open) return -Errno.EBADF;
    psockRemoveAll(sock);
    for (const m of this.maps?.list ?? []) if (m instanceof SkStorageMap) m.socketClosed(sock);
    if (sock.kind !== 'tcp') {
      if (sock.kind !== 'udp') unixRelease(sock);
    } else if (sock.state === TCP_LISTEN) {
      this.tcpSetState(sock, BpfTcpState.CLOSE);
      for (const child of sock.acceptQueue.splice(0)) this.close(child);
    } else if (sock.peer !== null) {
      if (sock.rcvQueueBytes > 0) {
        // tcp_close with unread data: RST instead of FIN; our unsent data is dropped.
        sock.writeQueue.length = 0;
        const peer = sock.peer;
        this.tcpSetState(sock, BpfTcpState.CLOSE);
        if (peer.open) {
          this.tcpSetState(peer, BpfTcpState.CLOSE);
          peer.skErr = Errno.ECONNRESET;
          peer.state = TCP_CLOSE;
          peer.shutdownFlags = RCV_SHUTDOWN | SEND_SHUTDOWN; // tcp_done
        }
      } else if (!(sock.shutdownFlags & SEND_SHUTDOWN)) {
        this.sendFin(sock, true);
      } else if (tcpStateOf(sock) === BpfTcpState.FIN_WAIT2) {
        this.enterTimeWait(sock, BpfTcpState.FIN_WAIT2);
      } else {
        this.tcpSetState(sock, BpfTcpState.CLOSE);
      }
    }
    sock.open = false;
    sock.state = TCP_CLOSE;
    for (const skb of sock.rcvQueue.splice(0)) releaseSkb(skb);
    this.fds.delete(sock.fd);
    sockViews(this.vm.space).forget(sock);
    return 0;
  }

  /** getsockopt(SOL_SOCKET, SO_ERROR / SO_SNDBUF / SO_RCVBUF). SO_ERROR clears the error. */
  getsockopt(sock: Socket, level: number, opt: number): number {
    if (!sock.open) return -Errno.EBADF;
    if (level !== SOL_SOCKET) return -Errno.EOPNOTSUPP;
    if (opt === SO_ERROR) return sock.takeError();
    if (opt === SO_SNDBUF) return sock.sndBuf;
    if (opt === SO_RCVBUF) return sock.rcvBuf;
    return -Errno.EOPNOTSUPP;
  }

  /** setsockopt(SOL_SOCKET, SO_SNDBUF / SO_RCVBUF): stored doubled, not enforced. */
  setsockopt(sock: Socket, level: number, opt: number, value: number): number {
    if (!sock.open) return -Errno.EBADF;
    if (level !== SOL_SOCKET) return -Errno.EOPNOTSUPP;
    if (opt === SO_SNDBUF) sock.sndBuf = Math.max(4608, 2 * value);
    else if (opt === SO_RCVBUF) sock.rcvBuf = Math.max(2304, 2 * value);
    else return -Errno.EOPNOTSUPP;
    return 0;
  }

  /** SO_COOKIE. */
  cookie(sock: Socket): bigint {
    return sock.cookie;
  }

  // ---- page fragment reuse -------------------------------------------------------------------------------------

  /** skb_page_frag_refill's first rule: a fragment page nobody else references restarts at offset 0. */
  private taskFrag(f: PageFrag = this.frag): PageFrag {
    if (f.page !== null && f.offset !== 0 && !this.pageReferenced(f.page)) f.offset = 0;
    return f;
  }

  /** Whether any queued data (native queues, held cork messages, ingress messages) lives on `page`. */
  pageReferenced(page: Page): boolean {
    for (const s of this.all) {
      for (const p of s.heldPages()) if (p === page) return true;
      const ps = s.psock;
      if (ps === null) continue;
      if (ps.cork !== null && ps.cork.elements().some((e) => e.page === page && e.length > 0)) return true;
      for (const m of ps.ingressMsg) if (m.elements().some((e) => e.page === page && e.length > 0)) return true;
      // skbs waiting for the backlog worker and the strparser's message in progress hold their pages too.
      for (const b of ps.backlog) if (b.pages.includes(page)) return true;
      if (ps.strp?.holdsPage(page)) return true;
    }
    return false;
  }
}

export { ERRNO };
