// Error shape: BpfLoadError with a context chain and where-fields.
import { describe, expect, it } from 'vitest';
import { BpfLoadError } from '../../src/errors.js';
import { loadCollection, loadCollectionFile } from '../../src/elf/index.js';
import { readElf } from '../../src/elf/elf.js';
import { fixtureObjects } from './helpers.js';

function catchErr(fn: () => unknown): BpfLoadError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BpfLoadError);
    return e as BpfLoadError;
  }
  throw new Error('expected a BpfLoadError');
}

/** Renames a section by rewriting its name in the section-name string table (same length). */
function renameSection(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const b = bytes.slice();
  const elf = readElf(b);
  const shstrndx = new DataView(b.buffer).getUint16(62, true);
  const tab = elf.sections[shstrndx]!;
  const sec = elf.sections.find((s) => s.name === from)!;
  const nameOff = new DataView(b.buffer).getUint32(Number(new DataView(b.buffer).getBigUint64(40, true)) + sec.index * 64, true);
  for (let i = 0; i < to.length; i++) b[tab.offset + nameOff + i] = to.charCodeAt(i);
  return b;
}

describe('BpfLoadError', () => {
  const loops = fixtureObjects().find((o) => o.name.endsWith('v4/bounded_loops.o'))!;

  it('not an ELF file', () => {
    const e = catchErr(() => loadCollection(new TextEncoder().encode('hello world, this is not an ELF object at all......................'), { file: 'x.o' }));
    expect(e.message).toBe('read ELF: not an ELF file (bad magic)');
    expect(e.context).toEqual(['read ELF']);
    expect(e.file).toBe('x.o');
  });

  it('missing file', () => {
    const e = catchErr(() => loadCollectionFile('/nonexistent/x.o'));
    expect(e.message).toMatch(/^cannot read \/nonexistent\/x\.o/);
  });

  it('unknown program section names the program and how to fix it', () => {
    const e = catchErr(() => loadCollection(renameSection(loops.bytes, 'xdp', 'foo')));
    expect(e.message).toMatch(/^load program "loop_nested": unknown program type for section "foo": name the section like sk_msg/);
    expect(e.section).toBe('foo');
  });

  it('broken BTF in a map definition gives a chained message', () => {
    const sm = fixtureObjects().find((o) => o.name.endsWith('v4/sockmap_layout.o'))!;
    const b = sm.bytes.slice();
    const elf = readElf(b);
    const btfSec = elf.byName.get('.BTF')!;
    // Point the first type record's info at kind 25 (unknown).
    const dv = new DataView(b.buffer);
    const hdrLen = dv.getUint32(btfSec.offset + 4, true);
    const typeOff = dv.getUint32(btfSec.offset + 8, true);
    dv.setUint8(btfSec.offset + hdrLen + typeOff + 7, 25);
    const e = catchErr(() => loadCollection(b));
    expect(e.message).toBe('load BTF: type 1: unknown BTF kind 25');
  });

  it('truncated object', () => {
    const e = catchErr(() => loadCollection(loops.bytes.subarray(0, loops.bytes.length - 100)));
    expect(e.message).toMatch(/^read ELF: /);
  });
});
