// Map definitions: BTF-defined maps in `.maps`, legacy `struct bpf_map_def` in `maps`, and global data
// sections (.data*, .rodata*, .bss*) plus the `.kconfig` extern area. Order follows libbpf:
// `.maps` (in DATASEC order), legacy `maps` (by symbol offset), data sections (by section index),
// `.kconfig`. Relocations refer to maps by (section, symbol offset) or, for data, by section.

import { BpfLoadError, withContext } from '../errors.js';
import { resolveType, sizeOf, skipModsAndTypedefs, typeById, typeString } from '../btf/resolve.js';
import type { Btf, BtfComposite, BtfDatasec, BtfType } from '../btf/types.js';
import type { MapSpec } from '../spec.js';
import { SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS, type ElfFile, type ElfSection } from './elf.js';
import { STT_FUNC, STT_SECTION, readRels, type ElfSymbol } from './symbols.js';

/** enum bpf_map_type, index = value; kernel names. */
export const MAP_TYPE_NAMES = [
  'unspec', 'hash', 'array', 'prog_array', 'perf_event_array', 'percpu_hash', 'percpu_array', 'stack_trace',
  'cgroup_array', 'lru_hash', 'lru_percpu_hash', 'lpm_trie', 'array_of_maps', 'hash_of_maps', 'devmap', 'sockmap',
  'cpumap', 'xskmap', 'sockhash', 'cgroup_storage', 'reuseport_sockarray', 'percpu_cgroup_storage', 'queue', 'stack',
  'sk_storage', 'devmap_hash', 'struct_ops', 'ringbuf', 'inode_storage', 'task_storage', 'bloom_filter',
  'user_ringbuf', 'cgrp_storage', 'arena',
] as const;

export const BPF_MAP_TYPE_ARRAY = 2;
export const BPF_MAP_TYPE_PROG_ARRAY = 3;
export const BPF_MAP_TYPE_ARRAY_OF_MAPS = 12;
export const BPF_MAP_TYPE_HASH_OF_MAPS = 13;
/** BPF_F_RDONLY_PROG: programs may only read the map (set on .rodata / .kconfig like libbpf). */
export const BPF_F_RDONLY_PROG = 1 << 7;
/** BPF_F_MMAPABLE: libbpf creates global data maps mmap-able. */
export const BPF_F_MMAPABLE = 1 << 10;

export const mapTypeName = (t: number): string => MAP_TYPE_NAMES[t] ?? `unknown(${t})`;

export type DataKind = 'data' | 'rodata' | 'bss';

/** libbpf's classification of global data sections by name. */
export function dataSectionKind(s: ElfSection): DataKind | undefined {
  const is = (base: string) => s.name === base || s.name.startsWith(base + '.');
  if (s.type === SHT_PROGBITS && !(s.flags & SHF_EXECINSTR)) {
    if (is('.data')) return 'data';
    if (is('.rodata')) return 'rodata';
  }
  if (s.type === SHT_NOBITS && is('.bss')) return 'bss';
  return undefined;
}

export interface MapTable {
  maps: MapSpec[];
  /** `${sectionIndex}:${offset}` → map index, for `.maps` and legacy `maps` symbols. */
  byDef: Map<string, number>;
  /** Data section index → map index. */
  bySection: Map<number, number>;
  /** `.kconfig` extern name → byte offset in the `.kconfig` map (when one exists). */
  kconfig?: { mapIndex: number; offsets: Map<string, number> };
  /** Pending `values` references, resolved once programs are known. */
  pendingRefs: { mapIndex: number; slot: number; sym: ElfSymbol }[];
}

export function collectMaps(elf: ElfFile, syms: ElfSymbol[], btf: Btf | undefined): MapTable {
  const t: MapTable = { maps: [], byDef: new Map(), bySection: new Map(), pendingRefs: [] };
  const btfMaps = elf.byName.get('.maps');
  if (btfMaps) withContext('load maps', () => collectBtfMaps(elf, btfMaps, syms, btf, t), { section: '.maps' });
  const legacy = elf.byName.get('maps');
  if (legacy) withContext('load maps', () => collectLegacyMaps(legacy, syms, t), { section: 'maps' });
  withContext('load global data', () => collectDataMaps(elf, btf, t));
  if (btf) withContext('load .kconfig', () => collectKconfig(btf, syms, t));
  return t;
}

