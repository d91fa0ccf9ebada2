// Context access rules per program type, as data: what the kernel's `<type>_is_valid_access` functions
// (net/core/filter.c) decide for a load or store at a fixed offset of the context structure, which register
// type a load yields, and the access rules for the socket structures reachable from the context
// (`check_sock_access`: bpf_sock, sock_common, bpf_tcp_sock, xdp_sock).
//
// Layouts are NOT typed here: field offsets and sizes come from the loader's table of uapi structs
// (src/btf/kernel.ts, via kernelBtf()). The only struct that table lacks is `struct bpf_tcp_sock`, which the
// CO-RE loader has no use for; its three facts the rules need are in TCP_SOCK_LAYOUT below.
//
// Shape of the rules (mirrors filter.c so each row can be checked against the source):
//  - every access must satisfy `0 <= off < sizeof(ctx)` and `off % size == 0` (all the *_is_valid_access
//    functions check this first, or fall into a `default: return false`);
//  - a program type is a stack of rows; the first row whose byte range contains `off` decides. A row gives a
//    size rule for reads and one for writes, the register type a read yields, whether sign-extending loads
//    (BPF_MEMSX) are refused, and capability / attach-type conditions;
//  - bytes covered by no field (struct padding) are never accessible.
// Verified exhaustively against Linux 6.18 (test/verifier/ctx.test.ts and its snapshot ctx-6.18.json):
// every offset -8..sizeof+8, sizes 1/2/4/8, LDX / STX / ST / LDSX, for each modelled program type.

import { kernelBtf } from '../src/btf/kernel.js';
import type { BtfComposite, BtfType } from '../src/btf/types.js';
import { ATTACH_TYPES, PROG_TYPES } from '../helpers/availability.js';

// ---- register types ------------------------------------------------------------------------------------

/**
 * Register types a context or socket access can produce, spelled as the kernel's log prints them
 * (kernel/bpf/log.c reg_type_str). `scalar` = SCALAR_VALUE.
 */
export type CtxRegType =
  | 'scalar'
  | 'pkt'
  | 'pkt_end'
  | 'pkt_meta'
  | 'sock'
  | 'sock_or_null'
  | 'sock_common'
  | 'sock_common_or_null'
  | 'tcp_sock'
  | 'tcp_sock_or_null'
  | 'xdp_sock'
  | 'flow_keys';

/** Log name → `enum bpf_reg_type` spelling. */
export const KERNEL_REG_TYPE: Readonly<Record<CtxRegType, string>> = {
  scalar: 'SCALAR_VALUE',
  pkt: 'PTR_TO_PACKET',
  pkt_end: 'PTR_TO_PACKET_END',
  pkt_meta: 'PTR_TO_PACKET_META',
  sock: 'PTR_TO_SOCKET',
  sock_or_null: 'PTR_TO_SOCKET_OR_NULL',
  sock_common: 'PTR_TO_SOCK_COMMON',
  sock_common_or_null: 'PTR_TO_SOCK_COMMON_OR_NULL',
  tcp_sock: 'PTR_TO_TCP_SOCK',
  tcp_sock_or_null: 'PTR_TO_TCP_SOCK_OR_NULL',
  xdp_sock: 'PTR_TO_XDP_SOCK',
  flow_keys: 'PTR_TO_FLOW_KEYS',
};

/**
 * How the Linux 6.18 level-2 log prints a register freshly loaded from ctx with each pointer type
 * (observed: `R2=pkt(r=0)`, `R3=pkt_end()`, `R4=sock_common_or_null(id=1)`, `R4=sock()`, ...). Maybe-NULL
 * types get a fresh id (`id=N`, N = ++env->id_gen); packet pointers print their range `r=0`.
 */
export function ctxPtrLogText(t: CtxRegType, id = 1): string {
  switch (t) {
    case 'scalar':
      return 'scalar()';
    case 'pkt':
    case 'pkt_meta':
      return `${t}(r=0)`;
    default:
      return t.endsWith('_or_null') ? `${t}(id=${id})` : `${t}()`;
  }
}

// ---- messages ------------------------------------------------------------------------------------------

