// `bpfvm run` for sk_msg programs (one message through the socket model), as users run it: the compiled dist/
// entry point (npm test builds it first).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const main = join(root, 'dist', 'src', 'cli', 'main.js');
const bpfvm = (args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
const fx = (f: string) => join(root, 'fixtures', 'v3', f);
const tmp = mkdtempSync(join(tmpdir(), 'bpfvm-run-msg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const pattern = (n: number) => Buffer.from(Uint8Array.from({ length: n }, (_, i) => i));

describe('bpfvm run: sk_msg', () => {
  it('text: return value and duration, verdict with the redirect target, apply/cork, message size, send result, deliveries', () => {
    const r = bpfvm(['run', fx('sk_msg_redirect.o'), '-p', 'msg_redir_map_egress', '--map-set', 'redir_key:0=2']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /^Return value: 1, duration: \d+ns\nVerdict: redirect to c2 \(redir_map\[2\], flags 0x0, egress\)\napply_bytes: 0, cork_bytes: 0\nMessage: 64 bytes in, 64 bytes after the program \(unchanged\)\nsend\(64 bytes\) = 64\nDelivered: p2 64 bytes\n$/,
    );
  });

  it('--json: the documented fields; the bytes after pop; --data-in and --data-out', () => {
    const dataIn = join(tmp, 'msg.bin');
    writeFileSync(dataIn, pattern(10));
    const dataOut = join(tmp, 'out.bin');
    const r = bpfvm(['run', fx('sk_msg_helpers.o'), '-p', 'msg_pop', '--map-set', 'msg_cfg:6=2', '--map-set', 'msg_cfg:7=0x3', '--data-in', dataIn, '--data-out', dataOut, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(j)).toEqual([
      'retval', 'verdict', 'redirect', 'applyBytes', 'corkBytes', 'sizeIn', 'sizeOut', 'dataOut', 'insns',
      'duration', 'repeat', 'runs', 'sends', 'delivered', 'held', 'unsent', 'trace', 'ringbuf',
    ]);
    expect(j).toMatchObject({ retval: 1, verdict: 'pass', redirect: null, applyBytes: 0, corkBytes: 0, sizeIn: 10, sizeOut: 7, dataOut: '00010506070809', repeat: 1, held: 0, unsent: {}, trace: [] });
    expect(j['insns']).toBeGreaterThan(0);
    expect(j['sends']).toEqual([{ bytes: 10, ret: 10 }]);
    expect(j['delivered']).toEqual({ c1: '', p1: '00010506070809', c2: '', p2: '' });
    expect(readFileSync(dataOut).toString('hex')).toBe('00010506070809');
  });

  it('apply_bytes: every run of the send is listed; --repeat averages the duration', () => {
    const r = bpfvm(['run', fx('sk_msg_helpers.o'), '-p', 'msg_apply', '--map-set', 'msg_cfg:0=10', '--json', '--repeat', '3']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { applyBytes: number; repeat: number; runs: { sizeIn: number }[] };
    expect(j.applyBytes).toBe(10);
    expect(j.repeat).toBe(3);
    expect(j.runs.map((x) => x.sizeIn)).toEqual([64, 54, 44, 34, 24, 14, 4]);
    const t = bpfvm(['run', fx('sk_msg_helpers.o'), '-p', 'msg_apply', '--map-set', 'msg_cfg:0=10', '--repeat', '3']);
    expect(t.stdout).toMatch(/^Return value: 1, duration \(average\): \d+ns\n/);
    expect(t.stdout).toMatch(/\nProgram runs during the send: 7 \(apply_bytes \/ cork\)\n/);
  });

  it('cork: the message is held and reported', () => {
    const r = bpfvm(['run', fx('sk_msg_helpers.o'), '-p', 'msg_cork', '--map-set', 'msg_cfg:1=100']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\napply_bytes: 0, cork_bytes: 100\n/);
    expect(r.stdout).toMatch(/\nDelivered: nothing\nHeld \(corked\): 64 bytes\n$/);
  });

  it('--map-slot places sockets (a SOCKHASH ingress redirect to p2); a slot left empty makes the redirect drop', () => {
    const base = ['run', fx('sk_msg_redirect.o'), '-p', 'msg_redir_hash_ingress', '--map-set', 'redir_key:0=7', '--attach', 'redir_map', '--map-slot', 'redir_map:0=c1'];
    const r = bpfvm([...base, '--map-slot', 'redir_hash:7=p2', '--json']);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j['redirect']).toEqual({ map: 'redir_hash', key: 7, flags: 1, direction: 'ingress', socket: 'p2' });
    expect(j['delivered']).toEqual({ c1: '', p1: '', c2: '', p2: pattern(64).toString('hex') });
    const d = bpfvm(base);
    expect(d.status).toBe(0);
    expect(d.stdout).toMatch(/\nVerdict: drop\n[^]*\nsend\(64 bytes\) = -13\nDelivered: nothing\n$/);
  });

  it('set-up problems are clear errors (more in test/testing/prog-run.test.ts)', () => {
    const f = fx('sk_msg_redirect.o');
    const cases: [string[], number, RegExp][] = [
      [['--ctx-in', '/dev/null'], 2, /--ctx-in does not apply to sk_msg programs: struct sk_msg_md is read-only/],
      [['--map-slot', 'redir_map:1=p1'], 1, /BpfMsgRunError: the sender c1 is not in a sock map the program is attached to \(redir_map\)/],
      [['--map-set', 'redir_key:0'], 2, /--map-set takes MAP:KEY=VALUE/],
      [['--map-set', 'redir_key:0=x'], 2, /"x" is not an integer/],
    ];
    for (const [extra, status, msg] of cases) {
      const r = bpfvm(['run', f, '-p', 'msg_redir_map_egress', ...extra]);
      expect(r.stderr, extra.join(' ')).toMatch(msg);
      expect(r.status).toBe(status);
      expect(r.stdout).toBe('');
    }
    const empty = join(tmp, 'empty.bin');
    writeFileSync(empty, new Uint8Array(0));
    const e = bpfvm(['run', f, '-p', 'msg_redir_map_egress', '--data-in', empty]);
    expect(e.status).toBe(1);
    expect(e.stderr).toMatch(/runs on at least 1 byte/);
    const pk = bpfvm(['run', fx('pkt_parse.o'), '-p', 'tc_len', '--map-slot', 'a:0=c1']);
    expect(pk.status).toBe(2);
    expect(pk.stderr).toMatch(/--map-slot is for sk_msg programs; tc_len is a sched_cls program/);
  });

  it('an object without a sock map gets bpfvm_run_sockmap (c1 at key 0)', () => {
    const r = bpfvm(['run', fx('sk_msg_helpers.o'), '-p', 'msg_push', '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { dataOut: string; delivered: Record<string, string> };
    expect(j.dataOut).toBe('50555348' + pattern(64).toString('hex'));
    expect(j.delivered['p1']).toBe(j.dataOut);
  });
});

describe('bpfvm run: sk_skb (one skb, received by p1)', () => {
  const f = fx('sk_skb_redirect.o');
  it('verdict programs: the verdict and the redirect target (map, key, flags, direction, socket)', () => {
    const r = bpfvm(['run', f, '-p', 'skb_verdict_map', '--map-set', 'skb_cfg:1=2']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Return value: 1, duration: \d+ns\nVerdict: redirect to c2 \(skb_map\[2\], flags 0x0, egress\)\nskb: 64 bytes received by p1, 64 bytes after the program \(unchanged\)\n$/);
    const j = JSON.parse(bpfvm(['run', f, '-p', 'skb_verdict_hash_in', '--map-set', 'skb_cfg:1=3', '--json']).stdout) as Record<string, unknown>;
    expect(Object.keys(j)).toEqual(['role', 'retval', 'verdict', 'redirect', 'socket', 'sizeIn', 'sizeOut', 'dataOut', 'insns', 'trace', 'ringbuf', 'repeat', 'duration']);
    expect(j).toMatchObject({ role: 'verdict', retval: 1, verdict: 'redirect', socket: 'p1', redirect: { map: 'skb_hash', key: 3, flags: 1, direction: 'ingress', socket: 'p2' } });
    const empty = bpfvm(['run', f, '-p', 'skb_verdict_map', '--map-set', 'skb_cfg:1=6']);
    expect(empty.stdout).toMatch(/^Return value: 0, [^]*\nVerdict: drop\n/);
  });

  it('the bytes after the program (--data-out), and the length a stream parser returns', () => {
    const dataIn = join(tmp, 'hello.bin');
    writeFileSync(dataIn, 'hello');
    const out = join(tmp, 'skb-out.bin');
    const r = bpfvm(['run', f, '-p', 'skb_verdict_pass', '--data-in', dataIn, '--data-out', out]);
    expect(r.stdout).toMatch(/\nVerdict: pass\nskb: 5 bytes received by p1, 5 bytes after the program\n$/);
    expect(readFileSync(out, 'utf8')).toBe('Hello');
    writeFileSync(dataIn, Buffer.from([0, 0, 0, 5, 0x68, 0x65, 0x6c, 0x6c, 0x6f]));
    const p = bpfvm(['run', f, '-p', 'skb_parser', '--data-in', dataIn, '--json']);
    expect(JSON.parse(p.stdout)).toMatchObject({ role: 'stream_parser', retval: 9, verdict: null, redirect: null });
    const bad = bpfvm(['run', f, '-p', 'skb_parser', '--attach', 'skb_map']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--attach is for sk_msg programs/);
  });
});
