// A small built-in "kernel BTF": the uapi context structures bpfvm models, so CO-RE relocations against
// them can be resolved without a vmlinux. Layouts follow include/uapi/linux/bpf.h and are computed with
// C layout rules (natural alignment; `__bpf_md_ptr(type, name)` is an 8-byte, 8-aligned anonymous union
// holding a pointer), exactly like clang lays them out for the bpf target. test/loader checks the
// result against BTF that clang emits for the same headers.

import type { Btf, BtfComposite, BtfMember, BtfType } from './types.js';
import { BTF_INT_SIGNED } from './types.js';

type Scalar = 'u8' | 'u16' | 'u32' | 'u64' | 's32' | 'be16' | 'be32';
/** Field description: `[type, name]`, `[type, name, n]` (array), a pointer union, or an anonymous union. */
type Field =
  | [Scalar, string]
  | [Scalar, string, number]
  | { mdPtr: string; name: string }
  | { union: Field[] };

const SCALARS: Record<Scalar, { name: string; size: number; signed: boolean; typedefOf?: Scalar }> = {
  u8: { name: '__u8', size: 1, signed: false },
  u16: { name: '__u16', size: 2, signed: false },
  u32: { name: '__u32', size: 4, signed: false },
  u64: { name: '__u64', size: 8, signed: false },
  s32: { name: '__s32', size: 4, signed: true },
  be16: { name: '__be16', size: 2, signed: false, typedefOf: 'u16' },
  be32: { name: '__be32', size: 4, signed: false, typedefOf: 'u32' },
};

const ip6 = (name: string): Field => ['u32', name, 4];

/** struct name → fields, in declaration order (uapi/linux/bpf.h). */
const STRUCTS: Record<string, Field[]> = {
  __sk_buff: [
    ['u32', 'len'], ['u32', 'pkt_type'], ['u32', 'mark'], ['u32', 'queue_mapping'], ['u32', 'protocol'],
    ['u32', 'vlan_present'], ['u32', 'vlan_tci'], ['u32', 'vlan_proto'], ['u32', 'priority'],
    ['u32', 'ingress_ifindex'], ['u32', 'ifindex'], ['u32', 'tc_index'], ['u32', 'cb', 5], ['u32', 'hash'],
    ['u32', 'tc_classid'], ['u32', 'data'], ['u32', 'data_end'], ['u32', 'napi_id'], ['u32', 'family'],
    ['u32', 'remote_ip4'], ['u32', 'local_ip4'], ip6('remote_ip6'), ip6('local_ip6'), ['u32', 'remote_port'],
    ['u32', 'local_port'], ['u32', 'data_meta'], { mdPtr: 'bpf_flow_keys', name: 'flow_keys' }, ['u64', 'tstamp'],
    ['u32', 'wire_len'], ['u32', 'gso_segs'], { mdPtr: 'bpf_sock', name: 'sk' }, ['u32', 'gso_size'],
    ['u8', 'tstamp_type'], ['u64', 'hwtstamp'],
  ],
  sk_msg_md: [
    { mdPtr: 'void', name: 'data' }, { mdPtr: 'void', name: 'data_end' }, ['u32', 'family'], ['u32', 'remote_ip4'],
    ['u32', 'local_ip4'], ip6('remote_ip6'), ip6('local_ip6'), ['u32', 'remote_port'], ['u32', 'local_port'],
    ['u32', 'size'], { mdPtr: 'bpf_sock', name: 'sk' },
  ],
  bpf_sock_ops: [
    ['u32', 'op'], { union: [['u32', 'args', 4], ['u32', 'reply'], ['u32', 'replylong', 4]] }, ['u32', 'family'],
    ['u32', 'remote_ip4'], ['u32', 'local_ip4'], ip6('remote_ip6'), ip6('local_ip6'), ['u32', 'remote_port'],
    ['u32', 'local_port'], ['u32', 'is_fullsock'], ['u32', 'snd_cwnd'], ['u32', 'srtt_us'],
    ['u32', 'bpf_sock_ops_cb_flags'], ['u32', 'state'], ['u32', 'rtt_min'], ['u32', 'snd_ssthresh'],
    ['u32', 'rcv_nxt'], ['u32', 'snd_nxt'], ['u32', 'snd_una'], ['u32', 'mss_cache'], ['u32', 'ecn_flags'],
    ['u32', 'rate_delivered'], ['u32', 'rate_interval_us'], ['u32', 'packets_out'], ['u32', 'retrans_out'],
    ['u32', 'total_retrans'], ['u32', 'segs_in'], ['u32', 'data_segs_in'], ['u32', 'segs_out'],
    ['u32', 'data_segs_out'], ['u32', 'lost_out'], ['u32', 'sacked_out'], ['u32', 'sk_txhash'],
    ['u64', 'bytes_received'], ['u64', 'bytes_acked'], { mdPtr: 'bpf_sock', name: 'sk' },
    { mdPtr: 'void', name: 'skb_data' }, { mdPtr: 'void', name: 'skb_data_end' }, ['u32', 'skb_len'],
    ['u32', 'skb_tcp_flags'], ['u64', 'skb_hwtstamp'],
  ],
  bpf_sock: [
    ['u32', 'bound_dev_if'], ['u32', 'family'], ['u32', 'type'], ['u32', 'protocol'], ['u32', 'mark'],
    ['u32', 'priority'], ['u32', 'src_ip4'], ip6('src_ip6'), ['u32', 'src_port'], ['be16', 'dst_port'],
    ['u32', 'dst_ip4'], ip6('dst_ip6'), ['u32', 'state'], ['s32', 'rx_queue_mapping'],
  ],
  xdp_md: [
    ['u32', 'data'], ['u32', 'data_end'], ['u32', 'data_meta'], ['u32', 'ingress_ifindex'],
    ['u32', 'rx_queue_index'], ['u32', 'egress_ifindex'],
  ],
};

