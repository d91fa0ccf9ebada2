// JSON scenario files (`bpfvm scenario FILE`): the scenario API as data. Format (README "bpfvm scenario"):
//
//   { "object": "sockmap_layout.o",                  // optional; relative to the scenario file
//     "maps": [ { "name", "type", "keySize", "valueSize", "maxEntries", "flags"?,      // only without object
//                 "spinLock"?: OFFSET, "timer"?: OFFSET } ],  // a struct bpf_spin_lock / bpf_timer in the value
//     "programs": [ { "name", "type": "sk_msg"|"sk_skb"|"sock_ops", "asm": "...", "attachType"? } ],
//     "steps": [ { "op": "...", ...arguments, "expect"?: { "ret"?: N, "data"?: DATA, "bytes"?: N } } ],
//     "expect"?: { "sockets"?: { NAME: { "data"?: DATA, "bytes"?: N } }, "runs"?: { PROG: N },
//                  "maps"?: { MAP: [ { "key": KEY, "sock"?: NAME|null, "value"?: DATA } ] } } }
//
// DATA: a hex string ("01 02 ff"), { "text": "..." }, { "pattern": N } (bytes 0,1,2,… mod 256), { "zeros": N },
// or an array of byte values. KEY: a number (little-endian in the key size), or DATA.
// Every step yields { op, ret } (ret >= 0 or -errno) plus data/port where it has them. Virtual time (one clock:
// README "Virtual time"): { "op": "sleep", "ms": N } and { "op": "advance", "ns": N } both move it on, firing the
// TCP timers and BPF timer callbacks that fall due, in time order (sleep: ret 0, like nanosleep; advance: ret =
// how many BPF timer callbacks ran). After the last step every open socket is drained and reported; the run is
// ok when every expectation holds.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { MapSpec } from '../spec.js';
import { SocketScenario, ScenarioError, type ScenarioSnapshot } from './api.js';
import type { ValueField } from '../btf/fields.js';
import { toHex } from '../bytes.js';

export type ScenarioData = string | number[] | { text: string } | { pattern: number } | { zeros: number };

export interface ScenarioFile {
  object?: string;
  maps?: { name: string; type: number | string; keySize: number; valueSize: number; maxEntries: number; flags?: number; spinLock?: number; timer?: number }[];
  programs?: { name: string; type: string | number; asm: string; attachType?: string | number }[];
  steps: ScenarioFileStep[];
  expect?: {
    sockets?: Record<string, { data?: ScenarioData; bytes?: number }>;
    runs?: Record<string, number>;
    maps?: Record<string, { key: number | ScenarioData; sock?: string | null; value?: ScenarioData }[]>;
  };
}

export interface StepExpect {
  ret?: number;
  data?: ScenarioData;
  bytes?: number;
}

export type ScenarioFileStep = { op: string; expect?: StepExpect; [arg: string]: unknown };

export interface ScenarioStepResult {
  op: string;
  ret: number;
  data?: string;
  port?: number;
  /** Expectation mismatches of this step (absent when it had none or all held). */
  failed?: string[];
}

export interface ScenarioFileResult {
  ok: boolean;
  steps: ScenarioStepResult[];
  /** Bytes read from each open socket after the last step (hex), and whether it is open. */
  sockets: Record<string, { open: boolean; data: string }>;
  maps: ScenarioSnapshot['maps'];
  runs: Record<string, number>;
  /** Every expectation that did not hold, with where. */
  failures: string[];
}

const MAP_TYPES: Record<string, number> = { hash: 1, array: 2, sockmap: 15, sockhash: 18 };

/** DATA → bytes. */
export function scenarioBytes(d: unknown, where: string): Uint8Array {
  if (typeof d === 'string') {
    const h = d.replace(/0x/gi, '').replace(/[\s,:]/g, '');
    if (!/^([0-9a-fA-F]{2})*$/.test(h)) throw new ScenarioError(`${where}: "${d}" is not hex bytes`);
    return new Uint8Array(Buffer.from(h, 'hex'));
  }
  if (Array.isArray(d)) {
    if (!d.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) throw new ScenarioError(`${where}: byte arrays hold integers 0..255`);
    return new Uint8Array(d as number[]);
  }
  if (d !== null && typeof d === 'object') {
    const o = d as Record<string, unknown>;
    if (typeof o.text === 'string') return new TextEncoder().encode(o.text);
    const n = (k: string): number => {
      const v = o[k];
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 1 << 26) throw new ScenarioError(`${where}: "${k}" takes a byte count 0..${1 << 26}`);
      return v as number;
    };
    if ('pattern' in o) {
      const b = new Uint8Array(n('pattern'));
      for (let i = 0; i < b.length; i++) b[i] = i & 0xff;
      return b;
    }
    if ('zeros' in o) return new Uint8Array(n('zeros'));
  }
  throw new ScenarioError(`${where}: data must be a hex string, a byte array, {"text"}, {"pattern": N} or {"zeros": N}`);
}

