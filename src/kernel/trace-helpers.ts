// The CAP_PERFMON-tier helpers of bpf_base_func_proto that every modelled program type may call (as root), one
// definition for the socket model (sock-helpers.ts installGenericSocketHelpers) and the BPF_PROG_TEST_RUN
// emulation (testrun.ts): the printf family, the probe_read family, "current task" stand-ins, perf counters,
// signals, branch records and VMAs. The kernel's runtime rules are kept; where the kernel's value depends on the
// machine, a documented deterministic stand-in is used, and where bpfvm cannot know the value at all the run
// stops with a BpfExecutionError naming the helper (never a made-up result).
//
// The printf family (kernel/bpf/helpers.c bpf_bprintf_prepare + lib/vsprintf.c bstr_printf), `bpfBprintf`:
//  - the format ends at its first NUL (none within fmt_size: -EINVAL); ASCII control characters other than
//    white space: -EINVAL; more conversions than arguments: -EINVAL (trace_printk always has 3 arguments);
//  - conversions: %% ; flags [0+- ] and a width; %d %i %u %x %X with l / ll (int, else 64-bit); %c; %s;
//    %p (followed by NUL, white space or punctuation) %pK %px %ps %pS %pB; %pks (kernel string) %pus (user
//    string); %pI4 %pi4 %pI6 %pi6 (4 / 16 bytes read from kernel memory; zeroes when unreadable). A width (an
//    int that wraps, clamped to 2^23 - 1 either way; negative ones do nothing) pads
//    %d.. %c %s %p %px %pK %ps %pS, not the conversions bpf_bprintf_prepare formats itself (%pks %pus %pB %pI..,
//    KERNEL vs SPEC: the kernel docs do not say so; the 6.18 host prints "%20pI4" unpadded). Anything else,
//    a precision, '#', 'h', a %s or %pks followed by a letter or digit: -EINVAL. Letters and digits right after
//    any %p conversion are swallowed by bstr_printf (so "%pI6c" prints "%pI6" uncompressed);
//  - strings and the other arguments share the kernel's 512-byte argument buffer (ints 4-byte aligned, %c one
//    byte, strings and formatted addresses with their NUL): an argument that does not fit: -ENOSPC; a string is
//    cut to what fits (an unreadable one prints as ""). bpfvm fills that buffer as prepare does and formats
//    from it as bstr_printf does, so its quirk is kept: once the output has reached the buffer size, a
//    conversion prepare formatted itself (%pks %pus %pB %pI..) adds nothing and is not stepped over, and the
//    next conversions read their arguments from its bytes. A %pB or address that overflows the argument buffer
//    (the kernel then writes past it) and a read of buffer bytes prepare never wrote stop the run;
//  - %p, %pK (kptr_restrict 0 hashes it), %px, and the fallback of %ps / %pS / %pB ("0x" + hex, what the kernel
//    prints for an address that is not a kernel symbol) print bpfvm's virtual address, since kernel addresses
//    and pointer hashes are not reproducible (NULL prints as the kernel prints it). %ps / %pS / %pB of a kernel
//    address bpfvm does not know (it may be a kernel symbol) stops the run.
//  - bpf_trace_printk / bpf_trace_vprintk: the message (at most 1023 bytes, up to a NUL a %c may have put in)
//    goes to `trace` without one trailing newline, as trace_pipe shows it; r0 = the length bstr_printf computed
//    (which may exceed 1023). bpf_snprintf: the message cut to str_size - 1 bytes and a NUL, r0 = length + 1.
//
// Memory the helpers read (copy_from_kernel_nofault / strncpy_from_*_nofault on x86-64):
//  - addresses below 0x0000800000000000 (user space and its guard page), non-canonical ones and the vsyscall page
//    are refused for kernel reads: -ERANGE (even for size 0), the destination zeroed;
//  - bpfvm's memory regions (stack, map values, packet, read-only data) are kernel memory: kernel reads copy them;
//    a read that runs past a region's end, or into a region whose bytes are not the kernel's (the context, which
//    the kernel lays out differently, and opaque objects such as sockets and maps) stops the run, as does a
//    read of any other kernel address (bpfvm does not know what is there);
//  - user reads: the model's current task has no user memory, so bpf_probe_read_user(_str) and %pus of any
//    address fail with -EFAULT, destination zeroed, exactly as the kernel does for the kernel addresses programs
//    hold (bpfvm's regions); size 0 gives 0 for _str, and for the plain read of a user address.
//
// Stand-ins for the current task (the calling task is the machine's): bpf_get_current_task(_btf) returns
// CURRENT_TASK_ADDR, bpf_task_pt_regs(current) CURRENT_PT_REGS_ADDR (loads through either fault in the VM: bpfvm
// has no task_struct); bpf_get_current_comm copies CURRENT_COMM ("bpfvm", strscpy_pad); bpf_find_vma finds no
// VMA (-ENOENT, the model's task has no mappings; -EINVAL for flags); bpf_get_branch_snapshot: the model's CPU
// has no last-branch records: -EINVAL for flags, else -ENOENT (as on the 6.18 host); bpf_send_signal(_thread):
// -EINVAL for a signal above 64, 0 for signal 0 (a permission check), else 0 and the signal recorded in
// `signals` (the kernel delivers it to the calling process; in softirq context it may be -EPERM when a kernel
// thread runs the softirq, or -EBUSY while an earlier signal's irq_work is pending: not modelled).
// bpf_perf_event_read(_value) on a PERF_EVENT_ARRAY, on CPU 0: -EINVAL for flags outside the index bits, -E2BIG
// for an index past max_entries, -ENOENT for an empty slot, -EINVAL for an event bound to another CPU; a
// counter of an event on CPU 0 is not modelled (the run stops). _value: -EINVAL when size is not 24; its buffer
// is zeroed on every failure.
//
// Not modelled, so refused at load (checkProgramHelpers): bpf_get_task_stack (the real task's kernel / user
// return addresses), bpf_snprintf_btf (formats kernel types from vmlinux BTF, which bpfvm does not have); the
// kernel refuses bpf_copy_from_user(_task) (sleepable only).

