// Map-related constants from include/uapi/linux/bpf.h and the kernel's map implementations (Linux 6.12).

export const BPF_MAP_TYPE_HASH = 1;
export const BPF_MAP_TYPE_ARRAY = 2;
export const BPF_MAP_TYPE_PROG_ARRAY = 3;
export const BPF_MAP_TYPE_PERCPU_HASH = 5;
export const BPF_MAP_TYPE_PERCPU_ARRAY = 6;
export const BPF_MAP_TYPE_LRU_HASH = 9;
export const BPF_MAP_TYPE_LRU_PERCPU_HASH = 10;
export const BPF_MAP_TYPE_ARRAY_OF_MAPS = 12;
export const BPF_MAP_TYPE_HASH_OF_MAPS = 13;
export const BPF_MAP_TYPE_BLOOM_FILTER = 30;
export const BPF_MAP_TYPE_ARENA = 33;
export const BPF_MAP_TYPE_SOCKMAP = 15;
export const BPF_MAP_TYPE_SOCKHASH = 18;

/** Kernel names of map types (enum bpf_map_type without the prefix, lower case, as bpftool prints them). */
export const MAP_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'unspec', 1: 'hash', 2: 'array', 3: 'prog_array', 4: 'perf_event_array', 5: 'percpu_hash', 6: 'percpu_array',
  7: 'stack_trace', 8: 'cgroup_array', 9: 'lru_hash', 10: 'lru_percpu_hash', 11: 'lpm_trie', 12: 'array_of_maps',
  13: 'hash_of_maps', 14: 'devmap', 15: 'sockmap', 16: 'cpumap', 17: 'xskmap', 18: 'sockhash', 19: 'cgroup_storage',
  20: 'reuseport_sockarray', 21: 'percpu_cgroup_storage', 22: 'queue', 23: 'stack', 24: 'sk_storage',
  25: 'devmap_hash', 26: 'struct_ops', 27: 'ringbuf', 28: 'inode_storage', 29: 'task_storage', 30: 'bloom_filter',
  31: 'user_ringbuf', 32: 'cgrp_storage', 33: 'arena',
};

export function mapTypeName(type: number): string {
  return MAP_TYPE_NAMES[type] ?? `type ${type}`;
}

// Update flags (BPF_MAP_UPDATE_ELEM / bpf_map_update_elem).
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;

// Map creation flags.
export const BPF_F_NO_PREALLOC = 1 << 0;
export const BPF_F_NO_COMMON_LRU = 1 << 1;
export const BPF_F_NUMA_NODE = 1 << 2;
export const BPF_F_RDONLY = 1 << 3;
export const BPF_F_WRONLY = 1 << 4;
export const BPF_F_STACK_BUILD_ID = 1 << 5;
export const BPF_F_ZERO_SEED = 1 << 6;
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_WRONLY_PROG = 1 << 8;
export const BPF_F_CLONE = 1 << 9;
export const BPF_F_MMAPABLE = 1 << 10;
export const BPF_F_PRESERVE_ELEMS = 1 << 11;
export const BPF_F_INNER_MAP = 1 << 12;
export const BPF_F_TOKEN_FD = 1 << 16;

export const BPF_F_ACCESS_MASK = BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG;
/** arraymap.c ARRAY_CREATE_FLAG_MASK */
export const ARRAY_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_ACCESS_MASK | BPF_F_PRESERVE_ELEMS | BPF_F_INNER_MAP;
/** hashtab.c HTAB_CREATE_FLAG_MASK */
export const HTAB_CREATE_FLAG_MASK = BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F_ZERO_SEED;

/** PCPU_MIN_UNIT_SIZE: bound on round_up(value_size, 8) of per-CPU maps. */
export const PCPU_MIN_UNIT_SIZE = 32 << 10;
/** KMALLOC_MAX_SIZE on x86-64 with 4 KiB pages (MAX_PAGE_ORDER 10). */
export const KMALLOC_MAX_SIZE = 1 << 22;
/** sizeof(struct htab_elem) on 64-bit kernels. */
export const HTAB_ELEM_SIZE = 48;
export const INT_MAX = 0x7fffffff;

/** The number of NUMA nodes the model pretends to have (nr_node_ids). */
export const MODEL_NUMA_NODES = 1;
/** Default number of possible CPUs of a model map (per-CPU values hold one slot per CPU). */
export const DEFAULT_NR_CPUS = 2;
/**
 * Model-only limit: an array whose storage would exceed this many bytes is refused with ENOMEM (the kernel would
 * try to allocate it and usually fail the same way; where exactly it fails depends on the machine).
 */
export const MODEL_MAX_ARRAY_BYTES = 256 << 20;

export function roundUp8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
