// Parser for `.BTF.ext` (func_info, line_info, core_relo). Layout per libbpf_internal.h: a header, then
// for each subsection a u32 record size followed by per-ELF-section blocks
// { sec_name_off, num_info, records[num_info] }. Record sizes may grow in future compilers, so we read
// the fields we know and step by the declared record size. `insn_off` is a byte offset in the object
// file; it is converted to an instruction slot here.

import { BpfLoadError, withContext } from '../errors.js';
import { Bytes } from './bytes.js';
import { BTF_MAGIC } from './parse.js';
import type { Btf, BtfCoreRelo, BtfExt, BtfExtSection, BtfFuncInfo, BtfLineInfo } from './types.js';

const EXT_HDR_MIN = 24; // up to line_info_len; core_relo_off/len are optional

export function parseBtfExt(data: Uint8Array, btf: Btf): BtfExt {
  const b = new Bytes(data, 'BTF.ext');
  if (b.length < 8) throw new BpfLoadError(`BTF.ext header truncated: ${b.length} bytes`);
  const magic = b.u16(0);
  if (magic !== BTF_MAGIC) throw new BpfLoadError(`bad BTF.ext magic 0x${magic.toString(16)} (want 0xeb9f)`);
  const version = b.u8at(2);
  if (version !== 1) throw new BpfLoadError(`unsupported BTF.ext version ${version}`);
  const hdrLen = b.u32(4);
  if (hdrLen < EXT_HDR_MIN || hdrLen > b.length) throw new BpfLoadError(`bad BTF.ext header length ${hdrLen}`);
  const strs = new Bytes(btf.strings, 'BTF string section');
  const str = (off: number): string => (off === 0 ? '' : strs.cstr(off));
  const body = new Bytes(b.slice(hdrLen, b.length - hdrLen), 'BTF.ext data');

  const sub = <T>(what: string, off: number, len: number, minRec: number, read: (r: Bytes, at: number) => T): BtfExtSection<T>[] =>
    withContext(what, () => {
      const out: BtfExtSection<T>[] = [];
      if (len === 0) return out;
      const r = new Bytes(body.slice(off, len), what);
      const recSize = r.u32(0);
      if (recSize < minRec || recSize % 4) throw new BpfLoadError(`record size ${recSize} is invalid (minimum ${minRec})`);
      let p = 4;
      while (p < r.length) {
        const secName = str(r.u32(p));
        const n = r.u32(p + 4);
        p += 8;
        if (n === 0) throw new BpfLoadError(`section "${secName}" has no records`);
        // Bound the count by the bytes present before allocating anything.
        r.check(p, n * recSize);
        const records: T[] = [];
        for (let i = 0; i < n; i++) records.push(read(r, p + i * recSize));
        p += n * recSize;
        out.push({ section: secName, records });
      }
      return out;
    });

  const slot = (byteOff: number): number => {
    if (byteOff % 8) throw new BpfLoadError(`insn_off ${byteOff} is not a multiple of 8`);
    return byteOff / 8;
  };

  const funcInfo = sub<BtfFuncInfo>('func_info', b.u32(8), b.u32(12), 8, (r, at) => ({ insnOff: slot(r.u32(at)), typeId: r.u32(at + 4) }));
  const lineInfo = sub<BtfLineInfo>('line_info', b.u32(16), b.u32(20), 16, (r, at) => {
    const lc = r.u32(at + 12);
    return { insnOff: slot(r.u32(at)), fileNameOff: r.u32(at + 4), lineOff: r.u32(at + 8), line: lc >>> 10, col: lc & 0x3ff };
  });
  const coreRelos = hdrLen >= 32
    ? sub<BtfCoreRelo>('core_relo', b.u32(24), b.u32(28), 16, (r, at) => ({
        insnOff: slot(r.u32(at)),
        typeId: r.u32(at + 4),
        accessStrOff: r.u32(at + 8),
        kind: r.u32(at + 12),
      }))
    : [];
  return { funcInfo, lineInfo, coreRelos };
}

/** Reads a string from the BTF string section (file names, source lines, access strings). */
export function btfString(btf: Btf, off: number): string {
  return off === 0 ? '' : new Bytes(btf.strings, 'BTF string section').cstr(off);
}