import { helperIds } from '../../helpers/ids.js';
import { BpfExecutionError } from '../../vm/errors.js';
import type { HelperFn, Vm } from '../../vm/interpreter.js';
import { BPF_F_CURRENT_CPU, BPF_F_INDEX_MASK, PerfEventArrayMap } from './maps/perf-event-array.js';
import { ERRNO } from './maps/errors.js';
import { mapArg } from './maps/map.js';

const { ENOENT, E2BIG, EFAULT, EINVAL, ENOSPC, ERANGE } = ERRNO;

/** Helper ids (BPF_FUNC_*) of this file. */
export const T = helperIds(
  'trace_printk', 'get_current_comm', 'perf_event_read', 'get_current_task', 'perf_event_read_value', 'send_signal',
  'probe_read_user', 'probe_read_kernel', 'probe_read_user_str', 'probe_read_kernel_str', 'send_signal_thread',
  'get_current_task_btf', 'snprintf', 'task_pt_regs', 'get_branch_snapshot', 'trace_vprintk', 'find_vma',
);
/** Every helper installTraceHelpers installs. */
export const TRACE_HELPER_IDS: readonly number[] = Object.values(T);

export const MAX_BPRINTF_VARARGS = 12;
/** The output buffer of trace_printk / trace_vprintk (one byte is the NUL). */
export const MAX_BPRINTF_BUF = 1024;
/** The binary argument buffer bpf_bprintf_prepare fills (strings included). */
export const MAX_BPRINTF_BIN_ARGS = 512;

export const CURRENT_COMM = 'bpfvm';
/** bpf_get_current_task(_btf): a stand-in task_struct address (a direct-map kernel address). */
export const CURRENT_TASK_ADDR = 0xffff888004a1c000n;
/** bpf_task_pt_regs(current): where pt_regs sit at the top of a 16 KiB task stack (0x4000 - 168). */
export const CURRENT_PT_REGS_ADDR = 0xffffc90000003f58n;
/** lib/vsprintf.c: the widest field (wider ones are clamped). */
const FIELD_WIDTH_MAX = (1 << 23) - 1;
/** What _NSIG allows (valid_signal). */
const NSIG = 64;

/** A signal bpf_send_signal(_thread) sent to the current task. */
export interface SentSignal {
  sig: number;
  /** bpf_send_signal_thread (the thread) rather than bpf_send_signal (the process). */
  thread: boolean;
}

/** Where the helpers of this file leave what they produce. */
export interface TraceOutput {
  /** bpf_trace_printk / bpf_trace_vprintk messages, in order, without their trailing newline. */
  trace: string[];
  signals: SentSignal[];
}

// ---- memory as the kernel's nofault accessors see it ---------------------------------------------------------

const addr64 = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
const hex = (v: bigint): string => '0x' + v.toString(16);

/** copy_from_kernel_nofault_allowed on x86-64 (4-level paging): no user, guard, non-canonical or vsyscall address. */
export function kernelAddressAllowed(addr: bigint): boolean {
  return addr >= 0xffff800000000000n && (addr & ~0xfffn) !== 0xffffffffff600000n;
}

