// Thin, checked view of an ELF relocatable object over elfy. elfy gives us the section list and names;
// we re-read each section header from the raw bytes (elfy takes the 64-bit sh_addralign/sh_entsize from
// the wrong offsets and silently truncates section data that runs past the file) and check that every
// section lies inside the file. Anything elfy throws becomes a BpfLoadError.

import elfy from 'elfy';
import { BpfLoadError } from '../errors.js';
import { Bytes } from '../btf/bytes.js';

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

const EM_BPF = 247;
const ET_REL = 1;
const SHDR_SIZE = 64;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
  /** Section contents (empty for SHT_NOBITS; use `size` for its length). */
  data: Uint8Array;
}

export interface ElfFile {
  bytes: Uint8Array;
  sections: ElfSection[];
  byName: Map<string, ElfSection>;
}

export function readElf(input: Uint8Array): ElfFile {
  // A Node Buffer's slice() is a view, not a copy; work on a plain Uint8Array so that the copies we
  // patch (relocations, CO-RE) never write through to the caller's bytes.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const b = new Bytes(bytes, 'ELF file');
  if (bytes.length < 64) throw new BpfLoadError(`file is ${bytes.length} bytes, too short for an ELF header`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) throw new BpfLoadError('not an ELF file (bad magic)');
  if (bytes[4] !== 2) throw new BpfLoadError('not a 64-bit ELF object (BPF objects are ELFCLASS64)');
  if (bytes[5] !== 1) throw new BpfLoadError('big-endian ELF object: bpfvm loads little-endian (-target bpfel / bpf on x86) objects only');
  const etype = b.u16(16);
  const machine = b.u16(18);
  if (machine !== EM_BPF) throw new BpfLoadError(`ELF machine ${machine} is not BPF (${EM_BPF}); compile with clang -target bpf`);
  if (etype !== ET_REL) throw new BpfLoadError(`ELF type ${etype} is not a relocatable object (ET_REL)`);
  const shoff = b.u64n(40);
  const shentsize = b.u16(58);
  const shnum = b.u16(60);
  const shstrndx = b.u16(62);
  if (shentsize !== SHDR_SIZE) throw new BpfLoadError(`section header size ${shentsize} (want ${SHDR_SIZE})`);
  if (shnum === 0) throw new BpfLoadError('no section headers (extended section numbering is not supported)');
  b.check(shoff, shnum * SHDR_SIZE);
  if (shstrndx >= shnum) throw new BpfLoadError(`section name table index ${shstrndx} is out of range (${shnum} sections)`);
  if (shoff < 64) throw new BpfLoadError(`section header table offset ${shoff} overlaps the ELF header`);
  const shstrType = b.u32(shoff + shstrndx * SHDR_SIZE + 4);
  if (shstrType !== SHT_STRTAB) throw new BpfLoadError(`section name table (section ${shstrndx}) has type ${shstrType}, not SHT_STRTAB`);

  let parsed: ReturnType<typeof elfy.parse>;
  try {
    parsed = elfy.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new BpfLoadError(`malformed ELF: ${e instanceof Error ? e.message : String(e)}`, {}, [], { cause: e });
  }
  const es = parsed.body.sections;
  if (es.length !== shnum) throw new BpfLoadError(`malformed ELF: ${es.length} sections parsed, header says ${shnum}`);

  const sections: ElfSection[] = [];
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * SHDR_SIZE;
    const type = b.u32(h + 4);
    const flags = b.u64n(h + 8);
    const offset = b.u64n(h + 24);
    const size = b.u64n(h + 32);
    const s: ElfSection = {
      index: i,
      name: es[i]!.name,
      type,
      flags,
      offset,
      size,
      link: b.u32(h + 40),
      info: b.u32(h + 44),
      addralign: b.u64n(h + 48),
      entsize: b.u64n(h + 56),
      data: new Uint8Array(0),
    };
    if (type !== SHT_NOBITS && type !== SHT_NULL) {
      if (offset + size > bytes.length) {
        throw new BpfLoadError(`section ${i} "${s.name}" (offset ${offset}, size ${size}) runs past the end of the ${bytes.length}-byte file`, { section: s.name, offset });
      }
      s.data = bytes.subarray(offset, offset + size);
    }
    sections.push(s);
  }
  const byName = new Map<string, ElfSection>();
  for (const s of sections) if (s.name && !byName.has(s.name)) byName.set(s.name, s);
  return { bytes, sections, byName };
}

/** NUL-terminated string from a string table section. */
export function strtabString(sec: ElfSection, off: number): string {
  return new Bytes(sec.data, `string table "${sec.name}"`).cstr(off);
}
