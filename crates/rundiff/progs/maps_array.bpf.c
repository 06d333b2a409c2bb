// SPDX-License-Identifier: MIT OR Apache-2.0
/* Arrays: plain, per-CPU, update flags and their errors. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} pcpu SEC(".maps");

SEC("xdp")
int array_rw(struct xdp_md *ctx)
{
	__u32 k = 1, out = 4;
	__u64 *v = bpf_map_lookup_elem(&arr, &k);
	if (!v)
		return 0;
	*v += 10;
	__u64 nv = 77;
	k = 3;
	put(0, bpf_map_update_elem(&arr, &k, &nv, BPF_ANY));
	put(1, bpf_map_lookup_elem(&arr, &out) == 0);
	return XDP_PASS;
}

SEC("xdp")
int array_flags(struct xdp_md *ctx)
{
	__u32 k = 0, big = 4;
	__u64 v = 5;
	put(0, bpf_map_update_elem(&arr, &k, &v, BPF_NOEXIST));
	put(1, bpf_map_update_elem(&arr, &k, &v, BPF_EXIST));
	put(2, bpf_map_update_elem(&arr, &big, &v, BPF_ANY));
	put(3, bpf_map_delete_elem(&arr, &k));
	put(4, bpf_map_update_elem(&arr, &k, &v, 7));
	return XDP_PASS;
}

SEC("raw_tp")
int percpu_array_cpu(void *ctx)
{
	__u32 k = 0, cpu = bpf_get_smp_processor_id();
	__u32 *v = bpf_map_lookup_elem(&pcpu, &k);
	if (v)
		*v += cpu + 100;
	k = 1;
	__u32 nv = 7;
	put(0, bpf_map_update_elem(&pcpu, &k, &nv, BPF_ANY));
	put(1, cpu);
	__u32 *other = bpf_map_lookup_percpu_elem(&pcpu, &k, cpu ^ 1);
	put(2, other ? *other : 999);
	return cpu;
}

SEC("xdp")
int percpu_array_xdp(struct xdp_md *ctx)
{
	__u32 k = 1, cpu = bpf_get_smp_processor_id();
	__u32 *v = bpf_map_lookup_elem(&pcpu, &k);
	if (v)
		*v = *v * 2 + 1;
	put(0, cpu);
	put(1, bpf_map_lookup_percpu_elem(&pcpu, &k, 4096) == 0);
	return XDP_PASS;
}
