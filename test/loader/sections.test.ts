// Section name → program type (libbpf conventions), and the unknown-section error.
import { describe, expect, it } from 'vitest';
import { progTypeForSection, unknownSectionError } from '../../src/elf/sections.js';

const cases: [string, string, string | undefined, boolean?][] = [
  ['socket', 'socket_filter', undefined],
  ['socket1', 'socket_filter', undefined, true],
  ['sk_reuseport', 'sk_reuseport', 'sk_reuseport_select'],
  ['kprobe/tcp_sendmsg', 'kprobe', undefined],
  ['tc', 'sched_cls', undefined],
  ['tc/ingress', 'sched_cls', 'tcx_ingress'],
  ['tc/egress', 'sched_cls', 'tcx_egress'],
  ['tcx/ingress', 'sched_cls', 'tcx_ingress'],
  ['classifier', 'sched_cls', undefined],
  ['classifier_x', 'sched_cls', undefined, true],
  ['action', 'sched_act', undefined],
  ['xdp', 'xdp', 'xdp'],
  ['xdp.frags', 'xdp', 'xdp'],
  ['xdp/devmap', 'xdp', 'xdp_devmap'],
  ['cgroup/skb', 'cgroup_skb', undefined],
  ['cgroup_skb/ingress', 'cgroup_skb', 'cgroup_inet_ingress'],
  ['cgroup_skb/egress', 'cgroup_skb', 'cgroup_inet_egress'],
  ['sockops', 'sock_ops', 'cgroup_sock_ops'],
  ['sk_skb', 'sk_skb', undefined],
  ['sk_skb1', 'sk_skb', undefined, true],
  ['sk_skb2', 'sk_skb', undefined, true],
  ['sk_skb/stream_parser', 'sk_skb', 'sk_skb_stream_parser'],
  ['sk_skb/stream_verdict', 'sk_skb', 'sk_skb_stream_verdict'],
  ['sk_skb/verdict', 'sk_skb', 'sk_skb_verdict'],
  ['sk_msg', 'sk_msg', 'sk_msg_verdict'],
  ['sk_msg1', 'sk_msg', 'sk_msg_verdict', true],
  ['sk_lookup', 'sk_lookup', 'sk_lookup'],
  ['flow_dissector', 'flow_dissector', 'flow_dissector'],
  ['lwt_xmit', 'lwt_xmit', undefined],
  ['cgroup/sock_create', 'cgroup_sock', 'cgroup_inet_sock_create'],
  ['cgroup/connect4', 'cgroup_sock_addr', 'cgroup_inet4_connect'],
  ['struct_ops/foo', 'struct_ops', undefined],
  ['syscall', 'syscall', undefined],
  ['raw_tp/sys_enter', 'raw_tracepoint', undefined],
  ['tp/syscalls/sys_enter_write', 'tracepoint', undefined],
  ['fentry/tcp_v4_connect', 'tracing', 'trace_fentry'],
];

describe('section → program type', () => {
  it.each(cases)('%s', (sec, typeName, attach, legacy = false) => {
    const r = progTypeForSection(sec)!;
    expect(r).toBeDefined();
    expect(r.typeName).toBe(typeName);
    expect(r.attachTypeName).toBe(attach);
    expect(r.legacy).toBe(legacy);
  });

  it('numbers match the uapi enums', () => {
    expect(progTypeForSection('sk_msg')).toMatchObject({ type: 16, attachType: 7 });
    expect(progTypeForSection('sk_skb/verdict')).toMatchObject({ type: 14, attachType: 38 });
    expect(progTypeForSection('sockops')).toMatchObject({ type: 13, attachType: 3 });
    expect(progTypeForSection('cgroup_skb/ingress')).toMatchObject({ type: 8, attachType: 0 });
  });

  it('flags program types bpfvm does not model', () => {
    expect(progTypeForSection('kprobe/x')!.unsupported).toBe(true);
    expect(progTypeForSection('sk_msg')!.unsupported).toBe(false);
  });

  it('unknown section: tells how to name it', () => {
    expect(progTypeForSection('foo')).toBeUndefined();
    expect(unknownSectionError('foo').message).toMatch(/^unknown program type for section "foo": name the section like sk_msg, sk_skb\/stream_parser, .*\(libbpf convention\)$/);
  });
});
