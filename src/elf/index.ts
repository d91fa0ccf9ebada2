// ELF object → CollectionSpec, the way libbpf opens an object (bpf_object__open): read sections and
// symbols, parse BTF, collect maps, apply CO-RE relocations, split executable sections into functions,
// then relocate and link each entry program. Nothing but BpfLoadError escapes.

import { readFileSync } from 'node:fs';
import { BpfLoadError, asLoadError, withContext } from '../errors.js';
import { applyCoreRelo } from '../btf/core.js';
import { btfValueFields } from '../btf/fields.js';
import { parseBtfExt } from '../btf/ext.js';
import { kernelBtf } from '../btf/kernel.js';
import { parseBtf } from '../btf/parse.js';
import type { Btf, BtfDatasec } from '../btf/types.js';
import type { CollectionSpec, ProgramSpec } from '../spec.js';
import { SHF_EXECINSTR, SHT_PROGBITS, SHT_REL, readElf, type ElfFile } from './elf.js';
import { collectMaps, resolveMapRefs } from './maps.js';
import { progTypeForSection } from './sections.js';
import { CORE_POISON_IMM } from '../btf/core.js';
import { attachRelocs, findFunctions, funcAt, isEntryFunction, linkProgram, type SectionCode } from './programs.js';
import { readRels, readSymbols, type ElfSymbol } from './symbols.js';

export { BpfLoadError } from '../errors.js';
export type { CollectionSpec, ExternSpec, MapSpec, ProgramSpec } from '../spec.js';
export { progTypeForSection, PROG_TYPE_NAMES, ATTACH_TYPE_NAMES, MODELLED_PROG_TYPES } from './sections.js';
export { MAP_TYPE_NAMES } from './maps.js';

export interface LoadOptions {
  /** File name for error messages and CollectionSpec.file. */
  file?: string;
  /** Target BTF for CO-RE relocations; defaults to the built-in table of uapi context structs. */
  targetBtf?: Btf;
}

export function loadCollectionFile(path: string, opts: Omit<LoadOptions, 'file'> = {}): CollectionSpec {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new BpfLoadError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, { file: path }, [], { cause: e });
  }
  return loadCollection(bytes, { ...opts, file: path });
}

export function loadCollection(bytes: Uint8Array, opts: LoadOptions = {}): CollectionSpec {
  const where = opts.file !== undefined ? { file: opts.file } : {};
  try {
    return load(bytes, opts);
  } catch (e) {
    const err = asLoadError(e, where);
    if (err.file === undefined && opts.file !== undefined) err.file = opts.file;
    if (err === e) throw err;
    throw err;
  }
}

