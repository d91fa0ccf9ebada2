// The special fields of a map value, found in its BTF the way the kernel's btf_parse_fields does (map_check_btf
// at BPF_MAP_CREATE): struct bpf_spin_lock, struct bpf_timer, struct bpf_wq, kptrs (pointers tagged
// __kptr / __kptr_untrusted / __percpu_kptr), bpf_list_head / bpf_list_node / bpf_rb_root / bpf_rb_node and
// bpf_refcount, in the value struct, in nested structs and in arrays of them, or in the variables of a global
// data section (DATASEC).
//
// The kernel's rules, mirrored here:
//  - a member matches by the NAME of its own type (no typedef or modifier is looked through), with the field's
//    size (a struct of another size is ignored) and alignment (a misaligned one is ignored);
//  - a second bpf_spin_lock, bpf_timer, bpf_wq or bpf_refcount makes the parse fail with -E2BIG, and a value
//    whose parse fails has no special fields at all (map_check_btf only acts on a valid record), so the map is
//    created as a plain one; `error` records why;
//  - a pointer member whose pointee is not a type tag is no kptr (ignored); an unknown tag fails (-EINVAL).
//
// The offsets are what the map model needs: the lock word bpf_spin_lock works on, the bpf_timer the timer
// helpers take, and the ranges user-space and program copies of a value skip (copy_map_value).

import type { Btf, BtfType } from './types.js';

export type ValueFieldKind =
  | 'spin_lock'
  | 'timer'
  | 'wq'
  | 'kptr'
  | 'kptr_untrusted'
  | 'percpu_kptr'
  | 'list_head'
  | 'list_node'
  | 'rb_root'
  | 'rb_node'
  | 'refcount';

export interface ValueField {
  kind: ValueFieldKind;
  /** Byte offset in the value. */
  offset: number;
  size: number;
}

/** The special fields of a map value (MapSpec.valueFields). */
export interface MapValueFields {
  fields: ValueField[];
  /** Why the kernel's parse failed (then `fields` is empty: the map has no special fields). */
  error?: string;
}

const STRUCT_FIELDS: Readonly<Record<string, { kind: ValueFieldKind; size: number; align: number; once: boolean }>> = {
  bpf_spin_lock: { kind: 'spin_lock', size: 4, align: 4, once: true },
  bpf_timer: { kind: 'timer', size: 16, align: 8, once: true },
  bpf_wq: { kind: 'wq', size: 16, align: 8, once: true },
  bpf_list_head: { kind: 'list_head', size: 16, align: 8, once: false },
  bpf_list_node: { kind: 'list_node', size: 24, align: 8, once: false },
  bpf_rb_root: { kind: 'rb_root', size: 16, align: 8, once: false },
  bpf_rb_node: { kind: 'rb_node', size: 32, align: 8, once: false },
  bpf_refcount: { kind: 'refcount', size: 4, align: 4, once: true },
};
const KPTR_TAGS: Readonly<Record<string, ValueFieldKind>> = { kptr: 'kptr', kptr_untrusted: 'kptr_untrusted', percpu_kptr: 'percpu_kptr' };
const MAX_RESOLVE_DEPTH = 32;

class FieldParseError extends Error {}

const isStruct = (t: BtfType | undefined): t is Extract<BtfType, { kind: 'STRUCT' | 'UNION' }> => t !== undefined && (t.kind === 'STRUCT' || t.kind === 'UNION');

/** The special fields of BTF type `typeId` (a struct, union or DATASEC) used as a `valueSize`-byte map value. */
export function btfValueFields(btf: Btf, typeId: number): MapValueFields {
  const seen = new Set<ValueFieldKind>();
  const out: ValueField[] = [];
  const one = (varType: BtfType | undefined, off: number, expectedSize: number, level: number): void => {
    let t = varType;
    let nelems = 1;
    let i = 0;
    for (; i < MAX_RESOLVE_DEPTH && t?.kind === 'ARRAY'; i++) {
      nelems *= t.nelems;
      t = btf.types[t.type];
    }
    if (i === MAX_RESOLVE_DEPTH) throw new FieldParseError('arrays nested too deep');
    if (nelems === 0 || t === undefined) return;
    const spec = isStruct(t) ? STRUCT_FIELDS[t.name] : undefined;
    if (spec !== undefined) {
      if (spec.once) {
        if (seen.has(spec.kind)) throw new FieldParseError(`a second struct ${t.name} (-E2BIG)`);
        seen.add(spec.kind);
      }
      if (expectedSize !== 0 && expectedSize !== spec.size * nelems) return;
      if (off % spec.align !== 0 || (t as { size: number }).size !== spec.size) return;
      for (let k = 0; k < nelems; k++) out.push({ kind: spec.kind, offset: off + k * spec.size, size: spec.size });
      return;
    }
    if (isStruct(t)) {
      if (expectedSize !== 0 && expectedSize !== t.size * nelems) return;
      if (level + 1 >= MAX_RESOLVE_DEPTH) throw new FieldParseError('structs nested too deep');
      const before = out.length;
      walkStruct(t, off, level + 1);
      const inner = out.slice(before);
      for (let k = 1; k < nelems; k++) for (const f of inner) out.push({ ...f, offset: f.offset + k * t.size });
      return;
    }
    if (t.kind !== 'PTR') return;
    const tag = btf.types[t.type];
    if (tag?.kind !== 'TYPE_TAG') return;
    const kind = KPTR_TAGS[tag.name];
    if (kind === undefined) throw new FieldParseError(`pointer tagged "${tag.name}" (-EINVAL)`);
    if (expectedSize !== 0 && expectedSize !== 8 * nelems) return;
    if (off % 8 !== 0) return;
    for (let k = 0; k < nelems; k++) out.push({ kind, offset: off + 8 * k, size: 8 });
  };
  const walkStruct = (t: Extract<BtfType, { kind: 'STRUCT' | 'UNION' }>, base: number, level: number): void => {
    for (const m of t.members) {
      if (m.bitOffset % 8 !== 0) throw new FieldParseError(`member ${m.name} is not byte-aligned`);
      one(btf.types[m.type], base + m.bitOffset / 8, 0, level);
    }
  };
  const top = btf.types[typeId];
  try {
    if (isStruct(top)) walkStruct(top, 0, 0);
    else if (top?.kind === 'DATASEC') for (const v of top.vars) one(btf.types[(btf.types[v.type] as { type: number }).type], v.offset, v.size, 0);
    else return { fields: [] };
  } catch (e) {
    if (e instanceof FieldParseError) return { fields: [], error: e.message };
    throw e;
  }
  out.sort((a, b) => a.offset - b.offset);
  return { fields: out };
}