/** Verifier messages about ctx and socket accesses (kernel/bpf/verifier.c), printf-style. All EACCES. */
export const CTX_MESSAGES = {
  /** check_ctx_access: the type's is_valid_access said no. */
  invalidCtxAccess: 'invalid bpf_context access off=%d size=%d',
  /** __check_ptr_off_reg: ctx register with a negative fixed offset (checked first). */
  negativeOffset: 'negative offset ctx ptr R%d off=%d disallowed',
  /** __check_ptr_off_reg: ctx register with a non-zero fixed offset (`r1 += 4; *(u32 *)(r1 +0)`). */
  modifiedCtx: 'dereference of modified ctx ptr R%d off=%d disallowed',
  /** __check_ptr_off_reg: ctx register with a variable offset; %s is tnum_strn, e.g. `(0x0; 0x4)`. */
  variableCtx: 'variable ctx access var_off=%s disallowed',
  /** check_mem_access: storing a pointer into ctx without CAP_PERFMON (allow_ptr_leaks). */
  leaksAddr: 'R%d leaks addr into ctx',
  /** check_atomic: atomics on ctx. */
  atomicCtx: 'BPF_ATOMIC stores into R%d ctx is not allowed',
  /**
   * adjust_ptr_min_max_vals without CAP_PERFMON: `ctx += <unknown scalar>` is refused at the ALU instruction
   * (sanitize_ptr_alu → sanitize_err, REASON_TYPE for ctx). Root gets `variableCtx` at the later load.
   */
  ctxVarAluUnpriv: 'R%d has pointer with unsupported alu operation, pointer arithmetic with it prohibited for !root',
  /** check_mem_access on a socket pointer, BPF_WRITE. %s = reg type name (`sock_common`). */
  sockWrite: 'R%d cannot write into %s',
  /** check_sock_access: the socket struct's is_valid_access said no. */
  sockInvalid: 'R%d invalid %s access off=%d size=%d',
  /** check_mem_access fallthrough: dereference of an unchecked `*_or_null` socket pointer. */
  invalidMem: "R%d invalid mem access '%s'",
  /**
   * convert_ctx_accesses (after the main pass) when the type's convert_ctx_access emits nothing for an access
   * is_valid_access allowed (only bpf_tcp_sock off 84/92 size 4 among the modelled structs). Linux 6.18:
   * this text, EFAULT (verifier_bug(); %d = the emitted count, 0). Linux 6.12: `conversion612`, EINVAL.
   */
  conversion: 'verifier bug: error during ctx access conversion (%d)',
  conversion612: 'bpf verifier is misconfigured',
} as const;

/** errno of the conversion failure: EFAULT in 6.18 (EINVAL in 6.12). Every other message here is EACCES. */
export const CONVERSION_ERRNO = 14;

function fmt(template: string, ...args: (string | number)[]): string {
  let i = 0;
  return template.replace(/%[ds]/g, () => String(args[i++]));
}

export function invalidCtxAccessMessage(off: number, size: number): string {
  return fmt(CTX_MESSAGES.invalidCtxAccess, off, size);
}

/**
 * The message __check_ptr_off_reg prints for a ctx register that is not the unmodified ctx pointer, or
 * undefined when the register is fine. `varOff` = the tnum of the variable part (undefined / `{0,0}` = const 0).
 */
export function ctxPtrOffMessage(regno: number, fixedOff: number, varOff?: { value: bigint; mask: bigint }): string | undefined {
  if (fixedOff < 0) return fmt(CTX_MESSAGES.negativeOffset, regno, fixedOff);
  if (fixedOff !== 0) return fmt(CTX_MESSAGES.modifiedCtx, regno, fixedOff);
  if (varOff && (varOff.mask !== 0n || varOff.value !== 0n)) {
    const h = (v: bigint) => '0x' + BigInt.asUintN(64, v).toString(16);
    return fmt(CTX_MESSAGES.variableCtx, `(${h(varOff.value)}; ${h(varOff.mask)})`);
  }
  return undefined;
}

// ---- layouts (from the loader's kernel BTF) ------------------------------------------------------------

/** A leaf field: scalars, array elements (`cb[2]`), pointer unions (`sk`), union alternatives. */
export interface CtxField {
  name: string;
  off: number;
  size: number;
}

export interface CtxLayout {
  struct: string;
  size: number;
  /** Leaves in declaration order; union alternatives all appear (bpf_sock_ops: args[0], reply, replylong[0]…). */
  fields: readonly CtxField[];
}

const layouts = new Map<string, CtxLayout>();

/** Layout of a uapi struct from src/btf/kernel.ts (plus bpf_tcp_sock / xdp_sock, see below). */
export function ctxLayout(struct: string): CtxLayout {
  let l = layouts.get(struct);
  if (l) return l;
  if (struct === 'bpf_tcp_sock') l = TCP_SOCK_LAYOUT;
  else if (struct === 'bpf_xdp_sock') l = XDP_SOCK_LAYOUT;
  else l = layoutFromBtf(struct);
  layouts.set(struct, l);
  return l;
}

