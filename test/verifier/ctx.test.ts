/**
 * Context-access rules (verifier/ctx.ts), checked three ways:
 *  1. unit facts read from net/core/filter.c (Linux 6.12) and the doc's selftest expectations;
 *  2. exhaustively against the committed snapshot ctx-6.18.json (what Linux 6.18 said; runs everywhere);
 *  3. against the host kernel itself (skipped, with the reason, where bpf() is unavailable); when the host
 *     runs the snapshot's kernel release the fresh observations must equal the snapshot.
 *
 * Kernel probe, per program type / attach type ("config"), per offset -8..sizeof(ctx)+8, per size:
 *   ldx   `r2 = *(uN *)(r1 +off); r0 = 0; exit`            (log level 2: records the loaded register's type)
 *   stx   `r2 = 0; *(uN *)(r1 +off) = r2; r0 = 0; exit`
 *   st    `*(uN *)(r1 +off) = 0; r0 = 0; exit`
 *   ldsx  `r2 = *(sN *)(r1 +off); r0 = 0; exit`            (sizes 1/2/4)
 * and the same for the socket structs reachable from ctx pointers (after the NULL check where needed).
 * Grid strings: one char per offset from OFF_MIN: '+' loaded, '.' refused with
 * `invalid bpf_context access off=<off> size=<size>` (ctx) or `R2 invalid <type> access off=.. size=..` /
 * `R2 cannot write into <type>` (sockets), '!' refused with another message (kept in `other`).
 *
 * Regenerate the snapshot on a suitable host with BPFVM_UPDATE_SNAPSHOT=1 npx vitest run test/verifier/ctx.test.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CONVERSION_ERRNO,
  CTX_MESSAGES,
  CTX_RULES,
  ctxAccess,
  ctxLayout,
  ctxPtrLogText,
  ctxPtrOffMessage,
  ctxStruct,
  describeCtx,
  invalidCtxAccessMessage,
  sockAccess,
  type CtxAccessQuery,
  type SockRegType,
} from '../../verifier/ctx.js';
import { kernelBtf } from '../../src/btf/kernel.js';
import { assemble } from '../../vm/asm.js';
import { kernelAvailability, kernelRunBatch, type KernelProgRequest, type KernelProgResult } from '../kernel/oracle.js';

const SNAPSHOT_URL = new URL('./ctx-6.18.json', import.meta.url);
const OFF_MIN = -8;
const PAST_END = 8;

// ---- configurations --------------------------------------------------------------------------------

interface CtxConfig {
  key: string;
  progType: number;
  attach: number;
  restricted?: boolean;
}

const CTX_CONFIGS: CtxConfig[] = [
  { key: 'SOCKET_FILTER', progType: 1, attach: 0 },
  { key: 'SOCKET_FILTER !perfmon', progType: 1, attach: 0, restricted: true },
  { key: 'SCHED_CLS', progType: 3, attach: 0 },
  { key: 'SCHED_ACT', progType: 4, attach: 0 },
  { key: 'XDP', progType: 6, attach: 0 },
  { key: 'XDP devmap', progType: 6, attach: 33 },
  { key: 'CGROUP_SKB ingress', progType: 8, attach: 0 },
  { key: 'CGROUP_SKB egress', progType: 8, attach: 1 },
  { key: 'CGROUP_SKB ingress !perfmon', progType: 8, attach: 0, restricted: true },
  { key: 'SOCK_OPS', progType: 13, attach: 3 },
  { key: 'SK_SKB stream_parser', progType: 14, attach: 4 },
  { key: 'SK_SKB stream_verdict', progType: 14, attach: 5 },
  { key: 'SK_SKB skb_verdict', progType: 14, attach: 38 },
  { key: 'SK_MSG', progType: 16, attach: 7 },
];

type Mode = 'ldx' | 'stx' | 'st' | 'ldsx';
const MODES: { mode: Mode; sizes: number[] }[] = [
  { mode: 'ldx', sizes: [1, 2, 4, 8] },
  { mode: 'stx', sizes: [1, 2, 4, 8] },
  { mode: 'st', sizes: [1, 2, 4, 8] },
  { mode: 'ldsx', sizes: [1, 2, 4] },
];
const U = ['', 'u8', 'u16', '', 'u32', '', '', '', 'u64'];
const S = ['', 's8', 's16', '', 's32'];
const mem = (base: number, off: number) => `(r${base} ${off < 0 ? '-' : '+'}${Math.abs(off)})`;

function accessText(mode: Mode, size: number, base: number, off: number): string {
  switch (mode) {
    case 'ldx':
      return `r3 = *(${U[size]} *)${mem(base, off)}`;
    case 'ldsx':
      return `r3 = *(${S[size]} *)${mem(base, off)}`;
    case 'stx':
      return `r3 = 0\n*(${U[size]} *)${mem(base, off)} = r3`;
    case 'st':
      return `*(${U[size]} *)${mem(base, off)} = 0`;
  }
}

/** Socket-pointer configs: how to get the pointer into R2 (and branch to `out` if NULL). */
interface SockConfig {
  key: string;
  regType: SockRegType;
  progType: number;
  attach: number;
  prelude: string;
}
const SOCK_CONFIGS: SockConfig[] = [
  { key: 'sock_common (SK_SKB skb->sk)', regType: 'sock_common', progType: 14, attach: 5, prelude: 'r2 = *(u64 *)(r1 +168)\nif r2 == 0 goto out' },
  { key: 'sock (SK_MSG msg->sk)', regType: 'sock', progType: 16, attach: 7, prelude: 'r2 = *(u64 *)(r1 +72)' },
  { key: 'sock (SOCK_OPS sk, checked)', regType: 'sock', progType: 13, attach: 3, prelude: 'r2 = *(u64 *)(r1 +184)\nif r2 == 0 goto out' },
  {
    key: 'tcp_sock (CGROUP_SKB bpf_tcp_sock)',
    regType: 'tcp_sock',
    progType: 8,
    attach: 0,
    prelude: 'r1 = *(u64 *)(r1 +168)\nif r1 == 0 goto out\ncall bpf_tcp_sock\nif r0 == 0 goto out\nr2 = r0',
  },
];
const SOCK_MODES: { mode: Mode; sizes: number[] }[] = [
  { mode: 'ldx', sizes: [1, 2, 4, 8] },
  { mode: 'stx', sizes: [1, 2, 4, 8] },
];

