// SPDX-License-Identifier: MIT
// Linker corner cases for test/loader: bpf_loop callback (lddw BPF_PSEUDO_FUNC), a .text subprogram
// shared by two programs, a static function called from two sections, string literals (.rodata.str1.1),
// .kconfig and a kfunc extern, map-in-map with an inner map definition. Rebuild: see core_ctx.bpf.c.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int LINUX_KERNEL_VERSION __kconfig;
extern unsigned long long bpf_ktime_get_coarse_ns___kf(void) __ksym __weak;
extern void bpf_rcu_read_lock(void) __ksym __weak;

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [1] = &inner_b, [3] = &inner_a },
};

static __u64 total;

static int cb(__u32 idx, void *ctx)
{
	total += idx;
	return 0;
}

__noinline int shared(int x)
{
	bpf_printk("shared %d", x);
	return x + 1;
}

SEC("sk_msg")
int loop_prog(struct sk_msg_md *msg)
{
	bpf_loop(4, cb, 0, 0);
	if (LINUX_KERNEL_VERSION > 0)
		bpf_rcu_read_lock();
	return shared(1) > 0 ? SK_PASS : SK_DROP;
}

SEC("sk_skb/stream_verdict")
int other_prog(struct __sk_buff *skb)
{
	__u32 k = 0;
	void *m = bpf_map_lookup_elem(&outer, &k);
	return shared(2) + (m != 0);
}

char _license[] SEC("license") = "GPL";
