// Which helpers each modelled program type may call, as data: the kernel's `get_func_proto` chains.
//
// Each table below mirrors one kernel switch (net/core/filter.c, kernel/bpf/helpers.c, kernel/bpf/cgroup.c);
// a type's lookup walks its chain and the FIRST table that lists the helper decides (so a type-specific entry
// shadows the generic one, exactly like the kernel's `switch … default: return next(…)`).  Rows name helpers by
// their BPF_FUNC_* suffix; ids come only from ./ids.ts.
//
// Capability tiers (bpf_base_func_proto / bpf_sk_base_func_proto): 'always'; 'bpf' = needs CAP_BPF;
// 'perfmon' = needs CAP_PERFMON (which in the kernel also implies passing the CAP_BPF gate).
// `privileged: true` (root: CAP_BPF + CAP_PERFMON) unlocks both.
//
// Kernel config: the host (6.18) has every option used here enabled (CONFIG_INET, CONFIG_NET_SOCK_MSG [sockmap
// helpers are __weak stubs without it], CONFIG_BPF_EVENTS [perf_event_output for sock_ops/sk_msg],
// CONFIG_CGROUPS, CONFIG_CGROUP_NET_CLASSID, CONFIG_SOCK_CGROUP_DATA, CONFIG_XFRM, CONFIG_SYN_COOKIES).  `config`
// records the #ifdef for information; it is not evaluated.  probe_read_kernel(_str) additionally vanish under
// lockdown (LOCKDOWN_BPF_READ_KERNEL); the host is not locked down.
//
// Differences from the 6.12 sources, all confirmed on the 6.18 host (test/helpers/availability-6.18.json):
//  * bpf_base_func_proto grew (rows marked `since: '>6.12'`): get_current_uid_gid (always);
//    current_task_under_cgroup, get_cgroup_classid (the "current task" flavour), task_storage_get/delete (CAP_BPF);
//    get_current_comm, copy_from_user(_task), perf_event_read(_value), send_signal(_thread), get_task_stack,
//    get_branch_snapshot, find_vma (CAP_PERFMON).  So every modelled type can now call them.
//  * sk_filter_func_proto (SOCKET_FILTER, and CGROUP_SKB through it) and tc_cls_act_func_proto gained
//    get_netns_cookie with the skb flavour `bpf_get_netns_cookie_proto` (6.15).  XDP did not.
// The 6.12 tiers of the moved helpers cannot be observed on the host (we only load as root or CAP_BPF-only); the
// tiers used are the ones of the newer helpers.c.

import { helperId, helperName } from './ids.js';

/** BPF_PROG_TYPE_* values of the modelled program types. */
export const PROG_TYPES = {
  SOCKET_FILTER: 1,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  XDP: 6,
  CGROUP_SKB: 8,
  SOCK_OPS: 13,
  SK_SKB: 14,
  SK_MSG: 16,
} as const;
export type ModelledProgType = (typeof PROG_TYPES)[keyof typeof PROG_TYPES];
export const MODELLED_PROG_TYPES: readonly ModelledProgType[] = Object.values(PROG_TYPES);

/** `enum bpf_attach_type` values that matter for helper availability. */
export const ATTACH_TYPES = {
  BPF_CGROUP_INET_INGRESS: 0,
  BPF_CGROUP_INET_EGRESS: 1,
  BPF_CGROUP_SOCK_OPS: 3,
  BPF_SK_SKB_STREAM_PARSER: 4,
  BPF_SK_SKB_STREAM_VERDICT: 5,
  BPF_SK_MSG_VERDICT: 7,
  BPF_SK_SKB_VERDICT: 38,
} as const;

/** The highest helper id + 1 (`__BPF_FUNC_MAX_ID`); ids outside [0, this) get `invalid func`. */
export const BPF_FUNC_MAX_ID = 212;

export type CapTier = 'always' | 'bpf' | 'perfmon';

export interface HelperOptions {
  /** CAP_BPF + CAP_PERFMON (root).  false = neither. */
  privileged: boolean;
  /** Finer control than `privileged`; each defaults to `privileged`. */
  capBpf?: boolean;
  capPerfmon?: boolean;
  /**
   * expected_attach_type of the program; only get_retval/set_retval depend on it (cgroup_common_func_proto).
   * Default: BPF_CGROUP_INET_INGRESS for CGROUP_SKB, BPF_CGROUP_SOCK_OPS for SOCK_OPS, 0 otherwise.
   */
  expectedAttachType?: number;
}

interface RowOpts {
  tier?: CapTier;
  /** The #ifdef around the case (informational; the host has it enabled). */
  config?: string;
  /** Kernel release that added the row, when newer than the 6.12 sources ('>6.12' when not pinned). */
  since?: string;
  /** Only for these expected_attach_types is the helper refused (returns NULL). */
  refusedForAttach?: readonly number[];
}
type Row = readonly [helper: string, proto: string, opts?: RowOpts];

