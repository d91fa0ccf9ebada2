// Directed verifier cases: one program per message (or per accepted pattern), each with the verdict and final
// log line the Linux 6.18 host printed (recorded below), checked against bpfvm's verifier always and against
// the live kernel when it is available. The level-1 logs are also compared line by line with the kernel's.

import { describe, expect, it } from 'vitest';
import { assemble } from '../../vm/asm.js';
import { verify } from '../../verifier/index.js';
import type { MapSpec } from '../../src/spec.js';
import { kernelAvailability, kernelRunBatch, type KernelMapDef } from '../kernel/oracle.js';

const HMAP = { name: 'hmap', type: 1, keySize: 4, valueSize: 8, maxEntries: 4 };
const AMAP = { name: 'amap', type: 2, keySize: 4, valueSize: 8, maxEntries: 4 };
const SOCKMAP = { name: 'smap', type: 15, keySize: 4, valueSize: 4, maxEntries: 4 };
const SOCKHASH = { name: 'shash', type: 18, keySize: 4, valueSize: 4, maxEntries: 4 };
const PROGS = { name: 'jt', type: 3, keySize: 4, valueSize: 4, maxEntries: 4 };
const RINGBUF = { name: 'rb', type: 27, keySize: 0, valueSize: 0, maxEntries: 4096 };

interface Case {
  name: string;
  type: number;
  /** Kernel assembly, or `hex:` + raw bytes for encodings the assembler refuses. */
  asm: string;
  maps?: KernelMapDef[];
  unpriv?: boolean;
  /** Final log line (the one before `processed …`), null = accepted. */
  want: string | null;
  errno: number;
  /** errno of the kernel's load when it differs (a 1 MiB log buffer overflows: ENOSPC). */
  kernelErrno?: number;
}

