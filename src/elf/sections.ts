// Section name → program type, following libbpf's section_defs (tools/lib/bpf/libbpf.c).
// Matching rules, as libbpf applies them:
//   "name"   exact match only;
//   "name+"  exact, or "name/<anything>";
//   "name/"  "name/<anything>" only.
// The first matching row wins, so more specific rows come first. Objects built for older libbpf
// ("sk_skb1", "sk_msg1", "socket1", "classifier_x", "xdp_prog") relied on plain prefix matching
// (SEC_SLOPPY); when no strict row matches we fall back to that, on the same table, in table order.

import { BpfLoadError } from '../errors.js';

/** enum bpf_prog_type, index = value. Kernel names as in kernel/bpf/syscall.c / bpftool. */
export const PROG_TYPE_NAMES = [
  'unspec', 'socket_filter', 'kprobe', 'sched_cls', 'sched_act', 'tracepoint', 'xdp', 'perf_event', 'cgroup_skb',
  'cgroup_sock', 'lwt_in', 'lwt_out', 'lwt_xmit', 'sock_ops', 'sk_skb', 'cgroup_device', 'sk_msg', 'raw_tracepoint',
  'cgroup_sock_addr', 'lwt_seg6local', 'lirc_mode2', 'sk_reuseport', 'flow_dissector', 'cgroup_sysctl',
  'raw_tracepoint_writable', 'cgroup_sockopt', 'tracing', 'struct_ops', 'ext', 'lsm', 'sk_lookup', 'syscall', 'netfilter',
] as const;

/** enum bpf_attach_type, index = value (libbpf's attach_type_name strings). */
export const ATTACH_TYPE_NAMES = [
  'cgroup_inet_ingress', 'cgroup_inet_egress', 'cgroup_inet_sock_create', 'cgroup_sock_ops', 'sk_skb_stream_parser',
  'sk_skb_stream_verdict', 'cgroup_device', 'sk_msg_verdict', 'cgroup_inet4_bind', 'cgroup_inet6_bind',
  'cgroup_inet4_connect', 'cgroup_inet6_connect', 'cgroup_inet4_post_bind', 'cgroup_inet6_post_bind',
  'cgroup_udp4_sendmsg', 'cgroup_udp6_sendmsg', 'lirc_mode2', 'flow_dissector', 'cgroup_sysctl', 'cgroup_udp4_recvmsg',
  'cgroup_udp6_recvmsg', 'cgroup_getsockopt', 'cgroup_setsockopt', 'trace_raw_tp', 'trace_fentry', 'trace_fexit',
  'modify_return', 'lsm_mac', 'trace_iter', 'cgroup_inet4_getpeername', 'cgroup_inet6_getpeername',
  'cgroup_inet4_getsockname', 'cgroup_inet6_getsockname', 'xdp_devmap', 'cgroup_inet_sock_release', 'xdp_cpumap',
  'sk_lookup', 'xdp', 'sk_skb_verdict', 'sk_reuseport_select', 'sk_reuseport_select_or_migrate', 'perf_event',
  'trace_kprobe_multi', 'lsm_cgroup', 'struct_ops', 'netfilter', 'tcx_ingress', 'tcx_egress', 'trace_uprobe_multi',
  'cgroup_unix_connect', 'cgroup_unix_sendmsg', 'cgroup_unix_recvmsg', 'cgroup_unix_getpeername',
  'cgroup_unix_getsockname', 'netkit_primary', 'netkit_peer', 'trace_kprobe_session',
] as const;

const P = Object.fromEntries(PROG_TYPE_NAMES.map((n, i) => [n, i])) as Record<(typeof PROG_TYPE_NAMES)[number], number>;
const A = Object.fromEntries(ATTACH_TYPE_NAMES.map((n, i) => [n, i])) as Record<(typeof ATTACH_TYPE_NAMES)[number], number>;

/** Program types bpfvm's model runs; others load (so objects with mixed programs work) but are flagged. */
export const MODELLED_PROG_TYPES: ReadonlySet<number> = new Set([
  P.socket_filter, P.sched_cls, P.sched_act, P.xdp, P.cgroup_skb, P.sock_ops, P.sk_skb, P.sk_msg,
]);

interface SecDef {
  sec: string;
  type: number;
  /** Expected attach type; undefined when libbpf leaves it 0 and does not imply one. */
  attach?: number;
}