/** Single programs with their whole rejection line (or 'OK'). */
interface MiscCase {
  name: string;
  progType: number;
  attach: number;
  restricted?: boolean;
  src: string;
  /** What bpfvm's tables/messages say the kernel prints ('OK' = loads). */
  expect: () => string;
}
const MISC: MiscCase[] = [
  { name: 'modified ctx (r1 += 4)', progType: 3, attach: 0, src: 'r1 += 4\nr2 = *(u32 *)(r1 +0)', expect: () => ctxPtrOffMessage(1, 4)! },
  { name: 'modified ctx, insn off compensates', progType: 3, attach: 0, src: 'r1 += 4\nr2 = *(u32 *)(r1 -4)', expect: () => ctxPtrOffMessage(1, 4)! },
  { name: 'negative ctx offset', progType: 3, attach: 0, src: 'r1 += -4\nr2 = *(u32 *)(r1 +4)', expect: () => ctxPtrOffMessage(1, -4)! },
  { name: 'ctx offset back to 0', progType: 3, attach: 0, src: 'r1 += 4\nr1 += -4\nr2 = *(u32 *)(r1 +0)', expect: () => 'OK' },
  { name: 'modified ctx store (SK_SKB)', progType: 14, attach: 5, src: 'r1 += 32\n*(u32 *)(r1 +0) = 0', expect: () => ctxPtrOffMessage(1, 32)! },
  { name: 'modified ctx (SK_MSG)', progType: 16, attach: 7, src: 'r1 += 8\nr2 = *(u64 *)(r1 +0)', expect: () => ctxPtrOffMessage(1, 8)! },
  { name: 'modified ctx (SOCK_OPS)', progType: 13, attach: 3, src: 'r1 += 4\nr2 = *(u32 *)(r1 +0)', expect: () => ctxPtrOffMessage(1, 4)! },
  { name: 'modified ctx in r6 (XDP)', progType: 6, attach: 0, src: 'r6 = r1\nr6 += 4\nr2 = *(u32 *)(r6 +0)', expect: () => ctxPtrOffMessage(6, 4)! },
  {
    name: 'variable ctx offset (root)',
    progType: 3,
    attach: 0,
    src: 'r2 = *(u32 *)(r1 +0)\nr2 &= 4\nr1 += r2\nr2 = *(u32 *)(r1 +0)',
    expect: () => ctxPtrOffMessage(1, 0, { value: 0n, mask: 4n })!,
  },
  {
    name: 'variable ctx offset (!perfmon)',
    progType: 3,
    attach: 0,
    restricted: true,
    src: 'r2 = *(u32 *)(r1 +0)\nr2 &= 4\nr1 += r2\nr2 = *(u32 *)(r1 +0)',
    expect: () => CTX_MESSAGES.ctxVarAluUnpriv.replace('%d', '1'),
  },
  {
    name: 'variable ctx offset, 8-aligned (SK_SKB)',
    progType: 14,
    attach: 5,
    src: 'r2 = *(u32 *)(r1 +0)\nr2 &= 24\nr1 += r2\nr2 = *(u32 *)(r1 +0)',
    expect: () => ctxPtrOffMessage(1, 0, { value: 0n, mask: 24n })!,
  },
  { name: 'pointer stored into ctx (!perfmon)', progType: 3, attach: 0, restricted: true, src: 'r2 = r10\n*(u32 *)(r1 +48) = r2', expect: () => CTX_MESSAGES.leaksAddr.replace('%d', '2') },
  { name: 'pointer stored into ctx (root)', progType: 3, attach: 0, src: 'r2 = r10\n*(u32 *)(r1 +48) = r2', expect: () => 'OK' },
  { name: 'atomic add on ctx', progType: 3, attach: 0, src: 'r2 = 0\nlock *(u32 *)(r1 +48) += r2', expect: () => CTX_MESSAGES.atomicCtx.replace('%d', '1') },
  { name: 'atomic add on ctx (SK_MSG)', progType: 16, attach: 7, src: 'r2 = 0\nlock *(u64 *)(r1 +0) += r2', expect: () => CTX_MESSAGES.atomicCtx.replace('%d', '1') },
  {
    name: 'unchecked skb->sk',
    progType: 14,
    attach: 5,
    src: 'r2 = *(u64 *)(r1 +168)\nr3 = *(u32 *)(r2 +4)',
    expect: () => (sockAccess('sock_common_or_null', 4, 4, false, 2) as { message: string }).message,
  },
  {
    name: 'unchecked sock_ops->sk',
    progType: 13,
    attach: 3,
    src: 'r2 = *(u64 *)(r1 +184)\nr3 = *(u32 *)(r2 +4)',
    expect: () => (sockAccess('sock_or_null', 4, 4, false, 2) as { message: string }).message,
  },
  {
    name: 'unchecked bpf_tcp_sock result',
    progType: 8,
    attach: 0,
    src: 'r1 = *(u64 *)(r1 +168)\nif r1 == 0 goto out\ncall bpf_tcp_sock\nr3 = *(u32 *)(r0 +0)',
    expect: () => (sockAccess('tcp_sock_or_null', 0, 4, false, 0) as { message: string }).message,
  },
  {
    name: 'unchecked skb->sk, store',
    progType: 14,
    attach: 5,
    src: 'r2 = *(u64 *)(r1 +168)\n*(u32 *)(r2 +4) = 0',
    expect: () => (sockAccess('sock_common_or_null', 4, 4, true, 2) as { message: string }).message,
  },
];

