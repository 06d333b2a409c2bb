// SPDX-License-Identifier: MIT OR Apache-2.0
/* Hash maps: preallocated and not, per-CPU, update flags, full map, delete. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} h_pre SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u64);
} h_nopre SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} h_pcpu SEC(".maps");

static __always_inline int exercise(void *map)
{
	__u32 k = 1;
	__u64 v = 10;
	put(0, bpf_map_update_elem(map, &k, &v, BPF_NOEXIST));
	put(1, bpf_map_update_elem(map, &k, &v, BPF_NOEXIST));
	k = 9;
	put(2, bpf_map_update_elem(map, &k, &v, BPF_EXIST));
	put(3, bpf_map_delete_elem(map, &k));
#pragma clang loop unroll(full)
	for (__u32 i = 2; i <= 5; i++) {
		k = i;
		v = i * 100;
		put(2 + i, bpf_map_update_elem(map, &k, &v, BPF_ANY));
	}
	k = 2;
	put(8, bpf_map_delete_elem(map, &k));
	k = 5;
	v = 555;
	put(9, bpf_map_update_elem(map, &k, &v, BPF_NOEXIST));
	k = 1;
	v = 11;
	put(10, bpf_map_update_elem(map, &k, &v, BPF_EXIST));
	__u64 *p = bpf_map_lookup_elem(map, &k);
	put(11, p ? *p : 0);
	put(12, bpf_map_update_elem(map, &k, &v, BPF_F_LOCK));
	return XDP_PASS;
}

SEC("xdp")
int hash_prealloc(struct xdp_md *ctx)
{
	return exercise(&h_pre);
}

SEC("xdp")
int hash_noprealloc(struct xdp_md *ctx)
{
	return exercise(&h_nopre);
}

SEC("xdp")
int hash_percpu(struct xdp_md *ctx)
{
	__u32 k = 7, cpu = bpf_get_smp_processor_id();
	__u64 v = 70;
	put(0, bpf_map_update_elem(&h_pcpu, &k, &v, BPF_ANY));
	__u64 *p = bpf_map_lookup_elem(&h_pcpu, &k);
	if (p)
		*p += 1;
	k = 3; /* prefilled with a value per CPU */
	p = bpf_map_lookup_elem(&h_pcpu, &k);
	put(1, p ? *p : 0);
	p = bpf_map_lookup_percpu_elem(&h_pcpu, &k, cpu ^ 1);
	put(2, p ? *p : 0);
	put(3, bpf_map_delete_elem(&h_pcpu, &k));
	put(4, cpu);
	return XDP_PASS;
}

SEC("tc")
int hash_lookup_delete(struct __sk_buff *skb)
{
	__u32 k = 2;
	__u64 *p = bpf_map_lookup_elem(&h_pre, &k);
	put(0, p ? *p : 0);
	put(1, bpf_map_delete_elem(&h_pre, &k));
	put(2, bpf_map_lookup_elem(&h_pre, &k) == 0);
	k = 3;
	p = bpf_map_lookup_elem(&h_pre, &k);
	if (p)
		*p *= 3;
	return 1;
}