function keyArg(k: unknown, where: string): number | Uint8Array {
  if (typeof k === 'number') {
    if (!Number.isSafeInteger(k) || k < 0) throw new ScenarioError(`${where}: key ${k} is not a non-negative integer`);
    return k;
  }
  return scenarioBytes(k, where);
}

/** Parses and checks a scenario file's JSON text. */
export function parseScenarioFile(text: string, file = 'scenario'): ScenarioFile {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new ScenarioError(`${file}: the scenario must be a JSON object`);
  const o = j as Record<string, unknown>;
  if (!Array.isArray(o.steps)) throw new ScenarioError(`${file}: "steps" must be an array`);
  o.steps.forEach((s, i) => {
    if (s === null || typeof s !== 'object' || typeof (s as { op?: unknown }).op !== 'string') throw new ScenarioError(`${file}: step ${i + 1} needs an "op" string`);
  });
  if (o.object !== undefined && typeof o.object !== 'string') throw new ScenarioError(`${file}: "object" must be a path string`);
  if (o.maps !== undefined && !Array.isArray(o.maps)) throw new ScenarioError(`${file}: "maps" must be an array`);
  if (o.programs !== undefined && !Array.isArray(o.programs)) throw new ScenarioError(`${file}: "programs" must be an array`);
  return o as unknown as ScenarioFile;
}

/** Reads, parses and runs a scenario file (object paths relative to the file). */
export function runScenarioPath(path: string): ScenarioFileResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ScenarioError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return runScenarioFile(parseScenarioFile(text, path), dirname(path), path);
}