// [section pattern, program type, attach type] — order matters (first match wins), as in libbpf.
const SECTION_DEFS: SecDef[] = ([
  ['socket', P.socket_filter],
  ['sk_reuseport/migrate', P.sk_reuseport, A.sk_reuseport_select_or_migrate],
  ['sk_reuseport', P.sk_reuseport, A.sk_reuseport_select],
  ['kprobe+', P.kprobe], ['uprobe+', P.kprobe], ['uprobe.s+', P.kprobe], ['kretprobe+', P.kprobe], ['uretprobe+', P.kprobe],
  ['uretprobe.s+', P.kprobe],
  ['kprobe.multi+', P.kprobe, A.trace_kprobe_multi], ['kretprobe.multi+', P.kprobe, A.trace_kprobe_multi],
  ['kprobe.session+', P.kprobe, A.trace_kprobe_session],
  ['uprobe.multi+', P.kprobe, A.trace_uprobe_multi], ['uretprobe.multi+', P.kprobe, A.trace_uprobe_multi],
  ['uprobe.multi.s+', P.kprobe, A.trace_uprobe_multi], ['uretprobe.multi.s+', P.kprobe, A.trace_uprobe_multi],
  ['ksyscall+', P.kprobe], ['kretsyscall+', P.kprobe], ['usdt+', P.kprobe], ['usdt.s+', P.kprobe],
  ['tc/ingress', P.sched_cls, A.tcx_ingress], ['tc/egress', P.sched_cls, A.tcx_egress],
  ['tcx/ingress', P.sched_cls, A.tcx_ingress], ['tcx/egress', P.sched_cls, A.tcx_egress],
  ['tc', P.sched_cls], ['classifier', P.sched_cls], ['action', P.sched_act],
  ['netkit/primary', P.sched_cls, A.netkit_primary], ['netkit/peer', P.sched_cls, A.netkit_peer],
  ['tracepoint+', P.tracepoint], ['tp+', P.tracepoint],
  ['raw_tracepoint+', P.raw_tracepoint], ['raw_tp+', P.raw_tracepoint],
  ['raw_tracepoint.w+', P.raw_tracepoint_writable], ['raw_tp.w+', P.raw_tracepoint_writable],
  ['tp_btf+', P.tracing, A.trace_raw_tp], ['fentry+', P.tracing, A.trace_fentry], ['fmod_ret+', P.tracing, A.modify_return],
  ['fexit+', P.tracing, A.trace_fexit], ['fentry.s+', P.tracing, A.trace_fentry], ['fmod_ret.s+', P.tracing, A.modify_return],
  ['fexit.s+', P.tracing, A.trace_fexit], ['freplace+', P.ext],
  ['lsm+', P.lsm, A.lsm_mac], ['lsm.s+', P.lsm, A.lsm_mac], ['lsm_cgroup+', P.lsm, A.lsm_cgroup],
  ['iter+', P.tracing, A.trace_iter], ['iter.s+', P.tracing, A.trace_iter],
  ['syscall', P.syscall],
  ['xdp.frags/devmap', P.xdp, A.xdp_devmap], ['xdp/devmap', P.xdp, A.xdp_devmap],
  ['xdp.frags/cpumap', P.xdp, A.xdp_cpumap], ['xdp/cpumap', P.xdp, A.xdp_cpumap],
  ['xdp.frags', P.xdp, A.xdp], ['xdp', P.xdp, A.xdp],
  ['perf_event', P.perf_event],
  ['lwt_in', P.lwt_in], ['lwt_out', P.lwt_out], ['lwt_xmit', P.lwt_xmit], ['lwt_seg6local', P.lwt_seg6local],
  ['sockops', P.sock_ops, A.cgroup_sock_ops],
  ['sk_skb/stream_parser', P.sk_skb, A.sk_skb_stream_parser],
  ['sk_skb/stream_verdict', P.sk_skb, A.sk_skb_stream_verdict],
  ['sk_skb/verdict', P.sk_skb, A.sk_skb_verdict],
  ['sk_skb', P.sk_skb],
  ['sk_msg', P.sk_msg, A.sk_msg_verdict],
  ['lirc_mode2', P.lirc_mode2, A.lirc_mode2],
  ['flow_dissector', P.flow_dissector, A.flow_dissector],
  ['cgroup_skb/ingress', P.cgroup_skb, A.cgroup_inet_ingress],
  ['cgroup_skb/egress', P.cgroup_skb, A.cgroup_inet_egress],
  ['cgroup/skb', P.cgroup_skb],
  ['cgroup/sock_create', P.cgroup_sock, A.cgroup_inet_sock_create],
  ['cgroup/sock_release', P.cgroup_sock, A.cgroup_inet_sock_release],
  ['cgroup/sock', P.cgroup_sock, A.cgroup_inet_sock_create],
  ['cgroup/post_bind4', P.cgroup_sock, A.cgroup_inet4_post_bind], ['cgroup/post_bind6', P.cgroup_sock, A.cgroup_inet6_post_bind],
  ['cgroup/bind4', P.cgroup_sock_addr, A.cgroup_inet4_bind], ['cgroup/bind6', P.cgroup_sock_addr, A.cgroup_inet6_bind],
  ['cgroup/connect4', P.cgroup_sock_addr, A.cgroup_inet4_connect], ['cgroup/connect6', P.cgroup_sock_addr, A.cgroup_inet6_connect],
  ['cgroup/connect_unix', P.cgroup_sock_addr, A.cgroup_unix_connect],
  ['cgroup/sendmsg4', P.cgroup_sock_addr, A.cgroup_udp4_sendmsg], ['cgroup/sendmsg6', P.cgroup_sock_addr, A.cgroup_udp6_sendmsg],
  ['cgroup/sendmsg_unix', P.cgroup_sock_addr, A.cgroup_unix_sendmsg],
  ['cgroup/recvmsg4', P.cgroup_sock_addr, A.cgroup_udp4_recvmsg], ['cgroup/recvmsg6', P.cgroup_sock_addr, A.cgroup_udp6_recvmsg],
  ['cgroup/recvmsg_unix', P.cgroup_sock_addr, A.cgroup_unix_recvmsg],
  ['cgroup/getpeername4', P.cgroup_sock_addr, A.cgroup_inet4_getpeername],
  ['cgroup/getpeername6', P.cgroup_sock_addr, A.cgroup_inet6_getpeername],
  ['cgroup/getpeername_unix', P.cgroup_sock_addr, A.cgroup_unix_getpeername],
  ['cgroup/getsockname4', P.cgroup_sock_addr, A.cgroup_inet4_getsockname],
  ['cgroup/getsockname6', P.cgroup_sock_addr, A.cgroup_inet6_getsockname],
  ['cgroup/getsockname_unix', P.cgroup_sock_addr, A.cgroup_unix_getsockname],
  ['cgroup/sysctl', P.cgroup_sysctl, A.cgroup_sysctl],
  ['cgroup/getsockopt', P.cgroup_sockopt, A.cgroup_getsockopt], ['cgroup/setsockopt', P.cgroup_sockopt, A.cgroup_setsockopt],
  ['cgroup/dev', P.cgroup_device, A.cgroup_device],
  ['struct_ops+', P.struct_ops], ['struct_ops.s+', P.struct_ops],
  ['sk_lookup', P.sk_lookup, A.sk_lookup],
  ['netfilter', P.netfilter, A.netfilter],
] as [string, number, number?][]).map(([sec, type, attach]) => (attach === undefined ? { sec, type } : { sec, type, attach }));

