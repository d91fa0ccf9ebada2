// SPDX-License-Identifier: MIT
// Partial-load test object for test/loader (not a fixture: the loader tests own it). libbpf loads such an
// object; so must bpfvm, marking only the programs that cannot be prepared:
//  - an ARENA map whose map_extra is an __ulong (an ENUM64), and an __arena global in ".addr_space.1";
//  - a .text subprogram with a CO-RE relocation against a type the built-in kernel BTF lacks;
//  - existence checks of that type, which resolve to 0 without poisoning anything.
// Rebuild: see core_ctx.bpf.c (add loader_partial to the list).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } name
#define __arena __attribute__((address_space(1)))

struct {
	__uint(type, 33 /* BPF_MAP_TYPE_ARENA */);
	__uint(map_flags, 1024 /* BPF_F_MMAPABLE */);
	__uint(max_entries, 4);
	__ulong(map_extra, 0x1ull << 44);
} arena SEC(".maps");

int __arena arena_counter = 1;

struct task_struct {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

__attribute__((noinline)) int task_tgid_off(void)
{
	return bpf_core_field_offset(((struct task_struct *)0)->tgid);
}

SEC("sk_msg")
int uses_arena(struct sk_msg_md *msg)
{
	return arena_counter ? SK_PASS : SK_DROP;
}

SEC("sk_msg")
int uses_core_subprog(struct sk_msg_md *msg)
{
	return task_tgid_off() == 4 ? SK_PASS : SK_DROP;
}

SEC("sk_msg")
int checks_existence(struct sk_msg_md *msg)
{
	if (bpf_core_type_exists(struct task_struct) || bpf_core_field_exists(((struct task_struct *)0)->pid))
		return SK_DROP;
	return SK_PASS;
}

SEC("sk_msg")
int plain(struct sk_msg_md *msg)
{
	return SK_PASS;
}

char _license[] SEC("license") = "GPL";
