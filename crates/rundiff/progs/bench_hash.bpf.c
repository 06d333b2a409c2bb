// SPDX-License-Identifier: MIT OR Apache-2.0
/* The hash-lookup benchmark of `lull bench --maps`: LOOKUPS lookups per run in a 1024-entry
 * hash map, the key varying, through bpf_loop; `loop_only` is the same loop without the
 * lookup (its cost is subtracted to get the net cost of one lookup). r0 is a checksum both
 * sides must agree on. */
#include "common.h"

#define LOOKUPS 256
#define KEYS 1024

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KEYS);
	__type(key, __u32);
	__type(value, __u64);
} bench_map SEC(".maps");

static int lookup_cb(__u32 i, __u64 *acc)
{
	__u32 k = (i * 37 + (__u32)*acc) & (KEYS - 1);
	__u64 *v = bpf_map_lookup_elem(&bench_map, &k);
	if (v)
		*acc += *v;
	return 0;
}

SEC("xdp")
int hash_lookups(struct xdp_md *ctx)
{
	__u64 acc = 0;
	bpf_loop(LOOKUPS, lookup_cb, &acc, 0);
	return (int)(acc & 0x7fffffff);
}

static int plain_cb(__u32 i, __u64 *acc)
{
	__u32 k = (i * 37 + (__u32)*acc) & (KEYS - 1);
	*acc += k;
	return 0;
}

SEC("xdp")
int loop_only(struct xdp_md *ctx)
{
	__u64 acc = 0;
	bpf_loop(LOOKUPS, plain_cb, &acc, 0);
	return (int)(acc & 0x7fffffff);
}
