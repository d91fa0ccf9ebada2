// Arrays whose values are kernel objects (kernel/bpf/arraymap.c "fd arrays"): PROG_ARRAY holds programs for
// bpf_tail_call, ARRAY_OF_MAPS holds inner maps. User space writes them with BPF_ANY only and reads back the
// object's id; slots start empty; delete empties a slot. Programs may only tail-call through a prog array and
// only look up an array of maps (the verifier refuses everything else; the model throws if asked).

import { BPF_ANY, BPF_MAP_TYPE_PROG_ARRAY } from './constants.js';
import { checkInner } from './hash.js';
import { BpfMap, u32Bytes, u32le, type BpfProgRef, type ElemRef, type MapAttrs, type MapOptions, type MapValueInput } from './map.js';

export abstract class FdArrayMap<T extends object> extends BpfMap {
  protected readonly slots: (T | null)[];

  constructor(attrs: MapAttrs, opts: MapOptions = {}) {
    super(attrs, opts);
    this.slots = new Array<T | null>(this.maxEntries).fill(null);
  }

  override get sysValueSize(): number {
    return 4;
  }

  get count(): number {
    let n = 0;
    for (const s of this.slots) if (s !== null) n++;
    return n;
  }

  /** The object in slot `index`, or null. */
  at(index: number): T | null {
    return index >>> 0 < this.maxEntries ? this.slots[index >>> 0]! : null;
  }

  protected abstract idOf(v: T): number;
  protected abstract accept(value: MapValueInput): T;

  protected sysLookup(key: Uint8Array): Uint8Array {
    const v = this.at(u32le(key));
    if (v === null) this.fail('ENOENT', 'lookup', `slot ${u32le(key)} is empty`);
    return u32Bytes(this.idOf(v));
  }

  protected sysUpdate(key: Uint8Array, value: MapValueInput, flags: number): void {
    const index = u32le(key);
    if (flags !== BPF_ANY) this.fail('EINVAL', 'update', `${this.typeName} updates only take BPF_ANY (flags 0x${flags.toString(16)})`);
    if (index >= this.maxEntries) this.fail('E2BIG', 'update', `index ${index} is not below max_entries ${this.maxEntries}`);
    this.slots[index] = this.accept(value);
  }

  protected sysDelete(key: Uint8Array): void {
    const index = u32le(key);
    if (index >= this.maxEntries) this.fail('E2BIG', 'delete', `index ${index} is not below max_entries ${this.maxEntries}`);
    if (this.slots[index] === null) this.fail('ENOENT', 'delete', `slot ${index} is empty`);
    this.slots[index] = null;
  }

  protected nextKey(key: Uint8Array | null): Uint8Array {
    const index = key === null ? 0xffffffff : u32le(key);
    if (index >= this.maxEntries) return u32Bytes(0);
    if (index === this.maxEntries - 1) this.fail('ENOENT', 'get_next_key', `index ${index} is the last one`);
    return u32Bytes(index + 1);
  }

  updateElem(key?: Uint8Array, value?: Uint8Array, flags?: number | bigint, cpu?: number): number {
    void key, void value, void flags, void cpu;
    this.fail('EOPNOTSUPP', 'update', `programs cannot update a ${this.typeName} (the verifier refuses bpf_map_update_elem on it)`);
  }

  deleteElem(key?: Uint8Array, cpu?: number): number {
    void key, void cpu;
    this.fail('EOPNOTSUPP', 'delete', `programs cannot delete from a ${this.typeName} (the verifier refuses bpf_map_delete_elem on it)`);
  }
}

export class ProgArrayMap extends FdArrayMap<BpfProgRef> {
  /** The program type every member must have: set by the first program stored (or bound to a program using the map). */
  owner: { type: number } | null = null;

  protected idOf(v: BpfProgRef): number {
    return v.id;
  }

  protected accept(value: MapValueInput): BpfProgRef {
    if (value instanceof Uint8Array || value instanceof BpfMap) this.fail('EBADF', 'update', 'a prog_array value must be a program');
    if (value.extension) this.fail('EINVAL', 'update', `program "${value.name}" is an extension (freplace) program`);
    if (!this.compatible(value)) {
      this.fail('EINVAL', 'update', `program "${value.name}" has type ${value.type}, the prog array holds type ${this.owner!.type}`);
    }
    return value;
  }

  /** bpf_prog_map_compatible, reduced to the program type: the first caller claims the map. */
  compatible(prog: { type: number }): boolean {
    if (this.owner === null) {
      this.owner = { type: prog.type };
      return true;
    }
    return this.owner.type === prog.type;
  }

  /** The program in slot `index` (what bpf_tail_call jumps to), or null. */
  program(index: number): BpfProgRef | null {
    return this.at(index);
  }

  lookupElem(key?: Uint8Array, cpu?: number): ElemRef | null {
    void key, void cpu;
    this.fail('EOPNOTSUPP', 'lookup', 'programs cannot look up a prog_array (the verifier refuses it)');
  }
}

export class ArrayOfMapsMap extends FdArrayMap<BpfMap> {
  constructor(
    attrs: MapAttrs,
    opts: MapOptions & { innerMeta: BpfMap },
  ) {
    super(attrs, opts);
    this.innerMeta = opts.innerMeta;
  }
  readonly innerMeta: BpfMap;

  protected idOf(v: BpfMap): number {
    return v.id;
  }

  protected accept(value: MapValueInput): BpfMap {
    return checkInner(this, this.innerMeta, value, 'update');
  }

  lookupElem(key: Uint8Array, cpu?: number): ElemRef | null {
    void cpu;
    return this.at(u32le(key));
  }
}

export const isProgArray = (m: BpfMap): m is ProgArrayMap => m.type === BPF_MAP_TYPE_PROG_ARRAY;
