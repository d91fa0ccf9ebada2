// The virtual address space a program runs in: a table of regions (context, stack frames, packet, map values,
// read-only data, opaque kernel objects). A 64-bit address is split in two 32-bit halves: the high half names
// the region (REGION_HI_BASE + region id) and the low half is the byte offset inside it. Pointer arithmetic
// that leaves a region therefore lands on an address no region owns, and the access faults.

import { BpfMemoryFault, type RegionInfo } from './errors.js';

export const REGION_HI_BASE = 0x1000;

export type RegionKind = 'ctx' | 'stack' | 'packet' | 'map_value' | 'rodata' | 'object' | 'code' | 'memory';

/**
 * Hook for regions whose loads are not plain memory, such as a context structure whose `data` field the kernel
 * rewrites into a packet pointer. Returns true when it produced the value (in out[0] = lo, out[1] = hi).
 */
export type LoadHook = (offset: number, size: number, out: Int32Array) => boolean;
/** Store hook: returns true when it consumed the store. */
export type StoreHook = (offset: number, size: number, lo: number, hi: number) => boolean;

export class Region {
  id = 0;
  hi = 0;
  name = '';
  kind: RegionKind = 'memory';
  bytes: Uint8Array = new Uint8Array(0);
  dv: DataView = new DataView(new ArrayBuffer(0));
  writable = false;
  load: LoadHook | null = null;
  store: StoreHook | null = null;
  /** Opaque payload for 'object' regions (a map handle, a socket) that helpers look up by pointer. */
  object: unknown = null;

  /** Address of byte `offset` of this region, as a bigint (for messages and tests). */
  address(offset = 0): bigint {
    return (BigInt(this.hi >>> 0) << 32n) + BigInt(offset >>> 0);
  }

  info(): RegionInfo {
    return { name: this.name, start: this.address(0), end: this.address(0) + BigInt(this.bytes.length), writable: this.writable };
  }
}

export class AddressSpace {
  /** Indexed by region id; a freed slot holds null and is reused. */
  readonly regions: (Region | null)[] = [];
  private readonly free: number[] = [];

  map(name: string, kind: RegionKind, bytes: Uint8Array, writable: boolean): Region {
    const r = new Region();
    const id = this.free.length > 0 ? this.free.pop()! : this.regions.length;
    r.id = id;
    r.hi = REGION_HI_BASE + id;
    r.name = name;
    r.kind = kind;
    r.bytes = bytes;
    r.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    r.writable = writable;
    if (id === this.regions.length) this.regions.push(r);
    else this.regions[id] = r;
    return r;
  }

  /** Maps an opaque object (map, socket) at a zero-length region so that it has a unique address. */
  mapObject(name: string, object: unknown): Region {
    const r = this.map(name, 'object', new Uint8Array(0), false);
    r.object = object;
    return r;
  }

  unmap(r: Region): void {
    if (this.regions[r.id] === r) {
      this.regions[r.id] = null;
      this.free.push(r.id);
    }
  }

  /** Replaces the bytes behind a region (a packet that grew or shrank). */
  remap(r: Region, bytes: Uint8Array): void {
    r.bytes = bytes;
    r.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  regionOf(hi: number): Region | null {
    const id = (hi >>> 0) - REGION_HI_BASE;
    if (id < 0 || id >= this.regions.length) return null;
    return this.regions[id] ?? null;
  }

  /** The object mapped at an address (its region must be an 'object' region at offset 0). */
  objectAt(lo: number, hi: number): unknown {
    const r = this.regionOf(hi);
    if (r === null || r.kind !== 'object' || lo !== 0) return undefined;
    return r.object;
  }

  /** Resolves [lo,hi] + size to a region and offset, or throws the fault the interpreter would raise. */
  resolve(pc: number, access: 'load' | 'store' | 'atomic', lo: number, hi: number, size: number): { region: Region; offset: number } {
    const r = this.regionOf(hi);
    const off = lo >>> 0;
    if (r === null || off + size > r.bytes.length) throw this.fault(pc, access, lo, hi, size);
    if (access !== 'load' && !r.writable) throw this.fault(pc, access, lo, hi, size);
    return { region: r, offset: off };
  }

  /** Copies `len` bytes out of program memory (for helpers); faults like a load. */
  read(pc: number, lo: number, hi: number, len: number): Uint8Array {
    if (len === 0) return new Uint8Array(0);
    const { region, offset } = this.resolve(pc, 'load', lo, hi, len);
    return region.bytes.slice(offset, offset + len);
  }

  /** Writes bytes into program memory (for helpers); faults like a store. */
  write(pc: number, lo: number, hi: number, data: Uint8Array): void {
    if (data.length === 0) return;
    const { region, offset } = this.resolve(pc, 'store', lo, hi, data.length);
    region.bytes.set(data, offset);
  }

  fault(pc: number, access: 'load' | 'store' | 'atomic', lo: number, hi: number, size: number): BpfMemoryFault {
    const address = (BigInt(hi >>> 0) << 32n) + BigInt(lo >>> 0);
    const r = this.regionOf(hi);
    const all = this.regions.filter((x): x is Region => x !== null && x.kind !== 'object').map((x) => x.info());
    if (r === null) {
      return new BpfMemoryFault(pc, access, address, size, address === 0n ? 'null pointer' : 'address is not in any region', null, all);
    }
    const off = lo >>> 0;
    let reason: string;
    if (r.kind === 'object') reason = `${r.name} is an opaque kernel object, not memory`;
    else if (off + size > r.bytes.length) reason = `offset ${off} + ${size} is outside the region's ${r.bytes.length} bytes`;
    else reason = 'region is read-only';
    return new BpfMemoryFault(pc, access, address, size, reason, r.info(), all);
  }
}
