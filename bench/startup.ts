// `bpfvm --version` start-up time: the CLI must answer in well under 150 ms. Median of 15 spawns of the
// compiled entry point (needs `npm run build` first, which `npm run bench` does).

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './lib.js';

export function runStartupBench(runs = 15): { medianMs: number; minMs: number; maxMs: number } | null {
  const main = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(main)) return null;
  const times: number[] = [];
  for (let k = 0; k < runs; k++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [main, '--version'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bpfvm --version failed: ${r.stderr}`);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)]!, minMs: times[0]!, maxMs: times[times.length - 1]! };
}
