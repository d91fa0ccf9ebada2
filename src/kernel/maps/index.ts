// The map model: live BPF maps with the kernel's user-space and program-side semantics.
export * from './constants.js';
export * from './errors.js';
export { jhash, jhash2, htabHash } from './jhash.js';
export { BpfMap, hexKey, u32Bytes, u32le, type BpfProgRef, type ElemRef, type MapAttrs, type MapOptions, type MapValueInput } from './map.js';
export { ArrayMap } from './array.js';
export { HashMap, checkInner } from './hash.js';
export { ProgArrayMap, ArrayOfMapsMap } from './fdarray.js';
export { createMap, registerMapType, supportedMapTypes, type CreateMapOptions, type MapCreateSpec } from './create.js';
export { Maps, type MapsOptions } from './collection.js';
export { SkStorageMap, BPF_MAP_TYPE_SK_STORAGE, BPF_SK_STORAGE_GET_F_CREATE } from './sk-storage.js';
export { QueueStackMap, BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK } from './queue-stack.js';
export { RingBufMap, UserRingBufMap, consumeRingbufs, ringbufRecords, BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_USER_RINGBUF, type RingSample, type RingbufRecord } from './ringbuf.js';
export { PerfEventArrayMap, BPF_MAP_TYPE_PERF_EVENT_ARRAY, type PerfRecord } from './perf-event-array.js';
export { CgroupStorageMap, BPF_MAP_TYPE_CGROUP_STORAGE, BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE } from './cgroup-storage.js';
export { TaskCgrpStorageMap, CURRENT_TASK, BPF_MAP_TYPE_TASK_STORAGE, BPF_MAP_TYPE_CGRP_STORAGE } from './local-storage.js';
export { CgroupArrayMap, BPF_MAP_TYPE_CGROUP_ARRAY, type CgroupRef } from './cgroup-array.js';
