// Maps: the live maps of one collection, built from its MapSpecs (index i = spec.maps[i], which is what lddw
// BPF_PSEUDO_MAP_IDX immediates count), with their initial contents:
//  - `data` (global data sections) is element 0 of the ARRAY;
//  - `contents` (BTF `values`) are written with BPF_ANY; per-CPU maps given value_size bytes get them on every CPU;
//  - `contentRefs` name a program (prog arrays) or another map of the collection (map-in-maps);
//  - `frozen` specs (.rodata, .kconfig) are frozen after that, like libbpf does.

import type { CollectionSpec, MapSpec } from '../../spec.js';
import { BPF_ANY, roundUp8 } from './constants.js';
import { BpfMapError } from './errors.js';
import { createMap } from './create.js';
import { BpfMap, u32Bytes, type BpfProgRef } from './map.js';
import { ArrayMap } from './array.js';
import { HashMap } from './hash.js';

export interface MapsOptions {
  /** Possible CPUs of per-CPU maps (default 2). */
  nrCpus?: number;
  /** Programs that `contentRefs` may name; default: one BpfProgRef per ProgramSpec (id = index + 1). */
  programs?: readonly BpfProgRef[];
}

export class Maps {
  readonly list: BpfMap[] = [];
  private readonly byName = new Map<string, BpfMap>();
  readonly programs: readonly BpfProgRef[];

  constructor(specs: readonly MapSpec[], opts: MapsOptions & { programs?: readonly BpfProgRef[] } = {}) {
    this.programs = opts.programs ?? [];
    specs.forEach((spec, i) => {
      const m = createMap(spec, { nrCpus: opts.nrCpus, id: i + 1 });
      this.list.push(m);
      this.byName.set(spec.name, m);
    });
    specs.forEach((spec, i) => this.fill(spec, this.list[i]!));
  }

  /** Builds the maps of a CollectionSpec (programs of the spec become the BpfProgRefs contentRefs can name). */
  static fromSpec(spec: Pick<CollectionSpec, 'maps'> & Partial<Pick<CollectionSpec, 'programs'>>, opts: MapsOptions = {}): Maps {
    const programs = opts.programs ?? (spec.programs ?? []).map((p, i): BpfProgRef => ({ name: p.name, type: p.type, id: i + 1 }));
    return new Maps(spec.maps, { ...opts, programs });
  }

  get length(): number {
    return this.list.length;
  }

  /** A map by spec index or name; throws if there is none. */
  get(which: number | string): BpfMap {
    const m = typeof which === 'number' ? this.list[which] : this.byName.get(which);
    if (m === undefined) {
      throw new Error(`no map ${typeof which === 'number' ? `at index ${which}` : `"${which}"`} (maps: ${this.list.map((x) => x.name).join(', ') || 'none'})`);
    }
    return m;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  indexOf(map: BpfMap): number {
    return this.list.indexOf(map);
  }

  private fill(spec: MapSpec, m: BpfMap): void {
    try {
      if (spec.data !== undefined) {
        if (!(m instanceof ArrayMap)) m.fail('EINVAL', 'initialise', 'only arrays can hold section data');
        const v = new Uint8Array(m.valueSize);
        v.set(spec.data.subarray(0, m.valueSize));
        m.update(u32Bytes(0), m.percpu ? this.perCpu(m, v) : v, BPF_ANY);
      }
      // Prog arrays and map-in-maps take their slots from contentRefs (their `contents` only carry indices).
      const refMap = m.type === 3 || m.type === 12 || m.type === 13;
      for (const { key, value } of refMap ? [] : (spec.contents ?? [])) {
        const percpu = (m instanceof ArrayMap || m instanceof HashMap) && m.percpu;
        m.update(key, percpu && value.length === m.valueSize ? this.perCpu(m, value) : value, BPF_ANY);
      }
      for (const ref of spec.contentRefs ?? []) {
        const key = u32Bytes(ref.key);
        if (ref.map !== undefined) {
          m.update(key, this.get(ref.map), BPF_ANY);
        } else if (ref.program !== undefined) {
          const p = this.programs.find((x) => x.name === ref.program);
          if (p === undefined) m.fail('EBADF', 'initialise', `slot ${ref.key} names program "${ref.program}", which the collection does not have`);
          m.update(key, p, BPF_ANY);
        }
      }
      if (spec.frozen) m.freeze();
    } catch (e) {
      if (e instanceof BpfMapError) throw new BpfMapError(e.code, e.map, `initial contents: ${e.op}`, e.detail);
      throw e;
    }
  }

  /** Replicates a value_size value into every CPU's slot (round_up(value_size, 8) apart). */
  private perCpu(m: BpfMap, v: Uint8Array): Uint8Array {
    const slot = roundUp8(m.valueSize);
    const out = new Uint8Array(slot * m.nrCpus);
    for (let c = 0; c < m.nrCpus; c++) out.set(v.subarray(0, m.valueSize), c * slot);
    return out;
  }
}
