// Parser for the `.BTF` section (format: include/uapi/linux/btf.h; checks modelled on kernel/bpf/btf.c).
// Type records are variable length; every count read from the file is bounded by the bytes left, so a
// corrupted vlen cannot make us loop or allocate beyond the section size.

import { BpfLoadError, withContext } from '../errors.js';
import { Bytes } from './bytes.js';
import type { Btf, BtfKindName, BtfMember, BtfType } from './types.js';

export const BTF_MAGIC = 0xeb9f;
const BTF_HDR_MIN = 24;

/** Wire kind number → kind name. Index 0 (UNKN) never appears in a record. */
const KIND_BY_NUMBER: (BtfKindName | undefined)[] = [
  undefined, 'INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'FWD', 'TYPEDEF', 'VOLATILE', 'CONST',
  'RESTRICT', 'FUNC', 'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64',
];

/** Size in bytes of the kind-specific data that follows the 12-byte common header, per vlen item or fixed. */
const KIND_EXTRA: Record<BtfKindName, { fixed: number; perVlen: number }> = {
  VOID: { fixed: 0, perVlen: 0 },
  INT: { fixed: 4, perVlen: 0 },
  PTR: { fixed: 0, perVlen: 0 },
  ARRAY: { fixed: 12, perVlen: 0 },
  STRUCT: { fixed: 0, perVlen: 12 },
  UNION: { fixed: 0, perVlen: 12 },
  ENUM: { fixed: 0, perVlen: 8 },
  FWD: { fixed: 0, perVlen: 0 },
  TYPEDEF: { fixed: 0, perVlen: 0 },
  VOLATILE: { fixed: 0, perVlen: 0 },
  CONST: { fixed: 0, perVlen: 0 },
  RESTRICT: { fixed: 0, perVlen: 0 },
  FUNC: { fixed: 0, perVlen: 0 },
  FUNC_PROTO: { fixed: 0, perVlen: 8 },
  VAR: { fixed: 4, perVlen: 0 },
  DATASEC: { fixed: 0, perVlen: 12 },
  FLOAT: { fixed: 0, perVlen: 0 },
  DECL_TAG: { fixed: 4, perVlen: 0 },
  TYPE_TAG: { fixed: 0, perVlen: 0 },
  ENUM64: { fixed: 0, perVlen: 12 },
};