// ---- BTF-defined maps --------------------------------------------------------------------------------

/** `__uint(name, val)` is `int (*name)[val]`: the value is the array length behind the pointer. */
function mapInt(btf: Btf, typeId: number, field: string): number {
  const p = resolveType(btf, typeId);
  if (p.kind !== 'PTR') throw new BpfLoadError(`attr '${field}': expected PTR, got ${p.kind}`);
  const a = resolveType(btf, p.type);
  if (a.kind !== 'ARRAY') throw new BpfLoadError(`attr '${field}': type [${p.type}] is not an array`);
  return a.nelems;
}

/**
 * `__ulong(name, val)` (libbpf get_map_field_long): an anonymous enum with one value, ENUM or ENUM64; `__uint`'s
 * PTR form is accepted too. A 32-bit ENUM value is sign-extended, as libbpf reads it into a u64 from an s32.
 */
function mapLong(btf: Btf, typeId: number, field: string): bigint {
  const t = resolveType(btf, typeId);
  if (t.kind === 'PTR') return BigInt(mapInt(btf, typeId, field));
  if (t.kind !== 'ENUM' && t.kind !== 'ENUM64') throw new BpfLoadError(`attr '${field}': expected PTR, ENUM or ENUM64, got ${t.kind}`);
  if (t.values.length !== 1) throw new BpfLoadError(`attr '${field}': invalid __ulong (an enum with ${t.values.length} values, want 1)`);
  const v = t.values[0]!.value;
  return BigInt.asUintN(64, t.kind === 'ENUM' ? BigInt.asIntN(32, v) : v);
}

interface BtfMapDef {
  spec: MapSpec;
  /** For map-in-map / prog array: the `values` member (array of pointers) offset and length. */
  values?: { byteOffset: number; count: number };
}

