// SPDX-License-Identifier: MIT OR Apache-2.0
/* Map values as memory: bpf_spin_lock, atomic operations, global data sections. */
#include "common.h"

struct locked {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 count;
	__u64 sum;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct locked);
} lk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked);
} lka SEC(".maps");

SEC("tc")
int spin_lock_value(struct __sk_buff *skb)
{
	__u32 k = 1;
	struct locked *v = bpf_map_lookup_elem(&lk, &k);
	if (!v) {
		struct locked init = { .count = 100 };
		bpf_map_update_elem(&lk, &k, &init, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&lk, &k);
		if (!v)
			return 0;
	}
	bpf_spin_lock(&v->lock);
	v->count += 1;
	v->sum += skb->len;
	bpf_spin_unlock(&v->lock);
	k = 0;
	struct locked *a = bpf_map_lookup_elem(&lka, &k);
	if (a) {
		bpf_spin_lock(&a->lock);
		a->count = 5;
		bpf_spin_unlock(&a->lock);
	}
	return 1;
}

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} at SEC(".maps");

SEC("xdp")
int atomics(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&at, &k);
	if (!v)
		return 0;
	put(0, __sync_fetch_and_add(v, 5));
	__sync_fetch_and_or(v, 0x100);
	put(1, __sync_fetch_and_and(v, 0xff0f));
	put(2, __sync_fetch_and_xor(v, 0xffff));
	put(3, __sync_lock_test_and_set(v, 1234));
	put(4, __sync_val_compare_and_swap(v, 1234, 99));
	put(5, __sync_val_compare_and_swap(v, 1234, 77));
	k = 1;
	__u64 *w = bpf_map_lookup_elem(&at, &k);
	if (w) {
		__sync_fetch_and_add(w, 0xffffffff);
		put(6, __sync_fetch_and_sub(w, 3));
	}
	return XDP_PASS;
}

int counter = 40;
__u64 zeroed;
char msg[8] = "hi";
const volatile __u64 factor = 3;
const char label[] = "lull";

SEC("xdp")
int global_data(struct xdp_md *ctx)
{
	counter += 2;
	zeroed = counter * factor;
	msg[2] = label[1];
	msg[3] = '!';
	put(0, label[0]);
	return counter;
}