/** Runs a parsed scenario; `baseDir` resolves a relative "object" path. */
export function runScenarioFile(f: ScenarioFile, baseDir = '.', file = 'scenario'): ScenarioFileResult {
  const maps: MapSpec[] | undefined = f.maps?.map((m, i) => {
    const type = typeof m.type === 'string' ? MAP_TYPES[m.type] : m.type;
    if (type === undefined || typeof m.name !== 'string') throw new ScenarioError(`${file}: map ${i + 1} needs a "name" and a "type" (a number or ${Object.keys(MAP_TYPES).join(', ')})`);
    const fields: ValueField[] = [];
    for (const [kind, size, off] of [['spin_lock', 4, m.spinLock], ['timer', 16, m.timer]] as const) {
      if (off === undefined) continue;
      if (!Number.isSafeInteger(off) || off < 0) throw new ScenarioError(`${file}: map ${m.name}: "${kind === 'spin_lock' ? 'spinLock' : 'timer'}" must be a byte offset`);
      fields.push({ kind, offset: off, size });
    }
    return {
      name: m.name, type, typeName: '', keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags ?? 0, section: '.maps',
      ...(fields.length > 0 ? { valueFields: { fields: fields.sort((a, b) => a.offset - b.offset) } } : {}),
    };
  });
  const objectPath = f.object === undefined ? undefined : isAbsolute(f.object) ? f.object : resolve(baseDir, f.object);
  let sc: SocketScenario;
  try {
    sc = new SocketScenario({ ...(objectPath !== undefined ? { object: objectPath } : {}), ...(maps !== undefined ? { maps } : {}) });
  } catch (e) {
    if (e instanceof ScenarioError) throw new ScenarioError(`${file}: ${e.message}`);
    throw e;
  }
  for (const p of f.programs ?? []) sc.loadProgram(p.name, p.type, p.asm, p.attachType);

  const failures: string[] = [];
  const steps: ScenarioStepResult[] = [];
  f.steps.forEach((st, i) => {
    const where = `${file}: step ${i + 1} (${st.op})`;
    let r: ScenarioStepResult;
    try {
      r = runStep(sc, st, where);
    } catch (e) {
      if (e instanceof ScenarioError && !e.message.startsWith(file)) throw new ScenarioError(`${where}: ${e.message}`);
      throw e;
    }
    const ex = st.expect;
    if (ex !== undefined) {
      const bad: string[] = [];
      if (ex.ret !== undefined && r.ret !== ex.ret) bad.push(`ret ${r.ret}, expected ${ex.ret}`);
      if (ex.data !== undefined) {
        const want = toHex(scenarioBytes(ex.data, `${where} expect.data`));
        if ((r.data ?? '') !== want) bad.push(`data ${r.data ?? '(none)'}, expected ${want}`);
      }
      if (ex.bytes !== undefined && (r.data ?? '').length / 2 !== ex.bytes) bad.push(`${(r.data ?? '').length / 2} bytes, expected ${ex.bytes}`);
      if (bad.length > 0) {
        r.failed = bad;
        for (const b of bad) failures.push(`step ${i + 1} (${st.op}): ${b}`);
      }
    }
    steps.push(r);
  });

  const sockets: ScenarioFileResult['sockets'] = {};
  for (const n of sc.socketNames()) {
    const s = sc.socket(n);
    sockets[n] = { open: s.open, data: s.open && s.state !== 10 ? toHex(sc.drain(s)) : '' };
  }
  const snap = sc.snapshot();
  const ex = f.expect;
  if (ex !== undefined) {
    for (const [n, want] of Object.entries(ex.sockets ?? {})) {
      const got = sockets[n];
      if (got === undefined) {
        failures.push(`expect.sockets: no socket "${n}"`);
        continue;
      }
      if (want.data !== undefined) {
        const w = toHex(scenarioBytes(want.data, `expect.sockets.${n}.data`));
        if (got.data !== w) failures.push(`socket ${n}: received ${got.data || '(nothing)'}, expected ${w}`);
      }
      if (want.bytes !== undefined && got.data.length / 2 !== want.bytes) failures.push(`socket ${n}: received ${got.data.length / 2} bytes, expected ${want.bytes}`);
    }
    for (const [p, n] of Object.entries(ex.runs ?? {})) {
      if (snap.runs[p] !== n) failures.push(`program ${p}: ran ${snap.runs[p] ?? '(no such program)'} times, expected ${n}`);
    }
    for (const [m, want] of Object.entries(ex.maps ?? {})) {
      const got = snap.maps[m];
      if (got === undefined) {
        failures.push(`expect.maps: no map "${m}"`);
        continue;
      }
      const mapObj = sc.map(m);
      const norm = want.map((e, k) => {
        const key = keyArg(e.key, `expect.maps.${m}[${k}].key`);
        const kb = typeof key === 'number' ? sc.kernel.key(mapObj, key) : key;
        return { key: toHex(kb), ...(e.sock !== undefined ? { sock: e.sock } : {}), ...(e.value !== undefined ? { value: toHex(scenarioBytes(e.value, `expect.maps.${m}[${k}].value`)) } : {}) };
      });
      const a = JSON.stringify([...got].sort((x, y) => x.key.localeCompare(y.key)));
      const b = JSON.stringify([...norm].sort((x, y) => x.key.localeCompare(y.key)));
      if (a !== b) failures.push(`map ${m}: holds ${a}, expected ${b}`);
    }
  }
  return { ok: failures.length === 0, steps, sockets, maps: snap.maps, runs: snap.runs, failures };
}

const str = (st: ScenarioFileStep, k: string, where: string): string => {
  const v = st[k];
  if (typeof v !== 'string') throw new ScenarioError(`${where}: "${k}" must be a string`);
  return v;
};
const num = (st: ScenarioFileStep, k: string, where: string, dflt?: number): number => {
  const v = st[k];
  if (v === undefined && dflt !== undefined) return dflt;
  if (!Number.isSafeInteger(v)) throw new ScenarioError(`${where}: "${k}" must be an integer`);
  return v as number;
};
const mapArg = (st: ScenarioFileStep, where: string): string | number => {
  const v = st.map;
  if (typeof v !== 'string' && !Number.isInteger(v)) throw new ScenarioError(`${where}: "map" must be a map name or index`);
  return v as string | number;
};
const attachArg = (st: ScenarioFileStep, where: string): string | number => {
  const v = st.type;
  if (typeof v !== 'string' && !Number.isInteger(v)) throw new ScenarioError(`${where}: "type" must be an attach type name or number`);
  return v as string | number;
};