function layoutFromBtf(struct: string): CtxLayout {
  const btf = kernelBtf();
  const st = btf.types.find((t): t is BtfComposite => t.kind === 'STRUCT' && t.name === struct);
  if (!st) throw new RangeError(`verifier/ctx: struct ${struct} is not in the kernel BTF table`);
  const fields: CtxField[] = [];
  const strip = (id: number): BtfType => {
    let t = btf.types[id]!;
    while (t.kind === 'TYPEDEF' || t.kind === 'CONST' || t.kind === 'VOLATILE') t = btf.types[t.type]!;
    return t;
  };
  const sizeOf = (t: BtfType): number => {
    if (t.kind === 'INT' || t.kind === 'STRUCT' || t.kind === 'UNION') return t.size;
    if (t.kind === 'PTR') return 8;
    if (t.kind === 'ARRAY') return t.nelems * sizeOf(strip(t.type));
    throw new RangeError(`verifier/ctx: unexpected BTF kind ${t.kind} in ${struct}`);
  };
  const walk = (members: BtfComposite['members'], base: number): void => {
    for (const m of members) {
      const off = base + m.bitOffset / 8;
      const t = strip(m.type);
      if (t.kind === 'UNION' || t.kind === 'STRUCT') {
        // Anonymous union: `__bpf_md_ptr` (one pointer member) or the sock_ops args/reply union.
        if (m.name === '') walk(t.members, off);
        else fields.push({ name: m.name, off, size: t.size });
      } else if (t.kind === 'ARRAY') {
        const es = sizeOf(strip(t.type));
        for (let i = 0; i < t.nelems; i++) fields.push({ name: `${m.name}[${i}]`, off: off + i * es, size: es });
      } else {
        fields.push({ name: m.name, off, size: sizeOf(t) });
      }
    }
  };
  walk(st.members, 0);
  return { struct, size: st.size, fields };
}

/**
 * `struct bpf_tcp_sock` (uapi): twenty __u32 (snd_cwnd … sacked_out), bytes_received and bytes_acked (__u64),
 * then dsack_dups, delivered, delivered_ce, icsk_retransmits (__u32); 112 bytes. Only needed for the
 * socket-access rules, so it is not part of the loader's CO-RE table.
 */
const TCP_SOCK_LAYOUT: CtxLayout = (() => {
  const u32a = ['snd_cwnd', 'srtt_us', 'rtt_min', 'snd_ssthresh', 'rcv_nxt', 'snd_nxt', 'snd_una', 'mss_cache',
    'ecn_flags', 'rate_delivered', 'rate_interval_us', 'packets_out', 'retrans_out', 'total_retrans', 'segs_in',
    'data_segs_in', 'segs_out', 'data_segs_out', 'lost_out', 'sacked_out'];
  const fields: CtxField[] = u32a.map((name, i) => ({ name, off: i * 4, size: 4 }));
  fields.push({ name: 'bytes_received', off: 80, size: 8 }, { name: 'bytes_acked', off: 88, size: 8 });
  ['dsack_dups', 'delivered', 'delivered_ce', 'icsk_retransmits'].forEach((name, i) => fields.push({ name, off: 96 + 4 * i, size: 4 }));
  return { struct: 'bpf_tcp_sock', size: 112, fields };
})();

/** `struct bpf_xdp_sock { __u32 queue_id; }` */
const XDP_SOCK_LAYOUT: CtxLayout = { struct: 'bpf_xdp_sock', size: 4, fields: [{ name: 'queue_id', off: 0, size: 4 }] };

// ---- rule vocabulary -----------------------------------------------------------------------------------

/**
 * Size rules (off % size == 0 and the struct bounds are checked before any of these):
 *  - `deny`: never;
 *  - `u8` / `u32` / `u64`: exactly that size;
 *  - `narrow`: 1, 2 or 4 bytes (bpf_ctx_narrow_access_ok with a 4-byte field; records ctx_field_size 4);
 *  - `inRange`: any size whose access ends inside the row's range (__sk_buff cb[0..4]: 1/2/4/8);
 *  - `dstPort`: bpf_sock.dst_port: 4 bytes (field size 4) or a narrow part of the 2-byte field.
 */
export type SizeRule = 'deny' | 'u8' | 'u32' | 'u64' | 'narrow' | 'inRange' | 'dstPort';

export interface AccessRow {
  /** Field names (leaf names or array/field base names); the row covers the union of their bytes. */
  fields: readonly string[];
  read: SizeRule;
  write: SizeRule;
  /** What a successful read yields (default scalar). */
  regType?: CtxRegType;
  /** Sign-extending loads (BPF_MEMSX) refused (`info->is_ldsx` checks: packet pointer fields). */
  noSignExtend?: boolean;
  /** Access needs CAP_BPF (bpf_token_capable(CAP_BPF)); 'read' = any access, 'write' = writes only. */
  capBpf?: 'any' | 'write';
  /** Only with these expected attach types (xdp_md.egress_ifindex: BPF_XDP_DEVMAP). */
  attachTypes?: readonly number[];
  /**
   * The kernel matches the field with `case offsetof(T, f):` (exact offset), not `bpf_ctx_range(T, f)`: the
   * row decides only for the field's first byte; its other bytes fall through to later rows (usually the
   * default row, which then refuses a narrow access or, for a u64 field, yields a conversion error).
   */
  exact?: boolean;
}