// cgroup_common_func_proto refuses get_retval/set_retval for these attach types (they have no retval context).
const NO_RETVAL_ATTACH: readonly number[] = [
  0, // BPF_CGROUP_INET_INGRESS
  1, // BPF_CGROUP_INET_EGRESS
  3, // BPF_CGROUP_SOCK_OPS
  19, // BPF_CGROUP_UDP4_RECVMSG
  20, // BPF_CGROUP_UDP6_RECVMSG
  29, // BPF_CGROUP_INET4_GETPEERNAME
  30, // BPF_CGROUP_INET6_GETPEERNAME
  31, // BPF_CGROUP_INET4_GETSOCKNAME
  32, // BPF_CGROUP_INET6_GETSOCKNAME
  51, // BPF_CGROUP_UNIX_RECVMSG
  52, // BPF_CGROUP_UNIX_GETPEERNAME
  53, // BPF_CGROUP_UNIX_GETSOCKNAME
];

// kernel/bpf/cgroup.c cgroup_common_func_proto (used first by CGROUP_SKB and SOCK_OPS)
const CGROUP_COMMON: readonly Row[] = [
  ['get_local_storage', 'bpf_get_local_storage_proto'],
  ['get_retval', 'bpf_get_retval_proto', { refusedForAttach: NO_RETVAL_ATTACH }],
  ['set_retval', 'bpf_set_retval_proto', { refusedForAttach: NO_RETVAL_ATTACH }],
];

// net/core/filter.c sk_filter_func_proto (SOCKET_FILTER; CGROUP_SKB falls back to it)
const SK_FILTER: readonly Row[] = [
  ['skb_load_bytes', 'bpf_skb_load_bytes_proto'],
  ['skb_load_bytes_relative', 'bpf_skb_load_bytes_relative_proto'],
  ['get_socket_cookie', 'bpf_get_socket_cookie_proto'],
  ['get_netns_cookie', 'bpf_get_netns_cookie_proto', { since: '6.15' }],
  ['get_socket_uid', 'bpf_get_socket_uid_proto'],
  ['perf_event_output', 'bpf_skb_event_output_proto'],
];

// net/core/filter.c cg_skb_func_proto
const CG_SKB: readonly Row[] = [
  ['sk_fullsock', 'bpf_sk_fullsock_proto'],
  ['sk_storage_get', 'bpf_sk_storage_get_proto'],
  ['sk_storage_delete', 'bpf_sk_storage_delete_proto'],
  ['perf_event_output', 'bpf_skb_event_output_proto'],
  ['skb_cgroup_id', 'bpf_skb_cgroup_id_proto', { config: 'CONFIG_SOCK_CGROUP_DATA' }],
  ['skb_ancestor_cgroup_id', 'bpf_skb_ancestor_cgroup_id_proto', { config: 'CONFIG_SOCK_CGROUP_DATA' }],
  ['sk_cgroup_id', 'bpf_sk_cgroup_id_proto', { config: 'CONFIG_SOCK_CGROUP_DATA' }],
  ['sk_ancestor_cgroup_id', 'bpf_sk_ancestor_cgroup_id_proto', { config: 'CONFIG_SOCK_CGROUP_DATA' }],
  ['sk_lookup_tcp', 'bpf_sk_lookup_tcp_proto', { config: 'CONFIG_INET' }],
  ['sk_lookup_udp', 'bpf_sk_lookup_udp_proto', { config: 'CONFIG_INET' }],
  ['sk_release', 'bpf_sk_release_proto', { config: 'CONFIG_INET' }],
  ['skc_lookup_tcp', 'bpf_skc_lookup_tcp_proto', { config: 'CONFIG_INET' }],
  ['tcp_sock', 'bpf_tcp_sock_proto', { config: 'CONFIG_INET' }],
  ['get_listener_sock', 'bpf_get_listener_sock_proto', { config: 'CONFIG_INET' }],
  ['skb_ecn_set_ce', 'bpf_skb_ecn_set_ce_proto', { config: 'CONFIG_INET' }],
];

