// Measurement helpers shared by the benchmarks: repeated batches, median of batch means, no timing in tests.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the package (works from bench/ under tsx and from dist/bench/ after tsc). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 5; k++) {
    const p = join(dir, 'package.json');
    if (existsSync(p) && (JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'bpfvm') return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the bpfvm package root');
}

export interface Timing {
  /** Median over batches of the mean time per call, in nanoseconds. */
  medianNs: number;
  minNs: number;
  maxNs: number;
  batches: number;
  callsPerBatch: number;
  /** Median over batches of the mean CPU time (user + system of this process) per call, in nanoseconds. */
  cpuMedianNs: number;
  /** Median over batches of the mean wall-clock time per call, in nanoseconds. */
  wallMedianNs: number;
}

/**
 * Times `fn`: warms up for `warmupMs`, sizes a batch to take about `batchMs`, then runs `batches` batches
 * and reports the median of the per-call means.
 * `cpu`: time batches by this process's CPU time (process.cpuUsage: user + system) instead of wall-clock time,
 * for comparing builds on a loaded machine where other processes take the CPU away.
 */
export function measure(fn: () => void, opts: { warmupMs?: number; batchMs?: number; batches?: number; cpu?: boolean } = {}): Timing {
  const warmupMs = opts.warmupMs ?? 200;
  const batchMs = opts.batchMs ?? 50;
  const batches = opts.batches ?? 15;
  let calls = 0;
  // with `cpu`, the warm-up (JIT tiering) is also counted in CPU time
  const now = (): number => {
    if (!opts.cpu) return performance.now();
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000;
  };
  const w0 = now();
  while (now() - w0 < warmupMs) {
    fn();
    calls++;
  }
  const perCallMs = (now() - w0) / Math.max(calls, 1);
  const callsPerBatch = Math.max(1, Math.round(batchMs / Math.max(perCallMs, 1e-6)));
  // every batch is timed both ways; `medianNs`, `minNs`, `maxNs` use the clock chosen by `cpu`
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let b = 0; b < batches; b++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < callsPerBatch; k++) fn();
    const t = process.hrtime.bigint();
    const c = process.cpuUsage(c0);
    wall.push(Number(t - t0) / callsPerBatch);
    cpu.push(((c.user + c.system) * 1000) / callsPerBatch);
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const median = (xs: number[]): number => xs[Math.floor(xs.length / 2)]!;
  const means = opts.cpu ? cpu : wall;
  return { medianNs: median(means), minNs: means[0]!, maxNs: means[means.length - 1]!, batches, callsPerBatch, cpuMedianNs: median(cpu), wallMedianNs: median(wall) };
}

/** Deterministic pseudo-random bytes (xorshift32), so every run hashes the same buffer. */
export function testBytes(n: number, seed = 0x12345678): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Printable text-like bytes for the parser benchmark (digits, letters, spaces, punctuation). */
export function testText(n: number): Uint8Array {
  const alphabet = 'The quick brown fox 0123456789 jumps over THE LAZY DOG, 42 times!\n\t';
  const rnd = testBytes(n, 0x9e3779b9);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = alphabet.charCodeAt(rnd[i]! % alphabet.length);
  return out;
}
