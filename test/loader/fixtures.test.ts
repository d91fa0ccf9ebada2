// Loads every committed fixture object and checks the CollectionSpec against the ELF facts and against
// fixtures/expectations.json (which the fixtures helper filled in from the real kernel).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollection, loadCollectionFile } from '../../src/elf/index.js';
import type { CollectionSpec } from '../../src/spec.js';
import { ROOT, fixtureObjects, insns } from './helpers.js';

const objects = fixtureObjects();
const expectationsPath = join(ROOT, 'fixtures', 'expectations.json');
const expectations: Record<string, Record<string, unknown>> = existsSync(expectationsPath)
  ? JSON.parse(readFileSync(expectationsPath, 'utf8'))
  : {};

const load = (name: string): CollectionSpec => loadCollectionFile(join(ROOT, name));

describe('every fixture object', () => {
  it('exists', () => expect(objects.length).toBeGreaterThan(0));

  for (const obj of objects) {
    describe(obj.name, () => {
      const spec = loadCollection(obj.bytes, { file: obj.name });
      const base = obj.name.split('/').pop()!;

      it('has the programs listed in expectations.json', () => {
        const exp = expectations[base];
        if (!exp) return;
        expect(spec.programs.map((p) => p.name).sort()).toEqual(Object.keys(exp).sort());
      });

      it('has a license and typed programs', () => {
        expect(spec.license).not.toBe('');
        for (const p of spec.programs) {
          expect(p.typeName).toBeTruthy();
          expect(p.insns.length % 8).toBe(0);
          expect(p.insns.length).toBeGreaterThan(0);
          expect(p.license).toBe(spec.license);
        }
      });

      it('relocates map references to BPF_PSEUDO_MAP_IDX / _IDX_VALUE', () => {
        for (const p of spec.programs) {
          for (const i of insns(p.insns)) {
            if (i.op !== 0x18) continue;
            expect([0, 2, 4, 5, 6]).toContain(i.src);
            if (i.src === 5) {
              expect(i.imm).toBeGreaterThanOrEqual(0);
              expect(i.imm).toBeLessThan(spec.maps.length);
              expect(spec.maps[i.imm]!.data).toBeUndefined();
            }
            if (i.src === 6) {
              const m = spec.maps[i.imm]!;
              expect(m).toBeDefined();
              expect(i.hi).toBeGreaterThanOrEqual(0);
              expect(i.hi).toBeLessThanOrEqual(m.valueSize);
            }
          }
        }
      });

      it('links bpf-to-bpf calls to function starts', () => {
        for (const p of spec.programs) {
          const starts = new Set(p.funcInfo.map((f) => f.insnOff));
          for (const i of insns(p.insns)) {
            const isCall = i.op === 0x85 && i.src === 1;
            const isFunc = i.op === 0x18 && i.src === 4;
            if (!isCall && !isFunc) continue;
            const target = i.pc + i.imm + 1;
            expect(target).toBeGreaterThan(0);
            expect(target).toBeLessThan(p.insns.length / 8);
            if (starts.size) expect(starts.has(target)).toBe(true);
          }
        }
      });

      it('carries func_info and line_info in program slots', () => {
        for (const p of spec.programs) {
          if (!spec.btf?.ext) continue;
          expect(p.funcInfo[0]).toMatchObject({ insnOff: 0, name: p.name });
          let last = -1;
          for (const l of p.lineInfo) {
            expect(l.insnOff).toBeGreaterThanOrEqual(last);
            expect(l.insnOff).toBeLessThan(p.insns.length / 8);
            expect(l.line).toBeGreaterThanOrEqual(0);
            last = l.insnOff;
          }
        }
      });
    });
  }
});

const both = (f: string) => ['v3', 'v4'].map((v) => `fixtures/${v}/${f}`).filter((p) => existsSync(join(ROOT, p)));

