// The base of every live map: identity, attributes, the user-space (bpf syscall) operations and the
// program-side operations that helpers call. Concrete types live in array.ts, hash.ts and fdarray.ts; createMap
// (create.ts) checks the attributes the way the kernel's map_create / *_alloc_check do and picks the class.
//
// Two views of the same data:
//  - user space (`lookup`, `update`, `delete`, `getNextKey`, `freeze`): keys and values are byte strings as
//    bpf(2) passes them (per-CPU values are round_up(value_size, 8) bytes per CPU); failures throw BpfMapError
//    with the kernel's errno. Permission rules of the map's file (BPF_F_RDONLY / BPF_F_WRONLY, frozen) apply.
//  - programs (`lookupElem`, `updateElem`, `deleteElem`, `lookupPercpuElem`): lookups return the element's own
//    bytes (a stable Uint8Array view: writes through it change the map), updates and deletes return 0 or a
//    negative errno, as the helpers do. The current CPU is a parameter.

import {
  BPF_F_LOCK,
  BPF_F_RDONLY,
  BPF_F_WRONLY,
  DEFAULT_NR_CPUS,
  mapTypeName,
} from './constants.js';
import { BpfExecutionError } from '../../../vm/errors.js';
import type { Vm } from '../../../vm/interpreter.js';
import { BpfMapError, type ErrnoCode } from './errors.js';
import { NO_FIELDS, zeroSpecialFields, type ValueLayout } from './fields.js';

/** A program as prog arrays hold it (the model's stand-in for a `struct bpf_prog *`). */
export interface BpfProgRef {
  /** Program name (ProgramSpec.name). */
  readonly name: string;
  /** BPF_PROG_TYPE_*; a prog array only accepts programs of the type of the first one it holds. */
  readonly type: number;
  /** The id user-space lookups of a prog array return (bpf_prog->aux->id). */
  readonly id: number;
  /** True for BPF_PROG_TYPE_EXT (freplace) programs, which may never be tail-call targets. */
  readonly extension?: boolean;
}

/** What a user-space update writes: bytes for data maps, a program for prog arrays, a map for map-in-maps. */
export type MapValueInput = Uint8Array | BpfProgRef | BpfMap;

/** What a program-side lookup yields: the value's bytes, or the inner map of a map-in-map. */
export type ElemRef = Uint8Array | BpfMap;

