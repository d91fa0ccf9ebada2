// createMap: a live map from a MapSpec, with the attribute checks of kernel/bpf/syscall.c map_create and the
// per-type *_alloc_check / *_alloc functions, in the kernel's order, each failing with the kernel's errno.
// Not modelled (the model behaves as a privileged loader on a one-node machine): capability checks, BTF,
// map names (libbpf sanitises them), map_ifindex offload, tokens, memory limits other than a model cap on
// array storage.

import type { MapSpec } from '../../spec.js';
import {
  ARRAY_CREATE_FLAG_MASK,
  BPF_F_INNER_MAP,
  BPF_F_MMAPABLE,
  BPF_F_NO_COMMON_LRU,
  BPF_F_NO_PREALLOC,
  BPF_F_NUMA_NODE,
  BPF_F_PRESERVE_ELEMS,
  BPF_F_RDONLY,
  BPF_F_RDONLY_PROG,
  BPF_F_TOKEN_FD,
  BPF_F_WRONLY,
  BPF_F_WRONLY_PROG,
  BPF_MAP_TYPE_ARENA,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_BLOOM_FILTER,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_PROG_ARRAY,
  HTAB_CREATE_FLAG_MASK,
  HTAB_ELEM_SIZE,
  INT_MAX,
  KMALLOC_MAX_SIZE,
  MODEL_MAX_ARRAY_BYTES,
  MODEL_NUMA_NODES,
  PCPU_MIN_UNIT_SIZE,
  MAP_TYPE_NAMES,
  mapTypeName,
  roundUp8,
} from './constants.js';
import { ArrayMap } from './array.js';
import { BpfMapError, BpfMapNotModelledError, type ErrnoCode } from './errors.js';
import { ArrayOfMapsMap, ProgArrayMap } from './fdarray.js';
import { HashMap } from './hash.js';
import { checkValueFields } from './fields.js';
import { BpfMap, type MapAttrs, type MapOptions } from './map.js';

/** The attributes createMap reads (a MapSpec has them all). */
export type MapCreateSpec = Pick<MapSpec, 'name' | 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags'> &
  Partial<Pick<MapSpec, 'numaNode' | 'mapExtra' | 'innerMap' | 'valueFields'>>;

export interface CreateMapOptions extends MapOptions {
  /**
   * The inner map template of a map-in-map (the kernel's inner_map_fd). Default: a map created from
   * `spec.innerMap`.
   */
  innerMap?: BpfMap;
}

type Factory = (attrs: MapAttrs, spec: MapCreateSpec, opts: CreateMapOptions) => BpfMap;

/**
 * One entry per modelled type: the alloc check and the constructor. New types (SOCKMAP, SOCKHASH, ...) plug in
 * with `registerMapType`.
 */
const factories = new Map<number, Factory>();

export function registerMapType(type: number, factory: Factory): void {
  factories.set(type, factory);
}

/** Types createMap can build, as "array (2)" strings. */
export function supportedMapTypes(): string[] {
  return [...factories.keys()].sort((a, b) => a - b).map((t) => `${mapTypeName(t)} (${t})`);
}

/** A refused BPF_MAP_CREATE: the BpfMapError (op "create") for the map `spec` names. */
export function createFail(spec: { readonly name: string }, code: ErrnoCode, detail: string): never {
  throw new BpfMapError(code, spec.name, 'create', detail);
}

const accessOk = (flags: number): boolean => (flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) !== (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG);

