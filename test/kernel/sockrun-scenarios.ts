// Building blocks for sockmap scenarios, shared by the kernel harness's own tests (sockrun.test.ts) and the
// model-vs-kernel differential tests (test/model/sockmap-kernel.test.ts), so both run the same programs.

import { assemble } from '../../vm/asm.js';
import { AttachType, MapType, ProgType, tcpPair, type Scenario, type ScenarioStep } from './sockrun.js';

export const hexOf = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array(0)).toString('hex');
export const bytes = (...v: number[]): Uint8Array => new Uint8Array(v);

/** A SOCKMAP / SOCKHASH with 8-byte values (so the final dump can name the members). */
export const sockmap = (maxEntries = 8) => ({ type: MapType.SOCKMAP, keySize: 4, valueSize: 8, maxEntries });
export const sockhash = (maxEntries = 8) => ({ type: MapType.SOCKHASH, keySize: 4, valueSize: 8, maxEntries });
export const skMsg = (src: string) => ({ progType: ProgType.SK_MSG, insns: assemble(src) });

export const PASS = 'r0 = 1\nexit';
export const DROP = 'r0 = 0\nexit';

/** SK_MSG: bpf_msg_apply_bytes(10), bpf_msg_cork_bytes(100), then `tail` (the verdict; SK_PASS by default). */
export const applyCork = (tail = PASS): string => `
  r6 = r1
  r2 = 10
  call bpf_msg_apply_bytes#61
  r1 = r6
  r2 = 100
  call bpf_msg_cork_bytes#62
  ${tail}`;

/** SK_MSG verdict: bpf_msg_redirect_map(msg, map `map`, key `key`, `flags`) (r1 = the msg on entry). */
export const msgRedirect = (map: number, key: number, flags: number): string =>
  `r2 = map[idx:${map}]\nr3 = ${key}\nr4 = ${flags}\ncall bpf_msg_redirect_map#60\nexit`;

/**
 * sk_msg scenario skeleton: map 0 = SOCKMAP with the SK_MSG program 0 attached (before any insert), pair
 * c1→p1 with c1 in map 0 at key 0 (step label `insert`). Extra maps/progs/steps are appended.
 */
export function msgScenario(prog: string, steps: ScenarioStep[], extra: Partial<Scenario> = {}): Scenario {
  return {
    maps: [sockmap(), ...(extra.maps ?? [])],
    progs: [skMsg(prog), ...(extra.progs ?? [])],
    steps: [
      { op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_MSG_VERDICT },
      ...tcpPair('l1', 'c1', 'p1'),
      { op: 'sockUpdate', map: 0, key: 0, sock: 'c1', label: 'insert' },
      ...steps,
    ],
    ...(extra.drainMs !== undefined ? { drainMs: extra.drainMs } : {}),
  };
}

// ---- sk_skb ---------------------------------------------------------------------------------------------------

export const skSkb = (src: string, expectedAttachType?: number) => ({
  progType: ProgType.SK_SKB,
  ...(expectedAttachType !== undefined ? { expectedAttachType } : {}),
  insns: assemble(src),
});

/** A stream parser that frames whole skbs (returns skb->len). */
export const PARSE_LEN = 'r0 = *(u32 *)(r1 + 0)\nexit';

/** A verdict that redirects to key `key` of map `map` (SOCKMAP: sk_redirect_map, SOCKHASH: sk_redirect_hash). */
export function redirectVerdict(map: number, key: number, flags: number, hash = false): string {
  return hash
    ? `
      *(u32 *)(r10 - 4) = ${key}
      r2 = map[idx:${map}]
      r3 = r10
      r3 += -4
      r4 = ${flags}
      call bpf_sk_redirect_hash#72
      exit`
    : `
      r2 = map[idx:${map}]
      r3 = ${key}
      r4 = ${flags}
      call bpf_sk_redirect_map#52
      exit`;
}

/**
 * sk_skb scenario skeleton: map 0 = SOCKMAP (or SOCKHASH with `hash`) with the given parser (optional) and
 * verdict attached before any insert (verdict as STREAM_VERDICT, or SKB_VERDICT with `skbVerdict`); pairs
 * c1→p1 and c2→p2; p1 inserted at key 0 (label `insert`), and with `target` that socket at key 1 (label
 * `insert2`). Extra maps/progs come after (map 1.., prog 2..).
 */
export function skbScenario(
  o: { parser?: string; verdict: string; skbVerdict?: boolean; hash?: boolean; target?: string; maps?: Scenario['maps']; progs?: Scenario['progs']; drainMs?: number },
  steps: ScenarioStep[],
): Scenario {
  const vType = o.skbVerdict ? AttachType.SK_SKB_VERDICT : AttachType.SK_SKB_STREAM_VERDICT;
  const progs = [
    skSkb(o.parser ?? PARSE_LEN, AttachType.SK_SKB_STREAM_PARSER),
    skSkb(o.verdict, vType),
    ...(o.progs ?? []),
  ];
  return {
    maps: [o.hash ? sockhash() : sockmap(), ...(o.maps ?? [])],
    progs,
    steps: [
      ...(o.parser !== undefined ? [{ op: 'attach', prog: 0, map: 0, attachType: AttachType.SK_SKB_STREAM_PARSER } as ScenarioStep] : []),
      { op: 'attach', prog: 1, map: 0, attachType: vType },
      ...tcpPair('l1', 'c1', 'p1'),
      ...tcpPair('l2', 'c2', 'p2'),
      { op: 'sockUpdate', map: 0, key: 0, sock: 'p1', label: 'insert' },
      ...(o.target !== undefined ? [{ op: 'sockUpdate', map: 0, key: 1, sock: o.target, label: 'insert2' } as ScenarioStep] : []),
      ...steps,
    ],
    ...(o.drainMs !== undefined ? { drainMs: o.drainMs } : {}),
  };
}
