// SPDX-License-Identifier: MIT
/* The classic mistake: the value returned by bpf_map_lookup_elem may be NULL.
 * The kernel (and Lull) reject this program; Lull says where and what to change. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

SEC("socket")
int count_by_length(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	__u64 *count = bpf_map_lookup_elem(&seen, &len);
	*count += 1; /* no NULL check */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
