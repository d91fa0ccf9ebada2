/**
 * Helper availability per program type and helper prototypes, checked three ways:
 *  1. internal consistency of helpers/protos.ts and helpers/availability.ts;
 *  2. against the committed snapshot availability-6.18.json (what Linux 6.18 said; runs everywhere);
 *  3. against the host kernel itself (skipped, with the reason, where bpf() is unavailable).
 *
 * Kernel probe: for each modelled type and each helper id 1..211 load `r1..r5 = 0; call id; r0 = 0; exit`.
 * check_helper_call looks the helper up (and checks the license / might_sleep) before any argument, so the first
 * verifier message tells availability apart from argument errors.  Run as root ("privileged") and with
 * CAP_PERFMON/CAP_SYS_ADMIN dropped (`restricted`: CAP_BPF only).  A second pass loads every available helper
 * with a non-GPL license to check `gplOnly`.
 *
 * Regenerate the snapshot on a suitable host with BPFVM_UPDATE_SNAPSHOT=1 npx vitest run test/helpers
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  allowedHelpers,
  ATTACH_TYPES,
  BPF_FUNC_MAX_ID,
  FUNC_PROTO_TABLES,
  HELPER_CALL_MESSAGES,
  helperCallMessage,
  isHelperAllowed,
  MODELLED_PROG_TYPES,
  PROG_TYPES,
  resolveHelperProto,
  type HelperOptions,
} from '../../helpers/availability.js';
import { helperId, helperName } from '../../helpers/ids.js';
import { CHANGES_PKT_DATA, HELPER_PROTOS, protoFor, protoFlavours } from '../../helpers/protos.js';
import { kernelAvailability, kernelRunBatch, type KernelProgRequest, type KernelProgResult } from '../kernel/oracle.js';

const SNAPSHOT_URL = new URL('./availability-6.18.json', import.meta.url);

interface Snapshot {
  kernel: string;
  note: string;
  /** progType → available helper ids, loaded as root (CAP_BPF + CAP_PERFMON). */
  privileged: Record<string, number[]>;
  /** progType → available helper ids with CAP_BPF only. */
  capBpfOnly: Record<string, number[]>;
  /** progType → ids refused with the GPL message when the license is not GPL (root). */
  gplOnly: Record<string, number[]>;
  /** progType → ids available but refused as sleepable (root, GPL). */
  mightSleep: Record<string, number[]>;
}

const snapshot = JSON.parse(readFileSync(SNAPSHOT_URL, 'utf8')) as Snapshot;

const ROOT: HelperOptions = { privileged: true };
const CAP_BPF_ONLY: HelperOptions = { privileged: false, capBpf: true };

/** expected_attach_type used for the probes (and what a loader would pass). */
const PROBE_ATTACH: Record<number, number> = {
  [PROG_TYPES.CGROUP_SKB]: ATTACH_TYPES.BPF_CGROUP_INET_INGRESS,
  [PROG_TYPES.SOCK_OPS]: ATTACH_TYPES.BPF_CGROUP_SOCK_OPS,
  [PROG_TYPES.SK_SKB]: ATTACH_TYPES.BPF_SK_SKB_STREAM_VERDICT,
  [PROG_TYPES.SK_MSG]: ATTACH_TYPES.BPF_SK_MSG_VERDICT,
};

const IDS = Array.from({ length: BPF_FUNC_MAX_ID - 1 }, (_, i) => i + 1);

// ---- consistency -------------------------------------------------------------------------------