// ---- snapshot format ---------------------------------------------------------------------------------

interface GridObs {
  progType: number;
  attach: number;
  restricted?: boolean;
  /** first offset of every grid string */
  offMin: number;
  grid: Record<string, string>;
  /** "mode size off" → message, for '!' marks */
  other: Record<string, string>;
  /** accepted non-scalar loads: "off size" → text the level-2 log printed for the destination register */
  loadTypes?: Record<string, string>;
}
interface Snapshot {
  kernel: string;
  note: string;
  ctx: Record<string, GridObs>;
  sock: Record<string, GridObs>;
  misc: Record<string, string>;
}

const snapshot = JSON.parse(readFileSync(SNAPSHOT_URL, 'utf8')) as Snapshot;

// ---- what the tables predict ------------------------------------------------------------------------

function ctxPredict(cfg: CtxConfig, mode: Mode, size: number, off: number): { mark: string; message?: string } {
  const q: CtxAccessQuery = {
    off,
    size,
    write: mode === 'stx' || mode === 'st',
    signExtend: mode === 'ldsx',
    attachType: cfg.attach,
    privileged: !cfg.restricted,
    capBpf: true, // the restricted oracle keeps CAP_BPF
  };
  const r = ctxAccess(cfg.progType, q);
  if (r.ok && r.conversionError) return { mark: '!', message: `${r.conversionError} [errno ${CONVERSION_ERRNO}]` };
  return r.ok ? { mark: '+' } : { mark: '.', message: r.message };
}