// net/core/filter.c tc_cls_act_func_proto (SCHED_CLS and SCHED_ACT)
const TC_CLS_ACT: readonly Row[] = [
  ['skb_store_bytes', 'bpf_skb_store_bytes_proto'],
  ['skb_load_bytes', 'bpf_skb_load_bytes_proto'],
  ['skb_load_bytes_relative', 'bpf_skb_load_bytes_relative_proto'],
  ['skb_pull_data', 'bpf_skb_pull_data_proto'],
  ['csum_diff', 'bpf_csum_diff_proto'],
  ['csum_update', 'bpf_csum_update_proto'],
  ['csum_level', 'bpf_csum_level_proto'],
  ['l3_csum_replace', 'bpf_l3_csum_replace_proto'],
  ['l4_csum_replace', 'bpf_l4_csum_replace_proto'],
  ['clone_redirect', 'bpf_clone_redirect_proto'],
  ['get_cgroup_classid', 'bpf_get_cgroup_classid_proto'],
  ['skb_vlan_push', 'bpf_skb_vlan_push_proto'],
  ['skb_vlan_pop', 'bpf_skb_vlan_pop_proto'],
  ['skb_change_proto', 'bpf_skb_change_proto_proto'],
  ['skb_change_type', 'bpf_skb_change_type_proto'],
  ['skb_adjust_room', 'bpf_skb_adjust_room_proto'],
  ['skb_change_tail', 'bpf_skb_change_tail_proto'],
  ['skb_change_head', 'bpf_skb_change_head_proto'],
  ['skb_get_tunnel_key', 'bpf_skb_get_tunnel_key_proto'],
  ['skb_set_tunnel_key', 'bpf_skb_set_tunnel_key_proto'],
  ['skb_get_tunnel_opt', 'bpf_skb_get_tunnel_opt_proto'],
  ['skb_set_tunnel_opt', 'bpf_skb_set_tunnel_opt_proto'],
  ['redirect', 'bpf_redirect_proto'],
  ['redirect_neigh', 'bpf_redirect_neigh_proto'],
  ['redirect_peer', 'bpf_redirect_peer_proto'],
  ['get_route_realm', 'bpf_get_route_realm_proto'],
  ['get_hash_recalc', 'bpf_get_hash_recalc_proto'],
  ['set_hash_invalid', 'bpf_set_hash_invalid_proto'],
  ['set_hash', 'bpf_set_hash_proto'],
  ['perf_event_output', 'bpf_skb_event_output_proto'],
  ['get_smp_processor_id', 'bpf_get_smp_processor_id_proto'],
  ['skb_under_cgroup', 'bpf_skb_under_cgroup_proto'],
  ['get_socket_cookie', 'bpf_get_socket_cookie_proto'],
  ['get_netns_cookie', 'bpf_get_netns_cookie_proto', { since: '6.15' }],
  ['get_socket_uid', 'bpf_get_socket_uid_proto'],
  ['fib_lookup', 'bpf_skb_fib_lookup_proto'],
  ['check_mtu', 'bpf_skb_check_mtu_proto'],
  ['sk_fullsock', 'bpf_sk_fullsock_proto'],
  ['sk_storage_get', 'bpf_sk_storage_get_proto'],
  ['sk_storage_delete', 'bpf_sk_storage_delete_proto'],
  ['skb_get_xfrm_state', 'bpf_skb_get_xfrm_state_proto', { config: 'CONFIG_XFRM' }],
  ['skb_cgroup_classid', 'bpf_skb_cgroup_classid_proto', { config: 'CONFIG_CGROUP_NET_CLASSID' }],
  ['skb_cgroup_id', 'bpf_skb_cgroup_id_proto', { config: 'CONFIG_SOCK_CGROUP_DATA' }],
  ['skb_ancestor_cgroup_id', 'bpf_skb_ancestor_cgroup_id_proto', { config: 'CONFIG_SOCK_CGROUP_DATA' }],
  ['sk_lookup_tcp', 'bpf_tc_sk_lookup_tcp_proto', { config: 'CONFIG_INET' }],
  ['sk_lookup_udp', 'bpf_tc_sk_lookup_udp_proto', { config: 'CONFIG_INET' }],
  ['sk_release', 'bpf_sk_release_proto', { config: 'CONFIG_INET' }],
  ['tcp_sock', 'bpf_tcp_sock_proto', { config: 'CONFIG_INET' }],
  ['get_listener_sock', 'bpf_get_listener_sock_proto', { config: 'CONFIG_INET' }],
  ['skc_lookup_tcp', 'bpf_tc_skc_lookup_tcp_proto', { config: 'CONFIG_INET' }],
  ['tcp_check_syncookie', 'bpf_tcp_check_syncookie_proto', { config: 'CONFIG_INET' }],
  ['skb_ecn_set_ce', 'bpf_skb_ecn_set_ce_proto', { config: 'CONFIG_INET' }],
  ['tcp_gen_syncookie', 'bpf_tcp_gen_syncookie_proto', { config: 'CONFIG_INET' }],
  ['sk_assign', 'bpf_sk_assign_proto', { config: 'CONFIG_INET' }],
  ['skb_set_tstamp', 'bpf_skb_set_tstamp_proto', { config: 'CONFIG_INET' }],
  ['tcp_raw_gen_syncookie_ipv4', 'bpf_tcp_raw_gen_syncookie_ipv4_proto', { config: 'CONFIG_INET && CONFIG_SYN_COOKIES' }],
  ['tcp_raw_gen_syncookie_ipv6', 'bpf_tcp_raw_gen_syncookie_ipv6_proto', { config: 'CONFIG_INET && CONFIG_SYN_COOKIES' }],
  ['tcp_raw_check_syncookie_ipv4', 'bpf_tcp_raw_check_syncookie_ipv4_proto', { config: 'CONFIG_INET && CONFIG_SYN_COOKIES' }],
  ['tcp_raw_check_syncookie_ipv6', 'bpf_tcp_raw_check_syncookie_ipv6_proto', { config: 'CONFIG_INET && CONFIG_SYN_COOKIES' }],
];

