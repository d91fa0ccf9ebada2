/**
 * SK_SKB differential tests: the same sk_skb scenarios (strparser and verdict mode, PASS / DROP / redirect
 * ingress and egress through SOCKMAP and SOCKHASH, framing, helpers, FIN, unusable targets) run on real
 * loopback sockets in the host kernel (test/kernel/sockrun.ts) and in the model (src/kernel/sk_skb_rx.ts);
 * send/recv results, bytes at every socket, SO_ERROR, run counts and map contents must agree
 * (test/model/differential.ts). Skipped with the reason when the kernel oracle is unavailable.
 */
import { describe, it } from 'vitest';
import { loadCollectionFile } from '../../src/elf/index.js';
import { AttachType, MapType, SockOpt, patternBytes, sockAvailability, tcpPair, type Scenario, type ScenarioStep } from '../kernel/sockrun.js';
import { DROP, PASS, PARSE_LEN, bytes, redirectVerdict, skSkb, skbScenario, sockhash, sockmap } from '../kernel/sockrun-scenarios.js';
import { differential } from './differential.js';

const avail = sockAvailability();
const suite = avail.ok ? describe : describe.skip;
if (!avail.ok) console.warn(`sk_skb differential tests skipped: ${avail.reason}`);

const send = (sock: string, data: Uint8Array, label?: string): ScenarioStep => ({ op: 'send', sock, data, ...(label ? { label } : {}) });
const recv = (sock: string, maxLen = 1000, extra: Partial<{ peek: boolean; timeoutMs: number }> = {}): ScenarioStep => ({ op: 'recv', sock, maxLen, timeoutMs: extra.timeoutMs ?? 200, ...(extra.peek ? { peek: true } : {}) });
const runs: ScenarioStep[] = [{ op: 'sleep', ms: 20 }, { op: 'runCount', prog: 0 }, { op: 'runCount', prog: 1 }];
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** An ARRAY map (index 1) of `n` u64 slots the programs record into. */
const recMap = (n = 4) => ({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: n });
/** Stores r0 (as u64) into slot `idx` of map 1; clobbers r1-r5 and the stack below r10-16. */
const storeR0 = (idx: number): string => `
  *(u64 *)(r10 - 8) = r0
  *(u32 *)(r10 - 12) = ${idx}
  r1 = map[idx:1]
  r2 = r10
  r2 += -12
  r3 = r10
  r3 += -8
  r4 = 0
  call bpf_map_update_elem#2`;

suite('sk_skb model vs host kernel (differential)', () => {
  it('strparser (parser = skb->len) + verdict PASS: send, FIONREAD, peek, merged recv, FIN → EOF', () => {
    differential(
      skbScenario({ parser: PARSE_LEN, verdict: PASS }, [
        send('c1', text('hello ')),
        send('c1', text('sk_skb')),
        { op: 'fionread', sock: 'p1' },
        recv('p1', 3, { peek: true }),
        recv('p1', 8),
        send('c1', patternBytes(3000)),
        recv('p1', 5000),
        ...runs,
        { op: 'shutdown', sock: 'c1', how: 'wr' },
        recv('p1'),
      ]),
    );
  });

  it('strparser + verdict DROP: nothing readable, send still succeeds', () => {
    differential(skbScenario({ parser: PARSE_LEN, verdict: DROP }, [send('c1', patternBytes(100)), recv('p1', 1000, { timeoutMs: 50 }), { op: 'fionread', sock: 'p1' }, ...runs]));
  });

  for (const hash of [false, true]) {
    for (const ingress of [false, true]) {
      const kind = `${hash ? 'SOCKHASH' : 'SOCKMAP'} ${ingress ? 'ingress' : 'egress'}`;
      it(`strparser + redirect ${kind}: bytes at ${ingress ? 'the target itself' : "the target's peer"}`, () => {
        differential(
          skbScenario({ parser: PARSE_LEN, verdict: redirectVerdict(0, 1, ingress ? 1 : 0, hash), hash, target: ingress ? 'p2' : 'c2' }, [
            send('c1', patternBytes(200)),
            send('c1', patternBytes(50)),
            { op: 'sleep', ms: 20 }, // the backlog worker runs asynchronously in the kernel
            { op: 'fionread', sock: ingress ? 'p2' : 'p1' },
            recv(ingress ? 'p2' : 'p2', 120),
            ...runs,
          ]),
        );
      });
      it(`verdict mode (skb_verdict) + redirect ${kind}`, () => {
        differential(
          skbScenario({ verdict: redirectVerdict(0, 1, ingress ? 1 : 0, hash), skbVerdict: true, hash, target: ingress ? 'p2' : 'c2' }, [
            send('c1', patternBytes(64)),
            send('c1', patternBytes(7)),
            { op: 'sleep', ms: 20 },
            { op: 'fionread', sock: 'p2' },
            recv('p2', 30),
            ...runs,
          ]),
        );
      });
    }
  }

  it('verdict mode: skb_verdict PASS per skb, stream_verdict without parser DROP', () => {
    differential(skbScenario({ verdict: PASS, skbVerdict: true }, [send('c1', patternBytes(10)), send('c1', patternBytes(20)), { op: 'fionread', sock: 'p1' }, recv('p1', 25), ...runs, { op: 'close', sock: 'c1' }, recv('p1')]));
    differential(skbScenario({ verdict: DROP }, [send('c1', patternBytes(10)), recv('p1', 100, { timeoutMs: 50 }), ...runs, { op: 'shutdown', sock: 'c1', how: 'wr' }, recv('p1'), ...runs]));
  });
});