/** The region behind an address whose bytes are kernel memory as the kernel has it, or null (no region). */
function kernelRegion(vm: Vm, pc: number, who: string, lo: number, hi: number): { bytes: Uint8Array; off: number; name: string } | null {
  const r = vm.space.regionOf(hi);
  if (r === null) {
    const a = addr64(lo, hi);
    if (!kernelAddressAllowed(a)) return null;
    throw new BpfExecutionError(pc, `${who}: kernel address ${hex(a)} holds memory that is not modelled by bpfvm (the kernel reads whatever is there)`);
  }
  if (r.kind === 'ctx' || r.kind === 'object' || r.kind === 'code') {
    throw new BpfExecutionError(pc, `${who}: ${r.name} is not plain memory in the kernel (its layout there is not bpfvm's), so reading it is not modelled`);
  }
  return { bytes: r.bytes, off: lo >>> 0, name: r.name };
}

function pastEnd(pc: number, who: string, name: string, off: number, len: number): never {
  throw new BpfExecutionError(pc, `${who}: the read at ${name}+${off} runs past the region's ${len} bytes into kernel memory that is not modelled`);
}

/** copy_from_kernel_nofault(size) from [lo, hi]: the bytes, or -ERANGE for addresses kernel reads refuse. */
export function copyFromKernelNofault(vm: Vm, pc: number, who: string, lo: number, hi: number, size: number): Uint8Array | number {
  const r = kernelRegion(vm, pc, who, lo, hi);
  if (r === null) return -ERANGE;
  if (size === 0) return new Uint8Array(0);
  if (r.off + size > r.bytes.length) pastEnd(pc, who, r.name, r.off, r.bytes.length);
  return r.bytes.slice(r.off, r.off + size);
}

/**
 * strncpy_from_kernel_nofault(count): the string with its NUL (cut to count - 1 bytes and a NUL; the length is
 * the return value), an empty array for count <= 0, or -ERANGE.
 */
export function strncpyFromKernelNofault(vm: Vm, pc: number, who: string, lo: number, hi: number, count: number): Uint8Array | number {
  if (count <= 0) return new Uint8Array(0);
  const r = kernelRegion(vm, pc, who, lo, hi);
  if (r === null) return -ERANGE;
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    if (r.off + i >= r.bytes.length) pastEnd(pc, who, r.name, r.off, r.bytes.length);
    const c = r.bytes[r.off + i]!;
    if (c === 0) return out.subarray(0, i + 1);
    out[i] = c;
  }
  out[count - 1] = 0;
  return out;
}

/** The highest user address (x86-64 TASK_SIZE_MAX with 4-level paging). */
const USER_PTR_MAX = 0x00007ffffffff000n;

/**
 * copy_from_user_nofault (str false) / strncpy_from_user_nofault (str true) of `count` bytes at [lo, hi]: the
 * model's task has no user memory, so -EFAULT, except what comes before any access: a string of count <= 0 is
 * 0, and so is a 0-byte copy from a user address (access_ok refuses kernel addresses, bpfvm's regions included).
 */
function userNofault(vm: Vm, lo: number, hi: number, count: number, str: boolean): number {
  if (count <= 0 && str) return 0;
  const user = vm.space.regionOf(hi) === null && addr64(lo, hi) <= USER_PTR_MAX;
  return count === 0 && user ? 0 : -EFAULT;
}

// ---- bpf_bprintf_prepare + bstr_printf ----------------------------------------------------------------------

const isPrint = (c: number): boolean => c >= 0x20 && c < 0x7f;
/** isspace() of lib/ctype.c for ASCII: space, \t \n \v \f \r (also bpf_strtol's leading blanks, sock-helpers.ts). */
export const isSpace = (c: number): boolean => c === 0x20 || (c >= 9 && c <= 13);
const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
const isPunct = (c: number): boolean => isPrint(c) && !isSpace(c) && !isAlnum(c);
const ch = (s: string): number => s.charCodeAt(0);

interface Spec {
  left: boolean;
  zero: boolean;
  plus: boolean;
  space: boolean;
  /** -1: none given. */
  width: number;
}

