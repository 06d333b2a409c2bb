// SPDX-License-Identifier: MIT OR Apache-2.0
/* bpf_loop, bpf_for_each_map_elem, bpf_strncmp, bpf_snprintf, time and random numbers. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} hm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 5);
	__type(key, __u32);
	__type(value, __u64);
} am SEC(".maps");

struct loop_ctx {
	__u64 sum;
	__u32 stop_at;
};

static int loop_cb(__u32 i, void *data)
{
	struct loop_ctx *c = data;
	c->sum += i * i;
	return i == c->stop_at;
}

SEC("xdp")
int loop_sum(struct xdp_md *ctx)
{
	struct loop_ctx c = { .sum = 0, .stop_at = 1000 };
	put(0, bpf_loop(100, loop_cb, &c, 0));
	put(1, c.sum);
	c.sum = 0;
	c.stop_at = 9;
	put(2, bpf_loop(100, loop_cb, &c, 0));
	put(3, c.sum);
	put(4, bpf_loop(1 << 24, loop_cb, &c, 0));
	put(5, bpf_loop(10, loop_cb, &c, 1));
	put(6, bpf_loop(0, loop_cb, &c, 0));
	return XDP_PASS;
}

struct each_ctx {
	__u64 keys;
	__u64 vals;
	__u32 calls;
	__u32 limit;
};

static __u64 each_cb(void *map, __u32 *key, __u64 *val, struct each_ctx *c)
{
	c->keys += *key;
	c->vals += *val;
	*val += 1;
	c->calls++;
	return c->calls >= c->limit;
}

SEC("xdp")
int for_each(struct xdp_md *ctx)
{
	struct each_ctx c = { .limit = 100 };
	put(0, bpf_for_each_map_elem(&hm, each_cb, &c, 0));
	put(1, c.keys);
	put(2, c.vals);
	struct each_ctx d = { .limit = 3 };
	put(3, bpf_for_each_map_elem(&am, each_cb, &d, 0));
	put(4, d.keys);
	put(5, d.vals);
	put(6, bpf_for_each_map_elem(&am, each_cb, &d, 1));
	return XDP_PASS;
}

const char s_abc[] = "abc";
const char s_abd[] = "abd";
char buf[32];

SEC("xdp")
int strncmp_test(struct xdp_md *ctx)
{
	char a[8] = "abc";
	char b[8] = "abcdef";
	char c[8] = "";
	put(0, (__s64)bpf_strncmp(a, sizeof(a), s_abc));
	put(1, (__s64)bpf_strncmp(a, sizeof(a), s_abd));
	put(2, (__s64)bpf_strncmp(b, sizeof(b), s_abc));
	put(3, (__s64)bpf_strncmp(b, 3, s_abc));
	put(4, (__s64)bpf_strncmp(c, sizeof(c), s_abc));
	put(5, (__s64)bpf_strncmp(b, 2, s_abd));
	return XDP_PASS;
}

char buf2[32];

SEC("xdp")
int snprintf_test(struct xdp_md *ctx)
{
	static const char fmt[] = "%d|%u|%x|%llu|%s|%5d|%-3c|%%";
	__u64 args[7] = { (__u64)-42, 4000000000u, 0xbeef, 123456789012ull, 0, 7, 'z' };
	args[4] = (__u64)(long)s_abc;
	put(0, bpf_snprintf(buf, sizeof(buf), fmt, args, sizeof(args)));
	char small[8];
	put(1, bpf_snprintf(small, sizeof(small), fmt, args, sizeof(args)));
	put(2, *(__u64 *)small);
	args[4] = 0; /* an unreadable %s argument */
	put(3, bpf_snprintf(buf2, sizeof(buf2), fmt, args, sizeof(args)));
	return XDP_PASS;
}

SEC("xdp")
int time_random(struct xdp_md *ctx)
{
	__u64 t1 = bpf_ktime_get_ns();
	__u64 t2 = bpf_ktime_get_ns();
	__u64 b1 = bpf_ktime_get_boot_ns();
	__u32 r1 = bpf_get_prandom_u32(), r2 = bpf_get_prandom_u32(), r3 = bpf_get_prandom_u32();
	put(0, t1 != 0);
	put(1, t2 >= t1);
	put(2, b1 >= t1);
	put(3, !(r1 == r2 && r2 == r3));
	return XDP_PASS;
}

static int add_cb(__u32 i, __u64 *sum)
{
	*sum += i;
	return 0;
}

SEC("xdp")
int loop_simple(struct xdp_md *ctx)
{
	__u64 sum = 0;
	put(0, bpf_loop(50, add_cb, &sum, 0));
	put(1, sum);
	return XDP_PASS;
}

static __u64 count_cb(void *map, __u32 *key, __u64 *val, __u64 *n)
{
	*n += *val;
	return 0;
}

SEC("xdp")
int for_each_simple(struct xdp_md *ctx)
{
	__u64 n = 0;
	put(0, bpf_for_each_map_elem(&am, count_cb, &n, 0));
	put(1, n);
	return XDP_PASS;
}

static int stop_cb(__u32 i, __u64 *n)
{
	*n += 1;
	return i >= 5;
}

SEC("xdp")
int loop_stop(struct xdp_md *ctx)
{
	__u64 n = 0;
	put(0, bpf_loop(50, stop_cb, &n, 0));
	put(1, n);
	return XDP_PASS;
}
