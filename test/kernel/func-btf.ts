// The smallest BTF the verifier accepts for a program with subprograms (bpf_loop / bpf_user_ringbuf_drain
// callbacks need func_info): an "int" type, one "int (void)" prototype and one FUNC per subprogram (the main one
// global, the others static), with the bpf_func_info records (insn_off, type_id) that go with it. For the kernel
// oracle (oracle.ts KernelProgRequest.btf).

const BTF_MAGIC = 0xeb9f;
const KIND_INT = 1;
const KIND_ARRAY = 3;
const KIND_STRUCT = 4;
const KIND_FUNC = 12;
const KIND_FUNC_PROTO = 13;

/** `funcs`: each subprogram's name and first instruction (slot index); the first one is the main program. */
export function funcBtf(funcs: readonly { name: string; insnOff: number }[], opts: { spinLockValue?: boolean; timerValue?: boolean } = {}): { data: Uint8Array; funcInfo: Uint8Array; spinLockValueId?: number; timerValueId?: number } {
  let strs = '\0int\0';
  const nameOff = funcs.map((f) => {
    const off = strs.length;
    strs += `${f.name}\0`;
    return off;
  });
  const words: number[] = [];
  words.push(1, (KIND_INT << 24) >>> 0, 4, (1 << 24) | 32); // [1] int: signed, 32 bits
  words.push(0, (KIND_FUNC_PROTO << 24) >>> 0, 1); // [2] int (void)
  funcs.forEach((_, i) => words.push(nameOff[i]!, ((KIND_FUNC << 24) | (i === 0 ? 1 : 0)) >>> 0, 2)); // [3..] FUNC
  // opts.spinLockValue: struct bpf_spin_lock { int val; } and struct val { int cnt; struct bpf_spin_lock l; } (8 bytes,
  // the lock at offset 4), for a map whose value holds a lock (key type: [1] int)
  let spinLockValueId: number | undefined;
  if (opts.spinLockValue) {
    const str = (x: string): number => {
      const off = strs.length;
      strs += `${x}\0`;
      return off;
    };
    const lockId = 3 + funcs.length;
    words.push(str('bpf_spin_lock'), ((KIND_STRUCT << 24) | 1) >>> 0, 4, str('val'), 1, 0);
    words.push(str('val'), ((KIND_STRUCT << 24) | 2) >>> 0, 8, str('cnt'), 1, 0, str('l'), lockId, 32);
    spinLockValueId = lockId + 1;
  }
  // opts.timerValue: struct bpf_timer { u64 __opaque[2]; } and struct tv { u64 fired; struct bpf_timer t; } (24 bytes,
  // the timer at offset 8)
  let timerValueId: number | undefined;
  if (opts.timerValue) {
    const str = (x: string): number => {
      const off = strs.length;
      strs += `${x}\0`;
      return off;
    };
    const u64 = 3 + funcs.length + (opts.spinLockValue ? 2 : 0);
    words.push(str('u64'), (KIND_INT << 24) >>> 0, 8, 64); // unsigned 64-bit
    words.push(0, (KIND_ARRAY << 24) >>> 0, 0, u64, 1, 2); // u64[2] (index type: int)
    words.push(str('bpf_timer'), ((KIND_STRUCT << 24) | 1) >>> 0, 16, str('__opaque'), u64 + 1, 0);
    words.push(str('tv'), ((KIND_STRUCT << 24) | 2) >>> 0, 24, str('fired'), u64, 0, str('t'), u64 + 2, 64);
    timerValueId = u64 + 3;
  }
  const typeLen = words.length * 4;
  const str = Buffer.from(strs, 'latin1');
  const data = new Uint8Array(24 + typeLen + str.length);
  const dv = new DataView(data.buffer);
  dv.setUint16(0, BTF_MAGIC, true);
  dv.setUint8(2, 1); // version
  dv.setUint32(4, 24, true); // hdr_len
  dv.setUint32(8, 0, true); // type_off
  dv.setUint32(12, typeLen, true);
  dv.setUint32(16, typeLen, true); // str_off
  dv.setUint32(20, str.length, true);
  words.forEach((w, i) => dv.setUint32(24 + 4 * i, w, true));
  data.set(str, 24 + typeLen);
  const funcInfo = new Uint8Array(8 * funcs.length);
  const fv = new DataView(funcInfo.buffer);
  funcs.forEach((f, i) => {
    fv.setUint32(8 * i, f.insnOff, true);
    fv.setUint32(8 * i + 4, 3 + i, true);
  });
  return { data, funcInfo, spinLockValueId, timerValueId };
}
