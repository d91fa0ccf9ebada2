// The host kernel as a backend of bpfvm's selftest engine (src/selftest/engine.ts): each program of a test is
// loaded with BPF_PROG_LOAD through the bpfrun oracle (maps created from bpfvm's MapSpecs), and the run is the
// kernel's BPF_PROG_TEST_RUN with the selftest loader's input. Used by selftest-kernel.test.ts to check that
// every annotation of our fixtures holds in the host kernel, with the very checks `bpfvm test` applies.
//
// What this backend cannot do, it reports as a skip: truly unprivileged loads (the host has
// kernel.unprivileged_bpf_disabled != 0, so the kernel's own loader skips them too), capability sets other
// than root and CAP_BPF + CAP_NET_ADMIN (the oracle's `restricted` mode), and test runs that need a program
// array filled with program fds (the oracle cannot).

import { readFileSync } from 'node:fs';
import { CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON, CAP_SYS_ADMIN } from '../../src/selftest/annotations.js';
import { SELFTEST_DATA_IN, SELFTEST_DATA_OUT, runSelftests, type LoadOutcome, type LoadRequest, type SelftestBackend } from '../../src/selftest/engine.js';
import type { CollectionSpec, MapSpec, ProgramSpec } from '../../src/spec.js';
import { errnoName, kernelRunBatch, type KernelMapDef, type KernelProgRequest, type KernelProgResult } from './oracle.js';

const BPF_MAP_TYPE_PROG_ARRAY = 3;

function mapDef(m: MapSpec): KernelMapDef {
  // BPF_F_RDONLY_PROG (0x80) is how bpfvm marks frozen global data (.rodata), which the oracle fills after
  // creation, so it creates those writable; a map declared BPF_F_RDONLY_PROG keeps the flag.
  const def: KernelMapDef = { type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.data ? m.flags & ~0x80 : m.flags };
  if (m.data) def.entries = [{ key: new Uint8Array(4), value: m.data }];
  return def;
}

function unprivDisabled(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8').trim());
  } catch {
    return 1;
  }
}

function request(req: LoadRequest, p: ProgramSpec, run: boolean): KernelProgRequest {
  const k: KernelProgRequest = {
    progType: p.type, insns: p.insns, license: req.collection.license, maps: req.collection.maps.map(mapDef),
    // The selftest loader's log buffer: 2 MiB (a smaller one fails big level-2 loads with ENOSPC).
    logLevel: req.logLevel, logSize: 2 << 20, progFlags: req.progFlags,
  };
  if (p.attachType !== undefined) k.expectedAttachType = p.attachType;
  if (run) k.run = { dataIn: new Uint8Array(SELFTEST_DATA_IN), dataSizeOut: SELFTEST_DATA_OUT };
  return k;
}

/** Requests are answered from a cache that `prefetch` fills in one batch (one helper process per object). */
const cache = new Map<string, KernelProgResult>();

function key(req: LoadRequest, p: ProgramSpec, root: boolean, run: boolean): string {
  return JSON.stringify([req.collection.file ?? '', req.collection.programs.indexOf(p), p.name, root, req.logLevel, req.progFlags, run]);
}

const isRoot = (req: LoadRequest): boolean => req.caps === null || req.caps.includes(CAP_SYS_ADMIN) || req.caps.includes(CAP_PERFMON);
const runnable = (p: ProgramSpec): boolean => [1, 3, 4, 6, 8].includes(p.type);

let recording: { req: LoadRequest; p: ProgramSpec; root: boolean; run: boolean }[] | null = null;

function kernelLoad(req: LoadRequest, p: ProgramSpec, root: boolean, run: boolean): KernelProgResult {
  const k = key(req, p, root, run);
  const hit = cache.get(k);
  if (hit) return hit;
  const r = kernelRunBatch([{ ...request(req, p, run), restricted: !root }])[0]!;
  cache.set(k, r);
  return r;
}