const bytesOf = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** A formatted message: its first `limit` bytes (what the caller's buffer can take) and its whole length. */
export class Formatted {
  readonly bytes: number[] = [];
  length = 0;
  constructor(private readonly limit: number) {}

  put(b: readonly number[]): void {
    for (const x of b) if (this.bytes.length < this.limit) this.bytes.push(x);
    this.length += b.length;
  }

  private fill(c: number, n: number): void {
    for (let k = Math.min(n, this.limit - this.bytes.length); k > 0; k--) this.bytes.push(c);
    this.length += n;
  }

  /** vsprintf's widen_string / number padding of an already formatted field to spec.width. */
  field(body: readonly number[], spec: Spec, zeroPad: boolean): void {
    const n = spec.width - body.length;
    if (n <= 0) return this.put(body);
    if (spec.left) {
      this.put(body);
      return this.fill(0x20, n);
    }
    if (zeroPad) {
      const sign = body[0] === 0x2d || body[0] === 0x2b || body[0] === 0x20 ? 1 : 0;
      this.put(body.slice(0, sign));
      this.fill(0x30, n);
      return this.put(body.slice(sign));
    }
    this.fill(0x20, n);
    this.put(body);
  }

  /** pointer_string: hex; without a width, 16 wide and zero-padded (unless left-justified). */
  pointer(v: bigint, spec: Spec): void {
    const s = spec.width === -1 ? { ...spec, width: 16, zero: true } : spec;
    this.field(bytesOf(v.toString(16)), s, s.zero && !s.left);
  }
}

function ip4(b: Uint8Array, lead: boolean): string {
  return Array.from(b, (x) => (lead ? String(x).padStart(3, '0') : String(x))).join('.');
}

function ip6(b: Uint8Array, colons: boolean): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i]! << 8) | b[i + 1]!).toString(16).padStart(4, '0'));
  return words.join(colons ? ':' : '');
}

/** Flags and width of one conversion ([0+- ] then digits: skip_atoi, an int that wraps, clamped to 2^23 - 1). */
function parseSpec(f: Uint8Array, i: number): { spec: Spec; i: number } {
  const spec: Spec = { left: false, zero: false, plus: false, space: false, width: -1 };
  for (;; i++) {
    const x = f[i];
    if (x === ch('0')) spec.zero = true;
    else if (x === ch('+')) spec.plus = true;
    else if (x === ch('-')) spec.left = true;
    else if (x === ch(' ')) spec.space = true;
    else break;
  }
  if (f[i]! >= 0x31 && f[i]! <= 0x39) {
    let w = 0;
    while (f[i]! >= 0x30 && f[i]! <= 0x39) w = (Math.imul(w, 10) + (f[i++]! - 0x30)) | 0;
    spec.width = Math.max(-FIELD_WIDTH_MAX, Math.min(w, FIELD_WIDTH_MAX));
  }
  return { spec, i };
}

/** The kernel's per-CPU argument buffer as bpf_bprintf_prepare fills it (bytes it never wrote are stale). */
class BinArgs {
  readonly bytes = new Uint8Array(MAX_BPRINTF_BIN_ARGS);
  readonly written = new Uint8Array(MAX_BPRINTF_BIN_ARGS);
  at = 0;

  put(b: ArrayLike<number>): void {
    for (let k = 0; k < b.length; k++) {
      this.bytes[this.at + k] = b[k]!;
      this.written[this.at + k] = 1;
    }
    this.at += b.length;
  }
}

/** little-endian bytes of the low `n` bytes of v */
const le = (v: bigint, n: number): number[] => Array.from({ length: n }, (_, k) => Number((v >> BigInt(8 * k)) & 0xffn));
const align4 = (x: number): number => (x + 3) & ~3;
/** The length modifier at `i` ('l' or 'll': 64-bit; none: 32-bit) and the index of the conversion after it. */
function lengthModifier(f: Uint8Array, i: number): { long: boolean; i: number } {
  if (f[i] !== ch('l')) return { long: false, i };
  return { long: true, i: f[i + 1] === ch('l') ? i + 2 : i + 1 };
}

/** What follows %p that bstr_printf hands to pointer() (the others were formatted by bpf_bprintf_prepare). */
const processedPointer = (c: number): boolean => c === ch('S') || c === ch('s') || c === ch('x') || c === ch('K') || !isAlnum(c);

/**
 * bpf_bprintf_prepare: checks `f` (up to its NUL at `nul`) against num_args = args.length and, with a `vm`, fills
 * the argument buffer as the kernel does; -errno on failure. With `vm` null, the verifier's check of a constant
 * format (no buffer: no memory is read, nothing is -ENOSPC).
 */
