// A minimal BTF encoder for tests (the loader's BTF tests, the kernel oracle's func_info BTF in
// test/kernel/func-btf.ts): kinds by number, each string appended to the string section (not interned).

export class BtfEnc {
  strs = [0];
  words: number[] = [];
  /** Appends `s` (NUL-terminated) to the string section; returns its offset (0 for ''). */
  str(s: string): number {
    if (!s) return 0;
    const off = this.strs.length;
    for (const c of Buffer.from(s)) this.strs.push(c);
    this.strs.push(0);
    return off;
  }
  /** Appends a type: name, kind, vlen, size or type, then the kind's extra words. */
  type(name: string, kind: number, vlen: number, sizeOrType: number, extra: number[] = [], kflag = false): this {
    this.words.push(this.str(name), ((kflag ? 1 : 0) << 31) | (kind << 24) | vlen, sizeOrType, ...extra);
    return this;
  }
  /** The .BTF section: header, types, strings. */
  bytes(): Uint8Array {
    const types = new Uint8Array(new Uint32Array(this.words).buffer);
    const strs = new Uint8Array(this.strs);
    const out = new Uint8Array(24 + types.length + strs.length);
    const dv = new DataView(out.buffer);
    dv.setUint16(0, 0xeb9f, true);
    out[2] = 1;
    dv.setUint32(4, 24, true);
    dv.setUint32(8, 0, true);
    dv.setUint32(12, types.length, true);
    dv.setUint32(16, types.length, true);
    dv.setUint32(20, strs.length, true);
    out.set(types, 24);
    out.set(strs, 24 + types.length);
    return out;
  }
}
