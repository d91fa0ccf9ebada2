// Helper prototypes (`struct bpf_func_proto`) for the program types bpfvm models, as data.
//
// Facts come from the kernel: net/core/filter.c, net/core/sock_map.c, net/core/bpf_sk_storage.c,
// kernel/bpf/{helpers,core,ringbuf,stackmap,task_iter,bpf_task_storage,bpf_cgrp_storage,cgroup}.c and
// kernel/trace/bpf_trace.c (Linux 6.12), checked against the host kernel (6.18) by
// test/helpers/availability.test.ts.  Entries are keyed by the kernel's proto variable name because the SAME
// helper id can resolve to different protos depending on the program type (see `protoFor`).
//
// Argument types are written as the kernel spells them in the proto ('ARG_PTR_TO_MEM | MEM_RDONLY',
// 'ARG_PTR_TO_UNINIT_MEM', ...) and split once, at load, into a base type plus flags, with the kernel's
// composite names (ARG_PTR_TO_UNINIT_MEM = ARG_PTR_TO_MEM | MEM_UNINIT | MEM_WRITE, ...) expanded.
//
// Helper ids and names live only in ./ids.ts; this file names helpers by their BPF_FUNC_* suffix.

import { helperId, helperName } from './ids.js';
import { resolveHelperProto, type HelperOptions } from './availability.js';

export const ARG_BASE_TYPES = [
  'ARG_DONTCARE',
  'ARG_CONST_MAP_PTR',
  'ARG_PTR_TO_MAP_KEY',
  'ARG_PTR_TO_MAP_VALUE',
  'ARG_PTR_TO_MEM',
  'ARG_PTR_TO_ARENA',
  'ARG_CONST_SIZE',
  'ARG_CONST_SIZE_OR_ZERO',
  'ARG_PTR_TO_CTX',
  'ARG_ANYTHING',
  'ARG_SCALAR',
  'ARG_PTR_TO_SPIN_LOCK',
  'ARG_PTR_TO_SOCK_COMMON',
  'ARG_PTR_TO_SOCKET',
  'ARG_PTR_TO_BTF_ID',
  'ARG_PTR_TO_RINGBUF_MEM',
  'ARG_CONST_ALLOC_SIZE_OR_ZERO',
  'ARG_PTR_TO_BTF_ID_SOCK_COMMON',
  'ARG_PTR_TO_PERCPU_BTF_ID',
  'ARG_PTR_TO_FUNC',
  'ARG_PTR_TO_STACK',
  'ARG_PTR_TO_CONST_STR',
  'ARG_PTR_TO_TIMER',
  'ARG_KPTR_XCHG_DEST',
  'ARG_PTR_TO_DYNPTR',
] as const;
export type ArgBaseType = (typeof ARG_BASE_TYPES)[number];

/** `enum bpf_type_flag` members that appear in helper prototypes. */
export const TYPE_FLAGS = [
  'PTR_MAYBE_NULL',
  'MEM_RDONLY',
  'MEM_RINGBUF',
  'MEM_USER',
  'MEM_PERCPU',
  'OBJ_RELEASE',
  'PTR_UNTRUSTED',
  'MEM_UNINIT',
  'DYNPTR_TYPE_LOCAL',
  'DYNPTR_TYPE_RINGBUF',
  'MEM_FIXED_SIZE',
  'MEM_ALLOC',
  'PTR_TRUSTED',
  'MEM_RCU',
  'NON_OWN_REF',
  'DYNPTR_TYPE_SKB',
  'DYNPTR_TYPE_XDP',
  'MEM_ALIGNED',
  'MEM_WRITE',
] as const;
export type TypeFlag = (typeof TYPE_FLAGS)[number];

/** The kernel's composite argument names (`enum bpf_arg_type`, "extended arg_types"). */
const ARG_ALIASES: Readonly<Record<string, readonly string[]>> = {
  ARG_PTR_TO_MAP_VALUE_OR_NULL: ['ARG_PTR_TO_MAP_VALUE', 'PTR_MAYBE_NULL'],
  ARG_PTR_TO_MEM_OR_NULL: ['ARG_PTR_TO_MEM', 'PTR_MAYBE_NULL'],
  ARG_PTR_TO_CTX_OR_NULL: ['ARG_PTR_TO_CTX', 'PTR_MAYBE_NULL'],
  ARG_PTR_TO_SOCKET_OR_NULL: ['ARG_PTR_TO_SOCKET', 'PTR_MAYBE_NULL'],
  ARG_PTR_TO_STACK_OR_NULL: ['ARG_PTR_TO_STACK', 'PTR_MAYBE_NULL'],
  ARG_PTR_TO_BTF_ID_OR_NULL: ['ARG_PTR_TO_BTF_ID', 'PTR_MAYBE_NULL'],
  ARG_PTR_TO_UNINIT_MEM: ['ARG_PTR_TO_MEM', 'MEM_UNINIT', 'MEM_WRITE'],
  ARG_PTR_TO_FIXED_SIZE_MEM: ['ARG_PTR_TO_MEM', 'MEM_FIXED_SIZE'],
};

