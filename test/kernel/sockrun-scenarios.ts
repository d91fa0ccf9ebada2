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