function parseBtfMapDef(btf: Btf, name: string, def: BtfComposite, section: string, isInner: boolean): BtfMapDef {
  const spec: MapSpec = { name, type: 0, typeName: 'unspec', keySize: 0, valueSize: 0, maxEntries: 0, flags: 0, section };
  let keySize: number | undefined;
  let valueSize: number | undefined;
  let values: BtfMapDef['values'];
  for (const m of def.members) {
    withContext(`field '${m.name || '(anon)'}'`, () => {
      switch (m.name) {
        case 'type': spec.type = mapInt(btf, m.type, m.name); break;
        case 'max_entries': spec.maxEntries = mapInt(btf, m.type, m.name); break;
        case 'map_flags': spec.flags = mapInt(btf, m.type, m.name); break;
        case 'numa_node': spec.numaNode = mapInt(btf, m.type, m.name); break;
        case 'pinning': {
          const v = mapInt(btf, m.type, m.name);
          if (v !== 0 && v !== 1) throw new BpfLoadError(`invalid pinning value ${v}`);
          if (isInner && v !== 0) throw new BpfLoadError('inner map cannot be pinned');
          spec.pinning = v;
          break;
        }
        case 'map_extra': spec.mapExtra = mapLong(btf, m.type, m.name); break;
        case 'key_size': case 'value_size': {
          const v = mapInt(btf, m.type, m.name);
          const prev = m.name === 'key_size' ? keySize : valueSize;
          if (prev !== undefined && prev !== v) throw new BpfLoadError(`conflicting ${m.name} ${prev} != ${v}`);
          if (m.name === 'key_size') keySize = v; else valueSize = v;
          break;
        }
        case 'key': case 'value': {
          const p = resolveType(btf, m.type);
          if (p.kind !== 'PTR') throw new BpfLoadError(`${m.name} spec is not PTR: ${p.kind}`);
          const sz = withContext(`${m.name} type ${p.type}`, () => sizeOf(btf, p.type));
          const prev = m.name === 'key' ? keySize : valueSize;
          if (prev !== undefined && prev !== sz) throw new BpfLoadError(`conflicting ${m.name} size ${prev} != ${sz}`);
          if (m.name === 'key') { keySize = sz; spec.btfKeyTypeId = p.type; } else { valueSize = sz; spec.btfValueTypeId = p.type; }
          break;
        }
        case 'values': {
          if (isInner) throw new BpfLoadError('multi-level inner maps are not supported');
          const a = resolveType(btf, m.type);
          if (a.kind !== 'ARRAY') throw new BpfLoadError(`values spec is not an array: ${a.kind}`);
          const p = resolveType(btf, a.type);
          if (p.kind !== 'PTR') throw new BpfLoadError(`values elements are not pointers: ${p.kind}`);
          const target = resolveType(btf, p.type);
          if (target.kind === 'STRUCT') {
            spec.innerMap = parseBtfMapDef(btf, `${name}.inner`, target, section, true).spec;
          } else if (target.kind !== 'FUNC_PROTO') {
            throw new BpfLoadError(`values must point to a map definition struct or a function, not ${typeString(btf, p.type)}`);
          }
          if (m.bitOffset % 8) throw new BpfLoadError('values member is not byte aligned');
          values = { byteOffset: m.bitOffset / 8, count: a.nelems };
          // `values` of a map-in-map implies 4-byte map ids / prog fds as values.
          valueSize ??= 4;
          break;
        }
        default:
          throw new BpfLoadError(`unknown field '${m.name}' (known: type, key, value, key_size, value_size, max_entries, map_flags, numa_node, pinning, map_extra, values)`);
      }
    });
  }
  if (spec.type === 0 && !isInner) throw new BpfLoadError("map type is missing (__uint(type, ...))");
  spec.typeName = mapTypeName(spec.type);
  spec.keySize = keySize ?? 0;
  spec.valueSize = valueSize ?? 0;
  if (values && spec.type !== BPF_MAP_TYPE_PROG_ARRAY && spec.type !== BPF_MAP_TYPE_ARRAY_OF_MAPS && spec.type !== BPF_MAP_TYPE_HASH_OF_MAPS) {
    throw new BpfLoadError(`'values' is only supported for prog_array and map-in-map types, not ${spec.typeName}`);
  }
  const r: BtfMapDef = { spec };
  if (values) r.values = values;
  return r;
}

function collectBtfMaps(elf: ElfFile, sec: ElfSection, syms: ElfSymbol[], btf: Btf | undefined, t: MapTable): void {
  if (!btf) throw new BpfLoadError('section .maps needs BTF, but the object has no .BTF section (compile with -g)');
  const ds = btf.types.find((x): x is BtfDatasec => x.kind === 'DATASEC' && x.name === '.maps');
  if (!ds) throw new BpfLoadError('no DATASEC .maps in BTF');
  const rels = relSectionFor(elf, sec.index);
  const relocs = rels ? readRels(rels, syms.length) : [];
  for (const vi of ds.vars) {
    const v = typeById(btf, vi.type);
    if (v.kind !== 'VAR') throw new BpfLoadError(`DATASEC .maps entry type ${vi.type} is ${v.kind}, not VAR`);
    withContext(`map "${v.name}"`, () => {
      const sym = syms.find((s) => s.shndx === sec.index && s.name === v.name && s.type !== STT_SECTION);
      if (!sym) throw new BpfLoadError('no ELF symbol for this map in .maps');
      const def = resolveType(btf, v.type);
      if (def.kind !== 'STRUCT') throw new BpfLoadError(`map definition type ${v.type} is ${def.kind}, not a struct`);
      const parsed = parseBtfMapDef(btf, v.name, def, '.maps', false);
      const idx = t.maps.length;
      t.maps.push(parsed.spec);
      t.byDef.set(`${sec.index}:${sym.value}`, idx);
      if (parsed.values) {
        // Initialised slots are the relocations that land inside this map's `values` array.
        // `values` is a flexible array (BTF nelems 0): the initializer's extent is the symbol's size.
        const base = sym.value + parsed.values.byteOffset;
        const end = sym.size > 0 ? sym.value + sym.size : base + parsed.values.count * 8;
        for (const r of relocs) {
          if (r.offset < base || r.offset >= end) continue;
          if ((r.offset - base) % 8) throw new BpfLoadError(`values relocation at offset ${r.offset} is not 8-byte aligned`);
          t.pendingRefs.push({ mapIndex: idx, slot: (r.offset - base) / 8, sym: syms[r.sym]! });
        }
        if (parsed.values.count > 0 && parsed.spec.maxEntries !== 0 && parsed.values.count > parsed.spec.maxEntries) {
          throw new BpfLoadError(`${parsed.values.count} initial values exceed max_entries ${parsed.spec.maxEntries}`);
        }
      }
    });
  }
}

