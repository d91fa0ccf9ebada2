// End-to-end benchmarks of the socket model: messages per second and MB/s through an sk_msg program that
// passes (c1 → p1) and one that redirects to another socket's egress (c1 → c2 → p2), for 64-byte and 4 KiB
// messages; each send is drained by recv on the receiving socket so queues stay short. Plus ELF load time and
// the verifier's throughput.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assemble } from '../vm/asm.js';
import { loadCollection } from '../src/elf/index.js';
import { Kernel } from '../src/kernel/model.js';
import type { MapSpec, ProgramSpec } from '../src/spec.js';
import { verify } from '../verifier/index.js';
import { measure, packageRoot, type Timing } from './lib.js';

const SOCKMAP: MapSpec = { name: 'sock_map', type: 15, typeName: 'sockmap', keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, section: '.maps' };

const PASS = assemble('r0 = 1\nexit');
// bpf_msg_redirect_map(msg, &sock_map, 1, 0): egress of the socket in slot 1.
const REDIRECT = assemble('r2 = map[idx:0]\nr3 = 1\nr4 = 0\ncall bpf_msg_redirect_map#60\nexit');

export interface ModelResult {
  name: string;
  messageBytes: number;
  nsPerMessage: number;
  messagesPerSec: number;
  mbPerSec: number;
}

function setup(program: Uint8Array): { k: Kernel; send: (d: Uint8Array) => void } {
  const k = new Kernel();
  const maps = k.createMaps([SOCKMAP]);
  const map = maps.list[0]!;
  const prog = k.loadProgram({ insns: program, type: 16, expectedAttachType: 7, name: 'verdict' });
  if (k.attach(prog, map, 7) !== 0) throw new Error('attach failed');
  const l1 = k.listen(10000);
  const l2 = k.listen(10001);
  const c1 = k.connect(l1);
  const c2 = k.connect(l2);
  if (typeof c1 === 'number' || typeof c2 === 'number') throw new Error('connect failed');
  const p1 = k.accept(l1);
  const p2 = k.accept(l2);
  if (typeof p1 === 'number' || typeof p2 === 'number') throw new Error('accept failed');
  if (k.mapUpdateSocket(map, 0, c1, 0) !== 0 || k.mapUpdateSocket(map, 1, c2, 0) !== 0) throw new Error('sockmap insert failed');
  const target = program === PASS ? p1 : p2;
  return {
    k,
    send: (d) => {
      const n = k.send(c1, d);
      if (n !== d.length) throw new Error(`send returned ${n}`);
      const got = k.recv(target, d.length);
      if (typeof got === 'number' || got.length !== d.length) throw new Error(`recv returned ${typeof got === 'number' ? got : got.length}`);
    },
  };
}

export function runModelBench(opts: { quick?: boolean } = {}): ModelResult[] {
  const m = opts.quick ? { warmupMs: 50, batchMs: 20, batches: 5 } : {};
  const out: ModelResult[] = [];
  for (const [name, prog] of [['sk_msg pass', PASS], ['sk_msg redirect egress', REDIRECT]] as const) {
    for (const size of [64, 4096]) {
      const { send } = setup(prog);
      const data = new Uint8Array(size).map((_, i) => i & 0xff);
      const t = measure(() => send(data), m);
      out.push({ name, messageBytes: size, nsPerMessage: t.medianNs, messagesPerSec: 1e9 / t.medianNs, mbPerSec: (size * 1e9) / t.medianNs / 1e6 });
    }
  }
  return out;
}

export interface LoadResult {
  file: string;
  bytes: number;
  msPerLoad: number;
}