// net/core/filter.c xdp_func_proto
const XDP: readonly Row[] = [
  ['perf_event_output', 'bpf_xdp_event_output_proto'],
  ['get_smp_processor_id', 'bpf_get_smp_processor_id_proto'],
  ['csum_diff', 'bpf_csum_diff_proto'],
  ['xdp_adjust_head', 'bpf_xdp_adjust_head_proto'],
  ['xdp_adjust_meta', 'bpf_xdp_adjust_meta_proto'],
  ['redirect', 'bpf_xdp_redirect_proto'],
  ['redirect_map', 'bpf_xdp_redirect_map_proto'],
  ['xdp_adjust_tail', 'bpf_xdp_adjust_tail_proto'],
  ['xdp_get_buff_len', 'bpf_xdp_get_buff_len_proto'],
  ['xdp_load_bytes', 'bpf_xdp_load_bytes_proto'],
  ['xdp_store_bytes', 'bpf_xdp_store_bytes_proto'],
  ['fib_lookup', 'bpf_xdp_fib_lookup_proto'],
  ['check_mtu', 'bpf_xdp_check_mtu_proto'],
  ['sk_lookup_udp', 'bpf_xdp_sk_lookup_udp_proto', { config: 'CONFIG_INET' }],
  ['sk_lookup_tcp', 'bpf_xdp_sk_lookup_tcp_proto', { config: 'CONFIG_INET' }],
  ['sk_release', 'bpf_sk_release_proto', { config: 'CONFIG_INET' }],
  ['skc_lookup_tcp', 'bpf_xdp_skc_lookup_tcp_proto', { config: 'CONFIG_INET' }],
  ['tcp_check_syncookie', 'bpf_tcp_check_syncookie_proto', { config: 'CONFIG_INET' }],
  ['tcp_gen_syncookie', 'bpf_tcp_gen_syncookie_proto', { config: 'CONFIG_INET' }],
  ['tcp_raw_gen_syncookie_ipv4', 'bpf_tcp_raw_gen_syncookie_ipv4_proto', { config: 'CONFIG_INET && CONFIG_SYN_COOKIES' }],
  ['tcp_raw_gen_syncookie_ipv6', 'bpf_tcp_raw_gen_syncookie_ipv6_proto', { config: 'CONFIG_INET && CONFIG_SYN_COOKIES' }],
  ['tcp_raw_check_syncookie_ipv4', 'bpf_tcp_raw_check_syncookie_ipv4_proto', { config: 'CONFIG_INET && CONFIG_SYN_COOKIES' }],
  ['tcp_raw_check_syncookie_ipv6', 'bpf_tcp_raw_check_syncookie_ipv6_proto', { config: 'CONFIG_INET && CONFIG_SYN_COOKIES' }],
];

// net/core/filter.c sock_ops_func_proto
const SOCK_OPS: readonly Row[] = [
  ['setsockopt', 'bpf_sock_ops_setsockopt_proto'],
  ['getsockopt', 'bpf_sock_ops_getsockopt_proto'],
  ['sock_ops_cb_flags_set', 'bpf_sock_ops_cb_flags_set_proto'],
  ['sock_map_update', 'bpf_sock_map_update_proto'],
  ['sock_hash_update', 'bpf_sock_hash_update_proto'],
  ['get_socket_cookie', 'bpf_get_socket_cookie_sock_ops_proto'],
  ['perf_event_output', 'bpf_event_output_data_proto'],
  ['sk_storage_get', 'bpf_sk_storage_get_proto'],
  ['sk_storage_delete', 'bpf_sk_storage_delete_proto'],
  ['get_netns_cookie', 'bpf_get_netns_cookie_sock_ops_proto'],
  ['load_hdr_opt', 'bpf_sock_ops_load_hdr_opt_proto', { config: 'CONFIG_INET' }],
  ['store_hdr_opt', 'bpf_sock_ops_store_hdr_opt_proto', { config: 'CONFIG_INET' }],
  ['reserve_hdr_opt', 'bpf_sock_ops_reserve_hdr_opt_proto', { config: 'CONFIG_INET' }],
  ['tcp_sock', 'bpf_tcp_sock_proto', { config: 'CONFIG_INET' }],
];

