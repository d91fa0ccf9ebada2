// bpfvm's public API.

export * from '../vm/isa.js';
export { AddressSpace, Region, REGION_HI_BASE, type RegionKind, type LoadHook, type StoreHook } from '../vm/memory.js';
export { BpfRuntimeError, BpfMemoryFault, BpfBudgetExceeded, BpfExecutionError, type RegionInfo } from '../vm/errors.js';
export { prepare, type ExecutableProgram } from '../vm/program.js';
export { Vm, BoundProgram, DEFAULT_BUDGET, type HelperFn, type LddwResolver, type RunResult, type VmOptions } from '../vm/interpreter.js';
export { formatInsn, formatLine, formatLineAt, disassemble, type DisasmOptions } from '../vm/disasm.js';
export { assemble, assembleInsns, BpfAsmError } from '../vm/asm.js';
export { helperName, helperId, HELPER_NAMES } from '../helpers/ids.js';
export { loadCollection, loadCollectionFile } from './elf/index.js';
export type { CollectionSpec, ProgramSpec, MapSpec } from './spec.js';
export { BpfLoadError } from './errors.js';
export { testRun, BpfTestRunError, type TestRunResult, type TestRunOptions } from './kernel/testrun.js';
export { createMap, registerMapType, supportedMapTypes, Maps, BpfMap, BpfMapError } from './kernel/maps/index.js';
export { MapsVm } from './kernel/maps/vm.js';
// Importing the socket model registers SOCKMAP and SOCKHASH with createMap.
export { Kernel, KProgram, Socket, SockMap, SockHash } from './kernel/model.js';
export { SkMsg } from './kernel/skmsg.js';
export {
  runSkMsg,
  runSkSkbOnce,
  defaultMsgTopology,
  BpfMsgRunError,
  type MsgRunOptions,
  type MsgRunResult,
  type MsgTopology,
  type SkbRunResult,
} from './kernel/prog-run.js';
export { SocketScenario, ScenarioError, ATTACH_TYPES, PROG_TYPES, type SocketScenarioOptions, type ScenarioSnapshot, type SocketState } from './scenario/api.js';
export { runScenarioFile, runScenarioPath, parseScenarioFile, type ScenarioFile, type ScenarioFileResult, type ScenarioFileStep } from './scenario/file.js';
export { runSockmapCase, resolveLayout, fnv1a64, SockmapTestError, type SockmapCaseResult, type RunCaseOptions } from './sockmap-test/engine.js';
export { runSockmapAll, builtinGroups, type SockmapAllOptions, type SockmapAllResult, type SockmapGroupResult } from './sockmap-test/matrix.js';
export { defaultCaseOptions, type SockmapCaseOptions, type SendMode } from './sockmap-test/options.js';
export { Cgroups, SockOp, BpfTcpState, SOCK_OPS as SOCK_OPS_OFFSETS } from './kernel/sockops.js';
export { SkSkb, runSkSkbProgram, type SkSkbRunResult, type SkSkbRedirect } from './kernel/sk_skb.js';
export type { SkSkbRunOptions, SkSkbRunOutcome } from './kernel/model.js';
export { socketHelperTable, socketHelperProvided, SOCKET_PROG_TYPES, type HelperTableRow, type SocketHelperOutput, type SockoptSysctl } from './kernel/sock-helpers.js';
export { CURRENT_TASK_ADDR, CURRENT_PT_REGS_ADDR, type SentSignal, type TraceOutput } from './kernel/trace-helpers.js';
export { SkStorageMap, TaskCgrpStorageMap, CURRENT_TASK, PerfEventArrayMap, type PerfRecord } from './kernel/maps/index.js';
export {
  QueueStackMap, RingBufMap, UserRingBufMap, consumeRingbufs, ringbufRecords, type RingSample, type RingbufRecord,
} from './kernel/maps/index.js';
export { installMapKindHelpers, MAP_KIND_HELPER_IDS } from './kernel/map-kind-helpers.js';
export { CgroupStorageMap } from './kernel/maps/cgroup-storage.js';
export { VirtualTimers, type TimerFire } from './kernel/timers.js';
export { CgroupIds } from './kernel/base-helpers.js';
export { btfValueFields, type MapValueFields, type ValueField } from './btf/fields.js';
export { parseTestAnnotations, matchMessages, BpfAnnotationError, type TestSpec, type ModeSpec, type ExpectedMessage } from './selftest/annotations.js';
export { runSelftests, summarize, bpfvmBackend, type TestResult, type FileResult, type SelftestBackend, type Summary } from './selftest/engine.js';
export { toJUnit } from './selftest/junit.js';