const DENY = { read: 'deny', write: 'deny' } as const;
const f = (...fields: string[]): string[] => fields;

/** BPF_XDP_DEVMAP (enum bpf_attach_type). */
export const BPF_XDP_DEVMAP = 33;

// ---- __sk_buff ---------------------------------------------------------------------------------------

/** bpf_skb_is_valid_access: the base every __sk_buff program type ends in. */
const SKB_BASE: AccessRow[] = [
  { fields: f('cb'), read: 'inRange', write: 'inRange' },
  { fields: f('data', 'data_meta', 'data_end'), read: 'u32', write: 'u32', noSignExtend: true },
  { fields: f('remote_ip6', 'local_ip6', 'remote_ip4', 'local_ip4'), read: 'u32', write: 'u32' },
  { fields: f('flow_keys'), ...DENY },
  { fields: f('hwtstamp'), read: 'u64', write: 'deny' },
  { fields: f('tstamp'), read: 'u64', write: 'u64' },
  { fields: f('sk'), read: 'u64', write: 'deny', regType: 'sock_common_or_null' },
  { fields: f('tstamp_type'), ...DENY, exact: true },
  // The 3 padding bytes after tstamp_type are covered by no field, hence denied.
  // default: reads narrow within a 4-byte field, writes exactly 4 bytes.
  { fields: f('*'), read: 'narrow', write: 'u32' },
];

/** Field names of a struct (arrays once: `cb`, not `cb[0]`…), in declaration order. */
function fieldNames(struct: string): string[] {
  return [...new Set(ctxLayout(struct).fields.map((x) => x.name.replace(/\[\d+\]$/, '')))];
}
const FAMILY_TO_LOCAL_PORT = ['family', 'remote_ip4', 'local_ip4', 'remote_ip6', 'local_ip6', 'remote_port', 'local_port'];

/**
 * A program type's own layer over the base: fields it denies outright, its write whitelist, the register
 * types it assigns, CAP_BPF conditions and special rows tried before the base.
 */
interface SkbLayer {
  deny: string[];
  writable: string[];
  regTypes?: Record<string, CtxRegType>;
  capBpf?: { any?: string[]; write?: string[] };
  before?: AccessRow[];
}

function composeSkb(layer: SkbLayer): AccessRow[] {
  const rows: AccessRow[] = [];
  if (layer.before) rows.push(...layer.before);
  rows.push({ fields: layer.deny, ...DENY });
  const all = fieldNames('__sk_buff');
  for (const b of SKB_BASE) {
    // Each base row is split into its writable part (the type's whitelist) and a read-only part; the default
    // row ('*') names every field (bytes claimed by earlier rows stay theirs: first match wins).
    const names = b.fields[0] === '*' ? all : b.fields;
    for (const writable of [true, false]) {
      const part = names.filter((n) => layer.writable.includes(n) === writable);
      if (part.length === 0) continue;
      const per = new Map<string, AccessRow>();
      for (const n of part) {
        const row: AccessRow = { ...b, fields: [n], write: writable ? b.write : 'deny' };
        const rt = layer.regTypes?.[n];
        if (rt) row.regType = rt;
        if (layer.capBpf?.any?.includes(n)) row.capBpf = 'any';
        else if (layer.capBpf?.write?.includes(n)) row.capBpf = 'write';
        const key = JSON.stringify({ ...row, fields: [] });
        const prev = per.get(key);
        if (prev) (prev.fields as string[]).push(n);
        else per.set(key, row);
      }
      rows.push(...per.values());
    }
  }
  return rows;
}

const PKT_TYPES = { data: 'pkt', data_end: 'pkt_end' } as const;

/** sk_filter_is_valid_access (SOCKET_FILTER). */
const SOCKET_FILTER_ROWS = composeSkb({
  deny: ['tc_classid', 'data', 'data_meta', 'data_end', ...FAMILY_TO_LOCAL_PORT, 'tstamp', 'wire_len', 'hwtstamp'],
  writable: ['cb'],
});

/** tc_cls_act_is_valid_access (SCHED_CLS, SCHED_ACT). */
const TC_ROWS = composeSkb({
  before: [{ fields: ['tstamp_type'], read: 'u8', write: 'deny', exact: true }],
  deny: [...FAMILY_TO_LOCAL_PORT],
  writable: ['mark', 'tc_index', 'priority', 'tc_classid', 'cb', 'tstamp', 'queue_mapping'],
  regTypes: { ...PKT_TYPES, data_meta: 'pkt_meta' },
});

