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
import { SELFTEST_DATA_IN, SELFTEST_DATA_OUT, type LoadOutcome, type LoadRequest, type SelftestBackend } from '../../src/selftest/engine.js';
import type { MapSpec, ProgramSpec } from '../../src/spec.js';
import { errnoName, kernelRunBatch, type KernelMapDef, type KernelProgRequest } from './oracle.js';

const BPF_MAP_TYPE_PROG_ARRAY = 3;

function mapDef(m: MapSpec): KernelMapDef {
  // BPF_F_RDONLY_PROG (0x80) is how bpfvm marks frozen data; the oracle creates maps writable.
  const def: KernelMapDef = { type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags & ~0x80 };
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
    logLevel: req.logLevel, progFlags: req.progFlags, restricted: req.caps !== null,
  };
  if (p.attachType !== undefined) k.expectedAttachType = p.attachType;
  if (run) k.run = { dataIn: new Uint8Array(SELFTEST_DATA_IN), dataSizeOut: SELFTEST_DATA_OUT };
  return k;
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
    const root = (caps.has(CAP_SYS_ADMIN) || (caps.has(CAP_BPF) && caps.has(CAP_PERFMON) && caps.has(CAP_NET_ADMIN)));
    return same || root ? null : `the oracle loads as root or with CAP_BPF + CAP_NET_ADMIN only, not with capabilities ${[...caps].join('|')}`;
  },
  load(req): LoadOutcome {
    let log = '';
    const root = req.caps === null || req.caps.includes(CAP_SYS_ADMIN) || req.caps.includes(CAP_PERFMON);
    for (const p of req.programs) {
      const k = request(req, p, false);
      if (root) k.restricted = false;
      const [r] = kernelRunBatch([k]);
      if (p === req.target) log = r!.log;
      if (!r!.loaded) {
        if (r!.stage !== 'prog_load') return { loaded: false, log, error: null, failedProgram: p.name, skip: `oracle failed at ${r!.stage}: ${errnoName(r!.errno)}` };
        const lines = r!.log.trim().split('\n');
        const footer = lines.findIndex((l) => l.startsWith('processed '));
        const message = footer > 0 ? lines[footer - 1]! : (lines[lines.length - 1] ?? errnoName(r!.errno));
        return { loaded: false, log, error: { pc: -1, message }, failedProgram: p.name };
      }
    }
    return { loaded: true, log, error: null, failedProgram: null };
  },
  run(req) {
    if (req.collection.maps.some((m) => m.type === BPF_MAP_TYPE_PROG_ARRAY && m.contentRefs?.length)) {
      return { skip: 'the oracle cannot fill a program array with program fds' };
    }
    const k = request(req, req.target, true);
    if (req.caps === null || req.caps.includes(CAP_SYS_ADMIN) || req.caps.includes(CAP_PERFMON)) k.restricted = false;
    // The selftest loader restores all capabilities before the run; the load itself is what the caps affect.
    const [r] = kernelRunBatch([k]);
    if (!r!.loaded) return { error: `load for the run failed: ${errnoName(r!.errno)}` };
    if (r!.run!.errno !== 0) return { error: `BPF_PROG_TEST_RUN fails with ${errnoName(r!.run!.errno)}` };
    return { retval: r!.run!.retval };
  },
};
