// CO-RE relocation resolution (the ideas of libbpf relo_core.c, written for bpfvm's needs). Local types
// come from the object's BTF; targets from a "kernel" BTF (by default the built-in table of uapi context
// structs in kernel.ts). A relocation is matched by type name (ignoring "___flavor" suffixes) and by
// member names along the access string, then the instruction's imm/off is patched. Relocations whose
// target type is not in the kernel table are errors: bpfvm has no vmlinux to answer them honestly.

import { BpfLoadError } from '../errors.js';
import { btfString } from './ext.js';
import { resolveType, sizeOf, skipModsAndTypedefs, typeById, typeString } from './resolve.js';
import type { Btf, BtfComposite, BtfCoreRelo, BtfEnum, BtfType } from './types.js';
import { BTF_INT_SIGNED } from './types.js';

/** enum bpf_core_relo_kind (uapi/linux/bpf.h). */
export const CORE_RELO_KIND = [
  'FIELD_BYTE_OFFSET', 'FIELD_BYTE_SIZE', 'FIELD_EXISTS', 'FIELD_SIGNED', 'FIELD_LSHIFT_U64', 'FIELD_RSHIFT_U64',
  'TYPE_ID_LOCAL', 'TYPE_ID_TARGET', 'TYPE_EXISTS', 'TYPE_SIZE', 'ENUMVAL_EXISTS', 'ENUMVAL_VALUE', 'TYPE_MATCHES',
] as const;

const isFieldKind = (k: number): boolean => k <= 5;
const isTypeKind = (k: number): boolean => (k >= 6 && k <= 9) || k === 12;
const isEnumvalKind = (k: number): boolean => k === 10 || k === 11;

/** libbpf's poison immediate: a reachable poisoned insn fails verification with "invalid func unknown#195896080". */
export const CORE_POISON_IMM = 0xbad2310;
const MAX_SPEC_LEN = 64;

interface Accessor { typeId: number; idx: number; name?: string }
interface Spec { btf: Btf; rootId: number; acc: Accessor[]; bitOffset: number }

/** Type name without a "___flavor" suffix (libbpf: bpf_core_essential_name_len). */
export function essentialName(name: string): string {
  const i = name.indexOf('___');
  return i > 0 ? name.slice(0, i) : name;
}

function parseSpec(btf: Btf, relo: BtfCoreRelo, accessStr: string): Spec {
  const rootId = skipModsAndTypedefs(btf, relo.typeId);
  const spec: Spec = { btf, rootId, acc: [], bitOffset: 0 };
  if (isTypeKind(relo.kind)) {
    if (accessStr !== '0') throw new BpfLoadError(`type-based relocation with access string "${accessStr}" (want "0")`);
    return spec;
  }
  if (!/^\d+(:\d+)*$/.test(accessStr)) throw new BpfLoadError(`malformed access string "${accessStr}"`);
  const raw = accessStr.split(':').map(Number);
  if (raw.length > MAX_SPEC_LEN) throw new BpfLoadError(`access string "${accessStr}" is too long`);
  const root = typeById(btf, rootId);
  if (isEnumvalKind(relo.kind)) {
    if ((root.kind !== 'ENUM' && root.kind !== 'ENUM64') || raw.length > 1 || raw[0]! >= root.values.length) {
      throw new BpfLoadError(`enum relocation "${accessStr}" does not name a value of ${typeString(btf, rootId)}`);
    }
    spec.acc.push({ typeId: rootId, idx: raw[0]!, name: root.values[raw[0]!]!.name });
    return spec;
  }
  spec.acc.push({ typeId: rootId, idx: raw[0]! });
  spec.bitOffset = raw[0]! * sizeOf(btf, rootId) * 8;
  let id = rootId;
  for (let i = 1; i < raw.length; i++) {
    id = skipModsAndTypedefs(btf, id);
    const t = typeById(btf, id);
    const idx = raw[i]!;
    if (t.kind === 'STRUCT' || t.kind === 'UNION') {
      const m = t.members[idx];
      if (m === undefined) throw new BpfLoadError(`access index ${idx} beyond ${t.members.length} members of ${typeString(btf, id)}`);
      spec.bitOffset += m.bitOffset;
      // Anonymous members are only steps on the way; matching is by the names around them.
      if (m.name) spec.acc.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === 'ARRAY') {
      const elem = skipModsAndTypedefs(btf, t.type);
      const prev = spec.acc[spec.acc.length - 1]!;
      if (idx >= t.nelems && !isFlexArray(btf, prev, t.nelems)) throw new BpfLoadError(`array index ${idx} out of bounds [${t.nelems}]`);
      spec.acc.push({ typeId: elem, idx });
      spec.bitOffset += idx * sizeOf(btf, elem) * 8;
      id = elem;
    } else {
      throw new BpfLoadError(`access "${accessStr}" step ${i} reaches ${t.kind} type ${id}, which has no members`);
    }
  }
  return spec;
}