/** cg_skb_is_valid_access (CGROUP_SKB; ingress and egress alike). */
const CGROUP_SKB_ROWS = composeSkb({
  deny: ['tc_classid', 'data_meta', 'wire_len'],
  writable: ['mark', 'priority', 'cb', 'tstamp'],
  regTypes: { ...PKT_TYPES },
  capBpf: { any: ['data', 'data_end'], write: ['tstamp'] },
});

/** sk_skb_is_valid_access (SK_SKB; parser, verdict and skb_verdict alike). */
const SK_SKB_ROWS = composeSkb({
  deny: ['tc_classid', 'data_meta', 'tstamp', 'wire_len', 'hwtstamp', 'mark'],
  writable: ['tc_index', 'priority'],
  regTypes: { ...PKT_TYPES },
});

// ---- the other contexts --------------------------------------------------------------------------------

/** xdp_is_valid_access: every field exactly 4 bytes, read-only (writes only for offloaded programs). */
const XDP_ROWS: AccessRow[] = [
  { fields: ['egress_ifindex'], read: 'u32', write: 'deny', attachTypes: [BPF_XDP_DEVMAP], exact: true },
  { fields: ['data'], read: 'u32', write: 'deny', regType: 'pkt', noSignExtend: true, exact: true },
  { fields: ['data_end'], read: 'u32', write: 'deny', regType: 'pkt_end', noSignExtend: true, exact: true },
  { fields: ['data_meta'], read: 'u32', write: 'deny', regType: 'pkt_meta', noSignExtend: true, exact: true },
  { fields: ['*'], read: 'u32', write: 'deny' },
];

/** sk_msg_is_valid_access: read-only; pointers 8 bytes, the rest exactly 4; nothing else. */
const SK_MSG_ROWS: AccessRow[] = [
  { fields: ['data'], read: 'u64', write: 'deny', regType: 'pkt' },
  { fields: ['data_end'], read: 'u64', write: 'deny', regType: 'pkt_end' },
  { fields: ['sk'], read: 'u64', write: 'deny', regType: 'sock' },
  { fields: ['family', 'remote_ip4', 'local_ip4', 'remote_ip6', 'local_ip6', 'remote_port', 'local_port', 'size'], read: 'u32', write: 'deny' },
];

/** sock_ops_is_valid_access. `reply` is the writable alias of args[0] (offset 4). */
const SOCK_OPS_ROWS: AccessRow[] = [
  { fields: ['reply', 'sk_txhash'], read: 'u32', write: 'u32', exact: true },
  { fields: ['bytes_received', 'bytes_acked'], read: 'u64', write: 'deny' },
  { fields: ['sk'], read: 'u64', write: 'deny', regType: 'sock_or_null' },
  { fields: ['skb_data'], read: 'u64', write: 'deny', regType: 'pkt' },
  { fields: ['skb_data_end'], read: 'u64', write: 'deny', regType: 'pkt_end' },
  { fields: ['skb_tcp_flags'], read: 'narrow', write: 'deny', exact: true },
  { fields: ['skb_hwtstamp'], read: 'u64', write: 'deny' },
  { fields: ['*'], read: 'u32', write: 'deny' },
];

export interface CtxTypeRules {
  progType: number;
  name: string;
  struct: string;
  rows: readonly AccessRow[];
}

/** The modelled program types' ctx rules. */
export const CTX_RULES: Readonly<Record<number, CtxTypeRules>> = {
  [PROG_TYPES.SOCKET_FILTER]: { progType: 1, name: 'SOCKET_FILTER', struct: '__sk_buff', rows: SOCKET_FILTER_ROWS },
  [PROG_TYPES.SCHED_CLS]: { progType: 3, name: 'SCHED_CLS', struct: '__sk_buff', rows: TC_ROWS },
  [PROG_TYPES.SCHED_ACT]: { progType: 4, name: 'SCHED_ACT', struct: '__sk_buff', rows: TC_ROWS },
  [PROG_TYPES.XDP]: { progType: 6, name: 'XDP', struct: 'xdp_md', rows: XDP_ROWS },
  [PROG_TYPES.CGROUP_SKB]: { progType: 8, name: 'CGROUP_SKB', struct: '__sk_buff', rows: CGROUP_SKB_ROWS },
  [PROG_TYPES.SOCK_OPS]: { progType: 13, name: 'SOCK_OPS', struct: 'bpf_sock_ops', rows: SOCK_OPS_ROWS },
  [PROG_TYPES.SK_SKB]: { progType: 14, name: 'SK_SKB', struct: '__sk_buff', rows: SK_SKB_ROWS },
  [PROG_TYPES.SK_MSG]: { progType: 16, name: 'SK_MSG', struct: 'sk_msg_md', rows: SK_MSG_ROWS },
};

// ---- socket structs reached from ctx -------------------------------------------------------------------

