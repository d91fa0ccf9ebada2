// SK_MSG helpers as bpfvm HelperFns, operating on the message behind the program's context (r1 → the
// SkMsgContext that owns the ctx region), plus a convenience to run an SK_MSG program on a message.
// Argument handling follows the kernel's BPF_CALL_n casts: u32 parameters take the low 32 bits of the
// register, u64 flags are checked in full; return values are sign-extended ints in r0.

import { BpfExecutionError } from '../../vm/errors.js';
import type { BoundProgram, HelperFn, RunResult, Vm } from '../../vm/interpreter.js';
import { BPF_F_INGRESS, SK_DROP, SK_PASS, SkMsgContext, skMsgVerdict, type SkMsg, type SkMsgContextOptions, type SkMsgSock } from './skmsg.js';

export const BPF_FUNC_msg_redirect_map = 60;
export const BPF_FUNC_msg_apply_bytes = 61;
export const BPF_FUNC_msg_cork_bytes = 62;
export const BPF_FUNC_msg_pull_data = 63;
export const BPF_FUNC_msg_redirect_hash = 71;
export const BPF_FUNC_msg_push_data = 90;
export const BPF_FUNC_msg_pop_data = 91;

/** The SkMsgContext r1 points at (helpers take ARG_PTR_TO_CTX first). */
export function skMsgContextOf(vm: Vm, pc: number): SkMsgContext {
  const r = vm.space.regionOf(vm.hi[1]!);
  const c = r?.object;
  if (!(c instanceof SkMsgContext) || r !== c.ctx || vm.lo[1] !== 0) {
    throw new BpfExecutionError(pc, 'sk_msg helper called with r1 not pointing at an sk_msg_md context');
  }
  return c;
}

const flagsNonZero = (vm: Vm, reg: number): boolean => (vm.lo[reg]! | vm.hi[reg]!) !== 0;

/** bpf_msg_apply_bytes(msg, u32 bytes) → 0 */
export const bpfMsgApplyBytes: HelperFn = (vm, pc) => {
  skMsgContextOf(vm, pc).msg.applyBytes = vm.lo[2]! >>> 0;
  vm.setR0(0, 0);
};

/** bpf_msg_cork_bytes(msg, u32 bytes) → 0 */
export const bpfMsgCorkBytes: HelperFn = (vm, pc) => {
  skMsgContextOf(vm, pc).msg.corkBytes = vm.lo[2]! >>> 0;
  vm.setR0(0, 0);
};

/** bpf_msg_pull_data(msg, u32 start, u32 end, u64 flags) → 0 / -EINVAL / -ENOMEM */
export const bpfMsgPullData: HelperFn = (vm, pc) => {
  const c = skMsgContextOf(vm, pc);
  const r = c.msg.pull(vm.lo[2]! >>> 0, vm.lo[3]! >>> 0, flagsNonZero(vm, 4) ? 1 : 0);
  c.refresh();
  vm.setR0Int(r);
};

/** bpf_msg_push_data(msg, u32 start, u32 len, u64 flags) → 0 / -EINVAL / -ENOMEM */
export const bpfMsgPushData: HelperFn = (vm, pc) => {
  const c = skMsgContextOf(vm, pc);
  const r = c.msg.push(vm.lo[2]! >>> 0, vm.lo[3]! >>> 0, flagsNonZero(vm, 4) ? 1 : 0);
  c.refresh();
  vm.setR0Int(r);
};

/** bpf_msg_pop_data(msg, u32 start, u32 len, u64 flags) → 0 / -EINVAL / -ENOMEM */
export const bpfMsgPopData: HelperFn = (vm, pc) => {
  const c = skMsgContextOf(vm, pc);
  const r = c.msg.pop(vm.lo[2]! >>> 0, vm.lo[3]! >>> 0, flagsNonZero(vm, 4) ? 1 : 0);
  c.refresh();
  vm.setR0Int(r);
};

function redirectHook(vm: Vm, pc: number, c: SkMsgContext): NonNullable<SkMsgContext['redirect']> {
  if (c.redirect === null) throw new BpfExecutionError(pc, `${vm.helperName(60)}/${vm.helperName(71)}: no redirect hook was given to the sk_msg context`);
  return c.redirect;
}

function mapArg(vm: Vm, pc: number): unknown {
  const m = vm.space.objectAt(vm.lo[2]!, vm.hi[2]!);
  if (m === undefined) throw new BpfExecutionError(pc, 'r2 is not a map pointer');
  return m;
}

