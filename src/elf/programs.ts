// Functions, programs and the bpf-to-bpf linker. Every STT_FUNC symbol is a function; functions in
// executable sections other than `.text` are entry programs, `.text` functions are subprograms. An entry
// program's final bytecode is its own body followed by every subprogram it reaches, appended in the
// order libbpf appends them (depth first, at the first call site), so instruction numbers match what
// the kernel sees when libbpf loads the same object.

import { BpfLoadError, withContext } from '../errors.js';
import { btfString } from '../btf/ext.js';
import { declTags, typeById } from '../btf/resolve.js';
import type { Btf } from '../btf/types.js';
import { BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, LDDW } from '../../vm/isa.js';
import type { ExternSpec, ProgramSpec } from '../spec.js';
import type { ElfFile, ElfSection } from './elf.js';
import type { MapTable } from './maps.js';
import { ARENA_SECTION, applyDataReloc, classifyReloc, type Reloc } from './relocations.js';
import { progTypeForSection, unknownSectionError } from './sections.js';
import { STB_GLOBAL, STB_LOCAL, STT_FUNC, STT_NOTYPE, type ElfRel, type ElfSymbol } from './symbols.js';

const CALL = 0x85;

export interface Func {
  name: string;
  sym?: ElfSymbol;
  section: ElfSection;
  /** First slot within the section. */
  start: number;
  /** Length in slots. */
  len: number;
  /** Relocations keyed by slot relative to `start`. */
  relocs: Map<number, Reloc>;
  /**
   * Why this function cannot be prepared (a CO-RE relocation bpfvm could not resolve, its instruction poisoned
   * like libbpf does); every program that includes the function gets it as its ProgramSpec.loadError.
   */
  loadError?: string;
}

export interface SectionCode {
  section: ElfSection;
  /** Private, CO-RE-patched copy of the section's instructions. */
  code: Uint8Array;
  funcs: Func[];
}

/** Splits an executable section into functions by its STT_FUNC symbols. */
export function findFunctions(sec: ElfSection, code: Uint8Array, syms: ElfSymbol[]): Func[] {
  if (sec.size % 8) throw new BpfLoadError(`section "${sec.name}" size ${sec.size} is not a multiple of 8`, { section: sec.name });
  const slots = sec.size / 8;
  const funcs: Func[] = [];
  for (const s of syms) {
    if (s.shndx !== sec.index || s.type !== STT_FUNC) continue;
    if (s.value % 8 || s.size % 8 || s.size === 0 || s.value + s.size > sec.size) {
      throw new BpfLoadError(`function "${s.name}" (offset ${s.value}, size ${s.size}) does not fit section "${sec.name}" (${sec.size} bytes)`, { section: sec.name, offset: s.value });
    }
    funcs.push({ name: s.name, sym: s, section: sec, start: s.value / 8, len: s.size / 8, relocs: new Map() });
  }
  if (funcs.length === 0 && slots > 0) {
    // Objects from old compilers have no STT_FUNC symbols: the section is one program, named by a
    // global symbol at offset 0 if there is one, else by the section.
    const g = syms.find((s) => s.shndx === sec.index && s.value === 0 && s.bind !== STB_LOCAL && s.type === STT_NOTYPE && s.name);
    funcs.push({ name: g?.name ?? sec.name, section: sec, start: 0, len: slots, relocs: new Map() });
    if (g) funcs[0]!.sym = g;
  }
  funcs.sort((a, b) => a.start - b.start);
  for (let i = 1; i < funcs.length; i++) {
    const p = funcs[i - 1]!;
    if (funcs[i]!.start < p.start + p.len) throw new BpfLoadError(`functions "${p.name}" and "${funcs[i]!.name}" overlap in section "${sec.name}"`, { section: sec.name });
  }
  void code;
  return funcs;
}