/** bpf_sock_is_valid_access (PTR_TO_SOCKET). Reads only: check_mem_access refuses every write first. */
const SOCK_ROWS: AccessRow[] = [
  { fields: ['state', 'family', 'type', 'protocol', 'src_port', 'rx_queue_mapping'], read: 'narrow', write: 'narrow', exact: true },
  { fields: ['src_ip4', 'src_ip6', 'dst_ip4', 'dst_ip6'], read: 'narrow', write: 'narrow' },
  { fields: ['dst_port'], read: 'dstPort', write: 'dstPort' },
  // The 2 padding bytes after dst_port are covered by no field, hence denied.
  { fields: ['*'], read: 'u32', write: 'u32' },
];

/** bpf_sock_common_is_valid_access: bpf_sock minus type..priority. */
const SOCK_COMMON_ROWS: AccessRow[] = [{ fields: ['type', 'protocol', 'mark', 'priority'], ...DENY }, ...SOCK_ROWS];

/**
 * bpf_tcp_sock_is_valid_access: the two u64 counters (exact offsets) exactly 8 bytes, everything else exactly
 * 4, so a 4-byte read of the upper half of a counter (off 84, 92) passes here and fails in conversion.
 */
const TCP_SOCK_ROWS: AccessRow[] = [
  { fields: ['bytes_received', 'bytes_acked'], read: 'u64', write: 'u64', exact: true },
  { fields: ['*'], read: 'u32', write: 'u32' },
];

/** bpf_xdp_sock_is_valid_access: queue_id, 4 bytes. */
const XDP_SOCK_ROWS: AccessRow[] = [{ fields: ['*'], read: 'u32', write: 'u32' }];

export const SOCK_RULES: Readonly<Record<'sock' | 'sock_common' | 'tcp_sock' | 'xdp_sock', { struct: string; rows: readonly AccessRow[] }>> = {
  sock: { struct: 'bpf_sock', rows: SOCK_ROWS },
  sock_common: { struct: 'bpf_sock', rows: SOCK_COMMON_ROWS },
  tcp_sock: { struct: 'bpf_tcp_sock', rows: TCP_SOCK_ROWS },
  xdp_sock: { struct: 'bpf_xdp_sock', rows: XDP_SOCK_ROWS },
};

// ---- resolution: rows → per-byte lookup ------------------------------------------------------------------

interface ResolvedRow extends AccessRow {
  /** [start, end) of the row's range that contains the queried offset (the whole named field/array). */
  start: number;
  end: number;
}

/** Per byte offset of the struct: the deciding row (undefined = padding). */
type ByteTable = (ResolvedRow | undefined)[];

const byteTables = new Map<readonly AccessRow[], ByteTable>();

function rangesOf(layout: CtxLayout, name: string): [number, number][] {
  const leaves = layout.fields.filter((x) => x.name === name || x.name.startsWith(`${name}[`));
  if (leaves.length === 0) throw new RangeError(`verifier/ctx: ${layout.struct} has no field ${name}`);
  const start = Math.min(...leaves.map((x) => x.off));
  const end = Math.max(...leaves.map((x) => x.off + x.size));
  return [[start, end]];
}

function byteTable(rows: readonly AccessRow[], layout: CtxLayout): ByteTable {
  let t = byteTables.get(rows);
  if (t) return t;
  t = new Array<ResolvedRow | undefined>(layout.size).fill(undefined);
  const covered = new Uint8Array(layout.size);
  for (const fl of layout.fields) covered.fill(1, fl.off, fl.off + fl.size);
  for (const row of rows) {
    if (row.fields[0] === '*') {
      // Default row: every remaining byte that belongs to some field, each leaf being its own range.
      for (const fl of layout.fields) {
        for (let b = fl.off; b < fl.off + fl.size; b++) {
          if (t[b] === undefined) t[b] = { ...row, start: fl.off, end: fl.off + fl.size };
        }
      }
      continue;
    }
    for (const name of row.fields) {
      for (const [start, end] of rangesOf(layout, name)) {
        const last = row.exact ? start + 1 : end;
        for (let b = start; b < last; b++) if (t[b] === undefined && covered[b]) t[b] = { ...row, start, end };
      }
    }
  }
  byteTables.set(rows, t);
  return t;
}

function sizeOk(rule: SizeRule, off: number, size: number, start: number, end: number): { ok: boolean; fieldSize: number } {
  switch (rule) {
    case 'deny':
      return { ok: false, fieldSize: 0 };
    case 'u8':
      return { ok: size === 1, fieldSize: 0 };
    case 'u32':
      return { ok: size === 4, fieldSize: 0 };
    case 'u64':
      return { ok: size === 8, fieldSize: 0 };
    case 'narrow':
      return { ok: size <= 4, fieldSize: 4 };
    case 'inRange':
      return { ok: off + size <= end, fieldSize: 0 };
    case 'dstPort': {
      const fs = size === 4 ? 4 : end - start;
      return { ok: size <= fs, fieldSize: fs };
    }
  }
}