/**
 * Runs the engine once with a recording backend to learn every load it will ask for, then performs all of
 * them in one batch; the real run is then answered from the cache.
 */
export function prefetch(coll: CollectionSpec, file: string): void {
  recording = [];
  try {
    runSelftests(coll, file, { backend: kernelBackend });
  } finally {
    const recs = recording;
    recording = null;
    const todo = recs.filter((x) => !cache.has(key(x.req, x.p, x.root, x.run)));
    for (let i = 0; i < todo.length; i += 100) {
      const chunk = todo.slice(i, i + 100);
      kernelRunBatch(chunk.map((x) => ({ ...request(x.req, x.p, x.run), restricted: !x.root }))).forEach((r, j) => {
        const x = chunk[j]!;
        cache.set(key(x.req, x.p, x.root, x.run), r);
      });
    }
  }
}

export const kernelBackend: SelftestBackend = {
  cannot({ unpriv, mode }) {
    if (!unpriv) return null;
    const caps = new Set(mode.caps);
    if (!caps.has(CAP_BPF) && !caps.has(CAP_SYS_ADMIN)) {
      const d = unprivDisabled();
      return d ? `kernel.unprivileged_bpf_disabled=${d}: the kernel's selftest loader skips unprivileged runs too` : 'truly unprivileged loads are not done by the oracle';
    }
    const same = caps.size === 2 && caps.has(CAP_BPF) && caps.has(CAP_NET_ADMIN);
    const root = caps.has(CAP_SYS_ADMIN) || (caps.has(CAP_BPF) && caps.has(CAP_PERFMON) && caps.has(CAP_NET_ADMIN));
    return same || root ? null : `the oracle loads as root or with CAP_BPF + CAP_NET_ADMIN only, not with capabilities ${[...caps].join('|')}`;
  },
  load(req): LoadOutcome {
    const root = isRoot(req);
    if (recording) {
      for (const p of req.programs) recording.push({ req, p, root, run: p === req.target && runnable(p) });
      return { loaded: true, log: '', error: null, failedProgram: null };
    }
    let log = '';
    for (const p of req.programs) {
      // The target is loaded and (when its type has a test run) run in the same request; run() reuses it.
      const r = kernelLoad(req, p, root, p === req.target && runnable(p));
      if (p === req.target) log = r.log;
      if (!r.loaded) {
        if (r.stage !== 'prog_load') return { loaded: false, log, error: null, failedProgram: p.name, skip: `oracle failed at ${r.stage}: ${errnoName(r.errno)}` };
        const lines = r.log.trim().split('\n');
        const footer = lines.findIndex((l) => l.startsWith('processed '));
        const message = footer > 0 ? lines[footer - 1]! : (lines[lines.length - 1] ?? errnoName(r.errno));
        // The oracle passes no BTF (no func info, no map BTF): loads that need it are not comparable.
        if (/without BTF|has to have BTF/.test(message)) return { loaded: false, log, error: null, failedProgram: p.name, skip: `the oracle loads without BTF: ${message}` };
        return { loaded: false, log, error: { pc: -1, message }, failedProgram: p.name };
      }
    }
    return { loaded: true, log, error: null, failedProgram: null };
  },
  run(req) {
    if (recording) return { retval: 0 };
    if (req.collection.maps.some((m) => m.type === BPF_MAP_TYPE_PROG_ARRAY && m.contentRefs?.length)) {
      return { skip: 'the oracle cannot fill a program array with program fds' };
    }
    if (!runnable(req.target)) return { error: 'BPF_PROG_TEST_RUN fails with ENOTSUPP' };
    // The selftest loader restores all capabilities before the run; the load is what the caps affect.
    const r = kernelLoad(req, req.target, isRoot(req), true);
    if (!r.loaded) return { error: `load for the run failed: ${errnoName(r.errno)}` };
    if (r.run!.errno !== 0) return { error: `BPF_PROG_TEST_RUN fails with ${errnoName(r.run!.errno)}` };
    return { retval: r.run!.retval };
  },
};
