// test_sockmap's built-in list: the groups and, for each, the cases it runs in order. Knobs persist inside a
// group exactly as the selftest's globals do (e.g. "pull + redirect" still runs the pass program because
// txmsg_pass stays set), and are reset at the start of each group. kTLS is left out, as the model has no kTLS
// (Linux 7.x dropped the kTLS variants too): the "ktls" pass over every group is not run, and of the "txmsg
// test skb" group only the three cases without kTLS remain.

import type { CollectionSpec } from '../spec.js';
import type { Tier } from '../../vm/interpreter.js';
import { runSockmapCase, resolveLayout, type SockmapCaseResult } from './engine.js';
import { defaultCaseOptions, type SendMode, type SockmapCaseOptions } from './options.js';

export interface SockmapGroup {
  title: string;
  /** The cases of the group, in order (send mode filled in by the caller). */
  cases: SockmapCaseOptions[];
}

/** Builds a group by replaying the selftest's steps on a mutable option set. */
function group(title: string, dataTest: boolean, body: (o: SockmapCaseOptions, exec: () => void) => void): SockmapGroup {
  const o = defaultCaseOptions();
  o.dataTest = dataTest;
  const cases: SockmapCaseOptions[] = [];
  body(o, () => cases.push({ ...o }));
  return { title, cases };
}

const sendOne = (o: SockmapCaseOptions, exec: () => void): void => {
  Object.assign(o, { length: 1, iovCount: 1, rate: 1 });
  exec();
  Object.assign(o, { length: 1, iovCount: 1024, rate: 1 });
  exec();
  Object.assign(o, { length: 1024, iovCount: 1, rate: 1 });
  exec();
};
const sendMany = (o: SockmapCaseOptions, exec: () => void): void => {
  Object.assign(o, { length: 3, iovCount: 1, rate: 512 });
  exec();
  Object.assign(o, { length: 5, iovCount: 1, rate: 100 });
  exec();
};
const sendLarge = (o: SockmapCaseOptions, exec: () => void): void => {
  Object.assign(o, { length: 8192, iovCount: 32, rate: 2 });
  exec();
};
const sendAll = (o: SockmapCaseOptions, exec: () => void): void => {
  sendOne(o, exec);
  sendMany(o, exec);
  sendLarge(o, exec);
};

/** The groups in test_sockmap's order; `dataTest` is the -d/--data_test setting the run starts with. */
export function builtinGroups(dataTest = false): SockmapGroup[] {
  const d = dataTest;
  return [
    group('txmsg test passthrough', d, (o, x) => {
      o.txmsg = true;
      sendAll(o, x);
    }),
    group('txmsg test redirect', d, (o, x) => {
      o.txmsgRedir = true;
      sendAll(o, x);
    }),
    group('txmsg test redirect wait send mem', d, (o, x) => {
      o.txmsgRedir = true;
      o.txWaitMem = true;
      sendLarge(o, x);
    }),
    group('txmsg test drop', d, (o, x) => {
      o.txmsgDrop = true;
      sendAll(o, x);
    }),
    group('txmsg test ingress redirect', d, (o, x) => {
      o.txmsgIngress = o.txmsgRedir = true;
      sendAll(o, x);
    }),
    group('txmsg test skb', d, (o, x) => {
      // Only the cases without kTLS: pass with the parser omitted, data check on, 100 bytes once.
      o.dataTest = true;
      o.txmsg = true;
      o.txmsgOmitSkbParser = true;
      Object.assign(o, { length: 100, iovCount: 1, rate: 1 });
      x();
      o.ktlsSkbDrop = true;
      x();
      o.ktlsSkbDrop = false;
      x(); // ktls_skb_redir without kTLS changes nothing
    }),
    group('txmsg test apply', d, (o, x) => {
      const set = (pass: boolean, redir: boolean, ingress: boolean, apply: number): void => {
        Object.assign(o, { txmsg: pass, txmsgRedir: redir, txmsgIngress: ingress, txmsgApply: apply, txmsgCork: 0 });
      };
      set(true, false, false, 1);
      sendOne(o, x);
      set(false, true, false, 1);
      sendOne(o, x);
      set(false, true, true, 1);
      sendOne(o, x);
      set(true, false, false, 1024);
      sendLarge(o, x);
      set(false, true, false, 1024);
      sendLarge(o, x);
      set(false, true, true, 1024);
      sendLarge(o, x);
    }),
    group('txmsg test cork', d, (o, x) => {
      Object.assign(o, { txmsg: true, txmsgRedir: false, txmsgApply: 0, txmsgCork: 1 });
      sendAll(o, x);
      Object.assign(o, { txmsg: true, txmsgRedir: false, txmsgApply: 1, txmsgCork: 1 });
      sendAll(o, x);
    }),
    group('txmsg test hanging corks', d, (o, x) => {
      Object.assign(o, { txmsg: true, txmsgRedir: false, txmsgCork: 4097, txmsgApply: 4097 });
      sendLarge(o, x);
      Object.assign(o, { txmsg: false, txmsgRedir: true, txmsgApply: 0, txmsgCork: 4097 });
      sendLarge(o, x);
      Object.assign(o, { txmsg: false, txmsgRedir: true, txmsgApply: 4097, txmsgCork: 4097 });
      sendLarge(o, x);
    }),
    group('txmsg test push_data', d, (o, x) => {
      const data = o.dataTest;
      Object.assign(o, { txmsg: true, txmsgStartPush: 1, txmsgEndPush: 1 });
      sendAll(o, x);
      Object.assign(o, { txmsg: true, txmsgStartPush: 4096, txmsgEndPush: 4096 });
      sendLarge(o, x);
      Object.assign(o, { txmsgRedir: true, txmsgStartPush: 1, txmsgEndPush: 2 });
      sendMany(o, x);
      o.dataTest = false;
      Object.assign(o, { txmsgRedir: false, txmsgCork: 512, txmsgStartPush: 1, txmsgEndPush: 2 });
      sendMany(o, x);
      o.dataTest = data;
    }),
    group('txmsg test pull-data', d, (o, x) => {
      Object.assign(o, { txmsg: true, txmsgStart: 1, txmsgEnd: 2 });
      sendAll(o, x);
      Object.assign(o, { txmsg: true, txmsgStart: 4096, txmsgEnd: 9182 });
      sendLarge(o, x);
      Object.assign(o, { txmsgRedir: true, txmsgStart: 1, txmsgEnd: 2 });
      sendAll(o, x);
      Object.assign(o, { txmsgRedir: false, txmsgCork: 512, txmsgStart: 1, txmsgEnd: 2 });
      sendMany(o, x);
      Object.assign(o, { txmsgRedir: true, txmsgCork: 512, txmsgStart: 1, txmsgEnd: 2 });
      sendMany(o, x);
    }),
    group('txmsg test pop-data', d, (o, x) => {
      const data = o.dataTest;
      Object.assign(o, { txmsg: true, txmsgStartPop: 1, txmsgPop: 2 });
      sendMany(o, x);
      Object.assign(o, { txmsg: true, txmsgStartPop: 4096, txmsgPop: 4096 });
      sendLarge(o, x);
      Object.assign(o, { txmsgRedir: true, txmsgStartPop: 1, txmsgPop: 2 });
      sendMany(o, x);
      o.dataTest = false;
      Object.assign(o, { txmsgRedir: false, txmsgCork: 512, txmsgStartPop: 1, txmsgPop: 2 });
      sendMany(o, x);
      Object.assign(o, { txmsgRedir: true, txmsgCork: 4, txmsgStartPop: 1, txmsgPop: 2 });
      sendMany(o, x);
      o.dataTest = data;
    }),
    group('txmsg test push/pop data', d, (o, x) => {
      Object.assign(o, { txmsg: true, txmsgStartPush: 1, txmsgEndPush: 10, txmsgStartPop: 5, txmsgPop: 4 });
      sendLarge(o, x);
    }),
    group('txmsg test ingress parser', d, (o, x) => {
      Object.assign(o, { txmsg: true, skbUseParser: 512, length: 256, iovCount: 1, rate: 2 });
      x();
    }),
    group('txmsg test ingress parser2', d, (o, x) => {
      Object.assign(o, { skbUseParser: 10, length: 20, iovCount: 1, rate: 1, checkRecvedLen: true });
      x();
    }),
  ];
}

