/**
 * `bpfvm run` for sk_msg programs against the host kernel: the same object program, map contents, topology
 * (c1→p1, c2→p2, the sock map slots, the program attached to the same map) and message are run by
 * src/kernel/prog-run.ts (runSkMsg) and by the kernel harness test/kernel/sockrun.c on real loopback
 * sockets. The send() result and the bytes every socket receives must agree (they show the verdict, the
 * redirect target and direction, and the bytes after pull/push/pop). Skipped with the reason when bpf() or
 * the harness is unavailable.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import { defaultMsgTopology, runMaps, runSkMsg, type MapEntryInput } from '../../src/kernel/prog-run.js';
import { AttachType, ProgType, runScenario, sockAvailability, tcpPair, type Scenario, type ScenarioStep } from './sockrun.js';
import { hexOf } from './sockrun-scenarios.js';

const avail = sockAvailability();
const suite = avail.ok ? describe : describe.skip;
if (!avail.ok) console.warn(`bpfvm run (sk_msg) kernel differential skipped: ${avail.reason}`);

const root = join(import.meta.dirname, '..', '..');
const obj = (f: string) => loadCollectionFile(join(root, 'fixtures', 'v3', f));
const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

interface Case {
  file: string;
  prog: string;
  entries: MapEntryInput[];
  data: Uint8Array;
}

const CASES: Case[] = [
  { file: 'msg_kit.o', prog: 'kit_pass', entries: [], data: pattern(100) },
  { file: 'msg_kit.o', prog: 'kit_drop', entries: [], data: pattern(10) },
  { file: 'msg_kit.o', prog: 'kit_corrupt', entries: [], data: pattern(10) },
  { file: 'msg_kit.o', prog: 'kit_redirect', entries: [{ map: 'kit_cfg', key: 0, value: 2 }], data: pattern(64) },
  { file: 'msg_kit.o', prog: 'kit_redirect', entries: [{ map: 'kit_cfg', key: 0, value: 3 }, { map: 'kit_cfg', key: 1, value: 1 }], data: pattern(64) },
  { file: 'msg_kit.o', prog: 'kit_redirect', entries: [{ map: 'kit_cfg', key: 0, value: 1 }, { map: 'kit_cfg', key: 1, value: 1 }], data: pattern(20) },
  { file: 'msg_kit.o', prog: 'kit_redirect', entries: [{ map: 'kit_cfg', key: 0, value: 9 }], data: pattern(20) },
  { file: 'msg_kit.o', prog: 'kit_push_pop', entries: [{ map: 'kit_cfg', key: 2, value: 5 }, { map: 'kit_cfg', key: 3, value: 8 }], data: pattern(40) },
  { file: 'sk_msg_helpers.o', prog: 'msg_pop', entries: [{ map: 'msg_cfg', key: 6, value: 2 }, { map: 'msg_cfg', key: 7, value: 3 }], data: pattern(10) },
  { file: 'sk_msg_helpers.o', prog: 'msg_push', entries: [{ map: 'msg_cfg', key: 4, value: 3 }], data: pattern(30) },
  { file: 'sk_msg_helpers.o', prog: 'msg_apply', entries: [{ map: 'msg_cfg', key: 0, value: 10 }], data: pattern(64) },
  { file: 'sk_msg_redirect.o', prog: 'msg_redir_hash_ingress', entries: [{ map: 'redir_key', key: 0, value: 3 }], data: pattern(50) },
];

const le = (v: MapEntryInput['key'], size: number): Uint8Array => {
  if (v instanceof Uint8Array) return v;
  const out = new Uint8Array(size);
  let x = BigInt(v);
  for (let i = 0; i < size; i++, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
};

/** The kernel scenario for what runSkMsg sets up by default (ephemeral ports: these programs do not read them). */
function scenarioFor(c: Case): Scenario {
  const spec = obj(c.file);
  const prog = spec.programs.find((p) => p.name === c.prog)!;
  const maps = runMaps(spec);
  const idx = (name: string) => maps.findIndex((m) => m.name === name);
  const topo = defaultMsgTopology(spec, prog);
  const steps: ScenarioStep[] = [
    ...topo.attach.map((m) => ({ op: 'attach' as const, prog: 0, map: idx(m), attachType: AttachType.SK_MSG_VERDICT })),
    ...tcpPair('l1', 'c1', 'p1'),
    ...tcpPair('l2', 'c2', 'p2'),
    ...topo.slots.map((s) => ({ op: 'sockUpdate' as const, map: idx(s.map), key: Number(s.key), sock: s.socket })),
    { op: 'send', sock: 'c1', data: c.data, label: 'send' },
  ];
  return {
    maps: maps.map((m) => ({
      type: m.type,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      name: m.name.slice(0, 15),
      entries: c.entries.filter((e) => e.map === m.name).map((e) => ({ key: le(e.key, m.keySize), value: le(e.value, m.valueSize) })),
    })),
    progs: [{ progType: ProgType.SK_MSG, expectedAttachType: AttachType.SK_MSG_VERDICT, insns: prog.insns }],
    steps,
  };
}

suite('bpfvm run (sk_msg) = the kernel on real sockets', () => {
  for (const c of CASES) {
    it(`${c.file} ${c.prog} ${c.entries.map((e) => `${e.map}[${String(e.key)}]=${String(e.value)}`).join(' ')} (${c.data.length} bytes)`, () => {
      const spec = obj(c.file);
      const model = runSkMsg(spec, spec.programs.find((p) => p.name === c.prog)!, { data: c.data, mapEntries: c.entries });
      const k = runScenario(scenarioFor(c));
      expect(k.ok, JSON.stringify(k.setupError)).toBe(true);
      expect(model.sends[0]!.ret).toBe(k.byLabel['send']!.ret);
      for (const s of ['c1', 'p1', 'c2', 'p2']) expect(hexOf(model.delivered[s]), s).toBe(hexOf(k.sockets[s]!.data));
    });
  }
});