/** A zero-length array that is the last member of a struct can be indexed past its end. */
function isFlexArray(btf: Btf, prev: Accessor, nelems: number): boolean {
  if (nelems !== 0 || prev.name === undefined) return false;
  const t = typeById(btf, prev.typeId);
  return (t.kind === 'STRUCT' || t.kind === 'UNION') && prev.idx === t.members.length - 1;
}

/** Kind compatibility for field relocations (libbpf bpf_core_fields_are_compat, simplified). */
function fieldsCompatible(lb: Btf, lid: number, tb: Btf, tid: number, depth = 0): boolean {
  if (depth > 32) return false;
  const l = resolveType(lb, lid);
  const t = resolveType(tb, tid);
  const comp = (k: string) => k === 'STRUCT' || k === 'UNION';
  if (comp(l.kind) && comp(t.kind)) return true;
  const en = (k: string) => k === 'ENUM' || k === 'ENUM64';
  if (en(l.kind) && en(t.kind)) return true;
  if (l.kind !== t.kind) return false;
  switch (l.kind) {
    case 'PTR': case 'INT': case 'FLOAT': return true;
    case 'FWD': return essentialName(l.name) === essentialName(t.name);
    case 'ARRAY': return fieldsCompatible(lb, l.type, tb, (t as { type: number }).type, depth + 1);
    default: return false;
  }
}

/** Finds member `name` in a composite, descending into anonymous members; returns path bit offset and member. */
function findMember(btf: Btf, compId: number, name: string, depth = 0): { bitOffset: number; typeId: number; parent: number; idx: number } | undefined {
  if (depth > 32) return undefined;
  const t = resolveType(btf, compId) as BtfType;
  if (t.kind !== 'STRUCT' && t.kind !== 'UNION') return undefined;
  for (let i = 0; i < t.members.length; i++) {
    const m = t.members[i]!;
    if (m.name === name) return { bitOffset: m.bitOffset, typeId: m.type, parent: t.id, idx: i };
    if (m.name === '') {
      const inner = findMember(btf, m.type, name, depth + 1);
      if (inner) return { ...inner, bitOffset: inner.bitOffset + m.bitOffset };
    }
  }
  return undefined;
}

/** Matches a local field spec against a target root type; undefined if some member is missing. */
function matchFieldSpec(local: Spec, tb: Btf, targetRoot: number): Spec | undefined {
  const out: Spec = { btf: tb, rootId: targetRoot, acc: [], bitOffset: 0 };
  const a0 = local.acc[0]!;
  out.acc.push({ typeId: targetRoot, idx: a0.idx });
  out.bitOffset = a0.idx * sizeOf(tb, targetRoot) * 8;
  let cur = targetRoot;
  for (let i = 1; i < local.acc.length; i++) {
    const la = local.acc[i]!;
    if (la.name !== undefined) {
      const m = findMember(tb, cur, la.name);
      if (!m) return undefined;
      const lt = resolveType(local.btf, la.typeId) as BtfComposite;
      const lm = lt.members[la.idx]!;
      if (!fieldsCompatible(local.btf, lm.type, tb, m.typeId)) return undefined;
      out.bitOffset += m.bitOffset;
      out.acc.push({ typeId: m.parent, idx: m.idx, name: la.name });
      cur = m.typeId;
    } else {
      const t = resolveType(tb, cur);
      if (t.kind !== 'ARRAY') return undefined;
      if (la.idx >= t.nelems && t.nelems !== 0) return undefined;
      const elem = skipModsAndTypedefs(tb, t.type);
      out.acc.push({ typeId: elem, idx: la.idx });
      out.bitOffset += la.idx * sizeOf(tb, elem) * 8;
      cur = elem;
    }
  }
  return out;
}