export interface MapAttrs {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export interface MapOptions {
  /** Number of possible CPUs (per-CPU maps hold one value slot per CPU). Default 2. */
  nrCpus?: number;
  /** Map id (what map-in-map user-space lookups return). Default: a process-wide counter. */
  id?: number;
}

let nextMapId = 1;

export const u32le = (b: Uint8Array, off = 0): number => (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;

export function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** Flags wider than 32 bits can only be invalid; fold them to one that every type rejects. */
export function normFlags(flags: number | bigint): number {
  const f = typeof flags === 'bigint' ? flags : BigInt(Math.trunc(flags));
  if (f < 0n || f > 0xffffffffn) return 0xffffffff;
  return Number(f);
}

export abstract class BpfMap {
  readonly name: string;
  readonly type: number;
  readonly typeName: string;
  readonly keySize: number;
  readonly valueSize: number;
  /** As the kernel reports it after creation (LRU with BPF_F_NO_COMMON_LRU rounds it to a multiple of nrCpus). */
  readonly maxEntries: number;
  readonly flags: number;
  readonly nrCpus: number;
  readonly id: number;
  /** BPF_MAP_FREEZE was applied: user space can no longer write (programs still can, unless BPF_F_RDONLY_PROG). */
  frozen = false;
  /** Special fields of the value (bpf_spin_lock, bpf_timer, kptrs: fields.ts), set by createMap from the BTF. */
  layout: ValueLayout = NO_FIELDS;

  constructor(attrs: MapAttrs, opts: MapOptions = {}) {
    this.name = attrs.name;
    this.type = attrs.type;
    this.typeName = mapTypeName(attrs.type);
    this.keySize = attrs.keySize;
    this.valueSize = attrs.valueSize;
    this.maxEntries = attrs.maxEntries;
    this.flags = attrs.flags;
    this.nrCpus = opts.nrCpus ?? DEFAULT_NR_CPUS;
    this.id = opts.id ?? nextMapId++;
  }

  /** Bytes a user-space lookup returns / an update expects (syscall.c bpf_map_value_size). */
  get sysValueSize(): number {
    return this.valueSize;
  }

  /** Number of elements present (for arrays: max_entries, every slot exists). */
  abstract get count(): number;

  // ---- user space -------------------------------------------------------------------------------------------

  /** BPF_MAP_LOOKUP_ELEM. `flags` may only be BPF_F_LOCK, which needs a bpf_spin_lock in the value. */
  lookup(key: Uint8Array, flags: number | bigint = 0): Uint8Array {
    const f = normFlags(flags);
    if ((f & ~BPF_F_LOCK) !== 0) this.fail('EINVAL', 'lookup', `flags 0x${f.toString(16)} are not 0 or BPF_F_LOCK`);
    this.checkRead('lookup');
    if (f & BPF_F_LOCK && this.layout.spinLock < 0) this.fail('EINVAL', 'lookup', 'BPF_F_LOCK needs a bpf_spin_lock in the value');
    this.checkKey('lookup', key);
    // The special fields read as zeroes (check_and_init_map_value); a lookup under BPF_F_LOCK is the same copy
    // in this single-threaded model (no program holds the lock between runs).
    const v = this.sysLookup(key);
    return this.layout.fields.length === 0 || v.length !== this.valueSize ? v : zeroSpecialFields(this.layout, v);
  }

  /** BPF_MAP_UPDATE_ELEM with BPF_ANY (0), BPF_NOEXIST (1), BPF_EXIST (2), optionally | BPF_F_LOCK (4). */
  update(key: Uint8Array, value: MapValueInput, flags: number | bigint = 0): void {
    const f = normFlags(flags);
    this.checkWrite('update');
    if (f & BPF_F_LOCK && this.layout.spinLock < 0) this.fail('EINVAL', 'update', 'BPF_F_LOCK needs a bpf_spin_lock in the value');
    this.checkKey('update', key);
    this.sysUpdate(key, value, f);
  }

  /** BPF_MAP_DELETE_ELEM. */
  delete(key: Uint8Array): void {
    this.checkWrite('delete');
    this.checkKey('delete', key);
    this.sysDelete(key);
  }

  /**
   * BPF_MAP_LOOKUP_AND_DELETE_ELEM (syscall.c map_lookup_and_delete_elem): flags other than BPF_F_LOCK are EINVAL,
   * the map must be readable and writable (EPERM), queue / stack maps take no flags and BPF_F_LOCK needs a
   * bpf_spin_lock (EINVAL); queue / stack pop, the four hash types look up and delete, the rest is ENOTSUPP.
   */
  lookupAndDelete(key: Uint8Array, flags: number | bigint = 0): Uint8Array {
    const f = normFlags(flags);
    if ((f & ~BPF_F_LOCK) !== 0) this.fail('EINVAL', 'lookup_and_delete', `flags 0x${f.toString(16)} are not 0 or BPF_F_LOCK`);
    this.checkRead('lookup_and_delete');
    this.checkWrite('lookup_and_delete');
    if (f !== 0) this.fail('EINVAL', 'lookup_and_delete', 'BPF_F_LOCK needs a bpf_spin_lock in the value (and queue / stack maps take no flags)');
    this.checkKey('lookup_and_delete', key);
    return this.sysLookupAndDelete(key);
  }

  /** The type's BPF_MAP_LOOKUP_AND_DELETE_ELEM after the common checks; ENOTSUPP unless a type has it. */
  protected sysLookupAndDelete(key: Uint8Array): Uint8Array {
    void key;
    this.fail('ENOTSUPP', 'lookup_and_delete', `${this.typeName} maps do not support lookup-and-delete`);
  }

  /** BPF_MAP_GET_NEXT_KEY; `null` asks for the first key. Throws ENOENT after the last key. */
  getNextKey(key: Uint8Array | null): Uint8Array {
    this.checkRead('get_next_key');
    if (key !== null) this.checkKey('get_next_key', key);
    return this.nextKey(key);
  }

  /** BPF_MAP_FREEZE: a second freeze fails with EPERM (the frozen map's file is no longer writable). */
  freeze(): void {
    this.checkWrite('freeze');
    this.frozen = true;
  }

  /** Every key in get_next_key order (starting from NULL). */
  keys(): Uint8Array[] {
    const out: Uint8Array[] = [];
    let k: Uint8Array | null = null;
    for (;;) {
      const n = this.nextKeyOrNull(k);
      if (n === null) return out;
      out.push(n);
      k = n;
      if (out.length > this.maxEntries + 1) throw new Error(`map "${this.name}": get_next_key does not terminate`);
    }
  }

  // ---- programs ---------------------------------------------------------------------------------------------

  /** bpf_map_lookup_elem: the element's value bytes on `cpu` (stable view), an inner map, or null. */
  abstract lookupElem(key: Uint8Array, cpu: number): ElemRef | null;
  /** bpf_map_update_elem: 0 or a negative errno. */
  abstract updateElem(key: Uint8Array, value: Uint8Array, flags: number | bigint, cpu: number): number;
  /** bpf_map_delete_elem: 0 or a negative errno. */
  abstract deleteElem(key: Uint8Array, cpu: number): number;
  /** bpf_map_lookup_percpu_elem: only per-CPU maps have it (the verifier refuses the others). */
  lookupPercpuElem(key: Uint8Array, cpu: number): Uint8Array | null {
    void key;
    void cpu;
    this.fail('EOPNOTSUPP', 'lookup_percpu_elem', `${this.typeName} is not a per-CPU map`);
  }

  // ---- per type ---------------------------------------------------------------------------------------------

  protected abstract sysLookup(key: Uint8Array): Uint8Array;
  protected abstract sysUpdate(key: Uint8Array, value: MapValueInput, flags: number): void;
  protected abstract sysDelete(key: Uint8Array): void;
  protected abstract nextKey(key: Uint8Array | null): Uint8Array;

  protected nextKeyOrNull(key: Uint8Array | null): Uint8Array | null {
    try {
      return this.nextKey(key);
    } catch (e) {
      if (e instanceof BpfMapError && e.code === 'ENOENT') return null;
      throw e;
    }
  }

  // ---- shared checks ----------------------------------------------------------------------------------------

  fail(code: ErrnoCode, op: string, detail: string): never {
    throw new BpfMapError(code, this.name, op, detail);
  }

  /**
   * bpf_map_<op>_elem from a program on a type whose elements programs reach otherwise (the verifier refuses the
   * call): EINVAL, "programs <instead> (the verifier refuses bpf_map_<op>_elem)".
   */
  protected refuseElemOp(op: 'lookup' | 'update' | 'delete', instead: string): never {
    this.fail('EINVAL', `${op}_elem`, `programs ${instead} (the verifier refuses bpf_map_${op}_elem)`);
  }

  protected checkKey(op: string, key: Uint8Array): void {
    if (key.length !== this.keySize) this.fail('EFAULT', op, `key is ${key.length} bytes, key_size is ${this.keySize}`);
  }

  protected valueBytes(op: string, value: MapValueInput): Uint8Array {
    if (!(value instanceof Uint8Array)) this.fail('EINVAL', op, `a ${this.typeName} value is bytes, not a program or map reference`);
    if (value.length !== this.sysValueSize) {
      this.fail('EFAULT', op, `value is ${value.length} bytes, the syscall value of a ${this.typeName} map is ${this.sysValueSize}`);
    }
    return value;
  }

  protected checkRead(op: string): void {
    if (this.flags & BPF_F_WRONLY) this.fail('EPERM', op, 'the map was created with BPF_F_WRONLY');
  }

  protected checkWrite(op: string): void {
    if (this.frozen) this.fail('EPERM', op, 'the map is frozen');
    if (this.flags & BPF_F_RDONLY) this.fail('EPERM', op, 'the map was created with BPF_F_RDONLY');
  }
}

/** Stable lower-case hex of a key, used to index elements. */
export function hexKey(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

/**
 * A helper's map argument: the object register `r` points at, when it is a `cls`; anything else is a call the
 * verifier refuses ("<helper>: r<r> is not <what> (the verifier refuses it)").
 */
export function mapArg<T>(v: Vm, pc: number, r: number, cls: abstract new (...a: never[]) => T, helper: string, what: string): T {
  const m = v.space.objectAt(v.lo[r]!, v.hi[r]!);
  if (!(m instanceof cls)) throw new BpfExecutionError(pc, `${helper}: r${r} is not ${what} (the verifier refuses it)`);
  return m;
}