function finishRedirect(vm: Vm, msg: SkMsg, target: SkMsgSock | null, flags: number): void {
  if (target === null) {
    vm.setR0(SK_DROP, 0);
    return;
  }
  msg.flags = flags;
  msg.skRedir = target;
  vm.setR0(SK_PASS, 0);
}

/** bpf_msg_redirect_map(msg, map, u32 key, u64 flags) → SK_PASS / SK_DROP (lookup and checks by the hook). */
export const bpfMsgRedirectMap: HelperFn = (vm, pc) => {
  const c = skMsgContextOf(vm, pc);
  if ((vm.lo[4]! & ~BPF_F_INGRESS) !== 0 || vm.hi[4] !== 0) {
    vm.setR0(SK_DROP, 0);
    return;
  }
  const flags = vm.lo[4]! >>> 0;
  const target = redirectHook(vm, pc, c).sockMap(mapArg(vm, pc), vm.lo[3]! >>> 0, flags);
  finishRedirect(vm, c.msg, target, flags);
};

/** bpf_msg_redirect_hash(msg, map, void *key, u64 flags) → SK_PASS / SK_DROP. */
export const bpfMsgRedirectHash: HelperFn = (vm, pc) => {
  const c = skMsgContextOf(vm, pc);
  if ((vm.lo[4]! & ~BPF_F_INGRESS) !== 0 || vm.hi[4] !== 0) {
    vm.setR0(SK_DROP, 0);
    return;
  }
  const flags = vm.lo[4]! >>> 0;
  const klo = vm.lo[3]!;
  const khi = vm.hi[3]!;
  const target = redirectHook(vm, pc, c).sockHash(mapArg(vm, pc), (n) => vm.space.read(pc, klo, khi, n), flags);
  finishRedirect(vm, c.msg, target, flags);
};

/** The SK_MSG-specific helpers by id. */
export const SK_MSG_HELPERS: ReadonlyMap<number, HelperFn> = new Map<number, HelperFn>([
  [BPF_FUNC_msg_redirect_map, bpfMsgRedirectMap],
  [BPF_FUNC_msg_apply_bytes, bpfMsgApplyBytes],
  [BPF_FUNC_msg_cork_bytes, bpfMsgCorkBytes],
  [BPF_FUNC_msg_pull_data, bpfMsgPullData],
  [BPF_FUNC_msg_redirect_hash, bpfMsgRedirectHash],
  [BPF_FUNC_msg_push_data, bpfMsgPushData],
  [BPF_FUNC_msg_pop_data, bpfMsgPopData],
]);

/** Puts the SK_MSG helpers into a VM's helper table (other ids untouched). */
export function installSkMsgHelpers(vm: Vm): void {
  for (const [id, f] of SK_MSG_HELPERS) vm.helpers[id] = f;
}

export interface SkMsgRunResult extends RunResult {
  /** sk_psock_map_verd of r0: __SK_PASS, __SK_REDIRECT or __SK_DROP. */
  verdict: number;
}

/**
 * The program-running part of sk_psock_msg_verdict: compute data pointers, set msg.sk, run with r1 = a fresh
 * sk_msg_md view, clear msg.sk, map the return value. (Copying apply_bytes / sk_redir into the psock is the
 * model's job.) The VM must have the SK_MSG helpers installed (installSkMsgHelpers).
 */
/** Released contexts per address space, reused by the next run (apply 1 runs the program once per byte). */
const contextPool = new WeakMap<Vm['space'], SkMsgContext[]>();

export function runSkMsgProgram(vm: Vm, prog: BoundProgram, msg: SkMsg, sock: SkMsgSock, opts: SkMsgContextOptions = {}): SkMsgRunResult {
  msg.computeDataPointers();
  msg.sk = sock;
  let pool = contextPool.get(vm.space);
  if (pool === undefined) contextPool.set(vm.space, (pool = []));
  const reused = pool.pop();
  let c: SkMsgContext;
  if (reused !== undefined) {
    reused.reuse(msg, sock, opts);
    c = reused;
  } else {
    c = new SkMsgContext(vm.space, msg, sock, opts);
  }
  try {
    const r = vm.run(prog, [c.ctxAddress]);
    return { ...r, verdict: skMsgVerdict(r.r0, msg) };
  } finally {
    msg.sk = null;
    c.release();
    pool.push(c);
  }
}