interface FieldResult { val: bigint; fieldSize: number; validate: boolean; target?: BtfType }

function calcField(kind: number, spec: Spec | undefined): FieldResult | 'poison' {
  if (kind === 2) return { val: spec ? 1n : 0n, fieldSize: 0, validate: true };
  if (!spec) return 'poison';
  const last = spec.acc[spec.acc.length - 1]!;
  const btf = spec.btf;
  if (last.name === undefined) {
    // Array element (or the root itself): only offset and size make sense.
    const sz = sizeOf(btf, last.typeId);
    if (kind === 0) return { val: BigInt(spec.bitOffset / 8), fieldSize: sz, validate: true, target: resolveType(btf, last.typeId) };
    if (kind === 1) return { val: BigInt(sz), fieldSize: 0, validate: true };
    throw new BpfLoadError(`${CORE_RELO_KIND[kind]} cannot be applied to an array element`);
  }
  const parent = resolveType(btf, last.typeId) as BtfComposite;
  const m = parent.members[last.idx]!;
  const mt = resolveType(btf, m.type);
  let bitSize = m.bitSize;
  const bitOff = spec.bitOffset;
  const bitfield = bitSize > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    byteSz = 'size' in mt ? mt.size : 0;
    if (byteSz === 0) throw new BpfLoadError('bitfield of a sizeless type');
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    // Smallest aligned load that covers the whole bitfield.
    while (bitOff + bitSize - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) throw new BpfLoadError('bitfield cannot be read with a 64-bit load');
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    byteSz = sizeOf(btf, m.type);
    byteOff = Math.floor(bitOff / 8);
    bitSize = byteSz * 8;
  }
  switch (kind) {
    case 0: return { val: BigInt(byteOff), fieldSize: bitfield ? 0 : byteSz, validate: !bitfield, target: mt };
    case 1: return { val: BigInt(byteSz), fieldSize: 0, validate: !bitfield };
    case 3: {
      const signed = ((mt.kind === 'ENUM' || mt.kind === 'ENUM64') && mt.signed) || (mt.kind === 'INT' && (mt.encoding & BTF_INT_SIGNED) !== 0);
      return { val: signed ? 1n : 0n, fieldSize: 0, validate: true };
    }
    case 4: return { val: BigInt(64 - (bitOff + bitSize - byteOff * 8)), fieldSize: 0, validate: !bitfield };
    case 5: return { val: BigInt(64 - bitSize), fieldSize: 0, validate: true };
    default: throw new BpfLoadError(`unexpected field relocation kind ${kind}`);
  }
}

export interface CoreReloContext {
  /** Section-relative instruction bytes to patch (a private copy). */
  insns: Uint8Array;
  section: string;
}

/**
 * Resolves one relocation and patches `ctx.insns` at `relo.insnOff`. `target` defaults to the built-in
 * kernel table (pass it explicitly to test with other targets). Returns a reason when the instruction was
 * poisoned because `target` has no type of the relocated name (libbpf's "no matching targets" case; a real
 * kernel's vmlinux BTF usually has it, so the caller records the reason on the programs that use the
 * instruction), undefined otherwise. Malformed relocations throw, as they fail libbpf's whole object.
 */