function bprintfPrepare(vm: Vm | null, pc: number, who: string, f: Uint8Array, nul: number, args: readonly bigint[]): BinArgs | number {
  const bin = new BinArgs();
  const room = (): number => MAX_BPRINTF_BIN_ARGS - bin.at;
  const overflow = (what: string): never => {
    throw new BpfExecutionError(pc, `${who}: ${what} does not fit the kernel's ${MAX_BPRINTF_BIN_ARGS}-byte argument buffer (the kernel then uses memory past it): not modelled`);
  };
  /** An integer or pointer argument: 4-byte aligned (nocopy_fmt); -ENOSPC when it does not fit. */
  const scalar = (v: bigint, size: number): number | null => {
    if (vm === null) return null;
    bin.at = align4(bin.at);
    if (room() < size) return -ENOSPC;
    bin.put(le(v, size));
    return null;
  };
  let n = 0;
  for (let i = 0; i < nul; i++) {
    const c = f[i]!;
    if (c < 0x80 && !isPrint(c) && !isSpace(c)) return -EINVAL;
    if (c !== 0x25) continue;
    if (f[i + 1] === 0x25) {
      i++;
      continue;
    }
    if (n >= args.length) return -EINVAL;
    i = parseSpec(f, i + 1).i;
    const arg = args[n]!;
    const lo = Number(arg & 0xffffffffn) | 0;
    const hi = Number(arg >> 32n) | 0;
    const nx = f[i + 1]!;
    /** %s %pks %pus: the string (cut to what is left of the buffer; "" when unreadable) and its NUL. */
    const str = (kind: 'k' | 'u'): number | null => {
      const after = f[i + 1]!;
      if (after !== 0 && !isSpace(after) && !isPunct(after)) return -EINVAL;
      if (vm === null) return null;
      if (room() === 0) return -ENOSPC;
      const s = kind === 'u' ? userNofault(vm, lo, hi, room(), true) : strncpyFromKernelNofault(vm, pc, who, lo, hi, room());
      bin.put(typeof s === 'number' || s.length === 0 ? [0] : s);
      return null;
    };
    let e: number | null = null;
    if (f[i] === ch('p')) {
      if (nx === 0 || isSpace(nx) || isPunct(nx) || nx === ch('K') || nx === ch('x') || nx === ch('s') || nx === ch('S')) {
        if (nx !== 0 && !isSpace(nx) && !isPunct(nx)) i++;
        if ((nx === ch('s') || nx === ch('S')) && vm !== null && vm.space.regionOf(hi) === null && kernelAddressAllowed(arg)) {
          throw new BpfExecutionError(pc, `${who}: %p${String.fromCharCode(nx)} of kernel address ${hex(arg)} is not modelled (it may be a kernel symbol)`);
        }
        e = scalar(arg, 8);
      } else if ((nx === ch('k') || nx === ch('u')) && f[i + 2] === ch('s')) {
        i += 2;
        e = str(nx === ch('k') ? 'k' : 'u');
      } else if (nx === ch('B')) {
        i++;
        if (vm !== null) {
          if (vm.space.regionOf(hi) === null && kernelAddressAllowed(arg)) {
            throw new BpfExecutionError(pc, `${who}: %pB of kernel address ${hex(arg)} is not modelled (it may be a kernel symbol)`);
          }
          const body = bytesOf(hex(arg));
          if (body.length + 1 > room()) overflow('%pB');
          bin.put([...body, 0]);
        }
      } else {
        if ((nx !== ch('i') && nx !== ch('I')) || (f[i + 2] !== ch('4') && f[i + 2] !== ch('6'))) return -EINVAL;
        i += 2;
        if (vm !== null) {
          const v4 = f[i] === ch('4');
          const size = v4 ? 4 : 16;
          if (room() < size) return -ENOSPC;
          const got = copyFromKernelNofault(vm, pc, who, lo, hi, size);
          const ip = typeof got === 'number' ? new Uint8Array(size) : got;
          const body = bytesOf(v4 ? ip4(ip, nx === ch('i')) : ip6(ip, nx === ch('I')));
          if (body.length + 1 > room()) overflow(`%p${String.fromCharCode(nx)}${v4 ? 4 : 6}`);
          bin.put([...body, 0]);
        }
      }
    } else if (f[i] === ch('s')) {
      e = str('k');
    } else if (f[i] === ch('c')) {
      if (vm !== null) {
        if (room() === 0) return -ENOSPC;
        bin.put([lo & 0xff]);
      }
    } else {
      const m = lengthModifier(f, i);
      const long = m.long;
      i = m.i;
      const conv = f[i]!;
      if (conv !== ch('i') && conv !== ch('d') && conv !== ch('u') && conv !== ch('x') && conv !== ch('X')) return -EINVAL;
      e = scalar(arg, long ? 8 : 4);
    }
    if (e !== null) return e;
    n++;
  }
  return bin;
}

/**
 * bstr_printf(buf, size, fmt, bin) after bpf_bprintf_prepare: the message, its first `size - 1` bytes kept. A
 * conversion prepare formatted itself (%pks %pus %pB %pI..) is copied only while the output is shorter than
 * `size`; past that it adds nothing and the argument pointer stays, so later conversions read its bytes.
 */
