/**
 * Data TCP holds back behind MSG_MORE, model vs host kernel: when does it leave? (socket.ts, "Time and the TCP
 * timers"). tcp_bpf_push sends an apply_bytes chunk shorter than its scatterlist element with MSG_MORE, so a
 * cork that re-engages in the middle of a flush leaves the chunks already pushed in the sender's TCP write queue.
 * The kernel sends them when the peer ACKs earlier data (at once when the peer's queue is emptied by a read,
 * else on its delayed-ACK timer, 40 ms) or, when nothing was in flight, on the probe timer (~200 ms). The
 * scenarios use the program "apply 10, cork 100, SK_PASS"; the model's virtual clock moves with the harness's
 * recv timeouts and sleep steps. Skipped with the reason when the kernel oracle is unavailable.
 */
import { describe, it } from 'vitest';
import { patternBytes, sockAvailability, type ScenarioStep } from '../kernel/sockrun.js';
import { applyCork, msgScenario } from '../kernel/sockrun-scenarios.js';
import { differential } from './differential.js';

const avail = sockAvailability();
const suite = avail.ok ? describe : describe.skip;
if (!avail.ok) console.warn(`TCP timer differential tests skipped: ${avail.reason}`);

const APPLY10_CORK100 = applyCork();

// One send(40000): 32768 bytes (the first scatterlist element, whose last chunk goes without MSG_MORE) are
// transmitted; the next 7142 bytes are pushed in 10-byte chunks with MSG_MORE and held; the last 90 bytes stay
// in the psock's cork (90 < 100). The program runs 3992 times.
const big = (): ScenarioStep[] => [{ op: 'send', sock: 'c1', data: patternBytes(40000) }];

suite('TCP-held data (MSG_MORE) vs the host kernel', () => {
  it('held behind transmitted data: the ACK sent when the reader empties its queue releases it', () => {
    differential(
      msgScenario(APPLY10_CORK100, [
        ...big(),
        { op: 'recv', sock: 'p1', maxLen: 1 << 20, timeoutMs: 0 },
        { op: 'sleep', ms: 5 },
        { op: 'recv', sock: 'p1', maxLen: 1 << 20, timeoutMs: 0 },
      ]),
    );
  });

  it('held behind transmitted data, nobody reads: the peer\'s delayed-ACK timer (40 ms) releases it', () => {
    differential(
      msgScenario(APPLY10_CORK100, [
        ...big(),
        { op: 'sleep', ms: 60 },
        { op: 'recv', sock: 'p1', maxLen: 1 << 20, timeoutMs: 0 },
      ]),
    );
  });

  it('held with nothing in flight: still held after 50 ms, sent by the probe timer (~200 ms)', () => {
    const sends: ScenarioStep[] = [0, 1, 2, 3].map((i) => ({ op: 'send', sock: 'c1', data: patternBytes(120).slice(30 * i, 30 * i + 30) }));
    differential(
      msgScenario(APPLY10_CORK100, [
        ...sends,
        { op: 'recv', sock: 'p1', maxLen: 1000, timeoutMs: 50 },
        { op: 'recv', sock: 'p1', maxLen: 1000, timeoutMs: 400 },
      ]),
    );
  });
});
