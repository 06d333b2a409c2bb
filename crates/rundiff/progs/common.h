/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Shared by the lull-rundiff programs: every program records what it observes in
 * `res`, an array of 16 u64 that both sides dump after the run. */
#ifndef RUNDIFF_COMMON_H
#define RUNDIFF_COMMON_H
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} res SEC(".maps");

static __always_inline void put(__u32 i, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&res, &i);
	if (p)
		*p = v;
}
#endif
