// The smallest BTF the verifier accepts for a program with subprograms (bpf_loop / bpf_user_ringbuf_drain
// callbacks need func_info): an "int" type, one "int (void)" prototype and one FUNC per subprogram (the main one
// global, the others static), with the bpf_func_info records (insn_off, type_id) that go with it. For the kernel
// oracle (oracle.ts KernelProgRequest.btf).

import { BtfEnc } from '../loader/btf-enc.js';

const KIND_INT = 1;
const KIND_ARRAY = 3;
const KIND_STRUCT = 4;
const KIND_FUNC = 12;
const KIND_FUNC_PROTO = 13;

/** `funcs`: each subprogram's name and first instruction (slot index); the first one is the main program. */
export function funcBtf(funcs: readonly { name: string; insnOff: number }[], opts: { spinLockValue?: boolean; timerValue?: boolean } = {}): { data: Uint8Array; funcInfo: Uint8Array; spinLockValueId?: number; timerValueId?: number } {
  const e = new BtfEnc();
  e.type('int', KIND_INT, 0, 4, [(1 << 24) | 32]); // [1] int: signed, 32 bits
  e.type('', KIND_FUNC_PROTO, 0, 1); // [2] int (void)
  funcs.forEach((f, i) => e.type(f.name, KIND_FUNC, i === 0 ? 1 : 0, 2)); // [3..] FUNC (linkage: global, static)
  let next = 3 + funcs.length;
  // opts.spinLockValue: struct bpf_spin_lock { int val; } and struct val { int cnt; struct bpf_spin_lock l; } (8 bytes,
  // the lock at offset 4), for a map whose value holds a lock (key type: [1] int)
  let spinLockValueId: number | undefined;
  if (opts.spinLockValue) {
    const lockId = next;
    e.type('bpf_spin_lock', KIND_STRUCT, 1, 4, [e.str('val'), 1, 0]);
    e.type('val', KIND_STRUCT, 2, 8, [e.str('cnt'), 1, 0, e.str('l'), lockId, 32]);
    spinLockValueId = lockId + 1;
    next += 2;
  }
  // opts.timerValue: struct bpf_timer { u64 __opaque[2]; } and struct tv { u64 fired; struct bpf_timer t; } (24 bytes,
  // the timer at offset 8)
  let timerValueId: number | undefined;
  if (opts.timerValue) {
    const u64 = next;
    e.type('u64', KIND_INT, 0, 8, [64]); // unsigned 64-bit
    e.type('', KIND_ARRAY, 0, 0, [u64, 1, 2]); // u64[2] (index type: int)
    e.type('bpf_timer', KIND_STRUCT, 1, 16, [e.str('__opaque'), u64 + 1, 0]);
    e.type('tv', KIND_STRUCT, 2, 24, [e.str('fired'), u64, 0, e.str('t'), u64 + 2, 64]);
    timerValueId = u64 + 3;
  }
  const funcInfo = new Uint8Array(8 * funcs.length);
  const fv = new DataView(funcInfo.buffer);
  funcs.forEach((f, i) => {
    fv.setUint32(8 * i, f.insnOff, true);
    fv.setUint32(8 * i + 4, 3 + i, true);
  });
  return { data: e.bytes(), funcInfo, spinLockValueId, timerValueId };
}