function sockPredict(cfg: SockConfig, mode: Mode, size: number, off: number): { mark: string; message?: string } {
  const r = sockAccess(cfg.regType, off, size, mode === 'stx' || mode === 'st', 2);
  if (r.ok && r.conversionError) return { mark: '!', message: `${r.conversionError} [errno ${CONVERSION_ERRNO}]` };
  return r.ok ? { mark: '+' } : { mark: '.', message: r.message };
}

// ---- kernel probing ----------------------------------------------------------------------------------

function program(prelude: string, access: string, ret: number): Uint8Array {
  return assemble(`${prelude}\n${access}\nout:\nr0 = ${ret}\nexit`);
}

/** The refusal line: the last line before the statistics line. */
function errorLine(log: string): string {
  const lines = log.split('\n').filter((l) => l.length > 0);
  const i = lines.findIndex((l) => l.startsWith('processed '));
  return (i > 0 ? lines[i - 1] : lines[lines.length - 1]) ?? '';
}

/** The state the level-2 log prints for R3 after instruction `pc`. */
function loadedRegText(log: string, pc: number): string | undefined {
  const line = log.split('\n').find((l) => l.startsWith(`${pc}: (`) && l.includes(';'));
  if (!line) return undefined;
  const m = / R3=(.*?)(?: R\d+=|$)/.exec(line.slice(line.indexOf(';')));
  return m?.[1];
}

function runAll(reqs: KernelProgRequest[]): KernelProgResult[] {
  const out: KernelProgResult[] = [];
  for (let i = 0; i < reqs.length; i += 100) out.push(...kernelRunBatch(reqs.slice(i, i + 100), { timeoutMs: 120_000 }));
  return out;
}

function probeGrid(
  base: { progType: number; attach: number; restricted?: boolean },
  structSize: number,
  modes: { mode: Mode; sizes: number[] }[],
  prelude: string,
  baseReg: number,
  loadPc: number | undefined,
  expectedMessage: (mode: Mode, size: number, off: number) => string,
): GridObs {
  const jobs: { mode: Mode; size: number; off: number }[] = [];
  for (const { mode, sizes } of modes) {
    for (const size of sizes) for (let off = OFF_MIN; off <= structSize + PAST_END; off++) jobs.push({ mode, size, off });
  }
  const reqs: KernelProgRequest[] = jobs.map((j) => ({
    progType: base.progType,
    expectedAttachType: base.attach,
    insns: program(prelude, accessText(j.mode, j.size, baseReg, j.off), base.progType === 6 ? 2 : 1),
    logLevel: j.mode === 'ldx' && loadPc !== undefined ? 2 : 1,
    logSize: 1 << 16,
    ...(base.restricted ? { restricted: true } : {}),
  }));
  const res = runAll(reqs);
  const obs: GridObs = { progType: base.progType, attach: base.attach, offMin: OFF_MIN, grid: {}, other: {} };
  if (base.restricted) obs.restricted = true;
  const loadTypes: Record<string, string> = {};
  jobs.forEach((j, i) => {
    const r = res[i]!;
    const k = `${j.mode}${j.size}`;
    let mark: string;
    if (r.loaded) {
      mark = '+';
      if (j.mode === 'ldx' && loadPc !== undefined) {
        const t = loadedRegText(r.log, loadPc) ?? '?';
        if (!t.startsWith('scalar') && !/^-?\d+$/.test(t)) loadTypes[`${j.off} ${j.size}`] = t;
      }
    } else {
      const line = errorLine(r.log);
      if (line === expectedMessage(j.mode, j.size, j.off)) mark = '.';
      else {
        mark = '!';
        obs.other[`${j.mode} ${j.size} ${j.off}`] = `${line} [errno ${r.errno}]`;
      }
    }
    obs.grid[k] = (obs.grid[k] ?? '') + mark;
  });
  if (loadPc !== undefined) obs.loadTypes = loadTypes;
  return obs;
}