function load(bytes: Uint8Array, opts: LoadOptions): CollectionSpec {
  const elf = withContext('read ELF', () => readElf(bytes));
  const license = withContext('read license', () => readLicense(elf));
  const kernelVersion = withContext('read version', () => readVersion(elf));
  const syms = withContext('read symbols', () => readSymbols(elf));
  const btf = withContext('load BTF', () => loadBtf(elf, syms));

  const maps = collectMaps(elf, syms, btf);
  // The special fields of BTF-described values (bpf_spin_lock, bpf_timer, kptrs): src/btf/fields.ts.
  if (btf) for (const m of maps.maps) if (m.btfValueTypeId !== undefined) m.valueFields = btfValueFields(btf, m.btfValueTypeId);

  // Executable sections: private copies (CO-RE patches them), functions and relocations.
  const sections = new Map<number, SectionCode>();
  for (const s of elf.sections) {
    if (s.type !== SHT_PROGBITS || !(s.flags & SHF_EXECINSTR) || s.size === 0) continue;
    const code = s.data.slice();
    const funcs = withContext(`section "${s.name}"`, () => findFunctions(s, code, syms), { section: s.name });
    sections.set(s.index, { section: s, code, funcs });
  }

  if (btf?.ext && btf.ext.coreRelos.length > 0) {
    const target = opts.targetBtf ?? kernelBtf();
    withContext('apply CO-RE relocations', () => {
      for (const cs of btf.ext!.coreRelos) {
        const sc = [...sections.values()].find((x) => x.section.name === cs.section);
        if (!sc) throw new BpfLoadError(`CO-RE relocations for unknown section "${cs.section}"`);
        // Like libbpf, a relocation whose type the target BTF lacks poisons its instruction instead of failing
        // the object; since bpfvm's built-in BTF has only the uapi context structs, the reason is recorded on
        // the function (and so on every program that includes it) as a loadError. Tracing-type programs
        // (iterators, kprobes, ...) are not runnable here anyway: any failure there is recorded the same way.
        const pt = progTypeForSection(cs.section);
        const tolerate = cs.section !== '.text' && pt !== undefined && pt.unsupported;
        const mark = (slot: number, why: string): void => {
          const f = funcAt(sc.funcs, slot);
          if (f !== undefined && f.loadError === undefined) f.loadError = why;
        };
        for (const r of cs.records) {
          try {
            const why = applyCoreRelo(btf, target, r, { insns: sc.code, section: cs.section });
            if (why !== undefined) mark(r.insnOff, why);
          } catch (e) {
            if (!tolerate || !(e instanceof BpfLoadError)) throw e;
            mark(r.insnOff, e.message);
            poisonCoreInsn(sc.code, r.insnOff);
          }
        }
      }
    });
  }

  for (const sc of sections.values()) {
    const rel = elf.sections.find((s) => s.type === SHT_REL && s.info === sc.section.index);
    if (!rel) continue;
    withContext(`relocations for section "${sc.section.name}"`, () => {
      attachRelocs(elf, sc, readRels(rel, syms.length), syms, maps);
    }, { section: sc.section.name });
  }

  const programs: ProgramSpec[] = [];
  const progBySym = new Map<string, number>();
  const ctx = { sections, maps, license, ...(btf ? { btf } : {}) };
  for (const sc of sections.values()) {
    if (sc.section.name === '.text') continue;
    for (const f of sc.funcs) {
      if (!isEntryFunction(f)) continue;
      const spec = withContext(`load program "${f.name}"`, () => linkProgram(ctx, f), { section: sc.section.name });
      if (f.sym) progBySym.set(`${f.sym.shndx}:${f.sym.value}`, programs.length);
      programs.push(spec);
    }
  }

  resolveMapRefs(maps, (sym: ElfSymbol) => {
    const i = progBySym.get(`${sym.shndx}:${sym.value}`);
    return i === undefined ? undefined : { index: i, name: programs[i]!.name };
  });

  const spec: CollectionSpec = { license, programs, maps: maps.maps };
  if (opts.file !== undefined) spec.file = opts.file;
  if (kernelVersion !== undefined) spec.kernelVersion = kernelVersion;
  if (btf) spec.btf = btf;
  return spec;
}

function readLicense(elf: ElfFile): string {
  const s = elf.byName.get('license');
  if (!s) return '';
  const end = s.data.indexOf(0);
  return new TextDecoder().decode(end < 0 ? s.data : s.data.subarray(0, end));
}

function readVersion(elf: ElfFile): number | undefined {
  const s = elf.byName.get('version');
  if (!s) return undefined;
  if (s.size !== 4) throw new BpfLoadError(`section "version" is ${s.size} bytes, want 4`);
  return new DataView(s.data.buffer, s.data.byteOffset, 4).getUint32(0, true);
}

function loadBtf(elf: ElfFile, syms: ElfSymbol[]): Btf | undefined {
  const s = elf.byName.get('.BTF');
  if (!s) return undefined;
  const btf = parseBtf(s.data);
  fixupDatasecs(elf, syms, btf);
  const ext = elf.byName.get('.BTF.ext');
  if (ext) btf.ext = withContext('.BTF.ext', () => parseBtfExt(ext.data, btf));
  return btf;
}

/**
 * clang leaves DATASEC sizes and variable offsets for the linker; like libbpf (btf_fixup_datasec) we
 * fill them in from the ELF section sizes and symbol values so BTF describes the real layout.
 */
function fixupDatasecs(elf: ElfFile, syms: ElfSymbol[], btf: Btf): void {
  for (const t of btf.types) {
    if (t.kind !== 'DATASEC') continue;
    const ds = t as BtfDatasec;
    const sec = elf.byName.get(ds.name);
    if (!sec) continue; // .kconfig, .ksyms: no ELF section
    if (ds.size === 0) ds.size = sec.size;
    for (const v of ds.vars) {
      const vt = btf.types[v.type];
      if (!vt || vt.kind !== 'VAR' || v.offset !== 0) continue;
      const sym = syms.find((x) => x.shndx === sec.index && x.name === vt.name);
      if (sym) v.offset = sym.value;
    }
  }
}

/** libbpf's poisoning of an unresolvable CO-RE site: `call 0xbad2310` (both slots of an lddw). */
function poisonCoreInsn(code: Uint8Array, slot: number): void {
  const n = code[slot * 8] === 0x18 ? 2 : 1;
  for (let i = 0; i < n; i++) {
    const o = (slot + i) * 8;
    if (o + 8 > code.length) return;
    code[o] = 0x85;
    code[o + 1] = 0;
    code[o + 2] = 0;
    code[o + 3] = 0;
    new DataView(code.buffer, code.byteOffset + o, 8).setInt32(4, CORE_POISON_IMM, true);
  }
}