function bstrPrintf(pc: number, who: string, f: Uint8Array, nul: number, bin: BinArgs, size: number): Formatted {
  const out = new Formatted(Math.max(size - 1, 0));
  let a = 0;
  const need = (from: number, len: number): void => {
    for (let k = from; k < from + len; k++) {
      if (k >= MAX_BPRINTF_BIN_ARGS || bin.written[k] === 0) {
        throw new BpfExecutionError(pc, `${who}: bstr_printf reads bytes of the kernel's argument buffer that bpf_bprintf_prepare did not write (stale per-CPU data): not modelled`);
      }
    }
  };
  const get = (len: number): bigint => {
    if (len > 1) a = align4(a);
    need(a, len);
    let v = 0n;
    for (let k = len - 1; k >= 0; k--) v = (v << 8n) | BigInt(bin.bytes[a + k]!);
    a += len;
    return v;
  };
  const cstr = (): number[] => {
    const s: number[] = [];
    for (;;) {
      need(a, 1);
      const b = bin.bytes[a++]!;
      if (b === 0) return s;
      s.push(b);
    }
  };
  for (let i = 0; i < nul; i++) {
    const c = f[i]!;
    if (c !== 0x25) {
      out.put([c]);
      continue;
    }
    if (f[i + 1] === 0x25) {
      out.put([0x25]);
      i++;
      continue;
    }
    const p = parseSpec(f, i + 1);
    const spec = p.spec;
    i = p.i;
    if (f[i] === ch('p')) {
      const nx = f[i + 1]!;
      if (processedPointer(nx)) {
        const v = get(8);
        if (nx === ch('s') || nx === ch('S')) out.field(bytesOf(hex(v)), spec, false); // not a kernel symbol
        else out.pointer(v, spec); // %px; %p / %pK hashed by the kernel: bpfvm's address
      } else if (out.length < size) {
        const s = cstr();
        out.put(s); // no width: copied as prepare formatted it
      }
      while (isAlnum(f[i + 1]!)) i++;
      continue;
    }
    if (f[i] === ch('s')) {
      out.field(cstr(), spec, false);
      continue;
    }
    if (f[i] === ch('c')) {
      out.field([Number(get(1))], spec, false);
      continue;
    }
    const m = lengthModifier(f, i);
    const long = m.long;
    i = m.i;
    const conv = f[i]!;
    const raw = get(long ? 8 : 4);
    let s: string;
    if (conv === ch('d') || conv === ch('i')) {
      const v = long ? BigInt.asIntN(64, raw) : BigInt.asIntN(32, raw);
      s = v.toString();
      if (v >= 0n && spec.plus) s = '+' + s;
      else if (v >= 0n && spec.space) s = ' ' + s;
    } else {
      s = conv === ch('u') ? raw.toString() : conv === ch('x') ? raw.toString(16) : raw.toString(16).toUpperCase();
    }
    out.field(bytesOf(s), spec, spec.zero && !spec.left);
  }
  return out;
}

/**
 * bpf_bprintf_prepare then bstr_printf(buf, size) of `fmtBuf` (the format's bytes; it must contain its NUL)
 * with `args` (u64 each; their count is num_args): the message (its first size - 1 bytes, and its whole length)
 * or -errno. `who` names the helper in the messages of a run bpfvm stops.
 */
export function bpfBprintf(vm: Vm, pc: number, who: string, fmtBuf: Uint8Array, args: readonly bigint[], size: number): Formatted | number {
  const nul = fmtBuf.indexOf(0);
  if (nul < 0) return -EINVAL;
  const f = fmtBuf.subarray(0, nul + 1); // f[i + 1] is defined for every i < nul
  const bin = bprintfPrepare(vm, pc, who, f, nul, args);
  if (typeof bin === 'number') return bin;
  return bstrPrintf(pc, who, f, nul, bin, size);
}

/**
 * The verifier's check of bpf_snprintf's constant format and data_len (check_bpf_snprintf_call: data_len a
 * multiple of 8, then bpf_bprintf_prepare with num_args = data_len / 8 and no buffers): 0, or -EINVAL when the
 * kernel refuses to load the program. (data_len above 96 loads: the helper then returns -EINVAL.)
 */
export function bprintfFormatCheck(fmt: Uint8Array, dataLen: number): number {
  if (dataLen % 8 !== 0) return -EINVAL;
  const nul = fmt.indexOf(0);
  if (nul < 0) return -EINVAL;
  const r = bprintfPrepare(null, 0, 'format check', fmt.subarray(0, nul + 1), nul, new Array<bigint>(dataLen / 8).fill(0n));
  return typeof r === 'number' ? r : 0;
}