// net/core/filter.c sk_msg_func_proto
const SK_MSG: readonly Row[] = [
  ['msg_redirect_map', 'bpf_msg_redirect_map_proto'],
  ['msg_redirect_hash', 'bpf_msg_redirect_hash_proto'],
  ['msg_apply_bytes', 'bpf_msg_apply_bytes_proto'],
  ['msg_cork_bytes', 'bpf_msg_cork_bytes_proto'],
  ['msg_pull_data', 'bpf_msg_pull_data_proto'],
  ['msg_push_data', 'bpf_msg_push_data_proto'],
  ['msg_pop_data', 'bpf_msg_pop_data_proto'],
  ['perf_event_output', 'bpf_event_output_data_proto'],
  ['get_current_uid_gid', 'bpf_get_current_uid_gid_proto'],
  ['sk_storage_get', 'bpf_sk_storage_get_proto'],
  ['sk_storage_delete', 'bpf_sk_storage_delete_proto'],
  ['get_netns_cookie', 'bpf_get_netns_cookie_sk_msg_proto'],
  ['get_cgroup_classid', 'bpf_get_cgroup_classid_curr_proto', { config: 'CONFIG_CGROUP_NET_CLASSID' }],
];

// net/core/filter.c sk_skb_func_proto
const SK_SKB: readonly Row[] = [
  ['skb_store_bytes', 'bpf_skb_store_bytes_proto'],
  ['skb_load_bytes', 'bpf_skb_load_bytes_proto'],
  ['skb_pull_data', 'sk_skb_pull_data_proto'],
  ['skb_change_tail', 'sk_skb_change_tail_proto'],
  ['skb_change_head', 'sk_skb_change_head_proto'],
  ['skb_adjust_room', 'sk_skb_adjust_room_proto'],
  ['get_socket_cookie', 'bpf_get_socket_cookie_proto'],
  ['get_socket_uid', 'bpf_get_socket_uid_proto'],
  ['sk_redirect_map', 'bpf_sk_redirect_map_proto'],
  ['sk_redirect_hash', 'bpf_sk_redirect_hash_proto'],
  ['perf_event_output', 'bpf_skb_event_output_proto'],
  ['sk_lookup_tcp', 'bpf_sk_lookup_tcp_proto', { config: 'CONFIG_INET' }],
  ['sk_lookup_udp', 'bpf_sk_lookup_udp_proto', { config: 'CONFIG_INET' }],
  ['sk_release', 'bpf_sk_release_proto', { config: 'CONFIG_INET' }],
  ['skc_lookup_tcp', 'bpf_skc_lookup_tcp_proto', { config: 'CONFIG_INET' }],
];

// net/core/filter.c bpf_sk_base_func_proto: the skc_to_* casts need CAP_PERFMON, then bpf_base_func_proto
const SK_BASE: readonly Row[] = [
  ['skc_to_tcp6_sock', 'bpf_skc_to_tcp6_sock_proto', { tier: 'perfmon' }],
  ['skc_to_tcp_sock', 'bpf_skc_to_tcp_sock_proto', { tier: 'perfmon' }],
  ['skc_to_tcp_timewait_sock', 'bpf_skc_to_tcp_timewait_sock_proto', { tier: 'perfmon' }],
  ['skc_to_tcp_request_sock', 'bpf_skc_to_tcp_request_sock_proto', { tier: 'perfmon' }],
  ['skc_to_udp6_sock', 'bpf_skc_to_udp6_sock_proto', { tier: 'perfmon' }],
  ['skc_to_unix_sock', 'bpf_skc_to_unix_sock_proto', { tier: 'perfmon' }],
  ['skc_to_mptcp_sock', 'bpf_skc_to_mptcp_sock_proto', { tier: 'perfmon' }],
  ['ktime_get_coarse_ns', 'bpf_ktime_get_coarse_ns_proto'],
];

