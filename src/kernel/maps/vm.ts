// The map model inside a VM: map objects and values become regions of the VM's address space, and the generic
// map helpers become HelperFns. This file is the only place the map model meets vm/.
//
//  - A map is an 'object' region (zero bytes, unique address): lddw BPF_PSEUDO_MAP_FD/IDX loads its address and
//    helpers get the map back with space.objectAt.
//  - A value is a 'map_value' region over the element's own bytes (value_size long): repeated lookups of the same
//    element return the same region, so stores through the pointer change the map. Maps created with
//    BPF_F_RDONLY_PROG (.rodata, .kconfig) get read-only regions. BPF_F_WRONLY_PROG does not restrict the
//    lookup helper (the kernel's verifier refuses only direct loads through the returned pointer and passing it
//    to a helper that reads it, check_map_access_type): the lookup returns the value pointer as for any map. Regions of deleted or replaced elements stay
//    mapped (the kernel keeps them valid until the program ends) but are no longer part of the map.
//  - lddw BPF_PSEUDO_MAP_VALUE / IDX_VALUE (global data) resolves to element 0 of a single-element ARRAY.
//  - bpfvm has no file descriptors: the imm of src 1 / 2 (map by fd) is taken as the map's index as well.
//  - Helpers: bpf_map_lookup_elem (1), bpf_map_update_elem (2), bpf_map_delete_elem (3),
//    bpf_map_lookup_percpu_elem (195); bpf_tail_call through prog arrays via Vm.tailCallTarget.
//    They return what the kernel's helpers return (a pointer or NULL, 0 or -errno). What the verifier would have
//    refused (updating a prog array, writing a read-only map, a non-map in r1) stops the run with a
//    BpfExecutionError instead.

import { BpfExecutionError } from '../../../vm/errors.js';
import type { BoundProgram, HelperFn, LddwResolver, Vm } from '../../../vm/interpreter.js';
import type { AddressSpace, Region } from '../../../vm/memory.js';
import { ArrayMap } from './array.js';
import type { Maps } from './collection.js';
import { BPF_F_RDONLY_PROG } from './constants.js';
import { BpfMapError } from './errors.js';
import { ProgArrayMap } from './fdarray.js';
import { BpfMap, type BpfProgRef } from './map.js';

export const BPF_FUNC_map_lookup_elem = 1;
export const BPF_FUNC_map_update_elem = 2;
export const BPF_FUNC_map_delete_elem = 3;
export const BPF_FUNC_map_lookup_percpu_elem = 195;

export interface MapsVmOptions {
  /** The CPU programs run on (per-CPU lookups see this CPU's slot). Default 0. */
  cpu?: number;
  /** Resolves a prog array slot to a bound program for bpf_tail_call (null: the tail call falls through). */
  tailCallTarget?: (prog: BpfProgRef) => BoundProgram | null;
}

export class MapsVm {
  /** Current CPU; may be changed between runs. */
  cpu: number;
  private readonly objects = new Map<BpfMap, Region>();
  private readonly values = new WeakMap<Uint8Array, Region>();
  private readonly tailCallTarget: ((prog: BpfProgRef) => BoundProgram | null) | null;

  constructor(
    readonly maps: Maps,
    readonly space: AddressSpace,
    opts: MapsVmOptions = {},
  ) {
    this.cpu = opts.cpu ?? 0;
    this.tailCallTarget = opts.tailCallTarget ?? null;
  }

  /** The object region that stands for `map` (its address is the map pointer programs hold). */
  objectRegion(map: BpfMap): Region {
    let r = this.objects.get(map);
    if (r === undefined) {
      r = this.space.mapObject(`map ${map.name}`, map);
      this.objects.set(map, r);
    }
    return r;
  }

  /** The region over an element's value bytes (one per element and CPU, created on first use). */
  valueRegion(map: BpfMap, bytes: Uint8Array): Region {
    let r = this.values.get(bytes);
    if (r === undefined) {
      r = this.space.map(`map ${map.name} value`, 'map_value', bytes, (map.flags & BPF_F_RDONLY_PROG) === 0);
      this.values.set(bytes, r);
    }
    return r;
  }

