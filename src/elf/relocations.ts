// Classifies ELF relocations against instructions, following libbpf's rules
// (bpf_program__record_reloc), and applies the data/map/extern ones to a copy of the instructions.
//
//   call insn  + symbol in an executable section      → subprogram call (RELO_CALL)
//   call insn  + undefined symbol                     → kfunc call (extern)
//   lddw src=4 + function symbol                      → subprogram address (BPF_PSEUDO_FUNC, callbacks)
//   lddw       + symbol in .maps / maps               → map reference: src=5 (BPF_PSEUDO_MAP_IDX), imm=map index
//   lddw       + symbol in .data/.rodata/.bss         → map value: src=6 (BPF_PSEUDO_MAP_IDX_VALUE), imm=map
//                                                       index, second-slot imm = insn imm + symbol value
//   lddw       + undefined symbol                      → ksym or .kconfig extern
//   lddw       + symbol in .addr_space.1 (__arena)     → arena global: src=6, imm=the ARENA map's index, second-slot
//                                                       imm = offset in the arena (bpfvm does not model arenas:
//                                                       the linker marks the program with a loadError)
// For a data reference the byte offset is split between the symbol and the instruction: clang emits
// `imm = 0` against a global variable's symbol (offset in st_value), and `imm = offset` against the
// section symbol for static variables and string literals (st_value 0). libbpf adds the two; so do we.

import { BpfLoadError } from '../errors.js';
import { BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_KFUNC_CALL, LDDW } from '../../vm/isa.js';
import type { ExternSpec } from '../spec.js';
import { SHF_EXECINSTR, type ElfFile } from './elf.js';
import type { MapTable } from './maps.js';
import { SHN_LORESERVE, SHN_UNDEF, STB_WEAK, STT_SECTION, type ElfRel, type ElfSymbol } from './symbols.js';

const CALL = 0x85; // BPF_JMP | BPF_CALL

export type Reloc =
  | { kind: 'call'; slot: number; sym: ElfSymbol; symSection: number }
  | { kind: 'subprog_addr'; slot: number; sym: ElfSymbol; symSection: number }
  | { kind: 'map'; slot: number; mapIndex: number }
  | { kind: 'data'; slot: number; mapIndex: number; symOff: number }
  | { kind: 'extern'; slot: number; sym: ElfSymbol; call: boolean }
  | { kind: 'arena'; slot: number; mapIndex: number; symOff: number; name: string };

/** The section libbpf treats as the arena's global data (ARENA_SEC in libbpf.c). */
export const ARENA_SECTION = '.addr_space.1';
const BPF_MAP_TYPE_ARENA = 33;

/** Turns one ELF relocation against instruction slot `slot` of `code` into a Reloc. */
export function classifyReloc(elf: ElfFile, maps: MapTable, code: Uint8Array, slot: number, rel: ElfRel, sym: ElfSymbol): Reloc {
  const o = slot * 8;
  const op = code[o]!;
  const src = code[o + 1]! >> 4;
  const symName = sym.type === STT_SECTION && sym.name === '' ? elf.sections[sym.shndx]?.name ?? '?' : sym.name;
  const isCall = op === CALL;
  if (!isCall && op !== LDDW) {
    throw new BpfLoadError(`relocation against "${symName}" at insn ${slot} targets opcode 0x${op.toString(16)}, not a call or lddw`);
  }
  if (op === LDDW && o + 16 > code.length) throw new BpfLoadError(`lddw at insn ${slot} is truncated`);
  if (sym.shndx === SHN_UNDEF) {
    if (sym.name === '') throw new BpfLoadError(`relocation at insn ${slot} against an unnamed undefined symbol`);
    return { kind: 'extern', slot, sym, call: isCall };
  }
  if (isCall) {
    if (src !== 1) throw new BpfLoadError(`call at insn ${slot} against "${symName}" has src_reg ${src}, want 1 (BPF_PSEUDO_CALL)`);
    const sec = elf.sections[sym.shndx];
    if (!sec || !(sec.flags & SHF_EXECINSTR)) throw new BpfLoadError(`call at insn ${slot} against "${symName}", which is not in an executable section`);
    if (sym.value % 8) throw new BpfLoadError(`call at insn ${slot} against "${symName}" at unaligned offset ${sym.value}`);
    return { kind: 'call', slot, sym, symSection: sym.shndx };
  }
  if (sym.shndx >= SHN_LORESERVE) {
    throw new BpfLoadError(`relocation at insn ${slot} against "${symName}" in special section 0x${sym.shndx.toString(16)}; forgot to initialize a global variable?`);
  }
  const sec = elf.sections[sym.shndx]!;
  if (sec.flags & SHF_EXECINSTR) {
    const imm = new DataView(code.buffer, code.byteOffset + o).getInt32(4, true);
    // clang leaves src_reg 0 here; like libbpf we mark the insn BPF_PSEUDO_FUNC when linking.
    if (src !== 0 && src !== BPF_PSEUDO_FUNC) throw new BpfLoadError(`lddw at insn ${slot} refers to function "${symName}" but has src_reg ${src}`);
    if (sym.value % 8 || imm % 8) throw new BpfLoadError(`subprogram address relocation against "${symName}" at unaligned offset ${sym.value}+${imm}`);
    return { kind: 'subprog_addr', slot, sym, symSection: sym.shndx };
  }
  const mapIndex = maps.byDef.get(`${sym.shndx}:${sym.value}`);
  if (sec.name === '.maps' || sec.name === 'maps') {
    if (mapIndex === undefined) throw new BpfLoadError(`no map at offset ${sym.value} of section "${sec.name}" for "${symName}" (insn ${slot})`);
    return { kind: 'map', slot, mapIndex };
  }
  if (sec.name === ARENA_SECTION) {
    // libbpf: __arena globals live in the object's ARENA map, which must be declared explicitly.
    const arena = maps.maps.findIndex((m) => m.type === BPF_MAP_TYPE_ARENA);
    if (arena < 0) throw new BpfLoadError(`insn ${slot} refers to __arena global "${symName}" in section "${ARENA_SECTION}", but the object declares no ARENA map in SEC(".maps")`);
    return { kind: 'arena', slot, mapIndex: arena, symOff: sym.value, name: symName };
  }
  const dataIndex = maps.bySection.get(sym.shndx);
  if (dataIndex === undefined) throw new BpfLoadError(`insn ${slot} refers to "${symName}" in section "${sec.name}", which is neither a map nor global data`);
  return { kind: 'data', slot, mapIndex: dataIndex, symOff: sym.value };
}

