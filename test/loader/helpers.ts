// Shared helpers for the loader tests: fixture discovery and instruction walking.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const DATA = join(import.meta.dirname, 'data');

/** Every committed fixture object (fixtures/v3, fixtures/v4) plus the loader's own test objects. */
export function fixtureObjects(): { name: string; path: string; bytes: Uint8Array }[] {
  const out: { name: string; path: string; bytes: Uint8Array }[] = [];
  for (const dir of ['fixtures/v3', 'fixtures/v4']) {
    const d = join(ROOT, dir);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d).filter((x) => x.endsWith('.o')).sort()) {
      out.push({ name: `${dir}/${f}`, path: join(d, f), bytes: new Uint8Array(readFileSync(join(d, f))) });
    }
  }
  return out;
}

export function dataObject(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(DATA, name)));
}

export interface RawInsn { pc: number; op: number; dst: number; src: number; off: number; imm: number; hi: number }

/** Walks bytecode slot by slot, treating lddw as one instruction of width 2. */
export function insns(code: Uint8Array): RawInsn[] {
  const dv = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const out: RawInsn[] = [];
  for (let pc = 0; pc < code.length / 8; pc++) {
    const o = pc * 8;
    const op = code[o]!;
    const i = { pc, op, dst: code[o + 1]! & 15, src: code[o + 1]! >> 4, off: dv.getInt16(o + 2, true), imm: dv.getInt32(o + 4, true), hi: 0 };
    if (op === 0x18) {
      i.hi = dv.getInt32(o + 12, true);
      pc++;
    }
    out.push(i);
  }
  return out;
}

/**
 * Whether the kernel needs the object's BTF to load `prog` (special map-value fields such as bpf_spin_lock /
 * bpf_timer, or callbacks: lddw BPF_PSEUDO_FUNC needs func_info): the raw-instruction oracle (bpfrun.c) cannot
 * give it, so raw-load comparisons skip such programs; test/kernel/callbacks-kernel.test.ts loads them whole.
 */
export function needsObjectBtf(spec: { maps: readonly { valueFields?: { fields: readonly unknown[] } }[] }, prog: { insns: Uint8Array }): boolean {
  if (spec.maps.some((m) => (m.valueFields?.fields.length ?? 0) > 0)) return true;
  for (let o = 0; o + 16 <= prog.insns.length; o += 8) if (prog.insns[o] === 0x18 && prog.insns[o + 1]! >> 4 === 4) return true;
  return false;
}
