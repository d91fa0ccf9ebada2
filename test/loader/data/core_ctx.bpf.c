// SPDX-License-Identifier: MIT
// CO-RE test object for test/loader (not a fixture: the loader tests own it).
// Rebuild (from this directory): for f in core_ctx core_bad link_misc loader_partial; do clang-19 -O2 -g -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu -c $f.bpf.c -o $f.o && llvm-strip-19 -g $f.o; done
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* A local "flavour" of sk_msg_md with fields in a different order and a missing one. */
struct sk_msg_md___local {
	__u32 size;
	__u32 local_port;
	__u32 no_such_field;
} __attribute__((preserve_access_index));

struct bpf_sock___mine {
	__u32 family;
	__u16 dst_port;
	__s32 rx_queue_mapping;
} __attribute__((preserve_access_index));

SEC("sk_msg")
int core_msg(struct sk_msg_md *msg)
{
	struct sk_msg_md___local *m = (void *)msg;
	__u32 r = 0;

	r += m->size;                                         /* FIELD_BYTE_OFFSET on an LDX: 0 -> 68 */
	r += bpf_core_field_exists(m->no_such_field);         /* FIELD_EXISTS -> 0 */
	r += bpf_core_field_exists(m->local_port) << 1;       /* FIELD_EXISTS -> 1 */
	r += bpf_core_field_size(msg->remote_ip6[2]);         /* FIELD_BYTE_SIZE 4 */
	r += bpf_core_field_offset(msg->remote_ip6[2]) << 8;  /* FIELD_BYTE_OFFSET 36 */
	r += bpf_core_type_size(struct sk_msg_md) << 16;      /* TYPE_SIZE 80 */
	r += bpf_core_type_exists(struct bpf_sock___mine);    /* TYPE_EXISTS 1 */
	r += bpf_core_enum_value(enum sk_action, SK_PASS);    /* ENUMVAL_VALUE 1 */
	r += __builtin_preserve_field_info(((struct bpf_sock___mine *)0)->rx_queue_mapping, BPF_FIELD_SIGNED); /* FIELD_SIGNED 1 */
	r += bpf_core_field_offset(((struct bpf_sock___mine *)0)->dst_port) << 24;  /* 48 */
	return r > 0 ? SK_PASS : SK_DROP;
}

SEC("sk_skb/stream_verdict")
int core_skb(struct __sk_buff *skb)
{
	/* direct ctx read through a CO-RE-relocatable access (offset fixed up to 168 + 0) */
	return bpf_core_field_offset(skb->sk) == 168 ? SK_PASS : SK_DROP;
}

char _license[] SEC("license") = "GPL";
