// Linker corner cases and CO-RE relocations, on the loader's own objects in test/loader/data
// (sources and the rebuild recipe next to them).
import { describe, expect, it } from 'vitest';
import { BpfLoadError } from '../../src/errors.js';
import { loadCollection } from '../../src/elf/index.js';
import { kernelBtf } from '../../src/btf/kernel.js';
import { CORE_POISON_IMM } from '../../src/btf/core.js';
import type { BtfComposite } from '../../src/btf/types.js';
import { sizeOf } from '../../src/btf/resolve.js';
import { dataObject, insns } from './helpers.js';

describe('link_misc.o', () => {
  const s = loadCollection(dataObject('link_misc.o'));
  const loop = s.programs.find((p) => p.name === 'loop_prog')!;
  const other = s.programs.find((p) => p.name === 'other_prog')!;

  it('marks callback addresses BPF_PSEUDO_FUNC and appends callee in libbpf order', () => {
    expect(loop.funcInfo.map((f) => f.name)).toEqual(['loop_prog', 'cb', 'shared']);
    const ld = insns(loop.insns).find((i) => i.op === 0x18 && i.src === 4)!;
    expect(ld.pc + ld.imm + 1).toBe(loop.funcInfo[1]!.insnOff);
  });

  it('relocates each copy of a shared subprogram independently', () => {
    for (const p of [loop, other]) {
      const fmt = insns(p.insns).filter((i) => i.op === 0x18 && i.src === 6 && s.maps[i.imm]!.name === '.rodata');
      expect(fmt).toHaveLength(1);
      expect(fmt[0]!.hi).toBe(0);
    }
  });

  it('records kfunc and .kconfig externs', () => {
    expect(loop.externs?.map((e) => [e.name, e.kind, e.weak])).toEqual([
      ['LINUX_KERNEL_VERSION', 'kconfig', false],
      ['bpf_rcu_read_lock', 'kfunc', true],
    ]);
    const kf = loop.externs!.find((e) => e.kind === 'kfunc')!;
    const call = insns(loop.insns).find((i) => i.pc === kf.insnOff)!;
    expect(call).toMatchObject({ op: 0x85, src: 2, imm: kf.btfId });
    const kc = s.maps.find((m) => m.name === '.kconfig')!;
    expect(kc).toMatchObject({ frozen: true, keySize: 4, maxEntries: 1 });
  });

  it('builds map-in-map with inner definition and symbolic values', () => {
    const outer = s.maps.find((m) => m.name === 'outer')!;
    expect(outer).toMatchObject({ typeName: 'array_of_maps', keySize: 4, valueSize: 4, maxEntries: 4 });
    expect(outer.innerMap).toMatchObject({ name: 'outer.inner', typeName: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
    expect(outer.contentRefs).toEqual([{ key: 1, map: 'inner_b' }, { key: 3, map: 'inner_a' }]);
    const idx = (n: string) => s.maps.findIndex((m) => m.name === n);
    expect(outer.contents!.map((c) => c.value[0])).toEqual([idx('inner_b'), idx('inner_a')]);
    expect(s.maps.find((m) => m.name === '.rodata')).toMatchObject({ frozen: true, valueSize: 10 });
  });
});

describe('CO-RE', () => {
  it('resolves field/type/enum relocations against the built-in kernel BTF', () => {
    const s = loadCollection(dataObject('core_ctx.o'));
    const msg = insns(s.programs.find((p) => p.name === 'core_msg')!.insns);
    // m->size through a local flavour with a different layout: LDX off 0 -> 68.
    expect(msg[0]).toMatchObject({ op: 0x61, off: 68 });
    const movImms = msg.filter((i) => i.op === 0xb7).map((i) => i.imm);
    // exists(no_such_field)=0, exists(local_port)=1, size(remote_ip6[2])=4, offset(remote_ip6[2])=36,
    // type_size(sk_msg_md)=80, type_exists=1, signed(rx_queue_mapping)=1, offset(dst_port)=48
    expect(movImms).toEqual([0, 1, 4, 36, 80, 1, 1, 48]);
    const enumv = msg.find((i) => i.op === 0x18)!;
    expect([enumv.imm, enumv.hi]).toEqual([1, 0]); // SK_PASS
    const skb = insns(s.programs.find((p) => p.name === 'core_skb')!.insns);
    expect(skb[0]!.imm).toBe(168);
  });

  it('a relocation against a type the kernel table does not have poisons its insn and marks only that program (libbpf loads the object)', () => {
    const s = loadCollection(dataObject('core_bad.o'), { file: 'core_bad.o' });
    const p = s.programs.find((x) => x.name === 'core_bad')!;
    expect(p.loadError).toContain('CO-RE relocation at insn 0 (FIELD_BYTE_OFFSET, access "0:0", struct task_struct)');
    expect(p.loadError).toContain('no type named "task_struct"');
    const first = insns(p.insns)[0]!;
    expect([first.op, first.src, first.imm]).toEqual([0x85, 0, CORE_POISON_IMM]);
  });
});

describe('loader_partial.o: what libbpf loads, bpfvm loads, marking only the programs it cannot prepare', () => {
  const s = loadCollection(dataObject('loader_partial.o'), { file: 'loader_partial.o' });
  const prog = (n: string) => s.programs.find((x) => x.name === n)!;

  it('an ARENA map with map_extra as __ulong (an ENUM64 in BTF)', () => {
    const arena = s.maps.find((m) => m.name === 'arena')!;
    expect(arena.type).toBe(33);
    expect(arena.typeName).toBe('arena');
    expect(arena.mapExtra).toBe(1n << 44n);
    expect(arena.maxEntries).toBe(4);
  });

  it('an __arena global (.addr_space.1) is a value of the ARENA map; its program gets a loadError', () => {
    const p = prog('uses_arena');
    expect(p.loadError).toBe('insn 0 uses __arena global "arena_counter" (section ".addr_space.1"): arena maps are not modelled by bpfvm');
    const ld = insns(p.insns)[0]!;
    expect([ld.op, ld.src, s.maps[ld.imm]!.name, ld.hi]).toEqual([0x18, 6, 'arena', 0]);
  });

  it('a CO-RE failure in a .text subprogram marks every program that calls it, naming the subprogram', () => {
    const p = prog('uses_core_subprog');
    expect(p.loadError).toMatch(/^subprogram "task_tgid_off": CO-RE relocation at insn 0 \(FIELD_BYTE_OFFSET, access "0:1", struct task_struct\): no type named "task_struct"/);
    const sub = p.funcInfo.find((f) => f.name === 'task_tgid_off')!;
    const poisoned = insns(p.insns).find((i) => i.pc === sub.insnOff)!;
    expect([poisoned.op, poisoned.imm]).toEqual([0x85, CORE_POISON_IMM]);
  });

  it('existence checks of a missing type resolve to 0 without poisoning (libbpf: no candidates)', () => {
    const p = prog('checks_existence');
    expect(p.loadError).toBeUndefined();
    const movs = insns(p.insns).filter((i) => i.op === 0xb7 && i.dst === 1);
    expect(movs.map((i) => i.imm)).toEqual([0, 0]);
    expect(insns(p.insns).some((i) => i.op === 0x85)).toBe(false);
  });

  it('the other programs are untouched', () => {
    expect(prog('plain').loadError).toBeUndefined();
    expect(s.programs.map((x) => x.name)).toEqual(['uses_arena', 'uses_core_subprog', 'checks_existence', 'plain']);
  });
});

describe('built-in kernel BTF', () => {
  const k = kernelBtf();
  const struct = (n: string) => k.types.find((t) => t.kind === 'STRUCT' && t.name === n) as BtfComposite;
  const offsets = (n: string): Record<string, number> => {
    const out: Record<string, number> = {};
    const walk = (id: number, base: number) => {
      const t = k.types[id] as BtfComposite;
      for (const m of t.members) {
        if (m.name) out[m.name] = base + m.bitOffset / 8;
        else walk(m.type, base + m.bitOffset / 8);
      }
    };
    walk(struct(n).id, 0);
    return out;
  };

  it('matches the uapi sizes (sockmap-datapath.md §7)', () => {
    expect(sizeOf(k, struct('__sk_buff').id)).toBe(192);
    expect(sizeOf(k, struct('sk_msg_md').id)).toBe(80);
    expect(sizeOf(k, struct('bpf_sock_ops').id)).toBe(224);
    expect(sizeOf(k, struct('bpf_sock').id)).toBe(80);
    expect(sizeOf(k, struct('xdp_md').id)).toBe(24);
  });

  it('matches the uapi field offsets (spot checks from §7)', () => {
    expect(offsets('__sk_buff')).toMatchObject({ len: 0, cb: 48, hash: 68, data: 76, data_end: 80, family: 88, remote_ip6: 100, local_port: 136, flow_keys: 144, tstamp: 152, sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184 });
    expect(offsets('sk_msg_md')).toMatchObject({ data: 0, data_end: 8, family: 16, remote_ip6: 28, local_ip6: 44, remote_port: 60, size: 68, sk: 72 });
    expect(offsets('bpf_sock_ops')).toMatchObject({ op: 0, args: 4, reply: 4, family: 20, is_fullsock: 72, snd_cwnd: 76, sk_txhash: 164, bytes_received: 168, sk: 184, skb_data: 192, skb_data_end: 200, skb_len: 208, skb_tcp_flags: 212, skb_hwtstamp: 216 });
    expect(offsets('bpf_sock')).toMatchObject({ src_ip6: 28, src_port: 44, dst_port: 48, dst_ip4: 52, dst_ip6: 56, state: 72, rx_queue_mapping: 76 });
  });
});
