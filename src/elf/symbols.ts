// ELF symbol table (.symtab) and REL relocation entries, read with bounds checks.

import { BpfLoadError } from '../errors.js';
import { Bytes } from '../btf/bytes.js';
import { SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB, type ElfFile, type ElfSection } from './elf.js';

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;

const SYM_SIZE = 24;
const REL_SIZE = 16;

export interface ElfSymbol {
  index: number;
  name: string;
  bind: number;
  type: number;
  /** st_other & 3: STV_DEFAULT 0, STV_INTERNAL 1, STV_HIDDEN 2, STV_PROTECTED 3. */
  visibility: number;
  shndx: number;
  value: number;
  size: number;
}

export function readSymbols(elf: ElfFile): ElfSymbol[] {
  const symtabs = elf.sections.filter((s) => s.type === SHT_SYMTAB);
  if (symtabs.length === 0) throw new BpfLoadError('no symbol table (.symtab); was the object stripped?');
  if (symtabs.length > 1) throw new BpfLoadError('more than one symbol table');
  const st = symtabs[0]!;
  const strSec = elf.sections[st.link];
  if (strSec === undefined || strSec.type !== SHT_STRTAB) throw new BpfLoadError(`symbol table links to section ${st.link}, which is not a string table`);
  if (st.size % SYM_SIZE) throw new BpfLoadError(`symbol table size ${st.size} is not a multiple of ${SYM_SIZE}`);
  const b = new Bytes(st.data, 'symbol table');
  const strs = new Bytes(strSec.data, `string table "${strSec.name}"`);
  const n = st.size / SYM_SIZE;
  const out: ElfSymbol[] = [];
  for (let i = 0; i < n; i++) {
    const o = i * SYM_SIZE;
    const nameOff = b.u32(o);
    const info = b.u8at(o + 4);
    const sym: ElfSymbol = {
      index: i,
      name: nameOff === 0 ? '' : strs.cstr(nameOff),
      bind: info >> 4,
      type: info & 0xf,
      visibility: b.u8at(o + 5) & 3,
      shndx: b.u16(o + 6),
      value: b.u64n(o + 8),
      size: b.u64n(o + 16),
    };
    if (sym.shndx < SHN_LORESERVE && sym.shndx >= elf.sections.length) {
      throw new BpfLoadError(`symbol ${i} "${sym.name}" refers to section ${sym.shndx}, beyond the ${elf.sections.length} sections`);
    }
    out.push(sym);
  }
  return out;
}

export interface ElfRel {
  offset: number;
  sym: number;
  type: number;
}

/** clang's BPF relocation types (llvm BPF ELF relocs). */
export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1; // lddw imm (maps, data, subprog addresses)
export const R_BPF_64_ABS64 = 2; // 64-bit data (.maps values, .BTF/.BTF.ext, debug)
export const R_BPF_64_ABS32 = 3; // 32-bit data (debug info)
export const R_BPF_64_NODYLD32 = 4; // 32-bit data not touched by a dynamic loader (.BTF.ext insn offsets)
export const R_BPF_64_32 = 10; // call imm (pc-relative, in insns)

export function readRels(sec: ElfSection, symCount: number): ElfRel[] {
  if (sec.type === SHT_RELA) throw new BpfLoadError(`section "${sec.name}": RELA relocations are not used by BPF objects`);
  if (sec.type !== SHT_REL) throw new BpfLoadError(`section "${sec.name}" is not a REL section`);
  if (sec.size % REL_SIZE) throw new BpfLoadError(`relocation section "${sec.name}" size ${sec.size} is not a multiple of ${REL_SIZE}`);
  const b = new Bytes(sec.data, `relocation section "${sec.name}"`);
  const out: ElfRel[] = [];
  for (let o = 0; o < sec.size; o += REL_SIZE) {
    const offset = b.u64n(o);
    const infoLo = b.u32(o + 8);
    const sym = b.u32(o + 12);
    if (sym >= symCount) throw new BpfLoadError(`relocation #${o / REL_SIZE} in "${sec.name}" refers to symbol ${sym}, beyond the ${symCount} symbols`);
    out.push({ offset, sym, type: infoLo });
  }
  return out;
}
