// The scenario API (SocketScenario) and JSON scenario files (`bpfvm scenario`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SocketScenario, ScenarioError } from '../../src/scenario/api.js';
import { parseScenarioFile, runScenarioFile, runScenarioPath } from '../../src/scenario/file.js';
import { applyCork, msgRedirect } from '../kernel/sockrun-scenarios.js';

const root = join(import.meta.dirname, '..', '..');
const example = join(root, 'fixtures', 'scenarios', 'sockmap_redirect.json');
const main = join(root, 'dist', 'src', 'cli', 'main.js');
const bpfvm = (args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

const SOCKMAP = (name: string, max = 8) => ({ name, type: 15, typeName: 'sockmap', keySize: 4, valueSize: 4, maxEntries: max, flags: 0, section: '.maps' });

/** sock_ops: ACTIVE_ESTABLISHED → map 0 key 0, PASSIVE_ESTABLISHED → key 1 (BPF_ANY). */
const OPS = `
  r6 = r1
  r2 = *(u32 *)(r6 + 0)
  r3 = 0
  if r2 == 4 goto ins
  r3 = 1
  if r2 == 5 goto ins
  goto out
ins:
  *(u32 *)(r10 - 4) = r3
  r1 = r6
  r2 = map[idx:0]
  r3 = r10
  r3 += -4
  r4 = 0
  call bpf_sock_map_update#53
out:
  r0 = 1
  exit`;

/** sk_msg: redirect to map 0 key 1 with BPF_F_INGRESS. */
const TO_KEY1_INGRESS = msgRedirect(0, 1, 1);

describe('SocketScenario (TypeScript API)', () => {
  it('sock_ops on the root cgroup fills the map; an sk_msg program redirects into the peer\'s ingress', () => {
    const sc = new SocketScenario({ maps: [SOCKMAP('socks')] });
    sc.loadProgram('ops', 'sock_ops', OPS);
    sc.loadProgram('redir', 'sk_msg', TO_KEY1_INGRESS);
    expect(sc.attach('redir', 'socks', 'msg_verdict')).toBe(0);
    expect(sc.attachCgroup('ops')).toBe(0);
    sc.listen('l');
    sc.connect('c', 'l');
    sc.accept('p', 'l');
    expect(sc.snapshot().maps.socks).toEqual([{ key: '00000000', sock: 'c' }, { key: '01000000', sock: 'p' }]);
    // c's sends go to p's ingress (p reads them as its own received data); p's sends loop back to p as well
    expect(sc.send('c', new Uint8Array([1, 2, 3]))).toBe(3);
    expect(sc.sendmsg('p', [new Uint8Array([4]), new Uint8Array([5])])).toBe(2);
    expect(sc.fionread('p')).toBe(5);
    expect(sc.recv('p', 100, { peek: true })).toEqual(new Uint8Array([1, 2, 3, 4, 5]));
    expect(sc.drain('p')).toEqual(new Uint8Array([1, 2, 3, 4, 5]));
    expect(sc.recv('c')).toBe(-11);
    expect(sc.runs('redir')).toBe(2);
    expect(sc.runs('ops')).toBe(10); // listen, 4 client + 3 request-socket callbacks, active, passive
    expect(sc.close('p')).toBe(0);
    expect(sc.snapshot().maps.socks).toEqual([{ key: '00000000', sock: 'c' }]);
  });

  it('cgroups: a program attached at /a runs only for sockets created in /a (and their accepted children)', () => {
    const sc = new SocketScenario({ maps: [SOCKMAP('socks')] });
    sc.loadProgram('ops', 'sock_ops', OPS);
    expect(sc.attachCgroup('ops', '/a')).toBe(0);
    sc.useCgroup('/b');
    sc.listen('lb');
    sc.connect('cb', 'lb');
    sc.accept('pb', 'lb');
    expect(sc.snapshot().maps.socks).toEqual([]);
    sc.useCgroup('/a/x');
    sc.listen('la');
    sc.useCgroup('/b');
    sc.connect('cx', 'la'); // client in /b: no ACTIVE insert; child inherits /a/x from the listener: PASSIVE insert
    sc.accept('pa', 'la');
    expect(sc.snapshot().maps.socks).toEqual([{ key: '01000000', sock: 'pa' }]);
    // flags: an exclusive attach at / forbids attaching below it (EPERM); MULTI lists run in order
    const sc2 = new SocketScenario({ maps: [SOCKMAP('m')] });
    sc2.loadProgram('ops', 'sock_ops', OPS);
    sc2.loadProgram('ops2', 'sock_ops', OPS);
    expect(sc2.attachCgroup('ops', '/')).toBe(0);
    expect(sc2.attachCgroup('ops2', '/a')).toBe(-1);
    expect(sc2.detachCgroup('ops2', '/')).toBe(-2);
  });

  it('errors name what is wrong', () => {
    const sc = new SocketScenario({ maps: [SOCKMAP('socks')] });
    expect(() => sc.socket('nope')).toThrow(ScenarioError);
    expect(() => sc.loadProgram('x', 'xdp', 'r0 = 0\nexit')).toThrow(/unknown type "xdp"/);
    expect(() => sc.loadProgram('x', 'sk_msg', 'r0 = \nexit')).toThrow(/program "x"/);
    sc.listen('l');
    expect(() => sc.listen('l')).toThrow(/already exists/);
    expect(() => sc.accept('p', 'l')).toThrow(/no pending connection/);
    expect(() => sc.attach('x', 'socks', 'nope')).toThrow(ScenarioError);
    expect(() => new SocketScenario({ object: '/nonexistent.o' })).toThrow(/cannot read object/);
  });
});

describe('JSON scenario files', () => {
  it('the shipped example runs and every expectation holds', () => {
    const r = runScenarioPath(example);
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.steps[11]).toEqual({ op: 'recv', ret: 5, data: '68656c6c6f' });
    expect(r.maps.sock_map).toEqual([{ key: '01000000', sock: 'p1' }, { key: '0a000000', sock: 'c2' }]);
  });

  it('failed expectations are listed with their step; the run is not ok', () => {
    const f = parseScenarioFile(readFileSync(example, 'utf8'), example);
    f.steps[10]!.expect = { ret: 4 };
    f.expect!.runs = { bpf_prog6: 3 };
    const r = runScenarioFile(f, join(root, 'fixtures', 'scenarios'), 'x.json');
    expect(r.ok).toBe(false);
    expect(r.failures).toEqual(['step 11 (send): ret 5, expected 4', 'program bpf_prog6: ran 2 times, expected 3']);
    expect(r.steps[10]!.failed).toEqual(['ret 5, expected 4']);
  });

  it('inline maps and assembly; bad input is a ScenarioError naming the step', () => {
    const ok = runScenarioFile({
      maps: [{ name: 'socks', type: 'sockmap', keySize: 4, valueSize: 4, maxEntries: 4 }],
      programs: [{ name: 'redir', type: 'sk_msg', asm: TO_KEY1_INGRESS }],
      steps: [
        { op: 'attach', prog: 'redir', map: 'socks', type: 'msg_verdict' },
        { op: 'listen', name: 'l' },
        { op: 'connect', name: 'c', to: 'l' },
        { op: 'accept', name: 'p', listener: 'l' },
        { op: 'insert', map: 'socks', key: '01000000', sock: 'p' },
        { op: 'insert', map: 'socks', key: 0, sock: 'c' },
        { op: 'send', sock: 'c', data: { pattern: 300 }, expect: { ret: 300 } },
        { op: 'recv', sock: 'p', max: 10, expect: { data: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] } },
        { op: 'connect', name: 'c2', to: 'l' },
        { op: 'accept', name: 'p2', listener: 'l' },
        { op: 'insert', map: 'socks', key: 2, sock: 'c2' },
        { op: 'delete', map: 'socks', key: 1 }, // p leaves its last map: its unread 290 redirected bytes are purged
        { op: 'send', sock: 'c2', data: '01 02', expect: { ret: -13 } }, // no target: SK_DROP
        { op: 'insert', map: 'socks', key: 1, sock: 'p' },
        { op: 'send', sock: 'c2', data: '03', expect: { ret: -13 } }, // DROP is sticky (the program does not run again)
        { op: 'runs', prog: 'redir', expect: { ret: 2 } },
        { op: 'shutdown', sock: 'c', how: 'wr' },
      ],
      expect: { sockets: { p: { bytes: 0 } }, maps: { socks: [{ key: 0, sock: 'c' }, { key: 1, sock: 'p' }, { key: 2, sock: 'c2' }] } },
    });
    expect(ok.failures).toEqual([]);
    const bad = (steps: object[]) => () => runScenarioFile({ maps: [], steps: steps as never }, '.', 'bad.json');
    expect(bad([{ op: 'frobnicate' }])).toThrow(/bad.json: step 1 \(frobnicate\): unknown op/);
    expect(bad([{ op: 'send', sock: 'x', data: '00' }])).toThrow(/step 1 \(send\): no socket "x"/);
    expect(bad([{ op: 'listen', name: 'l' }, { op: 'send', sock: 'l', data: 'zz' }])).toThrow(/step 2 \(send\) data: "zz" is not hex/);
    expect(() => parseScenarioFile('{"steps": [{}]}', 'f.json')).toThrow(/f.json: step 1 needs an "op"/);
    expect(() => parseScenarioFile('nope', 'f.json')).toThrow(/not valid JSON/);
  });

  it('sleep: virtual time passes, so data TCP holds behind MSG_MORE leaves on the probe timer (200 ms)', () => {
    // apply 10 + cork 100 + PASS: four send(30) → three 10-byte chunks pushed with MSG_MORE, 90 bytes corked again.
    const prog = applyCork();
    const sends = [0, 1, 2, 3].map(() => ({ op: 'send', sock: 'c', data: { pattern: 30 }, expect: { ret: 30 } }));
    const r = runScenarioFile({
      maps: [{ name: 'socks', type: 'sockmap', keySize: 4, valueSize: 4, maxEntries: 4 }],
      programs: [{ name: 'p', type: 'sk_msg', asm: prog }],
      steps: [
        { op: 'attach', prog: 'p', map: 'socks', type: 'msg_verdict' },
        { op: 'listen', name: 'l' },
        { op: 'connect', name: 'c', to: 'l' },
        { op: 'accept', name: 'q', listener: 'l' },
        { op: 'insert', map: 'socks', key: 0, sock: 'c' },
        ...sends,
        { op: 'sleep', ms: 199 },
        { op: 'recv', sock: 'q', expect: { ret: -11 } },
        { op: 'sleep', ms: 1 },
        { op: 'recv', sock: 'q', expect: { bytes: 30 } },
      ],
    });
    expect(r.failures).toEqual([]);
    expect(() => runScenarioFile({ maps: [], steps: [{ op: 'sleep', ms: -1 }] as never }, '.', 'bad.json')).toThrow(/step 1 \(sleep\)/);
  });

  it('bpfvm scenario: text and --json output, exit status from the expectations', () => {
    const r = bpfvm(['scenario', example]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/ 12 recv +5 68656c6c6f\n/);
    expect(r.stdout).toMatch(/OK\n$/);
    const dir = mkdtempSync(join(tmpdir(), 'bpfvm-scenario-'));
    const f = JSON.parse(readFileSync(example, 'utf8')) as { object: string; steps: { expect?: object }[] };
    f.object = join(root, 'fixtures', 'v3', 'sockmap_layout.o');
    f.steps[11]!.expect = { bytes: 6 };
    writeFileSync(join(dir, 's.json'), JSON.stringify(f));
    const j = bpfvm(['scenario', join(dir, 's.json'), '--json']);
    expect(j.status).toBe(1);
    expect((JSON.parse(j.stdout) as { failures: string[] }).failures).toEqual(['step 12 (recv): 5 bytes, expected 6']);
    expect(bpfvm(['scenario', join(dir, 'missing.json')]).status).toBe(1);
  });
});