// kernel/bpf/helpers.c bpf_base_func_proto, as on the 6.18 host
const BASE: readonly Row[] = [
  ['map_lookup_elem', 'bpf_map_lookup_elem_proto'],
  ['map_update_elem', 'bpf_map_update_elem_proto'],
  ['map_delete_elem', 'bpf_map_delete_elem_proto'],
  ['map_push_elem', 'bpf_map_push_elem_proto'],
  ['map_pop_elem', 'bpf_map_pop_elem_proto'],
  ['map_peek_elem', 'bpf_map_peek_elem_proto'],
  ['map_lookup_percpu_elem', 'bpf_map_lookup_percpu_elem_proto'],
  ['get_prandom_u32', 'bpf_get_prandom_u32_proto'],
  ['get_smp_processor_id', 'bpf_get_raw_smp_processor_id_proto'],
  ['get_numa_node_id', 'bpf_get_numa_node_id_proto'],
  ['tail_call', 'bpf_tail_call_proto'],
  ['ktime_get_ns', 'bpf_ktime_get_ns_proto'],
  ['ktime_get_boot_ns', 'bpf_ktime_get_boot_ns_proto'],
  ['ktime_get_tai_ns', 'bpf_ktime_get_tai_ns_proto'],
  ['ringbuf_output', 'bpf_ringbuf_output_proto'],
  ['ringbuf_reserve', 'bpf_ringbuf_reserve_proto'],
  ['ringbuf_submit', 'bpf_ringbuf_submit_proto'],
  ['ringbuf_discard', 'bpf_ringbuf_discard_proto'],
  ['ringbuf_query', 'bpf_ringbuf_query_proto'],
  ['strncmp', 'bpf_strncmp_proto'],
  ['strtol', 'bpf_strtol_proto'],
  ['strtoul', 'bpf_strtoul_proto'],
  ['get_current_pid_tgid', 'bpf_get_current_pid_tgid_proto'],
  ['get_ns_current_pid_tgid', 'bpf_get_ns_current_pid_tgid_proto'],
  ['get_current_uid_gid', 'bpf_get_current_uid_gid_proto', { since: '>6.12' }],
  ['spin_lock', 'bpf_spin_lock_proto', { tier: 'bpf' }],
  ['spin_unlock', 'bpf_spin_unlock_proto', { tier: 'bpf' }],
  ['jiffies64', 'bpf_jiffies64_proto', { tier: 'bpf' }],
  // The helpers.c sources put these two behind CAP_BPF, and an earlier 6.18.44 host agreed; the 6.18.44 host of
  // 2026-12-06 refuses them to a CAP_BPF-only loader ("program of this type cannot use helper"), so they need
  // CAP_PERFMON here.  The host kernel wins (test/helpers/availability-6.18.json records it).
  ['per_cpu_ptr', 'bpf_per_cpu_ptr_proto', { tier: 'perfmon' }],
  ['this_cpu_ptr', 'bpf_this_cpu_ptr_proto', { tier: 'perfmon' }],
  ['timer_init', 'bpf_timer_init_proto', { tier: 'bpf' }],
  ['timer_set_callback', 'bpf_timer_set_callback_proto', { tier: 'bpf' }],
  ['timer_start', 'bpf_timer_start_proto', { tier: 'bpf' }],
  ['timer_cancel', 'bpf_timer_cancel_proto', { tier: 'bpf' }],
  ['kptr_xchg', 'bpf_kptr_xchg_proto', { tier: 'bpf' }],
  ['for_each_map_elem', 'bpf_for_each_map_elem_proto', { tier: 'bpf' }],
  ['loop', 'bpf_loop_proto', { tier: 'bpf' }],
  ['user_ringbuf_drain', 'bpf_user_ringbuf_drain_proto', { tier: 'bpf' }],
  ['ringbuf_reserve_dynptr', 'bpf_ringbuf_reserve_dynptr_proto', { tier: 'bpf' }],
  ['ringbuf_submit_dynptr', 'bpf_ringbuf_submit_dynptr_proto', { tier: 'bpf' }],
  ['ringbuf_discard_dynptr', 'bpf_ringbuf_discard_dynptr_proto', { tier: 'bpf' }],
  ['dynptr_from_mem', 'bpf_dynptr_from_mem_proto', { tier: 'bpf' }],
  ['dynptr_read', 'bpf_dynptr_read_proto', { tier: 'bpf' }],
  ['dynptr_write', 'bpf_dynptr_write_proto', { tier: 'bpf' }],
  ['dynptr_data', 'bpf_dynptr_data_proto', { tier: 'bpf' }],
  ['cgrp_storage_get', 'bpf_cgrp_storage_get_proto', { config: 'CONFIG_CGROUPS', tier: 'bpf' }],
  ['cgrp_storage_delete', 'bpf_cgrp_storage_delete_proto', { config: 'CONFIG_CGROUPS', tier: 'bpf' }],
  ['get_current_cgroup_id', 'bpf_get_current_cgroup_id_proto', { config: 'CONFIG_CGROUPS', tier: 'bpf' }],
  ['get_current_ancestor_cgroup_id', 'bpf_get_current_ancestor_cgroup_id_proto', { config: 'CONFIG_CGROUPS', tier: 'bpf' }],
  ['current_task_under_cgroup', 'bpf_current_task_under_cgroup_proto', { tier: 'bpf', since: '>6.12' }],
  ['get_cgroup_classid', 'bpf_get_cgroup_classid_curr_proto', { tier: 'bpf', config: 'CONFIG_CGROUP_NET_CLASSID', since: '>6.12' }],
  ['task_storage_get', 'bpf_task_storage_get_proto', { tier: 'bpf', since: '>6.12' }],
  ['task_storage_delete', 'bpf_task_storage_delete_proto', { tier: 'bpf', since: '>6.12' }],
  ['trace_printk', 'bpf_trace_printk_proto', { tier: 'perfmon' }],
  ['get_current_task', 'bpf_get_current_task_proto', { tier: 'perfmon' }],
  ['get_current_task_btf', 'bpf_get_current_task_btf_proto', { tier: 'perfmon' }],
  ['get_current_comm', 'bpf_get_current_comm_proto', { tier: 'perfmon', since: '>6.12' }],
  ['probe_read_user', 'bpf_probe_read_user_proto', { tier: 'perfmon' }],
  ['probe_read_kernel', 'bpf_probe_read_kernel_proto', { tier: 'perfmon' }],
  ['probe_read_user_str', 'bpf_probe_read_user_str_proto', { tier: 'perfmon' }],
  ['probe_read_kernel_str', 'bpf_probe_read_kernel_str_proto', { tier: 'perfmon' }],
  ['copy_from_user', 'bpf_copy_from_user_proto', { tier: 'perfmon', since: '>6.12' }],
  ['copy_from_user_task', 'bpf_copy_from_user_task_proto', { tier: 'perfmon', since: '>6.12' }],
  ['snprintf_btf', 'bpf_snprintf_btf_proto', { tier: 'perfmon' }],
  ['snprintf', 'bpf_snprintf_proto', { tier: 'perfmon' }],
  ['task_pt_regs', 'bpf_task_pt_regs_proto', { tier: 'perfmon' }],
  ['trace_vprintk', 'bpf_trace_vprintk_proto', { tier: 'perfmon' }],
  ['perf_event_read_value', 'bpf_perf_event_read_value_proto', { tier: 'perfmon', since: '>6.12' }],
  ['perf_event_read', 'bpf_perf_event_read_proto', { tier: 'perfmon', since: '>6.12' }],
  ['send_signal', 'bpf_send_signal_proto', { tier: 'perfmon', since: '>6.12' }],
  ['send_signal_thread', 'bpf_send_signal_thread_proto', { tier: 'perfmon', since: '>6.12' }],
  ['get_task_stack', 'bpf_get_task_stack_proto', { tier: 'perfmon', since: '>6.12' }],
  ['get_branch_snapshot', 'bpf_get_branch_snapshot_proto', { tier: 'perfmon', since: '>6.12' }],
  ['find_vma', 'bpf_find_vma_proto', { tier: 'perfmon', since: '>6.12' }],
];

