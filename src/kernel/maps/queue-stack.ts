// BPF_MAP_TYPE_QUEUE (22) and BPF_MAP_TYPE_STACK (23) (kernel/bpf/queue_stack_maps.c): value-only FIFO / LIFO
// maps of max_entries elements.
//
// Creation (queue_stack_map_alloc_check): max_entries 0, key_size other than 0, value_size 0, flags outside
// BPF_F_NUMA_NODE | the access flags, or BPF_F_RDONLY_PROG with BPF_F_WRONLY_PROG → EINVAL; value_size above
// KMALLOC_MAX_SIZE → E2BIG. Elements are stored as they are pushed (the kernel allocates max_entries + 1 slots
// up front; the 6.18 host even creates 4 GiB queues).
// Push (user-space update, bpf_map_push_elem): flags BPF_ANY or BPF_EXIST (BPF_NOEXIST or anything above
// BPF_EXIST → EINVAL); a full map → E2BIG, unless BPF_EXIST, which drops the OLDEST element first — for a stack
// as for a queue (both share the kernel's circular buffer and advance its tail).
// Peek (user-space lookup, bpf_map_peek_elem) / pop (BPF_MAP_LOOKUP_AND_DELETE_ELEM, bpf_map_pop_elem): the
// oldest element of a queue, the newest of a stack; an empty map → ENOENT (the helpers zero the value buffer).
// User-space delete and get_next_key → EINVAL. Programs reach these maps only through push / pop / peek (the
// verifier refuses bpf_map_lookup_elem and friends on them).

import { BpfExecutionError } from '../../../vm/errors.js';
import type { HelperFn, Vm } from '../../../vm/interpreter.js';
import { BPF_ANY, BPF_EXIST, BPF_F_ACCESS_MASK, BPF_F_NUMA_NODE, BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG, KMALLOC_MAX_SIZE, mapTypeName } from './constants.js';
import { createFail, registerMapType } from './create.js';
import { ERRNO } from './errors.js';
import { BpfMap, normFlags, type ElemRef, type MapAttrs, type MapOptions, type MapValueInput } from './map.js';

export const BPF_MAP_TYPE_QUEUE = 22;
export const BPF_MAP_TYPE_STACK = 23;
export const BPF_FUNC_map_push_elem = 87;
export const BPF_FUNC_map_pop_elem = 88;
export const BPF_FUNC_map_peek_elem = 89;
const QUEUE_STACK_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK;

export class QueueStackMap extends BpfMap {
  /** Elements, oldest first. */
  private readonly items: Uint8Array[] = [];
  /** True for BPF_MAP_TYPE_STACK (LIFO). */
  readonly lifo: boolean;

  constructor(attrs: MapAttrs, opts: MapOptions = {}) {
    super(attrs, opts);
    this.lifo = attrs.type === BPF_MAP_TYPE_STACK;
  }

  get count(): number {
    return this.items.length;
  }

  /** The elements in pop order (a copy; for inspection). */
  elements(): Uint8Array[] {
    const xs = this.items.map((v) => v.slice());
    return this.lifo ? xs.reverse() : xs;
  }

  /** queue_stack_map_push_elem: 0 or -errno. */
  push(value: Uint8Array, flags: number | bigint): number {
    const f = normFlags(flags);
    if (f !== BPF_ANY && f !== BPF_EXIST) return -ERRNO.EINVAL;
    if (this.items.length >= this.maxEntries) {
      if (f !== BPF_EXIST) return -ERRNO.E2BIG;
      this.items.shift(); // the kernel advances the tail: the oldest element goes, for a stack too
    }
    const v = new Uint8Array(this.valueSize);
    v.set(value.subarray(0, this.valueSize));
    this.items.push(v);
    return 0;
  }

  /** __queue_map_get / __stack_map_get: the element (removed when `del`), or null when empty. */
  take(del: boolean): Uint8Array | null {
    if (this.items.length === 0) return null;
    if (!del) return this.items[this.lifo ? this.items.length - 1 : 0]!.slice();
    return (this.lifo ? this.items.pop() : this.items.shift())!;
  }

  protected sysLookup(): Uint8Array {
    const v = this.take(false);
    if (v === null) this.fail('ENOENT', 'lookup', `the ${this.typeName} is empty`);
    return v;
  }