function fieldNameAt(layout: CtxLayout, off: number): string {
  return layout.fields.find((x) => off >= x.off && off < x.off + x.size)?.name ?? '(padding)';
}

// ---- public queries ------------------------------------------------------------------------------------

export interface CtxAccessQuery {
  /** insn->off (the ctx register itself must be unmodified; see ctxPtrOffMessage). */
  off: number;
  /** Access size in bytes: 1, 2, 4 or 8. */
  size: number;
  write: boolean;
  /** Sign-extending load (BPF_LDX | BPF_MEMSX, cpu v4): `r2 = *(s32 *)(r1 +76)`. */
  signExtend?: boolean;
  /** expected_attach_type (only XDP's egress_ifindex depends on it among the modelled types). */
  attachType?: number;
  /** CAP_BPF + CAP_PERFMON (root). Default true. */
  privileged?: boolean;
  /** Finer control than `privileged` (defaults to it): CGROUP_SKB data/data_end/tstamp-write need CAP_BPF. */
  capBpf?: boolean;
}

export type CtxAccessResult =
  | {
      ok: true;
      /** What a read yields (writes: always 'scalar'). */
      regType: CtxRegType;
      /** The field the access falls in (leaf name, e.g. `cb[1]`, `remote_ip6[2]`, `args[0]`). */
      field: string;
      /**
       * insn_aux_data.ctx_field_size as the kernel records it: 4 for fields that allow narrow loads (or 2 for
       * a 1/2-byte bpf_sock.dst_port access), 0 where only whole-field access exists.
       */
      ctxFieldSize: number;
      /** This load is narrower than the field and gets widened + masked by convert_ctx_accesses. */
      narrow: boolean;
      /**
       * Set when the access passes is_valid_access (so the main pass goes on) but convert_ctx_accesses finds
       * no conversion for it afterwards and the load fails with this message (errno CONVERSION_ERRNO).
       */
      conversionError?: string;
    }
  | { ok: false; message: string };

/**
 * convert_ctx_accesses: a narrow load is widened to its field (insn->off aligned down to ctx_field_size), then
 * the type's converter switches on the offset. The converters know every field start (and __sk_buff cb[] as
 * a range), so only a whole-field access that does not start a field finds no conversion.
 */
function convertsCleanly(row: ResolvedRow, layout: CtxLayout, off: number, fieldSize: number): boolean {
  if (row.read === 'inRange') return true;
  const at = fieldSize > 0 ? off - (off % fieldSize) : off;
  return layout.fields.some((x) => x.off === at);
}

function decide(
  rows: readonly AccessRow[],
  layout: CtxLayout,
  q: CtxAccessQuery,
): { ok: true; row: ResolvedRow; fieldSize: number } | { ok: false } {
  const { off, size } = q;
  if (!Number.isInteger(off) || ![1, 2, 4, 8].includes(size)) return { ok: false };
  if (off < 0 || off >= layout.size || off % size !== 0) return { ok: false };
  const row = byteTable(rows, layout)[off];
  if (!row) return { ok: false };
  if (row.attachTypes && !row.attachTypes.includes(q.attachType ?? 0)) return { ok: false };
  const capBpf = q.capBpf ?? q.privileged ?? true;
  if (row.capBpf === 'any' && !capBpf) return { ok: false };
  if (row.capBpf === 'write' && q.write && !capBpf) return { ok: false };
  if (q.signExtend && (q.write || row.noSignExtend || size === 8)) return { ok: false };
  const r = sizeOk(q.write ? row.write : row.read, off, size, row.start, row.end);
  if (!r.ok) return { ok: false };
  return { ok: true, row, fieldSize: q.write ? 0 : r.fieldSize };
}

/** Context structure (name and size) of a modelled program type. */
export function ctxStruct(progType: number): { struct: string; size: number } {
  const rules = CTX_RULES[progType];
  if (!rules) throw new RangeError(`verifier/ctx: program type ${progType} is not modelled`);
  return { struct: rules.struct, size: ctxLayout(rules.struct).size };
}