export function runLoadBench(opts: { quick?: boolean } = {}): LoadResult[] {
  const m = opts.quick ? { warmupMs: 50, batchMs: 20, batches: 5 } : {};
  const root = packageRoot();
  return ['sockmap_layout.o', 'pkt_parse.o', 'sk_msg_helpers.o'].map((f) => {
    const bytes = new Uint8Array(readFileSync(join(root, 'fixtures', 'v3', f)));
    const t = measure(() => void loadCollection(bytes, { file: f }), m);
    return { file: `fixtures/v3/${f}`, bytes: bytes.length, msPerLoad: t.medianNs / 1e6 };
  });
}

export interface VerifierResult {
  name: string;
  /** Instructions the verifier processed (its `processed N insns`) per verification. */
  processed: number;
  /** Processed instructions per second (wall clock, or CPU time with `cpu`). */
  insnsPerSec: number;
  /** Processed instructions per second of wall-clock time. */
  wallInsnsPerSec: number;
  /** Processed instructions per CPU second of this process (user + system; steadier on a loaded machine). */
  cpuInsnsPerSec: number;
}

/** The `npm run bench` line of one verifier figure. */
export function formatVerifierResult(r: VerifierResult): string {
  return `verify ${r.name.padEnd(40)} ${String(r.processed).padStart(7)} processed insns  ${(r.insnsPerSec / 1e3).toFixed(0)} k insns/s` +
    `  (wall ${(r.wallInsnsPerSec / 1e3).toFixed(0)} k, CPU ${(r.cpuInsnsPerSec / 1e3).toFixed(0)} k)`;
}

/**
 * Verifier throughput in processed instructions per second, on fixture programs and a large generated one. The
 * verifier is a lot of code that V8 needs a few seconds to optimise, so each figure follows a 3-second warm-up
 * (a 0.5-second one measured JIT tiering rather than the steady state).
 */
export function runVerifierBench(opts: { quick?: boolean; cpu?: boolean } = {}): VerifierResult[] {
  const m = opts.quick ? { warmupMs: 50, batchMs: 20, batches: 5, cpu: opts.cpu } : { warmupMs: 3000, batchMs: 300, batches: 9, cpu: opts.cpu };
  const root = packageRoot();
  const fixtures: { spec: ProgramSpec; maps: MapSpec[]; license: string }[] = [];
  for (const f of ['sockmap_layout.o', 'sk_msg_helpers.o', 'pkt_parse.o', 'bounded_loops.o']) {
    const c = loadCollection(new Uint8Array(readFileSync(join(root, 'fixtures', 'v3', f))));
    for (const p of c.programs) fixtures.push({ spec: p, maps: c.maps, license: c.license });
  }
  let processed = 0;
  for (const f of fixtures) processed += verify({ ...f.spec, license: f.license }, { logLevel: 0, maps: f.maps }).stats.processed;
  const tf = measure(() => {
    for (const f of fixtures) verify({ ...f.spec, license: f.license }, { logLevel: 0, maps: f.maps });
  }, m);
  // A large generated tc program: 20,000 straight-line ALU instructions with forward branches on packet length.
  const lines: string[] = ['r6 = *(u32 *)(r1 +0)', 'r0 = 0', 'r1 = 1'];
  for (let k = 0; k < 5_000; k++) lines.push('r0 += r1', 'if r6 > 0x7ff goto pc+1', 'r1 ^= 3', 'r0 &= 0xffff');
  lines.push('exit');
  const big = { insns: assemble(lines.join('\n')), type: 3, name: 'generated' };
  const bigProcessed = verify(big, { logLevel: 0 }).stats.processed;
  const tb = measure(() => void verify(big, { logLevel: 0 }), m);
  const result = (name: string, n: number, t: Timing): VerifierResult =>
    ({ name, processed: n, insnsPerSec: (n * 1e9) / t.medianNs, wallInsnsPerSec: (n * 1e9) / t.wallMedianNs, cpuInsnsPerSec: (n * 1e9) / t.cpuMedianNs });
  return [result(`${fixtures.length} fixture programs`, processed, tf), result('generated 20k-instruction tc program', bigProcessed, tb)];
}