export function applyCoreRelo(local: Btf, target: Btf, relo: BtfCoreRelo, ctx: CoreReloContext): string | undefined {
  const kindName = CORE_RELO_KIND[relo.kind];
  const accessStr = btfString(local, relo.accessStrOff);
  typeById(local, relo.typeId);
  const where = `CO-RE relocation at insn ${relo.insnOff} (${kindName ?? `kind ${relo.kind}`}, access "${accessStr}", ${typeString(local, relo.typeId)})`;
  let missing: string | undefined;
  try {
    if (kindName === undefined) throw new BpfLoadError(`unknown relocation kind ${relo.kind}`);
    const ls = parseSpec(local, relo, accessStr);
    let res: { orig: bigint; val: bigint; validate: boolean; poison: boolean; origSz: number; newSz: number; memszOk: boolean };

    if (relo.kind === 6) {
      // TYPE_ID_LOCAL needs no target: it names a type in the program's own BTF.
      res = { orig: BigInt(relo.typeId), val: BigInt(relo.typeId), validate: false, poison: false, origSz: 0, newSz: 0, memszOk: true };
    } else {
      const root = typeById(local, ls.rootId);
      const name = essentialName(root.name);
      if (!name) throw new BpfLoadError('relocation against an anonymous type cannot be matched by name');
      const cands = target.types.filter((t) => t.name !== '' && essentialName(t.name) === name && sameFamily(root, t));
      // No candidate: libbpf (bpf_core_calc_relo_insn with no matching target) computes the relocation against
      // "no target": existence checks and type-based relocations give 0, the others poison the instruction
      // (`call 0xbad2310`), which fails verification only if it is reachable.
      const cand = cands[0];
      if (cand === undefined) {
        missing = `no type named "${name}" in the built-in kernel BTF (bpfvm models only the uapi context structs: __sk_buff, sk_msg_md, bpf_sock_ops, bpf_sock, xdp_md, and enums sk_action, xdp_action)`;
      }
      if (isTypeKind(relo.kind)) {
        const tsz = relo.kind === 9 && cand ? BigInt(sizeOf(target, cand.id)) : 0n;
        const lsz = relo.kind === 9 ? BigInt(sizeOf(local, ls.rootId)) : 0n;
        const found = cand ? 1n : 0n;
        const [orig, val] = relo.kind === 7 ? [BigInt(relo.typeId), cand ? BigInt(cand.id) : 0n] : relo.kind === 9 ? [lsz, tsz] : [1n, found];
        res = { orig, val, validate: relo.kind === 9 || relo.kind === 8 || relo.kind === 12, poison: false, origSz: 0, newSz: 0, memszOk: true };
      } else if (isEnumvalKind(relo.kind)) {
        const lv = (typeById(local, ls.rootId) as BtfEnum).values[ls.acc[0]!.idx]!;
        const tv = cand ? (cand as BtfEnum).values.find((v) => essentialName(v.name) === essentialName(lv.name)) : undefined;
        if (relo.kind === 10) res = { orig: 1n, val: tv ? 1n : 0n, validate: true, poison: false, origSz: 0, newSz: 0, memszOk: true };
        else res = { orig: lv.value, val: tv ? tv.value : 0n, validate: true, poison: tv === undefined, origSz: 0, newSz: 0, memszOk: true };
      } else {
        const lr = calcField(relo.kind, ls);
        if (lr === 'poison') throw new BpfLoadError('local field spec did not resolve');
        const ts = cand ? matchFieldSpec(ls, target, cand.id) : undefined;
        const tr = calcField(relo.kind, ts);
        if (tr === 'poison') {
          res = { orig: lr.val, val: 0n, validate: false, poison: true, origSz: 0, newSz: 0, memszOk: true };
        } else {
          // A load/store whose field changed size may be resized only for pointers and unsigned ints.
          const memszOk = lr.fieldSize === tr.fieldSize || tr.target === undefined || tr.target.kind === 'PTR'
            || (tr.target.kind === 'INT' && (tr.target.encoding & BTF_INT_SIGNED) === 0);
          res = { orig: lr.val, val: tr.val, validate: lr.validate, poison: false, origSz: lr.fieldSize, newSz: tr.fieldSize, memszOk };
        }
      }
    }
    patchInsn(ctx.insns, relo.insnOff, res);
    return res.poison && missing !== undefined ? `${where}: ${missing}` : undefined;
  } catch (e) {
    const err = e instanceof BpfLoadError ? e : new BpfLoadError(String(e instanceof Error ? e.message : e));
    throw err.within(where, { section: ctx.section });
  }
}