/** Every table, by the kernel function it mirrors. */
export const FUNC_PROTO_TABLES: Readonly<Record<string, readonly Row[]>> = {
  cgroup_common_func_proto: CGROUP_COMMON,
  sk_filter_func_proto: SK_FILTER,
  cg_skb_func_proto: CG_SKB,
  tc_cls_act_func_proto: TC_CLS_ACT,
  xdp_func_proto: XDP,
  sock_ops_func_proto: SOCK_OPS,
  sk_msg_func_proto: SK_MSG,
  sk_skb_func_proto: SK_SKB,
  bpf_sk_base_func_proto: SK_BASE,
  bpf_base_func_proto: BASE,
};

/** Lookup order per program type (`bpf_verifier_ops.get_func_proto` and what it falls back to). */
export const FUNC_PROTO_CHAINS: Readonly<Record<ModelledProgType, readonly string[]>> = {
  1: ['sk_filter_func_proto', 'bpf_sk_base_func_proto', 'bpf_base_func_proto'],
  3: ['tc_cls_act_func_proto', 'bpf_sk_base_func_proto', 'bpf_base_func_proto'],
  4: ['tc_cls_act_func_proto', 'bpf_sk_base_func_proto', 'bpf_base_func_proto'],
  6: ['xdp_func_proto', 'bpf_sk_base_func_proto', 'bpf_base_func_proto'],
  8: ['cgroup_common_func_proto', 'cg_skb_func_proto', 'sk_filter_func_proto', 'bpf_sk_base_func_proto', 'bpf_base_func_proto'],
  13: ['cgroup_common_func_proto', 'sock_ops_func_proto', 'bpf_sk_base_func_proto', 'bpf_base_func_proto'],
  14: ['sk_skb_func_proto', 'bpf_sk_base_func_proto', 'bpf_base_func_proto'],
  16: ['sk_msg_func_proto', 'bpf_sk_base_func_proto', 'bpf_base_func_proto'],
};

interface Resolved {
  proto: string;
  tier: CapTier;
  refusedForAttach?: readonly number[];
}

