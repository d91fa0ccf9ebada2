// SPDX-License-Identifier: MIT
// CO-RE relocation against a type bpfvm's built-in kernel BTF does not have: loading must fail with a
// BpfLoadError naming the relocation. Rebuild: see core_ctx.bpf.c.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int pid;
} __attribute__((preserve_access_index));

SEC("sk_msg")
int core_bad(struct sk_msg_md *msg)
{
	return bpf_core_field_offset(((struct task_struct *)0)->pid) ? SK_DROP : SK_PASS;
}

char _license[] SEC("license") = "GPL";
