// BTF parsing of every kind from a hand-encoded blob, helpers, and broken BTF.
import { describe, expect, it } from 'vitest';
import { BpfLoadError } from '../../src/errors.js';
import { parseBtf } from '../../src/btf/parse.js';
import { parseBtfExt } from '../../src/btf/ext.js';
import { declTags, resolveType, sizeOf, typeString } from '../../src/btf/resolve.js';
import { BtfEnc } from './btf-enc.js';

function allKinds(): BtfEnc {
  const e = new BtfEnc();
  e.type('int', 1, 0, 4, [(1 << 24) | 32]); // 1 INT signed 32
  e.type('', 2, 0, 1); // 2 PTR -> int
  e.type('', 3, 0, 0, [1, 1, 5]); // 3 ARRAY int[5]
  e.type('pair', 4, 2, 8, [e.str('a'), 1, 0, e.str('b'), 1, 32]); // 4 STRUCT
  e.type('u', 5, 1, 4, [e.str('x'), 1, 0]); // 5 UNION
  e.type('color', 6, 2, 4, [e.str('RED'), 0, e.str('NEG'), 0xffffffff], true); // 6 ENUM signed
  e.type('fwd', 7, 0, 0, [], true); // 7 FWD union
  e.type('myint', 8, 0, 1); // 8 TYPEDEF -> int
  e.type('', 9, 0, 8); // 9 VOLATILE -> myint
  e.type('', 10, 0, 9); // 10 CONST -> volatile
  e.type('', 11, 0, 2); // 11 RESTRICT -> ptr
  e.type('', 13, 1, 1, [e.str('arg'), 4]); // 12 FUNC_PROTO int (struct pair)
  e.type('f', 12, 1, 12); // 13 FUNC global
  e.type('v', 14, 0, 3, [1]); // 14 VAR global int[5]
  e.type('.data', 15, 1, 20, [14, 0, 20]); // 15 DATASEC
  e.type('double', 16, 0, 8); // 16 FLOAT
  e.type('comment:hello', 17, 0, 13, [0xffffffff]); // 17 DECL_TAG on f
  e.type('user', 18, 0, 1); // 18 TYPE_TAG -> int
  e.type('big', 19, 1, 8, [e.str('HUGE'), 0, 1]); // 19 ENUM64 value 1<<32
  e.type('comment:param', 17, 0, 13, [0]); // 20 DECL_TAG on f param 0
  e.type('comment:world', 17, 0, 13, [0xffffffff]); // 21 DECL_TAG on f
  return e;
}

describe('BTF parse', () => {
  const btf = parseBtf(allKinds().bytes());

  it('parses every kind', () => {
    expect(btf.types.map((t) => t.kind)).toEqual([
      'VOID', 'INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'FWD', 'TYPEDEF', 'VOLATILE', 'CONST', 'RESTRICT',
      'FUNC_PROTO', 'FUNC', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64', 'DECL_TAG', 'DECL_TAG',
    ]);
    expect(btf.types[1]).toMatchObject({ name: 'int', size: 4, encoding: 1, bits: 32 });
    expect(btf.types[4]).toMatchObject({ name: 'pair', members: [{ name: 'a', bitOffset: 0 }, { name: 'b', bitOffset: 32 }] });
    expect(btf.types[6]).toMatchObject({ signed: true, values: [{ name: 'RED', value: 0n }, { name: 'NEG', value: -1n }] });
    expect(btf.types[7]).toMatchObject({ union: true });
    expect(btf.types[13]).toMatchObject({ name: 'f', linkage: 1 });
    expect(btf.types[15]).toMatchObject({ vars: [{ type: 14, offset: 0, size: 20 }] });
    expect(btf.types[19]).toMatchObject({ values: [{ name: 'HUGE', value: 1n << 32n }] });
  });

  it('resolves sizes through typedefs, modifiers and arrays', () => {
    expect(sizeOf(btf, 10)).toBe(4);
    expect(sizeOf(btf, 3)).toBe(20);
    expect(sizeOf(btf, 14)).toBe(20);
    expect(sizeOf(btf, 2)).toBe(8);
    expect(sizeOf(btf, 16)).toBe(8);
    expect(resolveType(btf, 10).name).toBe('int');
    expect(() => sizeOf(btf, 13)).toThrow(BpfLoadError);
    expect(typeString(btf, 11)).toBe('int * restrict');
  });

  it('finds decl tags per component', () => {
    expect(declTags(btf, 13)).toEqual(['comment:hello', 'comment:world']);
    expect(declTags(btf, 13, 0)).toEqual(['comment:param']);
  });
});

describe('broken BTF', () => {
  const bad = (e: BtfEnc, re: RegExp) => {
    expect(() => parseBtf(e.bytes())).toThrow(BpfLoadError);
    expect(() => parseBtf(e.bytes())).toThrow(re);
  };
  it('unknown kind', () => bad(new BtfEnc().type('x', 25, 0, 0), /type 1: unknown BTF kind 25/));
  it('dangling type id', () => bad(new BtfEnc().type('', 2, 0, 7), /type 1: refers to unknown type id 7/));
  it('typedef loop', () => bad(new BtfEnc().type('a', 8, 0, 2).type('b', 8, 0, 1), /reference loop/));
  it('vlen past the end', () => bad(new BtfEnc().type('s', 4, 1000, 8), /runs past the type section/));
  it('bad int size', () => bad(new BtfEnc().type('i', 1, 0, 3, [8]), /INT size 3/));
  it('bad magic / truncated', () => {
    expect(() => parseBtf(new Uint8Array(10))).toThrow(/BTF header truncated/);
    const b = allKinds().bytes();
    b[0] = 0;
    expect(() => parseBtf(b)).toThrow(/bad BTF magic/);
    expect(() => parseBtf(allKinds().bytes().subarray(0, 100))).toThrow(BpfLoadError);
  });
  it('broken .BTF.ext', () => {
    const btf = parseBtf(allKinds().bytes());
    expect(() => parseBtfExt(new Uint8Array(4), btf)).toThrow(BpfLoadError);
    const ext = new Uint8Array(32 + 8);
    const dv = new DataView(ext.buffer);
    dv.setUint16(0, 0xeb9f, true);
    ext[2] = 1;
    dv.setUint32(4, 32, true);
    dv.setUint32(8, 0, true);
    dv.setUint32(12, 8, true); // func_info: rec size then a truncated section header
    dv.setUint32(32, 8, true);
    dv.setUint32(36, 1, true);
    expect(() => parseBtfExt(ext, btf)).toThrow(/func_info/);
  });
});
