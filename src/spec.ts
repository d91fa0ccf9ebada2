// Plain-data description of a BPF ELF object, as produced by the loader (src/elf). Specs are data:
// copyable, no live state. The kernel model turns them into running maps and programs.

import type { Btf } from './btf/types.js';
import type { MapValueFields } from './btf/fields.js';

export interface CollectionSpec {
  file?: string;
  license: string;
  /** From the legacy `version` section (u32), when present. */
  kernelVersion?: number;
  programs: ProgramSpec[];
  maps: MapSpec[];
  btf?: Btf;
}

/** A symbol the object needs from the kernel (libbpf "extern"): kfuncs, ksyms, `.kconfig` variables. */
export interface ExternSpec {
  name: string;
  /** `kfunc`: called with `call` src=2; `ksym`: address loaded by lddw; `kconfig`: `.kconfig` variable. */
  kind: 'kfunc' | 'ksym' | 'kconfig';
  /** Instruction slot (in the program's `insns`) that refers to it. */
  insnOff: number;
  /** Local BTF id of the extern's FUNC / VAR, when BTF describes it (0 otherwise). */
  btfId: number;
  weak: boolean;
}

export interface ProgramSpec {
  /** Function symbol name. */
  name: string;
  /** ELF section name (the SEC("...") string). */
  section: string;
  /** BPF_PROG_TYPE_* */
  type: number;
  /** Kernel name of the program type: "sk_msg", "sk_skb", "sock_ops", ... */
  typeName: string;
  /** BPF_* attach type, when the section name implies one. */
  attachType?: number;
  attachTypeName?: string;
  /** Fully relocated and linked bytecode; used `.text` subprograms are appended after the entry function. */
  insns: Uint8Array;
  license: string;
  /** BTF func_info, `insnOff` in slots of `insns`. */
  funcInfo: { insnOff: number; typeId: number; name: string }[];
  /** BTF line_info, `insnOff` in slots of `insns`; `col` is the column, `source` the source line text. */
  lineInfo: { insnOff: number; file: string; line: number; col: number; source: string }[];
  /** BTF decl_tag values attached to the function itself (component_idx -1), in BTF order. */
  annotations: string[];
  sourceFile?: string;
  /** Unresolved kernel symbols the program refers to (kfunc calls keep src=2). Absent when none. */
  externs?: ExternSpec[];
  /** True for program types bpfvm knows by name but does not model (tracing, lsm, ...). */
  unsupported?: boolean;
  /**
   * Set when the program could not be fully prepared: a CO-RE relocation against a type bpfvm's built-in kernel
   * BTF lacks (the instruction is poisoned like libbpf does), any CO-RE failure in an unsupported-type program,
   * or a reference to an `__arena` global. The text names the relocation (and the subprogram, when the problem
   * is in one). Such a program cannot run; the rest of the object loads normally.
   */
  loadError?: string;
}

export interface MapSpec {
  /**
   * Map name: the variable name for `.maps`/`maps` definitions. Global data maps are named after their
   * ELF section (".data", ".rodata", ".bss", ".rodata.str1.1", ".kconfig", ".data.custom", ...), not
   * libbpf's "<obj>.data" form, so the name is stable regardless of the file name.
   */
  name: string;
  /** BPF_MAP_TYPE_* */
  type: number;
  typeName: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  pinning?: number;
  numaNode?: number;
  innerMap?: MapSpec;
  mapExtra?: bigint;
  /** Initial contents from BTF `values`. Prog array / map-in-map slots hold a 4-byte index and a contentRefs entry. */
  contents?: { key: Uint8Array; value: Uint8Array }[];
  /** Symbolic references of `values`: slot `key` refers to program `program` or map `map` (by name). */
  contentRefs?: { key: number; program?: string; map?: string }[];
  /** Global data maps: initial bytes of the section (zeros for .bss). */
  data?: Uint8Array;
  /** `.rodata*` and `.kconfig`: frozen after creation (read-only for programs). */
  frozen?: boolean;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  /** Special fields of the BTF-described value (bpf_spin_lock, bpf_timer, kptrs, ...): src/btf/fields.ts. */
  valueFields?: MapValueFields;
  /** ELF section the definition came from (".maps", "maps", ".data", ...). */
  section: string;
}