/** check_ctx_access: may a PTR_TO_CTX (unmodified) be accessed at `off` with `size`, and what does it yield? */
export function ctxAccess(progType: number, q: CtxAccessQuery): CtxAccessResult {
  const rules = CTX_RULES[progType];
  if (!rules) throw new RangeError(`verifier/ctx: program type ${progType} is not modelled`);
  const layout = ctxLayout(rules.struct);
  const d = decide(rules.rows, layout, q);
  if (!d.ok) return { ok: false, message: invalidCtxAccessMessage(q.off, q.size) };
  const res: CtxAccessResult = {
    ok: true,
    regType: q.write ? 'scalar' : (d.row.regType ?? 'scalar'),
    field: fieldNameAt(layout, q.off),
    ctxFieldSize: d.fieldSize,
    narrow: !q.write && d.fieldSize > 0 && q.size < d.fieldSize,
  };
  if (!convertsCleanly(d.row, layout, q.off, d.fieldSize)) res.conversionError = fmt(CTX_MESSAGES.conversion, 0);
  return res;
}

export type SockRegType = 'sock' | 'sock_or_null' | 'sock_common' | 'sock_common_or_null' | 'tcp_sock' | 'tcp_sock_or_null' | 'xdp_sock';

export type SockAccessResult =
  | { ok: true; field: string; ctxFieldSize: number; narrow: boolean; conversionError?: string }
  | { ok: false; message: string };

/**
 * check_mem_access for a socket pointer register `regno` (default R1 in messages): `*_or_null` types are
 * refused as `invalid mem access`, writes as `cannot write into`, then check_sock_access decides by the
 * struct's is_valid_access. Reads always yield a scalar.
 */
export function sockAccess(regType: SockRegType, off: number, size: number, write: boolean, regno = 1): SockAccessResult {
  if (regType.endsWith('_or_null')) return { ok: false, message: fmt(CTX_MESSAGES.invalidMem, regno, regType) };
  if (write) return { ok: false, message: fmt(CTX_MESSAGES.sockWrite, regno, regType) };
  const rules = SOCK_RULES[regType as keyof typeof SOCK_RULES];
  const layout = ctxLayout(rules.struct);
  const d = decide(rules.rows, layout, { off, size, write: false });
  if (!d.ok) return { ok: false, message: fmt(CTX_MESSAGES.sockInvalid, regno, regType, off, size) };
  const res: SockAccessResult = { ok: true, field: fieldNameAt(layout, off), ctxFieldSize: d.fieldSize, narrow: d.fieldSize > 0 && size < d.fieldSize };
  if (!convertsCleanly(d.row, layout, off, d.fieldSize)) res.conversionError = fmt(CTX_MESSAGES.conversion, 0);
  return res;
}

/** Default expected_attach_type per modelled type (what a loader passes for the common section names). */
export const CTX_DEFAULT_ATTACH: Readonly<Record<number, number>> = {
  [PROG_TYPES.CGROUP_SKB]: ATTACH_TYPES.BPF_CGROUP_INET_INGRESS,
  [PROG_TYPES.SOCK_OPS]: ATTACH_TYPES.BPF_CGROUP_SOCK_OPS,
  [PROG_TYPES.SK_SKB]: ATTACH_TYPES.BPF_SK_SKB_STREAM_VERDICT,
  [PROG_TYPES.SK_MSG]: ATTACH_TYPES.BPF_SK_MSG_VERDICT,
};

export interface CtxFieldSummary {
  field: string;
  off: number;
  size: number;
  /** Load sizes accepted at some offset inside the field. */
  read: number[];
  /** Store sizes accepted (STX and ST alike). */
  write: number[];
  /** What a whole-field load yields. */
  regType: CtxRegType;
}

/**
 * Per-field summary of a type's rules (for docs and `bpfvm inspect`), computed from ctxAccess. Leaves of the
 * same array are merged (`cb`, `remote_ip6`); union alternatives appear once (the first declared).
 */
export function describeCtx(progType: number, opts: Omit<CtxAccessQuery, 'off' | 'size' | 'write'> = {}): CtxFieldSummary[] {
  const layout = ctxLayout(ctxStruct(progType).struct);
  const out: CtxFieldSummary[] = [];
  const seen = new Set<number>();
  for (const leaf of layout.fields) {
    if (seen.has(leaf.off)) continue;
    const base = leaf.name.replace(/\[\d+\]$/, '');
    const group = layout.fields.filter((x) => x.name.replace(/\[\d+\]$/, '') === base);
    const off = Math.min(...group.map((x) => x.off));
    const end = Math.max(...group.map((x) => x.off + x.size));
    for (let b = off; b < end; b++) seen.add(b);
    const sizes = (write: boolean) =>
      [1, 2, 4, 8].filter((size) => {
        for (let o = off; o < end; o++) {
          const r = ctxAccess(progType, { ...opts, off: o, size, write });
          if (r.ok && !r.conversionError) return true;
        }
        return false;
      });
    const whole = ctxAccess(progType, { ...opts, off, size: Math.min(leaf.size, 8), write: false });
    out.push({ field: base, off, size: end - off, read: sizes(false), write: sizes(true), regType: whole.ok ? whole.regType : 'scalar' });
  }
  return out;
}