/** The trace line of a message formatted into MAX_BPRINTF_BUF: up to a NUL, less one trailing newline. */
function traceLine(m: Formatted): string {
  const z = m.bytes.indexOf(0);
  return Buffer.from(z < 0 ? m.bytes : m.bytes.slice(0, z)).toString('utf8').replace(/\n$/, '');
}

/** The u64 arguments of trace_vprintk / snprintf: -EINVAL unless data_len is a multiple of 8, <= 96, with data. */
function readVarargs(v: Vm, pc: number, r: number): bigint[] | number {
  const len = v.lo[r + 1]! >>> 0;
  if (len % 8 !== 0 || len > MAX_BPRINTF_VARARGS * 8 || (len !== 0 && v.lo[r] === 0 && v.hi[r] === 0)) return -EINVAL;
  const b = v.space.read(pc, v.lo[r]!, v.hi[r]!, len);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: bigint[] = [];
  for (let k = 0; k < len; k += 8) out.push(dv.getBigUint64(k, true));
  return out;
}

/** bpf_trace_printk (6)(fmt, fmt_size, a1, a2, a3). */
export function tracePrintk(trace: string[]): HelperFn {
  return (v, pc) => {
    const fmt = v.space.read(pc, v.lo[1]!, v.hi[1]!, v.lo[2]! >>> 0);
    const r = bpfBprintf(v, pc, 'bpf_trace_printk', fmt, [v.reg(3), v.reg(4), v.reg(5)], MAX_BPRINTF_BUF);
    if (typeof r === 'number') return v.setR0Int(r);
    trace.push(traceLine(r));
    v.setR0Int(r.length);
  };
}

/** bpf_trace_vprintk (177)(fmt, fmt_size, args, data_len). */
function traceVprintk(trace: string[]): HelperFn {
  return (v, pc) => {
    const args = readVarargs(v, pc, 3);
    if (typeof args === 'number') return v.setR0Int(args);
    const fmt = v.space.read(pc, v.lo[1]!, v.hi[1]!, v.lo[2]! >>> 0);
    const r = bpfBprintf(v, pc, 'bpf_trace_vprintk', fmt, args, MAX_BPRINTF_BUF);
    if (typeof r === 'number') return v.setR0Int(r);
    trace.push(traceLine(r));
    v.setR0Int(r.length);
  };
}

/** bpf_snprintf (165)(str, str_size, fmt, data, data_len): the format is a NUL-terminated constant string. */
const snprintf: HelperFn = (v, pc) => {
  const args = readVarargs(v, pc, 4);
  if (typeof args === 'number') return v.setR0Int(args);
  const r = constString(v, pc, 3);
  const fmt = r.bytes.subarray(r.off);
  const size = v.lo[2]! >>> 0;
  const out = bpfBprintf(v, pc, 'bpf_snprintf', fmt, args, size);
  if (typeof out === 'number') return v.setR0Int(out);
  if (size > 0) v.space.write(pc, v.lo[1]!, v.hi[1]!, Uint8Array.from([...out.bytes, 0]));
  v.setR0Int(out.length + 1);
};

/** The readable region register `r` points into (a constant string, which the verifier guarantees). */
function constString(v: Vm, pc: number, r: number): { bytes: Uint8Array; off: number } {
  const reg = v.space.regionOf(v.hi[r]!);
  const off = v.lo[r]! >>> 0;
  if (reg === null || reg.kind === 'object' || off > reg.bytes.length) throw new BpfExecutionError(pc, `bpf_snprintf: r${r} does not point at a constant string`);
  return { bytes: reg.bytes, off };
}

// ---- the other helpers ----------------------------------------------------------------------------------------

/** probe_read_{user,kernel}(_str)(dst, size, unsafe_ptr): the kernel's result; dst zeroed on failure. */
function probeRead(kind: 'user' | 'kernel', str: boolean): HelperFn {
  const who = `bpf_probe_read_${kind}${str ? '_str' : ''}`;
  return (v, pc) => {
    const size = v.lo[2]! >>> 0;
    const lo = v.lo[3]!;
    const hi = v.hi[3]!;
    let r: Uint8Array | number;
    if (kind === 'user') r = userNofault(v, lo, hi, size, str);
    else r = str ? strncpyFromKernelNofault(v, pc, who, lo, hi, size) : copyFromKernelNofault(v, pc, who, lo, hi, size);
    if (typeof r === 'number') {
      if (r < 0) v.space.write(pc, v.lo[1]!, v.hi[1]!, new Uint8Array(size));
      return v.setR0Int(r);
    }
    v.space.write(pc, v.lo[1]!, v.hi[1]!, r);
    v.setR0Int(str ? r.length : 0);
  };
}

