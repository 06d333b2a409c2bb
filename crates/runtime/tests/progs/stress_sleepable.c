/* Sleepable programs that hold map-value pointers across a blocking bpf_copy_from_user while the
 * host deletes the elements and replaces the inner maps (tests/stress.rs). Every program reads
 * the value before and after blocking and reports both in its context. */
#include "common.h"

struct val {
	__u64 tag;
	__u64 check; /* tag ^ MAGIC: a torn or foreign value shows up */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct val);
} elems SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct val);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct inner);
} outer_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct inner);
} outer_arr SEC(".maps");

/* The context the host passes (and reads back). */
struct args {
	__u32 key;
	__u32 found;
	__u64 uaddr;
	__u64 before_tag, before_check;
	__u64 after_tag, after_check;
	__u64 again_tag, again_check; /* a second lookup through the held inner map */
	__s64 copy_ret;
	__u64 user;
};

static __always_inline void hold(struct args *a, struct val *v)
{
	__u64 buf = 0;

	a->found = 1;
	a->before_tag = v->tag;
	a->before_check = v->check;
	/* Blocks until the host supplies the bytes; meanwhile the element goes away. */
	a->copy_ret = bpf_copy_from_user(&buf, sizeof(buf), (void *)a->uaddr);
	a->user = buf;
	a->after_tag = v->tag;
	a->after_check = v->check;
}

SEC("syscall")
int hold_elem(struct args *a)
{
	__u32 k = a->key;
	struct val *v = bpf_map_lookup_elem(&elems, &k);

	if (!v)
		return 0;
	hold(a, v);
	return 1;
}

static __always_inline int hold_inner(struct args *a, void *inner)
{
	__u32 zero = 0;
	struct val *v, *again;

	if (!inner)
		return 0;
	v = bpf_map_lookup_elem(inner, &zero);
	if (!v)
		return 0;
	hold(a, v);
	again = bpf_map_lookup_elem(inner, &zero);
	if (again) {
		a->again_tag = again->tag;
		a->again_check = again->check;
	}
	return 1;
}

SEC("syscall")
int hold_hash_of_maps(struct args *a)
{
	__u32 k = a->key;

	return hold_inner(a, bpf_map_lookup_elem(&outer_hash, &k));
}

SEC("syscall")
int hold_array_of_maps(struct args *a)
{
	__u32 k = a->key;

	return hold_inner(a, bpf_map_lookup_elem(&outer_arr, &k));
}

/* A non-sleepable program: must run to completion while the sleepable ones are blocked. */
SEC("socket")
int peek(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&elems, &k);

	return v ? 1 : 2;
}
