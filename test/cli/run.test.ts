// `bpfvm run`, as users run it: the compiled dist/ entry point (npm test builds it first).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const main = join(root, 'dist', 'src', 'cli', 'main.js');
const bpfvm = (args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
const pktParse = join(root, 'fixtures', 'v3', 'pkt_parse.o');
const tmp = mkdtempSync(join(tmpdir(), 'bpfvm-run-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('bpfvm run', () => {
  it('prints the return value and duration like bpftool prog run', () => {
    const r = bpfvm(['run', pktParse, '--program', 'tc_len']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Return value: 64, duration: \d+ns\n$/);
  });

  it('reports the ring buffer records a consumer would read (text and --json); queue and ringbuf maps load from BTF', () => {
    const rq = join(root, 'fixtures', 'v4', 'ringbuf_queue.o');
    const t = bpfvm(['run', rq]);
    expect(t.stderr).toBe('');
    expect(t.stdout).toMatch(/^Return value: 65, duration: \d+ns\nringbuf events: 4000000007000000\nringbuf events: 40000000\n$/);
    const j = JSON.parse(bpfvm(['run', rq, '--json', '--repeat', '2']).stdout) as Record<string, unknown>;
    expect(j['ringbuf']).toEqual([
      { map: 'events', data: '4000000007000000' }, { map: 'events', data: '40000000' },
      { map: 'events', data: '4000000007000000' }, { map: 'events', data: '40000000' },
    ]);
  });

  it('says "(average)" when repeating', () => {
    const r = bpfvm(['run', pktParse, '-p', 'tc_len', '--repeat', '5']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Return value: 64, duration \(average\): \d+ns\n$/);
  });

  it('--json: retval, duration, insns, dataOut, ctxOut and trace; --data-in / --ctx-in / --data-out / --ctx-out files', () => {
    const data = new Uint8Array(100).map((_, i) => i);
    data[12] = 0x08;
    data[13] = 0x00;
    const dataIn = join(tmp, 'pkt.bin');
    writeFileSync(dataIn, data);
    const ctx = new Uint8Array(192);
    ctx[8] = 7; // mark
    const ctxIn = join(tmp, 'ctx.bin');
    writeFileSync(ctxIn, ctx);
    const dataOut = join(tmp, 'out.bin');
    const ctxOut = join(tmp, 'ctxout.bin');
    const r = bpfvm(['run', pktParse, '-p', 'tc_len', '--data-in', dataIn, '--ctx-in', ctxIn, '--data-out', dataOut, '--ctx-out', ctxOut, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(j)).toEqual(['retval', 'duration', 'insns', 'dataOut', 'ctxOut', 'trace', 'ringbuf']);
    expect(j['retval']).toBe(100);
    expect(typeof j['duration']).toBe('number');
    expect(j['insns']).toBeGreaterThan(0);
    expect(j['dataOut']).toBe(Buffer.from(data).toString('hex'));
    expect(j['trace']).toEqual([]);
    const c = readFileSync(ctxOut);
    expect(c.length).toBe(192);
    expect(c[8]).toBe(7); // mark
    expect(c.readUInt32LE(40)).toBe(1); // ifindex: loopback
    expect(c.readUInt32LE(160)).toBe(100); // wire_len
    expect(j['ctxOut']).toBe(c.toString('hex'));
    expect(readFileSync(dataOut).toString('hex')).toBe(Buffer.from(data).toString('hex'));
  });

  it('socket filters get the Ethernet header back as zeros in data_out', () => {
    const r = bpfvm(['run', pktParse, '-p', 'sock_filter_len', '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { retval: number; dataOut: string };
    expect(j.dataOut).toBe('00'.repeat(64));
    expect('ctxOut' in j).toBe(false);
  });

  it('--tier js and --tier interp give the same result', () => {
    const a = JSON.parse(bpfvm(['run', pktParse, '-p', 'xdp_sum_header', '--json', '--tier', 'interp']).stdout) as Record<string, unknown>;
    const b = JSON.parse(bpfvm(['run', pktParse, '-p', 'xdp_sum_header', '--json', '--tier', 'js']).stdout) as Record<string, unknown>;
    expect({ ...a, duration: 0 }).toEqual({ ...b, duration: 0 });
    const bad = bpfvm(['run', pktParse, '-p', 'tc_len', '--tier', 'jit']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--tier takes interp, js, auto/);
  });

  it('an object with several programs needs --program (exit 2, listing them)', () => {
    const r = bpfvm(['run', pktParse]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/has 7 programs; choose one with --program NAME \(programs: sock_filter_tcp4, .*cgskb_parse\)/);
  });

  it('an unknown program is an error that lists the programs', () => {
    const r = bpfvm(['run', pktParse, '--program', 'nope']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no program named "nope" \(programs: sock_filter_tcp4, sock_filter_len, tc_parse/);
  });

  it('sock_ops programs are refused: they need the socket model (the only program is picked without --program)', () => {
    for (const [obj, prog, type] of [['sockops_insert.o', undefined, 'sock_ops']] as const) {
      const r = bpfvm(['run', join(root, 'fixtures', 'v3', obj), ...(prog ? ['--program', prog] : [])]);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`is a ${type} program: .*socket model.*not available yet`));
    }
  });

  it('inputs the kernel refuses fail with its errno', () => {
    const short = join(tmp, 'short.bin');
    writeFileSync(short, new Uint8Array(10));
    const r = bpfvm(['run', pktParse, '-p', 'tc_len', '--data-in', short]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/BpfTestRunError: BPF_PROG_TEST_RUN fails with EINVAL: data_in of 10 bytes/);
    const badCtx = join(tmp, 'badctx.bin');
    const c = new Uint8Array(192);
    c[0] = 1; // len may not be set
    writeFileSync(badCtx, c);
    const r2 = bpfvm(['run', pktParse, '-p', 'tc_len', '--ctx-in', badCtx]);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/EINVAL: ctx_in sets __sk_buff bytes \[0, 8\)/);
  });

  it('bad files and arguments', () => {
    const missing = bpfvm(['run', join(tmp, 'nope.o')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*nope\.o: no such file/);
    const text = join(tmp, 'prog.s');
    writeFileSync(text, 'r0 = 1\nexit\n');
    const notElf = bpfvm(['run', text]);
    expect(notElf.status).toBe(1);
    expect(notElf.stderr).toMatch(/is not a BPF ELF object/);
    const garbage = join(tmp, 'garbage.o');
    writeFileSync(garbage, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3]));
    const bad = bpfvm(['run', garbage]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^bpfvm: /);
    expect(bpfvm(['run', pktParse, '-p', 'tc_len', '--repeat', '-1']).status).toBe(2);
    expect(bpfvm(['run']).status).toBe(2);
    const help = bpfvm(['run', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/usage: bpfvm run FILE/);
  });
});