/** Fills `contents`/`contentRefs` from pending `values` relocations, now that program indexes exist. */
export function resolveMapRefs(t: MapTable, programIndex: (sym: ElfSymbol) => { index: number; name: string } | undefined): void {
  for (const p of t.pendingRefs) {
    const m = t.maps[p.mapIndex]!;
    withContext(`load maps: map "${m.name}": values[${p.slot}]`, () => {
      const key = u32le(p.slot);
      let ref: { key: number; program?: string; map?: string };
      let index: number;
      if (m.type === BPF_MAP_TYPE_PROG_ARRAY) {
        if (p.sym.type !== STT_FUNC) throw new BpfLoadError(`refers to symbol "${p.sym.name}", which is not a function`);
        const prog = programIndex(p.sym);
        if (!prog) throw new BpfLoadError(`refers to "${p.sym.name}", which is not a program`);
        index = prog.index;
        ref = { key: p.slot, program: prog.name };
      } else {
        const mi = t.byDef.get(`${p.sym.shndx}:${p.sym.value}`);
        if (mi === undefined) throw new BpfLoadError(`refers to "${p.sym.name}", which is not a map`);
        index = mi;
        ref = { key: p.slot, map: t.maps[mi]!.name };
      }
      (m.contents ??= []).push({ key, value: u32le(index) });
      (m.contentRefs ??= []).push(ref);
    });
  }
}

// ---- legacy `maps` section ---------------------------------------------------------------------------

const LEGACY_DEF_MIN = 20; // struct bpf_map_def: type, key_size, value_size, max_entries, map_flags

function collectLegacyMaps(sec: ElfSection, syms: ElfSymbol[], t: MapTable): void {
  const defs = syms.filter((s) => s.shndx === sec.index && s.type !== STT_SECTION && s.name !== '').sort((a, b) => a.value - b.value);
  if (defs.length === 0) return;
  // Older objects give map symbols no size; libbpf then assumed equal-sized definitions.
  const stride = sec.size / defs.length;
  if (!Number.isInteger(stride) || stride < LEGACY_DEF_MIN) {
    throw new BpfLoadError(`section "maps": ${sec.size} bytes do not divide into ${defs.length} map definitions of at least ${LEGACY_DEF_MIN} bytes`);
  }
  const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  for (const s of defs) {
    withContext(`map "${s.name}"`, () => {
      const size = s.size || stride;
      // sec.data can be shorter than sec.size (a NOBITS "maps" section has no bytes in the file).
      const avail = Math.min(sec.size, sec.data.byteLength);
      if (s.value + LEGACY_DEF_MIN > avail || size < LEGACY_DEF_MIN) {
        throw new BpfLoadError(`definition at offset ${s.value} (size ${size}) does not fit section "maps" (${avail} bytes of data)`);
      }
      const u = (i: number) => dv.getUint32(s.value + i * 4, true);
      const type = u(0);
      t.byDef.set(`${sec.index}:${s.value}`, t.maps.length);
      t.maps.push({
        name: s.name, type, typeName: mapTypeName(type), keySize: u(1), valueSize: u(2), maxEntries: u(3), flags: u(4), section: 'maps',
      });
    });
  }
}