/** `enum bpf_return_type`, including the kernel's composite names, each split into base type + flags. */
export const RET_TYPES = {
  RET_INTEGER: ['RET_INTEGER'],
  RET_VOID: ['RET_VOID'],
  RET_PTR_TO_MAP_VALUE: ['RET_PTR_TO_MAP_VALUE'],
  RET_PTR_TO_SOCKET: ['RET_PTR_TO_SOCKET'],
  RET_PTR_TO_TCP_SOCK: ['RET_PTR_TO_TCP_SOCK'],
  RET_PTR_TO_SOCK_COMMON: ['RET_PTR_TO_SOCK_COMMON'],
  RET_PTR_TO_MEM: ['RET_PTR_TO_MEM'],
  RET_PTR_TO_MEM_OR_BTF_ID: ['RET_PTR_TO_MEM_OR_BTF_ID'],
  RET_PTR_TO_BTF_ID: ['RET_PTR_TO_BTF_ID'],
  RET_PTR_TO_MAP_VALUE_OR_NULL: ['RET_PTR_TO_MAP_VALUE', 'PTR_MAYBE_NULL'],
  RET_PTR_TO_SOCKET_OR_NULL: ['RET_PTR_TO_SOCKET', 'PTR_MAYBE_NULL'],
  RET_PTR_TO_TCP_SOCK_OR_NULL: ['RET_PTR_TO_TCP_SOCK', 'PTR_MAYBE_NULL'],
  RET_PTR_TO_SOCK_COMMON_OR_NULL: ['RET_PTR_TO_SOCK_COMMON', 'PTR_MAYBE_NULL'],
  RET_PTR_TO_RINGBUF_MEM_OR_NULL: ['RET_PTR_TO_MEM', 'PTR_MAYBE_NULL', 'MEM_RINGBUF'],
  RET_PTR_TO_DYNPTR_MEM_OR_NULL: ['RET_PTR_TO_MEM', 'PTR_MAYBE_NULL'],
  RET_PTR_TO_BTF_ID_OR_NULL: ['RET_PTR_TO_BTF_ID', 'PTR_MAYBE_NULL'],
  RET_PTR_TO_BTF_ID_TRUSTED: ['RET_PTR_TO_BTF_ID', 'PTR_TRUSTED'],
  // spelled with explicit flags in the kernel (per_cpu_ptr, this_cpu_ptr)
  'RET_PTR_TO_MEM_OR_BTF_ID | PTR_MAYBE_NULL | MEM_RDONLY': ['RET_PTR_TO_MEM_OR_BTF_ID', 'PTR_MAYBE_NULL', 'MEM_RDONLY'],
  'RET_PTR_TO_MEM_OR_BTF_ID | MEM_RDONLY': ['RET_PTR_TO_MEM_OR_BTF_ID', 'MEM_RDONLY'],
} as const;
export type RetType = keyof typeof RET_TYPES;
export type RetBaseType = (typeof RET_TYPES)[RetType][0];

export interface ArgType {
  /** As written in the kernel's proto, e.g. `ARG_PTR_TO_MEM | MEM_RDONLY` or `ARG_PTR_TO_UNINIT_MEM`. */
  readonly spelled: string;
  readonly base: ArgBaseType;
  /** Flags after expanding composite names, in bit order of `enum bpf_type_flag`. */
  readonly flags: readonly TypeFlag[];
  /** `argN_btf_id`: BTF struct name (or `BPF_PTR_POISON`: taken from the map's kptr field). */
  readonly btfId?: string;
  /** `argN_size` for MEM_FIXED_SIZE arguments, in bytes. */
  readonly size?: number;
}

export interface HelperProto {
  /** The kernel's proto variable, e.g. `bpf_skb_event_output_proto`. */
  readonly key: string;
  readonly id: number;
  /** `bpf_<name>` as the verifier prints it (from ids.ts). */
  readonly name: string;
  readonly ret: RetType;
  readonly retBase: RetBaseType;
  readonly retFlags: readonly TypeFlag[];
  /** `ret_btf_id` as a BTF struct name. */
  readonly retBtfId?: string;
  /** R1..Rn; trailing ARG_DONTCARE slots are omitted. */
  readonly args: readonly ArgType[];
  readonly gplOnly: boolean;
  readonly pktAccess: boolean;
  readonly mightSleep: boolean;
  readonly allowFastcall: boolean;
  /** Has an `allowed()` callback (only tracing-side protos; none of the modelled types reach one). */
  readonly hasAllowedCallback: boolean;
  /** `bpf_helper_changes_pkt_data(id)`: calling it invalidates packet pointers (see CHANGES_PKT_DATA). */
  readonly changesPktData: boolean;
}

interface RawProto {
  helper: string;
  ret: RetType;
  args: readonly string[];
  gplOnly?: boolean;
  pktAccess?: boolean;
  mightSleep?: boolean;
  allowFastcall?: boolean;
  hasAllowedCallback?: boolean;
  argBtfIds?: Readonly<Record<number, string>>;
  argSizes?: Readonly<Record<number, number>>;
  retBtfId?: string;
}

/**
 * Helpers for which net/core/filter.c `bpf_helper_changes_pkt_data()` is true (a switch on the helper id in the
 * 6.12 stable tree; older kernels compared function pointers).  Names, not ids: ids come from ids.ts.
 *
 * tail_call is in the list (a tail-called program may change the packet), which marks subprograms containing a
 * tail call as changes_pkt_data.  But on the 6.18 host a tail call in the MAIN frame does NOT invalidate packet
 * pointers (checked: XDP, pkt pointer range-checked, bpf_tail_call, then a read through the old pointer loads;
 * the same program with bpf_xdp_adjust_head fails with `R7 invalid mem access 'scalar'`).  That is the later
 * "properly verify tail call behavior" rule; 6.12 (with the 6.13 backport) invalidated on every tail call.
 * See TAIL_CALL_INVALIDATES_IN_MAIN_FRAME.
 */
export const CHANGES_PKT_DATA: readonly string[] = [
  'clone_redirect',
  'l3_csum_replace',
  'l4_csum_replace',
  'lwt_push_encap',
  'lwt_seg6_action',
  'lwt_seg6_adjust_srh',
  'lwt_seg6_store_bytes',
  'msg_pop_data',
  'msg_pull_data',
  'msg_push_data',
  'skb_adjust_room',
  'skb_change_head',
  'skb_change_proto',
  'skb_change_tail',
  'skb_pull_data',
  'skb_store_bytes',
  'skb_vlan_pop',
  'skb_vlan_push',
  'store_hdr_opt',
  'xdp_adjust_head',
  'xdp_adjust_meta',
  'xdp_adjust_tail',
  // a tail-called program may do any of the above
  'tail_call',
];

/*
 * The prototypes.  Definitions that are not in the 6.12 tree used here (they live in kernel/trace/bpf_trace.c
 * or net/core/bpf_sk_storage.c) were taken from those files; protos that only 6.18 reaches from the modelled
 * types (perf_event_read*, send_signal*, get_task_stack, get_branch_snapshot, find_vma, copy_from_user*,
 * task_storage_*, current_task_under_cgroup, get_current_comm, get_netns_cookie skb flavour) are included too.
 */