function strictMatch(def: string, name: string): boolean {
  if (def.endsWith('/')) return name.startsWith(def);
  if (def.endsWith('+')) {
    const base = def.slice(0, -1);
    return name === base || name.startsWith(base + '/');
  }
  return name === def;
}

export interface ProgTypeInfo {
  type: number;
  typeName: string;
  attachType?: number;
  attachTypeName?: string;
  /** Matched only by the pre-1.0 libbpf prefix rule ("sk_skb1" → sk_skb). */
  legacy: boolean;
  /** bpfvm loads it but does not model this program type. */
  unsupported: boolean;
}

function info(def: SecDef, legacy: boolean): ProgTypeInfo {
  const r: ProgTypeInfo = { type: def.type, typeName: PROG_TYPE_NAMES[def.type]!, legacy, unsupported: !MODELLED_PROG_TYPES.has(def.type) };
  if (def.attach !== undefined) {
    r.attachType = def.attach;
    r.attachTypeName = ATTACH_TYPE_NAMES[def.attach]!;
  }
  return r;
}

/** Program type for a section name, or undefined if neither libbpf rule knows it. */
export function progTypeForSection(name: string): ProgTypeInfo | undefined {
  // libbpf: a leading '?' only turns off autoload ("?raw_tp", "?socket"); the type comes from the rest.
  if (name.startsWith('?')) return progTypeForSection(name.slice(1));
  for (const d of SECTION_DEFS) if (strictMatch(d.sec, name)) return info(d, false);
  for (const d of SECTION_DEFS) {
    const base = d.sec.replace(/[+/]$/, '');
    if (name.startsWith(base)) return info(d, true);
  }
  return undefined;
}

export function unknownSectionError(name: string): BpfLoadError {
  return new BpfLoadError(
    `unknown program type for section "${name}": name the section like sk_msg, sk_skb/stream_parser, sk_skb/stream_verdict, ` +
      'sk_skb/verdict, sockops, socket, tc, xdp, cgroup_skb/ingress, ... (libbpf convention)',
    { section: name },
  );
}
