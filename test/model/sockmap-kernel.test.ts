/**
 * Differential tests: the same sockmap / sk_msg scenarios run in the host kernel (test/kernel/sockrun.ts,
 * real loopback sockets) and in the bpfvm model (test/model/sockmap-harness.ts → src/kernel/model.ts) must give
 * the same step results (send() returns, recv() bytes, map errnos, FIONREAD, run counts), the same bytes at
 * every socket in the final drain, the same program run counts and the same map contents.
 *
 * Not compared: ports and cookie values (the kernel's differ; cookie *equality* between steps is compared),
 * bytes inserted by bpf_msg_push_data (the kernel leaves garbage: only lengths and the surrounding bytes are
 * compared). Skipped with the reason when the kernel oracle is unavailable.
 */
import { describe, expect, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import {
  AttachType, MapType, ProgType, SockOpt, UpdateFlags, patternBytes, runScenario, sockAvailability, tcpPair,
  type Scenario, type ScenarioResult, type ScenarioStep,
} from '../kernel/sockrun.js';
import { DROP, PASS, applyCork, bytes, hexOf as hex, msgRedirect, msgScenario, skMsg, sockhash, sockmap } from '../kernel/sockrun-scenarios.js';
import { differential } from './differential.js';
import { recordValue } from './asm-snippets.js';

const avail = sockAvailability();
const suite = avail.ok ? describe : describe.skip;
if (!avail.ok) console.warn(`sockmap differential tests skipped: ${avail.reason}`);

const sends30 = (sock: string): ScenarioStep[] => [0, 1, 2, 3].map((i) => ({ op: 'send', sock, data: patternBytes(120).slice(30 * i, 30 * i + 30) }));

const recordSizes = `
  r6 = r1
  r2 = *(u64 *)(r6 + 0)
  r3 = *(u64 *)(r6 + 8)
  r3 -= r2
  r2 = *(u32 *)(r6 + 68)
  ${recordValue(1, 'r2', 'r3')}
  r0 = 1
  exit`;

suite('sockmap model vs host kernel (differential)', () => {
  it('PASS: send, sendmsg, sendfile; bytes and run counts', () => {
    differential(
      msgScenario(PASS, [
        { op: 'send', sock: 'c1', data: patternBytes(100) },
        { op: 'recv', sock: 'p1', maxLen: 1000 },
        { op: 'sendmsg', sock: 'c1', iovLen: 10, iovCount: 3 },
        { op: 'sendfile', sock: 'c1', len: 5000 },
        { op: 'fionread', sock: 'p1' },
        { op: 'recv', sock: 'p1', maxLen: 7, peek: true },
      ]),
    );
  });

  it('DROP is sticky: -EACCES three times, one program run', () => {
    differential(
      msgScenario(DROP, [
        { op: 'send', sock: 'c1', data: patternBytes(10) },
        { op: 'send', sock: 'c1', data: patternBytes(20) },
        { op: 'sendfile', sock: 'c1', len: 100 },
        { op: 'runCount', prog: 0 },
      ]),
    );
  });

  it('apply_bytes(10) + DROP: send(100) → 90, then -EACCES', () => {
    differential(msgScenario('r2 = 10\ncall bpf_msg_apply_bytes#61\nr0 = 0\nexit', [
      { op: 'send', sock: 'c1', data: patternBytes(100) },
      { op: 'send', sock: 'c1', data: patternBytes(10) },
    ]));
  });

  it('apply_bytes(10) + PASS over five send(4), and a 25-byte send split by the budget', () => {
    const steps: ScenarioStep[] = [0, 1, 2, 3, 4].map((i) => ({ op: 'send', sock: 'c1', data: patternBytes(20).slice(4 * i, 4 * i + 4) }));
    differential(msgScenario('r2 = 10\ncall bpf_msg_apply_bytes#61\nr0 = 1\nexit', [...steps, { op: 'runCount', prog: 0 }, { op: 'send', sock: 'c1', data: patternBytes(25) }, { op: 'shutdown', sock: 'c1', how: 'wr' }]));
  });

  it('cork_bytes(100) + PASS: three send(30) held, the fourth flushes', () => {
    const s = sends30('c1');
    differential(msgScenario('r2 = 100\ncall bpf_msg_cork_bytes#62\nr0 = 1\nexit', [
      s[0]!, s[1]!, s[2]!,
      { op: 'recv', sock: 'p1', maxLen: 1000, timeoutMs: 50 },
      { op: 'runCount', prog: 0 },
      s[3]!,
      { op: 'recv', sock: 'p1', maxLen: 1000, timeoutMs: 300 },
      { op: 'send', sock: 'c1', data: patternBytes(7) },
    ]));
  });

  it('cork(100) + apply(10) + PASS: 30 bytes behind MSG_MORE, cork re-engages, next send(3) → 0', () => {
    differential(msgScenario(applyCork('r0 = 1\nexit'), [
      ...sends30('c1'),
      { op: 'recv', sock: 'p1', maxLen: 1000, timeoutMs: 50 },
      { op: 'runCount', prog: 0 },
      { op: 'send', sock: 'c1', data: bytes(0xee, 0xee, 0xee) },
      { op: 'send', sock: 'c1', data: bytes(0xdd) },
      { op: 'runCount', prog: 0 },
      { op: 'shutdown', sock: 'c1', how: 'wr' },
    ]));
  });

  it('redirect egress through a SOCKMAP; empty slot → SK_DROP → -EACCES', () => {
    differential(msgScenario(msgRedirect(1, 0, 0), [
      ...tcpPair('l2', 'c2', 'p2'),
      { op: 'sockUpdate', map: 1, key: 0, sock: 'c2' },
      { op: 'send', sock: 'c1', data: patternBytes(64) },
      { op: 'recv', sock: 'p2', maxLen: 1000, timeoutMs: 300 },
      { op: 'mapDelete', map: 1, key: 0 },
      { op: 'send', sock: 'c1', data: patternBytes(64) },
    ], { maps: [sockmap()] }));
  });

  it('cork(100) + apply(10) + redirect: 10 of 120 bytes reach the target (after its shutdown)', () => {
    differential(msgScenario(applyCork(`r1 = r6\n${msgRedirect(1, 0, 0)}`), [
      ...tcpPair('l2', 'c2', 'p2'),
      { op: 'sockUpdate', map: 1, key: 0, sock: 'c2' },
      ...sends30('c1'),
      { op: 'recv', sock: 'p2', maxLen: 1000, timeoutMs: 50 },
      { op: 'shutdown', sock: 'c2', how: 'wr' },
    ], { maps: [sockmap()] }));
  });

  it('redirect INGRESS: FIONREAD, peek across messages, merged recv', () => {
    differential(msgScenario(msgRedirect(1, 0, 1), [
      ...tcpPair('l2', 'c2', 'p2'),
      { op: 'sockUpdate', map: 1, key: 0, sock: 'p2' },
      { op: 'send', sock: 'c1', data: patternBytes(30) },
      { op: 'send', sock: 'c1', data: patternBytes(30) },
      { op: 'fionread', sock: 'p2' },
      { op: 'recv', sock: 'p2', maxLen: 45, peek: true, timeoutMs: 300 },
      { op: 'recv', sock: 'p2', maxLen: 40, timeoutMs: 300 },
      { op: 'fionread', sock: 'p2' },
      { op: 'send', sock: 'c1', data: patternBytes(5) },
    ], { maps: [sockmap()] }));
  });

  it('ingress data is lost when the target leaves its last map; direct send still native', () => {
    differential(msgScenario(msgRedirect(1, 0, 1), [
      ...tcpPair('l2', 'c2', 'p2'),
      { op: 'sockUpdate', map: 1, key: 0, sock: 'p2' },
      { op: 'send', sock: 'c1', data: patternBytes(30) },
      { op: 'sleep', ms: 20 },
      { op: 'mapDelete', map: 1, key: 0 },
      { op: 'sleep', ms: 20 },
      { op: 'recv', sock: 'p2', maxLen: 100, timeoutMs: 50 },
      { op: 'send', sock: 'c2', data: bytes(1, 2) },
    ], { maps: [sockmap()] }));
  });

  it('redirect egress and ingress through a SOCKHASH (key 7)', () => {
    const prog = (flags: number) => `r2 = 7\n*(u32 *)(r10 - 4) = r2\nr3 = r10\nr3 += -4\nr2 = map[idx:1]\nr4 = ${flags}\ncall bpf_msg_redirect_hash#71\nexit`;
    for (const flags of [0, 1]) {
      differential(msgScenario(prog(flags), [
        ...tcpPair('l2', 'c2', 'p2'),
        { op: 'sockUpdate', map: 1, key: 7, sock: flags ? 'p2' : 'c2' },
        { op: 'send', sock: 'c1', data: patternBytes(50) },
        { op: 'sendmsg', sock: 'c1', iovLen: 3, iovCount: 4 },
        { op: 'mapNextKey', map: 1, key: null },
        { op: 'mapDelete', map: 1, key: 7 },
        { op: 'mapDelete', map: 1, key: 7 },
        { op: 'send', sock: 'c1', data: patternBytes(5) },
      ], { maps: [sockhash()] }));
    }
  });

  it('redirect to a listener and with bad flags: SK_DROP → -EACCES', () => {
    differential(msgScenario(msgRedirect(1, 0, 0), [
      { op: 'sockUpdate', map: 1, key: 0, sock: 'l1' },
      { op: 'send', sock: 'c1', data: patternBytes(5) },
    ], { maps: [sockmap()] }));
    differential(msgScenario(msgRedirect(0, 0, 2), [{ op: 'send', sock: 'c1', data: patternBytes(5) }]));
  });

  it('redirect INGRESS to the sender itself', () => {
    differential(msgScenario(msgRedirect(0, 0, 1), [
      { op: 'send', sock: 'c1', data: bytes(5, 6, 7) },
      { op: 'recv', sock: 'c1', maxLen: 100, timeoutMs: 300 },
    ]));
  });

  it('pop(1,2) and pull(2,3) + write through data', () => {
    differential(msgScenario('r2 = 1\nr3 = 2\nr4 = 0\ncall bpf_msg_pop_data#91\nr0 = 1\nexit', [{ op: 'send', sock: 'c1', data: bytes(1, 2, 3, 4, 5) }]));
    differential(msgScenario(`
      r6 = r1
      r2 = 2
      r3 = 3
      r4 = 0
      call bpf_msg_pull_data#63
      r2 = *(u64 *)(r6 + 0)
      r3 = *(u64 *)(r6 + 8)
      r4 = r2
      r4 += 1
      if r4 > r3 goto out
      r5 = 255
      *(u8 *)(r2 + 0) = r5
    out:
      r0 = 1
      exit`, [{ op: 'send', sock: 'c1', data: bytes(1, 2, 3, 4, 5) }, { op: 'send', sock: 'c1', data: bytes(9) }]));
  });

  it('push(1,3): lengths match (pushed bytes are garbage in the kernel)', () => {
    const { kernel, model } = differential(msgScenario('r2 = 1\nr3 = 3\nr4 = 0\ncall bpf_msg_push_data#90\nr0 = 1\nexit', [{ op: 'send', sock: 'c1', data: bytes(1, 2, 3, 4, 5) }]), { lengthOnly: ['p1'] });
    for (const r of [kernel, model]) {
      expect(r.sockets.p1!.data[0]).toBe(1);
      expect(hex(r.sockets.p1!.data.slice(4))).toBe('02030405');
    }
  });

  it('pop + DROP: delta keeps the result at -EACCES', () => {
    differential(msgScenario('r2 = 0\nr3 = 2\nr4 = 0\ncall bpf_msg_pop_data#91\nr0 = 0\nexit', [{ op: 'send', sock: 'c1', data: bytes(1, 2, 3) }]));
  });

  it('data_end - data follows the shared page fragment (continued while referenced)', () => {
    differential(msgScenario(recordSizes, [
      { op: 'send', sock: 'c1', data: patternBytes(40000) },
      { op: 'send', sock: 'c1', data: patternBytes(1) },
      { op: 'send', sock: 'c1', data: patternBytes(100) },
      { op: 'send', sock: 'c1', data: patternBytes(4096) },
      { op: 'sendfile', sock: 'c1', len: 5000 },
      { op: 'send', sock: 'c1', data: patternBytes(20000) },
    ], { maps: [{ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16 }] }));
  });

  it('data_end - data after the receiver read everything: the fragment page restarts at 0', () => {
    differential(msgScenario(recordSizes, [
      { op: 'send', sock: 'c1', data: patternBytes(300) },
      { op: 'recv', sock: 'p1', maxLen: 1000, timeoutMs: 300 },
      { op: 'send', sock: 'c1', data: patternBytes(32700) },
    ], { maps: [{ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16 }] }));
  });

  it('ENOSPC: a 600000-byte send is judged as two sk_msgs (17 elements, then the rest)', () => {
    differential(msgScenario(recordSizes, [
      { op: 'send', sock: 'c1', data: patternBytes(600000) },
      { op: 'runCount', prog: 0 },
    ], { maps: [{ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16 }] }));
  });

  it('sticky DROP survives delete + re-insert (EBUSY) while the socket is in another map', () => {
    differential(msgScenario(DROP, [
      { op: 'sockUpdate', map: 1, key: 0, sock: 'c1' },
      { op: 'send', sock: 'c1', data: bytes(1) },
      { op: 'mapDelete', map: 0, key: 0 },
      { op: 'send', sock: 'c1', data: bytes(2) },
      { op: 'sockUpdate', map: 0, key: 0, sock: 'c1' },
      { op: 'send', sock: 'c1', data: bytes(3) },
    ], { maps: [sockmap()] }));
  });

  it('a socket deleted from its only map sends natively again; close removes it from maps', () => {
    differential(msgScenario(DROP, [
      { op: 'send', sock: 'c1', data: bytes(1) },
      { op: 'mapDelete', map: 0, key: 0 },
      { op: 'send', sock: 'c1', data: bytes(2, 3) },
      { op: 'sockUpdate', map: 0, key: 1, sock: 'p1' },
      { op: 'close', sock: 'p1' },
      { op: 'mapLookup', map: 0, key: 1 },
      { op: 'send', sock: 'c1', data: bytes(4) },
    ]));
  });

  // bpf_tcp_ingress charges the target with sk_rmem_schedule only (no SO_RCVBUF check, unlike SK_SKB ingress
  // redirects, sk_skb_rx.ts): ten 1000-byte sends all land in a target whose SO_RCVBUF is 1152 (2304).
  it('SK_MSG redirect ingress is not limited by the target\'s SO_RCVBUF', () => {
    const prog = msgRedirect(1, 0, 1);
    differential(
      msgScenario(prog, [
        ...tcpPair('l2', 'c2', 'p2'),
        { op: 'sockUpdate', map: 1, key: 0, sock: 'p2' },
        { op: 'setsockopt', sock: 'p2', opt: SockOpt.SO_RCVBUF, value: 1152 },
        ...Array.from({ length: 10 }, () => ({ op: 'send', sock: 'c1', data: patternBytes(1000) }) as ScenarioStep),
        { op: 'fionread', sock: 'p2' },
        { op: 'recv', sock: 'p2', maxLen: 100000, timeoutMs: 50 },
      ], { maps: [sockmap()] }),
    );
  });

  it('map errors: EINVAL / E2BIG / ENOENT / EEXIST / EBUSY / EOPNOTSUPP / EBADF / ENOSPC, lookup and next key', () => {
    differential({
      maps: [sockmap(4), sockmap(4), sockhash(4), { type: MapType.SOCKMAP, keySize: 4, valueSize: 4, maxEntries: 4 }, sockhash(2)],
      progs: [skMsg(PASS)],
      steps: [
        { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_MSG_VERDICT },
        { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_MSG_VERDICT },
        ...tcpPair('l1', 'c1', 'p1'),
        { op: 'tcp', name: 'unbound' },
        { op: 'mapDelete', map: 0, key: 2 },
        { op: 'mapDelete', map: 0, key: 9 },
        { op: 'sockUpdate', map: 0, key: 4, sock: 'c1' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'c1', flags: 3 },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'c1', flags: UpdateFlags.EXIST },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'unbound' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'l1' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'c1' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'p1', flags: UpdateFlags.NOEXIST },
        { op: 'sockUpdate', map: 0, key: 1, sock: 'c1' },
        { op: 'sockUpdate', map: 0, key: 0, sock: 'c1' },
        { op: 'sockUpdate', map: 1, key: 0, sock: 'c1' },
        { op: 'sockUpdate', map: 1, key: 1, sock: 'c1' },
        { op: 'sockUpdate', map: 1, key: 1, sock: 'c1' },
        { op: 'mapUpdate', map: 1, key: 2, value: 0xffffffff },
        { op: 'mapUpdate', map: 1, key: 2, value: 1000 },
        { op: 'mapDelete', map: 2, key: 5 },
        { op: 'cookie', sock: 'c1' },
        { op: 'mapLookup', map: 1, key: 0 },
        { op: 'mapLookup', map: 1, key: 3 },
        { op: 'mapLookup', map: 1, key: 9 },
        { op: 'sockUpdate', map: 3, key: 0, sock: 'p1' },
        { op: 'mapLookup', map: 3, key: 0 },
        { op: 'mapLookup', map: 3, key: 1 },
        { op: 'mapNextKey', map: 1, key: null },
        { op: 'mapNextKey', map: 1, key: 1 },
        { op: 'mapNextKey', map: 1, key: 3 },
        { op: 'mapNextKey', map: 1, key: 77 },
        // SOCKHASH max 2: a third key → E2BIG; replacing an existing key is fine; NOEXIST on it → EEXIST.
        { op: 'sockUpdate', map: 4, key: 10, sock: 'p1' },
        { op: 'sockUpdate', map: 4, key: 20, sock: 'p1' },
        { op: 'sockUpdate', map: 4, key: 30, sock: 'p1' },
        { op: 'sockUpdate', map: 4, key: 20, sock: 'l1' },
        { op: 'sockUpdate', map: 4, key: 20, sock: 'c1', flags: UpdateFlags.NOEXIST },
        { op: 'sockUpdate', map: 4, key: 30, sock: 'c1', flags: UpdateFlags.EXIST },
        { op: 'mapNextKey', map: 4, key: null },
        { op: 'mapNextKey', map: 4, key: 99 },
        { op: 'close', sock: 'unbound' },
      ],
    });
  });

  it('programs are copied at insert: late attach has no effect, detach keeps them; detach twice → ENOENT', () => {
    differential({
      maps: [sockmap(), sockmap()],
      progs: [skMsg(DROP), skMsg(DROP)],
      steps: [
        ...tcpPair('l1', 'c1', 'p1'),
        ...tcpPair('l2', 'c2', 'p2'),
        { op: 'sockUpdate', map: 0, key: 0, sock: 'c1' },
        { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_MSG_VERDICT },
        { op: 'send', sock: 'c1', data: bytes(1, 2) },
        { op: 'attach', prog: 1, map: 1, attachType: AttachType.SK_MSG_VERDICT },
        { op: 'sockUpdate', map: 1, key: 0, sock: 'c2' },
        { op: 'detach', prog: 1, map: 1, attachType: AttachType.SK_MSG_VERDICT },
        { op: 'detach', prog: 1, map: 1, attachType: AttachType.SK_MSG_VERDICT },
        { op: 'detach', prog: 0, map: 1, attachType: AttachType.SK_MSG_VERDICT },
        { op: 'send', sock: 'c2', data: bytes(3, 4) },
      ],
    });
  });

  it('fixture sk_msg_redirect.o: map/hash × egress/ingress programs with their maps', () => {
    const spec = loadCollectionFile(new URL('../../fixtures/v3/sk_msg_redirect.o', import.meta.url).pathname);
    const mapIdx = (n: string) => spec.maps.findIndex((m) => m.name === n);
    const maps = spec.maps.map((m) => ({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries }));
    for (const name of ['msg_redir_map_egress', 'msg_redir_map_ingress', 'msg_redir_hash_egress', 'msg_redir_hash_ingress']) {
      const p = spec.programs.find((x) => x.name === name)!;
      const ingress = name.endsWith('ingress');
      const target = name.includes('hash') ? mapIdx('redir_hash') : mapIdx('redir_map');
      // Attach to a separate sockmap (index = maps.length) so the fixture maps stay pure redirect targets.
      const s: Scenario = {
        maps: [...maps, sockmap()],
        progs: [{ progType: ProgType.SK_MSG, insns: p.insns }],
        steps: [
          { op: 'attach', prog: 0, map: maps.length, attachType: AttachType.SK_MSG_VERDICT },
          ...tcpPair('l1', 'c1', 'p1'),
          ...tcpPair('l2', 'c2', 'p2'),
          { op: 'sockUpdate', map: maps.length, key: 0, sock: 'c1' },
          { op: 'send', sock: 'c1', data: patternBytes(10) },
          { op: 'sockUpdate', map: target, key: 0, sock: ingress ? 'p2' : 'c2' },
          { op: 'send', sock: 'c1', data: patternBytes(20) },
          { op: 'fionread', sock: 'p2' },
        ],
      };
      differential(s);
    }
  });
});
