// Helpers to look through BTF: skip typedefs/modifiers, compute sizes, find types by name, decl tags.
// Reference chains were checked for loops at parse time; the depth bound here is belt and braces for
// Btf objects built by hand (the built-in kernel table, tests).

import { BpfLoadError } from '../errors.js';
import type { Btf, BtfType } from './types.js';

/** Same bound as the kernel's MAX_RESOLVE_DEPTH. */
const MAX_RESOLVE_DEPTH = 32;

export function typeById(btf: Btf, id: number): BtfType {
  const t = btf.types[id];
  if (t === undefined) throw new BpfLoadError(`type id ${id} is out of range (BTF has ${btf.types.length - 1} types)`);
  return t;
}

const MODIFIERS = new Set(['TYPEDEF', 'VOLATILE', 'CONST', 'RESTRICT', 'TYPE_TAG']);

/** Follows typedefs and const/volatile/restrict/type_tag to the underlying type; returns its id. */
export function skipModsAndTypedefs(btf: Btf, id: number): number {
  let cur = id;
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    const t = typeById(btf, cur);
    if (!MODIFIERS.has(t.kind)) return cur;
    cur = (t as { type: number }).type;
  }
  throw new BpfLoadError(`type ${id}: typedef/modifier chain deeper than ${MAX_RESOLVE_DEPTH}`);
}

/** The underlying type record (typedefs and modifiers skipped). */
export function resolveType(btf: Btf, id: number): BtfType {
  return typeById(btf, skipModsAndTypedefs(btf, id));
}

/** Size in bytes of a type (btf__resolve_size): errors for void, functions and forward declarations. */
export function sizeOf(btf: Btf, id: number): number {
  let cur = id;
  let mult = 1;
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    const t = typeById(btf, cur);
    switch (t.kind) {
      case 'INT': case 'FLOAT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': case 'DATASEC':
        return mult * t.size;
      case 'PTR':
        return mult * 8;
      case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG': case 'VAR':
        cur = t.type;
        break;
      case 'ARRAY':
        mult *= t.nelems;
        if (!Number.isSafeInteger(mult)) throw new BpfLoadError(`type ${id}: array size overflows`);
        cur = t.type;
        break;
      default:
        throw new BpfLoadError(`type ${id}: ${t.kind} ${t.name ? `"${t.name}" ` : ''}has no size`);
    }
  }
  throw new BpfLoadError(`type ${id}: type chain deeper than ${MAX_RESOLVE_DEPTH}`);
}

/** All type ids with this name (optionally of this kind), in id order. */
export function findTypesByName(btf: Btf, name: string, kind?: BtfType['kind']): number[] {
  const out: number[] = [];
  for (const t of btf.types) if (t.name === name && (kind === undefined || t.kind === kind)) out.push(t.id);
  return out;
}

/** Values of DECL_TAG types attached to `targetId` at `componentIdx` (-1: the type itself), in BTF order. */
export function declTags(btf: Btf, targetId: number, componentIdx = -1): string[] {
  const out: string[] = [];
  for (const t of btf.types) if (t.kind === 'DECL_TAG' && t.type === targetId && t.componentIdx === componentIdx) out.push(t.name);
  return out;
}

/** C-like rendering of a type for messages: "struct sk_msg_md", "__u32", "int *", "u8[4]". */
export function typeString(btf: Btf, id: number, depth = 0): string {
  const t = btf.types[id];
  if (t === undefined) return `<bad type ${id}>`;
  if (depth > MAX_RESOLVE_DEPTH) return '...';
  switch (t.kind) {
    case 'VOID': return 'void';
    case 'STRUCT': return `struct ${t.name || '(anon)'}`;
    case 'UNION': return `union ${t.name || '(anon)'}`;
    case 'ENUM': case 'ENUM64': return `enum ${t.name || '(anon)'}`;
    case 'FWD': return `${t.union ? 'union' : 'struct'} ${t.name}`;
    case 'PTR': return `${typeString(btf, t.type, depth + 1)} *`;
    case 'CONST': return `const ${typeString(btf, t.type, depth + 1)}`;
    case 'VOLATILE': return `volatile ${typeString(btf, t.type, depth + 1)}`;
    case 'RESTRICT': return `${typeString(btf, t.type, depth + 1)} restrict`;
    case 'ARRAY': return `${typeString(btf, t.type, depth + 1)}[${t.nelems}]`;
    case 'FUNC_PROTO': return `${typeString(btf, t.type, depth + 1)} (*)(${t.params.map((p) => typeString(btf, p.type, depth + 1)).join(', ')})`;
    default: return t.name || t.kind.toLowerCase();
  }
}