const RAW_PROTOS: Readonly<Record<string, RawProto>> = {
  bpf_cgrp_storage_delete_proto: { helper: 'cgrp_storage_delete', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_BTF_ID_OR_NULL'], argBtfIds: { 2: 'cgroup' } },
  bpf_cgrp_storage_get_proto: { helper: 'cgrp_storage_get', ret: 'RET_PTR_TO_MAP_VALUE_OR_NULL', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_BTF_ID_OR_NULL', 'ARG_PTR_TO_MAP_VALUE_OR_NULL', 'ARG_ANYTHING'], argBtfIds: { 2: 'cgroup' } },
  bpf_skb_check_mtu_proto: { helper: 'check_mtu', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_PTR_TO_FIXED_SIZE_MEM | MEM_WRITE | MEM_ALIGNED', 'ARG_ANYTHING', 'ARG_ANYTHING'], gplOnly: true, argSizes: { 3: 4 } },
  bpf_xdp_check_mtu_proto: { helper: 'check_mtu', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_PTR_TO_FIXED_SIZE_MEM | MEM_WRITE | MEM_ALIGNED', 'ARG_ANYTHING', 'ARG_ANYTHING'], gplOnly: true, argSizes: { 3: 4 } },
  bpf_clone_redirect_proto: { helper: 'clone_redirect', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_copy_from_user_proto: { helper: 'copy_from_user', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING'], mightSleep: true },
  bpf_copy_from_user_task_proto: { helper: 'copy_from_user_task', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING', 'ARG_PTR_TO_BTF_ID', 'ARG_ANYTHING'], gplOnly: true, mightSleep: true, argBtfIds: { 4: 'task_struct' } },
  bpf_csum_diff_proto: { helper: 'csum_diff', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING'], pktAccess: true },
  bpf_csum_level_proto: { helper: 'csum_level', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING'] },
  bpf_csum_update_proto: { helper: 'csum_update', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING'] },
  bpf_current_task_under_cgroup_proto: { helper: 'current_task_under_cgroup', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_ANYTHING'] },
  bpf_dynptr_data_proto: { helper: 'dynptr_data', ret: 'RET_PTR_TO_DYNPTR_MEM_OR_NULL', args: ['ARG_PTR_TO_DYNPTR | MEM_RDONLY', 'ARG_ANYTHING', 'ARG_CONST_ALLOC_SIZE_OR_ZERO'] },
  bpf_dynptr_from_mem_proto: { helper: 'dynptr_from_mem', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING', 'ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_LOCAL | MEM_UNINIT | MEM_WRITE'] },
  bpf_dynptr_read_proto: { helper: 'dynptr_read', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_PTR_TO_DYNPTR | MEM_RDONLY', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_dynptr_write_proto: { helper: 'dynptr_write', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_DYNPTR | MEM_RDONLY', 'ARG_ANYTHING', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING'] },
  bpf_skb_fib_lookup_proto: { helper: 'fib_lookup', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM', 'ARG_CONST_SIZE', 'ARG_ANYTHING'], gplOnly: true },
  bpf_xdp_fib_lookup_proto: { helper: 'fib_lookup', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM', 'ARG_CONST_SIZE', 'ARG_ANYTHING'], gplOnly: true },
  bpf_find_vma_proto: { helper: 'find_vma', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_BTF_ID', 'ARG_ANYTHING', 'ARG_PTR_TO_FUNC', 'ARG_PTR_TO_STACK_OR_NULL', 'ARG_ANYTHING'], argBtfIds: { 1: 'task_struct' } },
  bpf_for_each_map_elem_proto: { helper: 'for_each_map_elem', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_FUNC', 'ARG_PTR_TO_STACK_OR_NULL', 'ARG_ANYTHING'] },
  bpf_get_branch_snapshot_proto: { helper: 'get_branch_snapshot', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE_OR_ZERO'], gplOnly: true },
  bpf_get_cgroup_classid_curr_proto: { helper: 'get_cgroup_classid', ret: 'RET_INTEGER', args: [] },
  bpf_get_cgroup_classid_proto: { helper: 'get_cgroup_classid', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX'] },
  bpf_get_current_ancestor_cgroup_id_proto: { helper: 'get_current_ancestor_cgroup_id', ret: 'RET_INTEGER', args: ['ARG_ANYTHING'] },
  bpf_get_current_cgroup_id_proto: { helper: 'get_current_cgroup_id', ret: 'RET_INTEGER', args: [] },
  bpf_get_current_comm_proto: { helper: 'get_current_comm', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE'] },
  bpf_get_current_pid_tgid_proto: { helper: 'get_current_pid_tgid', ret: 'RET_INTEGER', args: [] },
  bpf_get_current_task_proto: { helper: 'get_current_task', ret: 'RET_INTEGER', args: [], gplOnly: true },
  bpf_get_current_task_btf_proto: { helper: 'get_current_task_btf', ret: 'RET_PTR_TO_BTF_ID_TRUSTED', args: [], gplOnly: true, retBtfId: 'task_struct' },
  bpf_get_current_uid_gid_proto: { helper: 'get_current_uid_gid', ret: 'RET_INTEGER', args: [] },
  bpf_get_hash_recalc_proto: { helper: 'get_hash_recalc', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX'] },
  bpf_get_listener_sock_proto: { helper: 'get_listener_sock', ret: 'RET_PTR_TO_SOCKET_OR_NULL', args: ['ARG_PTR_TO_SOCK_COMMON'] },
  bpf_get_local_storage_proto: { helper: 'get_local_storage', ret: 'RET_PTR_TO_MAP_VALUE', args: ['ARG_CONST_MAP_PTR', 'ARG_ANYTHING'] },
  bpf_get_netns_cookie_proto: { helper: 'get_netns_cookie', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX_OR_NULL'] },
  bpf_get_netns_cookie_sk_msg_proto: { helper: 'get_netns_cookie', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX_OR_NULL'] },
  bpf_get_netns_cookie_sock_ops_proto: { helper: 'get_netns_cookie', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX_OR_NULL'] },
  bpf_get_ns_current_pid_tgid_proto: { helper: 'get_ns_current_pid_tgid', ret: 'RET_INTEGER', args: ['ARG_ANYTHING', 'ARG_ANYTHING', 'ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE'] },
  bpf_get_numa_node_id_proto: { helper: 'get_numa_node_id', ret: 'RET_INTEGER', args: [] },
  bpf_get_prandom_u32_proto: { helper: 'get_prandom_u32', ret: 'RET_INTEGER', args: [] },
  bpf_get_retval_proto: { helper: 'get_retval', ret: 'RET_INTEGER', args: [] },
  bpf_get_route_realm_proto: { helper: 'get_route_realm', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX'] },
  bpf_get_raw_smp_processor_id_proto: { helper: 'get_smp_processor_id', ret: 'RET_INTEGER', args: [] },
  bpf_get_smp_processor_id_proto: { helper: 'get_smp_processor_id', ret: 'RET_INTEGER', args: [], allowFastcall: true },
  bpf_get_socket_cookie_proto: { helper: 'get_socket_cookie', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX'] },
  bpf_get_socket_cookie_sock_ops_proto: { helper: 'get_socket_cookie', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX'] },
  bpf_get_socket_uid_proto: { helper: 'get_socket_uid', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX'] },
  bpf_get_task_stack_proto: { helper: 'get_task_stack', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_BTF_ID', 'ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING'], argBtfIds: { 1: 'task_struct' } },
  bpf_sock_ops_getsockopt_proto: { helper: 'getsockopt', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING', 'ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE'] },
  bpf_jiffies64_proto: { helper: 'jiffies64', ret: 'RET_INTEGER', args: [] },
  bpf_kptr_xchg_proto: { helper: 'kptr_xchg', ret: 'RET_PTR_TO_BTF_ID_OR_NULL', args: ['ARG_KPTR_XCHG_DEST', 'ARG_PTR_TO_BTF_ID_OR_NULL | OBJ_RELEASE'], argBtfIds: { 2: 'BPF_PTR_POISON' }, retBtfId: 'BPF_PTR_POISON' },
  bpf_ktime_get_boot_ns_proto: { helper: 'ktime_get_boot_ns', ret: 'RET_INTEGER', args: [] },
  bpf_ktime_get_coarse_ns_proto: { helper: 'ktime_get_coarse_ns', ret: 'RET_INTEGER', args: [] },
  bpf_ktime_get_ns_proto: { helper: 'ktime_get_ns', ret: 'RET_INTEGER', args: [] },
  bpf_ktime_get_tai_ns_proto: { helper: 'ktime_get_tai_ns', ret: 'RET_INTEGER', args: [] },
  bpf_l3_csum_replace_proto: { helper: 'l3_csum_replace', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_l4_csum_replace_proto: { helper: 'l4_csum_replace', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_sock_ops_load_hdr_opt_proto: { helper: 'load_hdr_opt', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM | MEM_WRITE', 'ARG_CONST_SIZE', 'ARG_ANYTHING'] },
  bpf_loop_proto: { helper: 'loop', ret: 'RET_INTEGER', args: ['ARG_SCALAR', 'ARG_PTR_TO_FUNC', 'ARG_PTR_TO_STACK_OR_NULL', 'ARG_ANYTHING'] },
  bpf_map_delete_elem_proto: { helper: 'map_delete_elem', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_MAP_KEY'], pktAccess: true },
  bpf_map_lookup_elem_proto: { helper: 'map_lookup_elem', ret: 'RET_PTR_TO_MAP_VALUE_OR_NULL', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_MAP_KEY'], pktAccess: true },
  bpf_map_lookup_percpu_elem_proto: { helper: 'map_lookup_percpu_elem', ret: 'RET_PTR_TO_MAP_VALUE_OR_NULL', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_MAP_KEY', 'ARG_ANYTHING'], pktAccess: true },
  bpf_map_peek_elem_proto: { helper: 'map_peek_elem', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_MAP_VALUE | MEM_UNINIT | MEM_WRITE'] },
  bpf_map_pop_elem_proto: { helper: 'map_pop_elem', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_MAP_VALUE | MEM_UNINIT | MEM_WRITE'] },
  bpf_map_push_elem_proto: { helper: 'map_push_elem', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_MAP_VALUE', 'ARG_ANYTHING'], pktAccess: true },
  bpf_map_update_elem_proto: { helper: 'map_update_elem', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_MAP_KEY', 'ARG_PTR_TO_MAP_VALUE', 'ARG_ANYTHING'], pktAccess: true },
  bpf_msg_apply_bytes_proto: { helper: 'msg_apply_bytes', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING'] },
  bpf_msg_cork_bytes_proto: { helper: 'msg_cork_bytes', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING'] },
  bpf_msg_pop_data_proto: { helper: 'msg_pop_data', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_msg_pull_data_proto: { helper: 'msg_pull_data', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_msg_push_data_proto: { helper: 'msg_push_data', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_msg_redirect_hash_proto: { helper: 'msg_redirect_hash', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_CONST_MAP_PTR', 'ARG_PTR_TO_MAP_KEY', 'ARG_ANYTHING'] },
  bpf_msg_redirect_map_proto: { helper: 'msg_redirect_map', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_CONST_MAP_PTR', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_per_cpu_ptr_proto: { helper: 'per_cpu_ptr', ret: 'RET_PTR_TO_MEM_OR_BTF_ID | PTR_MAYBE_NULL | MEM_RDONLY', args: ['ARG_PTR_TO_PERCPU_BTF_ID', 'ARG_ANYTHING'] },
  bpf_event_output_data_proto: { helper: 'perf_event_output', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_CONST_MAP_PTR', 'ARG_ANYTHING', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO'], gplOnly: true },
  bpf_skb_event_output_proto: { helper: 'perf_event_output', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_CONST_MAP_PTR', 'ARG_ANYTHING', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO'], gplOnly: true },
  bpf_xdp_event_output_proto: { helper: 'perf_event_output', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_CONST_MAP_PTR', 'ARG_ANYTHING', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO'], gplOnly: true },
  bpf_perf_event_read_proto: { helper: 'perf_event_read', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_ANYTHING'], gplOnly: true },
  bpf_perf_event_read_value_proto: { helper: 'perf_event_read_value', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_ANYTHING', 'ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE'], gplOnly: true },
  bpf_probe_read_kernel_proto: { helper: 'probe_read_kernel', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING'], gplOnly: true },
  bpf_probe_read_kernel_str_proto: { helper: 'probe_read_kernel_str', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING'], gplOnly: true },
  bpf_probe_read_user_proto: { helper: 'probe_read_user', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING'], gplOnly: true },
  bpf_probe_read_user_str_proto: { helper: 'probe_read_user_str', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING'], gplOnly: true },
  bpf_redirect_proto: { helper: 'redirect', ret: 'RET_INTEGER', args: ['ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_xdp_redirect_proto: { helper: 'redirect', ret: 'RET_INTEGER', args: ['ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_xdp_redirect_map_proto: { helper: 'redirect_map', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_redirect_neigh_proto: { helper: 'redirect_neigh', ret: 'RET_INTEGER', args: ['ARG_ANYTHING', 'ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING'] },
  bpf_redirect_peer_proto: { helper: 'redirect_peer', ret: 'RET_INTEGER', args: ['ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_sock_ops_reserve_hdr_opt_proto: { helper: 'reserve_hdr_opt', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_ringbuf_discard_proto: { helper: 'ringbuf_discard', ret: 'RET_VOID', args: ['ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE', 'ARG_ANYTHING'] },
  bpf_ringbuf_discard_dynptr_proto: { helper: 'ringbuf_discard_dynptr', ret: 'RET_VOID', args: ['ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_RINGBUF | OBJ_RELEASE', 'ARG_ANYTHING'] },
  bpf_ringbuf_output_proto: { helper: 'ringbuf_output', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING'] },
  bpf_ringbuf_query_proto: { helper: 'ringbuf_query', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_ANYTHING'] },
  bpf_ringbuf_reserve_proto: { helper: 'ringbuf_reserve', ret: 'RET_PTR_TO_RINGBUF_MEM_OR_NULL', args: ['ARG_CONST_MAP_PTR', 'ARG_CONST_ALLOC_SIZE_OR_ZERO', 'ARG_ANYTHING'] },
  bpf_ringbuf_reserve_dynptr_proto: { helper: 'ringbuf_reserve_dynptr', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_ANYTHING', 'ARG_ANYTHING', 'ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_RINGBUF | MEM_UNINIT | MEM_WRITE'] },
  bpf_ringbuf_submit_proto: { helper: 'ringbuf_submit', ret: 'RET_VOID', args: ['ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE', 'ARG_ANYTHING'] },
  bpf_ringbuf_submit_dynptr_proto: { helper: 'ringbuf_submit_dynptr', ret: 'RET_VOID', args: ['ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_RINGBUF | OBJ_RELEASE', 'ARG_ANYTHING'] },
  bpf_send_signal_proto: { helper: 'send_signal', ret: 'RET_INTEGER', args: ['ARG_ANYTHING'] },
  bpf_send_signal_thread_proto: { helper: 'send_signal_thread', ret: 'RET_INTEGER', args: ['ARG_ANYTHING'] },
  bpf_set_hash_proto: { helper: 'set_hash', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING'] },
  bpf_set_hash_invalid_proto: { helper: 'set_hash_invalid', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX'] },
  bpf_set_retval_proto: { helper: 'set_retval', ret: 'RET_INTEGER', args: ['ARG_ANYTHING'] },
  bpf_sock_ops_setsockopt_proto: { helper: 'setsockopt', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE'] },
  bpf_sk_ancestor_cgroup_id_proto: { helper: 'sk_ancestor_cgroup_id', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_BTF_ID_SOCK_COMMON', 'ARG_ANYTHING'] },
  bpf_sk_assign_proto: { helper: 'sk_assign', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_BTF_ID_SOCK_COMMON', 'ARG_ANYTHING'] },
  bpf_sk_cgroup_id_proto: { helper: 'sk_cgroup_id', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_BTF_ID_SOCK_COMMON'] },
  bpf_sk_fullsock_proto: { helper: 'sk_fullsock', ret: 'RET_PTR_TO_SOCKET_OR_NULL', args: ['ARG_PTR_TO_SOCK_COMMON'] },
  bpf_sk_lookup_tcp_proto: { helper: 'sk_lookup_tcp', ret: 'RET_PTR_TO_SOCKET_OR_NULL', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING', 'ARG_ANYTHING'], pktAccess: true },
  bpf_tc_sk_lookup_tcp_proto: { helper: 'sk_lookup_tcp', ret: 'RET_PTR_TO_SOCKET_OR_NULL', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING', 'ARG_ANYTHING'], pktAccess: true },
  bpf_xdp_sk_lookup_tcp_proto: { helper: 'sk_lookup_tcp', ret: 'RET_PTR_TO_SOCKET_OR_NULL', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING', 'ARG_ANYTHING'], pktAccess: true },
  bpf_sk_lookup_udp_proto: { helper: 'sk_lookup_udp', ret: 'RET_PTR_TO_SOCKET_OR_NULL', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING', 'ARG_ANYTHING'], pktAccess: true },
  bpf_tc_sk_lookup_udp_proto: { helper: 'sk_lookup_udp', ret: 'RET_PTR_TO_SOCKET_OR_NULL', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING', 'ARG_ANYTHING'], pktAccess: true },
  bpf_xdp_sk_lookup_udp_proto: { helper: 'sk_lookup_udp', ret: 'RET_PTR_TO_SOCKET_OR_NULL', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING', 'ARG_ANYTHING'], pktAccess: true },
  bpf_sk_redirect_hash_proto: { helper: 'sk_redirect_hash', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_CONST_MAP_PTR', 'ARG_PTR_TO_MAP_KEY', 'ARG_ANYTHING'] },
  bpf_sk_redirect_map_proto: { helper: 'sk_redirect_map', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_CONST_MAP_PTR', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_sk_release_proto: { helper: 'sk_release', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_BTF_ID_SOCK_COMMON | OBJ_RELEASE'] },
  bpf_sk_storage_delete_proto: { helper: 'sk_storage_delete', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_BTF_ID_SOCK_COMMON'] },
  bpf_sk_storage_get_proto: { helper: 'sk_storage_get', ret: 'RET_PTR_TO_MAP_VALUE_OR_NULL', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_BTF_ID_SOCK_COMMON', 'ARG_PTR_TO_MAP_VALUE_OR_NULL', 'ARG_ANYTHING'] },
  bpf_skb_adjust_room_proto: { helper: 'skb_adjust_room', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  sk_skb_adjust_room_proto: { helper: 'skb_adjust_room', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_skb_ancestor_cgroup_id_proto: { helper: 'skb_ancestor_cgroup_id', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING'] },
  bpf_skb_cgroup_classid_proto: { helper: 'skb_cgroup_classid', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX'] },
  bpf_skb_cgroup_id_proto: { helper: 'skb_cgroup_id', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX'] },
  bpf_skb_change_head_proto: { helper: 'skb_change_head', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  sk_skb_change_head_proto: { helper: 'skb_change_head', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_skb_change_proto_proto: { helper: 'skb_change_proto', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_skb_change_tail_proto: { helper: 'skb_change_tail', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  sk_skb_change_tail_proto: { helper: 'skb_change_tail', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_skb_change_type_proto: { helper: 'skb_change_type', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING'] },
  bpf_skb_ecn_set_ce_proto: { helper: 'skb_ecn_set_ce', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX'] },
  bpf_skb_get_tunnel_key_proto: { helper: 'skb_get_tunnel_key', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE', 'ARG_ANYTHING'] },
  bpf_skb_get_tunnel_opt_proto: { helper: 'skb_get_tunnel_opt', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE'] },
  bpf_skb_get_xfrm_state_proto: { helper: 'skb_get_xfrm_state', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE', 'ARG_ANYTHING'] },
  bpf_skb_load_bytes_proto: { helper: 'skb_load_bytes', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE'] },
  bpf_skb_load_bytes_relative_proto: { helper: 'skb_load_bytes_relative', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE', 'ARG_ANYTHING'] },
  bpf_skb_pull_data_proto: { helper: 'skb_pull_data', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING'] },
  sk_skb_pull_data_proto: { helper: 'skb_pull_data', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING'] },
  bpf_skb_set_tstamp_proto: { helper: 'skb_set_tstamp', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_skb_set_tunnel_key_proto: { helper: 'skb_set_tunnel_key', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE', 'ARG_ANYTHING'] },
  bpf_skb_set_tunnel_opt_proto: { helper: 'skb_set_tunnel_opt', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE'] },
  bpf_skb_store_bytes_proto: { helper: 'skb_store_bytes', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE', 'ARG_ANYTHING'] },
  bpf_skb_under_cgroup_proto: { helper: 'skb_under_cgroup', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_CONST_MAP_PTR', 'ARG_ANYTHING'] },
  bpf_skb_vlan_pop_proto: { helper: 'skb_vlan_pop', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX'] },
  bpf_skb_vlan_push_proto: { helper: 'skb_vlan_push', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_ANYTHING'] },
  bpf_skc_lookup_tcp_proto: { helper: 'skc_lookup_tcp', ret: 'RET_PTR_TO_SOCK_COMMON_OR_NULL', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING', 'ARG_ANYTHING'], pktAccess: true },
  bpf_tc_skc_lookup_tcp_proto: { helper: 'skc_lookup_tcp', ret: 'RET_PTR_TO_SOCK_COMMON_OR_NULL', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING', 'ARG_ANYTHING'], pktAccess: true },
  bpf_xdp_skc_lookup_tcp_proto: { helper: 'skc_lookup_tcp', ret: 'RET_PTR_TO_SOCK_COMMON_OR_NULL', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_ANYTHING', 'ARG_ANYTHING'], pktAccess: true },
  bpf_skc_to_mptcp_sock_proto: { helper: 'skc_to_mptcp_sock', ret: 'RET_PTR_TO_BTF_ID_OR_NULL', args: ['ARG_PTR_TO_SOCK_COMMON'], retBtfId: 'mptcp_sock' },
  bpf_skc_to_tcp6_sock_proto: { helper: 'skc_to_tcp6_sock', ret: 'RET_PTR_TO_BTF_ID_OR_NULL', args: ['ARG_PTR_TO_BTF_ID_SOCK_COMMON'], retBtfId: 'tcp6_sock' },
  bpf_skc_to_tcp_request_sock_proto: { helper: 'skc_to_tcp_request_sock', ret: 'RET_PTR_TO_BTF_ID_OR_NULL', args: ['ARG_PTR_TO_BTF_ID_SOCK_COMMON'], retBtfId: 'tcp_request_sock' },
  bpf_skc_to_tcp_sock_proto: { helper: 'skc_to_tcp_sock', ret: 'RET_PTR_TO_BTF_ID_OR_NULL', args: ['ARG_PTR_TO_BTF_ID_SOCK_COMMON'], retBtfId: 'tcp_sock' },
  bpf_skc_to_tcp_timewait_sock_proto: { helper: 'skc_to_tcp_timewait_sock', ret: 'RET_PTR_TO_BTF_ID_OR_NULL', args: ['ARG_PTR_TO_BTF_ID_SOCK_COMMON'], retBtfId: 'tcp_timewait_sock' },
  bpf_skc_to_udp6_sock_proto: { helper: 'skc_to_udp6_sock', ret: 'RET_PTR_TO_BTF_ID_OR_NULL', args: ['ARG_PTR_TO_BTF_ID_SOCK_COMMON'], retBtfId: 'udp6_sock' },
  bpf_skc_to_unix_sock_proto: { helper: 'skc_to_unix_sock', ret: 'RET_PTR_TO_BTF_ID_OR_NULL', args: ['ARG_PTR_TO_BTF_ID_SOCK_COMMON'], retBtfId: 'unix_sock' },
  bpf_snprintf_proto: { helper: 'snprintf', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_MEM_OR_NULL', 'ARG_CONST_SIZE_OR_ZERO', 'ARG_PTR_TO_CONST_STR', 'ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO'], gplOnly: true },
  bpf_snprintf_btf_proto: { helper: 'snprintf_btf', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_MEM | MEM_WRITE', 'ARG_CONST_SIZE', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE', 'ARG_ANYTHING'] },
  bpf_sock_hash_update_proto: { helper: 'sock_hash_update', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_CONST_MAP_PTR', 'ARG_PTR_TO_MAP_KEY', 'ARG_ANYTHING'], pktAccess: true },
  bpf_sock_map_update_proto: { helper: 'sock_map_update', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_CONST_MAP_PTR', 'ARG_PTR_TO_MAP_KEY', 'ARG_ANYTHING'], pktAccess: true },
  bpf_sock_ops_cb_flags_set_proto: { helper: 'sock_ops_cb_flags_set', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING'] },
  bpf_spin_lock_proto: { helper: 'spin_lock', ret: 'RET_VOID', args: ['ARG_PTR_TO_SPIN_LOCK'], argBtfIds: { 1: 'BPF_PTR_POISON' } },
  bpf_spin_unlock_proto: { helper: 'spin_unlock', ret: 'RET_VOID', args: ['ARG_PTR_TO_SPIN_LOCK'], argBtfIds: { 1: 'BPF_PTR_POISON' } },
  bpf_sock_ops_store_hdr_opt_proto: { helper: 'store_hdr_opt', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE', 'ARG_ANYTHING'] },
  bpf_strncmp_proto: { helper: 'strncmp', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE', 'ARG_PTR_TO_CONST_STR'] },
  bpf_strtol_proto: { helper: 'strtol', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE', 'ARG_ANYTHING', 'ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT | MEM_WRITE | MEM_ALIGNED'], argSizes: { 4: 8 } },
  bpf_strtoul_proto: { helper: 'strtoul', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE', 'ARG_ANYTHING', 'ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT | MEM_WRITE | MEM_ALIGNED'], argSizes: { 4: 8 } },
  bpf_tail_call_proto: { helper: 'tail_call', ret: 'RET_VOID', args: ['ARG_PTR_TO_CTX', 'ARG_CONST_MAP_PTR', 'ARG_ANYTHING'] },
  bpf_task_pt_regs_proto: { helper: 'task_pt_regs', ret: 'RET_PTR_TO_BTF_ID', args: ['ARG_PTR_TO_BTF_ID'], gplOnly: true, argBtfIds: { 1: 'task_struct' }, retBtfId: 'pt_regs' },
  bpf_task_storage_delete_proto: { helper: 'task_storage_delete', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_BTF_ID_OR_NULL'], argBtfIds: { 2: 'task_struct' } },
  bpf_task_storage_get_proto: { helper: 'task_storage_get', ret: 'RET_PTR_TO_MAP_VALUE_OR_NULL', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_BTF_ID_OR_NULL', 'ARG_PTR_TO_MAP_VALUE_OR_NULL', 'ARG_ANYTHING'], argBtfIds: { 2: 'task_struct' } },
  bpf_tcp_check_syncookie_proto: { helper: 'tcp_check_syncookie', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_BTF_ID_SOCK_COMMON', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE'], gplOnly: true, pktAccess: true },
  bpf_tcp_gen_syncookie_proto: { helper: 'tcp_gen_syncookie', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_BTF_ID_SOCK_COMMON', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE'], gplOnly: true, pktAccess: true },
  bpf_tcp_raw_check_syncookie_ipv4_proto: { helper: 'tcp_raw_check_syncookie_ipv4', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_FIXED_SIZE_MEM', 'ARG_PTR_TO_FIXED_SIZE_MEM'], gplOnly: true, pktAccess: true, argSizes: { 1: 20, 2: 20 } },
  bpf_tcp_raw_check_syncookie_ipv6_proto: { helper: 'tcp_raw_check_syncookie_ipv6', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_FIXED_SIZE_MEM', 'ARG_PTR_TO_FIXED_SIZE_MEM'], gplOnly: true, pktAccess: true, argSizes: { 1: 40, 2: 20 } },
  bpf_tcp_raw_gen_syncookie_ipv4_proto: { helper: 'tcp_raw_gen_syncookie_ipv4', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_FIXED_SIZE_MEM', 'ARG_PTR_TO_MEM', 'ARG_CONST_SIZE_OR_ZERO'], gplOnly: true, pktAccess: true, argSizes: { 1: 20 } },
  bpf_tcp_raw_gen_syncookie_ipv6_proto: { helper: 'tcp_raw_gen_syncookie_ipv6', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_FIXED_SIZE_MEM', 'ARG_PTR_TO_MEM', 'ARG_CONST_SIZE_OR_ZERO'], gplOnly: true, pktAccess: true, argSizes: { 1: 40 } },
  bpf_tcp_sock_proto: { helper: 'tcp_sock', ret: 'RET_PTR_TO_TCP_SOCK_OR_NULL', args: ['ARG_PTR_TO_SOCK_COMMON'] },
  bpf_this_cpu_ptr_proto: { helper: 'this_cpu_ptr', ret: 'RET_PTR_TO_MEM_OR_BTF_ID | MEM_RDONLY', args: ['ARG_PTR_TO_PERCPU_BTF_ID'] },
  bpf_timer_cancel_proto: { helper: 'timer_cancel', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_TIMER'], gplOnly: true },
  bpf_timer_init_proto: { helper: 'timer_init', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_TIMER', 'ARG_CONST_MAP_PTR', 'ARG_ANYTHING'], gplOnly: true },
  bpf_timer_set_callback_proto: { helper: 'timer_set_callback', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_TIMER', 'ARG_PTR_TO_FUNC'], gplOnly: true },
  bpf_timer_start_proto: { helper: 'timer_start', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_TIMER', 'ARG_ANYTHING', 'ARG_ANYTHING'], gplOnly: true },
  bpf_trace_printk_proto: { helper: 'trace_printk', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE'], gplOnly: true },
  bpf_trace_vprintk_proto: { helper: 'trace_vprintk', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE', 'ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY', 'ARG_CONST_SIZE_OR_ZERO'], gplOnly: true },
  bpf_user_ringbuf_drain_proto: { helper: 'user_ringbuf_drain', ret: 'RET_INTEGER', args: ['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_FUNC', 'ARG_PTR_TO_STACK_OR_NULL', 'ARG_ANYTHING'] },
  bpf_xdp_adjust_head_proto: { helper: 'xdp_adjust_head', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING'] },
  bpf_xdp_adjust_meta_proto: { helper: 'xdp_adjust_meta', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING'] },
  bpf_xdp_adjust_tail_proto: { helper: 'xdp_adjust_tail', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING'] },
  bpf_xdp_get_buff_len_proto: { helper: 'xdp_get_buff_len', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX'] },
  bpf_xdp_load_bytes_proto: { helper: 'xdp_load_bytes', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE'] },
  bpf_xdp_store_bytes_proto: { helper: 'xdp_store_bytes', ret: 'RET_INTEGER', args: ['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_PTR_TO_MEM | MEM_RDONLY', 'ARG_CONST_SIZE'] },
};

function expandArg(spelled: string, key: string, slot: number): { base: ArgBaseType; flags: TypeFlag[] } {
  const parts = spelled.split('|').map((s) => s.trim());
  const expanded: string[] = [];
  for (const p of parts) expanded.push(...(ARG_ALIASES[p] ?? [p]));
  const [base, ...rest] = expanded;
  if (!(ARG_BASE_TYPES as readonly string[]).includes(base!)) {
    throw new Error(`helpers/protos: ${key} arg${slot}: unknown base type ${base}`);
  }
  const flags = new Set<TypeFlag>();
  for (const f of rest) {
    if (!(TYPE_FLAGS as readonly string[]).includes(f)) throw new Error(`helpers/protos: ${key} arg${slot}: unknown flag ${f}`);
    flags.add(f as TypeFlag);
  }
  return { base: base as ArgBaseType, flags: TYPE_FLAGS.filter((f) => flags.has(f)) };
}

const CHANGES_PKT_DATA_IDS = new Set<number>(
  CHANGES_PKT_DATA.map((n) => {
    const id = helperId(n);
    if (id === undefined) throw new Error(`helpers/protos: unknown helper ${n}`);
    return id;
  }),
);

/** 6.18 host behaviour: a successful-or-failed tail call in the main frame leaves packet pointers valid. */
export const TAIL_CALL_INVALIDATES_IN_MAIN_FRAME = false;

/** True if helper `id` is in `bpf_helper_changes_pkt_data` (see the tail_call caveat above). */
export function helperChangesPktData(id: number): boolean {
  return CHANGES_PKT_DATA_IDS.has(id);
}

function build(key: string, raw: RawProto): HelperProto {
  const id = helperId(raw.helper);
  if (id === undefined) throw new Error(`helpers/protos: ${key}: unknown helper ${raw.helper}`);
  const [retBase, ...retFlags] = RET_TYPES[raw.ret];
  const args = raw.args.map((spelled, i): ArgType => {
    const { base, flags } = expandArg(spelled, key, i + 1);
    const a: { spelled: string; base: ArgBaseType; flags: TypeFlag[]; btfId?: string; size?: number } = { spelled, base, flags };
    const btf = raw.argBtfIds?.[i + 1];
    if (btf !== undefined) a.btfId = btf;
    const size = raw.argSizes?.[i + 1];
    if (size !== undefined) a.size = size;
    return Object.freeze(a);
  });
  const p: HelperProto = {
    key,
    id,
    name: helperName(id),
    ret: raw.ret,
    retBase,
    retFlags: retFlags as TypeFlag[],
    ...(raw.retBtfId !== undefined ? { retBtfId: raw.retBtfId } : {}),
    args: Object.freeze(args),
    gplOnly: raw.gplOnly ?? false,
    pktAccess: raw.pktAccess ?? false,
    mightSleep: raw.mightSleep ?? false,
    allowFastcall: raw.allowFastcall ?? false,
    hasAllowedCallback: raw.hasAllowedCallback ?? false,
    changesPktData: CHANGES_PKT_DATA_IDS.has(id),
  };
  return Object.freeze(p);
}

/** Every prototype, keyed by the kernel's proto variable name. */
export const HELPER_PROTOS: Readonly<Record<string, HelperProto>> = Object.freeze(
  Object.fromEntries(Object.entries(RAW_PROTOS).map(([k, raw]) => [k, build(k, raw)])),
);

/**
 * The prototype the verifier uses when a program of `progType` calls helper `id`, i.e. what the type's
 * `get_func_proto` returns — the exact flavour (e.g. SK_SKB perf_event_output → `bpf_skb_event_output_proto`,
 * SOCK_OPS get_socket_cookie → `bpf_get_socket_cookie_sock_ops_proto`).  undefined when the helper is not
 * available to that program type with these privileges (default: privileged, i.e. root).
 */
export function protoFor(progType: number, id: number, opts?: Partial<HelperOptions>): HelperProto | undefined {
  const key = resolveHelperProto(progType, id, opts);
  if (key === undefined) return undefined;
  const p = HELPER_PROTOS[key];
  if (!p) throw new Error(`helpers/protos: ${key} (for ${helperName(id)}#${id}) has no prototype`);
  return p;
}

/** All distinct prototypes registered for helper `id` (one per flavour). */
export function protoFlavours(id: number): HelperProto[] {
  return Object.values(HELPER_PROTOS).filter((p) => p.id === id);
}