function index(rows: readonly Row[], table: string): Map<number, Resolved> {
  const m = new Map<number, Resolved>();
  for (const [helper, proto, opts] of rows) {
    const id = helperId(helper);
    if (id === undefined) throw new Error(`helpers/availability: ${table}: unknown helper ${helper}`);
    if (m.has(id)) throw new Error(`helpers/availability: ${table}: ${helper} listed twice`);
    const r: Resolved = { proto, tier: opts?.tier ?? 'always' };
    if (opts?.refusedForAttach) r.refusedForAttach = opts.refusedForAttach;
    m.set(id, r);
  }
  return m;
}

const INDEXED = new Map<string, Map<number, Resolved>>(
  Object.entries(FUNC_PROTO_TABLES).map(([name, rows]) => [name, index(rows, name)]),
);

function defaultAttach(progType: number): number {
  if (progType === PROG_TYPES.SOCK_OPS) return ATTACH_TYPES.BPF_CGROUP_SOCK_OPS;
  return 0;
}

export function isModelledProgType(progType: number): progType is ModelledProgType {
  return Object.prototype.hasOwnProperty.call(FUNC_PROTO_CHAINS, progType);
}

/**
 * The kernel proto variable (e.g. `bpf_sk_redirect_map_proto`) that `get_func_proto(id)` returns for this
 * program type, or undefined where it returns NULL.  Privileged (root) unless opts say otherwise.
 */
export function resolveHelperProto(progType: number, id: number, opts?: Partial<HelperOptions>): string | undefined {
  if (!isModelledProgType(progType)) throw new RangeError(`helpers/availability: program type ${progType} is not modelled`);
  if (!Number.isInteger(id) || id < 0 || id >= BPF_FUNC_MAX_ID) return undefined;
  const privileged = opts?.privileged ?? true;
  const capBpf = opts?.capBpf ?? privileged;
  const capPerfmon = opts?.capPerfmon ?? privileged;
  const attach = opts?.expectedAttachType ?? defaultAttach(progType);
  for (const table of FUNC_PROTO_CHAINS[progType]) {
    const hit = INDEXED.get(table)!.get(id);
    if (!hit) continue;
    // A table that knows the helper decides, even when it refuses (the kernel returns NULL there).
    if (hit.refusedForAttach?.includes(attach)) return undefined;
    if (hit.tier === 'perfmon' && !(capPerfmon && (table === 'bpf_sk_base_func_proto' || capBpf))) return undefined;
    if (hit.tier === 'bpf' && !capBpf) return undefined;
    return hit.proto;
  }
  return undefined;
}

/** Whether a program of `progType` may call helper `id` (the verifier's get_func_proto is non-NULL). */
export function isHelperAllowed(progType: number, id: number, opts: Partial<HelperOptions> = { privileged: true }): boolean {
  return resolveHelperProto(progType, id, opts) !== undefined;
}

/** Ids of all helpers a program of `progType` may call, ascending. */
export function allowedHelpers(progType: number, opts: Partial<HelperOptions> = { privileged: true }): number[] {
  const out: number[] = [];
  for (let id = 1; id < BPF_FUNC_MAX_ID; id++) if (resolveHelperProto(progType, id, opts) !== undefined) out.push(id);
  return out;
}

/**
 * The verifier's messages for a helper call it refuses before looking at arguments (check_helper_call).
 * `%s#%d` is the helper name from ids.ts (`unknown` when out of range) and id.  Each line ends with \n in the log.
 */
export const HELPER_CALL_MESSAGES = {
  /** func_id < 0 or >= __BPF_FUNC_MAX_ID (EINVAL). */
  invalidFunc: 'invalid func %s#%d',
  /** get_func_proto returned NULL (EINVAL).  Text on 6.12 and the 6.18 host. */
  notAllowedInProgType: 'program of this type cannot use helper %s#%d',
  /** The same case on older kernels (before the message was reworded). */
  unknownFuncOld: 'unknown func %s#%d',
  /** gpl_only helper, non-GPL-compatible license (EINVAL). */
  gplRestricted: 'cannot call GPL-restricted function from non-GPL compatible program',
  /** proto->allowed() refused (EINVAL). */
  notAllowedInProbe: 'helper call is not allowed in probe',
  /** might_sleep helper in a non-sleepable program (EINVAL); copy_from_user(_task) for every modelled type. */
  mightSleep: 'helper call might sleep in a non-sleepable prog',
} as const;

/** `HELPER_CALL_MESSAGES` template with name and id filled in. */
export function helperCallMessage(kind: 'invalidFunc' | 'notAllowedInProgType' | 'unknownFuncOld', id: number): string {
  return HELPER_CALL_MESSAGES[kind].replace('%s', helperName(id)).replace('%d', String(id));
}
