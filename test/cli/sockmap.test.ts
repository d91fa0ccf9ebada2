// `bpfvm sockmap`: the option names of the contract, the report fields, --all's lines, errors.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const main = join(root, 'dist', 'src', 'cli', 'main.js');
const sockmapObj = join(root, 'fixtures', 'v3', 'sockmap_layout.o');
const sockhashObj = join(root, 'fixtures', 'v3', 'sockhash_layout.o');
const bpfvm = (args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

/** Independent FNV-1a 64 (BigInt) for the check. */
function fnvRef(b: Uint8Array): string {
  let h = 0xcbf29ce484222325n;
  for (const x of b) h = ((h ^ BigInt(x)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}

interface CaseJson {
  ok: boolean;
  skipped?: string;
  tx_bytes: number;
  tx_err: number;
  rx_bytes: number;
  rx_err: number;
  sends: number[];
  sockets: Record<string, { bytes: number; fnv1a64: string }>;
  runs: Record<string, number>;
}

describe('bpfvm sockmap', () => {
  it('--help lists every option of the contract', () => {
    const r = bpfvm(['sockmap', '--help']);
    expect(r.status).toBe(0);
    for (const o of ['--test sendmsg|sendpage', '--rate', '--iov_count', '--length', '--txmsg]', '--txmsg_redir', '--txmsg_drop', '--txmsg_apply', '--txmsg_cork', '--txmsg_start ', '--txmsg_end ', '--txmsg_start_push', '--txmsg_end_push', '--txmsg_start_pop', '--txmsg_pop', '--txmsg_ingress', '--txmsg_redir_skb', '--txmsg_omit_skb_parser', '--peek', '--data_test', '--skb_use_parser', '--json', '--all']) {
      expect(r.stdout).toContain(o);
    }
  });

  it('one redirect case: counts, every send, bytes and FNV-1a-64 at c1, p1, c2, p2', () => {
    const r = bpfvm(['sockmap', sockmapObj, '--txmsg_redir', '--rate', '3', '--iov_count', '2', '--length', '5', '--data_test', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as CaseJson;
    expect(j).toMatchObject({ ok: true, tx_bytes: 30, tx_err: 0, rx_bytes: 30, rx_err: 0, sends: [10, 10, 10] });
    const sent = new Uint8Array(30).map((_, i) => i % 10); // 0..9 per sendmsg (the pattern runs across the iovecs)
    expect(j.sockets).toEqual({
      c1: { bytes: 0, fnv1a64: fnvRef(new Uint8Array(0)) },
      p1: { bytes: 0, fnv1a64: 'cbf29ce484222325' },
      c2: { bytes: 0, fnv1a64: 'cbf29ce484222325' },
      p2: { bytes: 30, fnv1a64: fnvRef(sent) },
    });
    expect(j.runs.bpf_prog6).toBe(3);
    expect(j.runs.bpf_sockmap).toBe(20); // two listens + two handshakes' callbacks
  });

  it('drop: each send returns -EACCES, the case is OK; sendpage with the sockhash object', () => {
    const r = bpfvm(['sockmap', sockhashObj, '--test', 'sendpage', '--txmsg_drop', '-r', '2', '-l', '7', '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as CaseJson;
    expect(j).toMatchObject({ ok: true, tx_bytes: 0, tx_err: 0, rx_bytes: 0, sends: [-13, -13] });
    const t = bpfvm(['sockmap', sockhashObj, '--test', 'sendpage', '--txmsg_drop', '-r', '2', '-l', '7']);
    expect(t.stdout).toContain('sends: 2 x -13');
    expect(t.stdout).toMatch(/OK\n$/);
  });

  it('passthrough goes c1 → p1 → (sk_skb verdict on p1) → c2 → p2; cork 512 with 100 x 5 bytes times out, tolerated', () => {
    const j = JSON.parse(bpfvm(['sockmap', sockmapObj, '--txmsg', '-r', '4', '-l', '100', '--json']).stdout) as CaseJson;
    expect(j.skipped).toBeUndefined();
    expect(j).toMatchObject({ ok: true, tx_bytes: 400, rx_bytes: 400 });
    expect(j.sockets.p1!.bytes).toBe(0);
    expect(j.runs.bpf_prog2).toBeGreaterThan(0);
    const c = JSON.parse(bpfvm(['sockmap', sockmapObj, '--txmsg', '--txmsg_cork', '512', '-r', '100', '-l', '5', '--json']).stdout) as CaseJson;
    expect(c).toMatchObject({ ok: true, tx_bytes: 500, rx_bytes: 0, rx_err: 5 });
  });

  it('--all prints test_sockmap\'s lines and the Pass/Fail total; --whitelist selects groups', () => {
    const r = bpfvm(['sockmap', sockmapObj, '--all', '--whitelist', 'drop,parser2']);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')).toEqual(['# 4/ 6  sockmap::txmsg test drop:OK', '#15/ 1  sockmap::txmsg test ingress parser2:OK', 'Pass: 2 Fail: 0', '']);
  });

  it('errors: bad numbers and unknown options are usage errors; an object without the layout names what is missing', () => {
    expect(bpfvm(['sockmap', sockmapObj, '--txmsg_apply', '-1']).status).toBe(2);
    expect(bpfvm(['sockmap', sockmapObj, '--test', 'ping']).status).toBe(2);
    expect(bpfvm(['sockmap', sockmapObj, '--txmsg_nope']).status).toBe(2);
    expect(bpfvm(['sockmap', sockmapObj, '--all', '--rate', '3']).status).toBe(2);
    const r = bpfvm(['sockmap', join(root, 'fixtures', 'v3', 'sk_msg_redirect.o'), '--txmsg']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no map "sock_map"/);
  });
});