/** The function containing `slot` (binary search), or undefined. */
export function funcAt(funcs: Func[], slot: number): Func | undefined {
  let lo = 0;
  let hi = funcs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const f = funcs[mid]!;
    if (slot < f.start) hi = mid - 1;
    else if (slot >= f.start + f.len) lo = mid + 1;
    else return f;
  }
  return undefined;
}

/** Assigns a section's relocations to the functions they land in. */
export function attachRelocs(elf: ElfFile, sc: SectionCode, rels: ElfRel[], syms: ElfSymbol[], maps: MapTable): void {
  rels.forEach((rel, i) => {
    withContext(`relocation #${i}`, () => {
      if (rel.offset % 8 || rel.offset >= sc.code.length) {
        throw new BpfLoadError(`invalid offset 0x${rel.offset.toString(16)} in section "${sc.section.name}" (${sc.code.length} bytes)`, { offset: rel.offset });
      }
      const slot = rel.offset / 8;
      const f = funcAt(sc.funcs, slot);
      if (!f) return; // libbpf: outside any function, e.g. an overridden weak function
      const r = classifyReloc(elf, maps, sc.code, slot, rel, syms[rel.sym]!);
      r.slot = slot - f.start;
      f.relocs.set(r.slot, r);
    });
  });
}

export interface LinkContext {
  sections: Map<number, SectionCode>;
  maps: MapTable;
  btf?: Btf;
  license: string;
}

