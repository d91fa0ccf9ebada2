// `bpfvm bench`: the instruction count it reports is exact, and --baseline judges counts exactly and time only
// as a ratio to the calibration loop. No assertion here depends on how fast the machine is.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const main = join(root, 'dist', 'src', 'cli', 'main.js');
const obj = join(root, 'fixtures', 'v3', 'pkt_parse.o');
const bpfvm = (args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

interface BenchJson {
  program: string;
  insnsPerRun: number;
  medianNs: number;
  nsPerInsn: number;
  calibrationNs: number;
  ratio: number;
  retval: number;
  regressions?: string[];
}

describe('bpfvm bench', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfvm-bench-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const basePath = join(dir, 'base.json');
  let base: BenchJson;

  it('--json reports the exact instructions per run (the same count `bpfvm run` gives) and the timing fields', () => {
    const r = bpfvm(['bench', obj, '--program', 'xdp_sum_header', '--batches', '3', '--json', '--out', basePath]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    base = JSON.parse(r.stdout) as BenchJson;
    const run = JSON.parse(bpfvm(['run', obj, '--program', 'xdp_sum_header', '--json']).stdout) as { insns: number; retval: number };
    expect(base.insnsPerRun).toBe(run.insns);
    expect(base.retval).toBe(run.retval);
    expect(base.medianNs).toBeGreaterThan(0);
    expect(base.calibrationNs).toBeGreaterThan(0);
    expect(base.ratio).toBeCloseTo(base.medianNs / base.calibrationNs, 10);
    expect(base.nsPerInsn).toBeCloseTo(base.medianNs / base.insnsPerRun, 10);
  });

  it('a changed instruction count is a regression, whatever the time', () => {
    const p = join(dir, 'insns.json');
    writeFileSync(p, JSON.stringify({ ...base, insnsPerRun: base.insnsPerRun + 1, ratio: 1e9 }));
    const r = bpfvm(['bench', obj, '--program', 'xdp_sum_header', '--batches', '3', '--baseline', p]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`REGRESSION: instructions per run changed: ${base.insnsPerRun + 1} in the baseline, ${base.insnsPerRun} now`));
  });

  it('time is judged as a ratio to the calibration loop against --max-regression', () => {
    const slow = join(dir, 'fast-baseline.json');
    writeFileSync(slow, JSON.stringify({ ...base, ratio: base.ratio / 1000 }));
    const r = bpfvm(['bench', obj, '--program', 'xdp_sum_header', '--batches', '3', '--baseline', slow, '--max-regression', '10']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/REGRESSION: time relative to the calibration loop grew by [\d.]+% \(limit 10%\)/);
    const fast = join(dir, 'slow-baseline.json');
    writeFileSync(fast, JSON.stringify({ ...base, ratio: base.ratio * 1000 }));
    const ok = bpfvm(['bench', obj, '--program', 'xdp_sum_header', '--batches', '3', '--baseline', fast, '--json']);
    expect(ok.status).toBe(0);
    expect((JSON.parse(ok.stdout) as BenchJson).regressions).toEqual([]);
  });

  it('refuses what it cannot run, with the reason', () => {
    const r = bpfvm(['bench', join(root, 'fixtures', 'v3', 'sockops_insert.o')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/is a sock_ops program; bench runs socket filter, tc, xdp, cgroup skb, sk_msg and sk_skb programs/);
    const m = bpfvm(['bench', obj, '--program', 'tc_len', '--map-set', 'a:0=1']);
    expect(m.status).toBe(2);
    expect(m.stderr).toMatch(/--map-set is for sk_msg and sk_skb programs/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"hello": 1}');
    const b = bpfvm(['bench', obj, '--program', 'tc_len', '--batches', '3', '--baseline', bad]);
    expect(b.status).toBe(1);
    expect(b.stderr).toMatch(/is not a bpfvm bench --json result/);
  });

  it('sk_msg and sk_skb verdict programs: one message / one skb set up as bpfvm run does; counts agree with run; baselines work', () => {
    const msgObj = join(root, 'fixtures', 'v3', 'sk_msg_redirect.o');
    const args = ['--program', 'msg_redir_map_egress', '--map-set', 'redir_key:0=2'];
    const b = bpfvm(['bench', msgObj, ...args, '--batches', '3', '--json']);
    expect(b.stderr).toBe('');
    const j = JSON.parse(b.stdout) as BenchJson & { type: string };
    const run = JSON.parse(bpfvm(['run', msgObj, ...args, '--json']).stdout) as { insns: number; retval: number; verdict: string };
    expect(run.verdict).toBe('redirect');
    expect(j.type).toBe('sk_msg');
    expect(j.insnsPerRun).toBe(run.insns);
    expect(j.retval).toBe(1);
    const p = join(dir, 'msg-insns.json');
    writeFileSync(p, JSON.stringify({ ...j, insnsPerRun: j.insnsPerRun + 2, ratio: 1e9 }));
    const reg = bpfvm(['bench', msgObj, ...args, '--batches', '3', '--baseline', p]);
    expect(reg.status).toBe(1);
    expect(reg.stdout).toMatch(/REGRESSION: instructions per run changed/);
    const skbObj = join(root, 'fixtures', 'v3', 'sk_skb_redirect.o');
    const s = JSON.parse(bpfvm(['bench', skbObj, '--program', 'skb_verdict_map', '--batches', '3', '--json']).stdout) as BenchJson & { type: string };
    const srun = JSON.parse(bpfvm(['run', skbObj, '--program', 'skb_verdict_map', '--json']).stdout) as { insns: number; retval: number };
    expect(s.type).toBe('sk_skb');
    expect(s.insnsPerRun).toBe(srun.insns);
    expect(s.retval).toBe(srun.retval);
  });
});