/**
 * Whether register `r` holds the current task (true) or NULL (false); any other task pointer stops the run (the
 * model has no other task, and programs get task pointers only from bpf_get_current_task(_btf)).
 */
export function isCurrentTask(v: Vm, pc: number, who: string, r: number): boolean {
  const t = v.reg(r);
  if (t === 0n) return false;
  if (t !== CURRENT_TASK_ADDR) throw new BpfExecutionError(pc, `${who}: task ${hex(t)} is not the current task (other tasks are not modelled)`);
  return true;
}

/** perf_event_read (22) / perf_event_read_value (55): get_map_perf_counter on CPU 0. */
function perfCounter(v: Vm, pc: number, who: string): number {
  const map = mapArg(v, pc, 1, PerfEventArrayMap, who, 'a perf event array');
  const flags = v.reg(2);
  if ((flags & ~BPF_F_INDEX_MASK) !== 0n) return -EINVAL;
  const index = flags === BPF_F_CURRENT_CPU ? 0n : flags;
  if (index >= BigInt(map.maxEntries)) return -E2BIG;
  const cpu = map.slotCpu(Number(index));
  if (cpu === null) return -ENOENT;
  if (cpu !== 0) return -EINVAL; // perf_event_read_local: a per-CPU event of another CPU
  throw new BpfExecutionError(pc, `${who}: the counter of the perf event in slot ${index} is not modelled`);
}

/** Installs the helpers of this file in a VM; their output goes to `out`. */
export function installTraceHelpers(vm: Vm, out: TraceOutput): void {
  const h = vm.helpers;
  h[T.trace_printk] = tracePrintk(out.trace);
  h[T.trace_vprintk] = traceVprintk(out.trace);
  h[T.snprintf] = snprintf;
  h[T.probe_read_user] = probeRead('user', false);
  h[T.probe_read_kernel] = probeRead('kernel', false);
  h[T.probe_read_user_str] = probeRead('user', true);
  h[T.probe_read_kernel_str] = probeRead('kernel', true);
  h[T.get_current_comm] = (v, pc) => {
    // bpf_get_current_comm(buf, size): strscpy_pad of the task's comm into buf; 0.
    const size = v.lo[2]! >>> 0;
    const b = new Uint8Array(size);
    const name = Buffer.from(CURRENT_COMM, 'latin1');
    if (size > 0) b.set(name.subarray(0, Math.min(name.length, size - 1)));
    v.space.write(pc, v.lo[1]!, v.hi[1]!, b);
    v.setR0(0, 0);
  };
  h[T.get_current_task] = (v) => v.setR0Big(CURRENT_TASK_ADDR);
  h[T.get_current_task_btf] = (v) => v.setR0Big(CURRENT_TASK_ADDR);
  h[T.task_pt_regs] = (v, pc) => v.setR0Big(isCurrentTask(v, pc, 'bpf_task_pt_regs', 1) ? CURRENT_PT_REGS_ADDR : 0n);
  h[T.find_vma] = (v, pc) => {
    // bpf_find_vma(task, addr, callback_fn, callback_ctx, flags): no VMA in the model's task.
    if (v.lo[5] !== 0 || v.hi[5] !== 0) return v.setR0Int(-EINVAL);
    isCurrentTask(v, pc, 'bpf_find_vma', 1);
    v.setR0Int(-ENOENT);
  };
  h[T.get_branch_snapshot] = (v) => v.setR0Int(v.lo[3] !== 0 || v.hi[3] !== 0 ? -EINVAL : -ENOENT);
  const signal = (thread: boolean): HelperFn => (v) => {
    const sig = v.lo[1]! >>> 0;
    if (sig > NSIG) return v.setR0Int(-EINVAL);
    if (sig !== 0) out.signals.push({ sig, thread });
    v.setR0Int(0);
  };
  h[T.send_signal] = signal(false);
  h[T.send_signal_thread] = signal(true);
  h[T.perf_event_read] = (v, pc) => v.setR0Int(perfCounter(v, pc, 'bpf_perf_event_read'));
  h[T.perf_event_read_value] = (v, pc) => {
    // (map, flags, buf, size): buf = struct bpf_perf_event_value { counter, enabled, running }, zeroed on failure.
    const size = v.lo[4]! >>> 0;
    const err = size !== 24 ? -EINVAL : perfCounter(v, pc, 'bpf_perf_event_read_value');
    v.space.write(pc, v.lo[3]!, v.hi[3]!, new Uint8Array(size));
    v.setR0Int(err);
  };
}