export interface BtfHeader {
  version: number;
  flags: number;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

export function parseBtfHeader(b: Bytes): BtfHeader {
  if (b.length < BTF_HDR_MIN) throw new BpfLoadError(`BTF header truncated: ${b.length} bytes, need ${BTF_HDR_MIN}`);
  const magic = b.u16(0);
  if (magic !== BTF_MAGIC) {
    if (magic === 0x9feb) throw new BpfLoadError('BTF is big-endian; bpfvm loads little-endian (bpfel) objects only');
    throw new BpfLoadError(`bad BTF magic 0x${magic.toString(16)} (want 0xeb9f)`);
  }
  const h: BtfHeader = {
    version: b.u8at(2),
    flags: b.u8at(3),
    hdrLen: b.u32(4),
    typeOff: b.u32(8),
    typeLen: b.u32(12),
    strOff: b.u32(16),
    strLen: b.u32(20),
  };
  if (h.version !== 1) throw new BpfLoadError(`unsupported BTF version ${h.version}`);
  if (h.hdrLen < BTF_HDR_MIN || h.hdrLen > b.length) throw new BpfLoadError(`bad BTF header length ${h.hdrLen}`);
  const body = b.length - h.hdrLen;
  if (h.typeOff + h.typeLen > body) throw new BpfLoadError(`BTF type section (off ${h.typeOff}, len ${h.typeLen}) exceeds ${body} data bytes`);
  if (h.strOff + h.strLen > body) throw new BpfLoadError(`BTF string section (off ${h.strOff}, len ${h.strLen}) exceeds ${body} data bytes`);
  if (h.typeOff % 4) throw new BpfLoadError(`BTF type section offset ${h.typeOff} is not 4-byte aligned`);
  return h;
}

/** Parses a `.BTF` blob. Cross-references are checked (every type id in range, no reference loops). */
export function parseBtf(data: Uint8Array): Btf {
  const b = new Bytes(data, 'BTF');
  const h = parseBtfHeader(b);
  const strings = b.slice(h.hdrLen + h.strOff, h.strLen);
  const str = new Bytes(strings, 'BTF string section');
  if (h.strLen > 0 && strings[0] !== 0) throw new BpfLoadError('BTF string section does not start with an empty string');
  if (h.strLen > 0 && strings[h.strLen - 1] !== 0) throw new BpfLoadError('BTF string section is not NUL-terminated');
  const name = (off: number): string => (off === 0 ? '' : str.cstr(off));

  const tb = new Bytes(b.slice(h.hdrLen + h.typeOff, h.typeLen), 'BTF type section');
  const types: BtfType[] = [{ kind: 'VOID', id: 0, name: '' }];
  let off = 0;
  while (off < tb.length) {
    const id = types.length;
    const t = withContext(`type ${id}`, () => {
      if (off + 12 > tb.length) throw new BpfLoadError(`type record truncated at offset ${off}`);
      const nameOff = tb.u32(off);
      const info = tb.u32(off + 4);
      const sizeOrType = tb.u32(off + 8);
      const vlen = info & 0xffff;
      const kindNo = (info >>> 24) & 0x1f;
      const kflag = (info >>> 31) === 1;
      const kind = KIND_BY_NUMBER[kindNo];
      if (kind === undefined) throw new BpfLoadError(`unknown BTF kind ${kindNo}`);
      const extra = KIND_EXTRA[kind];
      const extraLen = extra.fixed + extra.perVlen * vlen;
      const p = off + 12;
      if (p + extraLen > tb.length) throw new BpfLoadError(`${kind} record with vlen ${vlen} runs past the type section`);
      const nm = name(nameOff);
      let rec: BtfType;
      switch (kind) {
        case 'INT': {
          const v = tb.u32(p);
          rec = { kind, id, name: nm, size: sizeOrType, encoding: (v >>> 24) & 0x0f, bitOffset: (v >>> 16) & 0xff, bits: v & 0xff };
          if (![1, 2, 4, 8, 16].includes(sizeOrType)) throw new BpfLoadError(`INT size ${sizeOrType} is invalid`);
          if (rec.bits + rec.bitOffset > sizeOrType * 8) throw new BpfLoadError(`INT bits ${rec.bits} + offset ${rec.bitOffset} exceed size ${sizeOrType}`);
          break;
        }
        case 'FLOAT':
          rec = { kind, id, name: nm, size: sizeOrType };
          break;
        case 'PTR': case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
          rec = { kind, id, name: nm, type: sizeOrType };
          break;
        case 'ARRAY':
          rec = { kind, id, name: nm, type: tb.u32(p), indexType: tb.u32(p + 4), nelems: tb.u32(p + 8) };
          break;
        case 'STRUCT': case 'UNION': {
          const members: BtfMember[] = [];
          for (let i = 0; i < vlen; i++) {
            const q = p + i * 12;
            const o = tb.u32(q + 8);
            members.push({
              name: name(tb.u32(q)),
              type: tb.u32(q + 4),
              // With kind_flag set, the offset word packs bitfield size (high 8 bits) and bit offset.
              bitOffset: kflag ? o & 0xffffff : o,
              bitSize: kflag ? o >>> 24 : 0,
            });
          }
          rec = { kind, id, name: nm, size: sizeOrType, members };
          break;
        }
        case 'ENUM': {
          const values = [];
          for (let i = 0; i < vlen; i++) {
            const q = p + i * 8;
            values.push({ name: name(tb.u32(q)), value: kflag ? BigInt(tb.i32(q + 4)) : BigInt(tb.u32(q + 4)) });
          }
          rec = { kind, id, name: nm, size: sizeOrType, signed: kflag, values };
          break;
        }
        case 'ENUM64': {
          const values = [];
          for (let i = 0; i < vlen; i++) {
            const q = p + i * 12;
            const u = (BigInt(tb.u32(q + 8)) << 32n) | BigInt(tb.u32(q + 4));
            values.push({ name: name(tb.u32(q)), value: kflag ? BigInt.asIntN(64, u) : u });
          }
          rec = { kind, id, name: nm, size: sizeOrType, signed: kflag, values };
          break;
        }
        case 'FWD':
          rec = { kind, id, name: nm, union: kflag };
          break;
        case 'FUNC':
          rec = { kind, id, name: nm, type: sizeOrType, linkage: vlen };
          break;
        case 'FUNC_PROTO': {
          const params = [];
          for (let i = 0; i < vlen; i++) params.push({ name: name(tb.u32(p + i * 8)), type: tb.u32(p + i * 8 + 4) });
          rec = { kind, id, name: nm, type: sizeOrType, params };
          break;
        }
        case 'VAR':
          rec = { kind, id, name: nm, type: sizeOrType, linkage: tb.u32(p) };
          break;
        case 'DATASEC': {
          const vars = [];
          for (let i = 0; i < vlen; i++) {
            const q = p + i * 12;
            vars.push({ type: tb.u32(q), offset: tb.u32(q + 4), size: tb.u32(q + 8) });
          }
          rec = { kind, id, name: nm, size: sizeOrType, vars };
          break;
        }
        case 'DECL_TAG':
          rec = { kind, id, name: nm, type: sizeOrType, componentIdx: tb.i32(p) };
          break;
        case 'VOID':
          throw new BpfLoadError('kind 0 in a type record');
      }
      off = p + extraLen;
      return rec;
    });
    types.push(t);
  }
  const btf: Btf = { types, strings };
  validateRefs(btf);
  return btf;
}

/** Type ids each record refers to (for range checks and loop detection). */
export function referencedIds(t: BtfType): number[] {
  switch (t.kind) {
    case 'PTR': case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
    case 'FUNC': case 'VAR': case 'DECL_TAG':
      return [t.type];
    case 'ARRAY':
      return [t.type, t.indexType];
    case 'STRUCT': case 'UNION':
      return t.members.map((m) => m.type);
    case 'FUNC_PROTO':
      return [t.type, ...t.params.map((p) => p.type)];
    case 'DATASEC':
      return t.vars.map((v) => v.type);
    default:
      return [];
  }
}

function validateRefs(btf: Btf): void {
  const n = btf.types.length;
  for (const t of btf.types) {
    for (const r of referencedIds(t)) {
      if (r >= n) throw new BpfLoadError(`refers to unknown type id ${r} (BTF has ${n - 1} types)`, {}, [`type ${t.id}`]);
    }
    withContext(`type ${t.id}`, () => {
      if (t.kind === 'FUNC' && btf.types[t.type]!.kind !== 'FUNC_PROTO') throw new BpfLoadError(`FUNC "${t.name}" type ${t.type} is not a FUNC_PROTO`);
      if (t.kind === 'DECL_TAG') {
        const target = btf.types[t.type]!;
        if (t.componentIdx < -1) throw new BpfLoadError(`DECL_TAG component_idx ${t.componentIdx} is invalid`);
        if (t.componentIdx >= 0) {
          const cnt = target.kind === 'STRUCT' || target.kind === 'UNION' ? target.members.length
            : target.kind === 'FUNC' ? funcParamCount(btf, target.type) : -1;
          if (t.componentIdx >= cnt) throw new BpfLoadError(`DECL_TAG component_idx ${t.componentIdx} out of range for type ${t.type}`);
        }
      }
    });
  }
  // Modifier/typedef chains and arrays must end: a loop (a TYPEDEF naming itself) would hang resolution.
  // Pointers break legitimate cycles (struct list { struct list *next; }), so they end a chain here.
  const state = new Uint8Array(n); // 0 unvisited, 1 in progress, 2 done
  for (let id = 1; id < n; id++) {
    if (state[id] === 2) continue;
    const stack: number[] = [];
    let cur = id;
    // Walk the single-successor chain (modifiers, typedefs, array element) iteratively.
    for (;;) {
      const t = btf.types[cur]!;
      if (state[cur] === 2) break;
      if (state[cur] === 1) throw new BpfLoadError(`type ${id}: reference loop through type ${cur}`);
      state[cur] = 1;
      stack.push(cur);
      const next = chainNext(t);
      if (next === undefined || next === 0) break;
      cur = next;
    }
    for (const s of stack) state[s] = 2;
  }
}

function chainNext(t: BtfType): number | undefined {
  switch (t.kind) {
    case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG': case 'VAR':
      return t.type;
    case 'ARRAY':
      return t.type;
    default:
      return undefined;
  }
}

function funcParamCount(btf: Btf, protoId: number): number {
  const p = btf.types[protoId];
  return p && p.kind === 'FUNC_PROTO' ? p.params.length : -1;
}