function probeKernel(): Snapshot {
  const ctx: Record<string, GridObs> = {};
  for (const cfg of CTX_CONFIGS) {
    ctx[cfg.key] = probeGrid(cfg, ctxStruct(cfg.progType).size, MODES, '', 1, 0, (_m, size, off) => invalidCtxAccessMessage(off, size));
  }
  const sock: Record<string, GridObs> = {};
  for (const cfg of SOCK_CONFIGS) {
    const size = ctxLayout(cfg.regType === 'tcp_sock' ? 'bpf_tcp_sock' : 'bpf_sock').size;
    sock[cfg.key] = probeGrid(cfg, size, SOCK_MODES, cfg.prelude, 2, undefined, (mode, sz, off) =>
      mode === 'ldx' ? `R2 invalid ${cfg.regType} access off=${off} size=${sz}` : `R2 cannot write into ${cfg.regType}`,
    );
  }
  const misc: Record<string, string> = {};
  const reqs: KernelProgRequest[] = MISC.map((c) => ({
    progType: c.progType,
    expectedAttachType: c.attach,
    insns: assemble(`${c.src}\nout:\nr0 = 1\nexit`),
    logLevel: 1,
    ...(c.restricted ? { restricted: true } : {}),
  }));
  runAll(reqs).forEach((r, i) => (misc[MISC[i]!.name] = r.loaded ? 'OK' : errorLine(r.log)));
  return {
    kernel: release(),
    note:
      'Observed with test/verifier/ctx.test.ts (BPFVM_UPDATE_SNAPSHOT=1). Grid strings: one char per offset from offMin; ' +
      "'+' loaded, '.' refused with the standard message, '!' other message (see other).",
    ctx,
    sock,
    misc,
  };
}

