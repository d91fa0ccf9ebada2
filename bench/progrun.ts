// sk_msg and sk_skb verdict programs run the way `bpfvm run` / `bpfvm bench` set them up (src/kernel/prog-run.ts):
// one message sent by c1 (sk_msg) or one skb received by p1 (sk_skb), the program run on fresh copies of it.
// Reports ns per program run (message or skb build, context, program, helpers) and the instructions per run.

import { join } from 'node:path';
import { loadCollectionFile } from '../src/elf/index.js';
import { prepareMsgRun, prepareSkbRun, setupMsgRun, type MapEntryInput } from '../src/kernel/prog-run.js';
import { measure, packageRoot } from './lib.js';

export interface ProgRunResult {
  name: string;
  messageBytes: number;
  insnsPerRun: number;
  nsPerRun: number;
}

const CASES: { name: string; file: string; prog: string; entries: MapEntryInput[]; bytes: number }[] = [
  { name: 'sk_msg redirect (map)', file: 'sk_msg_redirect.o', prog: 'msg_redir_map_egress', entries: [{ map: 'redir_key', key: 0, value: 2 }], bytes: 64 },
  { name: 'sk_msg push+pop', file: 'msg_kit.o', prog: 'kit_push_pop', entries: [{ map: 'kit_cfg', key: 2, value: 10 }, { map: 'kit_cfg', key: 3, value: 8 }], bytes: 4096 },
  { name: 'sk_skb verdict redirect', file: 'sk_skb_redirect.o', prog: 'skb_verdict_map', entries: [{ map: 'skb_cfg', key: 1, value: 2 }], bytes: 64 },
];

export function runProgRunBench(opts: { quick?: boolean } = {}): ProgRunResult[] {
  const m = opts.quick ? { warmupMs: 50, batchMs: 20, batches: 5 } : { warmupMs: 1000 };
  return CASES.map((c) => {
    const spec = loadCollectionFile(join(packageRoot(), 'fixtures', 'v3', c.file));
    const prog = spec.programs.find((p) => p.name === c.prog)!;
    const setup = setupMsgRun(spec, prog, { mapEntries: c.entries });
    const data = Uint8Array.from({ length: c.bytes }, (_, i) => i);
    const runner = prog.type === 16 ? prepareMsgRun(setup, data) : prepareSkbRun(setup, data);
    let insns = 0;
    const t = measure(() => void (insns = runner.runOnce().insns), m);
    return { name: c.name, messageBytes: c.bytes, insnsPerRun: insns, nsPerRun: t.medianNs };
  });
}
