// BTF type model. One record per type id; id 0 is `void`. Kind names are the kernel's (BTF_KIND_*
// without the prefix), as bpftool prints them. Everything is plain data so a Btf can be copied.

export const BTF_KIND = {
  VOID: 0, // not a wire kind: only type id 0
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

export type BtfKindName = keyof typeof BTF_KIND;

/** BTF_INT_* encoding bits. */
export const BTF_INT_SIGNED = 1 << 0;
export const BTF_INT_CHAR = 1 << 1;
export const BTF_INT_BOOL = 1 << 2;

/** BTF_FUNC_* linkage of FUNC types (stored in vlen). */
export const BTF_FUNC_STATIC = 0;
export const BTF_FUNC_GLOBAL = 1;
export const BTF_FUNC_EXTERN = 2;

/** BTF_VAR_* linkage. */
export const BTF_VAR_STATIC = 0;
export const BTF_VAR_GLOBAL_ALLOCATED = 1;
export const BTF_VAR_GLOBAL_EXTERN = 2;

interface Base {
  id: number;
  name: string;
}

export interface BtfVoid extends Base { kind: 'VOID' }
export interface BtfInt extends Base {
  kind: 'INT';
  size: number;
  /** BTF_INT_SIGNED | BTF_INT_CHAR | BTF_INT_BOOL */
  encoding: number;
  bitOffset: number;
  bits: number;
}
export interface BtfFloat extends Base { kind: 'FLOAT'; size: number }
export interface BtfRef extends Base {
  kind: 'PTR' | 'TYPEDEF' | 'VOLATILE' | 'CONST' | 'RESTRICT' | 'TYPE_TAG';
  type: number;
}
export interface BtfArray extends Base { kind: 'ARRAY'; type: number; indexType: number; nelems: number }
export interface BtfMember {
  name: string;
  type: number;
  /** Offset of the member in bits from the start of the struct. */
  bitOffset: number;
  /** Bitfield width in bits; 0 for a normal member. */
  bitSize: number;
}
export interface BtfComposite extends Base { kind: 'STRUCT' | 'UNION'; size: number; members: BtfMember[] }
export interface BtfEnumValue { name: string; value: bigint }
export interface BtfEnum extends Base {
  kind: 'ENUM' | 'ENUM64';
  size: number;
  /** kind_flag: values are signed. */
  signed: boolean;
  values: BtfEnumValue[];
}
export interface BtfFwd extends Base { kind: 'FWD'; /** kind_flag: forward-declared union rather than struct. */ union: boolean }
export interface BtfFunc extends Base { kind: 'FUNC'; type: number; /** BTF_FUNC_STATIC / GLOBAL / EXTERN */ linkage: number }
export interface BtfParam { name: string; type: number }
export interface BtfFuncProto extends Base { kind: 'FUNC_PROTO'; /** return type */ type: number; params: BtfParam[] }
export interface BtfVar extends Base { kind: 'VAR'; type: number; linkage: number }
export interface BtfVarSecinfo { type: number; offset: number; size: number }
export interface BtfDatasec extends Base { kind: 'DATASEC'; size: number; vars: BtfVarSecinfo[] }
export interface BtfDeclTag extends Base {
  kind: 'DECL_TAG';
  /** The tagged type (a FUNC, VAR, STRUCT/UNION or TYPEDEF). */
  type: number;
  /** -1: the type itself; otherwise member or parameter index. */
  componentIdx: number;
}

export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfFloat
  | BtfRef
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfFwd
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfDeclTag;

export interface BtfFuncInfo { insnOff: number; typeId: number }
export interface BtfLineInfo { insnOff: number; fileNameOff: number; lineOff: number; line: number; col: number }
export interface BtfCoreRelo { insnOff: number; typeId: number; accessStrOff: number; kind: number }

/** Per-ELF-section records from `.BTF.ext`. `insnOff` is a slot index within the section. */
export interface BtfExtSection<T> { section: string; records: T[] }

export interface BtfExt {
  funcInfo: BtfExtSection<BtfFuncInfo>[];
  lineInfo: BtfExtSection<BtfLineInfo>[];
  coreRelos: BtfExtSection<BtfCoreRelo>[];
}

export interface Btf {
  /** types[id]; types[0] is void. */
  types: BtfType[];
  /** The raw string section (names are already resolved into the records). */
  strings: Uint8Array;
  ext?: BtfExt;
}