function formatSnapshot(s: Snapshot): string {
  const grid = (g: GridObs) => {
    const lines = [`      "progType": ${g.progType}, "attach": ${g.attach},${g.restricted ? ' "restricted": true,' : ''} "offMin": ${g.offMin},`];
    lines.push('      "grid": {\n' + Object.entries(g.grid).map(([k, v]) => `        ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n') + '\n      },');
    lines.push(`      "other": ${JSON.stringify(g.other)}${g.loadTypes ? ',' : ''}`);
    if (g.loadTypes) lines.push(`      "loadTypes": ${JSON.stringify(g.loadTypes)}`);
    return '{\n' + lines.join('\n') + '\n    }';
  };
  const section = (m: Record<string, GridObs>) =>
    '{\n' + Object.entries(m).map(([k, v]) => `    ${JSON.stringify(k)}: ${grid(v)}`).join(',\n') + '\n  }';
  return (
    '{\n' +
    `  "kernel": ${JSON.stringify(s.kernel)},\n  "note": ${JSON.stringify(s.note)},\n` +
    `  "ctx": ${section(s.ctx)},\n  "sock": ${section(s.sock)},\n` +
    `  "misc": {\n${Object.entries(s.misc).map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n')}\n  }\n}\n`
  );
}

// ---- comparisons ---------------------------------------------------------------------------------------

/** Differences between the tables and one observed grid ("mode size off: kernel X, table Y"). */
function diffGrid(
  obs: GridObs,
  modes: { mode: Mode; sizes: number[] }[],
  predict: (mode: Mode, size: number, off: number) => { mark: string; message?: string },
): string[] {
  const diffs: string[] = [];
  for (const { mode, sizes } of modes) {
    for (const size of sizes) {
      const g = obs.grid[`${mode}${size}`];
      if (g === undefined) {
        diffs.push(`${mode}${size}: missing from the observation`);
        continue;
      }
      for (let i = 0; i < g.length; i++) {
        const off = obs.offMin + i;
        const p = predict(mode, size, off);
        const k = obs.other[`${mode} ${size} ${off}`];
        if (g[i] !== p.mark || (p.mark === '!' && k !== p.message)) {
          diffs.push(`${mode} size ${size} off ${off}: kernel '${g[i]}'${k ? ` (${k})` : ''}, table '${p.mark}'${p.message ? ` (${p.message})` : ''}`);
        }
      }
    }
  }
  return diffs;
}

function checkLoadTypes(cfg: CtxConfig, obs: GridObs): string[] {
  const diffs: string[] = [];
  const seen = new Set<string>();
  for (const [k, text] of Object.entries(obs.loadTypes ?? {})) {
    seen.add(k);
    const [off, size] = k.split(' ').map(Number) as [number, number];
    const r = ctxAccess(cfg.progType, { off, size, write: false, attachType: cfg.attach });
    if (!r.ok || ctxPtrLogText(r.regType) !== text) diffs.push(`${k}: kernel ${text}, table ${r.ok ? ctxPtrLogText(r.regType) : 'refused'}`);
  }
  // and every pointer-yielding load the table accepts was seen as such
  const { size } = ctxStruct(cfg.progType);
  for (let off = 0; off < size; off++) {
    for (const sz of [1, 2, 4, 8]) {
      const r = ctxAccess(cfg.progType, { off, size: sz, write: false, attachType: cfg.attach });
      if (r.ok && r.regType !== 'scalar' && !seen.has(`${off} ${sz}`)) diffs.push(`${off} ${sz}: table ${r.regType}, kernel scalar`);
    }
  }
  return diffs;
}

// ---- 1. facts from filter.c / the docs -------------------------------------------------------------------

const rd = (progType: number, off: number, size: number, extra: Partial<CtxAccessQuery> = {}) =>
  ctxAccess(progType, { off, size, write: false, ...extra });
const wr = (progType: number, off: number, size: number, extra: Partial<CtxAccessQuery> = {}) =>
  ctxAccess(progType, { off, size, write: true, ...extra });

describe('ctx tables: layouts come from the loader table', () => {
  it('uses the sizes of the uapi structs', () => {
    expect(ctxStruct(14)).toEqual({ struct: '__sk_buff', size: 192 });
    expect(ctxStruct(16)).toEqual({ struct: 'sk_msg_md', size: 80 });
    expect(ctxStruct(13)).toEqual({ struct: 'bpf_sock_ops', size: 224 });
    expect(ctxStruct(6)).toEqual({ struct: 'xdp_md', size: 24 });
    expect(ctxLayout('bpf_sock').size).toBe(80);
    expect(ctxLayout('bpf_tcp_sock').size).toBe(112);
  });
  it('flattens arrays and pointer unions into leaves', () => {
    const skb = ctxLayout('__sk_buff').fields;
    expect(skb.find((x) => x.name === 'cb[4]')).toEqual({ name: 'cb[4]', off: 64, size: 4 });
    expect(skb.find((x) => x.name === 'sk')).toEqual({ name: 'sk', off: 168, size: 8 });
    expect(skb.find((x) => x.name === 'hwtstamp')).toEqual({ name: 'hwtstamp', off: 184, size: 8 });
    const ops = ctxLayout('bpf_sock_ops').fields;
    expect(ops.find((x) => x.name === 'reply')).toEqual({ name: 'reply', off: 4, size: 4 });
    expect(ops.find((x) => x.name === 'skb_hwtstamp')).toEqual({ name: 'skb_hwtstamp', off: 216, size: 8 });
    expect(ctxLayout('bpf_sock').fields.find((x) => x.name === 'dst_ip4')).toEqual({ name: 'dst_ip4', off: 52, size: 4 });
  });
  it('every row names a field the layout has', () => {
    for (const rules of Object.values(CTX_RULES)) {
      const names = new Set(ctxLayout(rules.struct).fields.map((x) => x.name.replace(/\[\d+\]$/, '')));
      for (const row of rules.rows) for (const n of row.fields) if (n !== '*') expect(names.has(n), `${rules.name}: ${n}`).toBe(true);
    }
    expect(kernelBtf().types.length).toBeGreaterThan(10);
  });
});

describe('ctx tables: facts read from filter.c', () => {
  it('SK_SKB (doc §4.2 / selftests ctx_skb.c)', () => {
    expect(rd(14, 76, 4)).toMatchObject({ ok: true, regType: 'pkt', field: 'data' });
    expect(rd(14, 80, 4)).toMatchObject({ ok: true, regType: 'pkt_end' });
    expect(rd(14, 76, 2).ok).toBe(false);
    expect(rd(14, 76, 4, { signExtend: true }).ok).toBe(false);
    expect(rd(14, 168, 8)).toMatchObject({ ok: true, regType: 'sock_common_or_null' });
    expect(rd(14, 168, 4).ok).toBe(false);
    expect(rd(14, 8, 4)).toEqual({ ok: false, message: 'invalid bpf_context access off=8 size=4' }); // mark
    expect(wr(14, 8, 4).ok).toBe(false);
    expect(rd(14, 72, 4).ok).toBe(false); // tc_classid
    expect(wr(14, 32, 4).ok).toBe(true); // priority
    expect(wr(14, 44, 4).ok).toBe(true); // tc_index
    expect(wr(14, 44, 2).ok).toBe(false);
    expect(wr(14, 48, 4).ok).toBe(false); // cb
    expect(rd(14, 48, 8).ok).toBe(true);
    expect(rd(14, 64, 8).ok).toBe(false);
    expect(rd(14, 138, 2)).toMatchObject({ ok: true, ctxFieldSize: 4, narrow: true, field: 'local_port' });
    expect(rd(14, 92, 2).ok).toBe(false); // remote_ip4: 4 only
    for (const off of [140, 144, 152, 160, 180, 181, 184]) expect(rd(14, off, 1).ok, String(off)).toBe(false);
    expect(rd(14, 192, 4).ok).toBe(false);
    expect(rd(14, 2, 4).ok).toBe(false);
  });
  it('SK_MSG (doc §4.3 / verifier_ctx_sk_msg.c)', () => {
    expect(rd(16, 0, 8)).toMatchObject({ ok: true, regType: 'pkt' });
    expect(rd(16, 8, 8)).toMatchObject({ ok: true, regType: 'pkt_end' });
    expect(rd(16, 72, 8)).toMatchObject({ ok: true, regType: 'sock' });
    expect(rd(16, 68, 4)).toMatchObject({ ok: true, field: 'size', ctxFieldSize: 0, narrow: false });
    expect(rd(16, 68, 8).ok).toBe(false);
    expect(rd(16, 72, 4).ok).toBe(false);
    expect(rd(16, 17, 4).ok).toBe(false);
    expect(rd(16, 16, 2).ok).toBe(false);
    expect(wr(16, 16, 4).ok).toBe(false);
  });
  it('SOCK_OPS (doc §4.4)', () => {
    expect(wr(13, 4, 4)).toMatchObject({ ok: true, field: 'args[0]' });
    expect(wr(13, 8, 4).ok).toBe(false);
    expect(wr(13, 164, 4).ok).toBe(true);
    expect(rd(13, 0, 2).ok).toBe(false);
    expect(rd(13, 212, 1)).toMatchObject({ ok: true, narrow: true });
    expect(rd(13, 184, 8)).toMatchObject({ ok: true, regType: 'sock_or_null' });
    expect(rd(13, 192, 8)).toMatchObject({ ok: true, regType: 'pkt' });
    expect(rd(13, 200, 8)).toMatchObject({ ok: true, regType: 'pkt_end' });
    expect(rd(13, 168, 8).ok).toBe(true);
    expect(rd(13, 172, 4).ok).toBe(false);
    expect(rd(13, 216, 8).ok).toBe(true);
  });
  it('SCHED_CLS / CGROUP_SKB / SOCKET_FILTER / XDP specifics', () => {
    expect(rd(3, 140, 4)).toMatchObject({ ok: true, regType: 'pkt_meta' });
    expect(rd(3, 180, 1).ok).toBe(true); // tstamp_type
    expect(rd(3, 180, 2).ok).toBe(false);
    expect(wr(3, 72, 4).ok).toBe(true); // tc_classid
    expect(wr(3, 12, 4).ok).toBe(true); // queue_mapping
    expect(rd(3, 88, 4).ok).toBe(false); // family
    expect(rd(8, 76, 4)).toMatchObject({ ok: true, regType: 'pkt' });
    expect(rd(8, 76, 4, { capBpf: false }).ok).toBe(false);
    expect(wr(8, 152, 8).ok).toBe(true);
    expect(wr(8, 152, 8, { privileged: false }).ok).toBe(false);
    expect(wr(8, 8, 4).ok).toBe(true); // mark
    expect(rd(1, 76, 4).ok).toBe(false);
    expect(wr(1, 52, 4).ok).toBe(true);
    expect(wr(1, 32, 4).ok).toBe(false);
    expect(rd(6, 8, 4)).toMatchObject({ ok: true, regType: 'pkt_meta' });
    expect(rd(6, 20, 4).ok).toBe(false);
    expect(rd(6, 20, 4, { attachType: 33 }).ok).toBe(true);
    expect(wr(6, 16, 4).ok).toBe(false);
  });
  it('sockets', () => {
    expect(sockAccess('sock', 48, 2, false)).toMatchObject({ ok: true, field: 'dst_port', ctxFieldSize: 2 });
    expect(sockAccess('sock', 48, 4, false)).toMatchObject({ ok: true, ctxFieldSize: 4, narrow: false });
    expect(sockAccess('sock', 50, 2, false)).toEqual({ ok: false, message: 'R1 invalid sock access off=50 size=2' });
    expect(sockAccess('sock', 16, 4, false).ok).toBe(true); // mark
    expect(sockAccess('sock_common', 16, 4, false).ok).toBe(false);
    expect(sockAccess('sock_common', 4, 1, false).ok).toBe(true);
    expect(sockAccess('sock', 4, 4, true, 3)).toEqual({ ok: false, message: 'R3 cannot write into sock' });
    expect(sockAccess('sock_or_null', 4, 4, false, 2)).toEqual({ ok: false, message: "R2 invalid mem access 'sock_or_null'" });
    expect(sockAccess('tcp_sock', 80, 8, false).ok).toBe(true);
    expect(sockAccess('tcp_sock', 108, 4, false).ok).toBe(true);
    expect(sockAccess('tcp_sock', 112, 4, false).ok).toBe(false);
  });
  it('describeCtx summarises per field', () => {
    const msg = describeCtx(16);
    expect(msg.map((x) => x.field)).toEqual(['data', 'data_end', 'family', 'remote_ip4', 'local_ip4', 'remote_ip6', 'local_ip6', 'remote_port', 'local_port', 'size', 'sk']);
    expect(msg.find((x) => x.field === 'sk')).toEqual({ field: 'sk', off: 72, size: 8, read: [8], write: [], regType: 'sock' });
    const skb = describeCtx(14);
    expect(skb.find((x) => x.field === 'cb')).toEqual({ field: 'cb', off: 48, size: 20, read: [1, 2, 4, 8], write: [], regType: 'scalar' });
    expect(skb.find((x) => x.field === 'priority')).toMatchObject({ read: [1, 2, 4], write: [4] });
    expect(describeCtx(6, { attachType: 33 }).find((x) => x.field === 'egress_ifindex')).toMatchObject({ read: [4] });
    expect(describeCtx(6).find((x) => x.field === 'egress_ifindex')).toMatchObject({ read: [] });
  });
  it('messages for modified ctx pointers', () => {
    expect(ctxPtrOffMessage(1, 0)).toBeUndefined();
    expect(ctxPtrOffMessage(1, 4)).toBe('dereference of modified ctx ptr R1 off=4 disallowed');
    expect(ctxPtrOffMessage(1, -4)).toBe('negative offset ctx ptr R1 off=-4 disallowed');
    expect(ctxPtrOffMessage(1, 0, { value: 0n, mask: 4n })).toBe('variable ctx access var_off=(0x0; 0x4) disallowed');
  });
});

// ---- 2. the snapshot ---------------------------------------------------------------------------------

describe(`ctx tables vs the committed Linux ${snapshot.kernel} snapshot`, () => {
  for (const cfg of CTX_CONFIGS) {
    it(`${cfg.key}: every offset × size × ldx/stx/st/ldsx`, () => {
      const obs = snapshot.ctx[cfg.key];
      expect(obs, 'config missing from snapshot').toBeDefined();
      expect(diffGrid(obs!, MODES, (m, s, o) => ctxPredict(cfg, m, s, o))).toEqual([]);
      expect(checkLoadTypes(cfg, obs!)).toEqual([]);
    });
  }
  for (const cfg of SOCK_CONFIGS) {
    it(`${cfg.key}: every offset × size × ldx/stx`, () => {
      const obs = snapshot.sock[cfg.key];
      expect(obs, 'config missing from snapshot').toBeDefined();
      expect(diffGrid(obs!, SOCK_MODES, (m, s, o) => sockPredict(cfg, m, s, o))).toEqual([]);
    });
  }
  it('other ctx messages', () => {
    const got = Object.fromEntries(MISC.map((c) => [c.name, c.expect()]));
    expect(got).toEqual(snapshot.misc);
  });
});

// ---- 3. the live kernel -------------------------------------------------------------------------------

const avail = kernelAvailability();
const skipReason = avail.ok ? '' : ` [SKIPPED: ${avail.reason}]`;

describe.skipIf(!avail.ok)(`ctx tables vs the host kernel (${release()})${skipReason}`, () => {
  let observed: Snapshot;
  beforeAll(() => {
    observed = probeKernel();
  }, 600_000);

  for (const cfg of CTX_CONFIGS) {
    it(`${cfg.key}`, () => {
      const obs = observed.ctx[cfg.key]!;
      expect(diffGrid(obs, MODES, (m, s, o) => ctxPredict(cfg, m, s, o))).toEqual([]);
      expect(checkLoadTypes(cfg, obs)).toEqual([]);
    });
  }
  for (const cfg of SOCK_CONFIGS) {
    it(`${cfg.key}`, () => {
      expect(diffGrid(observed.sock[cfg.key]!, SOCK_MODES, (m, s, o) => sockPredict(cfg, m, s, o))).toEqual([]);
    });
  }
  it('other ctx messages', () => {
    expect(Object.fromEntries(MISC.map((c) => [c.name, c.expect()]))).toEqual(observed.misc);
  });

  it('matches (or, with BPFVM_UPDATE_SNAPSHOT=1, rewrites) the committed snapshot', () => {
    if (process.env.BPFVM_UPDATE_SNAPSHOT === '1') {
      writeFileSync(SNAPSHOT_URL, formatSnapshot(observed));
      return;
    }
    if (observed.kernel !== snapshot.kernel) return; // another kernel: the tests above are the check
    expect({ ...observed, note: snapshot.note }).toEqual(snapshot);
  });
});
