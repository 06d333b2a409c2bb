#include "common.h"

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } arr SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } pcpu SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_QUEUE); __uint(max_entries, 4); __type(value, __u32); } queue SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } rb SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, __u32); } jmp SEC(".maps");

__u64 counter = 5;
const volatile __u32 factor = 3;

SEC("tc")
int hash_update(struct __sk_buff *skb)
{
	__u32 k = 7;
	__u64 one = 1, *v = bpf_map_lookup_elem(&counts, &k);
	if (v) { __sync_fetch_and_add(v, 1); return *v; }
	bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST);
	return bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST) == -17 ? 100 : 1;
}

SEC("tc")
int global_data(struct __sk_buff *skb)
{
	counter += factor;
	return counter;
}

SEC("tc")
int packet(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end) return -1;
	eth->h_dest[0] = 0xaa;
	return skb->len + (skb->protocol == __builtin_bswap16(ETH_P_IP) ? 1000 : 0);
}

SEC("xdp")
int xdp_len(struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data;
}

static long cb(__u32 i, void *c) { *(__u64 *)c += i; return i == 9; }

SEC("tc")
int loop(struct __sk_buff *skb)
{
	__u64 sum = 0;
	long n = bpf_loop(100, cb, &sum, 0);
	return sum * 1000 + n;
}

SEC("tc")
int printk(struct __sk_buff *skb)
{
	bpf_printk("hello %d %s", 42, "world");
	return bpf_get_smp_processor_id() < 1024;
}

SEC("tc")
int percpu(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&pcpu, &k);
	if (!v) return -1;
	*v += 10;
	return *v;
}

static __always_inline __u32 push(__u32 v) { return bpf_map_push_elem(&queue, &v, 0) == 0; }
static __always_inline __u32 pop(__u32 sum) { __u32 v; return bpf_map_pop_elem(&queue, &v) == 0 ? sum * 10 + v : sum; }

SEC("tc")
int queue_ops(struct __sk_buff *skb)
{
	__u32 sum = push(1) + push(2) + push(3) + push(4) + push(5);
	sum = pop(pop(pop(pop(pop(sum)))));
	return sum;
}

SEC("tc")
int ringbuf(struct __sk_buff *skb)
{
	__u64 *r = bpf_ringbuf_reserve(&rb, 8, 0);
	if (!r) return -1;
	*r = 77;
	bpf_ringbuf_submit(r, 0);
	__u32 x = 5;
	bpf_ringbuf_output(&rb, &x, 4, 0);
	return bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA);
}

SEC("tc")
int tail_target(struct __sk_buff *skb)
{
	return 42;
}

SEC("tc")
int tail_caller(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp, 1);
	bpf_tail_call(skb, &jmp, 0);
	return 7;
}

static long sum_elem(void *map, __u32 *key, __u64 *val, __u64 *acc) { *acc += *val * (*key + 1); return 0; }

static __always_inline void set(__u32 i) { __u64 v = i + 1; bpf_map_update_elem(&arr, &i, &v, 0); }

SEC("tc")
int for_each(struct __sk_buff *skb)
{
	set(0); set(1); set(2); set(3);
	__u64 acc = 0;
	long n = bpf_for_each_map_elem(&arr, sum_elem, &acc, 0);
	return acc * 100 + n;
}