/** Builds the ProgramSpec for entry function `entry`: copies, relocates and links its subprograms. */
export function linkProgram(ctx: LinkContext, entry: Func): ProgramSpec {
  const secName = entry.section.name;
  const pt = progTypeForSection(secName);
  if (!pt) throw unknownSectionError(secName);

  const placed = new Map<Func, { base: number; code: Uint8Array }>();
  const order: Func[] = [];
  let total = 0;
  const externs: ExternSpec[] = [];
  const btf = ctx.btf;
  const btfIdOf = (name: string): number => {
    if (!btf) return 0;
    const t = btf.types.find((x) => (x.kind === 'FUNC' || x.kind === 'VAR') && x.name === name);
    return t ? t.id : 0;
  };

  const loadErrors: string[] = [];
  const place = (f: Func): void => {
    if (f.loadError !== undefined) loadErrors.push(f === entry ? f.loadError : `subprogram "${f.name}": ${f.loadError}`);
    const src = ctx.sections.get(f.section.index)!.code;
    const code = src.slice(f.start * 8, (f.start + f.len) * 8);
    const base = total;
    placed.set(f, { base, code });
    order.push(f);
    total += f.len;
    withContext(f === entry ? `function "${f.name}"` : `subprogram "${f.name}"`, () => {
      const dv = new DataView(code.buffer, code.byteOffset, code.byteLength);
      for (let i = 0; i < f.len; i++) {
        const op = code[i * 8]!;
        const srcReg = code[i * 8 + 1]! >> 4;
        const r = f.relocs.get(i);
        if (r && r.kind !== 'call' && r.kind !== 'subprog_addr') applyDataReloc(code, base, r, ctx.maps, externs, btfIdOf);
        if (r && r.kind === 'arena') {
          loadErrors.push(`${f === entry ? '' : `subprogram "${f.name}": `}insn ${i} uses __arena global "${r.name}" (section "${ARENA_SECTION}"): arena maps are not modelled by bpfvm`);
        }
        const isCall = op === CALL && srcReg === BPF_PSEUDO_CALL && !(r && r.kind === 'extern');
        const isFuncAddr = op === LDDW && (srcReg === BPF_PSEUDO_FUNC || (r !== undefined && r.kind === 'subprog_addr'));
        if (isFuncAddr) code[i * 8 + 1] = (code[i * 8 + 1]! & 0x0f) | (BPF_PSEUDO_FUNC << 4);
        if (isCall || isFuncAddr) {
          const imm = dv.getInt32(i * 8 + 4, true);
          let tsec: number;
          let tslot: number;
          if (r && r.kind === 'call') {
            tsec = r.symSection;
            tslot = r.sym.value / 8 + imm + 1;
          } else if (r && r.kind === 'subprog_addr') {
            tsec = r.symSection;
            tslot = (r.sym.value + imm) / 8;
          } else if (isFuncAddr) {
            throw new BpfLoadError(`insn ${i}: lddw with BPF_PSEUDO_FUNC has no relocation`);
          } else {
            // A call to a static function in the same section carries no relocation: imm is relative.
            tsec = f.section.index;
            tslot = f.start + i + imm + 1;
          }
          const tsc = ctx.sections.get(tsec);
          const target = tsc ? funcAt(tsc.funcs, tslot) : undefined;
          if (!target) throw new BpfLoadError(`insn ${i}: call target (section ${tsec}, insn ${tslot}) is not inside any function`);
          if (!placed.has(target)) place(target);
          const tb = placed.get(target)!.base;
          dv.setInt32(i * 8 + 4, tb + (tslot - target.start) - (base + i) - 1, true);
        }
        if (op === LDDW) i++; // second slot of lddw is not an instruction
      }
    });
  };
  place(entry);

  const insns = new Uint8Array(total * 8);
  for (const f of order) {
    const p = placed.get(f)!;
    insns.set(p.code, p.base * 8);
  }

  const funcInfo: ProgramSpec['funcInfo'] = [];
  const lineInfo: ProgramSpec['lineInfo'] = [];
  if (btf?.ext) {
    for (const f of order) {
      const base = placed.get(f)!.base;
      const inRange = (off: number) => off >= f.start && off < f.start + f.len;
      for (const s of btf.ext.funcInfo) {
        if (s.section !== f.section.name) continue;
        for (const r of s.records) {
          if (!inRange(r.insnOff)) continue;
          const t = typeById(btf, r.typeId);
          if (t.kind !== 'FUNC') throw new BpfLoadError(`func_info at insn ${r.insnOff} of "${s.section}" refers to type ${r.typeId}, a ${t.kind} not a FUNC`);
          funcInfo.push({ insnOff: base + r.insnOff - f.start, typeId: r.typeId, name: t.name });
        }
      }
      for (const s of btf.ext.lineInfo) {
        if (s.section !== f.section.name) continue;
        for (const r of s.records) {
          if (!inRange(r.insnOff)) continue;
          lineInfo.push({ insnOff: base + r.insnOff - f.start, file: btfString(btf, r.fileNameOff), line: r.line, col: r.col, source: btfString(btf, r.lineOff) });
        }
      }
    }
  }

  const spec: ProgramSpec = {
    name: entry.name,
    section: secName,
    type: pt.type,
    typeName: pt.typeName,
    insns,
    license: ctx.license,
    funcInfo,
    lineInfo,
    annotations: [],
  };
  if (pt.attachType !== undefined) {
    spec.attachType = pt.attachType;
    spec.attachTypeName = pt.attachTypeName!;
  }
  if (btf) {
    const fi = funcInfo.find((x) => x.insnOff === 0);
    const fid = fi ? fi.typeId : btf.types.find((t) => t.kind === 'FUNC' && t.name === entry.name)?.id;
    if (fid !== undefined) spec.annotations = declTags(btf, fid, -1);
  }
  if (lineInfo.length > 0 && lineInfo[0]!.file) spec.sourceFile = lineInfo[0]!.file;
  if (externs.length > 0) spec.externs = externs;
  if (pt.unsupported) spec.unsupported = true;
  if (loadErrors.length > 0) spec.loadError = loadErrors[0]!;
  return spec;
}

export function isEntryFunction(f: Func): boolean {
  return f.section.name !== '.text' && (f.sym === undefined || f.sym.bind === STB_GLOBAL || f.sym.bind === STB_LOCAL || f.sym.bind === 2);
}