// Recorded on Linux 6.18.44 (root unless `unpriv`: CAP_BPF + CAP_NET_ADMIN only).
const CASES: Case[] = [
  { name: "uninit register", type: 14, asm: "r0 = r5\nexit", want: "R5 !read_ok", errno: 13 },
  { name: "R0 not set at exit", type: 14, asm: "exit", want: "R0 !read_ok", errno: 13 },
  { name: "frame pointer write", type: 14, asm: "r10 = 1\nexit", want: "frame pointer is read only", errno: 13 },
  { name: "MOV reserved field", type: 14, asm: "hex:b700000000000000bf10000001000000bf100000000000009500000000000000", want: "BPF_MOV uses reserved fields", errno: 22 },
  { name: "ALU reserved field", type: 14, asm: "hex:b7000000000000000f100000010000009500000000000000", want: "BPF_ALU uses reserved fields", errno: 22 },
  { name: "register number 11", type: 14, asm: "hex:b70b0000000000009500000000000000", want: "R11 is invalid", errno: 22 },
  { name: "div by zero", type: 14, asm: "r0 = 1\nr0 /= 0\nexit", want: "div by zero", errno: 22 },
  { name: "mod by zero 32", type: 14, asm: "w0 = 1\nw0 %= 0\nexit", want: "div by zero", errno: 22 },
  { name: "invalid shift", type: 14, asm: "r0 = 1\nr0 <<= 64\nexit", want: "invalid shift 64", errno: 22 },
  { name: "invalid shift 32", type: 14, asm: "w0 = 1\nw0 s>>= 32\nexit", want: "invalid shift 32", errno: 22 },
  { name: "ctx arithmetic then load", type: 14, asm: "r1 += 8\nr0 = *(u32 *)(r1 +0)\nexit", want: "dereference of modified ctx ptr R1 off=8 disallowed", errno: 13 },
  { name: "ctx bitwise", type: 14, asm: "r1 &= 8\nr0 = 0\nexit", want: "R1 bitwise operator &= on pointer prohibited", errno: 13 },
  { name: "ctx mul", type: 14, asm: "r1 *= 8\nr0 = 0\nexit", want: "R1 pointer arithmetic with *= operator prohibited", errno: 13 },
  { name: "pkt_end arithmetic", type: 14, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr3 += 1\nr0 = 0\nexit", want: "R3 pointer arithmetic on pkt_end prohibited", errno: 13 },
  { name: "32-bit pointer arithmetic", type: 14, asm: "w1 += 4\nr0 = 0\nexit", want: "R1 32-bit pointer arithmetic prohibited", errno: 13 },
  { name: "pointer plus pointer", type: 14, asm: "r2 = r10\nr2 += r1\nr0 = 0\nexit", want: "R2 pointer += pointer prohibited", errno: 13 },
  { name: "pkt_end minus pkt is a scalar", type: 3, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr3 -= r2\nr0 = r3\nexit", want: null, errno: 0 },
  { name: "scalar minus pointer", type: 14, asm: "r0 = 5\nr0 -= r1\nexit", want: "R0 tried to subtract pointer from scalar", errno: 13 },
  { name: "fp minus scalar", type: 14, asm: "r2 = r10\nr2 -= 8\nr0 = 0\nexit", want: "R2 subtraction from stack pointer prohibited", errno: 13 },
  { name: "ctx read denied (mark)", type: 14, asm: "r0 = *(u32 *)(r1 +8)\nexit", want: "invalid bpf_context access off=8 size=4", errno: 13 },
  { name: "ctx narrow read sk_msg size", type: 16, asm: "r0 = *(u16 *)(r1 +68)\nexit", want: "invalid bpf_context access off=68 size=2", errno: 13 },
  { name: "ctx write sk_msg", type: 16, asm: "r2 = 1\n*(u32 *)(r1 +68) = r2\nr0 = 1\nexit", want: "invalid bpf_context access off=68 size=4", errno: 13 },
  { name: "packet read without check", type: 14, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr0 = *(u8 *)(r2 +0)\nexit", want: "R2 offset is outside of the packet", errno: 13 },
  { name: "packet read past checked range", type: 14, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr4 = r2\nr4 += 4\nif r4 > r3 goto pc+2\nr0 = *(u32 *)(r2 +2)\nexit\nr0 = 0\nexit", want: "R2 offset is outside of the packet", errno: 13 },
  { name: "packet read in range (r4 > r3)", type: 14, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr4 = r2\nr4 += 4\nif r4 > r3 goto pc+2\nr0 = *(u32 *)(r2 +0)\nexit\nr0 = 0\nexit", want: null, errno: 0 },
  { name: "packet check r3 < r4 form", type: 16, asm: "r2 = *(u64 *)(r1 +0)\nr3 = *(u64 *)(r1 +8)\nr4 = r2\nr4 += 8\nif r3 < r4 goto pc+2\nr0 = *(u64 *)(r2 +0)\nexit\nr0 = 0\nexit", want: null, errno: 0 },
  { name: "packet check r4 <= r3 form", type: 6, asm: "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 8\nif r4 <= r3 goto pc+2\nr0 = 0\nexit\nr0 = *(u64 *)(r2 +0)\nexit", want: null, errno: 0 },
  { name: "packet check r3 >= r4 form", type: 3, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr4 = r2\nr4 += 8\nif r3 >= r4 goto pc+2\nr0 = 0\nexit\nr0 = *(u64 *)(r2 +0)\nexit", want: null, errno: 0 },
  { name: "packet access on the wrong side", type: 3, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr4 = r2\nr4 += 8\nif r4 > r3 goto pc+2\nr0 = 0\nexit\nr0 = *(u8 *)(r2 +0)\nexit", want: "R2 offset is outside of the packet", errno: 13 },
  { name: "packet write sock_ops", type: 13, asm: "r2 = *(u64 *)(r1 +192)\nr3 = *(u64 *)(r1 +200)\nr4 = r2\nr4 += 1\nif r4 > r3 goto pc+1\n*(u8 *)(r2 +0) = 1\nr0 = 1\nexit", want: "cannot write into packet", errno: 13 },
  { name: "pkt_end dereference", type: 14, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr0 = *(u8 *)(r3 +0)\nexit", want: "R3 invalid mem access 'pkt_end'", errno: 13 },
  { name: "stack write out of bounds", type: 14, asm: "*(u64 *)(r10 -520) = 1\nr0 = 0\nexit", want: "invalid write to stack R10 off=-520 size=8", errno: 13 },
  { name: "stack write at fp+0", type: 14, asm: "*(u64 *)(r10 +0) = 1\nr0 = 0\nexit", want: "invalid write to stack R10 off=0 size=8", errno: 13 },
  { name: "misaligned stack", type: 14, asm: "r0 = *(u32 *)(r10 -6)\nexit", want: "misaligned stack access off 0+0+-6 size 4", errno: 13 },
  { name: "uninit stack read root", type: 1, asm: "r0 = *(u64 *)(r10 -8)\nexit", want: null, errno: 0 },
  { name: "uninit stack read unpriv", type: 1, asm: "r0 = *(u64 *)(r10 -8)\nexit", unpriv: true, want: "invalid read from stack R10 off=-8 size=8", errno: 13 },
  { name: "uninit stack read unpriv, partially written", type: 1, asm: "*(u32 *)(r10 -8) = 0\nr0 = *(u64 *)(r10 -8)\nexit", unpriv: true, want: "invalid read from stack off -8+4 size 8", errno: 13 },
  { name: "partial pointer spill", type: 14, asm: "*(u32 *)(r10 -8) = r1\nr0 = 0\nexit", want: "invalid size of register spill", errno: 13 },
  { name: "partial pointer fill", type: 14, asm: "*(u64 *)(r10 -8) = r1\nr0 = *(u32 *)(r10 -8)\nexit", want: "invalid size of register fill", errno: 13 },
  { name: "spill and fill ctx", type: 14, asm: "*(u64 *)(r10 -8) = r1\nr1 = *(u64 *)(r10 -8)\nr0 = *(u32 *)(r1 +0)\nexit", want: null, errno: 0 },
  { name: "scalar deref", type: 14, asm: "r1 = 0\nr0 = *(u32 *)(r1 +0)\nexit", want: "R1 invalid mem access 'scalar'", errno: 13 },
  { name: "map value or null deref", type: 1, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nr0 = *(u32 *)(r0 +0)\nexit", maps: [HMAP], want: "R0 invalid mem access 'map_value_or_null'", errno: 13 },
  { name: "map value out of bounds", type: 1, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r0 == 0x0 goto pc+1\nr0 = *(u32 *)(r0 +6)\nr0 = 0\nexit", maps: [HMAP], want: "R0 min value is outside of the allowed memory range", errno: 13 },
  { name: "map value ok", type: 1, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r0 == 0x0 goto pc+1\nr0 = *(u32 *)(r0 +4)\nr0 = 0\nexit", maps: [HMAP], want: null, errno: 0 },
  { name: "map value or null arithmetic", type: 1, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nr0 += 4\nr0 = 0\nexit", maps: [HMAP], want: "R0 pointer arithmetic on map_value_or_null prohibited, null-check it first", errno: 13 },
  { name: "array const key no null check", type: 1, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nr0 = *(u32 *)(r0 +0)\nexit", maps: [AMAP], want: null, errno: 0 },
  { name: "map key uninit unpriv", type: 1, asm: "r2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nr0 = 0\nexit", maps: [HMAP], unpriv: true, want: "invalid read from stack R2 off=-4 size=4", errno: 13 },
  { name: "map key not a pointer", type: 1, asm: "r2 = 0\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nr0 = 0\nexit", maps: [HMAP], want: "R2 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_", errno: 13 },
  { name: "map arg not a map", type: 1, asm: "r2 = r10\nr2 += -8\ncall bpf_map_lookup_elem#1\nr0 = 0\nexit", want: "R1 type=ctx expected=map_ptr", errno: 13 },
  { name: "helper unavailable", type: 14, asm: "call bpf_xdp_adjust_head#44\nr0 = 0\nexit", want: "program of this type cannot use helper bpf_xdp_adjust_head#44", errno: 22 },
  { name: "helper id out of range", type: 14, asm: "call 212\nr0 = 0\nexit", want: "invalid func unknown#212", errno: 22 },
  { name: "helper clobbers r1", type: 14, asm: "call bpf_get_prandom_u32#7\nr0 = *(u32 *)(r1 +0)\nexit", want: "R1 !read_ok", errno: 13 },
  { name: "sk_redirect_map wrong map type", type: 14, asm: "r2 = map[idx:0]\nr3 = 0\nr4 = 0\ncall bpf_sk_redirect_map#52\nexit", maps: [HMAP], want: "cannot pass map_type 1 into func bpf_sk_redirect_map#52", errno: 22 },
  { name: "sockmap update from sock_ops", type: 13, asm: "*(u32 *)(r10 -4) = 0\nr3 = r10\nr3 += -4\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\nr4 = 0\ncall bpf_map_update_elem#2\nr0 = 1\nexit", maps: [SOCKMAP], want: "R3 type=fp expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_", errno: 13 },
  { name: "sock_map_update ok", type: 13, asm: "*(u32 *)(r10 -4) = 0\nr3 = r10\nr3 += -4\nr2 = map[idx:0]\nr4 = 0\ncall bpf_sock_map_update#53\nr0 = 1\nexit", maps: [SOCKMAP], want: null, errno: 0 },
  { name: "msg_redirect_hash ok", type: 16, asm: "*(u32 *)(r10 -4) = 0\nr3 = r10\nr3 += -4\nr2 = map[idx:0]\nr4 = 0\ncall bpf_msg_redirect_hash#71\nexit", maps: [SOCKHASH], want: null, errno: 0 },
  { name: "stale pkt pointer after pull (sk_skb)", type: 14, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr4 = r2\nr4 += 4\nif r4 > r3 goto pc+5\nr6 = r2\nr2 = 0\ncall bpf_skb_pull_data#39\nr0 = *(u32 *)(r6 +0)\nexit\nr0 = 0\nexit", want: "R6 invalid mem access 'scalar'", errno: 13 },
  { name: "stale pkt pointer after pull unpriv", type: 14, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr4 = r2\nr4 += 4\nif r4 > r3 goto pc+5\nr6 = r2\nr2 = 0\ncall bpf_skb_pull_data#39\nr0 = *(u32 *)(r6 +0)\nexit\nr0 = 0\nexit", unpriv: true, want: "R6 !read_ok", errno: 13 },
  { name: "stale spilled pkt pointer after msg_pull_data", type: 16, asm: "r2 = *(u64 *)(r1 +0)\nr3 = *(u64 *)(r1 +8)\nr4 = r2\nr4 += 4\nif r4 > r3 goto pc+9\n*(u64 *)(r10 -8) = r2\nr6 = r1\nr2 = 0\nr3 = 4\nr4 = 0\ncall bpf_msg_pull_data#63\nr2 = *(u64 *)(r10 -8)\nr0 = *(u8 *)(r2 +0)\nexit\nr0 = 0\nexit", want: "R2 invalid mem access 'scalar'", errno: 13 },
  { name: "pkt pointer reloaded after push", type: 16, asm: "r6 = r1\nr2 = 0\nr3 = 4\nr4 = 0\ncall bpf_msg_push_data#90\nr2 = *(u64 *)(r6 +0)\nr3 = *(u64 *)(r6 +8)\nr4 = r2\nr4 += 1\nif r4 > r3 goto pc+1\nr0 = *(u8 *)(r2 +0)\nr0 = 1\nexit", want: null, errno: 0 },
  { name: "xdp adjust_head invalidates", type: 6, asm: "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 4\nif r4 > r3 goto pc+5\nr7 = r2\nr2 = 0\ncall bpf_xdp_adjust_head#44\nr0 = *(u32 *)(r7 +0)\nexit\nr0 = 0\nexit", want: "R7 invalid mem access 'scalar'", errno: 13 },
  { name: "tail call in main keeps pkt pointers", type: 6, asm: "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 4\nif r4 > r3 goto pc+7\nr7 = r2\nr6 = r1\nr2 = map[idx:0]\nr3 = 0\ncall bpf_tail_call#12\nr0 = *(u32 *)(r7 +0)\nexit\nr0 = 0\nexit", maps: [PROGS], want: "unreachable insn 13", errno: 22 },
  { name: "sock_ops return out of range", type: 13, asm: "r0 = *(u32 *)(r1 +0)\nexit", want: "At program exit the register R0 has smin=0 smax=4294967295 should have been in [0, 1]", errno: 22 },
  { name: "sock_ops return pointer", type: 13, asm: "r0 = r1\nexit", want: "At program exit the register R0 is not a known value (ctx)", errno: 22 },
  { name: "sock_ops return 1", type: 13, asm: "r0 = 1\nexit", want: null, errno: 0 },
  { name: "cgroup_skb return 2", type: 8, asm: "r0 = 2\nexit", want: "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]", errno: 22 },
  { name: "sk_skb return pointer ok", type: 14, asm: "r0 = r1\nexit", want: null, errno: 0 },
  { name: "sk_skb return pointer unpriv", type: 14, asm: "r0 = r1\nexit", unpriv: true, want: "R0 leaks addr as return value", errno: 13 },
  { name: "sock_common_or_null deref", type: 14, asm: "r2 = *(u64 *)(r1 +168)\nr0 = *(u32 *)(r2 +4)\nexit", want: "R2 invalid mem access 'sock_common_or_null'", errno: 13 },
  { name: "sock_common after null check", type: 14, asm: "r2 = *(u64 *)(r1 +168)\nif r2 == 0x0 goto pc+2\nr0 = *(u32 *)(r2 +4)\nexit\nr0 = 0\nexit", want: null, errno: 0 },
  { name: "sock write", type: 16, asm: "r2 = *(u64 *)(r1 +72)\n*(u32 *)(r2 +4) = 1\nr0 = 0\nexit", want: "R2 cannot write into sock", errno: 13 },
  { name: "sock invalid field", type: 16, asm: "r2 = *(u64 *)(r1 +72)\nr0 = *(u16 *)(r2 +50)\nexit", want: "R2 invalid sock access off=50 size=2", errno: 13 },
  { name: "bpf2bpf call", type: 14, asm: "r6 = 5\nr1 = 3\ncall pc+3\nr0 += r6\nr0 = *(u32 *)(r0 +0)\nexit\nr0 = r1\nr0 += 1\nexit", want: "R0 invalid mem access 'scalar'", errno: 13 },
  { name: "bpf2bpf caller r1 clobbered", type: 14, asm: "call pc+2\nr0 = r1\nexit\nr0 = 1\nexit", want: "R1 !read_ok", errno: 13 },
  { name: "bpf2bpf return stack pointer", type: 14, asm: "call pc+2\nr0 = 0\nexit\nr0 = r10\nexit", want: "cannot return stack pointer to the caller", errno: 22 },
  { name: "subprog changes pkt data", type: 14, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr4 = r2\nr4 += 4\nif r4 > r3 goto pc+4\nr6 = r2\ncall pc+4\nr0 = *(u8 *)(r6 +0)\nexit\nr0 = 0\nexit\nr2 = 0\ncall bpf_skb_pull_data#39\nr0 = 0\nexit", want: "R6 invalid mem access 'scalar'", errno: 13 },
  { name: "deep call chain", type: 14, asm: "call pc+2\nr0 = 0\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\nr0 = 0\nexit", want: "the call stack of 9 frames is too deep", errno: 7 },
  { name: "combined stack too large", type: 14, asm: "*(u64 *)(r10 -512) = 0\ncall pc+2\nr0 = 0\nexit\n*(u64 *)(r10 -16) = 0\nr0 = 0\nexit", want: "combined stack size of 2 calls is 528. Too large", errno: 13 },
  { name: "bounded loop", type: 14, asm: "r0 = 0\nr1 = 0\nr0 += r1\nr1 += 1\nif r1 < 10 goto pc-3\nexit", want: null, errno: 0 },
  { name: "infinite loop", type: 14, asm: "r0 = 0\nr1 = 0\nif r1 < 10 goto pc-1\nexit", want: "infinite loop detected at insn 2", errno: 22 },
  { name: "too many insns", type: 14, asm: "r0 = 0\nr1 = 0\nr1 += 1\nif r1 < 100000000 goto pc-2\nexit", want: "BPF program is too large. Processed 1000001 insn", errno: 7, kernelErrno: 28 },
  { name: "ld_abs not allowed", type: 14, asm: "r6 = r1\nr0 = *(u8 *)skb[0]\nexit", want: "BPF_LD_[ABS|IND] instructions not allowed for this program type", errno: 22 },
  { name: "atomic on ctx", type: 14, asm: "r2 = 1\nlock *(u32 *)(r1 +0) += r2\nr0 = 0\nexit", want: "BPF_ATOMIC stores into R1 ctx is not allowed", errno: 13 },
  { name: "atomic on stack", type: 14, asm: "*(u64 *)(r10 -8) = 0\nr2 = 1\nlock *(u64 *)(r10 -8) += r2\nr0 = *(u64 *)(r10 -8)\nexit", want: null, errno: 0 },
  { name: "helper mem arg unbounded size", type: 14, asm: "r6 = r1\nr4 = *(u32 *)(r1 +0)\nr3 = r10\nr3 += -8\nr2 = 0\ncall bpf_skb_load_bytes#26\nr0 = 0\nexit", want: "R4 invalid zero-sized read: u64=[0,4294967295]", errno: 13 },
  { name: "helper mem arg zero size", type: 14, asm: "r4 = 0\nr3 = r10\nr3 += -8\nr2 = 0\ncall bpf_skb_load_bytes#26\nr0 = 0\nexit", want: "R4 invalid zero-sized read: u64=[0,0]", errno: 13 },
  { name: "helper mem arg negative size", type: 14, asm: "r4 = -1\nr3 = r10\nr3 += -8\nr2 = 0\ncall bpf_skb_load_bytes#26\nr0 = 0\nexit", want: "R4 min value is negative, either use unsigned or 'var &= const'", errno: 13 },
  { name: "skb_load_bytes into stack then read", type: 14, asm: "r4 = 8\nr3 = r10\nr3 += -8\nr2 = 0\ncall bpf_skb_load_bytes#26\nr0 = *(u64 *)(r10 -8)\nexit", unpriv: true, want: null, errno: 0 },
  { name: "helper packet access not allowed (sock_ops)", type: 13, asm: "r2 = *(u64 *)(r1 +192)\nr3 = *(u64 *)(r1 +200)\nr4 = r2\nr4 += 8\nif r4 > r3 goto pc+4\nr3 = r2\nr2 = 0\nr4 = 8\ncall bpf_load_hdr_opt#142\nr0 = 1\nexit", want: "R2 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_", errno: 13 },
  { name: "pkt pointer null compare is not decided", type: 14, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nif r2 == 0x0 goto pc+1\nr0 = 0\nr0 = 1\nexit", want: null, errno: 0 },
  { name: "scalar branch pruning", type: 14, asm: "r0 = *(u32 *)(r1 +0)\nif r0 > 10 goto pc+2\nr0 = 1\nexit\nr0 = 2\nexit", want: null, errno: 0 },
  { name: "linked scalars refine together", type: 14, asm: "r6 = r1\nr0 = *(u32 *)(r1 +0)\nr1 = r0\nif r0 > 7 goto pc+5\nr2 = r10\nr2 += -8\n*(u64 *)(r10 -8) = 0\nr2 += r1\nr0 = *(u8 *)(r2 +0)\nr0 = 0\nexit", want: null, errno: 0 },
  { name: "variable stack read", type: 14, asm: "r0 = *(u32 *)(r1 +0)\nr0 &= 7\n*(u64 *)(r10 -8) = 0\nr2 = r10\nr2 += -8\nr2 += r0\nr0 = *(u8 *)(r2 +0)\nexit", want: null, errno: 0 },
  { name: "packet variable offset read", type: 3, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr5 = *(u32 *)(r1 +0)\nr5 &= 15\nr2 += r5\nr4 = r2\nr4 += 4\nif r4 > r3 goto pc+2\nr0 = *(u32 *)(r2 +0)\nexit\nr0 = 0\nexit", want: null, errno: 0 },
  { name: "packet variable offset unchecked", type: 3, asm: "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr4 = r2\nr4 += 4\nif r4 > r3 goto pc+5\nr5 = *(u32 *)(r1 +0)\nr5 &= 15\nr2 += r5\nr0 = *(u8 *)(r2 +0)\nexit\nr0 = 0\nexit", want: "R2 offset is outside of the packet", errno: 13 },
  { name: "map value variable index", type: 1, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r0 == 0x0 goto pc+4\nr1 = *(u32 *)(r0 +0)\nr1 &= 7\nr0 += r1\nr0 = *(u8 *)(r0 +0)\nr0 = 0\nexit", maps: [HMAP], want: null, errno: 0 },
  { name: "map value variable index too big", type: 1, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r0 == 0x0 goto pc+4\nr1 = *(u32 *)(r0 +0)\nr1 &= 15\nr0 += r1\nr0 = *(u8 *)(r0 +0)\nr0 = 0\nexit", maps: [HMAP], want: "R0 max value is outside of the allowed memory range", errno: 13 },
  { name: "sockmap lookup without release", type: 14, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nr0 = 0\nexit", maps: [SOCKMAP], want: "BPF_EXIT instruction in main prog would lead to reference leak", errno: 22 },
  { name: "sockmap lookup held across a tail call", type: 14, asm: "r6 = r1\n*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r0 == 0x0 goto pc+4\nr1 = r6\nr2 = map[idx:1]\nr3 = 0\ncall bpf_tail_call#12\nr0 = 0\nexit", maps: [SOCKMAP, PROGS], want: "tail_call would lead to reference leak", errno: 22 },
  // Pointer (in)equality lifts maybe-null from the one register compared with a non-null pointer (h-verif2).
  { name: "or_null == not-null pointer: not null when equal (JEQ)", type: 14, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:1]\ncall bpf_map_lookup_elem#1\nr6 = r0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r0 == r6 goto pc+2\nr0 = 0\nexit\nr0 = *(u32 *)(r0 +0)\nexit", maps: [HMAP, AMAP], want: null, errno: 0 },
  { name: "or_null != not-null pointer: not null on fall-through (JNE)", type: 14, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:1]\ncall bpf_map_lookup_elem#1\nr6 = r0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r6 != r0 goto pc+2\nr0 = *(u32 *)(r0 +0)\nexit\nr0 = 0\nexit", maps: [HMAP, AMAP], want: null, errno: 0 },
  { name: "or_null != not-null pointer: still or_null when different", type: 14, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:1]\ncall bpf_map_lookup_elem#1\nr6 = r0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nr7 = r0\nif r6 != r0 goto pc+2\nr0 = 0\nexit\nr0 = *(u32 *)(r7 +0)\nexit", maps: [HMAP, AMAP], want: "R7 invalid mem access 'map_value_or_null'", errno: 13 },
  { name: "or_null == not-null: a copy with the same id stays or_null", type: 14, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:1]\ncall bpf_map_lookup_elem#1\nr6 = r0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nr7 = r0\nif r0 == r6 goto pc+2\nr0 = 0\nexit\nr0 = *(u32 *)(r7 +0)\nexit", maps: [HMAP, AMAP], want: "R7 invalid mem access 'map_value_or_null'", errno: 13 },
  // Narrow scalar spills and fills keep the scalar id when the value fits (h-verif2).
  { name: "16-bit spill of 16-bit scalar keeps its id on fill", type: 14, asm: "call bpf_get_prandom_u32#7\nr0 &= 32768\n*(u16 *)(r10 -8) = r0\nr1 = *(u16 *)(r10 -8)\nr2 = 0\nif r1 != r2 goto pc+5\nif r0 == r2 goto pc+2\nr0 = *(u64 *)(r9 +0)\nexit\nr0 = 0\nexit\nr0 = 1\nexit", want: null, errno: 0 },
  { name: "8-bit spill of 8-bit scalar keeps its id on fill", type: 14, asm: "call bpf_get_prandom_u32#7\nr0 &= 128\n*(u8 *)(r10 -8) = r0\nr1 = *(u8 *)(r10 -8)\nr2 = 0\nif r1 != r2 goto pc+5\nif r0 == r2 goto pc+2\nr0 = *(u64 *)(r9 +0)\nexit\nr0 = 0\nexit\nr0 = 1\nexit", want: null, errno: 0 },
  { name: "16-bit spill of a 17-bit scalar drops the id", type: 14, asm: "call bpf_get_prandom_u32#7\nr0 &= 65537\n*(u16 *)(r10 -8) = r0\nr1 = *(u16 *)(r10 -8)\nr2 = 0\nif r1 != r2 goto pc+5\nif r0 == r2 goto pc+2\nr0 = *(u64 *)(r9 +0)\nexit\nr0 = 0\nexit\nr0 = 1\nexit", want: "R9 !read_ok", errno: 13 },
  { name: "32-bit fill of a 64-bit spill of a 32-bit scalar keeps the id", type: 14, asm: "call bpf_get_prandom_u32#7\nw0 &= -1\n*(u64 *)(r10 -8) = r0\nr1 = *(u32 *)(r10 -8)\nr2 = 0\nif r1 != r2 goto pc+5\nif r0 == r2 goto pc+2\nr0 = *(u64 *)(r9 +0)\nexit\nr0 = 0\nexit\nr0 = 1\nexit", want: null, errno: 0 },
  { name: "32-bit fill of a 64-bit spill of a 64-bit scalar drops the id", type: 14, asm: "call bpf_get_prandom_u32#7\nr0 <<= 32\nr0 |= 1\n*(u64 *)(r10 -8) = r0\nr1 = *(u32 *)(r10 -8)\nr2 = 1\nif r1 != r2 goto pc+5\nif r0 == r2 goto pc+2\nr0 = *(u64 *)(r9 +0)\nexit\nr0 = 0\nexit\nr0 = 1\nexit", want: "R9 !read_ok", errno: 13 },
  { name: "narrow spill of an add-const linked scalar takes a fresh id", type: 14, asm: "call bpf_get_prandom_u32#7\nr0 &= 255\nr1 = r0\nr1 += 1\n*(u16 *)(r10 -8) = r1\nr3 = *(u16 *)(r10 -8)\nr0 = 0\nexit", want: null, errno: 0 },
  // Atomics are always alignment-checked (strict_alignment_once), plain loads on x86-64 are not (h-verif2).
  { name: "atomic add on a misaligned map value", type: 14, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r0 == 0x0 goto pc+2\nr1 = 1\nlock *(u32 *)(r0 +3) += r1\nr0 = 0\nexit", maps: [HMAP], want: "misaligned value access off 0+0+3 size 4", errno: 13 },
  { name: "64-bit atomic on a 4-aligned map value", type: 14, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r0 == 0x0 goto pc+2\nr1 = 1\nlock *(u64 *)(r0 +4) += r1\nr0 = 0\nexit", maps: [HMAP], want: "misaligned value access off 0+0+4 size 8", errno: 13 },
  { name: "atomic fetch on an aligned map value", type: 14, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r0 == 0x0 goto pc+2\nr1 = 1\nr1 = atomic_fetch_add((u32 *)(r0 +4), r1)\nr0 = 0\nexit", maps: [HMAP], want: null, errno: 0 },
  { name: "plain misaligned map value load is allowed", type: 14, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r0 == 0x0 goto pc+1\nr0 = *(u32 *)(r0 +3)\nr0 = 0\nexit", maps: [HMAP], want: null, errno: 0 },
  { name: "atomic on a misaligned variable map value offset", type: 14, asm: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem#1\nif r0 == 0x0 goto pc+5\nr1 = *(u32 *)(r0 +0)\nr1 &= 2\nr0 += r1\nr1 = 1\nlock *(u32 *)(r0 +0) += r1\nr0 = 0\nexit", maps: [HMAP], want: "misaligned value access off (0x0; 0x2)+0+0 size 4", errno: 13 },
  // A self-add reads the updated register: it clears the scalar id instead of linking with a delta (h-verif2).
  { name: "r += r clears the scalar id", type: 14, asm: "call bpf_get_prandom_u32#7\nr6 = r0\nr7 = r6\ncall bpf_get_prandom_u32#7\nr8 = r0\nr9 = r8\nif r7 != 0x1 goto pc+4\nr6 += r6\nif r7 == r9 goto pc+2\nif r6 == 0x3 goto pc+1\nr0 /= 0\nr0 = 0\nexit", want: "div by zero", errno: 22 },
  { name: "w += w clears the scalar id", type: 14, asm: "call bpf_get_prandom_u32#7\nw6 = w0\nw7 = w6\ncall bpf_get_prandom_u32#7\nw8 = w0\nw9 = w8\nif w7 != 0x1 goto pc+4\nw6 += w6\nif w7 == w9 goto pc+2\nif w6 == 0x3 goto pc+1\nr0 /= 0\nr0 = 0\nexit", want: "div by zero", errno: 22 },
  { name: "r -= r of a linked scalar", type: 14, asm: "call bpf_get_prandom_u32#7\nr6 = r0\nr7 = r6\nif r7 != 0x5 goto pc+3\nr6 -= r6\nif r7 == 0x5 goto pc+1\nr0 /= 0\nr0 = r6\nexit", want: null, errno: 0 },
  // Loads and stores through a map pointer: the kernel's check_ptr_to_map_access rejections (h-verif2).
  { name: "map pointer negative load (array)", type: 14, asm: "r1 = map[idx:0]\nr0 = *(u64 *)(r1 -8)\nr0 = 0\nexit", maps: [AMAP], want: "R1 is bpf_array invalid negative access: off=-8", errno: 13 },
  { name: "map pointer store (hash)", type: 14, asm: "r1 = map[idx:0]\nr2 = 1\n*(u64 *)(r1 +0) = r2\nr0 = 0\nexit", maps: [HMAP], want: "only read from bpf_htab is supported", errno: 13 },
  { name: "map pointer store (sockmap)", type: 14, asm: "r1 = map[idx:0]\nr2 = 1\n*(u32 *)(r1 +8) = r2\nr0 = 0\nexit", maps: [SOCKMAP], want: "only read from bpf_stab is supported", errno: 13 },
  { name: "map pointer negative load (sockhash)", type: 14, asm: "r1 = map[idx:0]\nr0 = *(u32 *)(r1 -4)\nr0 = 0\nexit", maps: [SOCKHASH], want: "R1 is bpf_shtab invalid negative access: off=-4", errno: 13 },
  { name: "map pointer load (prog array)", type: 14, asm: "r1 = map[idx:0]\nr1 += -8\nr0 = *(u32 *)(r1 +0)\nr0 = 0\nexit", maps: [PROGS], want: "R1 pointer arithmetic on map_ptr prohibited", errno: 13 },
  { name: "map pointer load unpriv", type: 14, asm: "r1 = map[idx:0]\nr0 = *(u32 *)(r1 +0)\nr0 = 0\nexit", maps: [AMAP], unpriv: true, want: "'struct bpf_array' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN", errno: 1 },
  // An lddw by map fd (src 1/2, not relocated by a loader) names no map in bpfvm: refused up front (h-verif2).
  { name: "lddw of a raw fd that is no map", type: 14, asm: "*(u64 *)(r10 -8) = 0\nr2 = r10\nr2 += -8\nr1 = map[fd:0]\ncall bpf_map_lookup_elem#1\nr0 = 0\nexit", maps: [HMAP], want: "fd 0 is not pointing to valid bpf_map", errno: 22 },
  { name: "lddw map value of a raw fd that is no map", type: 14, asm: "r1 = map[fd:1][0]+0\nr0 = 0\nexit", maps: [HMAP], want: "fd 1 is not pointing to valid bpf_map", errno: 22 },
  // Ring buffer memory (PTR_TO_MEM | MEM_RINGBUF): size, references, release, helper buffers (h-verif2).
  { name: "ringbuf reserve, write, submit", type: 14, asm: "r6 = r1\nr1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve#131\nif r0 == 0x0 goto pc+5\nr1 = 7\n*(u64 *)(r0 +0) = r1\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_submit#132\nr0 = 0\nexit", maps: [RINGBUF], want: null, errno: 0 },
  { name: "ringbuf write past the reserved size", type: 14, asm: "r6 = r1\nr1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve#131\nif r0 == 0x0 goto pc+5\nr1 = 7\n*(u64 *)(r0 +4) = r1\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_submit#132\nr0 = 0\nexit", maps: [RINGBUF], want: "R0 min value is outside of the allowed memory range", errno: 13 },
  { name: "ringbuf reservation leaked", type: 14, asm: "r6 = r1\nr1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve#131\nr0 = 0\nexit", maps: [RINGBUF], want: "BPF_EXIT instruction in main prog would lead to reference leak", errno: 22 },
  { name: "ringbuf_mem_or_null arithmetic", type: 14, asm: "r6 = r1\nr1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve#131\nr0 += 8\nr0 = 0\nexit", maps: [RINGBUF], want: "R0 pointer arithmetic on ringbuf_mem_or_null prohibited, null-check it first", errno: 13 },
  { name: "ringbuf submit of a moved pointer", type: 14, asm: "r6 = r1\nr1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve#131\nif r0 == 0x0 goto pc+4\nr0 += 4\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_discard#133\nr0 = 0\nexit", maps: [RINGBUF], want: "R1 must have zero offset when passed to release func or trusted arg to kfunc", errno: 22 },
  { name: "ringbuf mem as a helper buffer", type: 14, asm: "r6 = r1\nr1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve#131\nif r0 == 0x0 goto pc+9\nr7 = r0\nr1 = r6\nr2 = 0\nr3 = r7\nr4 = 8\ncall bpf_skb_load_bytes#26\nr1 = r7\nr2 = 0\ncall bpf_ringbuf_submit#132\nr0 = 0\nexit", maps: [RINGBUF], want: null, errno: 0 },
  { name: "ringbuf reserve of a variable size", type: 14, asm: "r6 = r1\nr2 = *(u32 *)(r1 +0)\nr1 = map[idx:0]\nr3 = 0\ncall bpf_ringbuf_reserve#131\nr0 = 0\nexit", maps: [RINGBUF], want: "R2 is not a known constant'", errno: 13 },
  { name: "ringbuf mem spilled and filled", type: 14, asm: "r6 = r1\nr1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve#131\nif r0 == 0x0 goto pc+9\n*(u64 *)(r10 -8) = r0\nr7 = *(u64 *)(r10 -8)\nr1 = 0\n*(u64 *)(r7 +0) = r1\nr1 = r7\nr2 = 0\ncall bpf_ringbuf_submit#132\nr0 = 0\nexit\nr0 = 1\nexit", maps: [RINGBUF], want: null, errno: 0 },
  { name: "ringbuf mem used after submit", type: 14, asm: "r6 = r1\nr1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve#131\nif r0 == 0x0 goto pc+5\nr7 = r0\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_submit#132\nr0 = *(u64 *)(r7 +0)\nr0 = 0\nexit", maps: [RINGBUF], want: "R7 invalid mem access 'scalar'", errno: 13 },
  { name: "ringbuf submit of a non-ringbuf pointer", type: 14, asm: "r1 = r10\nr1 += -8\nr2 = 0\ncall bpf_ringbuf_submit#132\nr0 = 0\nexit", maps: [RINGBUF], want: "R1 type=fp expected=ringbuf_mem", errno: 13 },
  // The same for two socket lookups (references kept, both released) (h-verif2).
  { name: "sock_or_null equal to a socket is a socket (JNE fall-through)", type: 14, asm: "r6 = r1\n*(u64 *)(r10 -8) = 0\n*(u64 *)(r10 -16) = 0\n*(u64 *)(r10 -24) = 0\n*(u64 *)(r10 -32) = 0\n*(u64 *)(r10 -40) = 0\nr1 = r6\nr2 = r10\nr2 += -40\nr3 = 36\nr4 = 0\nr5 = 0\ncall bpf_sk_lookup_tcp#84\nif r0 == 0x0 goto pc+23\nr7 = r0\nr1 = r6\nr2 = r10\nr2 += -40\nr3 = 36\nr4 = 0\nr5 = 0\ncall bpf_sk_lookup_tcp#84\nr8 = r0\nif r8 != r7 goto pc+6\nr0 = *(u32 *)(r8 +4)\nr1 = r7\ncall bpf_sk_release#86\nr1 = r8\ncall bpf_sk_release#86\nexit\nif r8 == 0x0 goto pc+2\nr1 = r8\ncall bpf_sk_release#86\nr1 = r7\ncall bpf_sk_release#86\nr0 = 0\nexit\nr0 = 0\nexit", want: null, errno: 0 },
  { name: "sock_or_null unequal to a socket stays or_null", type: 14, asm: "r6 = r1\n*(u64 *)(r10 -8) = 0\n*(u64 *)(r10 -16) = 0\n*(u64 *)(r10 -24) = 0\n*(u64 *)(r10 -32) = 0\n*(u64 *)(r10 -40) = 0\nr1 = r6\nr2 = r10\nr2 += -40\nr3 = 36\nr4 = 0\nr5 = 0\ncall bpf_sk_lookup_tcp#84\nif r0 == 0x0 goto pc+23\nr7 = r0\nr1 = r6\nr2 = r10\nr2 += -40\nr3 = 36\nr4 = 0\nr5 = 0\ncall bpf_sk_lookup_tcp#84\nr8 = r0\nif r8 != r7 goto pc+6\nr0 = *(u32 *)(r8 +4)\nr1 = r7\ncall bpf_sk_release#86\nr1 = r8\ncall bpf_sk_release#86\nexit\nr0 = *(u32 *)(r8 +4)\nr1 = r8\ncall bpf_sk_release#86\nr1 = r7\ncall bpf_sk_release#86\nr0 = 0\nexit\nr0 = 0\nexit", want: "R8 invalid mem access 'sock_or_null'", errno: 13 },
];

const bytes = (src: string): Uint8Array => (src.startsWith('hex:') ? Uint8Array.from(Buffer.from(src.slice(4), 'hex')) : assemble(src));
const mapSpec = (m: KernelMapDef): MapSpec => ({
  name: m.name ?? '', type: m.type, typeName: '', keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags ?? 0, section: '.maps',
});
const run = (c: Case, logLevel: 0 | 1 | 2 = 1) =>
  verify({ insns: bytes(c.asm), type: c.type }, { logLevel, privileged: !c.unpriv, maps: (c.maps ?? []).map(mapSpec) });
const finalLine = (log: string): string | null => {
  const lines = log.trimEnd().split('\n');
  return lines.length >= 2 ? lines[lines.length - 2]! : null;
};
/** Map addresses differ between runs (and bpfvm prints `map[idx:N]`): compare without them. */
const normLog = (l: string): string =>
  l.replace(/\(18\) r(\d) = (0xffff[0-9a-f]{12}|map\[idx:\d+\]) *;/g, '(18) r$1 = MAP ;').replace(/\(18\) r(\d) = (0xffff[0-9a-f]{12}|map\[idx:\d+\])$/gm, '(18) r$1 = MAP');

describe('verifier: directed cases (recorded 6.18 messages)', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const r = run(c);
    expect(r.ok).toBe(c.want === null);
    if (c.want !== null) {
      expect(r.error?.message).toBe(c.want);
      expect(r.errno).toBe(c.errno);
    }
  });
  it('rejections are values, and log level 0 gives no text', () => {
    const r = run(CASES.find((c) => c.name === 'uninit register')!, 0);
    expect(r).toMatchObject({ ok: false, log: '', error: { pc: 0, message: 'R5 !read_ok' } });
  });
});

const avail = kernelAvailability();

describe.skipIf(!avail.ok)(`verifier: directed cases against the live kernel${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, () => {
  const results = avail.ok ? kernelRunBatch(CASES.map((c) => ({ progType: c.type, insns: bytes(c.asm), logLevel: 1, maps: c.maps ?? [], restricted: !!c.unpriv }))) : [];
  it.each(CASES.map((c, k) => [c.name, c, k] as const))('%s: the kernel still says what was recorded', (_n, c, k) => {
    const kr = results[k]!;
    expect(kr.loaded).toBe(c.want === null);
    if (c.want !== null) {
      if (c.name === 'infinite loop') expect(kr.log).toContain(c.want + '\n');
      else expect(finalLine(kr.log)).toBe(c.want);
      expect(kr.errno).toBe(c.kernelErrno ?? c.errno);
    }
  });
  // Full level-1 logs (the infinite-loop dump included: its P marks come from precision back-tracking).
  // ('too many insns' is not compared at all: a 1M-insn log, of which the kernel kept the last MiB.)
  it.each(CASES.filter((c) => c.name !== 'too many insns').map((c) => [c.name, c] as const))('%s: level-1 log identical', (_n, c) => {
    const k = CASES.indexOf(c);
    expect(normLog(run(c).log)).toBe(normLog(results[k]!.log));
  });
});