/** Enums programs commonly test with bpf_core_enum_value(). */
const ENUMS: Record<string, [string, number][]> = {
  sk_action: [['SK_DROP', 0], ['SK_PASS', 1]],
  xdp_action: [['XDP_ABORTED', 0], ['XDP_DROP', 1], ['XDP_PASS', 2], ['XDP_TX', 3], ['XDP_REDIRECT', 4]],
};

/** Names of the structures in the built-in table (for error messages). */
export const KERNEL_STRUCTS: readonly string[] = Object.keys(STRUCTS);

let cached: Btf | undefined;

/** The built-in kernel BTF (built once; treat as read-only). */
export function kernelBtf(): Btf {
  if (cached === undefined) cached = build();
  return cached;
}

function build(): Btf {
  const types: BtfType[] = [{ kind: 'VOID', id: 0, name: '' }];
  type NoId<T> = T extends unknown ? Omit<T, 'id'> : never;
  const add = (t: NoId<BtfType>): number => {
    const id = types.length;
    types.push({ ...t, id } as unknown as BtfType);
    return id;
  };
  const ints = new Map<Scalar, number>();
  const scalar = (s: Scalar): number => {
    let id = ints.get(s);
    if (id !== undefined) return id;
    const d = SCALARS[s];
    if (d.typedefOf !== undefined) id = add({ kind: 'TYPEDEF', name: d.name, type: scalar(d.typedefOf) });
    else {
      const base = add({ kind: 'INT', name: intName(d.size, d.signed), size: d.size, encoding: d.signed ? BTF_INT_SIGNED : 0, bitOffset: 0, bits: d.size * 8 });
      id = add({ kind: 'TYPEDEF', name: d.name, type: base });
    }
    ints.set(s, id);
    return id;
  };
  const structIds = new Map<string, number>();
  // Structs first so pointers can refer to them; members are filled in below.
  for (const name of Object.keys(STRUCTS)) structIds.set(name, add({ kind: 'STRUCT', name, size: 0, members: [] }));
  const u32idx = scalar('u32');
  const ptrTo = (target: string): number => {
    if (target === 'void') return add({ kind: 'PTR', name: '', type: 0 });
    let sid = structIds.get(target);
    if (sid === undefined) {
      sid = add({ kind: 'FWD', name: target, union: false });
      structIds.set(target, sid);
    }
    return add({ kind: 'PTR', name: '', type: sid });
  };

  // Lays out `fields` C-style; returns members, size and alignment.
  const layout = (fields: Field[], isUnion: boolean): { members: BtfMember[]; size: number; align: number } => {
    const members: BtfMember[] = [];
    let off = 0;
    let size = 0;
    let align = 1;
    for (const f of fields) {
      let type: number;
      let fsize: number;
      let falign: number;
      let name: string;
      if (Array.isArray(f)) {
        const d = SCALARS[f[0]];
        name = f[1];
        type = scalar(f[0]);
        fsize = d.size;
        falign = d.size;
        if (f.length === 3) {
          type = add({ kind: 'ARRAY', name: '', type, indexType: u32idx, nelems: f[2] });
          fsize *= f[2];
        }
      } else if ('mdPtr' in f) {
        // union { T *name; __u64 :64; } __attribute__((aligned(8)))
        const p = ptrTo(f.mdPtr);
        type = add({ kind: 'UNION', name: '', size: 8, members: [{ name: f.name, type: p, bitOffset: 0, bitSize: 0 }] });
        name = '';
        fsize = 8;
        falign = 8;
      } else {
        const inner = layout(f.union, true);
        type = add({ kind: 'UNION', name: '', size: inner.size, members: inner.members });
        name = '';
        fsize = inner.size;
        falign = inner.align;
      }
      align = Math.max(align, falign);
      if (isUnion) {
        members.push({ name, type, bitOffset: 0, bitSize: 0 });
        size = Math.max(size, fsize);
      } else {
        off = Math.ceil(off / falign) * falign;
        members.push({ name, type, bitOffset: off * 8, bitSize: 0 });
        off += fsize;
        size = off;
      }
    }
    return { members, size: Math.ceil(size / align) * align, align };
  };

  for (const [name, fields] of Object.entries(STRUCTS)) {
    const l = layout(fields, false);
    const t = types[structIds.get(name)!] as BtfComposite;
    t.members = l.members;
    t.size = l.size;
  }
  for (const [name, vals] of Object.entries(ENUMS)) {
    add({ kind: 'ENUM', name, size: 4, signed: false, values: vals.map(([n, v]) => ({ name: n, value: BigInt(v) })) });
  }
  return { types, strings: new Uint8Array([0]) };
}

function intName(size: number, signed: boolean): string {
  const base = ['char', 'short', '', 'int', '', '', '', 'long long'][size - 1] ?? 'int';
  return size === 1 ? (signed ? 'signed char' : 'unsigned char') : `${signed ? '' : 'unsigned '}${base}`;
}