describe('specific fixtures', () => {
  it.each(both('sockmap_layout.o'))('%s: sockmap program types, attach types and maps', (f) => {
    const s = load(f);
    const byName = Object.fromEntries(s.programs.map((p) => [p.name, p]));
    expect(byName.bpf_prog1).toMatchObject({ type: 14, typeName: 'sk_skb', attachType: 4, attachTypeName: 'sk_skb_stream_parser', section: 'sk_skb/stream_parser' });
    expect(byName.bpf_prog2).toMatchObject({ type: 14, attachType: 5, attachTypeName: 'sk_skb_stream_verdict' });
    expect(byName.bpf_sockmap).toMatchObject({ type: 13, typeName: 'sock_ops', attachType: 3 });
    expect(byName.bpf_prog4).toMatchObject({ type: 16, typeName: 'sk_msg', attachType: 7 });
    const sockMap = s.maps.find((m) => m.name === 'sock_map')!;
    expect(sockMap).toMatchObject({ type: 15, typeName: 'sockmap', keySize: 4, valueSize: 4, maxEntries: 20, section: '.maps' });
  });

  it.each(both('sockhash_layout.o'))('%s: sockhash maps', (f) => {
    expect(load(f).maps.find((m) => m.name === 'sock_map')).toMatchObject({ type: 18, typeName: 'sockhash' });
  });

  it.each(both('legacy_sections.o'))('%s: pre-1.0 section names (sk_skb1, sk_msg1)', (f) => {
    const byName = Object.fromEntries(load(f).programs.map((p) => [p.name, p]));
    expect(byName.legacy_parser).toMatchObject({ section: 'sk_skb1', type: 14, typeName: 'sk_skb' });
    expect(byName.legacy_parser!.attachType).toBeUndefined();
    expect(byName.legacy_verdict).toMatchObject({ section: 'sk_skb2', type: 14 });
    expect(byName.legacy_msg).toMatchObject({ section: 'sk_msg1', type: 16, attachType: 7 });
  });

  it.each(both('legacy_maps.o'))('%s: legacy `maps` section definitions', (f) => {
    const s = load(f);
    expect(s.maps.map((m) => [m.name, m.typeName, m.keySize, m.valueSize, m.maxEntries, m.section])).toEqual([
      ['legacy_hash', 'hash', 4, 8, 16, 'maps'],
      ['legacy_array', 'array', 4, 4, 2, 'maps'],
    ]);
    const p = s.programs.find((x) => x.name === 'legacy_count')!;
    const refs = insns(p.insns).filter((i) => i.op === 0x18 && i.src === 5).map((i) => i.imm);
    expect(refs).toContain(0);
  });

  it.each(both('global_data.o'))('%s: global data maps and value offsets', (f) => {
    const s = load(f);
    const names = s.maps.map((m) => m.name);
    expect(names).toEqual(['.rodata', '.data', '.bss']);
    const ro = s.maps[0]!;
    expect(ro).toMatchObject({ type: 2, keySize: 4, maxEntries: 1, frozen: true, valueSize: 12 });
    expect(new DataView(ro.data!.buffer).getUint32(0, true)).toBe(3); // ro_scale = 3
    expect(s.maps[1]!.frozen).toBeUndefined();
    expect(new DataView(s.maps[1]!.data!.buffer).getUint32(0, true)).toBe(40); // data_counter = 40
    expect(s.maps[2]!.data).toEqual(new Uint8Array(16));
    const p = s.programs.find((x) => x.name === 'gd_socket')!;
    const refs = insns(p.insns).filter((i) => i.op === 0x18 && i.src === 6).map((i) => [s.maps[i.imm]!.name, i.hi]);
    // data_counter (.data+0), bss_counter (.bss+0), bss_last_len (.bss+8), ro_scale (.rodata+0)
    expect(refs).toEqual([['.data', 0], ['.bss', 0], ['.bss', 8], ['.rodata', 0]]);
  });

  it.each(both('tail_calls.o'))('%s: prog array initialised from `values`', (f) => {
    const s = load(f);
    const jt = s.maps.find((m) => m.name === 'jmp_table')!;
    expect(jt).toMatchObject({ type: 3, typeName: 'prog_array' });
    expect(jt.contentRefs).toEqual([{ key: 0, program: 'tc_tail_a' }, { key: 1, program: 'tc_tail_b' }]);
    const idx = (n: string) => s.programs.findIndex((p) => p.name === n);
    expect(jt.contents!.map((c) => [new DataView(c.key.buffer).getUint32(0, true), new DataView(c.value.buffer).getUint32(0, true)]))
      .toEqual([[0, idx('tc_tail_a')], [1, idx('tc_tail_b')]]);
  });

  it.each(both('bpf2bpf_calls.o'))('%s: .text subprograms are appended after the entry function', (f) => {
    const p = load(f).programs.find((x) => x.name === 'call_from_tc')!;
    expect(p.funcInfo.map((x) => x.name)).toEqual(['call_from_tc', 'csum_bytes', 'add_fold']);
    const calls = insns(p.insns).filter((i) => i.op === 0x85 && i.src === 1);
    expect(calls.map((c) => c.pc + c.imm + 1)).toEqual([p.funcInfo[1]!.insnOff, p.funcInfo[2]!.insnOff]);
    expect(p.lineInfo.some((l) => l.source.includes('csum_bytes'))).toBe(true);
    expect(p.sourceFile).toMatch(/bpf2bpf_calls\.bpf\.c$/);
  });

  it.each(both('verifier_reject.o'))('%s: decl_tag annotations in BTF order', (f) => {
    const p = load(f).programs.find((x) => x.name === 'msg_ctx_write')!;
    expect(p.annotations).toEqual([
      'comment:test_description=sk_msg: write to read-only context field',
      'comment:test_expect_failure',
      'comment:test_expect_msg=6=invalid bpf_context access off=68 size=4',
    ]);
  });

  it.each(both('pkt_parse.o'))('%s: socket / tc / classifier / xdp / cgroup/skb sections', (f) => {
    const t = Object.fromEntries(load(f).programs.map((p) => [p.name, [p.type, p.typeName, p.attachTypeName]]));
    expect(t.sock_filter_len).toEqual([1, 'socket_filter', undefined]);
    expect(t.tc_parse).toEqual([3, 'sched_cls', undefined]);
    expect(t.tc_len).toEqual([3, 'sched_cls', undefined]);
    expect(t.xdp_parse).toEqual([6, 'xdp', 'xdp']);
    expect(t.cgskb_parse).toEqual([8, 'cgroup_skb', undefined]);
  });

  it('does not modify the input bytes', () => {
    for (const o of objects) {
      const copy = o.bytes.slice();
      loadCollection(o.bytes);
      expect(Buffer.compare(copy, o.bytes)).toBe(0);
    }
  });
});