export interface SockmapAllOptions {
  /** Send mode for every case; default: sendmsg for a SOCKMAP object, sendpage for a SOCKHASH one (as test_sockmap). */
  test?: SendMode;
  /** --data_test for every case (groups that turn it off still do). */
  dataTest?: boolean;
  tier?: Tier;
  /** Called after each group with its line. */
  onGroup?: (g: SockmapGroupResult) => void;
  /** test_sockmap's --whitelist: run only groups whose title (or the type, "sockmap"/"sockhash") contains one of these. */
  whitelist?: string[];
  /** test_sockmap's --blacklist: skip groups whose title (or type) contains one of these. */
  blacklist?: string[];
}

export interface SockmapGroupResult {
  /** 1-based group number. */
  n: number;
  title: string;
  /** "sockmap" or "sockhash" (the object's sock_map type). */
  type: string;
  ok: boolean;
  cases: SockmapCaseResult[];
  /** test_sockmap's line: `#N/M type::title:OK|FAIL` with M = number of cases. */
  line: string;
}

export interface SockmapAllResult {
  groups: SockmapGroupResult[];
  pass: number;
  fail: number;
}

/** Runs the built-in list. A group is OK when none of its cases failed. */
export function runSockmapAll(spec: CollectionSpec, opts: SockmapAllOptions = {}): SockmapAllResult {
  const layout = resolveLayout(spec);
  const type = layout.sockMapType === 15 ? 'sockmap' : 'sockhash';
  const test: SendMode = opts.test ?? (layout.sockMapType === 15 ? 'sendmsg' : 'sendpage');
  const out: SockmapAllResult = { groups: [], pass: 0, fail: 0 };
  builtinGroups(opts.dataTest ?? false).forEach((g, i) => {
    const hit = (list: string[]): boolean => list.some((w) => g.title.includes(w) || type.includes(w));
    if (opts.whitelist !== undefined && !hit(opts.whitelist)) return;
    if (opts.blacklist !== undefined && hit(opts.blacklist)) return;
    const cases = g.cases.map((c) => runSockmapCase(spec, { ...c, test }, opts.tier !== undefined ? { tier: opts.tier } : {}));
    const failed = cases.some((c) => !c.ok);
    const status = failed ? 'FAIL' : 'OK';
    if (failed) out.fail++;
    else out.pass++;
    const line = `#${String(i + 1).padStart(2)}/${String(cases.length).padStart(2)} ${type.padStart(8)}::${g.title}:${status}`;
    const gr: SockmapGroupResult = { n: i + 1, title: g.title, type, ok: !failed, cases, line };
    out.groups.push(gr);
    opts.onGroup?.(gr);
  });
  return out;
}
