// SPDX-License-Identifier: MIT OR Apache-2.0
/* array_of_maps and hash_of_maps with statically initialised slots. */
#include "common.h"

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
};

struct inner in_a SEC(".maps"), in_b SEC(".maps"), in_c SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 3);
	__type(key, __u32);
	__array(values, struct inner);
} outer_arr SEC(".maps") = {
	.values = { [0] = &in_a, [1] = &in_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer_hash SEC(".maps") = {
	.values = { [3] = &in_c },
};

static __always_inline __u64 bump(void *outer, __u32 okey, __u64 add)
{
	void *inner = bpf_map_lookup_elem(outer, &okey);
	if (!inner)
		return 0;
	__u32 k = 1;
	__u64 *v = bpf_map_lookup_elem(inner, &k);
	if (!v)
		return 0;
	*v += add;
	return *v;
}

SEC("xdp")
int array_of_maps(struct xdp_md *ctx)
{
	put(0, bump(&outer_arr, 0, 5));
	put(1, bump(&outer_arr, 1, 6));
	put(2, bump(&outer_arr, 2, 7));
	put(3, bump(&outer_arr, 1, 1));
	return XDP_PASS;
}

SEC("xdp")
int hash_of_maps(struct xdp_md *ctx)
{
	put(0, bump(&outer_hash, 3, 9));
	put(1, bump(&outer_hash, 0, 9));
	void *inner = bpf_map_lookup_elem(&outer_hash, &(__u32){3});
	if (inner) {
		__u64 v = 123;
		put(2, bpf_map_update_elem(inner, &(__u32){0}, &v, BPF_ANY));
		put(3, bpf_map_update_elem(inner, &(__u32){2}, &v, BPF_ANY));
	}
	return XDP_PASS;
}