  protected sysUpdate(key: Uint8Array, value: MapValueInput, flags: number): void {
    void key;
    const r = this.push(this.valueBytes('update', value), flags);
    if (r === -ERRNO.EINVAL) this.fail('EINVAL', 'update', `flags ${flags} are not BPF_ANY or BPF_EXIST`);
    if (r === -ERRNO.E2BIG) this.fail('E2BIG', 'update', `the ${this.typeName} is full (${this.maxEntries} elements; BPF_EXIST replaces the oldest)`);
  }

  protected sysDelete(): void {
    this.fail('EINVAL', 'delete', `${this.typeName} maps have no keys to delete (pop with lookup_and_delete)`);
  }

  protected override sysLookupAndDelete(): Uint8Array {
    const v = this.take(true);
    if (v === null) this.fail('ENOENT', 'lookup_and_delete', `the ${this.typeName} is empty`);
    return v;
  }

  protected nextKey(): Uint8Array {
    this.fail('EINVAL', 'get_next_key', `${this.typeName} maps have no keys`);
  }

  lookupElem(): ElemRef | null {
    this.refuseElemOp('lookup', `use bpf_map_peek_elem on ${this.typeName} maps`);
  }
  updateElem(): number {
    this.refuseElemOp('update', `use bpf_map_push_elem on ${this.typeName} maps`);
  }
  deleteElem(): number {
    this.refuseElemOp('delete', `use bpf_map_pop_elem on ${this.typeName} maps`);
  }
}

for (const t of [BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK]) {
  registerMapType(t, (a, s, o) => {
    if (s.maxEntries === 0) createFail(s, 'EINVAL', 'max_entries is 0');
    if (s.keySize !== 0) createFail(s, 'EINVAL', `key_size must be 0 for ${mapTypeName(t)} maps (got ${s.keySize})`);
    if (s.valueSize === 0) createFail(s, 'EINVAL', 'value_size is 0');
    if (s.flags & ~QUEUE_STACK_CREATE_FLAG_MASK) createFail(s, 'EINVAL', `map_flags 0x${(s.flags & ~QUEUE_STACK_CREATE_FLAG_MASK).toString(16)} are not allowed for queue / stack maps`);
    if ((s.flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) === (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) createFail(s, 'EINVAL', 'BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together');
    if (s.valueSize > KMALLOC_MAX_SIZE) createFail(s, 'E2BIG', `value_size ${s.valueSize} is above KMALLOC_MAX_SIZE`);
    // (The 6.12 sources also refuse max_entries >= U32_MAX / value_size with E2BIG; the 6.18 host does not.)
    return new QueueStackMap(a, o);
  });
}

function queueArg(v: Vm, pc: number, helper: string): QueueStackMap {
  const m = v.space.objectAt(v.lo[1]!, v.hi[1]!);
  if (m instanceof QueueStackMap) return m;
  const what = m instanceof BpfMap ? `a ${m.typeName} map, which bpfvm does not support with this helper` : 'not a map pointer';
  throw new BpfExecutionError(pc, `${helper}: r1 is ${what}`);
}

/** bpf_map_push_elem (87)(map, value, flags), bpf_map_pop_elem (88)(map, value), bpf_map_peek_elem (89)(map, value). */
export function queueStackHelpers(): [number, HelperFn][] {
  const get = (del: boolean, helper: string): HelperFn => (v, pc) => {
    const map = queueArg(v, pc, helper);
    if (del && map.flags & BPF_F_RDONLY_PROG) throw new BpfExecutionError(pc, `${helper}: map "${map.name}" is read-only for programs`);
    const val = map.take(del);
    // An empty map: the value buffer is zeroed and -ENOENT returned.
    v.space.write(pc, v.lo[2]!, v.hi[2]!, val ?? new Uint8Array(map.valueSize));
    v.setR0Int(val === null ? -ERRNO.ENOENT : 0);
  };
  return [
    [BPF_FUNC_map_push_elem, (v, pc) => {
      const map = queueArg(v, pc, 'bpf_map_push_elem');
      if (map.flags & BPF_F_RDONLY_PROG) throw new BpfExecutionError(pc, `bpf_map_push_elem: map "${map.name}" is read-only for programs`);
      const value = v.space.read(pc, v.lo[2]!, v.hi[2]!, map.valueSize);
      v.setR0Int(map.push(value, v.reg(3)));
    }],
    [BPF_FUNC_map_pop_elem, get(true, 'bpf_map_pop_elem')],
    [BPF_FUNC_map_peek_elem, get(false, 'bpf_map_peek_elem')],
  ];
}
