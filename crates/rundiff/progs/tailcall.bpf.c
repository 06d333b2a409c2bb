// SPDX-License-Identifier: MIT OR Apache-2.0
/* Tail calls: a plain one, a missing slot, the 33-call limit, and a tail call made from a
 * subprogram. */
#include "common.h"

int tail_target(struct __sk_buff *skb);
int tail_self(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int(struct __sk_buff *));
} jt SEC(".maps") = {
	.values = { [0] = (void *)&tail_target, [1] = (void *)&tail_self },
};

static __always_inline void count(__u32 i)
{
	__u64 *p = bpf_map_lookup_elem(&res, &i);
	if (p)
		*p += 1;
}

SEC("tc")
int tail_target(struct __sk_buff *skb)
{
	count(1);
	return 42;
}

SEC("tc")
int tail_self(struct __sk_buff *skb)
{
	count(2);
	bpf_tail_call(skb, &jt, 1);
	count(3);
	return 7;
}

SEC("tc")
int tail_basic(struct __sk_buff *skb)
{
	count(0);
	bpf_tail_call(skb, &jt, 3); /* empty slot: falls through */
	count(4);
	bpf_tail_call(skb, &jt, 100); /* out of range: falls through */
	count(5);
	bpf_tail_call(skb, &jt, 0);
	count(6);
	return 1;
}

SEC("tc")
int tail_limit(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jt, 1);
	return 3;
}

static __noinline int sub_tail(struct __sk_buff *skb, __u32 slot)
{
	count(7);
	bpf_tail_call(skb, &jt, slot);
	count(8);
	return slot + 100;
}

SEC("tc")
int tail_from_subprog(struct __sk_buff *skb)
{
	int r = sub_tail(skb, 2); /* empty: the subprogram returns */
	put(9, r);
	r = sub_tail(skb, 0);     /* the target replaces sub_tail: its r0 comes back here */
	put(10, r);
	return 5;
}