function sameFamily(local: BtfType, t: BtfType): boolean {
  const fam = (k: string) => (k === 'STRUCT' || k === 'UNION' ? 'composite' : k === 'ENUM' || k === 'ENUM64' ? 'enum' : k);
  return fam(local.kind) === fam(t.kind);
}

const SIZE_BITS: Record<number, number> = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 };
const BYTES_OF_SIZE: Record<number, number> = { 0x10: 1, 0x08: 2, 0x00: 4, 0x18: 8 };

function patchInsn(
  code: Uint8Array,
  slot: number,
  r: { orig: bigint; val: bigint; validate: boolean; poison: boolean; origSz: number; newSz: number; memszOk: boolean },
): void {
  const o = slot * 8;
  if (o < 0 || o + 8 > code.length) throw new BpfLoadError(`instruction offset is outside the section (${code.length / 8} insns)`);
  const dv = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const op = code[o]!;
  const cls = op & 7;
  const poison = (n: number) => {
    for (let i = 0; i < n; i++) {
      code[o + i * 8] = 0x85; // BPF_JMP | BPF_CALL
      code[o + i * 8 + 1] = 0;
      dv.setInt16(o + i * 8 + 2, 0, true);
      dv.setInt32(o + i * 8 + 4, CORE_POISON_IMM, true);
    }
  };
  const mismatch = (got: bigint) => new BpfLoadError(`unexpected instruction value: got ${got}, expected ${r.orig} (-> ${r.val})`);
  switch (cls) {
    case 0x04: case 0x07: { // ALU, ALU64
      if (op & 0x08) throw new BpfLoadError(`cannot relocate instruction with opcode 0x${op.toString(16)} (register source)`);
      if (r.poison) return poison(1);
      const imm = dv.getInt32(o + 4, true);
      if (r.validate && BigInt(imm >>> 0) !== BigInt.asUintN(32, r.orig)) throw mismatch(BigInt(imm));
      dv.setInt32(o + 4, Number(BigInt.asIntN(32, r.val)), true);
      return;
    }
    case 0x01: case 0x02: case 0x03: { // LDX, ST, STX
      if (r.poison) return poison(1);
      const off = dv.getInt16(o + 2, true);
      if (r.validate && BigInt(off) !== r.orig) throw mismatch(BigInt(off));
      if (r.val > 0x7fffn) throw new BpfLoadError(`offset ${r.val} does not fit the instruction's 16-bit offset`);
      if (!r.memszOk) return poison(1);
      dv.setInt16(o + 2, Number(r.val), true);
      if (r.newSz !== r.origSz && r.newSz !== 0) {
        const cur = BYTES_OF_SIZE[op & 0x18]!;
        if (cur !== r.origSz) throw new BpfLoadError(`memory access size ${cur} differs from the field size ${r.origSz}`);
        const nb = SIZE_BITS[r.newSz];
        if (nb === undefined) throw new BpfLoadError(`target field size ${r.newSz} cannot be loaded by one instruction`);
        code[o] = (op & ~0x18) | nb;
      }
      return;
    }
    case 0x00: { // LD: only lddw with plain immediates
      if (op !== 0x18 || o + 16 > code.length || code[o + 1]! >> 4 !== 0 || dv.getInt16(o + 2, true) !== 0
        || code[o + 8] !== 0 || code[o + 9] !== 0 || dv.getInt16(o + 10, true) !== 0) {
        throw new BpfLoadError('lddw instruction has unexpected form');
      }
      if (r.poison) return poison(2);
      const imm = (BigInt(dv.getUint32(o + 12, true)) << 32n) | BigInt(dv.getUint32(o + 4, true));
      if (r.validate && imm !== BigInt.asUintN(64, r.orig)) throw mismatch(imm);
      const v = BigInt.asUintN(64, r.val);
      dv.setUint32(o + 4, Number(v & 0xffffffffn), true);
      dv.setUint32(o + 12, Number(v >> 32n), true);
      return;
    }
    default:
      throw new BpfLoadError(`cannot relocate instruction with opcode 0x${op.toString(16)}`);
  }
}