describe('helper prototypes (helpers/protos.ts)', () => {
  it('names every proto after a real helper, with args split into base type + flags', () => {
    for (const p of Object.values(HELPER_PROTOS)) {
      expect(helperName(p.id)).toBe(p.name);
      expect(p.args.length).toBeLessThanOrEqual(5);
      for (const a of p.args) expect(a.base.startsWith('ARG_')).toBe(true);
    }
    const ld = HELPER_PROTOS.bpf_skb_load_bytes_proto!;
    expect(ld.args.map((a) => a.spelled)).toEqual(['ARG_PTR_TO_CTX', 'ARG_ANYTHING', 'ARG_PTR_TO_UNINIT_MEM', 'ARG_CONST_SIZE']);
    expect(ld.args[2]).toMatchObject({ base: 'ARG_PTR_TO_MEM', flags: ['MEM_UNINIT', 'MEM_WRITE'] });
    const st = HELPER_PROTOS.bpf_skb_store_bytes_proto!;
    expect(st.args[2]).toMatchObject({ base: 'ARG_PTR_TO_MEM', flags: ['MEM_RDONLY'] });
    expect(st.changesPktData).toBe(true);
    const rel = HELPER_PROTOS.bpf_sk_release_proto!;
    expect(rel.args[0]).toMatchObject({ base: 'ARG_PTR_TO_BTF_ID_SOCK_COMMON', flags: ['OBJ_RELEASE'] });
    const lk = HELPER_PROTOS.bpf_map_lookup_elem_proto!;
    expect(lk).toMatchObject({ ret: 'RET_PTR_TO_MAP_VALUE_OR_NULL', retBase: 'RET_PTR_TO_MAP_VALUE', retFlags: ['PTR_MAYBE_NULL'], pktAccess: true });
    expect(HELPER_PROTOS.bpf_tcp_sock_proto!.ret).toBe('RET_PTR_TO_TCP_SOCK_OR_NULL');
    expect(HELPER_PROTOS.bpf_skc_to_tcp_sock_proto).toMatchObject({ ret: 'RET_PTR_TO_BTF_ID_OR_NULL', retBtfId: 'tcp_sock' });
    expect(HELPER_PROTOS.bpf_this_cpu_ptr_proto!.retFlags).toEqual(['MEM_RDONLY']);
    expect(HELPER_PROTOS.bpf_copy_from_user_proto!.mightSleep).toBe(true);
  });

  it('has a prototype for every row of every availability table, for the helper that row names', () => {
    for (const [table, rows] of Object.entries(FUNC_PROTO_TABLES)) {
      for (const [helper, key] of rows) {
        const p = HELPER_PROTOS[key];
        expect(p, `${table}: ${key}`).toBeDefined();
        expect(p!.id, `${table}: ${key}`).toBe(helperId(helper));
      }
    }
  });

  it('marks exactly bpf_helper_changes_pkt_data() helpers, all of which take ctx first (kernel sanity check)', () => {
    for (const n of CHANGES_PKT_DATA) expect(helperId(n), n).toBeDefined();
    for (const p of Object.values(HELPER_PROTOS)) {
      expect(p.changesPktData, p.key).toBe(CHANGES_PKT_DATA.includes(p.name.slice(4)));
      if (p.changesPktData) expect(p.args[0]?.spelled, p.key).toBe('ARG_PTR_TO_CTX');
    }
    expect(HELPER_PROTOS.bpf_tail_call_proto!.changesPktData).toBe(true);
    expect(HELPER_PROTOS.bpf_msg_apply_bytes_proto!.changesPktData).toBe(false);
  });

  it('resolves the per-program-type flavour of shared helper ids', () => {
    const key = (t: number, n: string) => protoFor(t, helperId(n)!)?.key;
    expect(key(PROG_TYPES.SK_SKB, 'perf_event_output')).toBe('bpf_skb_event_output_proto');
    expect(key(PROG_TYPES.SK_MSG, 'perf_event_output')).toBe('bpf_event_output_data_proto');
    expect(key(PROG_TYPES.SOCK_OPS, 'perf_event_output')).toBe('bpf_event_output_data_proto');
    expect(key(PROG_TYPES.XDP, 'perf_event_output')).toBe('bpf_xdp_event_output_proto');
    expect(key(PROG_TYPES.SK_SKB, 'get_socket_cookie')).toBe('bpf_get_socket_cookie_proto');
    expect(key(PROG_TYPES.SOCK_OPS, 'get_socket_cookie')).toBe('bpf_get_socket_cookie_sock_ops_proto');
    expect(key(PROG_TYPES.SK_MSG, 'get_socket_cookie')).toBeUndefined();
    expect(key(PROG_TYPES.SK_MSG, 'get_netns_cookie')).toBe('bpf_get_netns_cookie_sk_msg_proto');
    expect(key(PROG_TYPES.SOCK_OPS, 'get_netns_cookie')).toBe('bpf_get_netns_cookie_sock_ops_proto');
    expect(key(PROG_TYPES.SCHED_CLS, 'get_netns_cookie')).toBe('bpf_get_netns_cookie_proto');
    expect(key(PROG_TYPES.SK_SKB, 'skb_pull_data')).toBe('sk_skb_pull_data_proto');
    expect(key(PROG_TYPES.SCHED_CLS, 'skb_pull_data')).toBe('bpf_skb_pull_data_proto');
    expect(key(PROG_TYPES.SK_SKB, 'sk_lookup_tcp')).toBe('bpf_sk_lookup_tcp_proto');
    expect(key(PROG_TYPES.SCHED_CLS, 'sk_lookup_tcp')).toBe('bpf_tc_sk_lookup_tcp_proto');
    expect(key(PROG_TYPES.XDP, 'sk_lookup_tcp')).toBe('bpf_xdp_sk_lookup_tcp_proto');
    expect(key(PROG_TYPES.SK_SKB, 'sk_redirect_map')).toBe('bpf_sk_redirect_map_proto');
    expect(key(PROG_TYPES.SK_MSG, 'msg_redirect_map')).toBe('bpf_msg_redirect_map_proto');
    expect(key(PROG_TYPES.SCHED_CLS, 'get_cgroup_classid')).toBe('bpf_get_cgroup_classid_proto');
    expect(key(PROG_TYPES.SK_SKB, 'get_cgroup_classid')).toBe('bpf_get_cgroup_classid_curr_proto');
    expect(key(PROG_TYPES.XDP, 'get_smp_processor_id')).toBe('bpf_get_smp_processor_id_proto');
    expect(key(PROG_TYPES.SK_MSG, 'get_smp_processor_id')).toBe('bpf_get_raw_smp_processor_id_proto');
    expect(protoFlavours(helperId('perf_event_output')!).length).toBe(3);
  });

  it('follows capability tiers and attach-type rules', () => {
    const id = (n: string) => helperId(n)!;
    const none: HelperOptions = { privileged: false };
    expect(isHelperAllowed(PROG_TYPES.SK_MSG, id('map_lookup_elem'), none)).toBe(true);
    expect(isHelperAllowed(PROG_TYPES.SK_MSG, id('spin_lock'), none)).toBe(false);
    expect(isHelperAllowed(PROG_TYPES.SK_MSG, id('spin_lock'), CAP_BPF_ONLY)).toBe(true);
    expect(isHelperAllowed(PROG_TYPES.SK_SKB, id('skc_to_tcp_sock'), CAP_BPF_ONLY)).toBe(false);
    expect(isHelperAllowed(PROG_TYPES.SK_SKB, id('skc_to_tcp_sock'), ROOT)).toBe(true);
    expect(isHelperAllowed(PROG_TYPES.SK_SKB, id('trace_printk'), { privileged: false, capPerfmon: true })).toBe(false);
    expect(isHelperAllowed(PROG_TYPES.SK_SKB, id('ktime_get_coarse_ns'), none)).toBe(true);
    // get_retval/set_retval: refused for sock_ops and cgroup_skb attach types, not for others
    expect(isHelperAllowed(PROG_TYPES.SOCK_OPS, id('get_retval'))).toBe(false);
    expect(isHelperAllowed(PROG_TYPES.CGROUP_SKB, id('set_retval'), { privileged: true, expectedAttachType: 1 })).toBe(false);
    expect(isHelperAllowed(PROG_TYPES.SOCK_OPS, id('get_retval'), { privileged: true, expectedAttachType: 2 })).toBe(true);
    expect(isHelperAllowed(PROG_TYPES.SK_MSG, 0)).toBe(false);
    expect(isHelperAllowed(PROG_TYPES.SK_MSG, BPF_FUNC_MAX_ID)).toBe(false);
    expect(() => resolveHelperProto(2, 1)).toThrow(/not modelled/);
    expect(allowedHelpers(PROG_TYPES.SOCK_OPS)).toContain(id('sock_hash_update'));
    expect(allowedHelpers(PROG_TYPES.SK_SKB)).not.toContain(id('sock_map_update'));
  });

  it('exports the verifier messages for refused helper calls', () => {
    expect(helperCallMessage('notAllowedInProgType', 44)).toBe('program of this type cannot use helper bpf_xdp_adjust_head#44');
    expect(helperCallMessage('invalidFunc', 212)).toBe('invalid func unknown#212');
    expect(helperCallMessage('unknownFuncOld', 52)).toBe('unknown func bpf_sk_redirect_map#52');
    expect(HELPER_CALL_MESSAGES.gplRestricted).toBe('cannot call GPL-restricted function from non-GPL compatible program');
  });
});

