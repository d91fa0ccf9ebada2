// `bpfvm inspect FILE [--json]`: what an object holds — programs (name, section, type, attach type,
// instruction count, annotations), maps (name, type, key/value size, max entries, flags), license, BTF summary.

import type { CollectionSpec } from '../spec.js';
import { UsageError, parse, readBytes } from './common.js';

const USAGE = `usage: bpfvm inspect FILE [--json]

Lists the programs, maps, license, BTF and annotations of a BPF ELF object (clang -target bpf).`;

export interface InspectReport {
  file: string;
  license: string;
  kernelVersion: number | null;
  programs: {
    name: string;
    section: string;
    type: string;
    typeId: number;
    attachType: string | null;
    attachTypeId: number | null;
    insns: number;
    annotations: string[];
    lineInfo: number;
    funcInfo: number;
    externs: string[];
    supported: boolean;
    loadError: string | null;
  }[];
  maps: { name: string; type: string; typeId: number; keySize: number; valueSize: number; maxEntries: number; flags: number; section: string; innerMap: string | null }[];
  btf: { types: number; kinds: Record<string, number>; funcInfo: number; lineInfo: number; coreRelos: number } | null;
}

export function inspectReport(file: string, spec: CollectionSpec): InspectReport {
  const kinds: Record<string, number> = {};
  for (const t of spec.btf?.types.slice(1) ?? []) kinds[t.kind] = (kinds[t.kind] ?? 0) + 1;
  const ext = spec.btf?.ext;
  const count = <T>(xs: { records: T[] }[] | undefined): number => (xs ?? []).reduce((n, s) => n + s.records.length, 0);
  return {
    file,
    license: spec.license,
    kernelVersion: spec.kernelVersion ?? null,
    programs: spec.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: p.typeName,
      typeId: p.type,
      attachType: p.attachTypeName ?? null,
      attachTypeId: p.attachType ?? null,
      insns: p.insns.length / 8,
      annotations: p.annotations,
      lineInfo: p.lineInfo.length,
      funcInfo: p.funcInfo.length,
      externs: (p.externs ?? []).map((e) => `${e.kind}:${e.name}`),
      supported: !p.unsupported,
      loadError: p.loadError ?? null,
    })),
    maps: spec.maps.map((m) => ({
      name: m.name,
      type: m.typeName,
      typeId: m.type,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      flags: m.flags,
      section: m.section,
      innerMap: m.innerMap?.name ?? null,
    })),
    btf: spec.btf ? { types: spec.btf.types.length - 1, kinds, funcInfo: count(ext?.funcInfo), lineInfo: count(ext?.lineInfo), coreRelos: count(ext?.coreRelos) } : null,
  };
}

export async function main(argv: string[]): Promise<number> {
  const r = parse(argv, { json: { type: 'boolean' } }, USAGE);
  if (!r) return 0;
  const [file] = r.positionals;
  if (!file || r.positionals.length > 1) throw new UsageError(USAGE);
  const { loadCollection } = await import('../elf/index.js');
  const spec = loadCollection(readBytes(file), { file });
  const rep = inspectReport(file, spec);
  if (r.bool('json')) {
    process.stdout.write(JSON.stringify(rep, null, 2) + '\n');
    return 0;
  }
  const out = (s = ''): void => void process.stdout.write(s + '\n');
  out(`${file}: license "${rep.license}"${rep.kernelVersion !== null ? `, kernel version ${rep.kernelVersion}` : ''}`);
  out();
  out(`programs (${rep.programs.length}):`);
  const w = Math.max(4, ...rep.programs.map((p) => p.name.length));
  const ws = Math.max(7, ...rep.programs.map((p) => p.section.length));
  out(`  ${'name'.padEnd(w)}  ${'section'.padEnd(ws)}  ${'type'.padEnd(14)}  ${'attach type'.padEnd(24)}  insns`);
  for (const p of rep.programs) {
    out(`  ${p.name.padEnd(w)}  ${p.section.padEnd(ws)}  ${p.type.padEnd(14)}  ${(p.attachType ?? '-').padEnd(24)}  ${p.insns}${p.supported ? '' : '  (program type not modelled by bpfvm)'}`);
    if (p.loadError) out(`      load error: ${p.loadError}`);
    for (const a of p.annotations) out(`      ${a}`);
    if (p.externs.length) out(`      externs: ${p.externs.join(', ')}`);
  }
  out();
  out(`maps (${rep.maps.length}):`);
  const wm = Math.max(4, ...rep.maps.map((m) => m.name.length));
  out(`  ${'name'.padEnd(wm)}  ${'type'.padEnd(14)}  key  value  max_entries  flags`);
  for (const m of rep.maps) {
    out(`  ${m.name.padEnd(wm)}  ${m.type.padEnd(14)}  ${String(m.keySize).padStart(3)}  ${String(m.valueSize).padStart(5)}  ${String(m.maxEntries).padStart(11)}  0x${m.flags.toString(16)}${m.innerMap ? `  inner ${m.innerMap}` : ''}`);
  }
  out();
  if (rep.btf) {
    const kinds = Object.entries(rep.btf.kinds).map(([k, n]) => `${k} ${n}`).join(', ');
    out(`BTF: ${rep.btf.types} types (${kinds}); func info ${rep.btf.funcInfo}, line info ${rep.btf.lineInfo}, CO-RE relocations ${rep.btf.coreRelos}`);
  } else out('BTF: none');
  return 0;
}
