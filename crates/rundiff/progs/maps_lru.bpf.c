// SPDX-License-Identifier: MIT OR Apache-2.0
/* LRU hash: which keys survive when the map is full (the kernel's LRU shrinks in batches and
 * honours the reference bit a lookup sets). */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} lru SEC(".maps");

SEC("xdp")
int lru_evict(struct xdp_md *ctx)
{
	__u64 v;
	__u32 k;
#pragma clang loop unroll(full)
	for (__u32 i = 1; i <= 8; i++) {
		k = i;
		v = i;
		bpf_map_update_elem(&lru, &k, &v, BPF_NOEXIST);
	}
	/* reference keys 1 and 2 */
	k = 1;
	bpf_map_lookup_elem(&lru, &k);
	k = 2;
	bpf_map_lookup_elem(&lru, &k);
#pragma clang loop unroll(full)
	for (__u32 i = 20; i < 24; i++) {
		k = i;
		v = i;
		put(i - 20, bpf_map_update_elem(&lru, &k, &v, BPF_ANY));
	}
	k = 1;
	put(4, bpf_map_lookup_elem(&lru, &k) != 0);
	k = 3;
	put(5, bpf_map_lookup_elem(&lru, &k) != 0);
	return XDP_PASS;
}

SEC("xdp")
int lru_update_existing(struct xdp_md *ctx)
{
	__u64 v = 5;
	__u32 k = 4;
	put(0, bpf_map_update_elem(&lru, &k, &v, BPF_EXIST));
	put(1, bpf_map_update_elem(&lru, &k, &v, BPF_NOEXIST));
	put(2, bpf_map_delete_elem(&lru, &k));
	put(3, bpf_map_delete_elem(&lru, &k));
	return XDP_PASS;
}