// ---- snapshot --------------------------------------------------------------------------------

function modelGpl(t: number): number[] {
  return allowedHelpers(t, ROOT).filter((id) => protoFor(t, id, ROOT)!.gplOnly);
}
function modelSleep(t: number): number[] {
  return allowedHelpers(t, ROOT).filter((id) => protoFor(t, id, ROOT)!.mightSleep);
}

describe(`helper availability vs the committed Linux ${snapshot.kernel} snapshot`, () => {
  for (const t of MODELLED_PROG_TYPES) {
    it(`program type ${t}: privileged, CAP_BPF only, GPL-only and sleepable sets`, () => {
      expect(allowedHelpers(t, ROOT)).toEqual(snapshot.privileged[t]);
      expect(allowedHelpers(t, CAP_BPF_ONLY)).toEqual(snapshot.capBpfOnly[t]);
      expect(modelGpl(t)).toEqual(snapshot.gplOnly[t]);
      expect(modelSleep(t)).toEqual(snapshot.mightSleep[t]);
    });
  }
});

// ---- live kernel -----------------------------------------------------------------------------

const avail = kernelAvailability();
const skipReason = avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`;

function slot(code: number, dst: number, imm: number): number[] {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, code);
  v.setUint8(1, dst & 0xf);
  v.setInt32(4, imm | 0, true);
  return [...b];
}
/** r1 = 0 … r5 = 0; call id; r0 = 0; exit */
function probeProgram(id: number): Uint8Array {
  const s: number[] = [];
  for (let r = 1; r <= 5; r++) s.push(...slot(0xb7, r, 0));
  s.push(...slot(0x85, 0, id), ...slot(0xb7, 0, 0), ...slot(0x95, 0, 0));
  return new Uint8Array(s);
}

type Verdict = 'unavailable' | 'invalid' | 'gpl' | 'sleep' | 'ok';
function classify(r: KernelProgResult, id: number): Verdict {
  if (r.loaded) return 'ok';
  const lines = r.log.split('\n');
  if (lines.includes(helperCallMessage('notAllowedInProgType', id)) || lines.includes(helperCallMessage('unknownFuncOld', id))) {
    return 'unavailable';
  }
  if (lines.includes(helperCallMessage('invalidFunc', id))) return 'invalid';
  if (lines.includes(HELPER_CALL_MESSAGES.gplRestricted)) return 'gpl';
  if (lines.includes(HELPER_CALL_MESSAGES.mightSleep)) return 'sleep';
  return 'ok';
}

function runAll(reqs: KernelProgRequest[]): KernelProgResult[] {
  const out: KernelProgResult[] = [];
  for (let i = 0; i < reqs.length; i += 100) out.push(...kernelRunBatch(reqs.slice(i, i + 100)));
  return out;
}

function probe(t: number, ids: number[], extra: Partial<KernelProgRequest>): Verdict[] {
  const reqs = ids.map((id): KernelProgRequest => ({
    progType: t,
    expectedAttachType: PROBE_ATTACH[t] ?? 0,
    insns: probeProgram(id),
    logLevel: 1,
    ...extra,
  }));
  return runAll(reqs).map((r, i) => classify(r, ids[i]!));
}

describe.skipIf(!avail.ok)(`helper availability vs the host kernel${skipReason}`, () => {
  const observed: Snapshot = {
    kernel: release().split('.').slice(0, 2).join('.'),
    note:
      'Observed by test/helpers/availability.test.ts: r1..r5=0; call id; exit loaded for ids 1..211 per type; ' +
      'an id is available unless the verifier says "program of this type cannot use helper". privileged = root; ' +
      'capBpfOnly = CAP_SYS_ADMIN and CAP_PERFMON dropped; gplOnly = refused with the GPL message under license ' +
      '"Proprietary"; mightSleep = refused as sleepable.',
    privileged: {},
    capBpfOnly: {},
    gplOnly: {},
    mightSleep: {},
  };

  for (const t of MODELLED_PROG_TYPES) {
    it(`program type ${t}: the model agrees with the kernel for every helper id`, () => {
      const root = probe(t, IDS, {});
      const restricted = probe(t, IDS, { restricted: true });
      const kernelRoot = IDS.filter((_, i) => root[i] !== 'unavailable');
      const kernelBpf = IDS.filter((_, i) => restricted[i] !== 'unavailable');
      expect(root.includes('invalid')).toBe(false);
      const availableIds = kernelRoot;
      const gplRuns = probe(t, availableIds, { license: 'Proprietary' });
      const kernelGpl = availableIds.filter((_, i) => gplRuns[i] === 'gpl');
      const kernelSleep = IDS.filter((_, i) => root[i] === 'sleep');
      observed.privileged[t] = kernelRoot;
      observed.capBpfOnly[t] = kernelBpf;
      observed.gplOnly[t] = kernelGpl;
      observed.mightSleep[t] = kernelSleep;

      const diff = (model: number[], kernel: number[]) => ({
        modelOnly: model.filter((x) => !kernel.includes(x)).map((x) => `${helperName(x)}#${x}`),
        kernelOnly: kernel.filter((x) => !model.includes(x)).map((x) => `${helperName(x)}#${x}`),
      });
      const none = { modelOnly: [], kernelOnly: [] };
      expect(diff(allowedHelpers(t, ROOT), kernelRoot), 'privileged').toEqual(none);
      expect(diff(allowedHelpers(t, CAP_BPF_ONLY), kernelBpf), 'CAP_BPF only').toEqual(none);
      expect(diff(modelGpl(t), kernelGpl), 'gplOnly').toEqual(none);
      expect(diff(modelSleep(t), kernelSleep), 'mightSleep').toEqual(none);
    });
  }

  it('reports ids past the last helper as invalid func, with the exported text', () => {
    const [r] = kernelRunBatch([{ progType: PROG_TYPES.SK_MSG, expectedAttachType: 7, insns: probeProgram(BPF_FUNC_MAX_ID) }]);
    expect(r!.log).toContain(helperCallMessage('invalidFunc', BPF_FUNC_MAX_ID));
  });

  it('matches (or, with BPFVM_UPDATE_SNAPSHOT=1, rewrites) the committed snapshot', () => {
    if (Object.keys(observed.privileged).length !== MODELLED_PROG_TYPES.length) return; // a per-type test failed
    if (process.env.BPFVM_UPDATE_SNAPSHOT === '1') {
      writeFileSync(SNAPSHOT_URL, formatSnapshot(observed));
      return;
    }
    if (observed.kernel !== snapshot.kernel) return; // another kernel: the per-type tests above are the check
    expect({ ...observed, note: snapshot.note }).toEqual(snapshot);
  });
});

function formatSnapshot(s: Snapshot): string {
  // one line per program type keeps the committed file diffable
  const section = (m: Record<string, number[]>) =>
    '{\n' + Object.entries(m).map(([k, v]) => `    "${k}": ${JSON.stringify(v)}`).join(',\n') + '\n  }';
  return (
    '{\n' +
    `  "kernel": ${JSON.stringify(s.kernel)},\n  "note": ${JSON.stringify(s.note)},\n` +
    `  "privileged": ${section(s.privileged)},\n  "capBpfOnly": ${section(s.capBpfOnly)},\n` +
    `  "gplOnly": ${section(s.gplOnly)},\n  "mightSleep": ${section(s.mightSleep)}\n}\n`
  );
}