// ---- global data -------------------------------------------------------------------------------------

function collectDataMaps(elf: ElfFile, btf: Btf | undefined, t: MapTable): void {
  for (const s of elf.sections) {
    const kind = dataSectionKind(s);
    if (!kind || s.size === 0 || !(s.flags & SHF_ALLOC)) continue;
    const ds = btf?.types.find((x) => x.kind === 'DATASEC' && x.name === s.name);
    checkValueSize(s.name, s.size);
    const spec: MapSpec = {
      name: s.name,
      type: BPF_MAP_TYPE_ARRAY,
      typeName: 'array',
      keySize: 4,
      valueSize: s.size,
      maxEntries: 1,
      flags: kind === 'rodata' ? BPF_F_RDONLY_PROG | BPF_F_MMAPABLE : BPF_F_MMAPABLE,
      data: kind === 'bss' ? new Uint8Array(s.size) : s.data.slice(),
      section: s.name,
    };
    if (kind === 'rodata') spec.frozen = true;
    if (ds) spec.btfValueTypeId = ds.id;
    t.bySection.set(s.index, t.maps.length);
    t.maps.push(spec);
  }
}

/**
 * `.kconfig` externs (`extern int CONFIG_X __kconfig;`) live in no ELF section; libbpf packs them into a
 * read-only map. We lay them out in DATASEC order, each aligned to its natural size; values stay zero
 * (bpfvm has no kernel config to read).
 */
function collectKconfig(btf: Btf, syms: ElfSymbol[], t: MapTable): void {
  const ds = btf.types.find((x): x is BtfDatasec => x.kind === 'DATASEC' && x.name === '.kconfig');
  if (!ds || ds.vars.length === 0) return;
  const offsets = new Map<string, number>();
  let off = 0;
  for (const vi of ds.vars) {
    const v = typeById(btf, vi.type);
    if (v.kind !== 'VAR') continue;
    const sz = sizeOf(btf, v.type);
    const align = Math.min(8, Math.max(1, alignOf(btf, v.type)));
    off = Math.ceil(off / align) * align;
    offsets.set(v.name, off);
    off += sz;
  }
  void syms;
  if (off === 0) return;
  const size = Math.ceil(off / 8) * 8;
  checkValueSize('.kconfig', size);
  const mapIndex = t.maps.length;
  t.maps.push({
    name: '.kconfig', type: BPF_MAP_TYPE_ARRAY, typeName: 'array', keySize: 4, valueSize: size, maxEntries: 1,
    flags: BPF_F_RDONLY_PROG | BPF_F_MMAPABLE, data: new Uint8Array(size), frozen: true, btfValueTypeId: ds.id, section: '.kconfig',
  });
  t.kconfig = { mapIndex, offsets };
}

function alignOf(btf: Btf, id: number): number {
  const r: BtfType = resolveType(btf, skipModsAndTypedefs(btf, id));
  if (r.kind === 'ARRAY') return alignOf(btf, r.type);
  if (r.kind === 'INT' || r.kind === 'ENUM' || r.kind === 'ENUM64' || r.kind === 'FLOAT') return r.size;
  if (r.kind === 'PTR') return 8;
  return 8;
}

/**
 * The kernel refuses array values larger than KMALLOC_MAX_SIZE (4 MiB with 4 KiB pages); checking here
 * also keeps a corrupted .bss size from making us allocate gigabytes.
 */
const KMALLOC_MAX_SIZE = 1 << 22;
function checkValueSize(name: string, size: number): void {
  if (size > KMALLOC_MAX_SIZE) throw new BpfLoadError(`global data "${name}" is ${size} bytes, more than the kernel's ${KMALLOC_MAX_SIZE}-byte map value limit`);
}

// ---- helpers -----------------------------------------------------------------------------------------

export function relSectionFor(elf: ElfFile, target: number): ElfSection | undefined {
  return elf.sections.find((s) => (s.type === 9) && s.info === target);
}

function u32le(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}