  /** The LddwResolver for programs of this collection. */
  get resolver(): LddwResolver {
    return {
      mapObject: (src, imm, pc) => this.objectRegion(this.mapAt(imm, pc, src)),
      mapValue: (src, imm, off, pc) => {
        const map = this.mapAt(imm, pc, src);
        if (!(map instanceof ArrayMap) || map.percpu || map.maxEntries !== 1) {
          throw new BpfExecutionError(pc, `lddw map value: map "${map.name}" (${map.typeName}, max_entries ${map.maxEntries}) is not a single-element array`);
        }
        if (off >>> 0 >= map.valueSize) {
          throw new BpfExecutionError(pc, `lddw map value: offset ${off >>> 0} is outside the ${map.valueSize}-byte value of map "${map.name}"`);
        }
        return { region: this.valueRegion(map, map.view(0)), offset: off >>> 0 };
      },
    };
  }

  private mapAt(imm: number, pc: number, src: number): BpfMap {
    const m = this.maps.list[imm];
    if (m === undefined) throw new BpfExecutionError(pc, `lddw (src ${src}) refers to map ${imm}, but the collection has ${this.maps.length} maps`);
    return m;
  }

  /** Installs the map helpers and the tail-call hook on a VM whose address space is this adapter's. */
  install(vm: Vm): void {
    if (vm.space !== this.space) throw new Error('MapsVm.install: the VM uses a different address space');
    for (const [id, fn] of this.helpers()) vm.helpers[id] = fn;
    vm.tailCallTarget = (obj, index) => {
      if (!(obj instanceof ProgArrayMap) || this.tailCallTarget === null) return null;
      const p = obj.program(index);
      return p === null ? null : this.tailCallTarget(p);
    };
  }

  /** The helpers as [id, HelperFn] pairs. */
  helpers(): [number, HelperFn][] {
    return [
      [BPF_FUNC_map_lookup_elem, (vm, pc) => this.lookup(vm, pc, false)],
      [BPF_FUNC_map_update_elem, (vm, pc) => this.update(vm, pc)],
      [BPF_FUNC_map_delete_elem, (vm, pc) => this.remove(vm, pc)],
      [BPF_FUNC_map_lookup_percpu_elem, (vm, pc) => this.lookup(vm, pc, true)],
    ];
  }

  private mapArg(vm: Vm, pc: number, helper: string): BpfMap {
    const m = vm.space.objectAt(vm.lo[1]!, vm.hi[1]!);
    if (!(m instanceof BpfMap)) throw new BpfExecutionError(pc, `${helper}: r1 is not a map pointer`);
    return m;
  }

  private call<T>(pc: number, helper: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof BpfMapError) throw new BpfExecutionError(pc, `${helper}: ${e.message}`);
      throw e;
    }
  }

  private lookup(vm: Vm, pc: number, percpu: boolean): void {
    const helper = percpu ? 'bpf_map_lookup_percpu_elem' : 'bpf_map_lookup_elem';
    const map = this.mapArg(vm, pc, helper);
    const key = vm.space.read(pc, vm.lo[2]!, vm.hi[2]!, map.keySize);
    const r = this.call(pc, helper, () => (percpu ? map.lookupPercpuElem(key, vm.lo[3]! >>> 0) : map.lookupElem(key, this.cpu)));
    if (r === null) vm.setR0(0, 0);
    else if (r instanceof BpfMap) vm.setR0(0, this.objectRegion(r).hi);
    else vm.setR0(0, this.valueRegion(map, r).hi);
  }

  private update(vm: Vm, pc: number): void {
    const map = this.mapArg(vm, pc, 'bpf_map_update_elem');
    if (map.flags & BPF_F_RDONLY_PROG) throw new BpfExecutionError(pc, `bpf_map_update_elem: map "${map.name}" is read-only for programs`);
    const key = vm.space.read(pc, vm.lo[2]!, vm.hi[2]!, map.keySize);
    const value = vm.space.read(pc, vm.lo[3]!, vm.hi[3]!, map.valueSize);
    const flags = vm.reg(4);
    vm.setR0Int(this.call(pc, 'bpf_map_update_elem', () => map.updateElem(key, value, flags, this.cpu)));
  }

  private remove(vm: Vm, pc: number): void {
    const map = this.mapArg(vm, pc, 'bpf_map_delete_elem');
    if (map.flags & BPF_F_RDONLY_PROG) throw new BpfExecutionError(pc, `bpf_map_delete_elem: map "${map.name}" is read-only for programs`);
    const key = vm.space.read(pc, vm.lo[2]!, vm.hi[2]!, map.keySize);
    vm.setR0Int(this.call(pc, 'bpf_map_delete_elem', () => map.deleteElem(key, this.cpu)));
  }
}
