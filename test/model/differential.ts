/**
 * The model-vs-kernel comparison used by the differential tests (test/model/sockmap-kernel.test.ts for sk_msg,
 * test/model/sk-skb-kernel.test.ts for sk_skb): one Scenario runs in the host kernel (test/kernel/sockrun.ts)
 * and in the model (sockmap-harness.ts); a normalised view of both results must be equal: step results (send()
 * returns, recv() bytes, map errnos, FIONREAD, run counts), the bytes at every open socket in the final drain
 * with EOF / SO_ERROR / recv errno, program run counts and map contents.
 *
 * Not compared: ports and cookie values (the kernel's differ; cookie *equality* between steps is compared),
 * sockets listed in `lengthOnly` (data compared by length), and map value bytes a `maskEntry` hook blanks.
 */
import { expect } from 'vitest';
import { runScenario, type Scenario, type ScenarioResult } from '../kernel/sockrun.js';
import { hexOf as hex } from '../kernel/sockrun-scenarios.js';
import { runModelScenario } from './sockmap-harness.js';

export interface CompareOpts {
  /** Sockets whose data is compared by length only (pushed bytes are garbage in the kernel). */
  lengthOnly?: string[];
  /** Rewrites a plain map's value before comparing (to blank bytes the kernel fills at random, e.g. ports). */
  maskEntry?: (map: number, key: Uint8Array, value: Uint8Array, r: ScenarioResult) => Uint8Array;
}

/** A normalised view of a result: everything the model must reproduce. */
export function view(s: Scenario, r: ScenarioResult, opts: CompareOpts = {}): unknown {
  const cookies: string[] = [];
  const steps = r.steps.map((st, i) => {
    const op = s.steps[i]!.op;
    if (op === 'cookie' || (op === 'mapLookup' && st.ret === 0 && s.maps![(s.steps[i] as { map: number }).map]!.type >= 15)) {
      const h = hex(st.data);
      if (!cookies.includes(h)) cookies.push(h);
      return { op, ret: st.ret, cookie: cookies.indexOf(h) };
    }
    const sock = (s.steps[i] as { sock?: string }).sock;
    if (op === 'recv' && sock !== undefined && opts.lengthOnly?.includes(sock)) return { op, ret: st.ret };
    return { op, ret: st.ret, ...(st.data !== undefined && st.ret >= 0 ? { data: hex(st.data) } : {}) };
  });
  const sockets = Object.fromEntries(
    Object.values(r.sockets)
      .filter((k) => k.open)
      .map((k) => [k.name, { data: opts.lengthOnly?.includes(k.name) ? k.data.length : hex(k.data), eof: k.eof, soError: k.soError, recvErrno: k.recvErrno }]),
  );
  const mask = opts.maskEntry ?? ((_m: number, _k: Uint8Array, v: Uint8Array) => v);
  return {
    ok: r.ok,
    steps,
    sockets,
    runs: r.statsEnabled ? r.progs.map((p) => p.runCnt) : null,
    // HASH iteration order depends on a random seed: entries are sorted.
    maps: r.maps.map((m, i) => ({ socks: m.socks?.map((x) => [hex(x.key), x.sock]), lookupErrno: m.lookupErrno ?? 0, entries: m.entries?.map((e) => [hex(e.key), hex(mask(i, e.key, e.value, r))]).sort() })),
  };
}

/** Runs `s` in both; returns both results after asserting they agree. */
export function differential(s: Scenario, opts: CompareOpts = {}): { kernel: ScenarioResult; model: ScenarioResult } {
  const kernel = runScenario(s);
  const model = runModelScenario(s).result;
  const k = view(s, kernel, opts) as { runs: number[] | null };
  const m = view(s, model, opts) as { runs: number[] | null };
  if (k.runs === null) m.runs = null;
  expect(m).toEqual(k);
  return { kernel, model };
}
