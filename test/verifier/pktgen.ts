// Random packet-access programs for the verifier's differential and soundness tests: ctx data/data_end loads
// for SK_MSG / SK_SKB / XDP / SCHED_CLS, bounds checks of random widths in all eight comparison forms, reads
// and writes at random offsets, variable offsets, stack spills/fills, array-map lookups, and packet-changing
// helper calls in between. Programs are short and loop-free (the host kernel once oopsed on an extremely
// long verifier path), written in the kernel's assembly syntax.

import fc from 'fast-check';

export const SK_MSG = 16;
export const SK_SKB = 14;
export const XDP = 6;
export const SCHED_CLS = 3;

export const ARRAY_MAP = { name: 'amap', type: 2, keySize: 4, valueSize: 16, maxEntries: 4 };

export interface PktProgram {
  type: number;
  text: string;
  usesMap: boolean;
}

interface GenOpts {
  /** Allow helpers that change packet data (not runnable in the interpreter's test run). */
  pktChangingHelpers: boolean;
  types: number[];
}

const CMP = ['>', '<', '>=', '<='] as const;
const SIZES = ['u8', 'u16', 'u32', 'u64'] as const;

function ctxLoads(type: number): string {
  switch (type) {
    case SK_MSG:
      return 'r2 = *(u64 *)(r1 +0)\nr3 = *(u64 *)(r1 +8)';
    case XDP:
      return 'r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)';
    default:
      return 'r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)';
  }
}

function reloadFromR6(type: number): string {
  return ctxLoads(type).replace(/r1 /g, 'r6 ');
}

type Block =
  | { k: 'check'; width: number; form: number; swap: boolean; reg: number }
  | { k: 'read'; size: number; off: number; base: number }
  | { k: 'write'; size: number; off: number }
  | { k: 'spill' }
  | { k: 'fill'; size: number }
  | { k: 'copy'; reg: number; add: number }
  | { k: 'varoff'; mask: number }
  | { k: 'helper'; arg: number; reload: boolean }
  | { k: 'map'; nullCheck: boolean; off: number }
  | { k: 'stackread'; off: number; size: number };

const arbBlock = (o: GenOpts): fc.Arbitrary<Block> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ k: fc.constant('check' as const), width: fc.oneof(fc.integer({ min: 0, max: 16 }), fc.constantFrom(14, 20, 34, 42, 54, 64)), form: fc.integer({ min: 0, max: 3 }), swap: fc.boolean(), reg: fc.constantFrom(2, 7) }) },
    { weight: 5, arbitrary: fc.record({ k: fc.constant('read' as const), size: fc.integer({ min: 0, max: 3 }), off: fc.integer({ min: -2, max: 40 }), base: fc.constantFrom(2, 2, 7, 8) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('write' as const), size: fc.integer({ min: 0, max: 3 }), off: fc.integer({ min: 0, max: 30 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('spill' as const) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('fill' as const), size: fc.constantFrom(3, 3, 3, 2) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('copy' as const), reg: fc.constantFrom(7, 8), add: fc.integer({ min: -4, max: 20 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('varoff' as const), mask: fc.constantFrom(1, 3, 7, 15, 255) }) },
    { weight: o.pktChangingHelpers ? 2 : 0, arbitrary: fc.record({ k: fc.constant('helper' as const), arg: fc.integer({ min: 0, max: 16 }), reload: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('map' as const), nullCheck: fc.boolean(), off: fc.integer({ min: 0, max: 16 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('stackread' as const), off: fc.constantFrom(-8, -16, -24, -4), size: fc.integer({ min: 0, max: 3 }) }) },
  );

function helperCall(type: number, arg: number): string {
  switch (type) {
    case SK_MSG:
      return `r1 = r6\nr2 = 0\nr3 = ${arg}\nr4 = 0\ncall bpf_msg_pull_data#63`;
    case XDP:
      return `r1 = r6\nr2 = ${arg}\ncall bpf_xdp_adjust_head#44`;
    default:
      return `r1 = r6\nr2 = ${arg}\ncall bpf_skb_pull_data#39`;
  }
}

function render(type: number, blocks: Block[]): PktProgram {
  const out: string[] = ['r6 = r1', ctxLoads(type), 'r7 = r2', 'r8 = r2', 'r9 = 0'];
  let usesMap = false;
  let label = 0;
  for (const b of blocks) {
    switch (b.k) {
      case 'check': {
        const op = CMP[b.form]!;
        out.push(`r4 = r${b.reg}`, `r4 += ${b.width}`);
        const l = `l${label++}`;
        // jump to the out label on the "too short" side for half the forms, keep going otherwise
        out.push(b.swap ? `if r3 ${op} r4 goto ${l}` : `if r4 ${op} r3 goto ${l}`);
        out.push(`goto ${l}_c`, `${l}:`, 'r0 = 0', 'exit', `${l}_c:`);
        break;
      }
      case 'read':
        out.push(`r5 = *(${SIZES[b.size]} *)(r${b.base} ${b.off >= 0 ? '+' : '-'}${Math.abs(b.off)})`);
        break;
      case 'write':
        out.push(`*(${SIZES[b.size]} *)(r2 +${b.off}) = 1`);
        break;
      case 'spill':
        out.push('*(u64 *)(r10 -8) = r2');
        break;
      case 'fill':
        out.push(`r2 = *(${SIZES[b.size]} *)(r10 -8)`);
        break;
      case 'copy':
        out.push(`r${b.reg} = r2`, `r${b.reg} += ${b.add}`);
        break;
      case 'varoff':
        out.push('r5 = *(u32 *)(r6 +' + (type === SK_MSG ? 68 : type === XDP ? 12 : 0) + ')', `r5 &= ${b.mask}`, 'r8 = r2', 'r8 += r5');
        break;
      case 'helper':
        out.push(helperCall(type, b.arg));
        if (b.reload) out.push(reloadFromR6(type));
        break;
      case 'map': {
        usesMap = true;
        const l = `m${label++}`;
        out.push('*(u32 *)(r10 -16) = 1', 'r2 = r10', 'r2 += -16', 'r1 = map[idx:0]', 'call bpf_map_lookup_elem#1');
        if (b.nullCheck) out.push(`if r0 == 0x0 goto ${l}`);
        out.push(`r5 = *(u32 *)(r0 +${b.off})`, `${l}:`, reloadFromR6(type));
        break;
      }
      case 'stackread':
        out.push(`r5 = *(${SIZES[b.size]} *)(r10 ${b.off})`);
        break;
    }
  }
  out.push(type === SK_SKB || type === SK_MSG ? 'r0 = 1' : 'r0 = 2', 'exit');
  return { type, text: out.join('\n'), usesMap };
}

export function arbPktProgram(opts: Partial<GenOpts> = {}): fc.Arbitrary<PktProgram> {
  const o: GenOpts = { pktChangingHelpers: opts.pktChangingHelpers ?? true, types: opts.types ?? [SK_MSG, SK_SKB, XDP, SCHED_CLS] };
  return fc
    .tuple(
      fc.constantFrom(...o.types),
      fc.option(fc.record({ k: fc.constant('check' as const), width: fc.integer({ min: 24, max: 64 }), form: fc.integer({ min: 0, max: 3 }), swap: fc.boolean(), reg: fc.constant(2) }), { freq: 2 }),
      fc.array(arbBlock(o), { minLength: 1, maxLength: 10 }),
    )
    .map(([type, first, blocks]) => render(type, first ? [first, ...blocks] : blocks));
}
