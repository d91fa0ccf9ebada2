// `bpfvm verify`: verdicts, exit status and the --json contract ({ program, ok, error, log } per program).

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const main = join(root, 'dist', 'src', 'cli', 'main.js');
const bpfvm = (args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
const fx = (f: string): string => join(root, 'fixtures', 'v3', f);

describe('bpfvm verify', () => {
  it('exit 0 and one "accepted" line per program when all are accepted', () => {
    const r = bpfvm(['verify', fx('pkt_parse.o')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^tc_len: accepted \(sched_cls, \d+ insns processed\)$/m);
  });
  it('exit 1 with the kernel\'s message and the failing path\'s log on a rejection', () => {
    const r = bpfvm(['verify', fx('verifier_reject.o'), '--program', 'msg_stale_pkt_ptr']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^msg_stale_pkt_ptr: rejected at pc \d+: R7 invalid mem access 'scalar'$/m);
    expect(r.stdout).toMatch(/call bpf_msg_pull_data#63/);
    expect(r.stdout).toMatch(/processed \d+ insns \(limit 1000000\)/);
  });
  it('--json gives { program, ok, error, log } per program', () => {
    const r = bpfvm(['verify', fx('verifier_reject.o'), '--json']);
    expect(r.status).toBe(1);
    const recs = JSON.parse(r.stdout) as { program: string; ok: boolean; error: { pc: number; message: string } | null; log: string }[];
    const ctxWrite = recs.find((x) => x.program === 'msg_ctx_write')!;
    expect(ctxWrite.ok).toBe(false);
    expect(ctxWrite.error?.message).toBe('invalid bpf_context access off=68 size=4');
    expect(typeof ctxWrite.log).toBe('string');
    const ok = recs.find((x) => x.program === 'uninit_stack_read')!;
    expect(ok).toMatchObject({ ok: true, error: null });
  });
  it('--unprivileged checks as a CAP_BPF-only loader', () => {
    const r = bpfvm(['verify', fx('verifier_reject.o'), '--program', 'uninit_stack_read', '--unprivileged', '--json']);
    const [rec] = JSON.parse(r.stdout) as { ok: boolean; error: { message: string } | null }[];
    expect(rec!.ok).toBe(false);
    expect(rec!.error?.message).toBe('invalid read from stack R10 off=-8 size=8');
  });
  it('usage errors', () => {
    expect(bpfvm(['verify', fx('pkt_parse.o'), '--log-level', '7']).status).toBe(2);
    const r = bpfvm(['verify', fx('pkt_parse.o'), '--program', 'nope']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no program named "nope"/);
  });
});