/**
 * Applies a map/data/extern relocation to `code`, a function's private copy that will sit at slot `base`
 * of the final program (`r.slot` is relative to the function). Calls and subprogram addresses are the
 * linker's job.
 */
export function applyDataReloc(code: Uint8Array, base: number, r: Reloc, maps: MapTable, externs: ExternSpec[], btfIdOf: (name: string) => number): void {
  const o = r.slot * 8;
  const dv = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const setSrc = (s: number) => { code[o + 1] = (code[o + 1]! & 0x0f) | (s << 4); };
  // The section-level check in classifyReloc sees the whole section; a function's copy can still end in
  // the middle of an lddw when a symbol's size splits it.
  const wide = r.kind === 'data' || r.kind === 'arena' || r.kind === 'map' || (r.kind === 'extern' && !r.call);
  if (o + (wide ? 16 : 8) > code.length) {
    throw new BpfLoadError(`relocation at insn ${r.slot}: the ${wide ? 'lddw' : 'instruction'} runs past the end of its function (${code.length / 8} insns)`);
  }
  switch (r.kind) {
    case 'map':
      setSrc(BPF_PSEUDO_MAP_IDX);
      dv.setInt32(o + 4, r.mapIndex, true);
      return;
    case 'data': {
      const imm = dv.getInt32(o + 4, true);
      const off = imm + r.symOff;
      const size = maps.maps[r.mapIndex]!.valueSize;
      if (off < 0 || off > size) throw new BpfLoadError(`insn ${r.slot}: offset ${off} is outside global data "${maps.maps[r.mapIndex]!.name}" (${size} bytes)`);
      setSrc(BPF_PSEUDO_MAP_IDX_VALUE);
      dv.setInt32(o + 4, r.mapIndex, true);
      dv.setInt32(o + 12, off, true);
      return;
    }
    case 'arena': {
      setSrc(BPF_PSEUDO_MAP_IDX_VALUE);
      dv.setInt32(o + 12, dv.getInt32(o + 4, true) + r.symOff, true);
      dv.setInt32(o + 4, r.mapIndex, true);
      return;
    }
    case 'extern': {
      const weak = r.sym.bind === STB_WEAK;
      const kc = maps.kconfig?.offsets.get(r.sym.name);
      if (!r.call && kc !== undefined) {
        // .kconfig variable: a value in the .kconfig map, like global data.
        setSrc(BPF_PSEUDO_MAP_IDX_VALUE);
        dv.setInt32(o + 4, maps.kconfig!.mapIndex, true);
        dv.setInt32(o + 12, kc, true);
        externs.push({ name: r.sym.name, kind: 'kconfig', insnOff: base + r.slot, btfId: btfIdOf(r.sym.name), weak });
        return;
      }
      const btfId = btfIdOf(r.sym.name);
      if (r.call) {
        // kfunc: the kernel would put its vmlinux BTF id here; bpfvm keeps the local BTF id and records the name.
        setSrc(BPF_PSEUDO_KFUNC_CALL);
        dv.setInt32(o + 4, btfId, true);
        externs.push({ name: r.sym.name, kind: 'kfunc', insnOff: base + r.slot, btfId, weak });
      } else {
        externs.push({ name: r.sym.name, kind: 'ksym', insnOff: base + r.slot, btfId, weak });
      }
      return;
    }
    default:
      return;
  }
}