function numaNode(spec: MapCreateSpec): number | null {
  return spec.flags & BPF_F_NUMA_NODE ? (spec.numaNode ?? 0) : null;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** arraymap.c array_map_alloc_check + array_map_alloc. */
function arrayCheck(spec: MapCreateSpec, nrCpus: number): void {
  const percpu = spec.type === BPF_MAP_TYPE_PERCPU_ARRAY;
  const f = spec.flags;
  if (spec.maxEntries === 0) createFail(spec, 'EINVAL', 'max_entries is 0');
  if (spec.keySize !== 4) createFail(spec, 'EINVAL', `key_size must be 4 for ${mapTypeName(spec.type)} (got ${spec.keySize})`);
  if (spec.valueSize === 0) createFail(spec, 'EINVAL', 'value_size is 0');
  if (f & ~ARRAY_CREATE_FLAG_MASK) createFail(spec, 'EINVAL', `map_flags ${hex(f & ~ARRAY_CREATE_FLAG_MASK)} are not allowed for ${mapTypeName(spec.type)}`);
  if (!accessOk(f)) createFail(spec, 'EINVAL', 'BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together');
  if (percpu && numaNode(spec) !== null) createFail(spec, 'EINVAL', 'per-CPU arrays take no NUMA node');
  if (spec.type !== BPF_MAP_TYPE_ARRAY && f & (BPF_F_MMAPABLE | BPF_F_INNER_MAP)) {
    createFail(spec, 'EINVAL', 'BPF_F_MMAPABLE and BPF_F_INNER_MAP are only for BPF_MAP_TYPE_ARRAY');
  }
  if (f & BPF_F_PRESERVE_ELEMS) createFail(spec, 'EINVAL', 'BPF_F_PRESERVE_ELEMS is only for perf event arrays');
  if (spec.valueSize > INT_MAX) createFail(spec, 'E2BIG', `value_size ${spec.valueSize} is above INT_MAX`);
  if (percpu && roundUp8(spec.valueSize) > PCPU_MIN_UNIT_SIZE) {
    createFail(spec, 'E2BIG', `per-CPU value_size ${spec.valueSize} rounds up above ${PCPU_MIN_UNIT_SIZE} bytes`);
  }
  const bytes = spec.maxEntries * roundUp8(spec.valueSize) * (percpu ? nrCpus : 1);
  if (bytes > MODEL_MAX_ARRAY_BYTES) createFail(spec, 'ENOMEM', `${bytes} bytes of array storage is above the model's limit of ${MODEL_MAX_ARRAY_BYTES}`);
}

/** arraymap.c fd_array_map_alloc_check. */
export function fdArrayCheck(spec: MapCreateSpec, nrCpus: number): void {
  if (spec.valueSize !== 4) createFail(spec, 'EINVAL', `value_size must be 4 for ${mapTypeName(spec.type)} (got ${spec.valueSize})`);
  if (spec.flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) createFail(spec, 'EINVAL', 'BPF_F_RDONLY_PROG / BPF_F_WRONLY_PROG are not supported');
  arrayCheck(spec, nrCpus);
}

/** hashtab.c htab_map_alloc_check + the E2BIG checks of htab_map_alloc. Returns the effective max_entries. */
function htabCheck(spec: MapCreateSpec, nrCpus: number): number {
  const t = spec.type;
  const percpu = t === BPF_MAP_TYPE_PERCPU_HASH || t === BPF_MAP_TYPE_LRU_PERCPU_HASH;
  const lru = t === BPF_MAP_TYPE_LRU_HASH || t === BPF_MAP_TYPE_LRU_PERCPU_HASH;
  const f = spec.flags;
  const percpuLru = (f & BPF_F_NO_COMMON_LRU) !== 0;
  // BPF_F_ZERO_SEED needs CAP_SYS_ADMIN (EPERM otherwise): the model is privileged.
  if (f & ~HTAB_CREATE_FLAG_MASK) createFail(spec, 'EINVAL', `map_flags ${hex(f & ~HTAB_CREATE_FLAG_MASK)} are not allowed for ${mapTypeName(t)}`);
  if (!accessOk(f)) createFail(spec, 'EINVAL', 'BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together');
  if (!lru && percpuLru) createFail(spec, 'EINVAL', 'BPF_F_NO_COMMON_LRU is only for LRU maps');
  if (lru && f & BPF_F_NO_PREALLOC) createFail(spec, 'ENOTSUPP', 'LRU maps cannot use BPF_F_NO_PREALLOC');
  if (numaNode(spec) !== null && (percpu || percpuLru)) createFail(spec, 'EINVAL', 'per-CPU maps and per-CPU LRU lists take no NUMA node');
  if (spec.maxEntries === 0) createFail(spec, 'EINVAL', 'max_entries is 0');
  if (spec.keySize === 0) createFail(spec, 'EINVAL', 'key_size is 0');
  if (spec.valueSize === 0) createFail(spec, 'EINVAL', 'value_size is 0');
  if (spec.keySize + spec.valueSize >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE) {
    createFail(spec, 'E2BIG', `key_size + value_size (${spec.keySize + spec.valueSize}) is too large for one element`);
  }
  if (percpu && roundUp8(spec.valueSize) > PCPU_MIN_UNIT_SIZE) {
    createFail(spec, 'E2BIG', `per-CPU value_size ${spec.valueSize} rounds up above ${PCPU_MIN_UNIT_SIZE} bytes`);
  }
  let max = spec.maxEntries;
  if (percpuLru) {
    // Every CPU's LRU list gets the same number of elements: round up to a multiple of the CPU count (down if
    // that overflows u32).
    const up = Math.ceil(max / nrCpus) * nrCpus;
    max = up > 0xffffffff ? Math.floor(max / nrCpus) * nrCpus : up;
  }
  if (max > 2 ** 31) createFail(spec, 'E2BIG', `max_entries ${max} is above 2^31`);
  return max;
}

function innerTemplate(spec: MapCreateSpec, opts: CreateMapOptions): BpfMap {
  let inner = opts.innerMap;
  if (inner === undefined) {
    if (spec.innerMap === undefined) createFail(spec, 'EBADF', 'a map-in-map needs an inner map template (inner_map_fd)');
    try {
      inner = createMap(spec.innerMap, { nrCpus: opts.nrCpus, id: 0 });
    } catch (e) {
      if (e instanceof BpfMapError) createFail(spec, e.code, `inner map template: ${e.detail}`);
      throw e;
    }
  }
  // map_in_map.c bpf_map_meta_alloc: one level only; prog arrays (no map_meta_equal) cannot be inner maps.
  if (inner instanceof ArrayOfMapsMap || (inner instanceof HashMap && inner.ofMaps)) {
    createFail(spec, 'EINVAL', 'the inner map is itself a map-in-map (only one level is supported)');
  }
  if (inner instanceof ProgArrayMap) createFail(spec, 'ENOTSUPP', 'a prog_array cannot be an inner map');
  return inner;
}

registerMapType(BPF_MAP_TYPE_ARRAY, (a, s, o) => (arrayCheck(s, o.nrCpus ?? 2), new ArrayMap(a, o)));
registerMapType(BPF_MAP_TYPE_PERCPU_ARRAY, (a, s, o) => (arrayCheck(s, o.nrCpus ?? 2), new ArrayMap(a, o)));
registerMapType(BPF_MAP_TYPE_PROG_ARRAY, (a, s, o) => (fdArrayCheck(s, o.nrCpus ?? 2), new ProgArrayMap(a, o)));
registerMapType(BPF_MAP_TYPE_ARRAY_OF_MAPS, (a, s, o) => {
  fdArrayCheck(s, o.nrCpus ?? 2);
  return new ArrayOfMapsMap(a, { ...o, innerMeta: innerTemplate(s, o) });
});
for (const t of [BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH]) {
  registerMapType(t, (a, s, o) => new HashMap({ ...a, maxEntries: htabCheck(s, o.nrCpus ?? 2) }, o));
}
registerMapType(BPF_MAP_TYPE_HASH_OF_MAPS, (a, s, o) => {
  if (s.valueSize !== 4) createFail(s, 'EINVAL', `value_size must be 4 for hash_of_maps (got ${s.valueSize})`);
  const max = htabCheck(s, o.nrCpus ?? 2);
  return new HashMap({ ...a, maxEntries: max }, { ...o, innerMeta: innerTemplate(s, o) });
});

/**
 * Creates a live map, checking its attributes as BPF_MAP_CREATE does. Throws BpfMapError (errno, code, a message
 * naming the map) for attributes the kernel refuses, and BpfMapNotModelledError for types the model lacks.
 */
export function createMap(spec: MapCreateSpec, opts: CreateMapOptions = {}): BpfMap {
  const flags = (spec.flags & ~BPF_F_TOKEN_FD) >>> 0; // map_create clears the token flag before the type checks
  const s: MapCreateSpec = { ...spec, flags };
  // syscall.c map_create, before the type's own checks.
  // map_extra is the bloom filter's hash count and the arena's user-space start address; 0 for the rest.
  if (spec.mapExtra !== undefined && spec.mapExtra !== 0n && spec.type !== BPF_MAP_TYPE_BLOOM_FILTER && spec.type !== BPF_MAP_TYPE_ARENA) {
    createFail(s, 'EINVAL', `map_extra must be 0 for ${mapTypeName(spec.type)}`);
  }
  if (flags & BPF_F_RDONLY && flags & BPF_F_WRONLY) createFail(s, 'EINVAL', 'BPF_F_RDONLY and BPF_F_WRONLY together');
  const node = numaNode(s);
  if (node !== null && (node < 0 || node >= MODEL_NUMA_NODES)) createFail(s, 'EINVAL', `NUMA node ${node} is not online`);
  const factory = factories.get(spec.type);
  if (factory === undefined && MAP_TYPE_NAMES[spec.type] === undefined) createFail(s, 'EINVAL', `unknown map type ${spec.type}`);
  if (factory === undefined) {
    const what = `type ${mapTypeName(spec.type)} (${spec.type})`;
    throw new BpfMapNotModelledError('ENOTSUPP', spec.name, 'create', `${what} is not modelled yet; supported: ${supportedMapTypes().join(', ')}`);
  }
  const attrs: MapAttrs = { name: spec.name, type: spec.type, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries: spec.maxEntries, flags };
  const map = factory(attrs, s, opts);
  // map_check_btf: the value's special fields (bpf_spin_lock, bpf_timer, kptrs), after the type's own checks.
  map.layout = checkValueFields(map, spec.valueFields);
  return map;
}