/** One step. */
function runStep(sc: SocketScenario, st: ScenarioFileStep, where: string): ScenarioStepResult {
  const op = st.op;
  const res = (ret: number, extra: Partial<ScenarioStepResult> = {}): ScenarioStepResult => ({ op, ret, ...extra });
  const dataRes = (r: Uint8Array | number): ScenarioStepResult => (typeof r === 'number' ? res(r) : res(r.length, { data: toHex(r) }));
  switch (op) {
    case 'attach':
      return res(sc.attach(str(st, 'prog', where), mapArg(st, where), attachArg(st, where)));
    case 'detach':
      return res(sc.detach(str(st, 'prog', where), mapArg(st, where), attachArg(st, where)));
    case 'cgroup_attach':
      return res(sc.attachCgroup(str(st, 'prog', where), typeof st.cgroup === 'string' ? st.cgroup : '/', num(st, 'flags', where, 0)));
    case 'cgroup_detach':
      return res(sc.detachCgroup(str(st, 'prog', where), typeof st.cgroup === 'string' ? st.cgroup : '/'));
    case 'use_cgroup':
      sc.useCgroup(str(st, 'cgroup', where));
      return res(0);
    case 'listen': {
      const s = sc.listen(str(st, 'name', where), num(st, 'port', where, 0));
      return res(0, { port: s.localPort });
    }
    case 'tcp':
      sc.tcp(str(st, 'name', where));
      return res(0);
    case 'connect': {
      const s = sc.connect(str(st, 'name', where), str(st, 'to', where));
      return res(0, { port: s.localPort });
    }
    case 'accept': {
      const s = sc.accept(str(st, 'name', where), str(st, 'listener', where));
      return res(0, { port: s.localPort });
    }
    case 'insert':
      return res(sc.insert(mapArg(st, where), keyArg(st.key, `${where} key`), str(st, 'sock', where), num(st, 'flags', where, 0)));
    case 'update': {
      const v = typeof st.value === 'number' ? st.value : scenarioBytes(st.value, `${where} value`);
      return res(sc.update(mapArg(st, where), keyArg(st.key, `${where} key`), v, num(st, 'flags', where, 0)));
    }
    case 'delete':
      return res(sc.delete(mapArg(st, where), keyArg(st.key, `${where} key`)));
    case 'set_cgroup':
      return res(sc.setCgroup(mapArg(st, where), keyArg(st.key, `${where} key`), str(st, 'cgroup', where)));
    case 'lookup':
      return dataRes(sc.lookup(mapArg(st, where), keyArg(st.key, `${where} key`)));
    case 'send':
      return res(st.flags === undefined ? sc.send(str(st, 'sock', where), scenarioBytes(st.data, `${where} data`)) : sc.send(str(st, 'sock', where), scenarioBytes(st.data, `${where} data`), num(st, 'flags', where)));
    case 'sendmsg': {
      if (!Array.isArray(st.iov)) throw new ScenarioError(`${where}: "iov" must be an array of data`);
      const iov = st.iov.map((d, k) => scenarioBytes(d, `${where} iov[${k}]`));
      return res(st.flags === undefined ? sc.sendmsg(str(st, 'sock', where), iov) : sc.sendmsg(str(st, 'sock', where), iov, num(st, 'flags', where)));
    }
    case 'recv':
      return dataRes(sc.recv(str(st, 'sock', where), num(st, 'max', where, 65536), { peek: st.peek === true }));
    case 'fionread':
      return res(sc.fionread(str(st, 'sock', where)));
    case 'sleep':
      sc.sleep(num(st, 'ms', where));
      return res(0);
    case 'shutdown': {
      const how = st.how ?? 'rdwr';
      if (how !== 'rd' && how !== 'wr' && how !== 'rdwr') throw new ScenarioError(`${where}: "how" is rd, wr or rdwr`);
      return res(sc.shutdown(str(st, 'sock', where), how));
    }
    case 'close':
      return res(sc.close(str(st, 'sock', where)));
    case 'cookie':
      return res(0, { data: sc.cookie(str(st, 'sock', where)).toString(16).padStart(16, '0') });
    case 'runs':
      return res(sc.runs(str(st, 'prog', where)));
    case 'advance':
      return res(sc.advance(num(st, 'ns', where)).length);
    default:
      throw new ScenarioError(`${where}: unknown op "${op}" (attach, detach, cgroup_attach, cgroup_detach, use_cgroup, listen, tcp, connect, accept, insert, update, delete, lookup, send, sendmsg, recv, fionread, sleep, shutdown, close, cookie, runs, advance, set_cgroup)`);
  }
}
