// SPDX-License-Identifier: MIT OR Apache-2.0
/* Queue and stack maps: push, pop, peek, full, BPF_EXIST overwrite. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 3);
	__type(value, __u32);
} q SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 3);
	__type(value, __u32);
} s SEC(".maps");

static __always_inline void exercise(void *m)
{
	__u32 v, out = 0;
	put(0, bpf_map_peek_elem(m, &out));
	for (v = 1; v <= 3; v++)
		bpf_map_push_elem(m, &v, 0);
	v = 4;
	put(1, bpf_map_push_elem(m, &v, 0));
	put(2, bpf_map_push_elem(m, &v, BPF_EXIST));
	put(3, bpf_map_pop_elem(m, &out));
	put(4, out);
	put(5, bpf_map_peek_elem(m, &out));
	put(6, out);
	v = 9;
	put(7, bpf_map_push_elem(m, &v, 0));
	put(8, bpf_map_push_elem(m, &v, 5));
}

SEC("xdp")
int queue_ops(struct xdp_md *ctx)
{
	exercise(&q);
	return XDP_PASS;
}

SEC("xdp")
int stack_ops(struct xdp_md *ctx)
{
	exercise(&s);
	return XDP_PASS;
}
